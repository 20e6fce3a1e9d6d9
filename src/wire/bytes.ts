// Byte helpers shared by every protocol. Protocols speak bytes; strings are latin1 so that one character is
// one byte.

export function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data !== "string") return data;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data.charCodeAt(i) & 0xff;
  return out;
}

/** One character per byte (latin1), the way nmap's matcher sees a response. */
export function toLatin1(bytes: Uint8Array): string {
  // TextDecoder("latin1") is windows-1252 per the WHATWG spec; Buffer's "latin1" maps byte n to U+00nn,
  // exactly, in native code (spreading the bytes into fromCharCode cost 4-15 times as much).
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}


/** Little-endian writer for binary protocols (SMB, NTLMSSP, …). */
export class ByteWriter {
  private readonly b: number[] = [];
  get length(): number {
    return this.b.length;
  }
  u8(v: number): this {
    this.b.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    this.b.push(v & 0xff, (v >>> 8) & 0xff);
    return this;
  }
  u32(v: number): this {
    this.b.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
    return this;
  }
  u64(v: bigint): this {
    for (let i = 0n; i < 8n; i++) this.b.push(Number((v >> (8n * i)) & 0xffn));
    return this;
  }
  bytes(v: ArrayLike<number>): this {
    for (let i = 0; i < v.length; i++) this.b.push(v[i]! & 0xff);
    return this;
  }
  zeros(n: number): this {
    for (let i = 0; i < n; i++) this.b.push(0);
    return this;
  }
  set8(at: number, v: number): void {
    this.b[at] = v & 0xff;
  }
  set16(at: number, v: number): void {
    this.b[at] = v & 0xff;
    this.b[at + 1] = (v >>> 8) & 0xff;
  }
  done(): Uint8Array {
    return Uint8Array.from(this.b);
  }
}

/** Little-endian readers: 0 (or 0n) past the end, never a throw. */
export function rd16(b: Uint8Array, o: number): number {
  return o + 2 <= b.length ? b[o]! | (b[o + 1]! << 8) : 0;
}
export function rd32(b: Uint8Array, o: number): number {
  return o + 4 <= b.length ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0 : 0;
}
export function rd64(b: Uint8Array, o: number): bigint {
  return o + 8 <= b.length ? BigInt(rd32(b, o)) | (BigInt(rd32(b, o + 4)) << 32n) : 0n;
}
export function startsWithBytes(b: Uint8Array, at: number, magic: number[]): boolean {
  if (at + magic.length > b.length) return false;
  return magic.every((v, i) => b[at + i] === v);
}
export function indexOfBytes(b: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= b.length; i++) {
    for (let j = 0; j < needle.length; j++) if (b[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** UTF-16LE bytes of a string (SMB and NTLMSSP names). */
export function utf16(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out.push(c & 0xff, c >>> 8);
  }
  return out;
}
export function latin1Bytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
  return out;
}
export function decodeUtf16(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode(b[i]! | (b[i + 1]! << 8));
  return s;
}
export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}
/** Attacker text for an event, as received but bounded; the event sinks do the escaping. */
export function clip(s: string, max = 256): string {
  return s.length > max ? s.slice(0, max) : s;
}

/** Windows FILETIME: 100 ns ticks since 1601-01-01. */
export function filetime(d: Date): bigint {
  return BigInt(d.getTime()) * 10000n + 116444736000000000n;
}
