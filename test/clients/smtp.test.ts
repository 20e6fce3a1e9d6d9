// Real SMTP clients against the real CLI: Python's smtplib (the library most mail scripts and many
// brute-forcers use) and swaks. Each logs in (over STARTTLS where the face offers AUTH only under TLS,
// and over implicit TLS on 465) and is refused with the product's 535; the JSON Lines log must hold a
// login event with the password the client sent.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir, type Running } from "../helpers.ts";

const PYTHON = Bun.which("python3", { PATH: "/usr/bin:/bin" }) ?? Bun.which("python3");
const SWAKS = Bun.which("swaks");

// The client script: connect (implicit TLS when asked), EHLO, STARTTLS when asked, then login; prints the
// server's refusal as "CODE TEXT", or "ACCEPTED" (which must never happen).
const SCRIPT = `
import smtplib, ssl, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
port, mode, user, password, mech = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
# Exchange 2010 on Windows 2008 R2 speaks TLS 1.0 with a SHA-1 certificate: what an old client accepts.
ctx.minimum_version = ssl.TLSVersion.TLSv1; ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=20, context=ctx) if mode == "smtps" else smtplib.SMTP("127.0.0.1", port, timeout=20)
s.ehlo("client.example")
if mode == "starttls":
    s.starttls(context=ctx)
    s.ehlo("client.example")
try:
    if mech == "any":
        s.login(user, password)
    else:
        s.user, s.password = user, password
        s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")))
    print("ACCEPTED")
except smtplib.SMTPAuthenticationError as e:
    print(e.smtp_code, e.smtp_error.decode())
s.close()
`;

async function run(cmd: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, out, err };
}

interface Face {
  service: "smtp" | "smtps";
  banner: string;
  mode: "plain" | "starttls" | "smtps";
  mech: string;
  refusal: string;
}
// The refusals are the products' own: Postfix with Cyrus SASL and Exim 4.96 as measured on Debian 12's
// packages; Exchange's 535 5.7.3.
const FACES: Face[] = [
  { service: "smtp", banner: "postfix-3.7-debian", mode: "plain", mech: "any", refusal: "535 5.7.8 Error: authentication failed: authentication failure" },
  { service: "smtp", banner: "postfix-2.9-debian", mode: "starttls", mech: "LOGIN", refusal: "535 5.7.8 Error: authentication failed: authentication failure" },
  { service: "smtp", banner: "exim-4.96-debian", mode: "starttls", mech: "any", refusal: "535 Incorrect authentication data" },
  { service: "smtp", banner: "exchange-2010-win2008r2", mode: "starttls", mech: "LOGIN", refusal: "535 5.7.3 Authentication unsuccessful" },
  { service: "smtps", banner: "exim-4.92-debian-smtps", mode: "smtps", mech: "PLAIN", refusal: "535 Incorrect authentication data" },
];

const traps = new Map<string, { trap: Running; log: string }>();

beforeAll(async () => {
  await Promise.all(
    FACES.map(async (f) => {
      const log = join(tempDir(), "events.jsonl");
      const trap = await startProcess([BUN, "src/cli.ts", f.service, "0", "--host", "127.0.0.1", "--log", log, "--banner", f.banner], { timeoutMs: 30_000 });
      traps.set(f.banner, { trap, log });
    }),
  );
}, 40_000);

afterAll(async () => {
  await Promise.all([...traps.values()].map((t) => t.trap.stop()));
});

describe("real SMTP clients against micetrap smtp and smtps", () => {
  test("python3 and swaks are installed (scripts/test.sh installs python3 and swaks)", () => {
    expect(PYTHON).toBeDefined();
    expect(SWAKS).toBeDefined();
  });

  for (const f of FACES) {
    test(`smtplib (${f.mode}, ${f.mech}) on ${f.banner}: refused with the product's 535, logged with its password`, async () => {
      const { trap, log } = traps.get(f.banner)!;
      const password = `pw-${f.banner}`;
      const r = await run([PYTHON!, "-c", SCRIPT, String(trap.port), f.mode, "mailuser", password, f.mech]);
      expect(r.err).toBe("");
      expect(r.out.trim()).toBe(f.refusal);
      await Bun.sleep(200);
      const logins = readLog(log).filter((e) => e.event?.action === "login" && e.user?.name === "mailuser");
      // smtplib's login() tries every mechanism both sides know (PLAIN, then LOGIN) until one succeeds.
      const methods = f.mech === "any" ? ["smtp-plain", "smtp-login"] : [`smtp-${f.mech.toLowerCase()}`];
      expect(logins.map((l) => l.micetrap?.login?.method)).toEqual(methods);
      for (const l of logins) expect(JSON.stringify(l)).toContain(JSON.stringify(password));
      if (f.mode !== "plain") expect(readLog(log).some((e) => e.event?.action === "tls")).toBe(true);
    }, 40_000);
  }

  test("swaks (AUTH LOGIN in clear) on postfix-3.7-debian: refused, logged with its password", async () => {
    const { trap, log } = traps.get("postfix-3.7-debian")!;
    const r = await run([SWAKS!, "--server", `127.0.0.1:${trap.port}`, "--auth", "LOGIN", "--auth-user", "swaksuser", "--auth-password", "Sw4ks-pass", "--quit-after", "AUTH", "--helo", "client.example"]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("<** 535 5.7.8 Error: authentication failed: authentication failure");
    await Bun.sleep(200);
    const logins = readLog(log).filter((e) => e.event?.action === "login" && e.user?.name === "swaksuser");
    expect(logins.length).toBe(1);
    expect(JSON.stringify(logins[0])).toContain('"Sw4ks-pass"');
  }, 40_000);
});
