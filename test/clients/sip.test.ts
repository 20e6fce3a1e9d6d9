// sipsak (Debian's SIP swiss army knife) registering over TCP against the real CLI: it gets the digest
// challenge, answers it, is refused with 403, and the JSON Lines log holds the answer as hashcat's SIP
// digest line, which verifies against the password sipsak used.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const SIPSAK = Bun.which("sipsak");
const md5 = (s: string) => createHash("md5").update(s).digest("hex");

describe("sipsak against micetrap sip", () => {
  test("the client is installed (scripts/test.sh installs sipsak)", () => {
    expect(SIPSAK).toBeDefined();
  });

  for (const banner of ["asterisk-1.8.13.1-debian7", "freepbx-2.11-rhel6"]) {
    test(`${banner}: a REGISTER with digest auth is refused with 403 and logged as a crackable line`, async () => {
      const dir = tempDir();
      const logFile = join(dir, "events.jsonl");
      const t = await startProcess([BUN, "src/cli.ts", "sip", "0", "--host", "127.0.0.1", "--banner", banner, "--log", logFile]);
      try {
        const proc = Bun.spawn([SIPSAK!, "-U", "-i", "-C", "sip:2001@127.0.0.1:5999", "-s", `sip:2001@127.0.0.1:${t.port}`, "-a", "s3cr3t", "-E", "tcp", "-vv"], {
          stdout: "pipe",
          stderr: "pipe",
          stdin: "ignore",
        });
        const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
        const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
        await proc.exited;
        clearTimeout(timer);
        expect(out + err).toContain("SIP/2.0 403 Forbidden");
        expect(out + err).toContain("didn't received '200 OK' on register");
        await Bun.sleep(200); // the JSONL sink writes once per turn of the event loop
      } finally {
        expect(await t.stop("SIGTERM")).toBe(0);
      }
      const logins = readLog(logFile).filter((e) => e.event.action === "login");
      expect(logins.length).toBeGreaterThanOrEqual(1);
      const l = logins[0];
      expect(l.micetrap.login.method).toBe("sip-register");
      expect(l.micetrap.login.hashcat_mode).toBe(11400);
      const f: string[] = l.micetrap.login.hash.split("*");
      const [user, realm, method, prefix, resource, suffix, nonce, cnonce, nc, qop, , digest] = f.slice(3);
      expect(user).toBe(l.user.name);
      const ha1 = md5(`${user}:${realm}:s3cr3t`);
      const ha2 = md5(`${method}:${prefix}:${resource}${suffix ? `:${suffix}` : ""}`);
      const expected = qop ? md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`) : md5(`${ha1}:${nonce}:${ha2}`);
      expect(digest).toBe(expected);
    });
  }
});
