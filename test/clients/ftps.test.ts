// A real FTPS client against the real CLI: `curl --ssl-reqd` asks for AUTH, does the TLS handshake with
// the face's certificate, then logs in inside TLS and is refused as the daemon refuses it. The trap logs
// the handshake (a tls event) and then the login with the password that travelled encrypted.
// The words are the real daemons': vsftpd 3.0.3 (ssl_enable=YES) and Pure-FTPd 1.0.50 (-Y 1) measured on
// Debian 12, and the Microsoft FTP service 7.5/8.5.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { serviceEntries } from "../../src/catalog/index.ts";
import { BUN, startProcess, tempDir, type Running, readLog } from "../helpers.ts";

/** What each TLS face says to AUTH and to the refused PASS. */
const WORDS: Record<string, { auth: string; refusal: string }> = {
  "vsftpd-3.0.3-debian-ssl": { auth: "234 Proceed with negotiation.", refusal: "530 Login incorrect." },
  "pure-ftpd-debian-tls": { auth: "234 AUTH TLS OK.", refusal: "530 Login authentication failed" },
  "microsoft-ftpd-7.5-win2008r2": { auth: "234 AUTH command ok. Expecting TLS Negotiation.", refusal: "530 User cannot log in." },
  "microsoft-ftpd-8.5-win2012r2": { auth: "234 AUTH command ok. Expecting TLS Negotiation.", refusal: "530 User cannot log in." },
};
const PLAIN = "vsftpd-3.0.3-debian";

const tlsFaces = serviceEntries("ftp")
  .filter((e) => e.tls?.mode === "starttls")
  .map((e) => e.id);

const traps = new Map<string, { trap: Running; log: string }>();

beforeAll(async () => {
  // Every trap starts at once: minting each host's key and certificate takes a moment.
  await Promise.all(
    [...tlsFaces, PLAIN].map(async (id) => {
      const log = join(tempDir(), "events.jsonl");
      const trap = await startProcess([BUN, "src/cli.ts", "ftp", "0", "--host", "127.0.0.1", "--log", log, "--banner", id], { timeoutMs: 30_000 });
      traps.set(id, { trap, log });
    }),
  );
}, 40_000);

afterAll(async () => {
  await Promise.all([...traps.values()].map((t) => t.trap.stop()));
});

async function curl(args: string[]): Promise<{ code: number; stderr: string }> {
  const p = Bun.spawn(["curl", "-sS", "-v", "--max-time", "20", ...args], { stdout: "pipe", stderr: "pipe" });
  const [stderr, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  return { code, stderr };
}

/** The JSON Lines log once the session's close event is in it. */
async function events(log: string, closes = 1): Promise<Record<string, any>[]> {
  let lines: Record<string, any>[] = [];
  for (let i = 0; i < 100; i++) {
    lines = readLog(log);
    if (lines.filter((l) => l.event?.action === "close").length >= closes) break;
    await Bun.sleep(50);
  }
  return lines;
}

describe("curl --ssl-reqd against micetrap ftp", () => {
  test("every ftp face with AUTH TLS is covered here", () => {
    expect(tlsFaces.length).toBeGreaterThanOrEqual(4);
    expect(tlsFaces.sort()).toEqual(Object.keys(WORDS).sort());
  });

  for (const id of Object.keys(WORDS)) {
    test(
      `${id}: AUTH, a TLS handshake, then USER/PASS inside TLS, refused as the daemon refuses it`,
      async () => {
        const { trap, log } = traps.get(id)!;
        const r = await curl(["--ssl-reqd", "-k", `ftp://alice:s3cret@127.0.0.1:${trap.port}/`]);
        // 67: CURLE_LOGIN_DENIED, what curl makes of the 530.
        expect(r.code).toBe(67);
        expect(r.stderr).toContain(`< ${WORDS[id]!.auth}`);
        expect(r.stderr).toMatch(/SSL connection using TLSv1\.[0-3] \/ \S+/);
        expect(r.stderr).toContain(`< ${WORDS[id]!.refusal}`);
        // The 530 came after the handshake: curl printed it once TLS was up.
        expect(r.stderr.indexOf(`< ${WORDS[id]!.refusal}`)).toBeGreaterThan(r.stderr.indexOf("SSL connection using"));

        const lines = await events(log);
        const tlsAt = lines.findIndex((l) => l.event?.action === "tls");
        expect(tlsAt).toBeGreaterThanOrEqual(0);
        const tls = lines[tlsAt]!;
        expect(tls.tls.established).toBe(true);
        expect(tls.tls.version).toMatch(/^1\.[0-3]$/);
        expect(tls.tls.cipher).toMatch(/^TLS_/);
        expect(tls.tls.client.ja3).toMatch(/^[0-9a-f]{32}$/);
        const loginAt = lines.findIndex((l) => l.event?.action === "login");
        expect(loginAt).toBeGreaterThan(tlsAt);
        const login = lines[loginAt]!;
        expect(login.user.name).toBe("alice");
        expect(login.micetrap.login.password).toBe("s3cret");
        expect(login.micetrap.login.method).toBe("ftp");
      },
      { timeout: 30_000 },
    );
  }

  test(
    "vsftpd with ssl_enable: a login in clear is refused at USER and the daemon hangs up",
    async () => {
      const { trap, log } = traps.get("vsftpd-3.0.3-debian-ssl")!;
      const before = (await events(log)).filter((l) => l.event?.action === "close").length;
      const r = await curl([`ftp://bob:hunter2@127.0.0.1:${trap.port}/`]);
      expect(r.code).toBe(67);
      expect(r.stderr).toContain("< 530 Non-anonymous sessions must use encryption.");
      const lines = await events(log, before + 1);
      const session = lines.filter((l) => l.event?.action === "connection").at(-1)!.micetrap.session.id;
      const mine = lines.filter((l) => l.micetrap?.session?.id === session);
      expect(mine.some((l) => l.event.action === "tls" || l.event.action === "login")).toBe(false);
      // The daemon hung up after its 530: curl never got to send the password.
      expect(r.stderr).not.toContain("> PASS");
      expect(mine.some((l) => l.event.action === "close")).toBe(true);
    },
    { timeout: 30_000 },
  );

  test(
    "a face without TLS answers AUTH as its daemon does, and curl --ssl-reqd gives up before any password",
    async () => {
      const { trap, log } = traps.get(PLAIN)!;
      const r = await curl(["--ssl-reqd", "-k", `ftp://alice:s3cret@127.0.0.1:${trap.port}/`]);
      // 64: CURLE_USE_SSL_FAILED, as against a real vsftpd 3.0.3 without ssl_enable (measured).
      expect(r.code).toBe(64);
      expect(r.stderr).toContain("> AUTH SSL");
      expect(r.stderr).toContain("< 530 Please login with USER and PASS.");
      expect(r.stderr).not.toContain("> PASS");
      const lines = await events(log);
      expect(lines.some((l) => l.event?.action === "tls" || l.event?.action === "login")).toBe(false);
      expect(readFileSync(log, "utf8")).not.toContain("s3cret");
    },
    { timeout: 30_000 },
  );
});
