// A small BER reader and writer for LDAPv3 (RFC 4511 uses a subset of X.690 BER): single-byte tags,
// definite lengths only (short form, or long form of up to 4 length bytes), nesting bounded by the caller.
// Input is hostile: every read checks its bounds and returns undefined instead of reading past them.

/** One TLV: its tag byte, where its value starts and ends in the buffer. */
export interface Tlv {
  tag: number;
  constructed: boolean;
  start: number;
  end: number;
}

/**
 * The header of a TLV at `at`: undefined when more bytes are needed (`need` says so) or `bad` when it
 * cannot be BER as LDAP uses it (a multi-byte tag, an indefinite or over-long length).
 */
export type Header = { tag: number; headerLength: number; length: number } | "need" | "bad";

export function readHeader(b: Uint8Array, at: number, end = b.length): Header {
  if (at >= end) return "need";
  const tag = b[at]!;
  if ((tag & 0x1f) === 0x1f) return "bad";
  if (at + 1 >= end) return "need";
  const first = b[at + 1]!;
  if (first < 0x80) return { tag, headerLength: 2, length: first };
  const n = first & 0x7f;
  if (n === 0 || n > 4) return "bad"; // indefinite length (n = 0) is not allowed in LDAP; 2^32 bytes is plenty
  if (at + 2 + n > end) return "need";
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + b[at + 2 + i]!;
  return { tag, headerLength: 2 + n, length: len };
}

/** The TLV at `at`, whole within [at, end); undefined when it is not. */
export function readTlv(b: Uint8Array, at: number, end: number): Tlv | undefined {
  const h = readHeader(b, at, end);
  if (typeof h === "string") return undefined;
  const start = at + h.headerLength;
  if (start + h.length > end) return undefined;
  return { tag: h.tag, constructed: (h.tag & 0x20) !== 0, start, end: start + h.length };
}

/** The TLVs inside a constructed one, in order; undefined when they do not tile it exactly. At most `max`. */
export function children(b: Uint8Array, t: Tlv, max = 4096): Tlv[] | undefined {
  const out: Tlv[] = [];
  let at = t.start;
  while (at < t.end) {
    if (out.length >= max) return undefined;
    const c = readTlv(b, at, t.end);
    if (!c) return undefined;
    out.push(c);
    at = c.end;
  }
  return out;
}

/** A BER INTEGER's value (two's complement, at most 6 bytes kept exact); undefined when empty or too long. */
export function readInt(b: Uint8Array, t: Tlv): number | undefined {
  const n = t.end - t.start;
  if (n < 1 || n > 6) return undefined;
  let v = b[t.start]! & 0x80 ? -1 : 0;
  for (let i = t.start; i < t.end; i++) v = v * 256 + b[i]!;
  return v;
}

export function bytesOf(b: Uint8Array, t: Tlv): Uint8Array {
  return b.subarray(t.start, t.end);
}

// ---- writing ----

/**
 * How a daemon writes lengths: `minimal` the shortest form (X.690 DER style: Active Directory's octet
 * strings, OpenLDAP 2.3), `long4` always 0x84 and four bytes (liblber 2.4+ for every constructed value it
 * opens with `{` or `[`, and Active Directory's sequences).
 */
export type LengthForm = "minimal" | "long4";

function lengthBytes(n: number, form: LengthForm): number[] {
  if (form === "long4") return [0x84, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** A TLV around `value`. */
export function tlv(tag: number, value: Uint8Array, form: LengthForm = "minimal"): Uint8Array {
  const head = [tag, ...lengthBytes(value.length, form)];
  const out = new Uint8Array(head.length + value.length);
  out.set(head, 0);
  out.set(value, head.length);
  return out;
}

/** A constructed TLV around the concatenation of `parts`. */
export function seq(tag: number, parts: Uint8Array[], form: LengthForm): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const value = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    value.set(p, at);
    at += p.length;
  }
  return tlv(tag, value, form);
}

/** INTEGER or ENUMERATED (tag 0x0a) in the fewest two's-complement bytes. */
export function int(n: number, tag = 0x02): Uint8Array {
  const out: number[] = [];
  let v = n;
  do {
    out.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v !== 0 && v !== -1);
  if (n >= 0 && out[0]! & 0x80) out.unshift(0);
  if (n < 0 && !(out[0]! & 0x80)) out.unshift(0xff);
  return tlv(tag, Uint8Array.from(out));
}

export function octets(value: Uint8Array | string, tag = 0x04, form: LengthForm = "minimal"): Uint8Array {
  return tlv(tag, typeof value === "string" ? new TextEncoder().encode(value) : value, form);
}
