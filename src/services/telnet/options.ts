// Telnet's byte layer (RFC 854/855): IAC commands, option negotiation and subnegotiation split out of the
// data stream, with a bounded subnegotiation buffer. What the daemon answers is decided by the session.

export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const SE = 240;
export const SEND = 1;

/** Longest subnegotiation kept: an NTLM AUTHENTICATE fits; the rest of a longer one is dropped. */
export const SB_MAX = 4096;

export type TelnetItem =
  | { kind: "data"; byte: number }
  | { kind: "option"; verb: number; option: number }
  | { kind: "sub"; option: number; body: Uint8Array }
  | { kind: "command"; code: number };

const enum State {
  Data,
  Iac,
  Option,
  Sub,
  SubIac,
  /** BusyBox: the bytes of an IAC sequence it skips without reading them. */
  Skip,
  /** BusyBox: after IAC SB, the option decides how much is skipped. */
  SkipSub,
}

const NOP = 241;
const NAWS = 31;

/**
 * How the daemon reads IAC sequences. rfc: as RFC 854/855 say. busybox: as BusyBox telnetd 1.13–1.25 does
 * (remove_iacs): IAC NOP and IAC IAC are read, IAC SB NAWS with its 4 bytes and IAC SE, and every other
 * IAC is taken to be 3 bytes long and skipped unanswered, so the body of any other subnegotiation reaches
 * login as typed input (and the tty echoes it).
 */
export type IacParsing = "rfc" | "busybox";

/** Splits telnet input into data bytes, option verbs and subnegotiations; holds at most SB_MAX bytes. */
export class TelnetReader {
  private state = State.Data;
  private verb = 0;
  private sub: number[] = [];
  /** A CR was the last data byte: a NUL or LF after it belongs to the line end. */
  private afterCr = false;
  /** BusyBox: bytes still to skip. */
  private skip = 0;

  constructor(private readonly parsing: IacParsing = "rfc") {}

  get buffered(): number {
    return this.sub.length;
  }

  push(chunk: Uint8Array, out: TelnetItem[]): void {
    for (const b of chunk) this.feed(b, out);
  }

  /** One byte of input; what it completes (at most one item) goes to `out`. */
  feed(b: number, out: TelnetItem[]): void {
    {
      switch (this.state) {
        case State.Data:
          if (b === IAC) this.state = State.Iac;
          else this.data(b, out);
          break;
        case State.Iac:
          if (this.parsing === "busybox") {
            this.busyboxIac(b, out);
            break;
          }
          if (b === IAC) {
            this.data(b, out);
            this.state = State.Data;
          } else if (b >= WILL && b <= DONT) {
            this.verb = b;
            this.state = State.Option;
          } else if (b === SB) {
            this.sub = [];
            this.state = State.Sub;
          } else {
            out.push({ kind: "command", code: b });
            this.state = State.Data;
          }
          break;
        case State.Option:
          out.push({ kind: "option", verb: this.verb, option: b });
          this.state = State.Data;
          break;
        case State.Sub:
          if (b === IAC) this.state = State.SubIac;
          else if (this.sub.length < SB_MAX) this.sub.push(b);
          break;
        case State.SubIac:
          if (b === SE) {
            const [option = 0, ...body] = this.sub;
            out.push({ kind: "sub", option, body: Uint8Array.from(body) });
            this.sub = [];
            this.state = State.Data;
          } else {
            // IAC IAC is a 255 inside the subnegotiation; anything else is taken as data of it too.
            if (this.sub.length < SB_MAX) this.sub.push(b);
            this.state = State.Sub;
          }
          break;
        case State.SkipSub:
          // IAC SB NAWS: the window size (4 bytes) and IAC SE; any other option: that was the third byte.
          if (b === NAWS) {
            this.skip = 6;
            this.state = State.Skip;
          } else {
            this.state = State.Data;
          }
          break;
        case State.Skip:
          if (--this.skip <= 0) this.state = State.Data;
          break;
      }
    }
  }

  /** The byte after an IAC, read the BusyBox way. */
  private busyboxIac(b: number, out: TelnetItem[]): void {
    if (b === IAC) {
      this.data(b, out);
      this.state = State.Data;
    } else if (b === NOP) {
      this.state = State.Data;
    } else if (b === SB) {
      this.state = State.SkipSub;
    } else {
      this.skip = 1;
      this.state = State.Skip;
    }
  }

  /** Data bytes, with a line end (CR NUL, CR LF, LF) delivered as one LF. */
  private data(b: number, out: TelnetItem[]): void {
    if (this.afterCr) {
      this.afterCr = false;
      if (b === 0 || b === 0x0a) return;
    }
    if (b === 0x0d) {
      this.afterCr = true;
      out.push({ kind: "data", byte: 0x0a });
      return;
    }
    out.push({ kind: "data", byte: b });
  }
}

/** A subnegotiation as sent: IAC SB, the body with every 255 doubled, IAC SE. */
export function subnegotiation(body: ArrayLike<number>): string {
  let out = String.fromCharCode(IAC, SB);
  for (let i = 0; i < body.length; i++) out += body[i] === IAC ? "\xff\xff" : String.fromCharCode(body[i]!);
  return out + String.fromCharCode(IAC, SE);
}

export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, "hex"));
}
