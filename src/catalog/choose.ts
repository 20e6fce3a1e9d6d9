// Which fake product a host shows: a weighted, seeded choice that fits the host's OS family.
import type { CatalogEntry, OsFamily } from "../types.ts";
import { hashUnit } from "../util/random.ts";

/**
 * Weighted rendezvous hashing: every entry gets a score from hash(seed, service, id) and its weight; the
 * best score wins. The same seed always gives the same entry, and adding an entry to a table only moves
 * the hosts that the new entry wins, so upgrades keep most faces stable.
 */
export function chooseEntry(entries: CatalogEntry[], seed: string, os: OsFamily): CatalogEntry {
  const fitting = entries.filter((e) => e.os === os);
  // A service no entry of this OS family offers still gets a face; any entry beats refusing to start.
  const pool = fitting.length > 0 ? fitting : entries;
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
