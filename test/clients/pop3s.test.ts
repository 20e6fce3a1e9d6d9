// Python's poplib over TLS (POP3_SSL) against the real CLI's pop3s face: the handshake, the greeting,
// USER/PASS refused with Dovecot's words, and the password in the JSON Lines log.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const SCRIPT = `
import poplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=30)
print("WELCOME", p.getwelcome().decode("latin1"))
try:
    p.user(sys.argv[2]); p.pass_(sys.argv[3])
    print("LOGGED IN")
except poplib.error_proto as e:
    print("REFUSED", e)
`;

describe("python poplib (POP3_SSL) against micetrap pop3s", () => {
  test("dovecot-2.3-debian-pop3s: refused with [AUTH] Authentication failed.; the password is in the log", async () => {
    const logFile = join(tempDir(), "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "pop3s", "0", "--host", "127.0.0.1", "--banner", "dovecot-2.3-debian-pop3s", "--log", logFile]);
    try {
      const proc = Bun.spawn(["/usr/bin/python3", "-c", SCRIPT, String(t.port), "backup", "qwerty123"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      const code = await proc.exited;
      clearTimeout(timer);
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(out).toContain("WELCOME +OK Dovecot (Debian) ready.");
      expect(out).toContain("REFUSED b'-ERR [AUTH] Authentication failed.'");
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const events = readLog(logFile);
    const logins = events.filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0].user.name).toBe("backup");
    expect(logins[0].micetrap.login.password).toBe("qwerty123");
    expect(events.some((e) => e.event.action === "tls")).toBe(true);
  }, 40_000);
});
