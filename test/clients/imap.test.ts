// Python's imaplib (Debian's python3, the standard library) against the real CLI: it reads the greeting,
// logs in and is refused with the face's own words; the JSON Lines log holds the login with its password.
// In clear on Dovecot's default face (LOGINDISABLED: the password goes out all the same), and after
// STARTTLS, where Dovecot refuses with AUTHENTICATIONFAILED; Cyrus in clear (Debian) and after STARTTLS (CentOS).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const PYTHON = "/usr/bin/python3";

const SCRIPT = `
import imaplib, ssl, sys
port, user, password, starttls = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
m = imaplib.IMAP4("127.0.0.1", port, timeout=30)
print("WELCOME", m.welcome.decode("latin1"))
if starttls:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    m.starttls(ssl_context=ctx)
    print("CAPS", " ".join(m.capabilities))
try:
    m.login(user, password)
    print("LOGGED IN")
except imaplib.IMAP4.error as e:
    print("REFUSED", e)
`;

async function runClient(port: number, user: string, password: string, starttls: boolean): Promise<{ code: number | null; out: string; err: string }> {
  const proc = Bun.spawn([PYTHON, "-c", SCRIPT, String(port), user, password, starttls ? "1" : "0"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, out, err };
}

describe("python imaplib against micetrap imap", () => {
  const cases = [
    { banner: "dovecot-2.3-debian", starttls: false, refusal: "[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections." },
    { banner: "dovecot-2.3-debian", starttls: true, refusal: "[AUTHENTICATIONFAILED] Authentication failed." },
    { banner: "courier-imap-5.0-debian10", starttls: false, refusal: "Login failed." },
    // Cyrus takes LOGIN in clear (Debian's allowplaintext: yes) and refuses after its 3 s failedloginpause.
    { banner: "cyrus-imapd-3.6.1-debian12", starttls: false, refusal: "Login failed: authentication failure" },
    // CentOS's Cyrus wants TLS first: after STARTTLS the list gains AUTH=PLAIN and loses LOGINDISABLED.
    { banner: "cyrus-imapd-2.4.17-centos7", starttls: true, refusal: "Login failed: authentication failure" },
  ];
  for (const c of cases) {
    test(`${c.banner}${c.starttls ? " after STARTTLS" : ""}: refused; the password is in the log`, async () => {
      const dir = tempDir();
      const logFile = join(dir, "events.jsonl");
      const t = await startProcess([BUN, "src/cli.ts", "imap", "0", "--host", "127.0.0.1", "--banner", c.banner, "--log", logFile]);
      try {
        const r = await runClient(t.port, "postmaster", "Winter2024!", c.starttls);
        expect(r.err).toBe("");
        expect(r.code).toBe(0);
        expect(r.out).not.toContain("LOGGED IN");
        expect(r.out).toContain(`REFUSED b'${c.refusal}'`);
        if (c.starttls && c.banner.startsWith("dovecot")) expect(r.out).toContain("CAPS IMAP4REV1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN");
        if (c.starttls && c.banner.startsWith("cyrus")) {
          expect(r.out).toContain(" AUTH=PLAIN SASL-IR COMPRESS=DEFLATE IDLE");
          expect(r.out.split("\n").find((l) => l.startsWith("CAPS "))).not.toContain("LOGINDISABLED");
        }
        await Bun.sleep(200);
      } finally {
        expect(await t.stop("SIGTERM")).toBe(0);
      }
      const events = readLog(logFile);
      const logins = events.filter((e) => e.event.action === "login");
      expect(logins).toHaveLength(1);
      expect(logins[0].user.name).toBe("postmaster");
      expect(logins[0].micetrap.login.password).toBe("Winter2024!");
      expect(logins[0].micetrap.login.method).toBe("imap");
      expect(logins[0].micetrap.entry).toBe(c.banner);
      if (c.starttls) expect(events.some((e) => e.event.action === "tls")).toBe(true);
    }, 40_000);
  }
});
