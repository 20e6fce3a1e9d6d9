// Byte helpers. Protocols speak bytes; strings are latin1 so that one character is one byte.


export function toBytes(data: Uint8Array | string): Uint8Array {
  if (typeof data !== "string") return data;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data.charCodeAt(i) & 0xff;
  return out;
}

/** One character per byte (latin1), the way nmap's matcher sees a response. */
export function toLatin1(bytes: Uint8Array): string {
  // TextDecoder("latin1") is windows-1252 per the WHATWG spec; map bytes ourselves to stay exact.
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
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


/**
 * Splits a byte stream into CRLF/LF-terminated lines, keeping at most `maxLine` bytes pending.
 * A line longer than the cap is delivered cut (flagged) rather than buffered without bound.
 */
export class LineBuffer {
  private pending = "";
  constructor(private readonly maxLine = 4096) {}

  push(chunk: Uint8Array): { line: string; overlong: boolean }[] {
    this.pending += toLatin1(chunk);
    const lines: { line: string; overlong: boolean }[] = [];
    for (;;) {
      const nl = this.pending.indexOf("\n");
      if (nl < 0) break;
      let line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      const overlong = line.length > this.maxLine;
      lines.push({ line: overlong ? line.slice(0, this.maxLine) : line, overlong });
    }
    if (this.pending.length > this.maxLine) {
      lines.push({ line: this.pending.slice(0, this.maxLine), overlong: true });
      this.pending = "";
    }
    return lines;
  }
}

/** A byte accumulator with a hard cap: what does not fit is dropped and counted. */
export class ByteBuffer {
  private chunks: Uint8Array[] = [];
  length = 0;
  dropped = 0;
  constructor(private readonly cap: number) {}

  push(chunk: Uint8Array): void {
    const room = this.cap - this.length;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    this.chunks.push(kept);
    this.length += kept.length;
    this.dropped += chunk.length - kept.length;
  }

  bytes(): Uint8Array {
    if (this.chunks.length !== 1) this.chunks = [concatBytes(this.chunks)];
    return this.chunks[0] ?? new Uint8Array(0);
  }

  /** Removes the first n bytes (a parsed packet). */
  consume(n: number): void {
    const rest = this.bytes().slice(n);
    this.chunks = [rest];
    this.length = rest.length;
  }
}
