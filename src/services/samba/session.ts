// Fake Samba smbd, or Windows' SMB server. Client-first: NetBIOS session framing (RFC 1002), the SMB1
// NEGOTIATE answer that nmap's SMBProgNeg probe fingerprints, NTLMSSP session setup (to log names and
// crackable responses), and SMB2. Field values follow smbd's own negprot/sesssetup code (or what Windows
// sends); the persona is data (templates). How the daemon treats bytes that are not SMB, and silent peers,
// follows smbd's reader: the 4-byte header's length is taken at its word and the whole frame awaited.
import type { CapturedHash, ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import type { CounterSpec } from "../../host/counters.ts";
import { bootTime, hostTime, hostUnit, localTime, utcOffsetMinutes } from "../../host/facts.ts";
import { ByteWriter, clip, concatBytes, decodeUtf16, filetime, latin1Bytes, rd16, rd32, rd64, startsWithBytes, toBytes, toLatin1, utf16 } from "../../wire/bytes.ts";
import { OID_KRB5, OID_KRB5_U2U, OID_MS_KRB5, OID_NEGOEX, OID_NTLMSSP, negTokenInitOf, negTokenResp } from "../../wire/der.ts";
import { netNtlmHash, ntlmChallenge, ntlmFromBlob, parseNtlmAuth, type NtlmAuth, type NtlmHash, type NtlmIdentity } from "../../wire/ntlmssp.ts";
import { drawMs } from "../schema.ts";
import { PIPE_MAX_BUFFERED, SrvsvcPipe, type Share } from "./dcerpc.ts";
import { NbssReader, nbtLength, tcpLength, type Frame } from "./framing.ts";
import type { SambaTemplates } from "./templates.ts";

// NetBIOS session service packet types (RFC 1002 4.3.1).
const NBSS_MESSAGE = 0x00;
const NBSS_REQUEST = 0x81;
const NBSS_POSITIVE = 0x82;
const NBSS_NEGATIVE = 0x83;
const NBSS_RETARGET = 0x84;
const NBSS_KEEPALIVE = 0x85;
/** Some old clients send 0x89 as a keepalive request; smbd answers it with 0x85. */
const NBSS_KEEPALIVE_REQ = 0x89;
/** Negative session response error codes (RFC 1002 4.3.4). */
const NBSS_CALLED_NAME_NOT_PRESENT = 0x82;
const NBSS_UNSPECIFIED_ERROR = 0x8f;

/**
 * Bytes of one frame kept for parsing. NetBIOS lengths stop at 128 KiB; SMB2's 24-bit ones may claim 16 MiB,
 * of which the first 128 KiB are kept and the rest read and dropped (an SMB2 header is 64 bytes).
 */
const FRAME_KEEP = 128 * 1024;
/** The most a session holds of its peer's input: one frame's header and the part of it kept, and what its open pipes hold. */
export const SAMBA_MAX_BUFFERED = 4 + FRAME_KEEP + 4 * PIPE_MAX_BUFFERED; // 4: MAX_PIPES
/** smb_size: an SMB1 header, word count and byte count. smbd refuses anything shorter. */
const SMB1_MIN = 35;

const STATUS_OK = 0;
const STATUS_MORE_PROCESSING = 0xc0000016;
const STATUS_INVALID_PARAMETER = 0xc000000d;
const STATUS_ACCESS_DENIED = 0xc0000022;
const STATUS_LOGON_FAILURE = 0xc000006d;
const STATUS_NOT_SUPPORTED = 0xc00000bb;
const STATUS_BAD_NETWORK_NAME = 0xc00000cc;
const STATUS_NETWORK_NAME_DELETED = 0xc00000c9;
const STATUS_USER_SESSION_DELETED = 0xc0000203;
const STATUS_PENDING = 0x00000103;
const STATUS_BUFFER_OVERFLOW = 0x80000005;
const STATUS_INVALID_DEVICE_REQUEST = 0xc0000010;
const STATUS_OBJECT_NAME_NOT_FOUND = 0xc0000034;
const STATUS_FILE_CLOSED = 0xc0000128;
const STATUS_NOT_FOUND = 0xc0000225;
const STATUS_PIPE_DISCONNECTED = 0xc00000b0;
const STATUS_INVALID_HANDLE = 0xc0000008;
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
const SMB_COM_TRANSACTION = 0x25;
const SMB_COM_READ_ANDX = 0x2e;
const SMB_COM_WRITE_ANDX = 0x2f;
/** TRANSACTION's TransactNmPipe subcommand (its first setup word; the second is the pipe's FID). */
const TRANSACT_NM_PIPE = 0x0026;
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
const SAMBA_FLAGS2 = 0x4003;
/** Windows: long names and NT status codes (nmap's Windows lines read 0x4001 back). */
const WINDOWS_FLAGS2 = 0x4001;

const CAP_UNICODE = 0x00000004;
const CAP_EXTENDED_SECURITY = 0x80000000;

const SMB2_NEGOTIATE = 0x00;
const SMB2_SESSION_SETUP = 0x01;
const SMB2_LOGOFF = 0x02;
const SMB2_TREE_CONNECT = 0x03;
const SMB2_TREE_DISCONNECT = 0x04;
const SMB2_CREATE = 0x05;
const SMB2_CLOSE = 0x06;
const SMB2_READ = 0x08;
const SMB2_WRITE = 0x09;
const SMB2_IOCTL = 0x0b;

const FSCTL_DFS_GET_REFERRALS = 0x00060194;
const FSCTL_PIPE_TRANSCEIVE = 0x0011c017;
/** SMB2 header flags: a reply, an async one; the priority bits (3.1.1) are echoed. */
const SMB2_FLAGS_SERVER_TO_REDIR = 0x01;
const SMB2_FLAGS_ASYNC = 0x02;
const SMB2_FLAGS_PRIORITY = 0x70;
/** The pipes smbd knows beside srvsvc: opening them is refused here; any other name is not found. */
const KNOWN_PIPES = new Set(["lsarpc", "lsass", "samr", "netlogon", "wkssvc", "winreg", "spoolss", "svcctl", "eventlog", "ntsvcs", "epmapper", "browser", "dssetup", "initshutdown", "srvsvc", "mdssvc", "rpcecho"]);
/** Open trees and pipe handles per session are bounded; smbd's own limits are far higher than any client uses. */
const MAX_TREES = 32;
const MAX_PIPES = 4;
/** The Unix epoch as FILETIME: every time smbd states for a pipe. */
const PIPE_TIME = 116444736000000000n;

function hexOf(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length; i++) out += b[i]!.toString(16).padStart(2, "0");
  return out;
}
const SMB2_ECHO = 0x0d;

const SMB2_CAP_DFS = 0x01;
const SMB2_CAP_LEASING = 0x02;
const SMB2_CAP_LARGE_MTU = 0x04;
const SMB2_CAP_MULTI_CHANNEL = 0x08;
const SMB2_CAP_ENCRYPTION = 0x40;

// Dialects smbd knows, most preferred first (smbd's supported_protocols[] order). level decides the reply layout.
type Level = "smb2ff" | "smb2002" | "nt1" | "lanman" | "coreplus" | "core";
const SAMBA_DIALECTS: [string, Level][] = [
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
/** Windows answers SMB2 and NT LM 0.12 (nmap's Windows lines read dialect index 7, "NT LM 0.12", back). */
const WINDOWS_DIALECTS: [string, Level][] = [
  ["SMB 2.???", "smb2ff"],
  ["SMB 2.002", "smb2002"],
  ["NT LM 0.12", "nt1"],
];

/** Linux pids: smbd forks a child per connection; everything else on the host forks too, a few a minute. */
const SYSTEM_PIDS: CounterSpec = { atBoot: 900, perHour: 150, spread: 3000, max: 32768 };

/** A NetNTLM response as the event carries it; the hashcat line is bounded like any attacker text. */
function capturedHash(h: NtlmHash): CapturedHash {
  return { value: clip(h.hash, 4096), type: h.type, hashcatMode: h.hashcatMode };
}

function nbss(type: number, payload: Uint8Array, wide: boolean): Uint8Array {
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
  if (m.length < SMB1_MIN) return undefined;
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
  flags: number;
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
    flags: rd32(m, 16),
    messageId: rd64(m, 24),
    processId: rd32(m, 32),
    treeId: rd32(m, 36),
    sessionId: rd64(m, 40),
  };
}

