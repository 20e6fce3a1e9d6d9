// NetBIOS session service framing (RFC 1002 section 4.3, and MS-SMB2 2.1 for Direct TCP): a 4-byte header
// (type, then a 17-bit length on NetBIOS, a 24-bit one on Direct TCP once SMB2 is spoken), then that many
// bytes. smbd reads the header, takes the length at its word and waits for the whole frame before it looks
// at a single byte of it; so does this reader. Memory stays bounded: a frame longer than `keep` is kept
// up to `keep` bytes and the rest is counted and dropped. The body is kept in blocks allocated as bytes
// arrive (each as large as what is kept so far, at most 16 KiB), joined once when the frame is complete:
// a header alone costs four bytes, not the frame it announces, and no byte is copied twice before then.

export interface Frame {
  type: number;
  /** The length the header declared. */
  length: number;
  /** The body as received, up to the reader's `keep` bytes. */
  body: Uint8Array;
  /** True when the declared body was longer than what was kept. */
  truncated: boolean;
}

/** What the owner decides once a header is in: read the body, or hang up at once (nothing more is read). */
export type HeaderVerdict = "read" | "close";

export interface FrameHandlers {
  /** The length a header declares, under the current rules (17 or 24 bits). */
  lengthOf(head: Uint8Array): number;
  /** Called once per header, before its body is awaited. */
  onHeader(type: number, length: number): HeaderVerdict;
  /** Called once per complete frame; return true to stop reading (the session is over). */
  onFrame(frame: Frame): boolean;
}

/** 17-bit length: NetBIOS session service, and smbd's reader before SMB2 (smb_len_nbt). */
export function nbtLength(h: Uint8Array): number {
  return ((h[1]! & 0x01) << 16) | (h[2]! << 8) | h[3]!;
}

/** 24-bit length: Direct TCP (MS-SMB2 2.1), and smbd's SMB2 reader (smb_len_tcp). */
export function tcpLength(h: Uint8Array): number {
  return (h[1]! << 16) | (h[2]! << 8) | h[3]!;
}

export class NbssReader {
  private readonly head = new Uint8Array(4);
  private headLen = 0;
  private type = 0;
  private want = 0;
  private got = 0;
  /** Full blocks of the body so far, then the one being filled. */
  private blocks: Uint8Array[] = [];
  private block: Uint8Array = EMPTY;
  private blockUsed = 0;
  private stored = 0;
  private stopped = false;

  constructor(private readonly keep: number) {}

  /** True while part of a frame has arrived and the rest is awaited. */
  get midFrame(): boolean {
    return this.headLen > 0;
  }

  /** Bytes of the frame in progress held now: its header and the part of its body kept so far. */
  get buffered(): number {
    return this.headLen + this.stored;
  }

  /** Bytes of memory held for the frame in progress: at most twice what is kept, and 16 KiB more. */
  get allocated(): number {
    return this.head.length + this.stored - this.blockUsed + this.block.length;
  }

  /**
   * Feeds received bytes. Returns how many of them were consumed: fewer than given only when a handler
   * stopped the reading (the rest was never read, as a daemon that exits leaves it in its socket).
   */
  feed(chunk: Uint8Array, h: FrameHandlers): number {
    let at = 0;
    while (at < chunk.length && !this.stopped) {
      if (this.headLen < 4) {
        const n = Math.min(4 - this.headLen, chunk.length - at);
        this.head.set(chunk.subarray(at, at + n), this.headLen);
        this.headLen += n;
        at += n;
        if (this.headLen < 4) break;
        this.type = this.head[0]!;
        this.want = h.lengthOf(this.head);
        this.got = 0;
        this.resetBody();
        if (h.onHeader(this.type, this.want) === "close") {
          this.stopped = true;
          break;
        }
      }
      const n = Math.min(this.want - this.got, chunk.length - at);
      const room = Math.min(n, Math.min(this.want, this.keep) - this.stored);
      if (room > 0) this.keepBytes(chunk.subarray(at, at + room));
      this.got += n;
      at += n;
      if (this.got === this.want) {
        const frame: Frame = { type: this.type, length: this.want, body: this.joinBody(), truncated: this.stored < this.want };
        this.headLen = 0;
        this.resetBody();
        if (h.onFrame(frame)) this.stopped = true;
      }
    }
    return at;
  }

  private keepBytes(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      if (this.blockUsed === this.block.length) {
        if (this.blockUsed > 0) this.blocks.push(this.block);
        // As large as what is kept so far (so at most twice it), within 256 B..16 KiB and what is left to keep.
        const size = Math.min(BLOCK_MAX, Math.max(BLOCK_MIN, this.stored), Math.min(this.want, this.keep) - this.stored);
        this.block = new Uint8Array(size);
        this.blockUsed = 0;
      }
      const n = Math.min(bytes.length - at, this.block.length - this.blockUsed);
      this.block.set(bytes.subarray(at, at + n), this.blockUsed);
      this.blockUsed += n;
      this.stored += n;
      at += n;
    }
  }

  private joinBody(): Uint8Array {
    const last = this.block.subarray(0, this.blockUsed);
    if (this.blocks.length === 0) return last;
    const body = new Uint8Array(this.stored);
    let at = 0;
    for (const b of this.blocks) {
      body.set(b, at);
      at += b.length;
    }
    body.set(last, at);
    return body;
  }

  private resetBody(): void {
    this.blocks = [];
    this.block = EMPTY;
    this.blockUsed = 0;
    this.stored = 0;
  }
}

const BLOCK_MIN = 256;
const BLOCK_MAX = 16 * 1024;

const EMPTY = new Uint8Array(0);
