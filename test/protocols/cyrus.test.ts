// The Cyrus faces of imap and pop3 over real TCP on 127.0.0.1. Expected words are the real daemon's:
// Debian 12's cyrus-imapd 3.6.1-4+deb12u5 (imapd and pop3d under master, the package's imapd.conf),
// asked the same things from a non-local address (docs/research/wt-cyrus.md). Also: the SASL ntlm
// plugin's bare CHALLENGE, and every refused login (LOGIN, AUTHENTICATE, USER/PASS, APOP, NTLM) logged.
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { connect as tlsConnect } from "node:tls";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap, type MemorySink } from "../helpers.ts";

type Svc = "imap" | "pop3" | "imaps" | "pop3s";
function entry(service: Svc, id: string): CatalogEntry {
  const e = serviceEntries(service).find((x) => x.id === id);
  if (!e) throw new Error(`no ${service} entry ${id}`);
  return e;
}

let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  stop = undefined;
});

function serve(service: Svc, id: string): { port: number; sink: MemorySink } {
  const { trap, sink } = startTestTrap(entry(service, id));
  stop = () => trap.stop();
  return { port: trap.port, sink };
}

const b64 = (s: string) => Buffer.from(s, "latin1").toString("base64");
async function loginEvents(sink: MemorySink, n: number) {
  for (let i = 0; i < 250 && sink.of("login").length < n; i++) await Bun.sleep(20);
  return sink.of("login");
}

/** A NEGOTIATE with the given flags. */
function negotiate(flags: number): string {
  const m = Buffer.alloc(32);
  m.write("NTLMSSP\0", 0, "latin1");
  m.writeUInt32LE(1, 8);
  m.writeUInt32LE(flags >>> 0, 12);
  return m.toString("base64");
}

/** An NTLMv2 AUTHENTICATE (unicode) from CORP\alice on WS1 with the given NT response. */
function authenticate(nt: Buffer): string {
  const u = (s: string) => Buffer.from(s, "utf16le");
  const lm = Buffer.alloc(24);
  const fields = [lm, nt, u("CORP"), u("alice"), u("WS1")];
  const head = Buffer.alloc(64);
  head.write("NTLMSSP\0", 0, "latin1");
  head.writeUInt32LE(3, 8);
  let off = 64;
  fields.forEach((f, i) => {
    head.writeUInt16LE(f.length, 12 + i * 8);
    head.writeUInt16LE(f.length, 14 + i * 8);
    head.writeUInt32LE(off, 16 + i * 8);
    off += f.length;
  });
  head.writeUInt32LE(0x00088205, 60);
  return Buffer.concat([head, ...fields]).toString("base64");
}

