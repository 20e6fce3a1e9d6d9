// NTLMSSP (MS-NLMP) for any server that speaks it (SMB today; HTTP, SMTP, MSSQL and RDP later): the server's
// CHALLENGE, the client's AUTHENTICATE, and the response as hashcat reads it.
import type { ProtocolEvent } from "../types.ts";
import { ByteWriter, clip, decodeUtf16, filetime, hex, indexOfBytes, latin1Bytes, rd16, rd32, toLatin1, utf16 } from "./bytes.ts";

export const NTLMSSP_SIGNATURE = [0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00];

/** Who the server says it is in its CHALLENGE. */
export interface NtlmIdentity {
  /** The target name and NetBIOS computer name ("FILES02"). */
  netbiosName: string;
  /** NetBIOS domain AV pair: a standalone server names itself. */
  netbiosDomain: string;
  /** DNS computer name ("files02.example.lan"). */
  dnsName: string;
  /** DNS domain AV pair ("" on a standalone Samba). */
  dnsDomain: string;
  /** "6.1.0" (sent as the version field, with a timestamp AV pair), or "" for servers that send none (Samba 3). */
  version: string;
  /** Whether the target info carries a timestamp AV pair; default: when a version is sent (Windows 2003 and Samba 3.6 have a version but no timestamp). */
  timestamp?: boolean;
  /** Send the version only when the client's NEGOTIATE asks for it (MS-NLMP; Windows, Samba 3.6); default: always. */
  versionOnRequest?: boolean;
}

/** The CHALLENGE message (type 2) answering a client's NEGOTIATE flags. `now` fills the timestamp AV pair. */
export function ntlmChallenge(id: NtlmIdentity, clientFlags: number, challenge: Uint8Array, now: Date): Uint8Array {
  const unicode = (clientFlags & 0x1) !== 0 || (clientFlags & 0x2) === 0;
  const withVersion = id.version !== "" && (!id.versionOnRequest || (clientFlags & 0x02000000) !== 0);
  const withTimestamp = id.timestamp ?? id.version !== "";
  // Echo what the client may ask for; always: request target, NTLM, always sign, target type server, target info.
  let flags = (clientFlags & (0x2 | 0x10 | 0x20 | 0x80000 | 0x20000000 | 0x40000000 | 0x80000000)) | 0x4 | 0x200 | 0x8000 | 0x20000 | 0x800000;
  flags |= unicode ? 0x1 : 0;
  if (unicode) flags &= ~0x2;
  if (withVersion) flags |= 0x02000000;
  const enc = (s: string) => (unicode ? utf16(s) : latin1Bytes(s));
  const targetName = enc(id.netbiosName);
  const av = new ByteWriter();
  const pair = (avId: number, v: ArrayLike<number>) => av.u16(avId).u16(v.length).bytes(v);
  pair(2, utf16(id.netbiosDomain));
  pair(1, utf16(id.netbiosName));
  pair(4, utf16(id.dnsDomain));
  pair(3, utf16(id.dnsName));
  if (withTimestamp) pair(7, new ByteWriter().u64(filetime(now)).done());
  pair(0, []);
  const info = av.done();
  const head = withVersion ? 56 : 48;
  const m = new ByteWriter().bytes(NTLMSSP_SIGNATURE).u32(2);
  m.u16(targetName.length).u16(targetName.length).u32(head);
  m.u32(flags >>> 0).bytes(challenge).zeros(8);
  m.u16(info.length).u16(info.length).u32(head + targetName.length);
  if (withVersion) {
    const [maj = 6, min = 1, build = 0] = id.version.split(".").map((x) => Number.parseInt(x, 10) || 0);
    m.u8(maj).u8(min).u16(build).zeros(3).u8(15); // NTLMRevisionCurrent: NTLMSSP_REVISION_W2K3
  }
  return m.bytes(targetName).bytes(info).done();
}

/** The parts of an AUTHENTICATE message (type 3) worth keeping. */
export interface NtlmAuth {
  user: string;
  domain: string;
  workstation: string;
  lm: Uint8Array;
  nt: Uint8Array;
}

function field(msg: Uint8Array, at: number): Uint8Array | undefined {
  const len = rd16(msg, at);
  const off = rd32(msg, at + 4);
  if (len === 0) return new Uint8Array(0);
  if (off + len > msg.length || len > 4096) return undefined;
  return msg.subarray(off, off + len);
}

/** Parses an AUTHENTICATE message; undefined when its fields point outside it. */
export function parseNtlmAuth(msg: Uint8Array): NtlmAuth | undefined {
  if (msg.length < 52) return undefined;
  const flags = msg.length >= 64 ? rd32(msg, 60) : 0x1;
  const lm = field(msg, 12);
  const nt = field(msg, 20);
  const dom = field(msg, 28);
  const user = field(msg, 36);
  const ws = field(msg, 44);
  if (!lm || !nt || !dom || !user || !ws) return undefined;
  const text = (b: Uint8Array) => ((flags & 0x1) !== 0 ? decodeUtf16(b) : toLatin1(b));
  return { user: text(user), domain: text(dom), workstation: text(ws), lm, nt };
}

/** Finds the NTLMSSP message inside a SPNEGO token (or a raw one) without a full ASN.1 parser. */
export function ntlmFromBlob(blob: Uint8Array): { msg: Uint8Array; type: number } | undefined {
  const at = indexOfBytes(blob, NTLMSSP_SIGNATURE);
  if (at < 0 || at + 12 > blob.length) return undefined;
  const msg = blob.subarray(at);
  return { msg, type: rd32(msg, 8) };
}

/** A captured challenge-response, in the exact line hashcat (and John) read. */
export interface NtlmHash {
  hash: string;
  type: "netntlmv2" | "netntlmv1";
  hashcatMode: 5600 | 5500;
}

/**
 * The response with the challenge it answers: NTLMv2 (an NT response longer than 24 bytes) as
 * user::domain:challenge:NTProofStr:blob (mode 5600), NTLMv1 as user::domain:lm:nt:challenge (mode 5500).
 * Undefined when there is no response to crack (anonymous, or no challenge was sent).
 */
export function netNtlmHash(a: NtlmAuth, challenge: Uint8Array): NtlmHash | undefined {
  if (a.nt.length === 0 || challenge.length !== 8) return undefined;
  if (a.nt.length > 24) {
    return { hash: `${a.user}::${a.domain}:${hex(challenge)}:${hex(a.nt.subarray(0, 16))}:${hex(a.nt.subarray(16))}`, type: "netntlmv2", hashcatMode: 5600 };
  }
  return { hash: `${a.user}::${a.domain}:${hex(a.lm)}:${hex(a.nt)}:${hex(challenge)}`, type: "netntlmv1", hashcatMode: 5500 };
}

/**
 * The login event of an AUTHENTICATE that answered `challenge`, as every NTLM-speaking face logs it: the
 * user, the domain, the workstation and the line hashcat reads.
 */
export function ntlmLoginEvent(method: string, a: NtlmAuth, challenge: Uint8Array): ProtocolEvent {
  const hash = netNtlmHash(a, challenge);
  return {
    action: "login",
    method,
    user: clip(a.user),
    ...(a.domain ? { domain: clip(a.domain) } : {}),
    ...(hash ? { hash: { value: clip(hash.hash, 4096), type: hash.type, hashcatMode: hash.hashcatMode } } : {}),
    ...(a.workstation ? { client: { workstation: clip(a.workstation, 80) } } : {}),
  };
}
