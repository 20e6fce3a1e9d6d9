import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import { hostFacts } from "../../src/host/facts.ts";
import { makeContext } from "../../src/services/context.ts";
import { SessionDriver, VirtualClock } from "../../src/services/driver.ts";
import { ftp } from "../../src/services/ftp/index.ts";
import type { FtpTemplates } from "../../src/services/ftp/templates.ts";
import type { CatalogEntry, ProtocolEvent, ProtocolSession, Reply } from "../../src/types.ts";
import { toBytes, toLatin1 } from "../../src/wire/bytes.ts";

const catalog = { entries: serviceEntries("ftp") as CatalogEntry<FtpTemplates>[], defaultPorts: ftp.defaultPorts };
const NOW = new Date("2024-03-05T07:08:09Z");
/** The test host: in Tokyo (UTC+9), its clock 90 s fast. */
const HOST = { ...hostFacts({ seed: "test", family: "debian" }), clockSkewMs: 90_000, timeZone: "Asia/Tokyo" };

function entry(id: string): CatalogEntry<FtpTemplates> {
  const e = catalog.entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

function start(e: CatalogEntry<FtpTemplates>, remoteAddress = "198.51.100.7"): { s: ProtocolSession; greeting: string } {
  const s = ftp.start(makeContext({ entry: e, hostSeed: "test", host: HOST, sessionSeed: "s1", now: () => NOW, localPort: 21, localAddress: "192.0.2.10", remoteAddress }));
  return { s, greeting: text(s.open()) };
}

interface Driven {
  clock: VirtualClock;
  greeting: string;
  writes: { at: number; text: string }[];
  events: ProtocolEvent[];
  send: (data: string) => void;
  output: () => string;
  /** Text written at or after `from` ms. */
  since: (from: number) => string;
  closed: () => "fin" | "reset" | undefined;
}

/** The session on a virtual clock, as replay and check run it: delays, sleeps and timers take virtual time. */
function drive(e: CatalogEntry<FtpTemplates>, seed = "s1"): Driven {
  const clock = new VirtualClock();
  const writes: { at: number; text: string }[] = [];
  const events: ProtocolEvent[] = [];
  let closed: "fin" | "reset" | undefined;
  const session = ftp.start(makeContext({ entry: e, hostSeed: "test", host: HOST, sessionSeed: seed, now: () => NOW, localPort: 21, localAddress: "192.0.2.10", remoteAddress: "198.51.100.7" }));
  const driver = new SessionDriver(session, clock, {
    write: (b) => void writes.push({ at: clock.now(), text: toLatin1(b) }),
    events: (ev) => void events.push(...ev),
    close: (how) => void (closed = how),
    error: (err) => {
      throw err;
    },
  });
  driver.open();
  const greeting = writes.map((w) => w.text).join("");
  return {
    clock,
    greeting,
    writes,
    events,
    send: (data) => driver.data(toBytes(data)),
    output: () => writes.map((w) => w.text).join(""),
    since: (from) => writes.filter((w) => w.at >= from).map((w) => w.text).join(""),
    closed: () => closed,
  };
}

function text(r: Reply): string {
  return r.write === undefined ? "" : typeof r.write === "string" ? r.write : toLatin1(r.write);
}

/** The face refuses logins in clear (vsftpd's force_local_logins_ssl, IIS's Require SSL). */
function wantsTls(e: CatalogEntry<FtpTemplates>): boolean {
  return e.tls?.mode === "starttls" && e.templates.userClear !== undefined;
}

function send(s: ProtocolSession, data: string): Reply {
  return s.data(toBytes(data));
}

/** RFC 959 reply syntax: "xyz-" first line of a multi-line reply, "xyz " last line, all CRLF-terminated. */
function expectWellFormedReply(reply: string): string {
  expect(reply.endsWith("\r\n")).toBe(true);
  const lines = reply.slice(0, -2).split("\r\n");
  const code = lines[0]!.slice(0, 3);
  expect(code).toMatch(/^[1-5]\d\d$/);
  const last = lines[lines.length - 1]!;
  expect(last.startsWith(`${code} `) || last === code).toBe(true);
  if (lines.length > 1) expect(lines[0]!.startsWith(`${code}-`)).toBe(true);
  return code;
}

// nmap-service-probes hard matches, written out here from the probe file, with what they capture.
const NMAP_NULL: Record<string, { re: RegExp; version?: number; info?: (m: RegExpMatchArray) => string }> = {
  "vsftpd-2.3.4": { re: /^220 \(vsFTPd ([-.\w]+)\)\r\n$/, version: 1 },
  "vsftpd-2.2.2-rhel6": { re: /^220 \(vsFTPd ([-.\w]+)\)\r\n$/, version: 1 },
  "vsftpd-3.0.3-debian": { re: /^220 \(vsFTPd ([-.\w]+)\)\r\n$/, version: 1 },
  "proftpd-1.3.5-debian": { re: /^220 ProFTPD (\d\S+) Server/, version: 1 },
  "proftpd-1.3.3c-freebsd": { re: /^220 ProFTPD (\d\S+) Server/, version: 1 },
  "pure-ftpd-debian": { re: /^220.*Welcome to .*Pure-?FTPd[^(]+\r\n/ },
  "freebsd-ftpd-6.00ls": { re: /^220 ([-.\w]+) FTP server \(Version ([-.+\w()]+)\) ready\.\r\n$/, version: 2 },
  "microsoft-ftpd-5.0-win2000": { re: /^220.*Microsoft FTP Service \(Version (\d[^)]+)/, version: 1 },
  "microsoft-ftpd-iis6-win2003": { re: /^220[ -]Microsoft FTP Service\r\n/ },
  "microsoft-ftpd-7.5-win2008r2": { re: /^220[ -]Microsoft FTP Service\r\n/ },
  "microsoft-ftpd-8.5-win2012r2": { re: /^220[ -]Microsoft FTP Service\r\n/ },
  "vsftpd-3.0.3-debian-ssl": { re: /^220 \(vsFTPd ([-.\w]+)\)\r\n$/, version: 1 },
  "pure-ftpd-debian-tls": { re: /^220.*Welcome to .*Pure-?FTPd[^(]+\r\n/ },
  "vsftpd-2.3.5": { re: /^220 \(vsFTPd ([-.\w]+)\)\r\n$/, version: 1 },
  "vsftpd-3.0.2": { re: /^220 \(vsFTPd ([-.\w]+)\)\r\n$/, version: 1 },
  "vsftpd-3.0.2-rhel7": { re: /^220 \(vsFTPd ([-.\w]+)\)\r\n$/, version: 1 },
  // line 722
  "lukemftpd-1.1-macos": { re: /^220[ -].*FTP server \(lukemftpd (\d[-. \w]+)\) ready\.\r\n/s, version: 1 },
  // line 918: i/MacOS X $2/
  "macosx-server-ftpd-10.4": {
    re: /^220--------------------------------------------------------------------------------\r\n220-This is the "Banner" message for the Mac OS X Server's FTP server process\.\r\n.*220 ([-\w_.]+) FTP server \(Version:  Mac OS X Server ([\d.]+) - \+GSSAPI\) ready\.\r\n/s,
    info: (m) => `MacOS X ${m[2]}`,
  },
  // line 958: i/MacOS X Server $2/
  "macosx-server-ftpd-10.5": { re: /220 ([-\w_.]+) FTP server \(Version:  Mac OS X Server ([\d.]+) - \+GSSAPI\) ready\.\r\n/s, info: (m) => `MacOS X Server ${m[2]}` },
  "macosx-server-ftpd-10.6": { re: /220 ([-\w_.]+) FTP server \(Version:  Mac OS X Server ([\d.]+) - \+GSSAPI\) ready\.\r\n/s, info: (m) => `MacOS X Server ${m[2]}` },
};

describe("every ftp entry", () => {
  test("is covered here, with at least 5 entries over at least 3 OS families", () => {
    expect(catalog.entries.length).toBeGreaterThanOrEqual(5);
    expect(new Set(catalog.entries.map((e) => e.os)).size).toBeGreaterThanOrEqual(3);
    expect(catalog.defaultPorts).toEqual([21]);
    for (const e of catalog.entries) expect(Object.keys(NMAP_NULL)).toContain(e.id);
  });

  for (const e of catalog.entries) {
    describe(e.id, () => {
      test("greets at once with a 220 that nmap's NULL-probe line matches to the claimed version", () => {
        const { greeting } = start(e);
        expect(expectWellFormedReply(greeting)).toBe("220");
        const m = NMAP_NULL[e.id]!;
        const got = greeting.match(m.re);
        expect(got).not.toBeNull();
        expect(m.version === undefined ? "" : got![m.version]).toBe(e.version);
        expect(m.info === undefined ? "" : m.info(got!)).toBe(e.info ?? "");
        expect(greeting).not.toContain("{{");
      });

      test("USER then PASS: a 530 refusal and a login event with both", () => {
        const { s } = start(e);
        // A face that wants logins encrypted takes them after AUTH TLS (the handshake is the trap's).
        if (wantsTls(e)) expect(send(s, "AUTH TLS\r\n").startTls).toBe(true);
        const u = send(s, "USER alice\r\n");
        expect(text(u).slice(0, 4)).toBe("331 ");
        expect(u.events).toEqual([{ action: "command", command: "USER alice" }]);
        const p = send(s, "PASS s3cret!\r\n");
        expect(text(p).slice(0, 4)).toBe("530 ");
        expect(p.events).toEqual([{ action: "login", method: "ftp", user: "alice", password: "s3cret!" }]);
      });

      test("PASS with no USER before it is refused without a login event", () => {
        const { s } = start(e);
        const r = send(s, "PASS x\r\n");
        expect(["503", "530"]).toContain(expectWellFormedReply(text(r)));
        expect(r.events?.some((ev) => ev.action === "login")).toBe(false);
      });

      test("SYST, FEAT, HELP, PWD, NOOP, TYPE each get one well-formed reply; PWD needs a login", () => {
        const { s } = start(e);
        for (const cmd of ["SYST", "FEAT", "HELP", "NOOP", "TYPE I"]) {
          const r = send(s, `${cmd}\r\n`);
          expect(r.close).toBeUndefined();
          expectWellFormedReply(text(r));
        }
        expect(expectWellFormedReply(text(send(s, "PWD\r\n")))).toBe("530");
      });

      test("an HTTP request line gets an error reply (5xx), never silence", () => {
        const { s } = start(e);
        const r = send(s, "GET / HTTP/1.0\r\n\r\n");
        expect(text(r)).toMatch(/^5\d\d[ -]/);
      });

      test("QUIT: 221 and the session closes; later bytes get nothing", () => {
        const { s } = start(e);
        const r = send(s, "QUIT\r\n");
        expect(expectWellFormedReply(text(r))).toBe("221");
        expect(r.close).toBe(true);
        expect(text(send(s, "NOOP\r\n"))).toBe("");
      });

      test("a command split over many TCP segments is answered once, when complete", () => {
        const whole = start(e);
        const expected = text(send(whole.s, "USER bob\r\n"));
        const { s } = start(e);
        let got = "";
        for (const piece of ["U", "SE", "R b", "ob", "\r", "\n"]) got += text(send(s, piece));
        expect(got).toBe(expected);
      });

      test("pipelined commands are answered in order, each after the daemon's own pause", () => {
        const first = start(e).s;
        if (wantsTls(e)) send(first, "AUTH TLS\r\n");
        const a = text(send(first, "USER carol\r\n"));
        const d = drive(e);
        const before = d.greeting.length + (wantsTls(e) ? (d.send("AUTH TLS\r\n"), d.output().length - d.greeting.length) : 0);
        d.send("USER carol\r\nPASS pw\r\nNOOP\r\n");
        d.clock.advanceBy(60_000);
        const after = d.output().slice(before);
        expect(after.startsWith(a)).toBe(true);
        expect(after.slice(a.length, a.length + 4)).toBe("530 ");
        expect(d.events.filter((ev) => ev.action === "login")).toEqual([{ action: "login", method: "ftp", user: "carol", password: "pw" }]);
        // NOOP is answered after the refusal, never before it.
        expect(d.writes.length).toBeGreaterThanOrEqual(3);
        expect(d.writes.at(-1)!.at).toBeGreaterThanOrEqual(d.writes.find((w) => w.text.startsWith("530 "))!.at);
      });

      test("has an idle timeout and the words the daemon says then, and a failed-login pause", () => {
        const t = e.templates;
        expect(t.idleTimeoutMs).toBeDefined();
        expect(t.idleTimeout).toMatch(/^421[ -]/);
        expect(t.loginFailDelayMs).toBeDefined();
      });

      test("a megabyte without a line feed stays bounded: the reply is small and the session answers or closes", () => {
        const { s } = start(e);
        let out = "";
        let closed = false;
        const junk = "A".repeat(64 * 1024);
        for (let i = 0; i < 16 && !closed; i++) {
          const r = send(s, junk);
          out += text(r);
          closed = r.close === true;
        }
        // At most one short reply per cut piece of the stream, never an echo of the flood.
        expect(out.length).toBeLessThan(16 * 64 * 1024);
        expect(out).not.toContain("A".repeat(600));
        if (!closed) expect(text(send(s, "\r\nQUIT\r\n"))).toContain("221");
      });

      test("binary garbage never throws and every reply is well formed", () => {
        const { s } = start(e);
        const bytes = new Uint8Array(4096);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) & 0xff;
        for (let i = 0; i < 8; i++) {
          const r = s.data(bytes.subarray(i * 512, (i + 1) * 512));
          const t = text(r);
          if (t !== "") expect(t).toMatch(/^\d{3}[ -]/);
          if (r.close) break;
        }
      });

      test("a long user name is echoed bounded", () => {
        const { s } = start(e);
        const r = send(s, `USER ${"u".repeat(300)}\r\n`);
        expect(text(r).length).toBeLessThan(700);
      });
    });
  }
});

describe("wording captured from the real daemons", () => {
  test("vsftpd 3.0.3 (Debian 12 package, captured): pre-login replies", () => {
    const { s, greeting } = start(entry("vsftpd-3.0.3-debian"));
    expect(greeting).toBe("220 (vsFTPd 3.0.3)\r\n");
    expect(text(send(s, "SYST\r\n"))).toBe("530 Please login with USER and PASS.\r\n");
    expect(text(send(s, "FEAT\r\n"))).toBe("211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n");
    expect(text(send(s, "GET / HTTP/1.0\r\n\r\n"))).toBe("530 Please login with USER and PASS.\r\n");
    expect(text(send(s, "PASS x\r\n"))).toBe("503 Login with USER first.\r\n");
    expect(text(send(s, "OPTS UTF8 ON\r\n"))).toBe("200 Always in UTF8 mode.\r\n");
    expect(text(send(s, "USER root\r\n"))).toBe("331 Please specify the password.\r\n");
    expect(text(send(s, "PASS toor\r\n"))).toBe("530 Login incorrect.\r\n");
  });

  test("vsftpd hangs up after the third failed login", () => {
    const { s } = start(entry("vsftpd-3.0.3-debian"));
    for (let i = 0; i < 2; i++) {
      send(s, "USER root\r\n");
      expect(send(s, "PASS x\r\n").close).toBeUndefined();
    }
    send(s, "USER root\r\n");
    const third = send(s, "PASS x\r\n");
    expect(text(third)).toBe("530 Login incorrect.\r\n");
    expect(third.close).toBe(true);
  });

  test("vsftpd 3 refuses a 4095-byte command (4097 with CRLF) and hangs up; 4094 is still a command", () => {
    const ok = start(entry("vsftpd-3.0.3-debian"));
    expect(text(send(ok.s, `${"X".repeat(4094)}\r\n`))).toBe("530 Please login with USER and PASS.\r\n");
    const bad = start(entry("vsftpd-3.0.3-debian"));
    const r = send(bad.s, `${"X".repeat(4095)}\r\n`);
    expect(text(r)).toBe("500 Input line too long.\r\n");
    expect(r.close).toBe(true);
  });

  test("vsftpd 2.2.2 and later refuse an over-long line with 500 and hang up (ftpcmdio.c control_getline since 2.2.2)", () => {
    for (const id of ["vsftpd-2.2.2-rhel6", "vsftpd-2.3.4", "vsftpd-2.3.5", "vsftpd-3.0.2"]) {
      const ok = start(entry(id));
      expect(text(send(ok.s, `${"X".repeat(4094)}\r\n`))).toBe("530 Please login with USER and PASS.\r\n");
      const { s } = start(entry(id));
      const r = send(s, `${"X".repeat(4096 * 2 + 10)}\r\n`);
      expect(text(r)).toBe("500 Input line too long.\r\n");
      expect(r.close).toBe(true);
    }
  });

  test("vsftpd ignores an empty line", () => {
    const { s } = start(entry("vsftpd-2.3.4"));
    expect(send(s, "\r\n").write).toBeUndefined();
  });

  test("RHEL vsftpd's user_list refuses root at USER, before any password", () => {
    const { s } = start(entry("vsftpd-2.2.2-rhel6"));
    expect(text(send(s, "USER root\r\n"))).toBe("530 Permission denied.\r\n");
    expect(text(send(s, "PASS toor\r\n"))).toBe("503 Login with USER first.\r\n");
  });

  test("ProFTPD (replies as captured from proftpd 1.3.8 on Debian 12)", () => {
    const { s, greeting } = start(entry("proftpd-1.3.5-debian"));
    expect(greeting).toBe("220 ProFTPD 1.3.5 Server (Debian) [::ffff:192.0.2.10]\r\n");
    expect(text(send(s, "SYST\r\n"))).toBe("215 UNIX Type: L8\r\n");
    expect(text(send(s, "PWD\r\n"))).toBe("530 Please login with USER and PASS\r\n");
    expect(text(send(s, "NOOP\r\n"))).toBe("200 NOOP command successful\r\n");
    expect(text(send(s, "TYPE I\r\n"))).toBe("200 Type set to I\r\n");
    expect(text(send(s, "TYPE Z\r\n"))).toBe("504 TYPE not implemented for 'Z' parameter\r\n");
    expect(text(send(s, "foo bar\r\n"))).toBe("500 FOO not understood\r\n");
    expect(text(send(s, "\r\n"))).toBe("500 Invalid command: try being more creative\r\n");
    expect(text(send(s, "ACCT x\r\n"))).toBe("502 ACCT command not implemented\r\n");
    expect(text(send(s, "USER\r\n"))).toBe("500 USER: command requires a parameter\r\n");
    expect(text(send(s, "USER root\r\n"))).toBe("331 Password required for root\r\n");
    expect(text(send(s, "PASS toor\r\n"))).toBe("530 Login incorrect.\r\n");
  });

  test("ProFTPD 1.3.5 mod_copy answers SITE CPFR/CPTO before login (CVE-2015-3306)", () => {
    const { s } = start(entry("proftpd-1.3.5-debian"));
    const a = send(s, "SITE CPFR /etc/passwd\r\n");
    expect(text(a).slice(0, 4)).toBe("350 ");
    expect(a.events).toEqual([{ action: "command", command: "SITE CPFR /etc/passwd" }]);
    // The daemon's unprivileged user may write /tmp, not Debian's root-owned web root.
    expect(text(send(s, "SITE CPTO /tmp/p.txt\r\n")).slice(0, 4)).toBe("250 ");
    send(s, "SITE CPFR /etc/passwd\r\n");
    expect(text(send(s, "SITE CPTO /var/www/html/p.txt\r\n")).slice(0, 4)).toBe("550 ");
    // 1.3.3c has no mod_copy: SITE CPFR needs a login there.
    const old = start(entry("proftpd-1.3.3c-freebsd"));
    expect(text(send(old.s, "SITE CPFR /etc/passwd\r\n")).slice(0, 4)).toBe("530 ");
  });

  test("Pure-FTPd (captured from Debian 12's pure-ftpd): HTTP verbs get 500 and a hang-up", () => {
    const { s, greeting } = start(entry("pure-ftpd-debian"));
    // 07:08:09 UTC is 16:08:09 in Tokyo; the host's clock runs 90 s fast: 16:09. Whatever TZ the process has.
    expect(greeting).toContain("220-Local time is now 16:09. Server port: 21.\r\n");
    expect(greeting).toContain("220-You are user number 1 of 50 allowed.\r\n");
    expect(text(send(s, "NOOP\r\n"))).toBe("200 Zzz...\r\n");
    expect(text(send(s, "PWD\r\n"))).toBe("530 You aren't logged in\r\n");
    const r = send(s, "GET / HTTP/1.0\r\n\r\n");
    expect(text(r)).toBe("500 HTTP command: [get]\r\n");
    expect(r.close).toBe(true);
  });

  test("Pure-FTPd: a line over 4110 bytes gets 421 and a hang-up", () => {
    const { s } = start(entry("pure-ftpd-debian"));
    expect(text(send(s, `${"X".repeat(4110)}\r\n`))).toBe("530 You aren't logged in\r\n");
    const r = send(s, `${"X".repeat(4111)}\r\n`);
    expect(text(r)).toBe("421 Line too long\r\n");
    expect(r.close).toBe(true);
  });

  test("FreeBSD ftpd: 'command not understood' echoes the line; over 510 bytes is 'too long' and the rest is dropped", () => {
    const { s, greeting } = start(entry("freebsd-ftpd-6.00ls"));
    expect(greeting).toMatch(/^220 [-.\w]+ FTP server \(Version 6\.00LS\) ready\.\r\n$/);
    expect(text(send(s, "GET / HTTP/1.0\r\n"))).toBe("500 GET / HTTP/1.0: command not understood.\r\n");
    expect(text(send(s, "\r\n"))).toBe("500 : command not understood.\r\n");
    expect(text(send(s, "MAIL x\r\n"))).toBe("502 MAIL command not implemented.\r\n");
    expect(text(send(s, `NOOP${" ".repeat(504)}\r\n`))).not.toBe("500 Command too long.\r\n");
    const r = send(s, `${"Y".repeat(700)}\r\nNOOP\r\n`);
    expect(text(r)).toBe("500 Command too long.\r\n200 NOOP command successful.\r\n");
    // A line longer than 510 bytes arriving in pieces: one complaint, the rest up to LF ignored.
    expect(text(send(s, "Z".repeat(600)))).toBe("500 Command too long.\r\n");
    expect(text(send(s, "Z".repeat(600)))).toBe("");
    expect(text(send(s, "ZZ\r\nNOOP\r\n"))).toBe("200 NOOP command successful.\r\n");
  });

  test("FreeBSD ftpd refuses accounts of /etc/ftpusers at USER and has no anonymous account", () => {
    const { s } = start(entry("freebsd-ftpd-6.00ls"));
    expect(text(send(s, "USER root\r\n"))).toBe("530 User root access denied.\r\n");
    expect(text(send(s, "USER anonymous\r\n"))).toBe("530 User anonymous unknown.\r\n");
    expect(text(send(s, "USER jdoe\r\n"))).toBe("331 Password required for jdoe.\r\n");
  });

  test("Microsoft ftpd: the NetBIOS-style upper-case name, Windows_NT and the 'cannot log in' refusal", () => {
    const { s, greeting } = start(entry("microsoft-ftpd-5.0-win2000"));
    expect(greeting).toMatch(/^220 [A-Z0-9-]+ Microsoft FTP Service \(Version 5\.0\)\.\r\n$/);
    expect(text(send(s, "SYST\r\n"))).toBe("215 Windows_NT version 5.0\r\n");
    expect(text(send(s, "FEAT\r\n"))).toBe("500 'FEAT': command not understood.\r\n");
    send(s, "USER Administrator\r\n");
    expect(text(send(s, "PASS admin\r\n"))).toBe("530 User Administrator cannot log in.\r\n");
    const iis6 = start(entry("microsoft-ftpd-iis6-win2003"));
    expect(iis6.greeting).toBe("220 Microsoft FTP Service\r\n");
    expect(text(send(iis6.s, "FEAT\r\n"))).toBe("211-FEAT\r\n    SIZE\r\n    MDTM\r\n211 END\r\n");
  });
});

// The daemons' clocks, on a virtual clock. Expected numbers are the real daemons' (measured on Debian 12's
// vsftpd 3.0.3, ProFTPD 1.3.8 and Pure-FTPd 1.0.50; /tmp/research/real-daemons.md) or their sources'.
describe("timing of the real daemons", () => {
  /** When the reply starting with `prefix` went out, in ms since the session began. */
  function when(d: Driven, prefix: string, from = 0): number {
    const w = d.writes.find((x) => x.at >= from && x.text.startsWith(prefix));
    if (!w) throw new Error(`no ${JSON.stringify(prefix)} after ${from} ms in ${JSON.stringify(d.output())}`);
    return w.at;
  }

  test("vsftpd: 530 only after 2.7-3.9 s (delay_failed_login 1 s + PAM's ~2 s); what comes meanwhile waits its turn", () => {
    for (let i = 0; i < 40; i++) {
      const d = drive(entry("vsftpd-3.0.3-debian"), `v${i}`);
      d.send("USER root\r\n");
      d.send("PASS toor\r\n");
      const sent = d.clock.now();
      d.clock.advanceBy(100);
      d.send("NOOP\r\n");
      d.clock.advanceBy(10_000);
      const at = when(d, "530 Login incorrect.") - sent;
      expect(at).toBeGreaterThanOrEqual(2700);
      expect(at).toBeLessThanOrEqual(3900);
      // The login is logged at once, the refusal comes late, and NOOP's answer only after it.
      expect(d.events.some((ev) => ev.action === "login")).toBe(true);
      expect(d.since(sent + 1)).toBe("530 Login incorrect.\r\n530 Please login with USER and PASS.\r\n");
    }
  });

  test("vsftpd: the pause differs between attempts (PAM randomises it)", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const d = drive(entry("vsftpd-2.3.4"), `r${i}`);
      d.send("USER a\r\nPASS b\r\n");
      d.clock.advanceBy(10_000);
      seen.add(when(d, "530 "));
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  test("vsftpd: the third failure is answered after its pause, then FIN; nothing is said about it", () => {
    const d = drive(entry("vsftpd-3.0.3-debian"));
    for (let i = 0; i < 3; i++) {
      d.send("USER root\r\n");
      d.send("PASS x\r\n");
      d.clock.advanceBy(5000);
    }
    expect(d.output().slice(d.greeting.length)).toBe("331 Please specify the password.\r\n530 Login incorrect.\r\n".repeat(3));
    expect(d.closed()).toBe("fin");
  });

  test("vsftpd: silence gets '421 Timeout.' at 300 s and FIN; every command restarts the timer", () => {
    const quiet = drive(entry("vsftpd-3.0.3-debian"));
    quiet.clock.advanceBy(299_000);
    expect(quiet.closed()).toBeUndefined();
    quiet.clock.advanceBy(2000);
    expect(quiet.since(1)).toBe("421 Timeout.\r\n");
    expect(when(quiet, "421 ")).toBeGreaterThanOrEqual(300_000);
    expect(when(quiet, "421 ")).toBeLessThanOrEqual(300_050);
    expect(quiet.closed()).toBe("fin");

    const busy = drive(entry("vsftpd-2.3.4"));
    busy.clock.advanceBy(200_000);
    busy.send("NOOP\r\n");
    busy.clock.advanceBy(250_000); // 450 s: only 250 s since the command
    expect(busy.closed()).toBeUndefined();
    busy.send("USER bob"); // half a line is not a command
    busy.clock.advanceBy(60_000);
    expect(busy.closed()).toBe("fin");
    expect(when(busy, "421 Timeout.")).toBeGreaterThanOrEqual(500_000);
  });

  test("RHEL vsftpd's user_list: 'Permission denied' after delay_failed_login (1 s), counted as a failure", () => {
    for (const id of ["vsftpd-2.2.2-rhel6", "vsftpd-3.0.2-rhel7"]) {
      const d = drive(entry(id));
      d.send("USER root\r\n");
      d.clock.advanceBy(999);
      expect(d.output()).toBe(d.greeting);
      d.clock.advanceBy(20);
      expect(d.since(1)).toBe("530 Permission denied.\r\n");
      d.send("USER bin\r\n");
      d.clock.advanceBy(1100);
      d.send("USER daemon\r\n");
      d.clock.advanceBy(1100);
      // check_login_fails: the third refusal ends the session.
      expect(d.closed()).toBe("fin");
    }
    // Ubuntu's vsftpd has no user_list.
    const u = drive(entry("vsftpd-3.0.2"));
    u.send("USER root\r\n");
    expect(u.since(0).slice(u.greeting.length)).toBe("331 Please specify the password.\r\n");
  });

  test("ProFTPD: unknown users are refused at once; TimeoutLogin (300 s) runs from connect, commands do not restart it", () => {
    const d = drive(entry("proftpd-1.3.5-debian"));
    d.send("USER nosuchuser\r\n");
    d.send("PASS x\r\n");
    const sent = d.clock.now();
    d.clock.advanceBy(100);
    expect(when(d, "530 Login incorrect.") - sent).toBeLessThanOrEqual(80);
    for (let s = 60_000; s < 300_000; s += 60_000) {
      d.clock.advanceTo(s);
      d.send("NOOP\r\n");
    }
    d.clock.advanceTo(299_800);
    expect(d.closed()).toBeUndefined();
    d.clock.advanceTo(301_000);
    expect(d.closed()).toBe("fin");
    expect(d.writes.at(-1)!.text).toBe("421 Login timeout (300 seconds): closing control connection\r\n");
  });

  test("ProFTPD: MaxLoginAttempts 3, then FIN without a word", () => {
    const d = drive(entry("proftpd-1.3.3c-freebsd"));
    for (let i = 0; i < 3; i++) d.send("USER a\r\nPASS b\r\n");
    d.clock.advanceBy(1000);
    expect(d.output().slice(d.greeting.length)).toBe("331 Password required for a\r\n530 Login incorrect.\r\n".repeat(3));
    expect(d.closed()).toBe("fin");
  });

  test("Pure-FTPd: failure n waits 5-8 s plus 3 s per earlier failure; the 6th ends the session", () => {
    // Measured failures 1..6 on Debian 12: 5.8-7.2, 8.2-10.9, 11.0-13.9, 14.3-16.9, 17.1-19.2, 20.1-22.6 s.
    const measured = [
      [5760, 7240],
      [8200, 10910],
      [10970, 13880],
      [14340, 16910],
      [17050, 19200],
      [20110, 22640],
    ];
    const d = drive(entry("pure-ftpd-debian"));
    for (let n = 0; n < 6; n++) {
      d.send("USER alice\r\n");
      d.send("PASS x\r\n");
      const sent = d.clock.now();
      d.clock.advanceBy(30_000);
      const took = when(d, "530 Login authentication failed", sent) - sent;
      expect(took).toBeGreaterThanOrEqual(5000 + 3000 * n);
      expect(took).toBeLessThanOrEqual(8000 + 3000 * n);
      // Within a second of what the real daemon took at that step.
      expect(took).toBeGreaterThan(measured[n]![0]! - 1000);
      expect(took).toBeLessThan(measured[n]![1]! + 1000);
      expect(d.closed()).toBe(n === 5 ? "fin" : undefined);
    }
  });

  test("Pure-FTPd: 15 minutes of silence, as its banner promises, then its own words", () => {
    const d = drive(entry("pure-ftpd-debian"));
    expect(d.greeting).toContain("220 You will be disconnected after 15 minutes of inactivity.\r\n");
    d.clock.advanceBy(899_000);
    expect(d.closed()).toBeUndefined();
    d.clock.advanceBy(2000);
    expect(d.since(1)).toBe("421 Timeout - try typing a little faster next time\r\n");
    expect(d.closed()).toBe("fin");
  });

  test("FreeBSD ftpd: after n failures it sleeps n s behind its 331, so the next 530 comes that much later", () => {
    const d = drive(entry("freebsd-ftpd-6.00ls"));
    for (let n = 0; n < 6; n++) {
      d.send("USER jdoe\r\n");
      const userAt = d.clock.now();
      d.send("PASS x\r\n");
      d.clock.advanceBy(10_000);
      // The 331 itself is immediate; the sleep (sleep(login_attempts) in user()) delays what follows.
      expect(when(d, "331 Password required for jdoe.", userAt)).toBe(userAt);
      const took = when(d, "530 Login incorrect.", userAt) - userAt;
      expect(took).toBeGreaterThanOrEqual(n * 1000);
      expect(took).toBeLessThanOrEqual(n * 1000 + 20);
    }
    // login_attempts++ >= 5: the sixth failure ends the session.
    expect(d.closed()).toBe("fin");
  });

  test("FreeBSD ftpd: 900 s idle (ftpd's default -t), in BSD ftpd's words", () => {
    const d = drive(entry("freebsd-ftpd-6.00ls"));
    d.clock.advanceBy(901_000);
    expect(d.since(1)).toBe("421 Timeout (900 seconds): closing control connection.\r\n");
    expect(d.closed()).toBe("fin");
  });

  test("Microsoft ftpd: 120 s connection timeout and its two goodbye lines (as seen from IIS 6)", () => {
    for (const id of ["microsoft-ftpd-5.0-win2000", "microsoft-ftpd-iis6-win2003"]) {
      const d = drive(entry(id));
      d.clock.advanceBy(119_000);
      expect(d.closed()).toBeUndefined();
      d.clock.advanceBy(2000);
      expect(d.since(1)).toBe("421 Timeout (120 seconds): closing control connection.\r\n421 Terminating connection.\r\n");
      expect(d.closed()).toBe("fin");
    }
  });

  test("Mac ftpd: lukemftpd times a client out after 5 minutes before login; xftpd (wu-ftpd) after 15", () => {
    const l = drive(entry("lukemftpd-1.1-macos"));
    l.clock.advanceBy(301_000);
    expect(l.since(1)).toBe("421 Timeout (300 seconds): closing control connection.\r\n");
    const x = drive(entry("macosx-server-ftpd-10.5"));
    x.clock.advanceBy(899_000);
    expect(x.closed()).toBeUndefined();
    x.clock.advanceBy(2000);
    expect(x.since(1)).toBe("421 Timeout (900 seconds): closing control connection.\r\n");
  });

  test("the same session seed draws the same pauses (replays stay exact)", () => {
    const a = drive(entry("pure-ftpd-debian"), "same");
    const b = drive(entry("pure-ftpd-debian"), "same");
    for (const d of [a, b]) {
      d.send("USER a\r\nPASS b\r\nUSER a\r\nPASS c\r\n");
      d.clock.advanceBy(60_000);
    }
    expect(a.writes).toEqual(b.writes);
  });
});


describe("Mac OS X faces", () => {
  test("lukemftpd 1.1: greeting with the host's name, SYST, FEAT, HELP and the errors of lukemftpd-8's parser", () => {
    const { s, greeting } = start(entry("lukemftpd-1.1-macos"));
    expect(greeting).toBe(`220 ${HOST.fqdn} FTP server (lukemftpd 1.1) ready.\r\n`);
    expect(text(send(s, "SYST\r\n"))).toBe("215 UNIX Type: L8 Version: lukemftpd 1.1\r\n");
    expect(text(send(s, "FEAT\r\n"))).toBe("211-Features supported\r\n MDTM\r\n MLST Type*;Size*;Modify*;Perm*;Unique*;\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n");
    const help = text(send(s, "HELP\r\n"));
    expect(help.startsWith("214-\r\n    The following commands are recognized.\r\n    (`-' = not implemented, `+' = supports options)\r\n")).toBe(true);
    expect(help).toContain("    USER    REIN-   TYPE    ALLO    MKD     HELP    MIC     MLST+   MSND-\r\n");
    expect(help.endsWith(`214 Direct comments to ftp-bugs@${HOST.fqdn}.\r\n`)).toBe(true);
    expect(text(send(s, "HELP user\r\n"))).toBe("214 Syntax: USER <sp> username\r\n");
    expect(text(send(s, "HELP ACCT\r\n"))).toBe("214 ACCT    \t(specify account); not implemented.\r\n");
    expect(text(send(s, "PWD\r\n"))).toBe("530 Please login with USER and PASS.\r\n");
    expect(text(send(s, "ACCT x\r\n"))).toBe("502 ACCT command not implemented.\r\n");
    expect(text(send(s, "foo bar\r\n"))).toBe("500 'foo bar': command not understood.\r\n");
    expect(text(send(s, "syst x\r\n"))).toBe("501 'syst' command does not take any arguments.\r\n");
    expect(text(send(s, "OPTS UTF8 ON\r\n"))).toBe("502 Unknown command UTF8.\r\n");
    expect(text(send(s, "AUTH TLS\r\n"))).toBe("502 RFC 2228 authentication not implemented.\r\n");
    expect(text(send(s, "USER anonymous\r\n"))).toBe("530 User anonymous unknown.\r\n");
    expect(text(send(s, "USER admin\r\n"))).toBe("331 Password required for admin.\r\n");
    expect(text(send(s, "PASS admin\r\n"))).toBe("530 Login incorrect.\r\n");
    const q = send(s, "QUIT\r\n");
    expect(text(q)).toBe(`221 Thank you for using the FTP service on ${HOST.fqdn}.\r\n`);
    expect(q.close).toBe(true);
  });

  test("lukemftpd reads lines of up to 511 bytes; of a longer one it parses the first 511 (the rest is dropped here, to bound the echo)", () => {
    const { s } = start(entry("lukemftpd-1.1-macos"));
    expect(text(send(s, `${"X".repeat(509)}\r\n`))).toBe(`500 '${"X".repeat(509)}': command not understood.\r\n`);
    const r = text(send(s, `${"Z".repeat(600)}\r\nNOOP\r\n`));
    expect(r).toBe(`500 '${"Z".repeat(511)}': command not understood.\r\n200 NOOP command successful.\r\n`);
  });

  test("lukemftpd: after n failures it sleeps n s behind its 331; the sixth failure ends the session", () => {
    const d = drive(entry("lukemftpd-1.1-macos"));
    for (let n = 0; n < 6; n++) {
      d.send("USER jdoe\r\n");
      const userAt = d.clock.now();
      d.send("PASS x\r\n");
      d.clock.advanceBy(10_000);
      const took = d.writes.find((w) => w.at >= userAt && w.text.startsWith("530 "))!.at - userAt;
      expect(took).toBeGreaterThanOrEqual(n * 1000);
      expect(took).toBeLessThanOrEqual(n * 1000 + 20);
    }
    expect(d.closed()).toBe("fin");
  });

  test("Mac OS X Server 10.4: the default 'Banner' message of Server Admin, 80 dashes, then the host's name", () => {
    const { greeting } = start(entry("macosx-server-ftpd-10.4"));
    const lines = greeting.split("\r\n");
    expect(lines[0]).toBe(`220${"-".repeat(80)}`);
    expect(lines[1]).toBe('220-This is the "Banner" message for the Mac OS X Server\'s FTP server process.');
    expect(lines[3]).toBe("220-\t\tFTP clients will receive this message immediately");
    expect(lines[10]).toBe(`220-${"-".repeat(80)}`);
    expect(lines[11]).toBe(`220 ${HOST.fqdn} FTP server (Version:  Mac OS X Server 10.4.11 - +GSSAPI) ready.`);
    expect(lines.length).toBe(13);
  });

  test("Mac OS X Server 10.5/10.6: one line, the release's last update", () => {
    expect(start(entry("macosx-server-ftpd-10.5")).greeting).toBe(`220 ${HOST.fqdn} FTP server (Version:  Mac OS X Server 10.5.8 - +GSSAPI) ready.\r\n`);
    expect(start(entry("macosx-server-ftpd-10.6")).greeting).toBe(`220 ${HOST.fqdn} FTP server (Version:  Mac OS X Server 10.6.8 - +GSSAPI) ready.\r\n`);
  });

  test("wu-ftpd's habits in xftpd: 530 before login, five failures, a sleep after USER once a login failed", () => {
    const d = drive(entry("macosx-server-ftpd-10.4"));
    d.send("SYST\r\n");
    expect(d.output().slice(d.greeting.length)).toBe("530 Please login with USER and PASS.\r\n");
    for (let i = 0; i < 5; i++) {
      d.send("USER admin\r\nPASS admin\r\n");
      d.clock.advanceBy(10_000);
    }
    expect(d.closed()).toBe("fin");
  });
});

// AUTH TLS as the real daemons answered it: vsftpd 3.0.3-13+b2 with ssl_enable=YES and Pure-FTPd 1.0.50 with
// -Y 1, measured on Debian 12; IIS 7.5/8.5 as its FTP service words them. The session only says "start TLS
// now" (startTls); the handshake is the trap's, so here everything after it is the plaintext inside.
describe("AUTH TLS", () => {
  function auth(s: ProtocolSession, line: string): Reply {
    return send(s, `${line}\r\n`);
  }

  test("vsftpd with ssl_enable: FEAT offers AUTH TLS, PBSZ and PROT, which want TLS first", () => {
    const { s } = start(entry("vsftpd-3.0.3-debian-ssl"));
    expect(text(auth(s, "FEAT"))).toBe("211-Features:\r\n AUTH TLS\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n PBSZ\r\n PROT\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n211 End\r\n");
    expect(text(auth(s, "PBSZ 0"))).toBe("503 PBSZ needs a secure connection.\r\n");
    expect(text(auth(s, "PROT P"))).toBe("503 PROT needs a secure connection.\r\n");
    expect(text(auth(s, "AUTH"))).toBe("504 Unknown AUTH type.\r\n");
    const x = auth(s, "AUTH KERBEROS_V4");
    expect(text(x)).toBe("504 Unknown AUTH type.\r\n");
    expect(x.startTls).toBeUndefined();
    expect(text(auth(s, "CCC"))).toBe("530 Please login with USER and PASS.\r\n");
  });

  test("vsftpd: AUTH TLS answers 234 and starts TLS; inside, PBSZ/PROT are accepted and the login goes on", () => {
    const { s } = start(entry("vsftpd-3.0.3-debian-ssl"));
    const r = auth(s, "AUTH TLS");
    expect(text(r)).toBe("234 Proceed with negotiation.\r\n");
    expect(r.startTls).toBe(true);
    expect(r.close).toBeUndefined();
    expect(text(auth(s, "PBSZ 0"))).toBe("200 PBSZ set to 0.\r\n");
    expect(text(auth(s, "PROT P"))).toBe("200 PROT now Private.\r\n");
    expect(text(auth(s, "PROT C"))).toBe("200 PROT now Clear.\r\n");
    expect(text(auth(s, "PROT S"))).toBe("536 PROT not supported.\r\n");
    expect(text(auth(s, "PROT X"))).toBe("504 PROT not recognized.\r\n");
    expect(text(auth(s, "PROT"))).toBe("504 PROT not recognized.\r\n");
    const again = auth(s, "AUTH TLS");
    expect(text(again)).toBe("530 Please login with USER and PASS.\r\n");
    expect(again.startTls).toBeUndefined();
    expect(text(auth(s, "USER alice"))).toBe("331 Please specify the password.\r\n");
    const pass = auth(s, "PASS s3cret");
    expect(text(pass)).toBe("530 Login incorrect.\r\n");
    expect(pass.events).toContainEqual({ action: "login", method: "ftp", user: "alice", password: "s3cret" });
  });

  test("vsftpd takes AUTH SSL, TLS-C and TLS-P in any case as well", () => {
    for (const arg of ["SSL", "TLS-C", "TLS-P", "tls", "ssl"]) {
      const { s } = start(entry("vsftpd-3.0.3-debian-ssl"));
      const r = auth(s, `AUTH ${arg}`);
      expect(text(r)).toBe("234 Proceed with negotiation.\r\n");
      expect(r.startTls).toBe(true);
    }
  });

  test("vsftpd's force_local_logins_ssl: USER in clear (even an empty one) is refused and the daemon hangs up", () => {
    for (const line of ["USER alice", "USER root", "USER"]) {
      const { s } = start(entry("vsftpd-3.0.3-debian-ssl"));
      const r = auth(s, line);
      expect(text(r)).toBe("530 Non-anonymous sessions must use encryption.\r\n");
      expect(r.close).toBe(true);
      expect(r.delayMs).toBeUndefined();
    }
    // Anonymous in clear goes on as without TLS; over TLS, allow_anon_ssl=NO refuses it and hangs up.
    const clear = start(entry("vsftpd-3.0.3-debian-ssl")).s;
    expect(text(auth(clear, "USER anonymous"))).toBe("331 Please specify the password.\r\n");
    const { s } = start(entry("vsftpd-3.0.3-debian-ssl"));
    auth(s, "AUTH TLS");
    const r = auth(s, "USER anonymous");
    expect(text(r)).toBe("530 Anonymous sessions may not use encryption.\r\n");
    expect(r.close).toBe(true);
  });

  test("lines sent in the same segment after AUTH TLS are not served as commands", () => {
    const { s } = start(entry("vsftpd-3.0.3-debian-ssl"));
    const r = send(s, "AUTH TLS\r\nUSER alice\r\nPASS x\r\n");
    expect(text(r)).toBe("234 Proceed with negotiation.\r\n");
    expect(r.startTls).toBe(true);
    expect(r.events?.filter((e) => e.action === "login") ?? []).toEqual([]);
    expect(text(auth(s, "PBSZ 0"))).toBe("200 PBSZ set to 0.\r\n");
  });

  test("Pure-FTPd with TLS 1: only AUTH TLS; PBSZ and PROT as its ftpd answers them in clear and inside", () => {
    const { s, greeting } = start(entry("pure-ftpd-debian-tls"));
    expect(greeting).toStartWith("220---------- Welcome to Pure-FTPd [privsep] [TLS] ----------\r\n");
    expect(text(auth(s, "FEAT"))).toContain(" AUTH TLS\r\n PBSZ\r\n PROT\r\n");
    const ssl = auth(s, "AUTH SSL");
    expect(text(ssl)).toBe("500 This security scheme is not implemented\r\n");
    expect(ssl.startTls).toBeUndefined();
    expect(text(auth(s, "PBSZ 0"))).toBe("503 PBSZ=0\r\n");
    expect(text(auth(s, "PROT P"))).toBe("503 PROT must be preceded by a successful PBSZ command\r\n");
    expect(text(auth(s, "CCC"))).toBe("534 CCC not allowed at this point\r\n");
    const r = auth(s, "AUTH TLS");
    expect(text(r)).toBe("234 AUTH TLS OK.\r\n");
    expect(r.startTls).toBe(true);
    expect(text(auth(s, "PROT P"))).toBe('200 Data protection level set to "private"\r\n');
    expect(text(auth(s, "PBSZ 0"))).toBe("200 PBSZ=0\r\n");
    expect(text(auth(s, "PROT C"))).toBe('200 Data protection level set to "clear"\r\n');
    expect(text(auth(s, "PROT S"))).toBe('200 Protection level S not understood. Fallback to "private"\r\n');
    expect(text(auth(s, "PROT X"))).toBe("534 Fallback to [C]\r\n");
    expect(text(auth(s, "PROT"))).toBe("503 Missing argument\r\n");
    expect(text(auth(s, "CCC"))).toBe("534 CCC not allowed at this point\r\n");
    const again = auth(s, "AUTH TLS");
    expect(text(again)).toBe("234 AUTH TLS OK.\r\n");
    expect(again.startTls).toBeUndefined();
    expect(text(auth(s, "USER alice"))).toBe("331 User alice OK. Password required\r\n");
  });

  test("IIS 7.5 and 8.5 with Require SSL: logins in clear get 534, AUTH TLS/SSL start TLS", () => {
    for (const id of ["microsoft-ftpd-7.5-win2008r2", "microsoft-ftpd-8.5-win2012r2"]) {
      const clear = start(entry(id)).s;
      expect(text(auth(clear, "FEAT"))).toContain(" AUTH TLS;TLS-C;SSL;TLS-P;\r\n PBSZ\r\n PROT C;P;\r\n CCC\r\n");
      for (const line of ["USER alice", "USER anonymous"]) {
        const r = auth(clear, line);
        expect(text(r)).toBe("534 Policy requires SSL.\r\n");
        expect(r.close).toBeUndefined();
      }
      for (const arg of ["TLS", "SSL"]) {
        const { s } = start(entry(id));
        const r = auth(s, `AUTH ${arg}`);
        expect(text(r)).toBe("234 AUTH command ok. Expecting TLS Negotiation.\r\n");
        expect(r.startTls).toBe(true);
        expect(text(auth(s, "PBSZ 0"))).toBe("200 PBSZ command successful.\r\n");
        expect(text(auth(s, "PROT P"))).toBe("200 PROT command successful.\r\n");
        expect(text(auth(s, "USER alice"))).toBe("331 Password required\r\n");
        expect(text(auth(s, "PASS s3cret"))).toBe("530 User cannot log in.\r\n");
      }
    }
  });

  test("faces whose entry has no tls answer AUTH as before and never start TLS", () => {
    const vs = start(entry("vsftpd-3.0.3-debian")).s;
    for (const line of ["AUTH TLS", "AUTH SSL", "PBSZ 0", "PROT P"]) expect(text(auth(vs, line))).toBe("530 Please login with USER and PASS.\r\n");
    const pure = start(entry("pure-ftpd-debian")).s;
    expect(text(auth(pure, "AUTH TLS"))).toBe("500 This security scheme is not implemented\r\n");
    for (const e of catalog.entries.filter((x) => x.tls === undefined)) {
      const { s } = start(e);
      for (const arg of ["TLS", "SSL"]) expect(auth(s, `AUTH ${arg}`).startTls).toBeUndefined();
    }
  });
});
