// Line splitting for text protocols (FTP today; SMTP, POP3, IMAP later).
import { ByteQueue } from "./queue.ts";

export type OverlongAction = "split" | "skip" | "close";

export interface LineEvent {
  /** The line without its CR LF, or the first `max` bytes of an over-long one. */
  text: string;
  tooLong: boolean;
}

/**
 * Splits a text protocol's stream into lines (CRLF or LF), with the claimed daemon's idea of "too long":
 * a line over `max` bytes (its LF included) is delivered cut and flagged, and its rest is read as new lines
 * (split), dropped up to the next LF (skip), or ends the reading (close). Never holds more than `max` bytes
 * between calls, and looks at each byte once: what was searched for an LF is not searched again.
 */
export class LineSplitter {
  private readonly pending = new ByteQueue();
  /** Bytes at the front of `pending` known to hold no LF. */
  private scanned = 0;
  private skipping = false;
  constructor(
    private readonly max: number,
    private readonly action: OverlongAction,
  ) {}

  /** Bytes held: the start of a line whose end has not come. */
  get buffered(): number {
    return this.pending.length;
  }

  push(chunk: Uint8Array): LineEvent[] {
    const out: LineEvent[] = [];
    const q = this.pending;
    q.push(chunk);
    for (;;) {
      if (this.skipping) {
        // Dropping the rest of an overlong line, up to its LF.
        const nl = q.indexOf(0x0a);
        this.scanned = 0;
        if (nl < 0) {
          q.clear();
          break;
        }
        q.skip(nl + 1);
        this.skipping = false;
        continue;
      }
      // A line fits when its LF is among the first `max` bytes.
      const nl = q.indexOf(0x0a, this.scanned, this.max);
      if (nl >= 0) {
        let line = q.latin1(0, nl);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        q.skip(nl + 1);
        this.scanned = 0;
        out.push({ text: line, tooLong: false });
        continue;
      }
      if (q.length < this.max) {
        this.scanned = q.length;
        break;
      }
      // Too long: max bytes held with no LF among them.
      out.push({ text: q.latin1(0, this.max), tooLong: true });
      this.scanned = 0;
      if (this.action === "close") {
        q.clear();
        break;
      }
      q.skip(this.max);
      // skip: the rest of the line goes, up to its LF (in what is here, or in what comes).
      if (this.action === "skip") this.skipping = true;
    }
    return out;
  }
}
