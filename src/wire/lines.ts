// Line splitting for text protocols (FTP today; SMTP, POP3, IMAP later).
import { toLatin1 } from "./bytes.ts";

export type OverlongAction = "split" | "skip" | "close";

export interface LineEvent {
  /** The line without its CR LF, or the first `max` bytes of an over-long one. */
  text: string;
  tooLong: boolean;
}

/**
 * Splits a text protocol's stream into lines (CRLF or LF), with the claimed daemon's idea of "too long":
 * a line over `max` bytes (its LF included) is delivered cut and flagged, and its rest is read as new lines
 * (split), dropped up to the next LF (skip), or ends the reading (close). Never holds more than `max` bytes.
 */
export class LineSplitter {
  private pending = "";
  private skipping = false;
  constructor(
    private readonly max: number,
    private readonly action: OverlongAction,
  ) {}

  push(chunk: Uint8Array): LineEvent[] {
    const out: LineEvent[] = [];
    this.pending += toLatin1(chunk);
    for (;;) {
      const nl = this.pending.indexOf("\n");
      if (this.skipping) {
        // Dropping the rest of an overlong line, up to its LF.
        if (nl < 0) {
          this.pending = "";
          break;
        }
        this.pending = this.pending.slice(nl + 1);
        this.skipping = false;
        continue;
      }
      if (nl >= 0 && nl + 1 <= this.max) {
        let line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        out.push({ text: line, tooLong: false });
        continue;
      }
      if (nl < 0 && this.pending.length < this.max) break;
      // Too long: a whole line over max, or max bytes held with no LF among them.
      out.push({ text: this.pending.slice(0, this.max), tooLong: true });
      if (this.action === "split") {
        this.pending = this.pending.slice(this.max);
      } else if (this.action === "skip") {
        this.skipping = nl < 0;
        this.pending = nl < 0 ? "" : this.pending.slice(nl + 1);
      } else {
        this.pending = "";
        break;
      }
    }
    return out;
  }
}
