// How long a web server waits for its peer, as a session can know it without a clock: the session only
// arms named timers and hears when they run out, so a deadline that bytes push further (mod_reqtimeout's
// MinRate) is kept as "time spent so far" (the sum of what ran out) plus "extension earned since".
//
//   deadline: counted from the start (the accept, or a request's first byte); bytes may extend it, up to a cap.
//   idle:     restarted by every byte.
// A read just before a deadline may still leave a short grace (mod_reqtimeout never waits less than 1 s for
// the next read): the "grace" timer, armed at every read, holds the timeout until it runs out too.

export type TimerStyle = "deadline" | "idle";

export interface TimerSpec {
  style: TimerStyle;
  /** Milliseconds until the timer runs out (already drawn); negative: it never does. */
  ms: number;
  /** Milliseconds one byte earns (deadline only); 0: none. */
  perByteMs: number;
  /** The latest the deadline may move to, counted from its start; undefined: no cap. */
  capMs?: number;
  /** Grace after a read that came close to the deadline; 0: none. */
  graceMs: number;
}

/** The timer names the http session arms (the driver keys timers by name). */
export const MAIN = "http";
export const GRACE = "http-grace";

export type Timers = Record<string, number | null>;

/** What a run-out timer means for the session. */
export type Outcome = "rearmed" | "waiting" | "timeout" | "nothing";

export class RequestTimer {
  private spec: TimerSpec | undefined;
  private armed = 0;
  private spent = 0;
  private earned = 0;
  private graceRunning = false;
  private expired = false;

  /** True once the deadline has passed and only the grace holds the timeout back. */
  get isExpired(): boolean {
    return this.expired;
  }

  /** Starts a timer from now; returns the timers to arm. */
  start(spec: TimerSpec): Timers {
    if (spec.ms < 0) return this.stop();
    this.spec = spec;
    this.armed = Math.max(0, Math.round(spec.ms));
    this.spent = 0;
    this.earned = 0;
    this.graceRunning = false;
    this.expired = false;
    return { [MAIN]: this.armed, [GRACE]: null };
  }

  /** No timer at all (the session is closing, or waiting on nothing). */
  stop(): Timers {
    this.spec = undefined;
    this.graceRunning = false;
    this.expired = false;
    return { [MAIN]: null, [GRACE]: null };
  }

  /** `n` bytes arrived; returns the timers to (re)arm. */
  bytes(n: number): Timers {
    const s = this.spec;
    if (!s || n <= 0) return {};
    if (s.style === "idle") {
      this.armed = Math.max(0, Math.round(s.ms));
      this.spent = 0;
      return { [MAIN]: this.armed };
    }
    if (s.perByteMs > 0) this.earned += n * s.perByteMs;
    if (s.graceMs > 0) {
      this.graceRunning = true;
      return { [GRACE]: s.graceMs };
    }
    return {};
  }

  /** A timer of ours ran out. For MAIN, `rearm` is set when the deadline moved on. */
  fired(name: string): { outcome: Outcome; timers: Timers } {
    const s = this.spec;
    if (!s) return { outcome: "nothing", timers: {} };
    if (name === GRACE) {
      this.graceRunning = false;
      return this.expired ? { outcome: "timeout", timers: {} } : { outcome: "nothing", timers: {} };
    }
    this.spent += this.armed;
    if (this.earned > 0) {
      const room = s.capMs === undefined ? Infinity : s.capMs - this.spent;
      const more = Math.floor(Math.min(this.earned, room));
      this.earned = 0;
      if (more > 0) {
        this.armed = more;
        return { outcome: "rearmed", timers: { [MAIN]: more } };
      }
    }
    if (this.graceRunning) {
      this.expired = true;
      return { outcome: "waiting", timers: {} };
    }
    return { outcome: "timeout", timers: {} };
  }
}