describe("imap: Cyrus 3.6.1 as Debian 12 installs it", () => {
  const id = "cyrus-imapd-3.6.1-debian12";

  test("greeting, CAPABILITY, NOOP, ID, unknown and empty commands, STARTTLS without a certificate", async () => {
    const { port } = serve("imap", id);
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.endsWith("\r\n"));
      expect(hello).toMatch(
        /^\* OK \[CAPABILITY IMAP4rev1 LITERAL\+ ID ENABLE AUTH=SCRAM-SHA-512 AUTH=SCRAM-SHA-384 AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-224 AUTH=SCRAM-SHA-1 AUTH=DIGEST-MD5 AUTH=CRAM-MD5 AUTH=NTLM AUTH=PLAIN AUTH=LOGIN SASL-IR\] [a-z0-9-]+ Cyrus IMAP 3\.6\.1-Debian-3\.6\.1-4\+deb12u5 server ready\r\n$/,
      );
      c.send("a1 CAPABILITY\r\na3 NOOP\r\na4 FOO\r\na5 ENABLE X\r\na6 STARTTLS\r\n\r\nGET / HTTP/1.0\r\n\r\na2 ID NIL\r\n");
      const out = (await c.waitFor((t) => t.includes("a2 OK"))).slice(hello.length);
      const lines = out.split("\r\n");
      expect(lines[0]).toStartWith("* CAPABILITY IMAP4rev1 LITERAL+ ID ENABLE ACL ANNOTATE-EXPERIMENT-1 BINARY CATENATE CHILDREN CONDSTORE");
      expect(lines[0]).toEndWith(" XMOVE AUTH=SCRAM-SHA-512 AUTH=SCRAM-SHA-384 AUTH=SCRAM-SHA-256 AUTH=SCRAM-SHA-224 AUTH=SCRAM-SHA-1 AUTH=DIGEST-MD5 AUTH=CRAM-MD5 AUTH=NTLM AUTH=PLAIN AUTH=LOGIN SASL-IR COMPRESS=DEFLATE X-QUOTA=STORAGE X-QUOTA=MESSAGE X-QUOTA=X-ANNOTATION-STORAGE X-QUOTA=X-NUM-FOLDERS IDLE APPENDLIMIT=4294967295");
      expect(lines.slice(1, 10)).toEqual([
        "a1 OK Completed",
        "a3 OK Completed",
        "a4 BAD Please login first",
        "a5 BAD Please login first",
        "a6 BAD Unrecognized command",
        "* BAD Invalid tag",
        "GET BAD Please login first",
        "* BAD Invalid tag",
        expect.stringMatching(/^\* ID \("name" "Cyrus IMAPD" "version" "3\.6\.1-Debian-3\.6\.1-4\+deb12u5" "vendor" "Project Cyrus" "support-url" "https:\/\/www\.cyrusimap\.org" "os" "Linux" "os-version" "6\.1\.0-\S+-amd64" "environment" "Built w\/Cyrus SASL 2\.1\.28; /),
      ]);
      expect(lines[10]).toBe("a2 OK Completed");
      c.send("a8 LOGOUT\r\n");
      await c.closed;
      expect(c.text()).toEndWith("* BYE LOGOUT received\r\na8 OK Completed\r\n");
    } finally {
      c.end();
    }
  });

  test("LOGIN: argument errors at once; a literal login is refused after the pause and logged", async () => {
    const { port, sink } = serve("imap", id);
    const c = await connect(port);
    try {
      await c.waitFor((t) => t.includes("server ready\r\n"));
      c.send("a1 LOGIN bob\r\na2 LOGIN\r\na3 LOGIN a b c\r\na4 LOGIN {3}\r\n");
      await c.waitFor((t) => t.endsWith("+ go ahead\r\n"));
      expect(c.text()).toContain("a1 BAD Missing required argument to Login\r\na2 BAD Missing required argument to Login\r\na3 BAD Unexpected extra arguments to LOGIN\r\n+ go ahead\r\n");
      c.send("bob {6}\r\n");
      await c.waitFor((t) => t.split("+ go ahead\r\n").length === 3);
      const sent = Date.now();
      c.send("secret\r\n");
      await c.waitFor((t) => t.includes("a4 NO"), 8000);
      expect(Date.now() - sent).toBeGreaterThanOrEqual(2900);
      expect(c.text()).toEndWith("a4 NO Login failed: authentication failure\r\n");
      const [login] = await loginEvents(sink, 1);
      expect(login).toMatchObject({ action: "login", method: "imap", user: "bob", password: "secret" });
    } finally {
      c.end();
    }
  });

  test("AUTHENTICATE: LOGIN's prompts, '*' cancels, an unknown mechanism and bad base64 cost the pause", async () => {
    const { port, sink } = serve("imap", id);
    const c = await connect(port);
    try {
      await c.waitFor((t) => t.includes("server ready\r\n"));
      c.send("a6 AUTHENTICATE LOGIN\r\n");
      await c.waitFor((t) => t.endsWith("+ VXNlcm5hbWU6\r\n"));
      c.send(`${b64("bob")}\r\n`);
      await c.waitFor((t) => t.endsWith("+ UGFzc3dvcmQ6\r\n"));
      c.send(`${b64("hunter2")}\r\n`);
      await c.waitFor((t) => t.endsWith("a6 NO authentication failure\r\n"), 8000);
      c.send("a7 AUTHENTICATE PLAIN\r\n");
      await c.waitFor((t) => t.endsWith("+ \r\n"));
      c.send("*\r\n");
      await c.waitFor((t) => t.endsWith("a7 BAD Client canceled authentication\r\n"));
      c.send("a8 AUTHENTICATE FOO\r\n");
      await c.waitFor((t) => t.endsWith("a8 NO no mechanism available\r\n"), 8000);
      c.send("a9 AUTHENTICATE PLAIN\r\n");
      await c.waitFor((t) => t.endsWith("+ \r\n"));
      c.send("!!!\r\n");
      await c.waitFor((t) => t.endsWith("a9 NO another step is needed in authentication\r\n"), 8000);
      c.send(`b1 AUTHENTICATE PLAIN ${b64("\0carol\0pw1")}\r\n`);
      await c.waitFor((t) => t.endsWith("b1 NO authentication failure\r\n"), 8000);
      const logins = await loginEvents(sink, 2);
      expect(logins.map((e) => [e.method, e.user, e.password])).toEqual([
        ["imap-auth-login", "bob", "hunter2"],
        ["imap-plain", "carol", "pw1"],
      ]);
    } finally {
      c.end();
    }
  }, 30_000);

  test("AUTHENTICATE NTLM: the SASL plugin's bare CHALLENGE; the AUTHENTICATE is logged as a NetNTLMv2 line", async () => {
    const { port, sink } = serve("imap", id);
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.includes("server ready\r\n"));
      const host = /\] (\S+) Cyrus IMAP/.exec(hello)![1]!;
      // The flags Python's and nmap's clients send (0xa2088207): the plugin answers 0x00028205 and the host name.
      c.send(`a1 AUTHENTICATE NTLM ${negotiate(0xa2088207)}\r\n`);
      const m = /\+ (\S+)\r\n$/.exec(await c.waitFor((t) => /\+ \S+\r\n$/.test(t)))!;
      const ch = Buffer.from(m[1]!, "base64");
      expect(ch.subarray(0, 12).toString("latin1")).toBe("NTLMSSP\0\x02\0\0\0");
      expect(ch.readUInt32LE(20)).toBe(0x00028205);
      expect(ch.readUInt16LE(12)).toBe(host.length * 2);
      expect(ch.readUInt32LE(16)).toBe(48);
      expect(ch.subarray(32, 48)).toEqual(Buffer.alloc(16));
      expect(ch.subarray(48).toString("utf16le")).toBe(host.toUpperCase());
      const nt = Buffer.concat([Buffer.alloc(16, 0xab), Buffer.from("0101000000000000", "hex"), Buffer.alloc(16, 0xcd)]);
      c.send(`${authenticate(nt)}\r\n`);
      await c.waitFor((t) => t.endsWith("a1 NO authentication failure\r\n"), 8000);
      const [login] = await loginEvents(sink, 1);
      expect(login!.method).toBe("imap-ntlm");
      expect(login!.user).toBe("alice");
      expect(login!.hash).toEqual({
        value: `alice::CORP:${ch.subarray(24, 32).toString("hex")}:${"ab".repeat(16)}:0101000000000000${"cd".repeat(16)}`,
        type: "netntlmv2",
        hashcatMode: 5600,
      });
      // A client that asks for no target (OEM, NTLM only) gets neither target name nor target type.
      c.send(`a2 AUTHENTICATE NTLM ${negotiate(0x202)}\r\n`);
      const m2 = /\+ (\S+)\r\n$/.exec(await c.waitFor((t) => /a1 NO [^]*\+ \S+\r\n$/.test(t)))!;
      const ch2 = Buffer.from(m2[1]!, "base64");
      expect(ch2.length).toBe(48);
      expect(ch2.readUInt32LE(20)).toBe(0x202);
    } finally {
      c.end();
    }
  }, 20_000);
});

