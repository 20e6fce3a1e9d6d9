// What one process allows across all its ports: sessions in all, new connections per second from one
// source, bytes sent to one source per minute (a trap must not be anyone's amplifier), and one memory
// budget for everything held on behalf of peers (unread output, partial frames, connections waiting).
//
// The per-source tables are keyed by address, IPv6 by its /64 (one subscriber's network, which its owner
// can fill with addresses at will), and they are bounded: entries that would no longer limit anything are
// swept, and past MAX_SOURCES a new source is not tracked (it is still bounded by the per-port limits).

export interface ProcessLimits {
  /** Sessions at once over every port of the process. */
  maxTotalSessions: number;
  /** New connections a second from one source, sustained (0: no limit). Bursts up to ten seconds' worth pass. */
  maxRatePerSource: number;
  /** Bytes sent to one source a minute, over every port (0: no limit). */
  maxOutPerSource: number;
  /** Bytes held for peers across the process: unread output, partial frames, waiting connections. */
  memoryBudget: number;
}

export const DEFAULT_PROCESS_LIMITS: ProcessLimits = {
  maxTotalSessions: 10_000,
  maxRatePerSource: 200,
  maxOutPerSource: 16 * 1024 * 1024,
  memoryBudget: 128 * 1024 * 1024,
};

/** Sources tracked at once; a sweep keeps far fewer under any real load. */
const MAX_SOURCES = 100_000;
/** How often the tables drop entries that no longer limit anything. */
const SWEEP_MS = 10_000;

interface Bucket {
  /** Tokens left (connections, or bytes) as of `at`. */
  tokens: number;
  at: number;
}

/** The key a source is limited by: an IPv4 address, or the /64 an IPv6 address belongs to. */
export function sourceKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  const [head] = ip.split("%", 1);
  const halves = head!.split("::");
  const left = halves[0] ? halves[0].split(":") : [];
  const right = halves.length > 1 && halves[1] ? halves[1].split(":") : [];
  const groups = halves.length > 1 ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right] : left;
  return `${groups
    .slice(0, 4)
    .map((g) => (g === "" ? "0" : g.toLowerCase().replace(/^0+(?=.)/, "")))
    .join(":")}::/64`;
}

/** A token bucket per source: `rate` a second, holding at most `burst`. */
class PerSourceBuckets {
  private readonly buckets = new Map<string, Bucket>();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  /** Takes `amount` tokens from the source's bucket; false when there are not enough (nothing is taken). */
  take(key: string, amount: number, now: number): boolean {
    let b = this.buckets.get(key);
    if (b) {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
      b.at = now;
    } else {
      if (this.buckets.size >= MAX_SOURCES) return true;
      b = { tokens: this.burst, at: now };
      this.buckets.set(key, b);
    }
    if (b.tokens < amount) return false;
    b.tokens -= amount;
    return true;
  }

  /** Whether the source has anything left at all (a source that spent its budget is refused new sessions). */
  hasAny(key: string, now: number): boolean {
    const b = this.buckets.get(key);
    return !b || b.tokens + ((now - b.at) / 1000) * this.rate >= 1;
  }

  /** Drops sources whose bucket has refilled: they would start full anyway. */
  sweep(now: number): void {
    for (const [key, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(key);
  }

  get size(): number {
    return this.buckets.size;
  }
}

export class Governor {
  readonly limits: ProcessLimits;
  /** Sessions open (not yet closing) across the process. */
  sessions = 0;
  /** Sessions ended since the last full collection (see collectAfterBursts). */
  endedSinceCollect = 0;
  /** Bytes held for peers across the process. */
  held = 0;
  /** The most ever held at once, for the curious (tests, the abuse run). */
  peakHeld = 0;
  private readonly rates: PerSourceBuckets | undefined;
  private readonly output: PerSourceBuckets | undefined;
  private lastSweep = 0;

  constructor(limits: Partial<ProcessLimits> = {}) {
    this.limits = { ...DEFAULT_PROCESS_LIMITS, ...limits };
    const l = this.limits;
    this.rates = l.maxRatePerSource > 0 ? new PerSourceBuckets(l.maxRatePerSource, l.maxRatePerSource * 10) : undefined;
    this.output = l.maxOutPerSource > 0 ? new PerSourceBuckets(l.maxOutPerSource / 60, l.maxOutPerSource) : undefined;
  }

  private now(): number {
    const now = performance.now();
    if (now - this.lastSweep > SWEEP_MS) {
      this.lastSweep = now;
      this.rates?.sweep(now);
      this.output?.sweep(now);
    }
    return now;
  }

  /** Which process-wide limit a new connection from `ip` is over, if any; a connection let through is counted. */
  admit(ip: string): string | undefined {
    if (this.sessions >= this.limits.maxTotalSessions) return "too many sessions in the process";
    const now = this.now();
    const key = sourceKey(ip);
    if (this.output && !this.output.hasAny(key, now)) return "output budget for this source spent";
    if (this.rates && !this.rates.take(key, 1, now)) return "connection rate from this source";
    return undefined;
  }

  /** Charges bytes about to go to `ip`; false when its budget for the minute cannot cover them (nothing is charged). */
  spendOutput(ip: string, bytes: number): boolean {
    return !this.output || this.output.take(sourceKey(ip), bytes, this.now());
  }

  /** Takes `bytes` more held for a peer; false (and nothing taken) when the process budget cannot hold them. */
  hold(bytes: number): boolean {
    if (bytes <= 0) return true;
    if (this.held + bytes > this.limits.memoryBudget) return false;
    this.held += bytes;
    if (this.held > this.peakHeld) this.peakHeld = this.held;
    return true;
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  /**
   * After a burst (a flood, thousands of idle peers let go) the garbage of its sessions would hold the
   * process's memory high until the collector gets round to it, maybe never while quiet: once the burst is
   * over, collect it, so the trap goes back to its resting size. Checked every two seconds; costs nothing
   * when nothing happened.
   */
  collectAfterBursts(collect: () => void = () => Bun.gc(true)): () => void {
    const timer = setInterval(() => {
      if (this.endedSinceCollect >= 500 && this.sessions * 4 < this.endedSinceCollect) {
        this.endedSinceCollect = 0;
        collect();
      }
    }, 2000);
    timer.unref?.();
    return () => clearInterval(timer);
  }

  /** Sources the tables track now (bounded by MAX_SOURCES). */
  get trackedSources(): number {
    return (this.rates?.size ?? 0) + (this.output?.size ?? 0);
  }
}
