// Python's poplib (Debian's python3, the standard library) against the real CLI: USER/PASS refused with
// the face's own words, the password in the JSON Lines log. In clear on Courier (which takes logins in
// clear), and after STLS on Dovecot; Cyrus in clear (Debian 7) and after STLS (CentOS 6).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const SCRIPT = `
import poplib, ssl, sys
port, user, password, stls = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "1"
p = poplib.POP3("127.0.0.1", port, timeout=30)
print("WELCOME", p.getwelcome().decode("latin1"))
if stls:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    p.stls(context=ctx)
    print("CAPA", sorted(p.capa().keys()))
try:
    p.user(user)
    p.pass_(password)
    print("LOGGED IN")
except poplib.error_proto as e:
    print("REFUSED", e)
`;

describe("python poplib against micetrap pop3", () => {
  const cases = [
    { banner: "courier-pop-5.0-debian10", stls: false, refusal: "b'-ERR Login failed.'" },
    { banner: "dovecot-2.3-debian-pop3", stls: true, refusal: "b'-ERR [AUTH] Authentication failed.'" },
    // Cyrus pop3d: an APOP timestamp in the greeting (Debian 7), USER/PASS in clear, refused after 3 s.
    { banner: "cyrus-pop3d-2.4.16-debian7", stls: false, refusal: "b'-ERR [AUTH] Invalid login'" },
    // CentOS's Cyrus pop3d takes USER only under TLS.
    { banner: "cyrus-pop3d-2.3.16-centos6", stls: true, refusal: "b'-ERR [AUTH] Invalid login'" },
  ];
  for (const c of cases) {
    test(`${c.banner}${c.stls ? " after STLS" : ""}: refused; the password is in the log`, async () => {
      const logFile = join(tempDir(), "events.jsonl");
      const t = await startProcess([BUN, "src/cli.ts", "pop3", "0", "--host", "127.0.0.1", "--banner", c.banner, "--log", logFile]);
      try {
        const proc = Bun.spawn(["/usr/bin/python3", "-c", SCRIPT, String(t.port), "sales", "Passw0rd!", c.stls ? "1" : "0"], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
        const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
        const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
        const code = await proc.exited;
        clearTimeout(timer);
        expect(err).toBe("");
        expect(code).toBe(0);
        expect(out).not.toContain("LOGGED IN");
        expect(out).toContain(`REFUSED ${c.refusal}`);
        if (c.stls && c.banner.startsWith("dovecot")) expect(out).toContain("'SASL', 'TOP', 'UIDL', 'USER'");
        if (c.stls && c.banner.startsWith("cyrus")) expect(out).toContain("'SASL', 'TOP', 'UIDL', 'USER'");
        if (c.banner === "cyrus-pop3d-2.4.16-debian7") expect(out).toMatch(/WELCOME \+OK \S+ Cyrus POP3 v2\.4\.16-Debian-2\.4\.16-4\+deb7u2 server ready <\d{1,20}\.\d{9,10}@\S+>/);
        await Bun.sleep(200);
      } finally {
        expect(await t.stop("SIGTERM")).toBe(0);
      }
      const events = readLog(logFile);
      const logins = events.filter((e) => e.event.action === "login");
      expect(logins).toHaveLength(1);
      expect(logins[0].user.name).toBe("sales");
      expect(logins[0].micetrap.login.password).toBe("Passw0rd!");
      expect(logins[0].micetrap.login.method).toBe("pop3");
      if (c.stls) expect(events.some((e) => e.event.action === "tls")).toBe(true);
    }, 40_000);
  }
});
