// How a line-by-line daemon (an MTA, an IMAP or POP3 server) works through the commands a client sent
// ahead: it answers them in order, but a reply with a pause (a refused login) goes out only after what
// was answered before it, and the daemon reads nothing more until the pause is over; STARTTLS ends the
// reading at once (what follows is the client's handshake), and so does a hang-up. Shared by the
// services whose sessions are otherwise their own.
import type { ProtocolEvent, Reply } from "../types.ts";

/** One answered command. */
export interface LineOutcome {
  out: string;
  close?: boolean | "reset";
  delayMs?: number;
  startTls?: boolean;
}

/** What the drain keeps between calls: a reply held for its pause, and whether the daemon is asleep or gone. */
export interface DrainState<O extends LineOutcome> {
  deferred: O | undefined;
  /** Asleep in a pause: input waits until the "resume" timer. */
  waiting: boolean;
  closed: boolean;
}

export interface DrainHooks<O extends LineOutcome> {
  /** The next command's outcome, or undefined when no complete command waits. */
  next(events: ProtocolEvent[]): O | undefined;
  /** Whether input is still queued (read ahead while the daemon was busy). */
  pending(): boolean;
  /** TLS starts: drop what was read ahead, it is not commands. */
  dropReadAhead(): void;
  /** The daemon's own timer, restarted once it has answered (name and milliseconds), if it has one. */
  restart?: { name: string; ms: number };
}

/** Serves queued commands until one needs the daemon's time, a pause, TLS or a hang-up; returns the reply. */
export function drainLines<O extends LineOutcome>(s: DrainState<O>, h: DrainHooks<O>): Reply {
  const events: ProtocolEvent[] = [];
  const timers: Record<string, number | null> = {};
  let out = "";
  let delayMs = 0;
  let close: boolean | "reset" = false;
  let startTls = false;
  let served = false;
  for (;;) {
    let r: O | undefined;
    if (s.deferred !== undefined) {
      r = s.deferred;
      s.deferred = undefined;
    } else r = h.next(events);
    if (r === undefined) break;
    served = true;
    if ((r.delayMs ?? 0) > 0 && out !== "") {
      // What was answered before goes now; this reply after its pause.
      s.deferred = r;
      s.waiting = true;
      timers.resume = 0;
      break;
    }
    out += r.out;
    if (r.close) {
      close = r.close;
      s.closed = true;
      delayMs = r.delayMs ?? 0;
      break;
    }
    if (r.startTls) {
      startTls = true;
      h.dropReadAhead();
      break;
    }
    if ((r.delayMs ?? 0) > 0) {
      delayMs = r.delayMs!;
      // The daemon answers after its pause and only then reads on.
      if (h.pending()) {
        s.waiting = true;
        timers.resume = delayMs;
      }
      break;
    }
  }
  if (served && !s.closed && h.restart !== undefined) timers[h.restart.name] = delayMs + h.restart.ms;
  const reply: Reply = {};
  if (out !== "") reply.write = out;
  if (delayMs > 0) reply.delayMs = delayMs;
  if (close) reply.close = close;
  if (startTls) reply.startTls = true;
  if (events.length > 0) reply.events = events;
  if (Object.keys(timers).length > 0) reply.timers = timers;
  return reply;
}
