// The pop3 service over real TCP on 127.0.0.1: Dovecot's answers as measured on Debian 12's
// dovecot-pop3d 2.3.19.1 from a non-local address, Courier's as its courierpop3login words them, STLS into
// a real TLS handshake, Exchange's NTLM challenge, and every refused login in the event log.
import { afterEach, describe, expect, test } from "bun:test";
import { connect as netConnect } from "node:net";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap, type MemorySink } from "../helpers.ts";

function entry(id: string): CatalogEntry {
  const e = serviceEntries("pop3").find((x) => x.id === id);
  if (!e) throw new Error(`no pop3 entry ${id}`);
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
async function loginEvents(sink: MemorySink, n: number) {
  for (let i = 0; i < 100 && sink.of("login").length < n; i++) await Bun.sleep(20);
  return sink.of("login");
}

describe("pop3: Dovecot 2.3 as Debian ships it", () => {
  test("greeting, CAPA and AUTH in clear; USER/PASS refused in clear, the password logged", async () => {
    const { port, sink } = serve("dovecot-2.3-debian-pop3");
    const c = await connect(port);
    try {
      expect(await c.waitFor((t) => t.endsWith("\r\n"))).toBe("+OK Dovecot (Debian) ready.\r\n");
      c.send("CAPA\r\nAUTH\r\nAPOP a b\r\n");
      const out = await c.waitFor((t) => t.includes("APOP not enabled"));
      expect(out).toBe(
        "+OK Dovecot (Debian) ready.\r\n+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nSTLS\r\nSASL\r\n.\r\n+OK\r\n.\r\n-ERR APOP not enabled.\r\n",
      );
      c.send("USER bob\r\nPASS secret\r\nAUTH PLAIN " + b64("\0carol\0pw") + "\r\n");
      await c.waitFor((t) => t.endsWith("-ERR [AUTH] Plaintext authentication disabled.\r\n"));
      expect(c.text()).toContain(
        "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n",
      );
      const got = await loginEvents(sink, 2);
      expect(got.map((e) => [e.method, e.user, e.password])).toEqual([
        ["pop3", "bob", "secret"],
        ["pop3-plain", "carol", "pw"],
      ]);
      for (const e of sink.of("command")) expect(e.command).not.toContain("secret");
    } finally {
      c.end();
    }
  });

  test("nmap's GenericLines: two unknown commands; the third ends the session", async () => {
    const { port } = serve("dovecot-2.3-debian-pop3");
    const c = await connect(port);
    await c.waitFor((t) => t.endsWith("ready.\r\n"));
    c.send("\r\n\r\n");
    await c.waitFor((t) => t.endsWith("-ERR Unknown command.\r\n-ERR Unknown command.\r\n"));
    c.send("STAT\r\n");
    await c.closed;
    expect(c.text()).toEndWith("-ERR Unknown command.\r\n-ERR Unknown command.\r\n-ERR Unknown command.\r\n-ERR Too many invalid bad commands.\r\n");
  });

  test("STLS, then CAPA with USER and SASL PLAIN, and USER/PASS refused with [AUTH] Authentication failed.", async () => {
    const { port, sink } = serve("dovecot-2.3-debian-pop3");
    const tls = await new Promise<TLSSocket>((resolve, reject) => {
      const sock = netConnect(port, "127.0.0.1");
      let got = "";
      sock.on("error", reject);
      sock.on("data", (d) => {
        got += d.toString("latin1");
        if (got === "+OK Dovecot (Debian) ready.\r\n") sock.write("STLS\r\n");
        if (got.endsWith("+OK Begin TLS negotiation now.\r\n")) {
          sock.removeAllListeners("data");
          const s = tlsConnect({ socket: sock, rejectUnauthorized: false });
          s.once("secureConnect", () => resolve(s));
          s.once("error", reject);
        }
      });
    });
    let buf = "";
    tls.on("data", (d) => (buf += d.toString("latin1")));
    const read = async (until: string) => {
      for (let i = 0; i < 750 && !buf.includes(until); i++) await Bun.sleep(20);
      return buf;
    };
    try {
      tls.write("CAPA\r\nSTLS\r\nUSER eve\r\nPASS s3cr3t\r\n");
      const out = await read("Authentication failed.");
      expect(out).toBe(
        "+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN\r\n.\r\n-ERR TLS is already active.\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n",
      );
      const got = await loginEvents(sink, 1);
      expect(got.map((e) => [e.method, e.user, e.password])).toEqual([["pop3", "eve", "s3cr3t"]]);
    } finally {
      tls.destroy();
    }
  });
});

describe("pop3: Courier and Exchange", () => {
  test("courier: USER/PASS taken in clear and refused with 'Login failed.'", async () => {
    const { port, sink } = serve("courier-pop-1.0.16-debian");
    const c = await connect(port);
    try {
      expect(await c.waitFor((t) => t.endsWith("\r\n"))).toBe("+OK Hello there.\r\n");
      c.send("PASS x\r\nUSER frank\r\nPASS pw1\r\n");
      await c.waitFor((t) => t.endsWith("-ERR Login failed.\r\n"), 10000);
      expect(c.text()).toBe("+OK Hello there.\r\n-ERR USER/PASS required.\r\n+OK Password required.\r\n-ERR Login failed.\r\n");
      const got = await loginEvents(sink, 1);
      expect(got.map((e) => [e.method, e.user, e.password])).toEqual([["pop3", "frank", "pw1"]]);
      c.send("QUIT\r\n");
      await c.closed;
      expect(c.text()).toEndWith("+OK Better luck next time.\r\n");
    } finally {
      c.end();
    }
  }, 20000);

  test("exchange 2003: AUTH NTLM answers a NEGOTIATE with a CHALLENGE naming the host", async () => {
    const { port } = serve("exchange-2003-pop3");
    const c = await connect(port);
    try {
      const hello = await c.waitFor((t) => t.endsWith("\r\n"));
      expect(hello).toMatch(/^\+OK Microsoft Exchange Server 2003 POP3 server version 6\.5\.7638\.1 \([-.\w]+\) ready\.\r\n$/);
      c.send("AUTH NTLM\r\n");
      await c.waitFor((t) => t.endsWith("+ \r\n"));
      const negotiate = Buffer.from("4e544c4d5353500001000000078208a2000000000000000000000000000000000000000000000000", "hex");
      c.send(negotiate.toString("base64") + "\r\n");
      const out = await c.waitFor((t) => /\+ [A-Za-z0-9+/=]{20,}\r\n$/.test(t));
      const challenge = Buffer.from(/\+ ([A-Za-z0-9+/=]+)\r\n$/.exec(out)![1]!, "base64");
      expect(challenge.subarray(0, 8).toString("latin1")).toBe("NTLMSSP\0");
      expect(challenge.readUInt32LE(8)).toBe(2);
      const host = /\(([-.\w]+)\)/.exec(hello)![1]!.split(".")[0]!.toUpperCase();
      expect(challenge.toString("utf16le")).toContain(host);
    } finally {
      c.end();
    }
  });
});
