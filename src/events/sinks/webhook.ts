// `--webhook URL`: events POSTed as JSON arrays of ECS documents (`[{…},{…}]`, Content-Type
// application/json), the form Logstash's http input, Vector's http_server and Fluent Bit's http input
// split into one event each.
//
// One request at a time, in order: a batch is whatever queued meanwhile (at most 500 events or 1 MiB).
// A 2xx answer delivers it; a network error, a timeout, 408, 429 or 5xx sends the same batch again after
// an exponential backoff with jitter (0.5 s doubling to 30 s; a 429's Retry-After up to 60 s is honoured),
// so once the server is back every event arrives once and in order. Any other answer (3xx, 4xx) refuses
// the batch for good: it is dropped and counted. Every request of a batch, first or retried, carries the
// same `Idempotency-Key`, so a server that saw a batch whose answer was lost (a timeout) can skip the
// copy. Events wait in memory meanwhile, at most 10,000 of them and 16 MiB; past that new events are
// dropped and counted. The owner hears of an outage once when it starts and once when a batch is
// delivered again, with the count dropped. Nothing here waits on the server: the trap never does.
import { randomBytes } from "node:crypto";
import type { EventSink, TrapEvent } from "../types.ts";
import { VERSION } from "../../version.ts";
import { backoff, BoundedQueue, Outage, renderOnce, type SinkHooks, type WriteFailure } from "./outage.ts";
import type { WebhookTarget } from "./url.ts";

export const WEBHOOK_QUEUE_ITEMS = 10_000;
export const WEBHOOK_QUEUE_BYTES = 16 * 1024 * 1024;
export const WEBHOOK_BATCH_ITEMS = 500;
export const WEBHOOK_BATCH_BYTES = 1024 * 1024;

export interface WebhookOptions extends SinkHooks {
  maxItems?: number;
  maxBytes?: number;
  batchItems?: number;
  /** Milliseconds a request may take (default 10 s). */
  timeoutMs?: number;
  /** First retry delay and the cap (defaults 500 ms and 30 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
}

interface Batch {
  lines: string[];
  bytes: number;
  key: string;
  attempt: number;
}

/** The answer's class: delivered, worth trying again, or refused for good. */
export function verdict(status: number): "ok" | "retry" | "refused" {
  if (status >= 200 && status < 300) return "ok";
  if (status === 408 || status === 429 || status >= 500) return "retry";
  return "refused";
}

export class WebhookSink implements EventSink {
  readonly name: string;
  private readonly queue: BoundedQueue;
  private readonly outage: Outage;
  private readonly o: Required<Pick<WebhookOptions, "batchItems" | "timeoutMs" | "retryBaseMs" | "retryMaxMs">>;
  private batch: Batch | undefined;
  private inFlight: AbortController | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private scheduled = false;
  private closed = false;
  private readonly keyPrefix = randomBytes(8).toString("hex");
  private seq = 0;
  /** Events the server took (2xx), for the curious (tests, benchmarks). */
  delivered = 0;
  requests = 0;

  constructor(
    readonly target: WebhookTarget,
    o: WebhookOptions = {},
  ) {
    this.name = `webhook ${target.display}`;
    this.queue = new BoundedQueue(o.maxItems ?? WEBHOOK_QUEUE_ITEMS, o.maxBytes ?? WEBHOOK_QUEUE_BYTES);
    this.outage = new Outage(o);
    this.o = { batchItems: o.batchItems ?? WEBHOOK_BATCH_ITEMS, timeoutMs: o.timeoutMs ?? 10_000, retryBaseMs: o.retryBaseMs ?? 500, retryMaxMs: o.retryMaxMs ?? 30_000 };
  }

  get dropped(): number {
    return this.outage.dropped;
  }

  get failing(): WriteFailure | undefined {
    return this.outage.failing;
  }

