// What every network sink shares: a bounded queue of rendered events, and an outage record that tells the
// owner once when a sink stops delivering (onFail) and once when it delivers again (onRecover, with the
// count of events dropped meanwhile), as the JSONL file does for a full disk.
import { ecsLine } from "../ecs.ts";
import type { WriteFailure } from "../jsonl.ts";
import type { TrapEvent } from "../types.ts";

export type { WriteFailure };

export interface SinkHooks {
  onFail?: (f: WriteFailure) => void;
  onRecover?: (f: WriteFailure) => void;
}

let lastEvent: TrapEvent | undefined;
let lastLine = "";

/**
 * ecsLine, once per event for all the sinks: the fan-out hands the same event to each in turn, so the
 * last one rendered is kept (events are never changed once emitted).
 */
export function renderOnce(e: TrapEvent): string {
  if (e !== lastEvent) {
    lastLine = ecsLine(e);
    lastEvent = e;
  }
  return lastLine;
}

/** A failure period: begins at the first problem, ends at the first delivery after it. */
export class Outage {
  private current: WriteFailure | undefined;
  /** Every event dropped over the sink's life. */
  dropped = 0;

  constructor(private readonly hooks: SinkHooks) {}

  get failing(): WriteFailure | undefined {
    return this.current;
  }

  /** A problem (a code such as ECONNREFUSED, HTTP 503, "queue full"): reported when a period begins. */
  fail(code: string): void {
    if (this.current) return;
    this.current = { code, since: new Date(), dropped: 0 };
    call(this.hooks.onFail, this.current);
  }

  /** Events lost; a drop with no failure under way starts one (a full queue is a failure to keep up). */
  drop(n: number, code: string): void {
    if (n <= 0) return;
    this.dropped += n;
    this.fail(code);
    this.current!.dropped += n;
  }

  /** Events lost as the sink closes: counted, with no report (the owner says what was left at exit). */
  lose(n: number): void {
    if (n <= 0) return;
    this.dropped += n;
    if (this.current) this.current.dropped += n;
  }

  /** Delivery works: the period, if any, ends. */
  ok(): void {
    const f = this.current;
    if (!f) return;
    this.current = undefined;
    call(this.hooks.onRecover, f);
  }
}

function call(fn: ((f: WriteFailure) => void) | undefined, f: WriteFailure): void {
  try {
    fn?.(f);
  } catch {
    // the owner's trouble is not the sink's
  }
}

/** Rendered events in order, at most `maxItems` of them and `maxBytes` of text (UTF-16 units). */
export class BoundedQueue {
  private items: string[] = [];
  private head = 0;
  bytes = 0;

  constructor(
    readonly maxItems: number,
    readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** False (and nothing kept) when the item does not fit, counting `extra` items and bytes held elsewhere. */
  push(item: string, extraItems = 0, extraBytes = 0): boolean {
    if (this.length + extraItems >= this.maxItems || this.bytes + extraBytes + item.length > this.maxBytes) return false;
    this.items.push(item);
    this.bytes += item.length;
    return true;
  }

  peek(): string | undefined {
    return this.items[this.head];
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = "";
    this.head++;
    this.bytes -= item.length;
    // Compact now and then, so a long-lived queue does not keep a long array of emptied slots.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Takes up to `max` items, and at most `maxBytes` of text (always at least one item when any is queued). */
  take(max: number, maxBytes = Infinity): string[] {
    const out: string[] = [];
    let bytes = 0;
    while (out.length < max && this.length > 0) {
      const next = this.peek()!;
      if (out.length > 0 && bytes + next.length > maxBytes) break;
      bytes += next.length;
      out.push(this.shift()!);
    }
    return out;
  }

  clear(): number {
    const n = this.length;
    this.items = [];
    this.head = 0;
    this.bytes = 0;
    return n;
  }
}

/** Exponential backoff with jitter: about base·2^attempt, at most `max`, each wait drawn from its upper half. */
export function backoff(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