/**
 * A NetBIOS name in first-level encoding (RFC 1001 14.1): a length byte (32), 32 letters 'A'-'P', then the
 * scope's labels up to a zero byte. Undefined when it is not well formed.
 */
function nbName(b: Uint8Array, at: number): { name: string; suffix: number; next: number } | undefined {
  if (at >= b.length || b[at] !== 32 || at + 34 > b.length) return undefined;
  let name = "";
  for (let i = 0; i < 16; i++) {
    const hi = b[at + 1 + 2 * i]! - 0x41;
    const lo = b[at + 2 + 2 * i]! - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) return undefined;
    name += String.fromCharCode((hi << 4) | lo);
  }
  let p = at + 33;
  for (let labels = 0; p < b.length && b[p] !== 0 && labels < 64; labels++) p += 1 + b[p]!;
  if (p >= b.length) return undefined;
  return { name: name.slice(0, 15).replace(/ +$/, ""), suffix: name.charCodeAt(15), next: p + 1 };
}

function parseHexInt(v: string | undefined, dflt: number): number {
  if (v === undefined || v.trim() === "") return dflt;
  const n = v.trim().toLowerCase().startsWith("0x") ? Number.parseInt(v.trim().slice(2), 16) : Number.parseInt(v.trim(), 10);
  return Number.isFinite(n) ? n >>> 0 : dflt;
}

const WINDOWS_MECHS = [OID_NEGOEX, OID_MS_KRB5, OID_KRB5, OID_KRB5_U2U, OID_NTLMSSP];

