// Debian's FreeRDP client (xfreerdp /auth-only, under a throwaway Xvfb display it insists on) against the
// real CLI: it must get through the Connection Confirm, TLS and CredSSP to a refused logon
// (ERRCONNECT_LOGON_FAILURE), and the JSON Lines log must hold the login with a NetNTLMv2 line whose
// NTProofStr is the password's (MS-NLMP 3.3.2: NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)),
// UTF-16LE(UPPER(user) + domain)); NTProofStr = HMAC-MD5(NTOWFv2, server challenge + blob)).
import { describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const XFREERDP = Bun.which("xfreerdp");
const XVFB = Bun.which("Xvfb");

function ntProof(user: string, domain: string, password: string, challengeHex: string, blobHex: string): string {
  const ntHash = createHash("md4").update(Buffer.from(password, "utf16le")).digest();
  const ntowf = createHmac("md5", ntHash).update(Buffer.from(user.toUpperCase() + domain, "utf16le")).digest();
  return createHmac("md5", ntowf).update(Buffer.concat([Buffer.from(challengeHex, "hex"), Buffer.from(blobHex, "hex")])).digest("hex");
}

describe("xfreerdp against micetrap rdp", () => {
  test("xfreerdp and Xvfb are installed (scripts/test.sh installs freerdp2-x11 and xvfb)", () => {
    expect(XFREERDP).toBeDefined();
    expect(XVFB).toBeDefined();
  });

  test("rdp-windows-2012r2: NLA refused with ERRCONNECT_LOGON_FAILURE; the NetNTLMv2 line is the password's", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    // A display number of our own: Xvfb refuses one in use, so try a few.
    let xvfb: ReturnType<typeof Bun.spawn> | undefined;
    let display = "";
    for (let n = 90 + Math.floor(Math.random() * 800), tries = 0; tries < 5 && xvfb === undefined; n++, tries++) {
      const p = Bun.spawn([XVFB!, `:${n}`, "-nolisten", "tcp", "-screen", "0", "640x480x24"], { stdout: "ignore", stderr: "ignore" });
      await Bun.sleep(700);
      if (p.exitCode === null) {
        xvfb = p;
        display = `:${n}`;
      }
    }
    expect(xvfb).toBeDefined();
    const t = await startProcess([BUN, "src/cli.ts", "rdp", "0", "--host", "127.0.0.1", "--banner", "rdp-windows-2012r2", "--log", logFile]);
    let out = "";
    try {
      const proc = Bun.spawn([XFREERDP!, "/auth-only", "/u:alice", "/d:CORP", "/p:Secret123", `/v:127.0.0.1:${t.port}`, "/cert:ignore"], {
        stdout: "pipe",
        stderr: "pipe",
        stdin: "ignore",
        env: { ...process.env, DISPLAY: display, HOME: dir },
      });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      const [o, e] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      const code = await proc.exited;
      clearTimeout(timer);
      out = o + e;
      expect(code).not.toBe(0);
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
      xvfb?.kill();
      await xvfb?.exited;
    }
    expect(out).toContain("ERRCONNECT_LOGON_FAILURE");
    const logins = readLog(logFile).filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    const login = logins[0];
    expect(login.micetrap.login.method).toBe("rdp-ntlm");
    expect(login.micetrap.login.hash_type).toBe("netntlmv2");
    expect(login.micetrap.login.hashcat_mode).toBe(5600);
    expect(login.user.name).toBe("alice");
    expect(login.user.domain).toBe("CORP");
    const [user, empty, domain, challenge, proof, blob] = login.micetrap.login.hash.split(":");
    expect([user, empty, domain]).toEqual(["alice", "", "CORP"]);
    expect(proof).toBe(ntProof("alice", "CORP", "Secret123", challenge, blob));
    expect(proof).not.toBe(ntProof("alice", "CORP", "Secret124", challenge, blob));
  });
});
