// Real clients against the real CLI: curl logs in with Basic, posts a login form, and authenticates with NTLM
// to the IIS 7.5 face; each attempt must land in the --log file as a login event. The NetNTLMv2 response is
// checked with the password the test knows (NTOWFv2 and NTProofStr, MS-NLMP 3.3.2): a hash that verifies is
// one hashcat can crack.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash, createHmac } from "node:crypto";
import { join } from "node:path";
import { BUN, startProcess, tempDir, withTimeout, type Running, until, readLog } from "../helpers.ts";

const CURL = "/usr/bin/curl";
const running: Running[] = [];

afterAll(async () => {
  for (const r of running) await r.stop();
});

async function serve(banner: string): Promise<{ port: number; log: string; events: () => Record<string, unknown>[] }> {
  const log = join(tempDir("micetrap-http-client-"), "events.jsonl");
  const r = await startProcess([BUN, "src/cli.ts", "http", "0", "--host", "127.0.0.1", "--banner", banner, "--log", log]);
  running.push(r);
  const events = () => readLog(log);
  return { port: r.port, log, events };
}

async function curl(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const proc = Bun.spawn([CURL, "--silent", "--show-error", "--max-time", "10", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await withTimeout(proc.exited, 15_000, "curl");
  return { code, out, err };
}

/** Login events as flat dotted keys ("user.name", "micetrap.login.method", …). */
function logins(events: Record<string, unknown>[]): Record<string, unknown>[] {
  const flat = (o: Record<string, unknown>, prefix = "", out: Record<string, unknown> = {}) => {
    for (const [k, v] of Object.entries(o)) {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) flat(v as Record<string, unknown>, `${prefix}${k}.`, out);
      else out[`${prefix}${k}`] = v;
    }
    return out;
  };
  return events.map((e) => flat(e)).filter((e) => e["event.action"] === "login");
}

describe("curl against the http faces", () => {
  test("curl -u admin:hunter2 is a Basic login with the password in plaintext", async () => {
    const s = await serve("apache-2.4.57-debian");
    const r = await curl(["-u", "admin:hunter2", `http://127.0.0.1:${s.port}/`]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("<title>Apache2 Debian Default Page: It works</title>");
    const login = await until(() => logins(s.events())[0]);
    expect(login["micetrap.login.method"]).toBe("basic");
    expect(login["user.name"]).toBe("admin");
    expect(login["micetrap.login.password"]).toBe("hunter2");
    expect(login["event.outcome"]).toBe("failure");
  }, 20_000);

  test("curl --data 'username=root&password=toor' to /login.php is a form login", async () => {
    const s = await serve("apache-2.4.57-debian");
    const r = await curl(["--data", "username=root&password=toor", `http://127.0.0.1:${s.port}/login.php`]);
    expect(r.code).toBe(0);
    // The face has no login.php: Apache 2.4.57's 404, after reading the body.
    expect(r.out).toContain("<title>404 Not Found</title>");
    const login = await until(() => logins(s.events())[0]);
    expect(login["micetrap.login.method"]).toBe("form");
    expect(login["user.name"]).toBe("root");
    expect(login["micetrap.login.password"]).toBe("toor");
    expect(login["micetrap.client.user_field"]).toBe("username");
    expect(login["micetrap.client.password_field"]).toBe("password");
  }, 20_000);

  test("curl --ntlm -u 'CORP\\alice:Passw0rd' against IIS 7.5 leaves a NetNTLMv2 hash that verifies with Passw0rd", async () => {
    const s = await serve("iis-7.5-windows");
    const r = await curl(["--ntlm", "-u", "CORP\\alice:Passw0rd", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${s.port}/`]);
    expect(r.code).toBe(0);
    // The AUTHENTICATE is refused with a fresh 401, as IIS does for a wrong password.
    expect(r.out).toBe("401");
    const login = await until(() => logins(s.events()).find((l) => l["micetrap.login.method"] === "http-ntlm"));
    expect(login["user.name"]).toBe("alice");
    expect(login["user.domain"]).toBe("CORP");
    expect(login["micetrap.login.hash_type"]).toBe("netntlmv2");
    expect(login["micetrap.login.hashcat_mode"]).toBe(5600);
    expect(login["micetrap.login.password"]).toBeUndefined();
    // hashcat 5600: user::domain:server challenge:NTProofStr:blob
    const line = String(login["micetrap.login.hash"]);
    const [user, empty, domain, challenge, proof, blob] = line.split(":");
    expect(user).toBe("alice");
    expect(empty).toBe("");
    expect(domain).toBe("CORP");
    expect(challenge).toMatch(/^[0-9a-f]{16}$/);
    expect(proof).toMatch(/^[0-9a-f]{32}$/);
    expect(blob!.length).toBeGreaterThan(56);
    // NTOWFv2 = HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain))
    const ntHash = createHash("md4").update(Buffer.from("Passw0rd", "utf16le")).digest();
    const ntowf2 = createHmac("md5", ntHash).update(Buffer.from("ALICE" + "CORP", "utf16le")).digest();
    // NTProofStr = HMAC-MD5(NTOWFv2, server challenge + blob)
    const expected = createHmac("md5", ntowf2).update(Buffer.concat([Buffer.from(challenge!, "hex"), Buffer.from(blob!, "hex")])).digest("hex");
    expect(proof).toBe(expected);
    // And a wrong password does not verify: the check can fail.
    const wrong = createHmac("md5", createHmac("md5", createHash("md4").update(Buffer.from("Passw0rd!", "utf16le")).digest()).update(Buffer.from("ALICECORP", "utf16le")).digest())
      .update(Buffer.concat([Buffer.from(challenge!, "hex"), Buffer.from(blob!, "hex")]))
      .digest("hex");
    expect(proof).not.toBe(wrong);
  }, 20_000);
});
