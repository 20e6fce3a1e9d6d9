// The imap service over real TCP on 127.0.0.1: Dovecot's, Courier's and Exchange's answers before login
// (words measured on Debian 12's dovecot-imapd 2.3.19.1 from a non-local address, and read from the
// Courier and Exchange faces' sources in fixtures/services/imap.json), STARTTLS into a real TLS
// handshake, and every refused login in the event log with its credential.
import { afterEach, describe, expect, test } from "bun:test";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap, type MemorySink } from "../helpers.ts";

const entries = serviceEntries("imap") as CatalogEntry[];
function entry(id: string): CatalogEntry {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no imap entry ${id}`);
  return e;
}

let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  stop = undefined;
});

function serve(id: string): { port: number; sink: MemorySink } {
  const { trap, sink } = startTestTrap(entry(id));
  stop = () => trap.stop();
  return { port: trap.port, sink };
}

const b64 = (s: string) => Buffer.from(s, "latin1").toString("base64");
const logins = (sink: MemorySink) => sink.of("login");
async function loginEvents(sink: MemorySink, n: number): Promise<ReturnType<typeof logins>> {
  for (let i = 0; i < 100 && logins(sink).length < n; i++) await Bun.sleep(20);
  return logins(sink);
}

describe("imap: Dovecot 2.3 as Debian ships it (plaintext logins refused in clear)", () => {
  test("greeting, CAPABILITY, NOOP, ID and ENABLE as the real daemon answers", async () => {
    const { port } = serve("dovecot-2.3-debian");
    const c = await connect(port);
    try {
      const hello = "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] Dovecot (Debian) ready.\r\n";
      expect(await c.waitFor((t) => t.endsWith("\r\n"))).toBe(hello);
      c.send("a1 CAPABILITY\r\na2 NOOP\r\na3 ID NIL\r\na4 ENABLE X\r\n");
      const out = await c.waitFor((t) => t.includes("a4 OK"));
      expect(out.slice(hello.length)).toBe(
        "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED\r\n" +
          "a1 OK Pre-login capabilities listed, post-login capabilities have more.\r\n" +
          "a2 OK NOOP completed.\r\n" +
          '* ID ("name" "Dovecot")\r\na3 OK ID completed.\r\n' +
          "* ENABLED\r\na4 OK ENABLE ignored in non-authenticated state.\r\n",
      );
    } finally {
      c.end();
    }
  });

  test("nmap's GetRequest gets two BADs; the third bad command ends the session", async () => {
    const { port, sink } = serve("dovecot-2.3-debian");
    const c = await connect(port);
    try {
      await c.waitFor((t) => t.includes("ready.\r\n"));
      c.send("GET / HTTP/1.0\r\n\r\n");
      const got = await c.waitFor((t) => t.includes("* BAD"));
      expect(got).toEndWith("GET BAD Error in IMAP command received by server.\r\n* BAD Error in IMAP command received by server.\r\n");
      c.send("a4 SELECT INBOX\r\n");
      await c.closed;
      expect(c.text()).toEndWith("* BAD Error in IMAP command received by server.\r\n* BYE Too many invalid IMAP commands.\r\n");
      expect(sink.of("command").map((e) => e.command)).toContain("a4 SELECT INBOX");
    } finally {
      c.end();
    }
  });

  test("LOGIN in clear is refused with PRIVACYREQUIRED, and the password it exposed is logged", async () => {
    const { port, sink } = serve("dovecot-2.3-debian");
    const c = await connect(port);
    try {
      await c.waitFor((t) => t.includes("ready.\r\n"));
      c.send('a1 LOGIN alice "pa ss\\"w"\r\n');
      await c.waitFor((t) => t.includes("a1 NO"));
      expect(c.text()).toContain("* BAD [ALERT] Plaintext authentication not allowed without SSL/TLS, but your client did it anyway. If anyone was listening, the password was exposed.\r\n");
      expect(c.text()).toEndWith("a1 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n");
      // A synchronizing literal gets "+ OK", a LITERAL+ one does not.
      c.send("a2 LOGIN {3}\r\n");
      await c.waitFor((t) => t.endsWith("+ OK\r\n"));
      c.send("bob {6+}\r\nsecret\r\n");
      await c.waitFor((t) => t.includes("a2 NO"));
      c.send("a3 AUTHENTICATE PLAIN " + b64("\0carol\0hunter2") + "\r\n");
      await c.waitFor((t) => t.includes("a3 NO [PRIVACYREQUIRED] Plaintext authentication disabled.\r\n"));
      const got = await loginEvents(sink, 3);
      expect(got.map((e) => [e.method, e.user, e.password])).toEqual([
        ["imap", "alice", 'pa ss"w'],
        ["imap", "bob", "secret"],
        ["imap-plain", "carol", "hunter2"],
      ]);
      // The password is in the login event, never in a command event.
      for (const e of sink.of("command")) expect(e.command).not.toContain("secret");
    } finally {
      c.end();
    }
  });

  test("an over-long line: the daemon's last words and a reset; a huge literal: its BYE", async () => {
    const { port } = serve("dovecot-2.3-debian");
    const c = await connect(port);
    await c.waitFor((t) => t.includes("ready.\r\n"));
    c.send("A".repeat(9000) + "\r\n");
    await c.closed;
    expect(c.text()).toEndWith("* BYE Input buffer full, aborting\r\n");
    const d = await connect(port);
    await d.waitFor((t) => t.includes("ready.\r\n"));
    d.send("a1 LOGIN {99999}\r\n");
    await d.closed;
    expect(d.text()).toEndWith("* BYE Literal size too large\r\n");
  });
});

/** A TLS client over a connection that has already said STARTTLS and read the OK. */
function startTls(port: number, before: string, okLine: string): Promise<{ tls: TLSSocket; read: (until: string) => Promise<string> }> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(port, "127.0.0.1");
    let got = "";
    const timer = setTimeout(() => reject(new Error(`no STARTTLS answer; got ${JSON.stringify(got)}`)), 5000);
    sock.on("error", reject);
    sock.on("data", (d) => {
      got += d.toString("latin1");
      if (got.includes("ready.\r\n") && !got.includes(before)) {
        got += before;
        sock.write(before);
      }
      if (got.includes(okLine)) {
        clearTimeout(timer);
        sock.removeAllListeners("data");
        const tls = tlsConnect({ socket: sock, rejectUnauthorized: false });
        let buf = "";
        tls.on("data", (d) => (buf += d.toString("latin1")));
        const read = (until: string) =>
          new Promise<string>((res, rej) => {
            const t0 = Date.now();
            const poll = () => {
              if (buf.includes(until)) return res(buf);
              if (Date.now() - t0 > 15000) return rej(new Error(`waited for ${until}; got ${JSON.stringify(buf)}`));
              setTimeout(poll, 20);
            };
            poll();
          });
        tls.once("secureConnect", () => resolve({ tls, read }));
        tls.once("error", reject);
      }
    });
  });
}

describe("imap: STARTTLS, then the login refused as under TLS", () => {
  test("dovecot: capabilities change under TLS, LOGIN and AUTHENTICATE PLAIN get AUTHENTICATIONFAILED", async () => {
    const { port, sink } = serve("dovecot-2.3-debian");
    const { tls, read } = await startTls(port, "s1 STARTTLS\r\n", "s1 OK Begin TLS negotiation now.\r\n");
    try {
      tls.write("a1 CAPABILITY\r\n");
      expect(await read("a1 OK")).toStartWith("* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN\r\n");
      tls.write("a2 STARTTLS\r\na3 LOGIN dave letmein\r\n");
      const out = await read("a3 NO");
      expect(out).toContain("a2 BAD TLS is already active.\r\n");
      expect(out).toEndWith("a3 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
      tls.write("a4 AUTHENTICATE PLAIN\r\n");
      await read("+ \r\n");
      tls.write(b64("admin\0erin\0pw123") + "\r\n");
      await read("a4 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
      const got = await loginEvents(sink, 2);
      expect(got.map((e) => [e.method, e.user, e.password, e.client?.authzid])).toEqual([
        ["imap", "dave", "letmein", undefined],
        ["imap-plain", "erin", "pw123", "admin"],
      ]);
      expect(sink.of("tls").length).toBeGreaterThanOrEqual(1);
    } finally {
      tls.destroy();
    }
  });
});

describe("imap: Courier and Exchange", () => {
  test("courier: LOGIN in clear is taken and refused with 'Login failed.'; AUTHENTICATE LOGIN too", async () => {
    const { port, sink } = serve("courier-imap-5.0.13-debian");
    const c = await connect(port);
    try {
      expect(await c.waitFor((t) => t.endsWith("\r\n"))).toBe(
        "* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE ACL ACL2=UNION STARTTLS] Courier-IMAP ready. Copyright 1998-2019 Double Precision, Inc.  See COPYING for distribution information.\r\n",
      );
      c.send("a1 LOGIN frank pw1\r\n");
      await c.waitFor((t) => t.includes("a1 NO Login failed.\r\n"), 10000);
      c.send("a2 AUTHENTICATE LOGIN\r\n");
      await c.waitFor((t) => t.endsWith("+ VXNlcm5hbWU6\r\n"));
      c.send(b64("gina") + "\r\n");
      await c.waitFor((t) => t.endsWith("+ UGFzc3dvcmQ6\r\n"));
      c.send(b64("pw2") + "\r\n");
      await c.waitFor((t) => t.includes("a2 NO Login failed.\r\n"), 10000);
      c.send("a3 FOO\r\n");
      await c.waitFor((t) => t.endsWith("a3 NO Error in IMAP command received by server.\r\n"));
      const got = await loginEvents(sink, 2);
      expect(got.map((e) => [e.method, e.user, e.password])).toEqual([
        ["imap", "frank", "pw1"],
        ["imap-auth-login", "gina", "pw2"],
      ]);
    } finally {
      c.end();
    }
  }, 30000);

  test("exchange 2003: AUTHENTICATE NTLM answers a NEGOTIATE with a CHALLENGE naming the host", async () => {
    const { port } = serve("exchange-2003-imap");
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.endsWith("\r\n"));
      expect(hello).toMatch(/^\* OK Microsoft Exchange Server 2003 IMAP4rev1 server version 6\.5\.7638\.1 \([-.\w]+\) ready\.\r\n$/);
      c.send("a1 AUTHENTICATE NTLM\r\n");
      await c.waitFor((t) => t.endsWith("+ \r\n"));
      // A NEGOTIATE with NTLMSSP_NEGOTIATE_UNICODE and NTLM.
      const negotiate = Buffer.from("4e544c4d5353500001000000078208a2000000000000000000000000000000000000000000000000", "hex");
      c.send(negotiate.toString("base64") + "\r\n");
      const out = await c.waitFor((t) => /\+ [A-Za-z0-9+/=]+\r\n$/.test(t.slice(hello.length + 4)));
      const challenge = Buffer.from(/\+ ([A-Za-z0-9+/=]+)\r\n$/.exec(out)![1]!, "base64");
      expect(challenge.subarray(0, 8).toString("latin1")).toBe("NTLMSSP\0");
      expect(challenge.readUInt32LE(8)).toBe(2);
      const host = /\(([-.\w]+)\)/.exec(hello)![1]!.split(".")[0]!.toUpperCase();
      expect(challenge.toString("utf16le")).toContain(host);
      c.send("*\r\n");
      await c.waitFor((t) => t.endsWith("a1 BAD Command Argument Error. 12\r\n"));
    } finally {
      c.end();
    }
  });
});