export function startSamba(ctx: SessionContext<SambaTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const windows = t.implementation === "windows";
  const host = ctx.host;
  // The transport: 445 is Direct TCP, 139 NetBIOS; elsewhere the face's own first port decides.
  const netbiosTransport = ctx.localPort === 139 || (ctx.localPort !== 445 && ctx.entry.ports[0] !== 445);
  // Windows' NetBT wants a session request before anything else on NetBIOS; smbd takes SMB either way.
  const sessionRequired = windows && netbiosTransport;
  const workgroup = t.workgroup.toUpperCase(); // smbd upper-cases its workgroup
  const netbiosName = host.netbiosName;
  const ntlmId: NtlmIdentity = {
    netbiosName,
    netbiosDomain: netbiosName, // a standalone server names itself as the NetBIOS domain
    // Windows: its DNS suffix as the DNS domain (as IIS says it on the same host); a standalone smbd sends none.
    dnsName: host.fqdn,
    dnsDomain: windows ? host.domain : "",
    version: t.ntlmVersion,
    timestamp: t.ntlmVersion !== "" && t.ntlmTimestamp,
    versionOnRequest: windows || t.ntlmVersionOnRequest,
  };
  const smb1Enabled = t.smb1;
  const smb2Dialects = t.smb2Dialects
    .map((d) => parseHexInt(d, 0))
    .filter((d) => d > 0)
    .sort((a, b) => b - a);
  const smb2Enabled = smb2Dialects.length > 0;
  const capabilities = t.capabilities;
  const securityMode = t.securityMode;
  // SMB1's ServerTimeZone: minutes from local time to UTC (west positive), from the host's zone.
  const tzMinutes = -utcOffsetMinutes(host, ctx.now()) & 0xffff;
  // What smbd does with an unknown user: "guest" under "map to guest = bad user" (Debian's default), else fail.
  const badUserIsGuest = t.badUser === "guest";
  const commonFlags2Base = windows ? WINDOWS_FLAGS2 : SAMBA_FLAGS2;
  /**
   * The server GUID: smbd puts its lower-case NetBIOS name there, zero padded; Windows a random (version 4)
   * GUID of its own, made at install, the same on every connection.
   */
  const serverGuid: number[] = windows
    ? Array.from({ length: 16 }, (_, i) => {
        const b = Math.floor(hostUnit(host, "smb-server-guid", String(i)) * 256);
        return i === 7 ? 0x40 | (b & 0x0f) : i === 8 ? 0x80 | (b & 0x3f) : b; // Data3's version nibble, the variant bits
      })
    : Array.from({ length: 16 }, (_, i) => latin1Bytes(netbiosName.toLowerCase())[i] ?? 0);
  const spnego = (hint: string): Uint8Array | undefined =>
    t.spnegoMechs === "none" ? undefined : Uint8Array.from(negTokenInitOf(t.spnegoMechs === "windows" ? WINDOWS_MECHS : [OID_NTLMSSP], hint === "-" ? "" : hint));

  // smbd forks per connection: the session key is the child's pid, a little higher each time. Windows sends 0.
  const sessionKey = windows ? 0 : ctx.counter("pid", SYSTEM_PIDS);

  /** The host's clock as FILETIME: smbd's at 10 µs (gettimeofday, seen in steps of 10 µs), Windows' at 100 ns. */
  const systemTime = (): bigint => {
    const us = ctx.nowMicros() + BigInt(host.clockSkewMs) * 1000n;
    if (!windows) return (us / 10n) * 100n + 116444736000000000n;
    return us * 10n + BigInt(ctx.random(1)[0]! % 10) + 116444736000000000n;
  };

  let gotSession = false;
  let dialect: "none" | "smb1" | "smb2" = "none";
  let smb2WildcardPending = false;
  let extendedSecurity = false;
  let commonFlags2 = commonFlags2Base;
  let challenge: Uint8Array = new Uint8Array(0);
  let uid = 0;
  let authenticated = false;
  let tid = 0;
  let sessionId = 0n;
  /** Open SMB2 trees (only IPC$ is ever granted), by tree id. */
  const trees = new Set<number>();
  /** Open pipe handles, by "persistent:volatile" file id. */
  const pipes = new Map<string, { pipe: SrvsvcPipe; tree: number; id: Uint8Array }>();
  let sessionKind: "anonymous" | "guest" = "anonymous";
  /** SMB1 pipe handles, by FID. */
  const smb1Pipes = new Map<number, SrvsvcPipe>();
  let closed = false;
  // The idle check: smbd's "deadtime" event (3.2 and later), or 3.0's select timeout.
  let deadtimeOverdue = false;
  let selectTimedOut = false;

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

  const replyFlags2 = (req: Smb1Req): number => commonFlags2 | (req.flags2 & (FLAGS2_UNICODE | FLAGS2_SIGNATURES | FLAGS2_SIGNATURES_REQUIRED));

  const smb1Frame = (o: ByteWriter): Uint8Array => nbss(NBSS_MESSAGE, o.done(), !netbiosTransport);

  const smb1Error = (req: Smb1Req, status: number): Uint8Array => smb1Frame(smb1Header(req, status, replyFlags2(req)).u8(0).u16(0));

  /** Unknown commands get the DOS error ERRSRV/ERRunknownsmb, without the NT-status flag. */
  const smb1Unknown = (req: Smb1Req): Uint8Array => smb1Frame(smb1Header(req, 0x00160002, replyFlags2(req) & ~FLAGS2_NT_STATUS).u8(0).u16(0));

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

    // The server walks its own list in preference order and takes the client's index of the first it shares.
    let choice = -1;
    let level: Level | undefined;
    for (const [name, lv] of windows ? WINDOWS_DIALECTS : SAMBA_DIALECTS) {
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
      // No common dialect: the server says so (dialect index 0xffff) and drops the connection.
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
    if (level === "core") {
      return { write: smb1Frame(smb1Header(req, STATUS_OK, replyFlags2(req)).u8(1).u16(choice).u16(0)), events };
    }
    if (level === "lanman" || level === "coreplus") {
      // LANMAN replies carry a DOS date and, when passwords are encrypted, the challenge.
      const encrypt = level === "lanman" && (securityMode & 0x02) !== 0;
      challenge = encrypt ? newChallenge() : new Uint8Array(0);
      // DOS date and time are the server's local wall clock.
      const l = localTime(host, ctx.now());
      const dosTime = ((l.hour << 11) | (l.minute << 5) | (l.second >> 1)) & 0xffff;
      const dosDate = (((l.year - 1980) << 9) | (l.month << 5) | l.day) & 0xffff;
      const o = smb1Header(req, STATUS_OK, replyFlags2(req)).u8(13).u16(choice);
      o.u16(level === "lanman" ? securityMode & 0x03 : 0x01).u16(t.maxBuffer).u16(t.maxMpx).u16(1).u16(3);
      o.u32(level === "lanman" ? sessionKey : 0).u16(dosTime).u16(dosDate).u16(tzMinutes).u16(challenge.length).u16(0);
      o.u16(challenge.length).bytes(challenge);
      return { write: smb1Frame(o), events };
    }

    // NT LM 0.12: smbd's reply_nt1(), or Windows' equivalent.
    extendedSecurity = (req.flags2 & FLAGS2_EXTENDED_SECURITY) !== 0 && (securityMode & 0x02) !== 0;
    const caps = (capabilities | (extendedSecurity ? CAP_EXTENDED_SECURITY : 0)) >>> 0;
    let flags2: number;
    if (extendedSecurity) {
      commonFlags2 |= FLAGS2_EXTENDED_SECURITY;
      flags2 = windows ? replyFlags2(req) : req.flags2 | FLAGS2_EXTENDED_SECURITY;
    } else flags2 = replyFlags2(req);
    const o = smb1Header(req, STATUS_OK, flags2).u8(17).u16(choice);
    o.u8(securityMode).u16(t.maxMpx).u16(1).u32(t.maxBuffer).u32(0x10000).u32(sessionKey).u32(caps);
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
      o.bytes(str(workgroup));
      if (t.negprotServerName) o.bytes(str(netbiosName));
    } else {
      o.bytes(serverGuid);
      if (t.spnegoHint || t.spnegoMechs === "windows") {
        const blob = spnego(t.spnegoHint);
        if (blob) o.bytes(blob);
      }
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
    // Windows leaves the primary domain out of an extended-security answer; smbd always sends it.
    const strings = windows && blob ? [t.nativeOs, t.nativeLanMan] : [t.nativeOs, t.nativeLanMan, workgroup];
    for (const s of strings) o.bytes(unicode ? [...utf16(s), 0, 0] : [...latin1Bytes(s), 0]);
    o.set16(bcAt, o.length - start);
    return smb1Frame(o);
  };

  const newUid = (): number => {
    if (uid !== 0) return uid;
    if (!windows && t.smbd === "3.x") return 100; // Samba 3 hands out vuids from 100 in each new smbd
    const r = ctx.random(2);
    return ((r[0]! | (r[1]! << 8)) % 0xfffe) + 1;
  };

  /** Shared by SMB1 and SMB2: what happens once a client has named itself. */
  const authOutcome = (user: string, anonymous: boolean): "anonymous" | "guest" | "fail" =>
    anonymous || user === "" ? "anonymous" : badUserIsGuest ? "guest" : "fail";

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

  const finishAuth1 = (req: Smb1Req, a: NtlmAuth, spnegoWrapped: boolean): Reply => {
    const events = authEvents("SMB1", a);
    const outcome = authOutcome(a.user, a.user === "" && a.nt.length === 0);
    if (outcome === "fail") {
      uid = 0;
      return { write: smb1Error(req, STATUS_LOGON_FAILURE), events };
    }
    uid = newUid();
    authenticated = true;
    sessionKind = outcome;
    const blob = spnegoWrapped ? Uint8Array.from(negTokenResp(0)) : new Uint8Array(0);
    return { write: sessionSetupReply(req, STATUS_OK, outcome === "guest" ? 1 : 0, blob), events };
  };

  const sessionSetup1 = (req: Smb1Req): Reply => {
    const w = req.words;
    const unicode = (req.flags2 & FLAGS2_UNICODE) !== 0;
    if (w.length === 24 && extendedSecurity) {
      const blobLen = rd16(w, 14);
      const blob = req.bytes.subarray(0, Math.min(blobLen, req.bytes.length));
      const wrapped = blob[0] === 0x60 || blob[0] === 0xa1;
      const ntlm = ntlmFromBlob(blob);
      if (!ntlm) return { write: smb1Error(req, STATUS_LOGON_FAILURE) };
      if (ntlm.type === 1) {
        uid = newUid();
        challenge = newChallenge();
        const type2 = ntlmChallenge(ntlmId, rd32(ntlm.msg, 12), challenge, hostTime(host, ctx.now()));
        const out = wrapped ? Uint8Array.from(negTokenResp(1, type2)) : type2;
        return { write: sessionSetupReply(req, STATUS_MORE_PROCESSING, 0, out) };
      }
      if (ntlm.type === 3) {
        const a = parseNtlmAuth(ntlm.msg);
        if (!a) return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
        return finishAuth1(req, a, wrapped);
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
      sessionKind = outcome;
      return { write: sessionSetupReply(req, STATUS_OK, outcome === "guest" ? 1 : 0), events };
    }
    return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
  };

  const treeConnect1 = (req: Smb1Req): Reply => {
    const pwLen = rd16(req.words, 6);
    const unicode = (req.flags2 & FLAGS2_UNICODE) !== 0;
    const path = pwLen <= req.bytes.length ? smbString(req, pwLen, unicode).text : "";
    const events: ProtocolEvent[] = [{ action: "command", command: `SMB1 TREE_CONNECT ${clip(path)}` }];
    if (!authenticated || req.uid !== uid) return { write: smb1Error(req, STATUS_SMB_BAD_UID), events };
    const share = path.slice(path.lastIndexOf("\\") + 1);
    if (share.toUpperCase() !== "IPC$") {
      const status = refusedShare(share);
      events[0]!.command += status === STATUS_ACCESS_DENIED ? " (access denied)" : " (bad network name)";
      return { write: smb1Error(req, status), events };
    }
    const smbd4 = !windows && t.smbd !== "3.x";
    if (tid === 0) {
      // smbd 4 numbers trees at random (measured: 47948); smbd 3 and Windows from the bottom.
      const r = ctx.random(2);
      tid = smbd4 ? r[0]! | (r[1]! << 8) || 1 : 1;
    }
    const o = smb1Header(req, STATUS_OK, replyFlags2(req), SMB_COM_TREE_CONNECT_ANDX, uid, tid);
    // smbd 4 (measured on 4.17 with SMB1 on): access 0x1ff for the session and for guests alike.
    if (smbd4) o.u8(7).u8(0xff).u8(0).u16(0).u16(0x0001).u32(0x000001ff).u32(0x000001ff);
    else o.u8(7).u8(0xff).u8(0).u16(0).u16(0x0001).u32(0x001f01ff).u32(0);
    const bcAt = o.length;
    o.u16(0);
    const start = o.length;
    o.bytes([...latin1Bytes("IPC"), 0]);
    if (unicode && o.length % 2 === 1) o.u8(0);
    o.bytes(unicode ? [0, 0] : [0]);
    o.set16(bcAt, o.length - start);
    return { write: smb1Frame(o), events };
  };

  /** NT_CREATE_ANDX on IPC$: \\srvsvc opens as a message-mode pipe (smbd's 34-word answer); other names are refused. */
  const ntCreate1 = (req: Smb1Req): Reply => {
    const unicode = (req.flags2 & FLAGS2_UNICODE) !== 0;
    const name = smbString(req, 0, unicode).text;
    const events: ProtocolEvent[] = [{ action: "command", command: `SMB1 NT_CREATE ${clip(name)}` }];
    if (!authenticated || req.uid !== uid) return { write: smb1Error(req, STATUS_SMB_BAD_UID), events };
    if (tid === 0 || req.tid !== tid) return { write: smb1Error(req, STATUS_NETWORK_NAME_DELETED), events };
    const pipeName = name.replace(/^\\+/, "").toLowerCase();
    if (pipeName !== "srvsvc") return { write: smb1Error(req, KNOWN_PIPES.has(pipeName) ? STATUS_ACCESS_DENIED : STATUS_OBJECT_NAME_NOT_FOUND), events };
    if ((sessionKind === "anonymous" && !t.anonymousShareEnum) || smb1Pipes.size >= MAX_PIPES) return { write: smb1Error(req, STATUS_ACCESS_DENIED), events };
    let fid = 0;
    for (let i = 0; i < 8 && (fid === 0 || smb1Pipes.has(fid)); i++) {
      const r = ctx.random(2);
      fid = r[0]! | (r[1]! << 8);
    }
    if (fid === 0 || smb1Pipes.has(fid)) return { write: smb1Error(req, STATUS_ACCESS_DENIED), events };
    smb1Pipes.set(fid, newPipe());
    const o = smb1Header(req, STATUS_OK, replyFlags2(req), SMB_COM_NT_CREATE_ANDX, uid, req.tid);
    o.u8(34).u8(0xff).u8(0).u16(0).u8(0).u16(fid).u32(1).zeros(32).u32(0x80).u64(0n).u64(0n).u16(2).u16(0x05ff).u8(0).u16(0);
    return { write: smb1Frame(o), events };
  };

  /** TRANSACTION with TransactNmPipe: the data is written into the pipe and the answer read back at once. */
  const transactNmPipe1 = (req: Smb1Req, m: Uint8Array): Reply => {
    if (!authenticated || req.uid !== uid) return { write: smb1Error(req, STATUS_SMB_BAD_UID) };
    const w = req.words;
    const fid = rd16(w, 30);
    const pipe = smb1Pipes.get(fid);
    if (!pipe) return { write: smb1Error(req, STATUS_INVALID_HANDLE) };
    if (pipe.disconnected) return { write: smb1Error(req, STATUS_PIPE_DISCONNECTED) };
    const maxData = rd16(w, 6);
    const dataCount = rd16(w, 22);
    const dataOff = rd16(w, 24);
    const input = m.subarray(Math.min(dataOff, m.length), Math.min(dataOff + dataCount, m.length));
    const events = pipeEvents(pipe.write(input));
    const r = pipe.read(maxData);
    const o = smb1Header(req, r.more ? STATUS_BUFFER_OVERFLOW : STATUS_OK, replyFlags2(req), SMB_COM_TRANSACTION, uid, req.tid);
    // Ten words, no parameters; the data starts on a 4-byte boundary after the byte count (smbd's 0x38).
    const dataAt = (32 + 1 + 20 + 2 + 3) & ~3;
    o.u8(10).u16(0).u16(r.data.length).u16(0).u16(0).u16(dataAt).u16(0).u16(r.data.length).u16(dataAt).u16(0).u8(0).u8(0);
    o.u16(dataAt - 55 + r.data.length).zeros(dataAt - 55).bytes(r.data);
    return { write: smb1Frame(o), events };
  };

  /** WRITE_ANDX into a pipe (nmap's msrpc writes its PDUs so): the count back, the answer waits to be read. */
  const writeAndX1 = (req: Smb1Req, m: Uint8Array, pipe: SrvsvcPipe): Reply => {
    if (req.words.length < 24) return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
    if (pipe.disconnected) return { write: smb1Error(req, STATUS_PIPE_DISCONNECTED) };
    const len = rd16(req.words, 20) | (rd16(req.words, 18) << 16);
    const off = rd16(req.words, 22);
    const data = m.subarray(Math.min(off, m.length), Math.min(off + len, m.length));
    const events = pipeEvents(pipe.write(data));
    const o = smb1Header(req, STATUS_OK, replyFlags2(req), SMB_COM_WRITE_ANDX, uid, req.tid);
    o.u8(6).u8(0xff).u8(0).u16(0).u16(data.length & 0xffff).u16(0).u16(data.length >>> 16).u16(0).u16(0);
    return { write: smb1Frame(o), events };
  };

  /** READ_ANDX from a pipe: what is there, up to the count asked; an empty pipe keeps the reader waiting. */
  const readAndX1 = (req: Smb1Req, pipe: SrvsvcPipe): Reply => {
    if (req.words.length < 20) return { write: smb1Error(req, STATUS_INVALID_PARAMETER) };
    if (pipe.available === 0) return {};
    const r = pipe.read(rd16(req.words, 10));
    const o = smb1Header(req, r.more ? STATUS_BUFFER_OVERFLOW : STATUS_OK, replyFlags2(req), SMB_COM_READ_ANDX, uid, req.tid);
    // Twelve words; the data after one pad byte, at 60 from the header.
    o.u8(12).u8(0xff).u8(0).u16(0).u16(0).u16(0).u16(0).u16(r.data.length).u16(60).zeros(10);
    o.u16(1 + r.data.length).u8(0).bytes(r.data);
    return { write: smb1Frame(o), events: [] };
  };

  const handleSmb1 = (m: Uint8Array): Reply => {
    const req = parseSmb1(m);
    if (!req) return { close: true, events: [{ action: "error", message: "malformed SMB1 message" }] };
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
        smb1Pipes.clear();
        return { write: smb1Frame(smb1Header(req, STATUS_OK, replyFlags2(req)).u8(0).u16(0)) };
      case SMB_COM_ECHO: {
        const data = req.bytes.subarray(0, 4096);
        const o = smb1Header(req, STATUS_OK, replyFlags2(req)).u8(1).u16(1).u16(data.length).bytes(data);
        return { write: smb1Frame(o) };
      }
      case SMB_COM_NT_CREATE_ANDX:
        return ntCreate1(req);
      case SMB_COM_TRANSACTION:
        if (req.words.length >= 32 && req.words[26] === 2 && rd16(req.words, 28) === TRANSACT_NM_PIPE) return transactNmPipe1(req, m);
        return {
          write: smb1Error(req, authenticated ? STATUS_ACCESS_DENIED : STATUS_SMB_BAD_UID),
          events: [{ action: "command", command: "SMB1 command 0x25" }],
        };
      case SMB_COM_WRITE_ANDX:
      case SMB_COM_READ_ANDX: {
        const fid = req.words.length >= 6 ? rd16(req.words, 4) : -1;
        const pipe = smb1Pipes.get(fid);
        // Only pipes are ever open here; anything else is what it was before (no file, no access).
        if (!pipe || !authenticated || req.uid !== uid) {
          const events: ProtocolEvent[] = [{ action: "command", command: `SMB1 command 0x${req.cmd.toString(16)}` }];
          return { write: smb1Error(req, authenticated ? (pipe ? STATUS_SMB_BAD_UID : STATUS_INVALID_HANDLE) : STATUS_SMB_BAD_UID), events };
        }
        return req.cmd === SMB_COM_WRITE_ANDX ? writeAndX1(req, m, pipe) : readAndX1(req, pipe);
      }
      case SMB_COM_CLOSE: {
        if (!authenticated || req.uid !== uid) return { write: smb1Error(req, STATUS_SMB_BAD_UID) };
        const fid = req.words.length >= 2 ? rd16(req.words, 0) : -1;
        if (!smb1Pipes.has(fid)) return { write: smb1Error(req, STATUS_INVALID_HANDLE) };
        smb1Pipes.delete(fid);
        return { write: smb1Frame(smb1Header(req, STATUS_OK, replyFlags2(req), SMB_COM_CLOSE, uid, req.tid).u8(0).u16(0)) };
      }
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
      .u32(SMB2_FLAGS_SERVER_TO_REDIR | ((req?.flags ?? 0) & SMB2_FLAGS_PRIORITY))
      .u32(0)
      .u64(req?.messageId ?? 0n)
      .u32(req?.processId ?? 0)
      .u32(tree)
      .u64(sid)
      .zeros(16);

  /**
   * An async reply (MS-SMB2 3.3.4.2): the interim STATUS_PENDING first, then the answer under the same async id.
   * smbd uses the message id as the async id, grants the credits with the interim and none with the answer.
   */
  const smb2Async = (req: Smb2Req, final: ((o: ByteWriter) => void) | undefined, status = STATUS_OK): Uint8Array => {
    const head = (st: number, charge: number, credits: number): ByteWriter =>
      new ByteWriter()
        .bytes([0xfe, 0x53, 0x4d, 0x42])
        .u16(64)
        .u16(charge)
        .u32(st)
        .u16(req.command)
        .u16(credits)
        .u32(SMB2_FLAGS_SERVER_TO_REDIR | SMB2_FLAGS_ASYNC | (req.flags & SMB2_FLAGS_PRIORITY))
        .u32(0)
        .u64(req.messageId)
        .u64(req.messageId)
        .u64(sessionId)
        .zeros(16);
    const interim = smb2Frame(head(STATUS_PENDING, 0, grant(req)).u16(9).u16(0).u32(0).u8(0x21));
    if (!final) return interim;
    const o = head(status, req.creditCharge, 0);
    final(o);
    return concatBytes([interim, smb2Frame(o)]);
  };

  const smb2Frame = (o: ByteWriter): Uint8Array => nbss(NBSS_MESSAGE, o.done(), true);

  const smb2Error = (req: Smb2Req, status: number, sid = sessionId): Uint8Array =>
    smb2Frame(smb2Header(req, req.command, status, 1, sid, req.treeId).u16(9).u16(0).u32(0).u8(0));

  /**
   * Credits granted with a reply. smbd 4.17 (measured): the charge back, plus what the client asks beyond one
   * while its window is under 8192; a session setup gets its charge back until it succeeds, and then the
   * window filled to 8192 whatever was asked.
   * The others: what was asked, at most 64.
   */
  let creditWindow = 1;
  const grant = (req: Smb2Req, sessionDone = false): number => {
    if (t.smbd !== "4.17-smb2-only") return Math.min(Math.max(req.credits, 1), 64);
    const charge = Math.max(req.creditCharge, 1);
    creditWindow = Math.max(creditWindow - charge, 0);
    const possible = Math.max(8192 - creditWindow - charge, 0);
    // A session setup still in progress gets its charge back and nothing more.
    const extra = sessionDone ? possible : req.command === SMB2_SESSION_SETUP ? 0 : Math.min(Math.max(req.credits, 1) - 1, possible);
    const g = charge + extra;
    creditWindow += g;
    return g;
  };

  /**
   * Negotiate response; `req` absent when answering an SMB1 negprot that chose an SMB2 dialect. Multi-channel
   * and encryption (3.0, 3.0.2) are offered only to a client that offered them (measured on smbd 4.17).
   */
  function smb2NegotiateReply(req: Smb2Req | undefined, d: number, contexts: { bytes: Uint8Array; count: number } | undefined): Uint8Array {
    const clientCaps = req && req.raw.length >= 64 + 12 ? rd32(req.raw, 64 + 8) : 0;
    let caps = t.smb2Capabilities & ~(SMB2_CAP_MULTI_CHANNEL | SMB2_CAP_ENCRYPTION);
    if (d === 0x0202) caps &= SMB2_CAP_DFS;
    else if (d < 0x0300) caps &= SMB2_CAP_DFS | SMB2_CAP_LEASING | SMB2_CAP_LARGE_MTU;
    else {
      if (t.smb2Capabilities & clientCaps & SMB2_CAP_MULTI_CHANNEL) caps |= SMB2_CAP_MULTI_CHANNEL;
      if (d < 0x0311 && clientCaps & SMB2_CAP_ENCRYPTION) caps |= SMB2_CAP_ENCRYPTION;
    }
    const maxSize = d === 0x0202 ? 0x10000 : t.smb2MaxSize;
    const blob = spnego(t.smb2SpnegoHint) ?? new Uint8Array(0);
    const o = smb2Header(req, SMB2_NEGOTIATE, STATUS_OK, 1, 0n);
    const ctxCount = contexts?.count ?? 0;
    o.u16(65).u16(0x0001).u16(d).u16(ctxCount).bytes(serverGuid).u32(caps).u32(maxSize).u32(maxSize).u32(maxSize);
    // SystemTime is the host's clock; ServerStartTime is the boot time on Windows, 0 from smbd.
    o.u64(t.smb2SystemTime ? systemTime() : 0n).u64(windows ? filetime(hostTime(host, bootTime(host, ctx.now()))) : 0n);
    o.u16(0x80).u16(blob.length);
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
    // No common dialect: STATUS_NOT_SUPPORTED, and the connection stays (smbd 4.17, measured); smbd 3.6 knows only 2.002.
    if (chosen === undefined) {
      dialect = "none";
      return { write: smb2Error(req, t.smbd === "3.x" ? STATUS_INVALID_PARAMETER : STATUS_NOT_SUPPORTED, 0n), events };
    }
    let contexts: { bytes: Uint8Array; count: number } | undefined;
    if (chosen === 0x0311) {
      // SMB 3.1.1 needs the preauth-integrity (SHA-512) context and, when offered, encryption and signing.
      const ctxOff = rd32(m, 64 + 28); // NegotiateContextOffset, from the header start
      const ctxCount = rd16(m, 64 + 32);
      let sawSha512 = false;
      let cipher = -1;
      let signing = -1;
      let at = ctxOff;
      for (let i = 0; i < ctxCount && i < 16 && at + 8 <= m.length; i++) {
        const type = rd16(m, at);
        const len = rd16(m, at + 2);
        const data = m.subarray(at + 8, Math.min(at + 8 + len, m.length));
        const list = (first: number): number[] => {
          const n = data.length >= first ? rd16(data, first - 2) : 0;
          const out: number[] = [];
          for (let k = 0; k < n && k < 32 && first + 2 * k + 2 <= data.length; k++) out.push(rd16(data, first + 2 * k));
          return out;
        };
        if (type === 1) {
          const n = data.length >= 2 ? rd16(data, 0) : 0;
          for (let k = 0; k < n && 4 + 2 * k + 2 <= data.length; k++) if (rd16(data, 4 + 2 * k) === 1) sawSha512 = true;
        } else if (type === 2) {
          const offered = list(2);
          cipher = offered.includes(2) ? 2 : offered.includes(1) ? 1 : 0;
        } else if (type === 8) {
          const offered = list(2);
          signing = offered.includes(2) ? 2 : offered.includes(1) ? 1 : 0;
        }
        at = (at + 8 + len + 7) & ~7;
      }
      if (!sawSha512) return { write: smb2Error(req, STATUS_INVALID_PARAMETER, 0n), close: true, events };
      const c = new ByteWriter();
      c.u16(1).u16(38).u32(0).u16(1).u16(32).u16(1).bytes(ctx.random(32));
      let n = 1;
      const pad = () => {
        while (c.length % 8 !== 0) c.u8(0);
      };
      if (cipher >= 0) {
        pad();
        c.u16(2).u16(4).u32(0).u16(1).u16(cipher);
        n++;
      }
      if (signing >= 0 && t.smb2SigningContext) {
        pad();
        c.u16(8).u16(4).u32(0).u16(1).u16(signing);
        n++;
      }
      contexts = { bytes: c.done(), count: n };
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
    const wrapped = blob[0] === 0x60 || blob[0] === 0xa1;
    if (!ntlm) return { write: smb2Error(req, STATUS_LOGON_FAILURE) };
    const reply = (status: number, flags: number, token: Uint8Array | undefined): Uint8Array => {
      const o = smb2Header(req, SMB2_SESSION_SETUP, status, grant(req, status === STATUS_OK), sessionId);
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
      const type2 = ntlmChallenge(ntlmId, rd32(ntlm.msg, 12), challenge, hostTime(host, ctx.now()));
      return { write: reply(STATUS_MORE_PROCESSING, 0, wrapped ? Uint8Array.from(negTokenResp(1, type2)) : type2) };
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
      sessionKind = outcome;
      const token = wrapped ? Uint8Array.from(negTokenResp(0)) : undefined;
      return { write: reply(STATUS_OK, outcome === "guest" ? 0x0001 : outcome === "anonymous" ? 0x0002 : 0, token), events };
    }
    return { write: smb2Error(req, STATUS_INVALID_PARAMETER) };
  };

  // ------------------------------------------------------------------------------------------ shares

  /** The shares this host lists, in the order the server keeps them; the same on every connection. */
  const shareList = (): Share[] => {
    const paths = new Map(t.sharePaths.map((x) => [x.slice(0, x.indexOf(":")).toUpperCase(), x.slice(x.indexOf(":") + 1)]));
    /** smbd states a path as "C:" and the Unix path with backslashes; Windows as it is. */
    const dos = (p: string) => (windows ? p : `C:${p.replace(/\//g, "\\")}`);
    const parse = (spec: string, type: number): Share => {
      const i = spec.indexOf(":");
      const name = i < 0 ? spec : spec.slice(0, i);
      const path = paths.get(name.toUpperCase()) ?? (windows ? `C:\\${name}` : `/srv/samba/${name}`);
      return { name, type, comment: i < 0 ? "" : spec.slice(i + 1), path: dos(path), uses: 0 };
    };
    const pool = [...t.sharePool];
    const added: Share[] = [];
    const count = pool.length === 0 ? 0 : 1 + Math.floor(hostUnit(host, "smb-share-count") * 3);
    for (let i = 0; i < count && pool.length > 0; i++) {
      const k = Math.floor(hostUnit(host, "smb-share", String(i)) * pool.length);
      added.push(parse(pool.splice(k, 1)[0]!, 0));
    }
    if (windows) {
      // The administrative shares first (STYPE_SPECIAL), then IPC$, then what the owner shared.
      const admin = t.shares.map((x) => parse(x, 0x80000000));
      return [...admin, { name: "IPC$", type: 0x80000003, comment: "Remote IPC", path: "", uses: 1 }, ...added];
    }
    const version = t.nativeLanMan.replace(/^Samba /, "");
    const serverString = t.serverString.replace(/%v/g, version).replace(/%h/g, host.hostname.toLowerCase());
    const list = [...t.shares.map((x) => parse(x, 0)), ...added, { name: "IPC$", type: 0x80000003, comment: `IPC Service (${serverString})`, path: "C:\\tmp", uses: 1 }];
    // smbd 4 adds the session user's home when the configuration has [homes]: a guest is 'nobody'.
    if (t.homes && t.smbd !== "3.x") list.push({ name: "nobody", type: 0, comment: "Home Directories", path: dos(t.guestHome), uses: 0 });
    return list;
  };

  /** How a share other than IPC$ is refused to a guest: a share that exists wants a user; any other does not exist. */
  const refusedShare = (name: string): number => {
    // The guest's own home too: smbd refused `nobody` to nmap's guest with ACCESS_DENIED (measured).
    const known = shareList().some((x) => x.name.toUpperCase() === name.toUpperCase());
    return known ? STATUS_ACCESS_DENIED : STATUS_BAD_NETWORK_NAME;
  };

  const newTreeId = (): number => {
    if (windows) return trees.size + 1; // Windows numbers its trees
    const r = ctx.random(4);
    return ((r[0]! | (r[1]! << 8) | (r[2]! << 16) | (r[3]! << 24)) >>> 0) || 1; // smbd: a random 32-bit id
  };

  const fileKey = (id: Uint8Array): string => hexOf(id);

  const newPipe = (): SrvsvcPipe =>
    new SrvsvcPipe({
      shares: shareList(),
      secondaryAddress: windows || t.smbd === "3.x" ? "\\PIPE\\srvsvc" : "\\pipe\\srvsvc",
      bindTimeFeatures: !windows && t.smbd !== "3.x" ? true : windows && t.ntlmTimestamp,
      referentBase: windows ? 0 : 3,
      getInfoReferentBase: windows ? 0 : 1,
      level2: !windows,
      assocGroup: () => {
        const r = ctx.random(2);
        return (r[0]! | (r[1]! << 8)) || 0x53f0;
      },
    });

  const pipeEvents = (e: { command: string }[]): ProtocolEvent[] => e.map((x) => ({ action: "command", command: x.command }));

  const handleSmb2 = (m: Uint8Array): Reply => {
    const req = parseSmb2(m);
    if (!req) return { close: true, events: [{ action: "error", message: "malformed SMB2 message" }] };
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
        const err = needSession();
        if (err) return { write: err, events: [{ action: "command", command: `SMB2 TREE_CONNECT ${clip(path)}` }] };
        const share = path.slice(path.lastIndexOf("\\") + 1);
        if (share.toUpperCase() !== "IPC$" || trees.size >= MAX_TREES) {
          const status = refusedShare(share);
          return { write: smb2Error(req, status), events: [{ action: "command", command: `SMB2 TREE_CONNECT ${clip(path)} (${status === STATUS_ACCESS_DENIED ? "access denied" : "bad network name"})` }] };
        }
        const id = newTreeId();
        trees.add(id);
        const o = smb2Header(req, SMB2_TREE_CONNECT, STATUS_OK, grant(req), sessionId, id);
        // IPC$: a pipe share. smbd: no flags, and what a guest may do there (measured on 4.17); Windows: no caching.
        if (windows) o.u16(16).u8(0x02).u8(0).u32(0x00000030).u32(0).u32(0x001f01ff);
        else o.u16(16).u8(0x02).u8(0).u32(0).u32(0).u32(0x001f00a9);
        return { write: smb2Frame(o), events: [{ action: "command", command: `SMB2 TREE_CONNECT ${clip(path)}` }] };
      }
      case SMB2_TREE_DISCONNECT: {
        const err = needSession();
        if (err) return { write: err };
        if (!trees.has(req.treeId)) return { write: smb2Error(req, STATUS_NETWORK_NAME_DELETED) };
        trees.delete(req.treeId);
        for (const [k, f] of pipes) if (f.tree === req.treeId) pipes.delete(k);
        return { write: smb2Frame(smb2Header(req, SMB2_TREE_DISCONNECT, STATUS_OK, grant(req), sessionId, req.treeId).u16(4).u16(0)) };
      }
      case SMB2_CREATE: {
        const off = rd16(m, 64 + 44);
        const len = rd16(m, 64 + 46);
        const name = off + len <= m.length ? decodeUtf16(m.subarray(off, off + Math.min(len, 2048))) : "";
        const events: ProtocolEvent[] = [{ action: "command", command: `SMB2 CREATE ${clip(name)}` }];
        const err = needSession();
        if (err) return { write: err, events };
        if (!trees.has(req.treeId)) return { write: smb2Error(req, STATUS_NETWORK_NAME_DELETED), events };
        const pipeName = name.replace(/^\\+/, "").toLowerCase();
        if (pipeName !== "srvsvc") return { write: smb2Error(req, KNOWN_PIPES.has(pipeName) ? STATUS_ACCESS_DENIED : STATUS_OBJECT_NAME_NOT_FOUND), events };
        if ((sessionKind === "anonymous" && !t.anonymousShareEnum) || pipes.size >= MAX_PIPES) return { write: smb2Error(req, STATUS_ACCESS_DENIED), events };
        const id = concatBytes([ctx.random(4), new Uint8Array(4), ctx.random(4), new Uint8Array(4)]);
        pipes.set(fileKey(id), { pipe: newPipe(), tree: req.treeId, id });
        const o = smb2Header(req, SMB2_CREATE, STATUS_OK, grant(req), sessionId, req.treeId);
        // Opened (action 1); a pipe's times are the Unix epoch, its attributes FILE_ATTRIBUTE_NORMAL (measured on 4.17).
        o.u16(0x59).u8(0).u8(0).u32(1);
        for (let i = 0; i < 4; i++) o.u64(PIPE_TIME);
        o.u64(0n).u64(0n).u32(0x80).u32(0).bytes(id).u32(0).u32(0);
        return { write: smb2Frame(o), events };
      }
      case SMB2_CLOSE: {
        const err = needSession();
        if (err) return { write: err };
        const key = fileKey(m.subarray(64 + 8, 64 + 24));
        if (!pipes.has(key)) return { write: smb2Error(req, STATUS_FILE_CLOSED) };
        pipes.delete(key);
        return { write: smb2Frame(smb2Header(req, SMB2_CLOSE, STATUS_OK, grant(req), sessionId, req.treeId).u16(60).zeros(58)) };
      }
      case SMB2_WRITE: {
        const err = needSession();
        if (err) return { write: err };
        const f = pipes.get(fileKey(m.subarray(64 + 16, 64 + 32)));
        if (!f) return { write: smb2Error(req, STATUS_FILE_CLOSED) };
        if (f.pipe.disconnected) return { write: smb2Error(req, STATUS_PIPE_DISCONNECTED) };
        const dataOff = rd16(m, 64 + 2);
        const dataLen = rd32(m, 64 + 4);
        const data = m.subarray(Math.min(dataOff, m.length), Math.min(dataOff + dataLen, m.length));
        const events = pipeEvents(f.pipe.write(data));
        const o = smb2Header(req, SMB2_WRITE, STATUS_OK, grant(req), sessionId, req.treeId);
        o.u16(17).u16(0).u32(data.length).u32(0).u16(0).u16(0);
        return { write: smb2Frame(o), events };
      }
      case SMB2_READ: {
        const err = needSession();
        if (err) return { write: err };
        const f = pipes.get(fileKey(m.subarray(64 + 16, 64 + 32)));
        if (!f) return { write: smb2Error(req, STATUS_FILE_CLOSED) };
        // Nothing to read: smbd waits for the pipe (an interim answer, then nothing until data comes).
        if (f.pipe.available === 0) return { write: smb2Async(req, undefined) };
        const r = f.pipe.read(Math.min(rd32(m, 64 + 4), t.smb2MaxSize));
        const o = smb2Header(req, SMB2_READ, r.more ? STATUS_BUFFER_OVERFLOW : STATUS_OK, grant(req), sessionId, req.treeId);
        o.u16(17).u8(0x50).u8(0).u32(r.data.length).u32(0).u32(0).bytes(r.data);
        return { write: smb2Frame(o) };
      }
      case SMB2_IOCTL: {
        const ctl = rd32(m, 64 + 4);
        const events: ProtocolEvent[] = [{ action: "command", command: `SMB2 IOCTL 0x${ctl.toString(16).padStart(8, "0")}` }];
        const err = needSession();
        if (err) return { write: err, events };
        if (ctl === FSCTL_DFS_GET_REFERRALS) return { write: smb2Error(req, STATUS_NOT_FOUND), events };
        if (ctl !== FSCTL_PIPE_TRANSCEIVE) return { write: smb2Error(req, STATUS_INVALID_DEVICE_REQUEST), events };
        const id = m.subarray(64 + 8, 64 + 24);
        const f = pipes.get(fileKey(id));
        if (!f) return { write: smb2Error(req, STATUS_FILE_CLOSED), events };
        if (f.pipe.disconnected) return { write: smb2Error(req, STATUS_PIPE_DISCONNECTED), events };
        const inOff = rd32(m, 64 + 24);
        const inLen = rd32(m, 64 + 28);
        const input = m.subarray(Math.min(inOff, m.length), Math.min(inOff + inLen, m.length));
        const pipeEv = pipeEvents(f.pipe.write(input));
        const r = f.pipe.read(Math.min(rd32(m, 64 + 44), t.smb2MaxSize));
        const body = (o: ByteWriter): void => {
          o.u16(49).u16(0).u32(ctl).bytes(id).u32(0x70).u32(0).u32(0x70).u32(r.data.length).u32(0).u32(0).bytes(r.data);
        };
        const status = r.more ? STATUS_BUFFER_OVERFLOW : STATUS_OK;
        // smbd 4.17 hands pipes to samba-dcerpcd: the answer comes later than smbd waits before going async.
        if (t.smbd === "4.17-smb2-only") return { write: smb2Async(req, body, status), events: [...events, ...pipeEv] };
        const o = smb2Header(req, SMB2_IOCTL, status, grant(req), sessionId, req.treeId);
        body(o);
        return { write: smb2Frame(o), events: [...events, ...pipeEv] };
      }
      default: {
        const events: ProtocolEvent[] = [{ action: "command", command: `SMB2 command 0x${req.command.toString(16).padStart(2, "0")}` }];
        const err = needSession();
        if (err) return { write: err, events };
        return { write: smb2Error(req, req.command > 0x12 ? STATUS_INVALID_PARAMETER : STATUS_ACCESS_DENIED), events };
      }
    }
  };

  // ------------------------------------------------------------------------------------------ NetBIOS

  const nbssReply = (type: number, payload: number[] = []): Uint8Array => Uint8Array.from([type, 0, 0, payload.length, ...payload]);

  /**
   * A session request: smbd answers it positively whatever names it carries, once (reply_special()); Windows
   * only for its own name or *SMBSERVER. Malformed names: smbd 3.0 keeps quiet, 4.x says "called name not present"
   * and hangs up.
   */
  const sessionRequest = (body: Uint8Array): Reply => {
    if (gotSession) return { close: true }; // "multiple session request not permitted"
    const called = nbName(body, 0);
    const calling = called ? nbName(body, called.next) : undefined;
    const refuse: Reply = { write: nbssReply(NBSS_NEGATIVE, [NBSS_CALLED_NAME_NOT_PRESENT]), close: true };
    if (!called || !calling) return windows || t.smbd !== "3.x" ? refuse : {};
    if (windows) {
      const own = called.name.toUpperCase() === netbiosName || called.name.toUpperCase() === "*SMBSERVER";
      if (!own || called.suffix !== 0x20) return refuse;
    } else if (calling.suffix === 0x52) {
      // A Pathworks session ('R'): no thanks.
      return t.smbd === "3.x" ? { write: nbssReply(NBSS_NEGATIVE) } : refuse;
    }
    gotSession = true;
    return { write: nbssReply(NBSS_POSITIVE) };
  };

  /** smbd's reply_special() for everything that is not a session message. */
  const specialPacket = (type: number, body: Uint8Array): Reply => {
    if (type === NBSS_REQUEST) return sessionRequest(body);
    // smbd 4 exits after any answer that is not a positive session response ("invalid netbios session").
    const thenExit = t.smbd !== "3.x";
    if (type === NBSS_KEEPALIVE_REQ) return { write: nbssReply(NBSS_KEEPALIVE), close: thenExit };
    if (type === NBSS_POSITIVE || type === NBSS_NEGATIVE || type === NBSS_RETARGET) return { write: nbssReply(0), close: thenExit };
    return {}; // keepalives and anything else: ignored
  };

  /** smbd: "Non-SMB packet of length N. Terminating server"; Windows hangs up too. */
  const notSmb: Reply = { close: true, events: [{ action: "error", message: "not an SMB message" }] };
  const isSmb1 = (b: Uint8Array) => startsWithBytes(b, 0, [0xff, 0x53, 0x4d, 0x42]);
  const isSmb2 = (b: Uint8Array) => startsWithBytes(b, 0, [0xfe, 0x53, 0x4d, 0x42]);

  /** One complete frame, as smbd (or Windows) handles it. */
  const handleFrame = (f: Frame): Reply => {
    const body = f.body;
    if (windows) {
      if (netbiosTransport && f.type === NBSS_REQUEST) return sessionRequest(body);
      if (f.type === NBSS_KEEPALIVE && netbiosTransport) return {};
      if (f.type !== NBSS_MESSAGE) return { close: true };
      if (isSmb1(body) && smb1Enabled && dialect !== "smb2") return handleSmb1(body);
      if (isSmb1(body) && dialect === "none") return handleSmb1(body); // SMB1 off: the negprot says "no dialect"
      if (isSmb2(body) && smb2Enabled) return handleSmb2(body);
      return notSmb;
    }
    if (dialect === "smb2") {
      // smbd's SMB2 reader: other NetBIOS packets are read and ignored ("ignore NBT[0x..] msg").
      if (f.type !== NBSS_MESSAGE) return {};
      return isSmb2(body) ? handleSmb2(body) : notSmb;
    }
    if (t.smbd === "4.17-smb2-only" && dialect === "none") {
      // smbd 4.17 with SMB1 off reads the first request strictly: a session request, or an SMB negotiate.
      if (f.type === NBSS_REQUEST) return sessionRequest(body);
      if (f.type !== NBSS_MESSAGE || body.length < SMB1_MIN) return { close: true };
      if (isSmb1(body)) return body[4] === SMB_COM_NEGOTIATE ? handleSmb1(body) : { close: true };
      return isSmb2(body) && smb2Enabled ? handleSmb2(body) : { close: true };
    }
    if (f.type !== NBSS_MESSAGE) return specialPacket(f.type, body);
    if (isSmb2(body) && smb2Enabled && dialect === "none") return handleSmb2(body);
    // "Non-SMB packet of length N. Terminating server"
    if (body.length < SMB1_MIN || !isSmb1(body)) return notSmb;
    if (!smb1Enabled && dialect !== "none") return { close: true };
    return handleSmb1(body);
  };

  // ------------------------------------------------------------------------------------------ time

  const treeOpen = (): boolean => tid !== 0 || trees.size > 0;
  /** smbd's SMB2 reader is asynchronous: its timers run while a frame is half in. The SMB1 reader blocks. */
  const readerBlocks = (): boolean => dialect !== "smb2";
  const idleMs = (): number => drawMs(t.idleCheckMs, ctx.random);

  // ------------------------------------------------------------------------------------------ session

  const reader = new NbssReader(FRAME_KEEP);

  return {
    buffered: () => {
      let n = reader.buffered;
      for (const f of pipes.values()) n += f.pipe.buffered;
      for (const p of smb1Pipes.values()) n += p.buffered;
      return n;
    },

    open(): Reply {
      // SMB is client-first: the server says nothing until spoken to. smbd forks a child first.
      const r: Reply = {};
      if (!windows) {
        const fork = drawMs(t.forkMs, ctx.random);
        if (fork > 0) r.delayMs = fork;
      }
      if (t.idleCheck === "timer") r.timers = { deadtime: idleMs() };
      else if (t.idleCheck === "select") r.timers = { select: idleMs() };
      return r;
    },

    timer(name: string): Reply {
      if (closed) return {};
      if (name === "deadtime") {
        // smbd blocked reading the rest of a frame runs no timers; the check waits for the frame.
        if (reader.midFrame && readerBlocks()) {
          deadtimeOverdue = true;
          return {};
        }
        if (treeOpen()) return { timers: { deadtime: idleMs() } };
        closed = true;
        return { close: true }; // "Closing idle connection"
      }
      if (name === "select") {
        // smbd 3.0: the first select timeout only notes the time; any later one closes an idle connection.
        if (selectTimedOut && !treeOpen()) {
          closed = true;
          return { close: true };
        }
        selectTimedOut = true;
        return { timers: { select: idleMs() } };
      }
      return {};
    },

    data(chunk: Uint8Array): Reply {
      if (closed) return {};
      const writes: Uint8Array[] = [];
      const events: ProtocolEvent[] = [];
      let stop: "fin" | "reset" | undefined;
      /** NetBT hangs up after its negative response in good order, whatever is left unread. */
      let graceful = false;
      const take = (r: Reply): boolean => {
        if (r.write !== undefined) writes.push(toBytes(r.write));
        if (r.events?.length) events.push(...r.events);
        if (r.close) stop = r.close === "reset" ? "reset" : "fin";
        return stop !== undefined;
      };
      const consumed = reader.feed(chunk, {
        lengthOf: (h) => (windows ? (netbiosTransport ? nbtLength(h) : tcpLength(h)) : dialect === "smb2" ? tcpLength(h) : nbtLength(h)),
        onHeader: (type) => {
          if (!windows) return "read";
          if (sessionRequired && !gotSession && type !== NBSS_REQUEST) {
            // NetBT: no session yet, so anything but a session request gets "unspecified error" and a hang-up.
            take({ write: nbssReply(NBSS_NEGATIVE, [NBSS_UNSPECIFIED_ERROR]), close: true });
            graceful = true;
            return "close";
          }
          if (!netbiosTransport && type !== NBSS_MESSAGE) {
            take({ close: true }); // Direct TCP: the first byte must be zero
            return "close";
          }
          return "read";
        },
        onFrame: (f) => {
          if (take(handleFrame(f))) return true;
          if (deadtimeOverdue && !reader.midFrame) {
            // The check smbd missed while it read: it runs as soon as the frame is handled.
            deadtimeOverdue = false;
            if (!treeOpen()) return take({ close: true });
          }
          return false;
        },
      });
      const out: Reply = {};
      if (writes.length > 0) out.write = writes.length === 1 ? writes[0]! : concatBytes(writes);
      if (events.length > 0) out.events = events;
      if (stop) {
        closed = true;
        // A daemon that exits with bytes still unread in its socket makes the kernel send a reset.
        out.close = stop === "reset" || (consumed < chunk.length && !graceful) ? "reset" : true;
        return out;
      }
      if (t.idleCheck === "select") {
        // smbd 3.0 blocks reading the rest of a frame; between frames it waits in select() for 60 s.
        out.timers = { select: reader.midFrame ? null : idleMs() };
      } else if (t.idleCheck === "timer" && deadtimeOverdue && !reader.midFrame) {
        deadtimeOverdue = false;
        if (!treeOpen()) {
          closed = true;
          out.close = true;
        } else out.timers = { deadtime: idleMs() };
      }
      return out;
    },
  };
}
