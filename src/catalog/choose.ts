// Which fake product a host shows: a weighted, seeded choice that fits the host's OS family.
import type { CatalogEntry, OsFamily } from "../types.ts";
import { hashUnit } from "../util/random.ts";

/**
 * When a table has no entry of the host's family, the nearest kin answers: another Linux family, then
 * the BSD-derived ones. A Windows face never stands on a Unix host (an OS scan would give it away),
 * nor the other way round; only a table with nothing else falls back to all its entries.
 */
const KIN: Record<OsFamily, OsFamily[]> = {
  debian: ["rhel", "freebsd", "macos"],
  rhel: ["debian", "freebsd", "macos"],
  freebsd: ["debian", "rhel", "macos"],
  macos: ["freebsd", "debian", "rhel"],
  windows: [],
};

export function fittingEntries(entries: CatalogEntry[], os: OsFamily): CatalogEntry[] {
  for (const family of [os, ...KIN[os]]) {
    const fit = entries.filter((e) => e.os === family);
    if (fit.length > 0) return fit;
  }
  return entries;
}

/**
 * Weighted rendezvous hashing: every entry gets a score from hash(seed, service, id) and its weight; the
 * best score wins. The same seed always gives the same entry, and adding an entry to a table only moves
 * the hosts that the new entry wins, so upgrades keep most faces stable.
 */
export function chooseEntry(entries: CatalogEntry[], seed: string, os: OsFamily): CatalogEntry {
  const pool = fittingEntries(entries, os);
  let best: CatalogEntry | undefined;
  let bestScore = Infinity;
  for (const e of pool) {
    const u = hashUnit(seed, e.service, e.id);
    const score = -Math.log(1 - u) / e.weight; // exponential race: P(win) is proportional to weight
    if (score < bestScore) {
      bestScore = score;
      best = e;
    }
  }
  if (!best) throw new Error("empty banner table");
  return best;
}