describe("imap: Cyrus on CentOS (TLS first)", () => {
  test("2.3.16: LOGINDISABLED in clear; LOGIN is refused at once and its password logged", async () => {
    const { port, sink } = serve("imap", "cyrus-imapd-2.3.16-centos6");
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.endsWith("\r\n"));
      expect(hello).toMatch(/^\* OK \[CAPABILITY IMAP4 IMAP4rev1 LITERAL\+ ID STARTTLS LOGINDISABLED COMPRESS=DEFLATE\] \S+ Cyrus IMAP v2\.3\.16-Fedora-RPM-2\.3\.16-13\.el6_6 server ready\r\n$/);
      c.send("a1 LOGIN root toor\r\n");
      await c.waitFor((t) => t.endsWith("a1 NO Login only available under a layer\r\n"));
      const [login] = await loginEvents(sink, 1);
      expect(login).toMatchObject({ method: "imap", user: "root", password: "toor" });
    } finally {
      c.end();
    }
  });
});

describe("pop3: Cyrus pop3d", () => {
  test("2.4.16 (Debian 7): greeting with an APOP timestamp, CAPA, AUTH list, the daemon's errors", async () => {
    const { port } = serve("pop3", "cyrus-pop3d-2.4.16-debian7");
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.endsWith("\r\n"));
      const m = /^\+OK (\S+) Cyrus POP3 v2\.4\.16-Debian-2\.4\.16-4\+deb7u2 server ready <(\d{1,20})\.(\d+)@(\S+)>\r\n$/.exec(hello);
      expect(m).not.toBeNull();
      expect(m![4]).toBe(m![1]!);
      expect(BigInt(m![2]!) < 2n ** 64n).toBe(true);
      c.send("CAPA\r\nNOOP\r\n\r\nUSER\r\nPASS x\r\nSTLS\r\nAUTH\r\n");
      const out = (await c.waitFor((t) => t.endsWith("PLAIN\r\n.\r\n"))).slice(hello.length);
      expect(out).toBe(
        "+OK List of capabilities follows\r\nSASL PLAIN\r\nEXPIRE NEVER\r\nLOGIN-DELAY 60\r\nTOP\r\nUIDL\r\nPIPELINING\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nUSER\r\nIMPLEMENTATION Cyrus POP3 v2.4.16-Debian-2.4.16-4+deb7u2\r\n.\r\n" +
          "-ERR Unrecognized command\r\n-ERR Unrecognized command\r\n-ERR Missing argument\r\n-ERR [AUTH] Must give USER command\r\n-ERR Unrecognized command\r\n" +
          "+OK List of supported mechanisms follows\r\nPLAIN\r\n.\r\n",
      );
      c.send("QUIT\r\n");
      await c.closed;
      expect(c.text()).toEndWith("+OK\r\n");
    } finally {
      c.end();
    }
  });

  test("USER/PASS, AUTH PLAIN and APOP refused after the pause; the password and the APOP digest logged", async () => {
    const { port, sink } = serve("pop3", "cyrus-pop3d-2.4.16-debian7");
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.endsWith("\r\n"));
      const stamp = /(<[^>]+>)\r\n$/.exec(hello)![1]!;
      c.send("USER bob\r\n");
      await c.waitFor((t) => t.endsWith("+OK Name is a valid mailbox\r\n"));
      const sent = Date.now();
      c.send("PASS secret\r\n");
      await c.waitFor((t) => t.endsWith("-ERR [AUTH] Invalid login\r\n"), 8000);
      expect(Date.now() - sent).toBeGreaterThanOrEqual(2900);
      c.send(`AUTH PLAIN ${b64("\0eve\0pw2")}\r\n`);
      await c.waitFor((t) => t.endsWith("-ERR [AUTH] authenticating: authentication failure\r\n"), 8000);
      const digest = createHash("md5").update(`${stamp}letmein`).digest("hex");
      c.send(`APOP mallory ${digest}\r\n`);
      await c.waitFor((t) => t.endsWith("-ERR [AUTH] authenticating: bad protocol / cancel\r\n"), 8000);
      const logins = await loginEvents(sink, 3);
      expect(logins.slice(0, 2).map((e) => [e.method, e.user, e.password])).toEqual([
        ["pop3", "bob", "secret"],
        ["pop3-plain", "eve", "pw2"],
      ]);
      expect(logins[2]).toMatchObject({ method: "pop3-apop", user: "mallory", hash: { value: `${digest}:${stamp}`, type: "apop-md5", hashcatMode: 20 } });
    } finally {
      c.end();
    }
  }, 30_000);

  test("a long line is read in 8191-byte pieces, each answered as a command (measured: 8189 bytes one answer, 8190 two, 16381 three)", async () => {
    const { port } = serve("pop3", "cyrus-pop3d-2.4.17-debian8");
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.endsWith("\r\n"));
      c.send(`${"x".repeat(8189)}\r\n${"y".repeat(8190)}\r\n${"z".repeat(16381)}\r\nCAPA\r\n`);
      const out = (await c.waitFor((t) => t.endsWith(".\r\n"))).slice(hello.length);
      expect(out.split("-ERR Unrecognized command\r\n")).toHaveLength(7);
      expect(out).toStartWith("-ERR Unrecognized command\r\n".repeat(6) + "+OK List of capabilities follows\r\n");
      expect(c.isClosed()).toBe(false);
    } finally {
      c.end();
    }
  });

  test("2.3.16 (CentOS 6): USER only under TLS, STLS offered", async () => {
    const { port } = serve("pop3", "cyrus-pop3d-2.3.16-centos6");
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.endsWith("\r\n"));
      expect(hello).toMatch(/^\+OK \S+ Cyrus POP3 v2\.3\.16-Fedora-RPM-2\.3\.16-13\.el6_6 server ready\r\n$/);
      c.send("USER bob\r\nCAPA\r\n");
      const out = await c.waitFor((t) => t.endsWith(".\r\n"));
      expect(out.slice(hello.length)).toStartWith("-ERR [AUTH] USER command only available under a layer\r\n+OK List of capabilities follows\r\nSTLS\r\n");
    } finally {
      c.end();
    }
  });
});