  /** Events held: queued, and in the batch being sent. */
  get pending(): number {
    return this.queue.length + (this.batch?.lines.length ?? 0);
  }

  emit(event: TrapEvent): void {
    if (this.closed) return;
    let line: string;
    try {
      line = renderOnce(event);
    } catch {
      return this.outage.drop(1, "unrenderable event");
    }
    // The batch in flight counts against the bound too: memory is what is held, sent or not.
    if (!this.queue.push(line, this.batch?.lines.length ?? 0, this.batch?.bytes ?? 0)) return this.outage.drop(1, "queue full");
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.batch || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.next();
    });
  }

  /** Starts the next batch when none is under way. */
  private next(): void {
    if (this.batch || this.closed || this.queue.length === 0) return;
    const lines = this.queue.take(this.o.batchItems, WEBHOOK_BATCH_BYTES);
    this.batch = { lines, bytes: lines.reduce((n, l) => n + l.length, 0), key: `${this.keyPrefix}-${++this.seq}`, attempt: 0 };
    void this.send();
  }

  private async send(): Promise<void> {
    const b = this.batch;
    if (!b) return;
    this.timer = undefined;
    const abort = new AbortController();
    this.inFlight = abort;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": `micetrap/${VERSION}`,
      "idempotency-key": b.key,
    };
    if (this.target.authorization) headers.authorization = this.target.authorization;
    let outcome: { kind: "ok" | "retry" | "refused"; code: string; retryAfterMs?: number };
    try {
      this.requests++;
      const res = await fetch(this.target.url, {
        method: "POST",
        headers,
        body: `[${b.lines.join(",")}]`,
        redirect: "manual",
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(this.o.timeoutMs)]),
      });
      // The answer's body is not read: nothing in it matters, and it could be anything.
      void res.body?.cancel().catch(() => {});
      outcome = { kind: verdict(res.status), code: `HTTP ${res.status}` };
      const ra = res.headers.get("retry-after");
      if (res.status === 429 && ra && /^\d{1,2}$/.test(ra)) outcome.retryAfterMs = Math.min(60, Number(ra)) * 1000;
    } catch (err) {
      const e = err as Error & { code?: string };
      outcome = { kind: "retry", code: e.name === "TimeoutError" ? "timeout" : e.name === "AbortError" ? "aborted" : (e.code ?? e.message.split("\n")[0]!.slice(0, 80)) };
    }
    if (this.inFlight === abort) this.inFlight = undefined;
    if (this.batch !== b) return; // closed meanwhile
    if (outcome.kind === "ok") {
      this.delivered += b.lines.length;
      this.batch = undefined;
      this.outage.ok();
      this.next();
      return;
    }
    if (outcome.kind === "refused") {
      this.batch = undefined;
      this.outage.drop(b.lines.length, outcome.code);
      this.next();
      return;
    }
    this.outage.fail(outcome.code);
    if (this.closed) return;
    const wait = Math.max(backoff(b.attempt++, this.o.retryBaseMs, this.o.retryMaxMs), outcome.retryAfterMs ?? 0);
    this.timer = setTimeout(() => void this.send(), wait);
  }

  /** Resolves once everything held was delivered (or refused), or after `ms`; a retry waiting is sent at once. */
  async flushWithin(ms: number): Promise<void> {
    const end = Date.now() + ms;
    if (this.timer && this.batch) {
      clearTimeout(this.timer);
      void this.send();
    }
    this.next();
    while (this.pending > 0 && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
      // At shutdown a failing server gets no more backoff: one more try, as long as time remains.
      if (this.timer && this.batch) {
        clearTimeout(this.timer);
        this.timer = undefined;
        await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, end - Date.now()))));
        if (Date.now() < end && this.batch && !this.inFlight) void this.send();
      }
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.inFlight?.abort();
    const lost = this.queue.clear() + (this.batch?.lines.length ?? 0);
    this.batch = undefined;
    this.outage.lose(lost);
  }
}
