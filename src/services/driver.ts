// Runs a protocol session against a clock: delayed replies, named timers, and input that waits while the
// daemon is busy. The listener drives it with the real clock; replay and check with a virtual one, so
// they stay fast and exact. The session itself stays pure: it only returns Replies.
import type { ProtocolEvent, ProtocolSession, Reply } from "../types.ts";
import { toBytes } from "../wire/bytes.ts";

export interface Clock {
  /** Milliseconds on this clock. */
  now(): number;
  /** Runs `fn` after `ms`; returns a function that cancels it. */
  schedule(ms: number, fn: () => void): () => void;
}

/** Where a driven session's effects go. */
export interface SessionOutput {
  /** Bytes handed to the protocol, at the moment it gets them (after any wait); `plainOnTls` for a plain request on a TLS face. */
  input?(bytes: Uint8Array, how?: "plainOnTls"): void;
  write(bytes: Uint8Array): void;
  events(events: ProtocolEvent[]): void;
  close(how: "fin" | "reset"): void;
  /** The protocol threw: the session is over. */
  error(err: Error): void;
  /** The session asked for TLS from here on (after the write that went with it). */
  startTls?(): void;
  /** The session went opaque: replay compares no further byte for byte. */
  opaque?(what: string): void;
}

/** Input held while a delayed reply is pending; beyond this the peer is flooding a busy daemon. */
export const MAX_HELD_BYTES = 256 * 1024;

/** Longest delay or timer a protocol may ask for (a day): a bound against a bad template. */
const MAX_WAIT_MS = 86_400_000;

export class SessionDriver {
  private busy = false;
  private closed = false;
  private held: Uint8Array[] = [];
  private heldBytes = 0;
  /** Timers that ran out while the daemon was busy, fired in order once it is free. */
  private firedWhileBusy: string[] = [];
  /** Replies a library pushed while the daemon was busy, sent in order once it is free. */
  private pushedWhileBusy: Reply[] = [];
  private readonly timers = new Map<string, () => void>();
  private cancelDelay: (() => void) | undefined;
  /** Bytes dropped because the daemon was busy and the hold was full. */
  dropped = 0;