/** Everything a TLS peer sends until `until` shows in it (or 15 s), after sending `send`. */
function overTls(port: number, send: string, until: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    let buf = "";
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`waited for ${until}; got ${JSON.stringify(buf)}`));
    }, 15_000);
    s.once("secureConnect", () => s.write(send));
    s.on("data", (d) => {
      buf += d.toString("latin1");
      if (until.test(buf)) {
        clearTimeout(timer);
        s.destroy();
        resolve(buf);
      }
    });
    s.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

describe("imaps and pop3s: Cyrus on CentOS serves 993 and 995 too", () => {
  test("993: the greeting lists AUTH=PLAIN instead of STARTTLS LOGINDISABLED; LOGIN is refused after the pause", async () => {
    const { port, sink } = serve("imaps", "cyrus-imapd-2.4.17-centos7-ssl");
    const out = await overTls(port, "a1 CAPABILITY\r\na2 LOGIN admin admin123\r\n", /a2 NO/);
    expect(out).toMatch(/^\* OK \[CAPABILITY IMAP4rev1 LITERAL\+ ID ENABLE AUTH=PLAIN SASL-IR COMPRESS=DEFLATE\] \S+ Cyrus IMAP v2\.4\.17-Fedora-RPM-2\.4\.17-15\.el7 server ready\r\n/);
    expect(out).not.toContain("LOGINDISABLED");
    expect(out).toEndWith("a1 OK Completed\r\na2 NO Login failed: authentication failure\r\n");
    const [login] = await loginEvents(sink, 1);
    expect(login).toMatchObject({ method: "imap", user: "admin", password: "admin123" });
  }, 20_000);

  test("995: USER and PASS under TLS, refused after the pause and logged", async () => {
    const { port, sink } = serve("pop3s", "cyrus-pop3d-2.3.16-centos6-ssl");
    const out = await overTls(port, "USER info\r\nPASS info2020\r\n", /-ERR/);
    expect(out).toMatch(/^\+OK \S+ Cyrus POP3 v2\.3\.16-Fedora-RPM-2\.3\.16-13\.el6_6 server ready\r\n\+OK Name is a valid mailbox\r\n-ERR \[AUTH\] Invalid login\r\n$/);
    const [login] = await loginEvents(sink, 1);
    expect(login).toMatchObject({ method: "pop3", user: "info", password: "info2020" });
  }, 20_000);
});
