// A small, bounded BSON reader/writer for the mongodb face (not yet registered).
// Only the element types a client sends in handshake/auth commands are decoded;
// any other type, a length that runs past its frame, or nesting deeper than
// MAX_DEPTH makes the document malformed (decode returns null).

export type BsonValue =
  | number
  | bigint
  | string
  | boolean
  | null
  | Uint8Array
  | Date
  | BsonDoc
  | BsonValue[];
export interface BsonDoc {
  [key: string]: BsonValue;
}

/** mongod's own limit on one document (16 MiB); the face uses far less. */
export const MAX_DOC = 16 * 1024 * 1024;
export const MAX_DEPTH = 16;
export const MAX_KEYS = 256;

/** A document already in BSON (a command echoed back as sent): written as its bytes, type 0x03. */
export class RawDoc {
  constructor(readonly bytes: Uint8Array) {}
}

/** A 32-bit integer value, so the writer emits type 0x10 instead of a double. */
export class Int32 {
  constructor(readonly value: number) {}
}

function cstring(buf: Uint8Array, at: number, end: number): [string, number] | null {
  const nul = buf.indexOf(0, at);
  if (nul < 0 || nul >= end) return null;
  return [new TextDecoder().decode(buf.subarray(at, nul)), nul + 1];
}

/** Decodes the document at `at`; returns it and its length, or null if malformed. */
export function decodeDoc(buf: Uint8Array, at = 0, depth = 0): [BsonDoc, number] | null {
  if (depth > MAX_DEPTH || at + 5 > buf.length) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const len = view.getInt32(at, true);
  if (len < 5 || len > MAX_DOC || at + len > buf.length || buf[at + len - 1] !== 0) return null;
  const end = at + len - 1;
  const doc: BsonDoc = {};
  let p = at + 4;
  let keys = 0;
  while (p < end) {
    if (++keys > MAX_KEYS) return null;
    const type = buf[p++]!;
    const name = cstring(buf, p, end);
    if (!name) return null;
    const [key, next] = name;
    p = next;
    let value: BsonValue;
    switch (type) {
      case 0x01:
        if (p + 8 > end) return null;
        value = view.getFloat64(p, true);
        p += 8;
        break;
      case 0x02: {
        if (p + 4 > end) return null;
        const n = view.getInt32(p, true);
        if (n < 1 || p + 4 + n > end || buf[p + 4 + n - 1] !== 0) return null;
        value = new TextDecoder().decode(buf.subarray(p + 4, p + 4 + n - 1));
        p += 4 + n;
        break;
      }
      case 0x03:
      case 0x04: {
        const sub = decodeDoc(buf.subarray(0, end), p, depth + 1);
        if (!sub) return null;
        value = type === 0x04 ? Object.values(sub[0]) : sub[0];
        p += sub[1];
        break;
      }
      case 0x05: {
        if (p + 5 > end) return null;
        const n = view.getInt32(p, true);
        if (n < 0 || p + 5 + n > end) return null;
        value = buf.slice(p + 5, p + 5 + n);
        p += 5 + n;
        break;
      }
      case 0x07:
        if (p + 12 > end) return null;
        value = buf.slice(p, p + 12);
        p += 12;
        break;
      case 0x08:
        if (p + 1 > end || buf[p]! > 1) return null;
        value = buf[p] === 1;
        p += 1;
        break;
      case 0x09:
        if (p + 8 > end) return null;
        value = new Date(Number(view.getBigInt64(p, true)));
        p += 8;
        break;
      case 0x0a:
        value = null;
        break;
      case 0x10:
        if (p + 4 > end) return null;
        value = view.getInt32(p, true);
        p += 4;
        break;
      case 0x11:
      case 0x12:
        if (p + 8 > end) return null;
        value = view.getBigInt64(p, true);
        p += 8;
        break;
      default:
        return null;
    }
    doc[key] = value;
  }
  if (p !== end) return null;
  return [doc, len];
}

type Writable = BsonValue | Int32 | RawDoc | { [key: string]: Writable } | Writable[];

function encodeInto(parts: Uint8Array[], doc: Record<string, Writable> | Writable[]): void {
  const body: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const [key, v] of Object.entries(doc)) {
    const k = enc.encode(key + "\0");
    const head = (t: number) => body.push(Uint8Array.of(t), k);
    if (v instanceof RawDoc) {
      head(0x03);
      body.push(v.bytes);
    } else if (v instanceof Int32) {
      head(0x10);
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, v.value, true);
      body.push(b);
    } else if (typeof v === "number") {
      head(0x01);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v, true);
      body.push(b);
    } else if (typeof v === "bigint") {
      head(0x12);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, v, true);
      body.push(b);
    } else if (typeof v === "string") {
      head(0x02);
      const s = enc.encode(v + "\0");
      const b = new Uint8Array(4);
      new DataView(b.buffer).setInt32(0, s.length, true);
      body.push(b, s);
    } else if (typeof v === "boolean") {
      head(0x08);
      body.push(Uint8Array.of(v ? 1 : 0));
    } else if (v === null) {
      head(0x0a);
    } else if (v instanceof Uint8Array) {
      head(0x05);
      const b = new Uint8Array(5);
      new DataView(b.buffer).setInt32(0, v.length, true);
      body.push(b, v);
    } else if (v instanceof Date) {
      head(0x09);
      const b = new Uint8Array(8);
      // A date outside what Date holds (decoded from hostile input) is written as the epoch, never thrown on.
      const ms = v.getTime();
      new DataView(b.buffer).setBigInt64(0, Number.isFinite(ms) ? BigInt(ms) : 0n, true);
      body.push(b);
    } else {
      head(Array.isArray(v) ? 0x04 : 0x03);
      encodeInto(body, v as Record<string, Writable>);
    }
  }
  const total = 4 + body.reduce((n, b) => n + b.length, 0) + 1;
  const len = new Uint8Array(4);
  new DataView(len.buffer).setInt32(0, total, true);
  parts.push(len, ...body, Uint8Array.of(0));
}

/** Encodes a document; numbers are doubles unless wrapped in Int32, bigints are int64. */
export function encodeDoc(doc: Record<string, Writable>): Uint8Array {
  const parts: Uint8Array[] = [];
  encodeInto(parts, doc);
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of parts) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}
