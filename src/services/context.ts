// Builds the SessionContext a protocol sees. Live sessions get crypto randomness; replays and tests a seed.
import type { CatalogEntry, SessionContext } from "../types.ts";
import { cryptoBytes, hashUnit, seededBytes } from "../util/random.ts";

export interface ContextOptions<T = unknown> {
  entry: CatalogEntry<T>;
  /** The host seed: decides persona details (hostname, workgroup) that must not change between connections. */
  hostSeed: string;
  /** When set, per-session randomness is derived from it (replays, tests); otherwise crypto-random. */
  sessionSeed?: string;
  now?: () => Date;
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
}

const HOST_WORDS = ["srv", "web", "files", "backup", "nas", "db", "app", "dev", "intranet", "storage", "build", "legacy"];

/** A plausible machine name, stable for the host seed: "files02", "web-legacy", … */
export function fakeHostname(hostSeed: string): string {
  const a = HOST_WORDS[Math.floor(hashUnit(hostSeed, "host-a") * HOST_WORDS.length)]!;
  const b = HOST_WORDS[Math.floor(hashUnit(hostSeed, "host-b") * HOST_WORDS.length)]!;
  const n = 1 + Math.floor(hashUnit(hostSeed, "host-n") * 12);
  return hashUnit(hostSeed, "host-shape") < 0.5 ? `${a}${String(n).padStart(2, "0")}` : a === b ? `${a}${n}` : `${a}-${b}`;
}

export function makeContext<T>(o: ContextOptions<T>): SessionContext<T> {
  return {
    entry: o.entry,
    random: o.sessionSeed !== undefined ? seededBytes(o.sessionSeed) : cryptoBytes,
    hostRandom: (label: string) => hashUnit(o.hostSeed, o.entry.id, label),
    now: o.now ?? (() => new Date()),
    hostname: fakeHostname(o.hostSeed),
    localAddress: o.localAddress ?? "127.0.0.1",
    localPort: o.localPort ?? 0,
    remoteAddress: o.remoteAddress ?? "127.0.0.1",
    remotePort: o.remotePort ?? 0,
  };
}
