// FreeTDS's tsql (Debian's freetds-bin) against the real CLI: a SQL Server login is refused with the
// face's 18456 and logged with its password in plaintext; a Windows login (DOMAIN\user makes FreeTDS use
// NTLM) is logged as a NetNTLMv2 line whose NTProofStr must verify against the password tsql was given.
import { describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const CLIENT = Bun.which("tsql");

async function runTsql(port: number, user: string, password: string): Promise<{ code: number | null; out: string }> {
  const proc = Bun.spawn([CLIENT!, "-H", "127.0.0.1", "-p", String(port), "-U", user, "-P", password], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    // No ~/.freetds.conf of the machine.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("tsql-home-"), LANG: "C.UTF-8" },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, out: stdout + stderr };
}

/** NTLMv2 (MS-NLMP 3.3.2): NTOWFv2 from the password, then HMAC-MD5 over the challenge and the blob. */
function ntProofStr(password: string, user: string, domain: string, challenge: Buffer, blob: Buffer): string {
  const ntHash = createHash("md4").update(Buffer.from(password, "utf16le")).digest();
  const ntowf = createHmac("md5", ntHash).update(Buffer.from(user.toUpperCase() + domain, "utf16le")).digest();
  return createHmac("md5", ntowf).update(Buffer.concat([challenge, blob])).digest("hex");
}

async function session(banner: string, user: string, password: string): Promise<{ out: string; events: any[] }> {
  const dir = tempDir();
  const logFile = join(dir, "events.jsonl");
  const t = await startProcess([BUN, "src/cli.ts", "mssql", "0", "--host", "127.0.0.1", "--banner", banner, "--log", logFile]);
  let out = "";
  try {
    const r = await runTsql(t.port, user, password);
    expect(r.code).toBe(1);
    out = r.out;
    await Bun.sleep(200); // the JSONL sink writes as events come; give the last line time to land
  } finally {
    expect(await t.stop("SIGTERM")).toBe(0);
  }
  return { out, events: readLog(logFile) };
}

describe("tsql against micetrap mssql", () => {
  test("tsql is installed (scripts/test.sh installs freetds-bin)", () => {
    expect(CLIENT).toBeDefined();
  });

  test("a SQL Server login: 18456 from the host's name, the password logged in plaintext", async () => {
    const { out, events } = await session("mssql-2012-sp3-win2012r2", "sa", "Summer2024!");
    expect(out).toMatch(/Msg 18456 \(severity 14, state 1\) from [A-Z0-9-]+ Line 1:\s+"Login failed for user 'sa'\."/);
    const logins = events.filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0].user.name).toBe("sa");
    expect(logins[0].micetrap.login.method).toBe("mssql");
    expect(logins[0].micetrap.login.password).toBe("Summer2024!");
    expect(logins[0].micetrap.client.application).toBe("TSQL");
    const server = /from ([A-Z0-9-]+) Line/.exec(out)![1];
    expect(server).toBe(logins[0].micetrap.host.name.toUpperCase());
  }, 30000);

  test("a Windows login over NTLM: 18452, the NetNTLMv2 line verifies against the password", async () => {
    const { out, events } = await session("mssql-2008r2-sp3-win2008r2", "CORP\\bob", "Winter2024");
    expect(out).toContain("Msg 18452");
    const logins = events.filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    const l = logins[0];
    expect(l.user.name).toBe("bob");
    expect(l.user.domain).toBe("CORP");
    expect(l.micetrap.login.method).toBe("mssql-ntlm");
    expect(l.micetrap.login.hash_type).toBe("netntlmv2");
    expect(l.micetrap.login.hashcat_mode).toBe(5600);
    const [u, , d, chal, proof, blob] = l.micetrap.login.hash.split(":");
    expect([u, d]).toEqual(["bob", "CORP"]);
    expect(proof).toBe(ntProofStr("Winter2024", "bob", "CORP", Buffer.from(chal, "hex"), Buffer.from(blob, "hex")));
    expect(proof).not.toBe(ntProofStr("winter2024", "bob", "CORP", Buffer.from(chal, "hex"), Buffer.from(blob, "hex")));
  }, 30000);
});
