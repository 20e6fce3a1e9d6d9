// Fake Samba smbd. Client-first: NetBIOS session framing (RFC 1002), the SMB1 NEGOTIATE answer that nmap's
// SMBProgNeg probe fingerprints, NTLMSSP session setup (to log names and crackable responses), and SMB2 for
// the Samba 4 personas. Field values follow smbd's own negprot/sesssetup code; the persona is data (templates).
import type { CapturedHash, ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import type { CounterSpec } from "../../host/counters.ts";
import { hostTime, localTime, utcOffsetMinutes } from "../../host/facts.ts";
import { ByteWriter, clip, concatBytes, decodeUtf16, latin1Bytes, rd16, rd32, rd64, startsWithBytes, toLatin1, utf16 } from "../../wire/bytes.ts";
import { negTokenInit, negTokenResp } from "../../wire/der.ts";
import { mergeReplies } from "../../wire/reply.ts";
import { netNtlmHash, ntlmChallenge, ntlmFromBlob, parseNtlmAuth, type NtlmAuth, type NtlmHash, type NtlmIdentity } from "../../wire/ntlmssp.ts";
import type { SambaTemplates } from "./templates.ts";

// NetBIOS session service packet types.
const NBSS_MESSAGE = 0x00;
const NBSS_REQUEST = 0x81;
const NBSS_POSITIVE = 0x82;
const NBSS_NEGATIVE = 0x83;
const NBSS_RETARGET = 0x84;
const NBSS_KEEPALIVE = 0x85;
/** Some old clients send 0x89 as a keepalive request; smbd answers it with 0x85. */
const NBSS_KEEPALIVE_REQ = 0x89;

/** smbd reads SMB1 frames with a 17-bit length; SMB2 frames may use 24 bits. Anything larger is refused. */
const MAX_FRAME = 128 * 1024;
/** Bytes kept while waiting for the rest of a frame: one frame plus a header. */
const MAX_PENDING = MAX_FRAME + 8;

const STATUS_OK = 0;
const STATUS_MORE_PROCESSING = 0xc0000016;
const STATUS_INVALID_PARAMETER = 0xc000000d;
const STATUS_ACCESS_DENIED = 0xc0000022;
const STATUS_LOGON_FAILURE = 0xc000006d;
const STATUS_NOT_SUPPORTED = 0xc00000bb;
const STATUS_BAD_NETWORK_NAME = 0xc00000cc;
const STATUS_NETWORK_NAME_DELETED = 0xc00000c9;
const STATUS_USER_SESSION_DELETED = 0xc0000203;
/** SMB1 "bad uid" (ERRSRV/ERRbaduid) in NT status form, as smbd maps it. */
const STATUS_SMB_BAD_UID = 0x005b0002;

// SMB1 commands we answer.
const SMB_COM_CLOSE = 0x04;
const SMB_COM_ECHO = 0x2b;
const SMB_COM_TREE_DISCONNECT = 0x71;
const SMB_COM_NEGOTIATE = 0x72;
const SMB_COM_SESSION_SETUP_ANDX = 0x73;
const SMB_COM_LOGOFF_ANDX = 0x74;
const SMB_COM_TREE_CONNECT_ANDX = 0x75;
const SMB_COM_NT_CREATE_ANDX = 0xa2;
/** Commands smbd implements; anything else gets ERRSRV/ERRunknownsmb. */
const SMB1_KNOWN = new Set([
  0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13,
  0x14, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x31,
  0x32, 0x33, 0x34, 0x35, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x80, 0x81, 0x82, 0x83, 0x84, 0xa0, 0xa1, 0xa2, 0xa4, 0xa5,
  0xc0, 0xc1, 0xc2, 0xc3, 0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde,
]);

// SMB1 header flags2 bits.
const FLAGS2_SIGNATURES = 0x0004;
const FLAGS2_SIGNATURES_REQUIRED = 0x0010;
const FLAGS2_EXTENDED_SECURITY = 0x0800;
const FLAGS2_NT_STATUS = 0x4000;
const FLAGS2_UNICODE = 0x8000;
/** smbd's common_flags2: long names, EAs, NT status codes. */
const COMMON_FLAGS2 = 0x4003;

const CAP_UNICODE = 0x00000004;
const CAP_EXTENDED_SECURITY = 0x80000000;

const SMB2_NEGOTIATE = 0x00;
const SMB2_SESSION_SETUP = 0x01;
const SMB2_LOGOFF = 0x02;
const SMB2_TREE_CONNECT = 0x03;
const SMB2_TREE_DISCONNECT = 0x04;
const SMB2_CREATE = 0x05;
const SMB2_ECHO = 0x0d;

const SMB2_CAP_DFS = 0x01;
const SMB2_CAP_LEASING = 0x02;
const SMB2_CAP_LARGE_MTU = 0x04;
const SMB2_CAP_MULTI_CHANNEL = 0x08;
const SMB2_CAP_ENCRYPTION = 0x40;

// Dialects smbd knows, most preferred first (smbd's supported_protocols[] order). level decides the reply layout.
type Level = "smb2ff" | "smb2002" | "nt1" | "lanman" | "coreplus" | "core";
const SMB1_DIALECTS: [string, Level][] = [
  ["SMB 2.???", "smb2ff"],
  ["SMB 2.002", "smb2002"],
  ["NT LANMAN 1.0", "nt1"],
  ["NT LM 0.12", "nt1"],
  ["POSIX 2", "nt1"],
  ["LANMAN2.1", "lanman"],
  ["LM1.2X002", "lanman"],
  ["Samba", "lanman"],
  ["DOS LM1.2X002", "lanman"],
  ["LANMAN1.0", "lanman"],
  ["MICROSOFT NETWORKS 3.0", "lanman"],
  ["MICROSOFT NETWORKS 1.03", "coreplus"],
  ["PC NETWORK PROGRAM 1.0", "core"],
];

/** Linux pids: smbd forks a child per connection; everything else on the host forks too, a few a minute. */
const SYSTEM_PIDS: CounterSpec = { atBoot: 900, perHour: 150, spread: 3000, max: 32768 };

/** A NetNTLM response as the event carries it; the hashcat line is bounded like any attacker text. */
function capturedHash(h: NtlmHash): CapturedHash {
  return { value: clip(h.hash, 4096), type: h.type, hashcatMode: h.hashcatMode };
}

/** What smbd says about itself, from the templates and the host. */
interface Persona {
  workgroup: string;
  netbiosName: string;
  dnsName: string;
  nativeOs: string;
  nativeLanMan: string;
  /** "6.1.0" for Samba 4 (sent as the NTLMSSP version field), "" for Samba 3 which sends none. */
  ntlmVersion: string;
}

function nbss(type: number, payload: Uint8Array, wide = false): Uint8Array {
  const n = payload.length;
  const head = wide ? [type, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff] : [type, (n >>> 16) & 0x01, (n >>> 8) & 0xff, n & 0xff];
  return concatBytes([Uint8Array.from(head), payload]);
}

interface Smb1Req {
  cmd: number;
  flags: number;
  flags2: number;
  sig: Uint8Array;
  tid: number;
  pid: number;
  uid: number;
  mid: number;
  words: Uint8Array;
  bytes: Uint8Array;
  /** Offset of the byte area from the SMB header start (Unicode strings align on it). */
  bytesAt: number;
}

function parseSmb1(m: Uint8Array): Smb1Req | undefined {
  if (m.length < 35) return undefined;
  const wc = m[32]!;
  const bcAt = 33 + 2 * wc;
  if (bcAt + 2 > m.length) return undefined;
  const bc = rd16(m, bcAt);
  if (bcAt + 2 + bc > m.length) return undefined;
  return {
    cmd: m[4]!,
    flags: m[9]!,
    flags2: rd16(m, 10),
    sig: m.subarray(14, 22),
    tid: rd16(m, 24),
    pid: rd16(m, 26),
    uid: rd16(m, 28),
    mid: rd16(m, 30),
    words: m.subarray(33, bcAt),
    bytes: m.subarray(bcAt + 2, bcAt + 2 + bc),
    bytesAt: bcAt + 2,
  };
}

/** Reads a NUL-terminated SMB string at `off` of the byte area; Unicode ones are 2-aligned from the header. */
function smbString(req: Smb1Req, off: number, unicode: boolean): { text: string; next: number } {
  const b = req.bytes;
  if (unicode) {
    if ((req.bytesAt + off) % 2 === 1) off++;
    let end = off;
    while (end + 1 < b.length && (b[end] !== 0 || b[end + 1] !== 0)) end += 2;
    return { text: decodeUtf16(b.subarray(off, Math.min(end, b.length))).slice(0, 1024), next: end + 2 };
  }
  let end = off;
  while (end < b.length && b[end] !== 0) end++;
  return { text: toLatin1(b.subarray(off, end)).slice(0, 1024), next: end + 1 };
}

interface Smb2Req {
  raw: Uint8Array;
  creditCharge: number;
  command: number;
  credits: number;
  messageId: bigint;
  processId: number;
  treeId: number;
  sessionId: bigint;
}

function parseSmb2(m: Uint8Array): Smb2Req | undefined {
  if (m.length < 64 || rd16(m, 4) !== 64) return undefined;
  return {
    raw: m,
    creditCharge: rd16(m, 6),
    command: rd16(m, 12),
    credits: rd16(m, 14),
    messageId: rd64(m, 24),
    processId: rd32(m, 32),
    treeId: rd32(m, 36),
    sessionId: rd64(m, 40),
  };
}

function parseHexInt(v: string | undefined, dflt: number): number {
  if (v === undefined || v.trim() === "") return dflt;
  const n = v.trim().toLowerCase().startsWith("0x") ? Number.parseInt(v.trim().slice(2), 16) : Number.parseInt(v.trim(), 10);
  return Number.isFinite(n) ? n >>> 0 : dflt;
}


export function startSamba(ctx: SessionContext<SambaTemplates>): ProtocolSession {
    const t = ctx.entry.templates;
    const persona: Persona = {
      workgroup: t.workgroup.toUpperCase(), // smbd upper-cases its workgroup
      netbiosName: ctx.host.netbiosName,
      dnsName: ctx.host.fqdn,
      nativeOs: t.nativeOs,
      nativeLanMan: t.nativeLanMan,
      ntlmVersion: t.ntlmVersion,
    };
    const ntlmId: NtlmIdentity = {
      netbiosName: persona.netbiosName,
      netbiosDomain: persona.netbiosName, // a standalone smbd names itself as the domain
      dnsName: persona.dnsName,
      dnsDomain: "",
      version: persona.ntlmVersion,
    };
    const smb1Enabled = t.smb1;
    /** The host's clock as FILETIME, at smbd's resolution (gettimeofday, seen in steps of 10 µs). */
    const systemTime = (): bigint => {
      const us = ctx.nowMicros() + BigInt(ctx.host.clockSkewMs) * 1000n;
      return (us / 10n) * 100n + 116444736000000000n;
    };
    const smb2Dialects = t.smb2Dialects
      .map((d) => parseHexInt(d, 0))
      .filter((d) => d > 0)
      .sort((a, b) => b - a);
    const smb2Enabled = smb2Dialects.length > 0;
    const capabilities = t.capabilities;
    const securityMode = t.securityMode;
    const maxMpx = t.maxMpx;
    const maxBuffer = t.maxBuffer;
    // SMB1's ServerTimeZone: minutes from local time to UTC (west positive), from the host's zone.
    const tzMinutes = -utcOffsetMinutes(ctx.host, ctx.now()) & 0xffff;
    const pushServerName = t.negprotServerName;
    const spnegoHint = t.spnegoHint;
    const smb2Caps = t.smb2Capabilities;
    const smb2MaxSize = t.smb2MaxSize;
    // What smbd does with an unknown user: "guest" under "map to guest = bad user" (Debian's default), else fail.
    const badUserIsGuest = t.badUser === "guest";

    // smbd forks per connection: the session key is the child's pid, a little higher each time.
    const sessionKey = ctx.counter("pid", SYSTEM_PIDS);

    let pending: Uint8Array = new Uint8Array(0);
    let gotSession = false;
    let dialect: "none" | "smb1" | "smb2" = "none";
    let smb2WildcardPending = false;
    let extendedSecurity = false;
    let commonFlags2 = COMMON_FLAGS2;
    let challenge: Uint8Array = new Uint8Array(0);
    let uid = 0;
    let authenticated = false;
    let tid = 0;
    let sessionId = 0n;
    let treeId = 0;
    let closed = false;

    const newChallenge = (): Uint8Array => {
      const c = ctx.random(8);
      // nmap's Samba rule reads the workgroup right after the challenge; a trailing NUL could shift it.
      if (c[7] === 0) c[7] = 0x5a;
      return c;
    };

    // ------------------------------------------------------------------------------------------ SMB1

    const smb1Header = (req: Smb1Req, status: number, flags2: number, cmd = req.cmd, uidOut = req.uid, tidOut = req.tid): ByteWriter =>
      new ByteWriter()
        .bytes([0xff, 0x53, 0x4d, 0x42])
        .u8(cmd)
        .u32(status)
        .u8(0x80 | (req.flags & 0x08))
        .u16(flags2)
        .zeros(2)
        .bytes(req.sig)
        .zeros(2)
        .u16(tidOut)
        .u16(req.pid)
        .u16(uidOut)
        .u16(req.mid);

    const replyFlags2 = (req: Smb1Req): number =>
      commonFlags2 | (req.flags2 & (FLAGS2_UNICODE | FLAGS2_SIGNATURES | FLAGS2_SIGNATURES_REQUIRED));

    const smb1Frame = (o: ByteWriter): Uint8Array => nbss(NBSS_MESSAGE, o.done());

    const smb1Error = (req: Smb1Req, status: number): Uint8Array =>
      smb1Frame(smb1Header(req, status, replyFlags2(req)).u8(0).u16(0));

    /** Unknown commands get the DOS error ERRSRV/ERRunknownsmb, without the NT-status flag. */
    const smb1Unknown = (req: Smb1Req): Uint8Array =>
      smb1Frame(smb1Header(req, 0x00160002, replyFlags2(req) & ~FLAGS2_NT_STATUS).u8(0).u16(0));

    const negotiate1 = (req: Smb1Req): Reply => {
      const b = req.bytes;
      if (b.length === 0 || b[b.length - 1] !== 0) {
        return { write: smb1Error(req, STATUS_INVALID_PARAMETER), close: true };
      }
      const offered: string[] = [];
      for (let i = 1; i < b.length && offered.length < 64; ) {
        let end = i;
        while (end < b.length && b[end] !== 0) end++;
        offered.push(toLatin1(b.subarray(i, end)));
        i = end + 2; // skip NUL and the next 0x02 buffer-format byte
      }
      const events: ProtocolEvent[] = [{ action: "command", command: `SMB1 NEGOTIATE ${offered.map((d) => clip(d, 40)).join(",")}` }];

      // smbd walks its own list in preference order and takes the client's index of the first it shares.
      let choice = -1;
      let level: Level | undefined;
      for (const [name, lv] of SMB1_DIALECTS) {
        if (lv === "smb2ff" || lv === "smb2002") {
          if (!smb2Enabled) continue;
          if (lv === "smb2ff" && !smb2Dialects.some((d) => d >= 0x0210)) continue;
        } else if (!smb1Enabled) continue;
        for (let i = 0; i < offered.length; i++) if (offered[i] === name) choice = i;
        if (choice >= 0) {
          level = lv;
          break;
        }
      }

      if (level === undefined) {
        // No common dialect: smbd says so (dialect index 0xffff) and drops the connection.
        const o = smb1Header(req, STATUS_OK, replyFlags2(req)).u8(1).u16(0xffff).u16(0);
        return { write: smb1Frame(o), close: true, events };
      }
      if (level === "smb2ff" || level === "smb2002") {
        dialect = "smb2";
        smb2WildcardPending = level === "smb2ff";
        const d = level === "smb2ff" ? 0x02ff : 0x0202;
        return { write: smb2NegotiateReply(undefined, d, undefined), events };
      }

      dialect = "smb1";
      const now = hostTime(ctx.host, ctx.now());
      if (level === "core") {
        return { write: smb1Frame(smb1Header(req, STATUS_OK, replyFlags2(req)).u8(1).u16(choice).u16(0)), events };
      }
      if (level === "lanman" || level === "coreplus") {
        // LANMAN replies carry a DOS date and, when passwords are encrypted, the challenge.
        const encrypt = level === "lanman" && (securityMode & 0x02) !== 0;
        challenge = encrypt ? newChallenge() : new Uint8Array(0);
        // DOS date and time are the server's local wall clock.
        const l = localTime(ctx.host, ctx.now());
        const dosTime = ((l.hour << 11) | (l.minute << 5) | (l.second >> 1)) & 0xffff;
        const dosDate = (((l.year - 1980) << 9) | (l.month << 5) | l.day) & 0xffff;
        const o = smb1Header(req, STATUS_OK, replyFlags2(req)).u8(13).u16(choice);
        o.u16(level === "lanman" ? securityMode & 0x03 : 0x01).u16(maxBuffer).u16(maxMpx).u16(1).u16(3);
        o.u32(level === "lanman" ? sessionKey : 0).u16(dosTime).u16(dosDate).u16(tzMinutes).u16(challenge.length).u16(0);
        o.u16(challenge.length).bytes(challenge);
        return { write: smb1Frame(o), events };
      }

      // NT LM 0.12: smbd's reply_nt1().
      extendedSecurity = (req.flags2 & FLAGS2_EXTENDED_SECURITY) !== 0 && (securityMode & 0x02) !== 0;
      const caps = (capabilities | (extendedSecurity ? CAP_EXTENDED_SECURITY : 0)) >>> 0;
      let flags2: number;
      if (extendedSecurity) {
        commonFlags2 |= FLAGS2_EXTENDED_SECURITY;
        flags2 = req.flags2 | FLAGS2_EXTENDED_SECURITY;
      } else flags2 = replyFlags2(req);
      const o = smb1Header(req, STATUS_OK, flags2).u8(17).u16(choice);
      o.u8(securityMode).u16(maxMpx).u16(1).u32(maxBuffer).u32(0x10000).u32(sessionKey).u32(caps);
      o.u64(systemTime()).u16(tzMinutes);
      const chalLenAt = o.length;
      o.u8(0);
      const bcAt = o.length;
      o.u16(0);
      const start = o.length;
      const unicode = (capabilities & CAP_UNICODE) !== 0;
      const str = (s: string) => (unicode ? [...utf16(s), 0, 0] : [...latin1Bytes(s), 0]);
      if (!extendedSecurity) {
        if ((securityMode & 0x02) !== 0) {
          challenge = newChallenge();
          o.bytes(challenge);
          o.set8(chalLenAt, challenge.length);
        }
        o.bytes(str(persona.workgroup));
        if (pushServerName) o.bytes(str(persona.netbiosName));
      } else {
        // Server GUID: smbd puts its lower-case NetBIOS name there, zero padded.
        const guid = new Array<number>(16).fill(0);
        latin1Bytes(persona.netbiosName.toLowerCase()).slice(0, 16).forEach((c, i) => (guid[i] = c));
        o.bytes(guid);
        if (spnegoHint) o.bytes(negTokenInit(spnegoHint === "-" ? "" : spnegoHint));
      }
      o.set16(bcAt, o.length - start);
      return { write: smb1Frame(o), events };
    };

    const sessionSetupReply = (req: Smb1Req, status: number, action: number, blob?: Uint8Array): Uint8Array => {
      const flags2 = replyFlags2(req);
      const unicode = (req.flags2 & FLAGS2_UNICODE) !== 0;
      const o = smb1Header(req, status, flags2, SMB_COM_SESSION_SETUP_ANDX, uid);
      if (status !== STATUS_OK && status !== STATUS_MORE_PROCESSING) return smb1Frame(o.u8(0).u16(0));
      if (blob) o.u8(4).u8(0xff).u8(0).u16(0).u16(action).u16(blob.length);
      else o.u8(3).u8(0xff).u8(0).u16(0).u16(action);
      const bcAt = o.length;
      o.u16(0);
      const start = o.length;
      if (blob) o.bytes(blob);
      if (unicode && o.length % 2 === 1) o.u8(0);
      for (const s of [persona.nativeOs, persona.nativeLanMan, persona.workgroup]) {
        o.bytes(unicode ? [...utf16(s), 0, 0] : [...latin1Bytes(s), 0]);
      }
      o.set16(bcAt, o.length - start);
      return smb1Frame(o);
    };

    const newUid = (): number => {
      if (uid !== 0) return uid;
      if (!smb2Enabled) return 100; // Samba 3 hands out vuids from 100 in each new smbd
      const r = ctx.random(2);
      return ((r[0]! | (r[1]! << 8)) % 0xfffe) + 1;
    };

    /** Shared by SMB1 and SMB2: what happens once a client has named itself. */
    const authOutcome = (user: string, anonymous: boolean): "anonymous" | "guest" | "fail" =>
      anonymous || user === "" ? "anonymous" : badUserIsGuest ? "guest" : "fail";

    const sessionSetup1 = (req: Smb1Req): Reply => {
      const w = req.words;
      const unicode = (req.flags2 & FLAGS2_UNICODE) !== 0;
      if (w.length === 24 && extendedSecurity) {
        const blobLen = rd16(w, 14);
        const blob = req.bytes.subarray(0, Math.min(blobLen, req.bytes.length));
        const spnego = blob[0] === 0x60 || blob[0] === 0xa1;
        const ntlm = ntlmFromBlob(blob);
        if (!ntlm) return { write: smb1Error(req, STATUS_LOGON_FAILURE) };
        if (ntlm.type === 1) {
          uid = newUid();
          challenge = newChallenge();
          const type2 = ntlmChallenge(ntlmId, rd32(ntlm.msg, 12), challenge, hostTime(ctx.host, ctx.now()));
          const out = spnego ? Uint8Array.from(negTokenResp(1, type2)) : type2;
          return { write: sessionSetupReply(req, STATUS_MORE_PROCESSING, 0, out) };
        }
        if (ntlm.type === 3) {
          const a = parseNtlmAuth(ntlm.msg);
          if (!a) return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
          return finishAuth1(req, a, spnego);
        }
        return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
      }
      if (w.length === 26) {
        // NT LM 0.12 without extended security: passwords (or their hashes) in clear fields.
        const oemLen = rd16(w, 14);
        const uniLen = rd16(w, 16);
        const b = req.bytes;
        if (oemLen + uniLen > b.length) return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
        const oem = b.subarray(0, oemLen);
        const uni = b.subarray(oemLen, oemLen + uniLen);
        const acct = smbString(req, oemLen + uniLen, unicode);
        const dom = smbString(req, acct.next, unicode);
        const os = smbString(req, dom.next, unicode);
        const lanman = smbString(req, os.next, unicode);
        const events: ProtocolEvent[] = [];
        const client = { os: clip(os.text, 80), lanman: clip(lanman.text, 80) };
        // A password that is not a 24-byte response, sent while we asked for encryption, is the plaintext.
        const plaintext = uniLen === 0 && oemLen > 0 && oemLen !== 24 ? toLatin1(oem).replace(/\0+$/, "") : undefined;
        if (acct.text !== "" || oemLen > 1 || uniLen > 0) {
          const hash = plaintext === undefined ? netNtlmHash({ user: acct.text, domain: dom.text, workstation: "", lm: oem, nt: uni }, challenge) : undefined;
          events.push({
            action: "login",
            method: "smb",
            user: clip(acct.text),
            ...(dom.text ? { domain: clip(dom.text) } : {}),
            ...(plaintext !== undefined ? { password: clip(plaintext) } : {}),
            ...(hash ? { hash: capturedHash(hash) } : {}),
            client,
          });
        }
        events.push({ action: "command", command: "SMB1 SESSION_SETUP", client });
        const anonymous = acct.text === "" && (oemLen === 0 || (oemLen === 1 && oem[0] === 0)) && uniLen === 0;
        const outcome = authOutcome(acct.text, anonymous);
        if (outcome === "fail") return { write: smb1Error(req, STATUS_LOGON_FAILURE), events };
        uid = newUid();
        authenticated = true;
        return { write: sessionSetupReply(req, STATUS_OK, outcome === "guest" ? 1 : 0), events };
      }
      return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
    };

    const finishAuth1 = (req: Smb1Req, a: NtlmAuth, spnego: boolean): Reply => {
      const events = authEvents("SMB1", a);
      const outcome = authOutcome(a.user, a.user === "" && a.nt.length === 0);
      if (outcome === "fail") {
        uid = 0;
        return { write: smb1Error(req, STATUS_LOGON_FAILURE), events };
      }
      uid = newUid();
      authenticated = true;
      const blob = spnego ? Uint8Array.from(negTokenResp(0)) : new Uint8Array(0);
      return { write: sessionSetupReply(req, STATUS_OK, outcome === "guest" ? 1 : 0, blob), events };
    };

    const authEvents = (proto: string, a: NtlmAuth): ProtocolEvent[] => {
      const hash = netNtlmHash(a, challenge);
      return [
        {
          action: "login",
          method: `${proto.toLowerCase()}-ntlmssp`,
          user: clip(a.user),
          ...(a.domain ? { domain: clip(a.domain) } : {}),
          ...(hash ? { hash: capturedHash(hash) } : {}),
          ...(a.workstation ? { client: { workstation: clip(a.workstation, 80) } } : {}),
        },
      ];
    };

    const treeConnect1 = (req: Smb1Req): Reply => {
      const pwLen = rd16(req.words, 6);
      const unicode = (req.flags2 & FLAGS2_UNICODE) !== 0;
      const path = pwLen <= req.bytes.length ? smbString(req, pwLen, unicode).text : "";
      const events: ProtocolEvent[] = [{ action: "command", command: `SMB1 TREE_CONNECT ${clip(path)}` }];
      if (!authenticated || req.uid !== uid) return { write: smb1Error(req, STATUS_SMB_BAD_UID), events };
      if (!/\\IPC\$$/i.test(path)) return { write: smb1Error(req, STATUS_BAD_NETWORK_NAME), events };
      tid = tid || 1;
      const o = smb1Header(req, STATUS_OK, replyFlags2(req), SMB_COM_TREE_CONNECT_ANDX, uid, tid);
      o.u8(7).u8(0xff).u8(0).u16(0).u16(0x0001).u32(0x001f01ff).u32(0);
      const bcAt = o.length;
      o.u16(0);
      const start = o.length;
      o.bytes([...latin1Bytes("IPC"), 0]);
      if (unicode && o.length % 2 === 1) o.u8(0);
      o.bytes(unicode ? [0, 0] : [0]);
      o.set16(bcAt, o.length - start);
      return { write: smb1Frame(o), events };
    };

    const handleSmb1 = (m: Uint8Array): Reply => {
      const req = parseSmb1(m);
      if (!req) return { close: true };
      if (dialect === "smb2") return { close: true };
      if (dialect === "none" && req.cmd !== SMB_COM_NEGOTIATE) return { close: true };
      switch (req.cmd) {
        case SMB_COM_NEGOTIATE:
          // A second negprot ends the connection in smbd ("multiple negprot's are not permitted").
          if (dialect !== "none") return { close: true };
          return negotiate1(req);
        case SMB_COM_SESSION_SETUP_ANDX:
          return sessionSetup1(req);
        case SMB_COM_LOGOFF_ANDX: {
          if (!authenticated || req.uid !== uid) return { write: smb1Error(req, STATUS_SMB_BAD_UID) };
          authenticated = false;
          const o = smb1Header(req, STATUS_OK, replyFlags2(req)).u8(2).u8(0xff).u8(0).u16(0).u16(0);
          uid = 0;
          return { write: smb1Frame(o) };
        }
        case SMB_COM_TREE_CONNECT_ANDX:
          return treeConnect1(req);
        case SMB_COM_TREE_DISCONNECT:
          if (tid === 0 || req.tid !== tid) return { write: smb1Error(req, STATUS_NETWORK_NAME_DELETED) };
          tid = 0;
          return { write: smb1Frame(smb1Header(req, STATUS_OK, replyFlags2(req)).u8(0).u16(0)) };
        case SMB_COM_ECHO: {
          const data = req.bytes.subarray(0, 4096);
          const o = smb1Header(req, STATUS_OK, replyFlags2(req)).u8(1).u16(1).u16(data.length).bytes(data);
          return { write: smb1Frame(o) };
        }
        case SMB_COM_NT_CREATE_ANDX: {
          const unicode = (req.flags2 & FLAGS2_UNICODE) !== 0;
          const name = smbString(req, 0, unicode).text;
          return {
            write: smb1Error(req, authenticated ? STATUS_ACCESS_DENIED : STATUS_SMB_BAD_UID),
            events: [{ action: "command", command: `SMB1 NT_CREATE ${clip(name)}` }],
          };
        }
        case SMB_COM_CLOSE:
          return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
        default: {
          const events: ProtocolEvent[] = [{ action: "command", command: `SMB1 command 0x${req.cmd.toString(16).padStart(2, "0")}` }];
          if (!SMB1_KNOWN.has(req.cmd)) return { write: smb1Unknown(req), events };
          return { write: smb1Error(req, authenticated ? STATUS_ACCESS_DENIED : STATUS_SMB_BAD_UID), events };
        }
      }
    };

    // ------------------------------------------------------------------------------------------ SMB2

    const smb2Header = (req: Smb2Req | undefined, command: number, status: number, credits: number, sid = sessionId, tree = 0): ByteWriter =>
      new ByteWriter()
        .bytes([0xfe, 0x53, 0x4d, 0x42])
        .u16(64)
        .u16(req?.creditCharge ?? 0)
        .u32(status)
        .u16(command)
        .u16(credits)
        .u32(0x00000001) // SERVER_TO_REDIR
        .u32(0)
        .u64(req?.messageId ?? 0n)
        .u32(req?.processId ?? 0)
        .u32(tree)
        .u64(sid)
        .zeros(16);

    const smb2Frame = (o: ByteWriter): Uint8Array => nbss(NBSS_MESSAGE, o.done(), true);

    const smb2Error = (req: Smb2Req, status: number, sid = sessionId): Uint8Array =>
      smb2Frame(smb2Header(req, req.command, status, 1, sid, req.treeId).u16(9).u16(0).u32(0).u8(0));

    const grant = (req: Smb2Req): number => Math.min(Math.max(req.credits, 1), 64);

    /** Negotiate response; `req` absent when answering an SMB1 negprot that chose an SMB2 dialect. */
    function smb2NegotiateReply(req: Smb2Req | undefined, d: number, contexts: { bytes: Uint8Array; count: number } | undefined): Uint8Array {
      let caps = smb2Caps;
      if (d === 0x0202) caps &= SMB2_CAP_DFS;
      else if (d < 0x0300) caps &= SMB2_CAP_DFS | SMB2_CAP_LEASING | SMB2_CAP_LARGE_MTU;
      else if (d < 0x0311) caps |= SMB2_CAP_ENCRYPTION;
      if (d < 0x0300) caps &= ~SMB2_CAP_MULTI_CHANNEL;
      const maxSize = d === 0x0202 ? 0x10000 : smb2MaxSize;
      const blob = negTokenInit(t.smb2SpnegoHint);
      const guid = new Array<number>(16).fill(0);
      latin1Bytes(persona.netbiosName.toLowerCase()).slice(0, 16).forEach((c, i) => (guid[i] = c));
      const o = smb2Header(req, SMB2_NEGOTIATE, STATUS_OK, 1, 0n);
      const ctxCount = contexts?.count ?? 0;
      o.u16(65).u16(0x0001).u16(d).u16(ctxCount).bytes(guid).u32(caps).u32(maxSize).u32(maxSize).u32(maxSize);
      o.u64(systemTime()).u64(0n).u16(0x80).u16(blob.length);
      const ctxOffset = contexts ? (0x80 + blob.length + 7) & ~7 : 0;
      o.u32(ctxOffset).bytes(blob);
      if (contexts) {
        while (o.length < ctxOffset) o.u8(0);
        o.bytes(contexts.bytes);
      }
      return smb2Frame(o);
    }

    const negotiate2 = (req: Smb2Req): Reply => {
      const m = req.raw;
      const count = rd16(m, 66);
      const dialects: number[] = [];
      for (let i = 0; i < count && i < 64 && 100 + 2 * i + 2 <= m.length; i++) dialects.push(rd16(m, 100 + 2 * i));
      const events: ProtocolEvent[] = [{ action: "command", command: `SMB2 NEGOTIATE ${dialects.map((d) => `0x${d.toString(16).padStart(4, "0")}`).join(",")}` }];
      const chosen = smb2Dialects.find((d) => dialects.includes(d));
      if (chosen === undefined) return { write: smb2Error(req, STATUS_NOT_SUPPORTED, 0n), close: true, events };
      let contexts: { bytes: Uint8Array; count: number } | undefined;
      if (chosen === 0x0311) {
        // SMB 3.1.1 needs the preauth-integrity (SHA-512) and, when offered, the encryption context.
        const ctxOff = rd32(m, 64 + 28); // NegotiateContextOffset, from the header start
        const ctxCount = rd16(m, 64 + 32);
        let sawSha512 = false;
        let cipher = -1;
        let at = ctxOff;
        for (let i = 0; i < ctxCount && i < 16 && at + 8 <= m.length; i++) {
          const type = rd16(m, at);
          const len = rd16(m, at + 2);
          const data = m.subarray(at + 8, Math.min(at + 8 + len, m.length));
          if (type === 1) {
            const n = rd16(data, 0);
            for (let k = 0; k < n && 4 + 2 * k + 2 <= data.length; k++) if (rd16(data, 4 + 2 * k) === 1) sawSha512 = true;
          } else if (type === 2) {
            const n = rd16(data, 0);
            const offered: number[] = [];
            for (let k = 0; k < n && 2 + 2 * k + 2 <= data.length; k++) offered.push(rd16(data, 2 + 2 * k));
            cipher = offered.includes(2) ? 2 : offered.includes(1) ? 1 : 0;
          }
          at = (at + 8 + len + 7) & ~7;
        }
        if (!sawSha512) return { write: smb2Error(req, STATUS_INVALID_PARAMETER, 0n), close: true, events };
        const c = new ByteWriter();
        c.u16(1).u16(38).u32(0).u16(1).u16(32).u16(1).bytes(ctx.random(32));
        if (cipher >= 0) {
          while (c.length % 8 !== 0) c.u8(0);
          c.u16(2).u16(4).u32(0).u16(1).u16(cipher);
        }
        contexts = { bytes: c.done(), count: cipher >= 0 ? 2 : 1 };
      }
      smb2WildcardPending = false;
      return { write: smb2NegotiateReply(req, chosen, contexts), events };
    };

    const sessionSetup2 = (req: Smb2Req): Reply => {
      const m = req.raw;
      const off = rd16(m, 64 + 12);
      const len = rd16(m, 64 + 14);
      if (off + len > m.length) return { write: smb2Error(req, STATUS_INVALID_PARAMETER) };
      const blob = m.subarray(off, off + len);
      const ntlm = ntlmFromBlob(blob);
      const spnego = blob[0] === 0x60 || blob[0] === 0xa1;
      if (!ntlm) return { write: smb2Error(req, STATUS_LOGON_FAILURE) };
      const reply = (status: number, flags: number, token: Uint8Array | undefined): Uint8Array => {
        const o = smb2Header(req, SMB2_SESSION_SETUP, status, grant(req), sessionId);
        o.u16(9).u16(flags).u16(token && token.length > 0 ? 0x48 : 0).u16(token?.length ?? 0);
        if (token && token.length > 0) o.bytes(token);
        else o.u8(0);
        return smb2Frame(o);
      };
      if (ntlm.type === 1) {
        if (sessionId === 0n) {
          const r = ctx.random(4);
          sessionId = BigInt((r[0]! | (r[1]! << 8) | (r[2]! << 16) | ((r[3]! & 0x7f) << 24)) >>> 0) || 1n;
        }
        challenge = newChallenge();
        const type2 = ntlmChallenge(ntlmId, rd32(ntlm.msg, 12), challenge, hostTime(ctx.host, ctx.now()));
        return { write: reply(STATUS_MORE_PROCESSING, 0, spnego ? Uint8Array.from(negTokenResp(1, type2)) : type2) };
      }
      if (ntlm.type === 3) {
        const a = parseNtlmAuth(ntlm.msg);
        if (!a) return { write: smb2Error(req, STATUS_INVALID_PARAMETER) };
        const events = authEvents("SMB2", a);
        const outcome = authOutcome(a.user, a.user === "" && a.nt.length === 0);
        if (outcome === "fail") {
          const sid = sessionId;
          sessionId = 0n;
          return { write: smb2Error(req, STATUS_LOGON_FAILURE, sid), events };
        }
        authenticated = true;
        const token = spnego ? Uint8Array.from(negTokenResp(0)) : undefined;
        return { write: reply(STATUS_OK, outcome === "guest" ? 0x0001 : 0x0002, token), events };
      }
      return { write: smb2Error(req, STATUS_INVALID_PARAMETER) };
    };

    const handleSmb2 = (m: Uint8Array): Reply => {
      const req = parseSmb2(m);
      if (!req) return { close: true };
      if (dialect === "smb1") return { close: true };
      if (dialect === "none" || smb2WildcardPending) {
        if (req.command !== SMB2_NEGOTIATE) return { close: true };
        dialect = "smb2";
        return negotiate2(req);
      }
      const needSession = (): Uint8Array | undefined =>
        !authenticated || req.sessionId !== sessionId ? smb2Error(req, STATUS_USER_SESSION_DELETED, req.sessionId) : undefined;
      switch (req.command) {
        case SMB2_NEGOTIATE:
          return { close: true };
        case SMB2_SESSION_SETUP:
          return sessionSetup2(req);
        case SMB2_LOGOFF: {
          const err = needSession();
          if (err) return { write: err };
          authenticated = false;
          const o = smb2Header(req, SMB2_LOGOFF, STATUS_OK, grant(req), sessionId).u16(4).u16(0);
          sessionId = 0n;
          return { write: smb2Frame(o) };
        }
        case SMB2_ECHO:
          return { write: smb2Frame(smb2Header(req, SMB2_ECHO, STATUS_OK, grant(req), req.sessionId).u16(4).u16(0)) };
        case SMB2_TREE_CONNECT: {
          const off = rd16(m, 64 + 4);
          const len = rd16(m, 64 + 6);
          const path = off + len <= m.length ? decodeUtf16(m.subarray(off, off + Math.min(len, 2048))) : "";
          const events: ProtocolEvent[] = [{ action: "command", command: `SMB2 TREE_CONNECT ${clip(path)}` }];
          const err = needSession();
          if (err) return { write: err, events };
          if (!/\\IPC\$$/i.test(path)) return { write: smb2Error(req, STATUS_BAD_NETWORK_NAME), events };
          treeId = treeId || 1;
          const o = smb2Header(req, SMB2_TREE_CONNECT, STATUS_OK, grant(req), sessionId, treeId);
          o.u16(16).u8(0x02).u8(0).u32(0x00000030).u32(0).u32(0x001f01ff);
          return { write: smb2Frame(o), events };
        }
        case SMB2_TREE_DISCONNECT: {
          const err = needSession();
          if (err) return { write: err };
          if (treeId === 0 || req.treeId !== treeId) return { write: smb2Error(req, STATUS_NETWORK_NAME_DELETED) };
          treeId = 0;
          return { write: smb2Frame(smb2Header(req, SMB2_TREE_DISCONNECT, STATUS_OK, grant(req), sessionId, req.treeId).u16(4).u16(0)) };
        }
        case SMB2_CREATE: {
          const off = rd16(m, 64 + 44);
          const len = rd16(m, 64 + 46);
          const name = off + len <= m.length ? decodeUtf16(m.subarray(off, off + Math.min(len, 2048))) : "";
          const events: ProtocolEvent[] = [{ action: "command", command: `SMB2 CREATE ${clip(name)}` }];
          const err = needSession();
          if (err) return { write: err, events };
          return { write: smb2Error(req, STATUS_ACCESS_DENIED), events };
        }
        default: {
          const events: ProtocolEvent[] = [{ action: "command", command: `SMB2 command 0x${req.command.toString(16).padStart(2, "0")}` }];
          const err = needSession();
          if (err) return { write: err, events };
          return { write: smb2Error(req, req.command > 0x12 ? STATUS_INVALID_PARAMETER : STATUS_ACCESS_DENIED), events };
        }
      }
    };

    // ------------------------------------------------------------------------------------------ framing

    /** One complete NetBIOS frame (header included). */
    const handleFrame = (type: number, body: Uint8Array): Reply => {
      switch (type) {
        case NBSS_MESSAGE:
          if (startsWithBytes(body, 0, [0xff, 0x53, 0x4d, 0x42]) && smb1Enabled) return handleSmb1(body);
          if (startsWithBytes(body, 0, [0xff, 0x53, 0x4d, 0x42])) {
            // SMB1 switched off: only a negprot is answered (with "no dialect", or SMB2 if offered).
            return dialect === "none" ? handleSmb1(body) : { close: true };
          }
          if (startsWithBytes(body, 0, [0xfe, 0x53, 0x4d, 0x42]) && smb2Enabled) return handleSmb2(body);
          return { close: true };
        case NBSS_REQUEST:
          // Called/calling names are not checked: smbd answers any session request positively, once.
          if (gotSession) return { close: true };
          gotSession = true;
          return { write: Uint8Array.from([NBSS_POSITIVE, 0, 0, 0]) };
        case NBSS_KEEPALIVE_REQ:
          return { write: Uint8Array.from([NBSS_KEEPALIVE, 0, 0, 0]) };
        default:
          return {}; // keepalive and stray session responses are ignored, as smbd does
      }
    };

    return {
      open(): Reply {
        return {}; // SMB is client-first: smbd says nothing until spoken to
      },
      data(chunk: Uint8Array): Reply {
        if (closed) return {};
        let out: Reply = {};
        if (pending.length + chunk.length > MAX_PENDING + 65536) {
          closed = true;
          return { close: true };
        }
        pending = pending.length === 0 ? chunk.slice() : concatBytes([pending, chunk]);
        while (!out.close && pending.length >= 4) {
          const type = pending[0]!;
          if (![NBSS_MESSAGE, NBSS_REQUEST, NBSS_POSITIVE, NBSS_NEGATIVE, NBSS_RETARGET, NBSS_KEEPALIVE, NBSS_KEEPALIVE_REQ].includes(type)) {
            // Not NetBIOS framing at all (an HTTP request, a TLS hello, ...): drop the connection.
            out.close = true;
            break;
          }
          const len =
            dialect === "smb2" && type === NBSS_MESSAGE
              ? (pending[1]! << 16) | (pending[2]! << 8) | pending[3]!
              : ((pending[1]! & 0x01) << 16) | (pending[2]! << 8) | pending[3]!;
          if (len > MAX_FRAME) {
            out.close = true;
            break;
          }
          if (type === NBSS_MESSAGE) {
            // smbd refuses empty and runt messages; anything not starting like SMB is refused as soon as it shows.
            if (len < 4) {
              out.close = true;
              break;
            }
            if (pending.length >= 8) {
              const smb1 = startsWithBytes(pending, 4, [0xff, 0x53, 0x4d, 0x42]);
              const smb2 = startsWithBytes(pending, 4, [0xfe, 0x53, 0x4d, 0x42]) && smb2Enabled;
              if (!smb1 && !smb2) {
                out.close = true;
                break;
              }
            }
          }
          if (pending.length < 4 + len) break;
          const body = pending.slice(4, 4 + len);
          pending = pending.slice(4 + len);
          out = mergeReplies(out, handleFrame(type, body));
        }
        if (out.close) closed = true;
        return out;
      },
    };
}