  constructor(
    private readonly session: ProtocolSession,
    private readonly clock: Clock,
    private readonly out: SessionOutput,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** True while a delayed reply is pending. */
  get isBusy(): boolean {
    return this.busy;
  }

  /**
   * Bytes of the peer's input held for this session: what waits here while the daemon is busy (at most
   * MAX_HELD_BYTES) and what the session's parsers hold (ProtocolSession.buffered, at most the service's
   * maxBuffered). What a process-wide memory budget adds up.
   */
  get buffered(): number {
    if (this.closed) return 0;
    let inSession = 0;
    try {
      inSession = this.session.buffered?.() ?? 0;
    } catch {
      // A session that cannot say holds nothing it could give back.
    }
    return this.heldBytes + inSession;
  }

  open(): void {
    this.session.attach?.({
      push: (reply) => this.push(reply),
      later: (ms, fn) => this.clock.schedule(bound(ms), () => {
        if (this.closed) return;
        // Work a library scheduled runs outside any call of ours: a throw there ends the session, as a
        // throw from data() does, instead of reaching the event loop (live, a timer's throw ends the process).
        try {
          fn();
        } catch (err) {
          this.stop();
          this.out.error(err instanceof Error ? err : new Error(String(err)));
        }
      }),
    });
    this.run(() => this.session.open());
  }

  /** A library-driven session speaks on its own: while a delayed reply is pending, it waits its turn. */
  private push(reply: Reply): void {
    if (this.closed) return;
    if (this.busy) {
      this.pushedWhileBusy.push(reply);
      return;
    }
    this.run(() => reply);
  }

  data(chunk: Uint8Array): void {
    if (this.closed) return;
    if (this.busy) {
      const room = MAX_HELD_BYTES - this.heldBytes;
      const kept = chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk;
      this.dropped += chunk.length - kept.length;
      if (kept.length > 0) {
        this.held.push(kept.slice());
        this.heldBytes += kept.length;
      }
      return;
    }
    this.deliver(chunk);
  }

  /** Whether the session answers a plain request on its TLS port itself (ProtocolSession.plainOnTls). */
  get answersPlainOnTls(): boolean {
    return typeof this.session.plainOnTls === "function";
  }

  /** A plain request where a TLS handshake should be: the session's product answers it (see plainOnTls). */
  plainOnTls(request: Uint8Array): void {
    if (this.closed || this.busy) return;
    this.out.input?.(request, "plainOnTls");
    this.run(() => this.session.plainOnTls?.(request) ?? { close: true });
  }

  /** The connection is gone: nothing more runs. */
  stop(): void {
    if (!this.closed) this.stopSession();
    this.closed = true;
    this.pushedWhileBusy = [];
    this.cancelDelay?.();
    this.cancelDelay = undefined;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    this.held = [];
    this.heldBytes = 0;
  }

  private stopSession(): void {
    try {
      this.session.stop?.();
    } catch {
      // The library is being torn down; whatever it throws now changes nothing.
    }
  }

  private deliver(chunk: Uint8Array): void {
    this.out.input?.(chunk);
    this.run(() => this.session.data(chunk));
  }

  private fire(name: string): void {
    this.timers.delete(name);
    if (this.closed) return;
    if (this.busy) {
      this.firedWhileBusy.push(name);
      return;
    }
    this.run(() => this.session.timer?.(name) ?? {});
  }

  private run(step: () => Reply): void {
    if (this.closed) return;
    let reply: Reply;
    try {
      reply = step();
    } catch (err) {
      this.stop();
      this.out.error(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (reply.events?.length) this.out.events(reply.events);
    for (const [name, ms] of Object.entries(reply.timers ?? {})) {
      this.timers.get(name)?.();
      this.timers.delete(name);
      if (ms !== null) this.timers.set(name, this.clock.schedule(bound(ms), () => this.fire(name)));
    }
    const delay = reply.delayMs ?? 0;
    if (delay > 0) {
      this.busy = true;
      this.cancelDelay = this.clock.schedule(bound(delay), () => {
        this.cancelDelay = undefined;
        this.busy = false;
        this.finish(reply);
        this.release();
      });
      return;
    }
    this.finish(reply);
  }

  private finish(reply: Reply): void {
    if (this.closed) return;
    if (reply.opaque !== undefined) this.out.opaque?.(reply.opaque);
    if (reply.write !== undefined) {
      const bytes = toBytes(reply.write);
      if (bytes.length > 0) this.out.write(bytes);
    }
    if (reply.startTls) this.out.startTls?.();
    if (reply.close) {
      this.stop();
      this.out.close(reply.close === "reset" ? "reset" : "fin");
    }
  }

  /** Hands the daemon what waited while it was busy, then the timers that ran out meanwhile. */
  private release(): void {
    while (!this.busy && !this.closed && this.pushedWhileBusy.length > 0) {
      const reply = this.pushedWhileBusy.shift()!;
      this.run(() => reply);
    }
    while (!this.busy && !this.closed && this.held.length > 0) {
      const chunk = this.held.shift()!;
      this.heldBytes -= chunk.length;
      this.deliver(chunk);
    }
    while (!this.busy && !this.closed && this.firedWhileBusy.length > 0) {
      const name = this.firedWhileBusy.shift()!;
      this.run(() => this.session.timer?.(name) ?? {});
    }
  }
}

function bound(ms: number): number {
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_WAIT_MS) : MAX_WAIT_MS;
}

/** The wall clock, for live sessions. */
export const realClock: Clock = {
  now: () => performance.now(),
  schedule(ms, fn) {
    const handle = setTimeout(fn, ms);
    return () => clearTimeout(handle);
  },
};

/** A clock that moves only when told: replay and check run hours of daemon time in microseconds. */
export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly queue: { at: number; seq: number; fn: () => void }[] = [];

  now(): number {
    return this.t;
  }

  schedule(ms: number, fn: () => void): () => void {
    const item = { at: this.t + ms, seq: this.seq++, fn };
    this.queue.push(item);
    return () => {
      const i = this.queue.indexOf(item);
      if (i >= 0) this.queue.splice(i, 1);
    };
  }

  /** Runs everything due up to `target` in time order, then stands at `target`. */
  advanceTo(target: number): void {
    for (;;) {
      let next: (typeof this.queue)[number] | undefined;
      for (const item of this.queue) if (item.at <= target && (!next || item.at < next.at || (item.at === next.at && item.seq < next.seq))) next = item;
      if (!next) break;
      this.queue.splice(this.queue.indexOf(next), 1);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = Math.max(this.t, target);
  }

  advanceBy(ms: number): void {
    this.advanceTo(this.t + ms);
  }

  /** When the next scheduled thing is due, if any. */
  nextDue(): number | undefined {
    let at: number | undefined;
    for (const item of this.queue) if (at === undefined || item.at < at) at = item.at;
    return at;
  }
}
