// `--json` (or `--log -`): one ECS JSON object per line on stdout, for containers and journald. stdout then
// carries nothing else (human lines go to stderr), so every line a reader gets parses.
//
// stdout is a pipe someone else reads, and may stall or go away: events are gathered per turn of the event
// loop and handed over in one write; while the stream waits for a drain, up to `maxItems` lines and
// `maxBytes` wait here, and later ones are dropped and counted; a broken stream (EPIPE) drops everything
// after. Neither ever stops the trap nor grows it, and the file and the other sinks go on.
import type { EventSink, TrapEvent } from "../types.ts";
import { streamFailure, type LineStream } from "../../log.ts";
import { BoundedQueue, Outage, renderOnce, type SinkHooks, type WriteFailure } from "./outage.ts";

export interface StdoutJsonOptions extends SinkHooks {
  maxItems?: number;
  maxBytes?: number;
}

export const STDOUT_QUEUE_ITEMS = 10_000;
export const STDOUT_QUEUE_BYTES = 8 * 1024 * 1024;

export class StdoutJsonSink implements EventSink {
  readonly name = "stdout";
  private readonly queue: BoundedQueue;
  private readonly outage: Outage;
  private waiting = false;
  private scheduled = false;
  private closed = false;
  /** Set once the stream failed for good (EPIPE, EBADF). */
  broken: string | undefined;
  /** Lines handed to the stream, for the curious (tests, benchmarks). */
  written = 0;

  constructor(
    private readonly stream: LineStream,
    o: StdoutJsonOptions = {},
  ) {
    this.queue = new BoundedQueue(o.maxItems ?? STDOUT_QUEUE_ITEMS, o.maxBytes ?? STDOUT_QUEUE_BYTES);
    this.outage = new Outage(o);
    stream.on("error", (err) => this.fail(err));
    stream.on("drain", () => this.drained());
  }

  get dropped(): number {
    return this.outage.dropped;
  }

  get failing(): WriteFailure | undefined {
    return this.outage.failing;
  }

  get pending(): number {
    return this.queue.length;
  }

  emit(event: TrapEvent): void {
    if (this.closed) return;
    if (this.broken !== undefined) return this.outage.drop(1, this.broken);
    let line: string;
    try {
      line = renderOnce(event) + "\n";
    } catch {
      return this.outage.drop(1, "unrenderable event");
    }
    if (!this.queue.push(line)) return this.outage.drop(1, "not being read");
    if (!this.scheduled && !this.waiting) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Hands every queued line to the stream in one write, unless it waits for a drain. */
  flush(): void {
    if (this.waiting || this.broken !== undefined || this.queue.length === 0) return;
    const n = this.queue.length;
    const text = this.queue.take(n).join("");
    try {
      this.written += n;
      if (!this.stream.write(text)) this.waiting = true;
    } catch (err) {
      this.fail(err as NodeJS.ErrnoException);
    }
  }

  private drained(): void {
    if (this.broken !== undefined) return;
    this.waiting = false;
    this.flush();
    // Report a stall that cost lines: its event goes out through this very stream, after what waited
    // (handed over first, so the queue has room for it).
    this.outage.ok();
  }

  private fail(err: NodeJS.ErrnoException): void {
    const code = streamFailure(err, () => {
      this.waiting = true;
      setTimeout(() => this.drained(), 1000).unref?.();
    });
    if (code === undefined) return;
    if (this.broken !== undefined) return;
    this.broken = code;
    this.outage.fail(code);
    this.outage.drop(this.queue.clear(), code);
  }

  /** Resolves once everything queued was handed to the stream and it took it, or after `ms`. */
  async flushWithin(ms: number): Promise<void> {
    this.flush();
    const end = Date.now() + ms;
    while ((this.waiting || this.queue.length > 0) && this.broken === undefined && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
      this.flush();
    }
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    // What the stream never took (it waited for a drain until the end) is lost: counted.
    this.outage.lose(this.queue.clear());
    this.closed = true;
  }
}
