// A byte queue for framing: input is appended at the end and read from the front, without copying the
// whole pending buffer on every chunk. One growable buffer with a read offset: appending copies only the
// new bytes (the buffer grows by half when full, or slides its unread part to the front when the read part is at
// least as large: each byte is copied a bounded number of times, amortised O(1)), reading moves the
// offset. A buffer left large after a burst is given back once it is mostly empty, so a session that once
// held a big frame does not keep its memory while it idles.

const MIN_CAPACITY = 256;
/** A buffer larger than this shrinks once an eighth of it or less is still unread. */
const SHRINK_ABOVE = 16 * 1024;

export class ByteQueue {
  private buf: Uint8Array;
  private start = 0;
  private end = 0;

  constructor(initialCapacity = MIN_CAPACITY) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  /** Bytes held and not yet read. */
  get length(): number {
    return this.end - this.start;
  }

  /** Bytes of memory the queue holds (its buffer), for accounting. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Appends a copy of `chunk`. */
  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0) return;
    if (this.end + n > this.buf.length) this.makeRoom(n);
    this.buf.set(chunk, this.end);
    this.end += n;
  }

  /** The unread bytes, without copying: valid until the next push, read or clear. */
  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** The unread byte at `i` (undefined past the end). */
  at(i: number): number | undefined {
    return i >= 0 && i < this.length ? this.buf[this.start + i] : undefined;
  }

  /** Index (from the front) of the first `byte` in [from, to), or -1. */
  indexOf(byte: number, from = 0, to = this.length): number {
    const buf = this.buf;
    const stop = this.start + Math.min(to, this.length);
    for (let i = this.start + Math.max(0, from); i < stop; i++) if (buf[i] === byte) return i - this.start;
    return -1;
  }

  /** Bytes [from, to) as latin1 text (one character per byte), without copying them first. */
  latin1(from = 0, to = this.length): string {
    const a = Math.max(0, Math.min(from, this.length));
    const b = Math.max(a, Math.min(to, this.length));
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + this.start + a, b - a).toString("latin1");
  }

  /** Drops `n` bytes from the front. */
  skip(n: number): void {
    this.start += Math.min(Math.max(0, n), this.length);
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
    }
    // Give back what a burst grew once most of it has been read (the copy is at most an eighth of it).
    if (this.buf.length > SHRINK_ABOVE && this.length < this.buf.length / 8) {
      let cap = MIN_CAPACITY;
      while (cap < this.length * 2) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(this.start, this.end));
      this.buf = next;
      this.end = this.length;
      this.start = 0;
    }
  }

  /** A copy of the first `n` bytes, which are then dropped. */
  take(n: number): Uint8Array {
    const m = Math.min(Math.max(0, n), this.length);
    const out = this.buf.slice(this.start, this.start + m);
    this.skip(m);
    return out;
  }

  clear(): void {
    this.skip(this.length);
  }

  private makeRoom(n: number): void {
    const live = this.length;
    // The read part is at least as large as the unread one: sliding costs no more than what was read.
    if (this.start >= live && live + n <= this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
      this.start = 0;
      this.end = live;
      return;
    }
    // Half again as much: each byte is copied about twice on average, and at most a third is spare.
    let cap = Math.ceil(this.buf.length * 1.5);
    while (cap < live + n) cap = Math.ceil(cap * 1.5);
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(this.start, this.end));
    this.buf = next;
    this.start = 0;
    this.end = live;
  }
}
