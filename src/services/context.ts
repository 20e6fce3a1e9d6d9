// Builds the SessionContext a session sees. Live sessions get crypto randomness, the host's shared counters
// and the wall clock; replays and tests a seed, recorded counters and a frozen clock.
import { counterBase, type CounterSpec } from "../host/counters.ts";
import { hostFacts, type HostFacts } from "../host/facts.ts";
import type { CatalogEntry, SessionContext } from "../types.ts";
import { cryptoBytes, hashUnit, seededBytes } from "../util/random.ts";

export interface ContextOptions<T = unknown> {
  entry: CatalogEntry<T>;
  /** The host seed: decides details that must not change between connections. */
  hostSeed: string;
  /** The host's facts; derived from hostSeed and the entry's OS when absent. */
  host?: HostFacts;
  /** When set, per-session randomness is derived from it (replays, tests); otherwise crypto-random. */
  sessionSeed?: string;
  /** Real time now; a replay freezes it at the recorded instant. */
  now?: () => Date;
  /** The host's counters (live: shared by every session); absent: the value a fresh process would hand out. */
  counter?: (name: string, spec: CounterSpec) => number;
  /** Sessions open on this port, this one included. */
  concurrent?: number;
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
}

/**
 * hostRandom values already computed: the same (host seed, entry, label) always gives the same number, and
 * a connection asks for the same few (an http page's mtime, inode and ETag; a peer id) again and again.
 * Bounded: emptied when full (labels may carry the hour, so they are not a fixed set).
 */
const hostRandomMemo = new Map<string, number>();
const HOST_RANDOM_MEMO_MAX = 4096;

function memoHostRandom(hostSeed: string, entryId: string, label: string): number {
  const key = `${hostSeed}\u0000${entryId}\u0000${label}`;
  let v = hostRandomMemo.get(key);
  if (v === undefined) {
    if (hostRandomMemo.size >= HOST_RANDOM_MEMO_MAX) hostRandomMemo.clear();
    v = hashUnit(hostSeed, entryId, label);
    hostRandomMemo.set(key, v);
  }
  return v;
}

export function makeContext<T>(o: ContextOptions<T>): SessionContext<T> {
  const host = o.host ?? hostFacts({ seed: o.hostSeed, family: o.entry.os });
  const now = o.now ?? (() => new Date());
  // Sub-millisecond part of the clock: live from the monotonic clock, frozen sessions from their seed.
  let preciseCalls = 0;
  const subMs = o.now !== undefined ? () => Math.floor(hashUnit(o.sessionSeed ?? "", "us", String(preciseCalls++)) * 1000) : () => Math.floor((performance.now() % 1) * 1000);
  return {
    entry: o.entry,
    host,
    random: o.sessionSeed !== undefined ? seededBytes(o.sessionSeed) : cryptoBytes,
    hostRandom: (label: string) => memoHostRandom(o.hostSeed, o.entry.id, label),
    now,
    nowMicros: () => BigInt(now().getTime()) * 1000n + BigInt(subMs()),
    counter: o.counter ?? ((name, spec) => counterBase(host, name, spec, now()) + 1),
    concurrent: o.concurrent ?? 1,
    hostname: host.hostname,
    localAddress: o.localAddress ?? "127.0.0.1",
    localPort: o.localPort ?? 0,
    remoteAddress: o.remoteAddress ?? "127.0.0.1",
    remotePort: o.remotePort ?? 0,
  };
}
