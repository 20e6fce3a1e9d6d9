// SSH's unencrypted binary packets (RFC 4253 §6) as they travel before NEWKEYS: the client's KEXINIT (its
// lists give the HASSH fingerprint) and the server's key exchange, summarized for replay. Everything read
// here came from the network: every length is checked against what is there.
import { createHash } from "node:crypto";

export const MSG = { DISCONNECT: 1, NEWKEYS: 21, KEXINIT: 20, KEX_31: 31, KEX_GEX_REPLY: 33 } as const;

/** A packet larger than this is not a plaintext key-exchange packet (OpenSSH's own limit is 256 KiB). */
export const MAX_PLAIN_PACKET = 35_000;

export interface KexinitLists {
  kex: string[];
  hostKey: string[];
  encCs: string[];
  encSc: string[];
  macCs: string[];
  macSc: string[];
  compCs: string[];
  compSc: string[];
  firstKexFollows: boolean;
}

/** Payloads of the whole packets at the start of `bytes` (no MAC: before NEWKEYS); `used` is how far they go. */
export function plainPackets(bytes: Uint8Array, max = 16): { payloads: Uint8Array[]; used: number; bad: boolean } {
  const payloads: Uint8Array[] = [];
  let at = 0;
  while (payloads.length < max && at + 5 <= bytes.length) {
    const len = u32(bytes, at);
    const pad = bytes[at + 4]!;
    if (len < 5 || len > MAX_PLAIN_PACKET || pad + 1 > len) return { payloads, used: at, bad: true };
    if (at + 4 + len > bytes.length) break;
    payloads.push(bytes.subarray(at + 5, at + 4 + len - pad));
    at += 4 + len;
  }
  return { payloads, used: at, bad: false };
}

/** The name-lists of a KEXINIT payload (message 20, 16-byte cookie, ten lists, a boolean, a reserved word). */
export function parseKexinit(payload: Uint8Array): KexinitLists | undefined {
  if (payload[0] !== MSG.KEXINIT || payload.length < 17) return undefined;
  let at = 17;
  const lists: string[][] = [];
  for (let i = 0; i < 10; i++) {
    if (at + 4 > payload.length) return undefined;
    const n = u32(payload, at);
    if (at + 4 + n > payload.length) return undefined;
    const text = Buffer.from(payload.subarray(at + 4, at + 4 + n)).toString("latin1");
    lists.push(text === "" ? [] : text.split(","));
    at += 4 + n;
  }
  const [kex, hostKey, encCs, encSc, macCs, macSc, compCs, compSc] = lists as [string[], string[], string[], string[], string[], string[], string[], string[]];
  return { kex, hostKey, encCs, encSc, macCs, macSc, compCs, compSc, firstKexFollows: (payload[at] ?? 0) !== 0 };
}

/** HASSH of a client's KEXINIT: the string "kex;enc;mac;comp" of its client-to-server lists and its MD5. */
export function hassh(k: KexinitLists): { hassh: string; hasshString: string } {
  const hasshString = [k.kex, k.encCs, k.macCs, k.compCs].map((l) => l.join(",")).join(";");
  return { hassh: createHash("md5").update(hasshString, "latin1").digest("hex"), hasshString };
}

/** A public key blob's fingerprint as `ssh-keygen -l` prints it: SHA256:base64 without padding. */
export function sha256Fingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named at the start of a public key blob, when the blob is one. */
export function blobKeyType(blob: Uint8Array): string | undefined {
  if (blob.length < 4) return undefined;
  const n = u32(blob, 0);
  if (n < 3 || n > 64 || 4 + n > blob.length) return undefined;
  const name = Buffer.from(blob.subarray(4, 4 + n)).toString("latin1");
  return /^[a-z0-9@.-]+$/.test(name) ? name : undefined;
}

/** An SSH "string": a 32-bit length, then the bytes (text as latin1, byte for byte). */
export function sshString(b: Uint8Array | string): Buffer {
  const body = typeof b === "string" ? Buffer.from(b, "latin1") : Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

function readString(p: Uint8Array, at: number): { value: Uint8Array; next: number } | undefined {
  if (at + 4 > p.length) return undefined;
  const n = u32(p, at);
  if (at + 4 + n > p.length) return undefined;
  return { value: p.subarray(at + 4, at + 4 + n), next: at + 4 + n };
}

/**
 * What the server wrote during its key exchange, without the random parts: the KEXINIT lists (not the
 * cookie or padding), the host key's type and fingerprint from the KEX reply, a DH group's size; it stops
 * at NEWKEYS, after which everything is ciphertext.
 */
export function summarizeKeyExchange(written: Uint8Array): string[] {
  const out: string[] = [];
  const { payloads, used, bad } = plainPackets(written, 8);
  for (const p of payloads) {
    const type = p[0];
    if (type === MSG.KEXINIT) {
      const k = parseKexinit(p);
      if (!k) {
        out.push("kexinit: malformed");
        continue;
      }
      out.push(`kex: ${k.kex.join(",")}`, `host key algorithms: ${k.hostKey.join(",")}`);
      out.push(`ciphers: ${k.encCs.join(",")} | ${k.encSc.join(",")}`, `macs: ${k.macCs.join(",")} | ${k.macSc.join(",")}`);
      out.push(`compression: ${k.compCs.join(",")} | ${k.compSc.join(",")}`, `first kex follows: ${k.firstKexFollows}`);
    } else if (type === MSG.KEX_31 || type === MSG.KEX_GEX_REPLY) {
      const first = readString(p, 1);
      const keyType = first && blobKeyType(first.value);
      if (first && keyType) out.push(`host key (message ${type}): ${keyType} ${sha256Fingerprint(first.value)}`);
      else if (first) {
        const g = readString(p, first.next);
        const bits = first.value.length > 0 && first.value[0] === 0 ? (first.value.length - 1) * 8 : first.value.length * 8;
        out.push(`dh group (message ${type}): ${bits} bits, g ${g ? Buffer.from(g.value).toString("hex") : "?"}`);
      } else out.push(`message ${type}: malformed`);
    } else if (type === MSG.DISCONNECT) {
      const reason = p.length >= 5 ? u32(p, 1) : -1;
      const text = readString(p, 5);
      out.push(`disconnect ${reason}: ${text ? Buffer.from(text.value).toString("latin1") : ""}`);
    } else if (type === MSG.NEWKEYS) {
      out.push("newkeys");
      return out;
    } else out.push(`message ${type}`);
  }
  if (bad) out.push("not a plaintext packet");
  else if (used < written.length) out.push(`${written.length - used} bytes of an unfinished packet`);
  return out;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
