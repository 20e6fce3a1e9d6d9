// Python's imaplib over TLS (IMAP4_SSL) against the real CLI's imaps face: the handshake, the greeting,
// a login refused with Dovecot's AUTHENTICATIONFAILED, and the password in the JSON Lines log.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const SCRIPT = `
import imaplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
m = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ctx, timeout=30)
print("WELCOME", m.welcome.decode("latin1"))
try:
    m.login(sys.argv[2], sys.argv[3])
    print("LOGGED IN")
except imaplib.IMAP4.error as e:
    print("REFUSED", e)
`;

describe("python imaplib (IMAP4_SSL) against micetrap imaps", () => {
  test("dovecot-2.3-debian-ssl: refused with AUTHENTICATIONFAILED; the password is in the log", async () => {
    const logFile = join(tempDir(), "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "imaps", "0", "--host", "127.0.0.1", "--banner", "dovecot-2.3-debian-ssl", "--log", logFile]);
    try {
      const proc = Bun.spawn(["/usr/bin/python3", "-c", SCRIPT, String(t.port), "info@example.org", "Summer#2025"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      const code = await proc.exited;
      clearTimeout(timer);
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(out).toContain("WELCOME * OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready.");
      expect(out).toContain("REFUSED b'[AUTHENTICATIONFAILED] Authentication failed.'");
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const events = readLog(logFile);
    const logins = events.filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0].user.name).toBe("info@example.org");
    expect(logins[0].micetrap.login.password).toBe("Summer#2025");
    expect(events.some((e) => e.event.action === "tls")).toBe(true);
  }, 40_000);
});
