// RDP over real TCP on 127.0.0.1 (MS-RDPBCGR 2.2.1.1/2.2.1.2 and MS-CSSP written out here): the Connection
// Confirm each release gives to nmap's TerminalServerCookie request and to a bare request, the refusal of
// a client asking only for what the server refuses, xrdp's answer to a TLS hello in place of a request,
// and CredSSP through real TLS: the CHALLENGE naming the host and the release's version, the
// AUTHENTICATE logged as a NetNTLMv2 line and refused with STATUS_LOGON_FAILURE.
import { describe, expect, test } from "bun:test";
import { connect as tcpConnect } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";
import { NEGOTIATE, authenticate } from "../ntlm-client.ts";

function entry(id: string): CatalogEntry {
  const e = serviceEntries("rdp").find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");
/** TPKT + X.224 Connection Request with a cookie and an RDP_NEG_REQ for `protocols` (nmap's TerminalServerCookie for 3). */
function request(protocols: number): Uint8Array {
  const x224 = [0xe0, 0, 0, 0, 0, 0, ...Buffer.from("Cookie: mstshash=nmap\r\n"), 1, 0, 8, 0, protocols, 0, 0, 0];
  const len = 4 + 1 + x224.length;
  return Uint8Array.from([3, 0, 0, len, x224.length, ...x224]);
}
const BARE = Uint8Array.from([3, 0, 0, 11, 6, 0xe0, 0, 0, 0, 0, 0]);

async function exchange(id: string, send: Uint8Array): Promise<{ got: string; closed: boolean; errors: string[] }> {
  const { trap, sink } = startTestTrap(entry(id));
  try {
    const c = await connect(trap.port);
    c.send(send);
    await c.waitFor((s) => s.length >= 9);
    await Bun.sleep(50);
    return { got: hexOf(c.received()), closed: c.isClosed(), errors: sink.of("error").map((e: any) => e.message) };
  } finally {
    trap.stop();
  }
}

describe("rdp: the X.224 Connection Confirm per release", () => {
  test("2012 R2: RDP_NEG_RSP with flags 0x1f selecting CredSSP for TLS|CredSSP", async () => {
    expect((await exchange("rdp-windows-2012r2", request(3))).got).toBe("030000130ed000001234000" + "21f080002000000");
  });
  test("2012 R2 (NLA required): a client asking for TLS alone gets RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER and the close", async () => {
    const r = await exchange("rdp-windows-2012r2", request(1));
    expect(r.got).toBe("030000130ed00000123400" + "0300080005000000");
  });
  test("2012 R2: a request without RDP_NEG_REQ gets a bare Confirm", async () => {
    expect((await exchange("rdp-windows-2012r2", BARE)).got).toBe("0300000b06d00000123400");
  });
  test("2008 R2: flags 0x01", async () => {
    expect((await exchange("rdp-windows-2008r2", request(3))).got).toBe("030000130ed00000123400" + "0201080002000000");
  });
  test("2003: the negotiation request is ignored, a bare Confirm", async () => {
    expect((await exchange("rdp-windows-2003", request(3))).got).toBe("0300000b06d00000123400");
  });
  test("xrdp (measured: Debian 12's 0.9.21): TLS selected with flags 0x01; standard security for a client asking none", async () => {
    expect((await exchange("rdp-xrdp-0.9-debian", request(3))).got).toBe("030000130ed00000123400" + "0201080001000000");
    expect((await exchange("rdp-xrdp-0.9-debian", request(0))).got).toBe("030000130ed00000123400" + "0201080000000000");
  });
  test("xrdp: a TLS hello where the request should be gets an MCS Disconnect Provider Ultimatum and the close", async () => {
    const hello = Uint8Array.from([0x16, 3, 1, 0, 0x31, 1, 0, 0, 0x2d, 3, 3, ...new Array(40).fill(0)]);
    const r = await exchange("rdp-xrdp-0.9-debian", hello);
    expect(r.got).toBe("0300000902f0802180");
    expect(r.closed).toBe(true);
    expect(r.errors).toEqual(["not a TPKT header"]);
  });
});

describe("rdp: CredSSP through TLS", () => {
  /** DER, short and two-byte lengths. */
  const der = (tag: number, body: number[]) => [tag, ...(body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff]), ...body];
  /** TSRequest { version 6, negoTokens { { negoToken } } }. */
  const tsRequest = (token: number[]) => Uint8Array.from(der(0x30, [...der(0xa0, der(0x02, [6])), ...der(0xa1, der(0x30, der(0x30, der(0xa0, der(0x04, token)))))]));

  test("2012 R2: the CHALLENGE names the host with 6.3.9600; the AUTHENTICATE is a NetNTLMv2 login refused with 0xc000006d", async () => {
    const { trap, sink } = startTestTrap(entry("rdp-windows-2012r2"));
    const nt = Array.from({ length: 64 }, (_, i) => (i * 7) & 0xff);
    let challenge = "";
    let refusal = Buffer.alloc(0);
    try {
      const raw = tcpConnect(trap.port, "127.0.0.1");
      await new Promise<void>((res, rej) => raw.once("connect", () => res()).once("error", rej));
      raw.write(request(3));
      const cc: Buffer = await new Promise((res) => raw.once("data", res));
      expect(cc.toString("hex")).toBe("030000130ed00000123400021f080002000000");
      // RSA key exchange: the certificate is Windows' self-signed one, whose key usage (key and data
      // encipherment) BoringSSL refuses for ECDHE signatures; mstsc and FreeRDP (OpenSSL) do not check it.
      const tls = tlsConnect({ socket: raw, rejectUnauthorized: false, ciphers: "AES256-GCM-SHA384:AES128-SHA", maxVersion: "TLSv1.2" });
      await new Promise<void>((res, rej) => tls.once("secureConnect", () => res()).once("error", rej));
      const chunks: Buffer[] = [];
      let wake: (() => void) | undefined;
      tls.on("data", (d: Buffer) => {
        chunks.push(d);
        wake?.();
      });
      const closed = new Promise<void>((res) => tls.once("close", () => res()));
      const next = () => new Promise<void>((res) => (wake = res));
      tls.write(tsRequest(NEGOTIATE));
      await next();
      const reply = Buffer.concat(chunks);
      const at = reply.indexOf("NTLMSSP\0", 0, "latin1");
      expect(at).toBeGreaterThan(0);
      const msg = reply.subarray(at);
      expect(msg.readUInt32LE(8)).toBe(2);
      challenge = msg.subarray(24, 32).toString("hex");
      expect([msg[48], msg[49], msg.readUInt16LE(50)]).toEqual([6, 3, 9600]);
      // TSRequest version 3 from the server.
      expect([...reply.subarray(0, 1)]).toEqual([0x30]);
      expect(reply.includes(Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x03]))).toBe(true);
      chunks.length = 0;
      tls.write(tsRequest(authenticate("eve", "CORP", "WS9", nt)));
      await closed;
      refusal = Buffer.concat(chunks);
    } finally {
      trap.stop();
    }
    // TSRequest { version 3, errorCode 0xc000006d }.
    expect(refusal.toString("hex")).toBe("300da003020103a4060204c000006d");
    const proof = Buffer.from(nt.slice(0, 16)).toString("hex");
    const blob = Buffer.from(nt.slice(16)).toString("hex");
    expect(sink.of("login").map((e: any) => ({ method: e.method, user: e.user, domain: e.domain, hash: e.hash, client: e.client }))).toEqual([
      { method: "rdp-ntlm", user: "eve", domain: "CORP", hash: { value: `eve::CORP:${challenge}:${proof}:${blob}`, type: "netntlmv2", hashcatMode: 5600 }, client: { workstation: "WS9" } },
    ]);
  });
});
