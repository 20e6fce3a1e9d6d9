// The sip face over real TCP on 127.0.0.1: nmap's OPTIONS gets chan_sip's 404 with the release's Server
// and Allow headers, a REGISTER gets a digest challenge, and the answer to it is logged as hashcat's SIP
// digest line (mode 11400), recomputed here from the password, and refused with 403.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { findEntry } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");

function entry(id: string): CatalogEntry {
  const e = findEntry(id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

const NMAP_OPTIONS =
  "OPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/TCP nm;branch=foo\r\nFrom: <sip:nm@nm>;tag=root\r\nTo: <sip:nm2@nm2>\r\nCall-ID: 50000\r\nCSeq: 42 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\nContact: <sip:nm@nm>\r\nAccept: application/sdp\r\n\r\n";

function register(cseq: number, auth?: string): string {
  return [
    "REGISTER sip:127.0.0.1 SIP/2.0",
    "Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport",
    "From: <sip:1001@127.0.0.1>;tag=1928301774",
    "To: <sip:1001@127.0.0.1>",
    "Call-ID: a84b4c76e66710@pc33",
    `CSeq: ${cseq} REGISTER`,
    "Contact: <sip:1001@127.0.0.1:5070;transport=tcp>",
    ...(auth ? [`Authorization: ${auth}`] : []),
    "Content-Length: 0",
    "",
    "",
  ].join("\r\n");
}

describe("sip face (chan_sip)", () => {
  test("nmap's OPTIONS: 404 with the Via received=, our To tag, Server then Allow (1.8: no MESSAGE)", async () => {
    const { trap } = startTestTrap(entry("asterisk-1.8.13.1-debian7"));
    try {
      const c = await connect(trap.port);
      c.send(NMAP_OPTIONS);
      const r = await c.waitFor((s) => s.endsWith("\r\n\r\n"), 5000);
      const lines = r.split("\r\n");
      expect(lines[0]).toBe("SIP/2.0 404 Not Found");
      expect(lines[1]).toBe("Via: SIP/2.0/TCP nm;branch=foo;received=127.0.0.1");
      expect(lines[2]).toBe("From: <sip:nm@nm>;tag=root");
      expect(lines[3]).toMatch(/^To: <sip:nm2@nm2>;tag=as[0-9a-f]{8}$/);
      expect(lines.slice(4, 9)).toEqual([
        "Call-ID: 50000",
        "CSeq: 42 OPTIONS",
        "Server: Asterisk PBX 1.8.13.1~dfsg1-3+deb7u3",
        "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH",
        "Supported: replaces, timer",
      ]);
      expect(r.endsWith("Content-Length: 0\r\n\r\n")).toBe(true);
      c.end();
    } finally {
      trap.stop();
    }
  });

  test("REGISTER: 401 with a digest challenge; the answer is logged as a $sip$ line that verifies, then 403", async () => {
    const { trap, sink } = startTestTrap(entry("asterisk-11.13.1-debian8"));
    try {
      const c = await connect(trap.port);
      c.send(register(1));
      const first = await c.waitFor((s) => s.endsWith("\r\n\r\n"), 5000);
      expect(first.startsWith("SIP/2.0 401 Unauthorized\r\n")).toBe(true);
      // a bare rport gets its value and moves behind received=, as chan_sip writes it
      expect(first).toContain(`Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK776asdhds;received=127.0.0.1;rport=`);
      const m = /\r\nWWW-Authenticate: Digest algorithm=MD5, realm="asterisk", nonce="([0-9a-f]{8})"\r\n/.exec(first);
      expect(m).not.toBeNull();
      const nonce = m![1]!;
      const uri = "sip:127.0.0.1";
      const response = md5(`${md5("1001:asterisk:letmein")}:${nonce}:${md5(`REGISTER:${uri}`)}`);
      c.send(register(2, `Digest username="1001", realm="asterisk", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5`));
      const all = await c.waitFor((s) => s.includes("403 Forbidden") && s.endsWith("\r\n\r\n"), 5000);
      expect(all.slice(first.length).startsWith("SIP/2.0 403 Forbidden\r\n")).toBe(true);
      c.end();
    } finally {
      trap.stop();
    }
    const login = sink.of("login")[0]!;
    expect(login.user).toBe("1001");
    expect(login.method).toBe("sip-register");
    expect(login.hash!.hashcatMode).toBe(11400);
    // hashcat's reading of the line: HA2 = md5(method:prefix:resource[:suffix]), HA1 from user and realm.
    const f = login.hash!.value.split("*");
    expect(f[0]).toBe("$sip$");
    const [user, realm, method, prefix, resource, suffix, nonce, , , , directive, digest] = f.slice(3);
    expect(directive).toBe("MD5");
    const ha2 = md5(`${method}:${prefix}:${resource}${suffix ? `:${suffix}` : ""}`);
    expect(digest).toBe(md5(`${md5(`${user}:${realm}:letmein`)}:${nonce}:${ha2}`));
  });

  test("an incomplete request is dropped without a word; the session stays open for the next", async () => {
    const { trap, sink } = startTestTrap(entry("asterisk-11.25.3-rhel7"));
    try {
      const c = await connect(trap.port);
      c.send("GET / HTTP/1.0\r\n\r\nOPTIONS sip:nm SIP/2.0\r\nVia: SIP/2.0/TCP nm;branch=foo\r\n\r\n");
      await Bun.sleep(300);
      expect(c.received().length).toBe(0);
      c.send(NMAP_OPTIONS);
      const r = await c.waitFor((s) => s.endsWith("\r\n\r\n"), 5000);
      expect(r.startsWith("SIP/2.0 404 Not Found\r\n")).toBe(true);
      expect(r).toContain("\r\nAllow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE\r\n");
      c.end();
    } finally {
      trap.stop();
    }
    expect(sink.of("error").map((e) => e.message)).toEqual(["malformed SIP request line", "incomplete SIP request"]);
  });
});
