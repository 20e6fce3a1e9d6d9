// The Linux pty's canonical line discipline (n_tty) as login sees it, for the faces whose daemon runs
// /bin/login on a pty: what the kernel echoes and how it edits the line before login reads it. Measured on
// Debian 12 (BusyBox telnetd + util-linux login): ECHO, ECHOE, ECHOK/ECHOKE, ECHOCTL, ISIG, IXON, ICRNL
// and tab expansion. A person at a keyboard notices the difference at once: a control key echoes as ^X,
// DEL rubs out one column or two, ^W takes a word, ^U the line, ^R reprints it, ^V quotes the next key.

/** What one typed byte did: the echo, and whether a line is complete or the tty raised a signal. */
export interface TtyStep {
  echo: string;
  done?: "line" | "eof";
  /** ^C, ^\ or ^Z: the tty flushed its line and what it had not yet sent out. */
  signal?: boolean;
}

const ERASE = 0x7f;
const WERASE = 0x17;
const KILL = 0x15;
const REPRINT = 0x12;
const LNEXT = 0x16;
const EOF = 0x04;
const START = 0x11;
const STOP = 0x13;
/** ^C, ^\ and ^Z: the line is flushed, the key echoed; login ignores the signal. */
const SIGNALS = new Set([0x03, 0x1c, 0x1a]);
/** n_tty's canonical buffer: past this a typed key only rings the bell. */
const TTY_LINE_MAX = 4095;

const isControl = (b: number) => b < 0x20 || b === 0x7f;
const caret = (b: number) => "^" + String.fromCharCode(b ^ 0x40);

export class CanonicalTty {
  private bytes: number[] = [];
  /** The columns each kept byte took when echoed (a tab's depends on where it fell). */
  private widths: number[] = [];
  private column = 0;
  private quoting = false;
  private readonly max: number;

  constructor(max = TTY_LINE_MAX) {
    this.max = Math.min(max, TTY_LINE_MAX);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** The line so far, as login will read it; the tty starts a new one. */
  take(): number[] {
    const line = this.bytes;
    this.bytes = [];
    this.widths = [];
    this.quoting = false;
    return line;
  }

  /** Everything typed is thrown away (login flushes the tty after a refusal). */
  clear(): void {
    this.take();
  }

  /**
   * One byte typed (a CR already turned into LF). `echo` is the tty's ECHO flag (off while a password is
   * read); `startColumn` is where the cursor stood when this line began (after the prompt).
   */
  input(b: number, echo: boolean, startColumn: number): TtyStep {
    if (this.bytes.length === 0) this.column = startColumn;
    const say = (s: string): TtyStep => ({ echo: echo ? s : "" });
    if (this.quoting) {
      this.quoting = false;
      // The "^" and backspace that ^V left are overwritten by the quoted key.
      return say(this.keep(b));
    }
    if (b === 0x0a) return { echo: echo ? "\r\n" : "", done: "line" };
    if (SIGNALS.has(b)) {
      this.take();
      return { echo: echo ? caret(b) : "", signal: true };
    }
    if (b === START || b === STOP) return { echo: "" };
    if (b === EOF) return this.bytes.length === 0 ? { echo: "", done: "eof" } : { echo: "", done: "line" };
    if (b === ERASE) return say(this.rubOut(1));
    if (b === KILL) return say(this.rubOut(this.bytes.length));
    if (b === WERASE) return say(this.rubOut(this.wordLength()));
    if (b === REPRINT) {
      const line = this.bytes;
      const out = caret(b) + "\r\n";
      this.bytes = [];
      this.widths = [];
      this.column = 0;
      let again = "";
      for (const c of line) again += this.keep(c);
      return say(out + again);
    }
    if (b === LNEXT) {
      if (this.bytes.length >= this.max) return say("\x07");
      this.quoting = true;
      return say("^\b");
    }
    return say(this.keep(b));
  }

  /** Keeps one byte in the line and returns its echo: ^X for a control key, spaces for a tab. */
  private keep(b: number): string {
    if (this.bytes.length >= this.max) return "\x07";
    // A tab is expanded to the next stop (telnetd sets XTABS), quoted or not.
    const text = b === 0x09 ? " ".repeat(8 - (this.column % 8)) : isControl(b) ? caret(b) : String.fromCharCode(b);
    this.bytes.push(b);
    this.widths.push(text.length);
    this.column += text.length;
    // On the wire a 255 is doubled (IAC IAC); it is still one column.
    return b === 0xff ? "\xff\xff" : text;
  }

  /** Takes the last n bytes off the line: "\b \b" per column, a tab's columns by backspaces alone. */
  private rubOut(n: number): string {
    let out = "";
    for (let i = 0; i < n && this.bytes.length > 0; i++) {
      const b = this.bytes.pop()!;
      const w = this.widths.pop()!;
      this.column -= w;
      out += b === 0x09 ? "\b".repeat(w) : "\b \b".repeat(w);
    }
    return out;
  }

  /** ^W: what it takes from the end: non-word bytes up to a word, then the word (n_tty's ALTWERASE). */
  private wordLength(): number {
    let n = 0;
    let seenWord = false;
    for (let i = this.bytes.length - 1; i >= 0; i--) {
      const c = this.bytes[i]!;
      const word = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f;
      if (word) seenWord = true;
      else if (seenWord) break;
      n++;
    }
    return n;
  }
}

/** The column the cursor is left at after writing `text` (from its last CR or LF). */
export function columnAfter(text: string): number {
  const cut = Math.max(text.lastIndexOf("\r"), text.lastIndexOf("\n"));
  return text.length - cut - 1;
}
