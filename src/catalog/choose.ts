// Which fake product a host shows: a weighted, seeded choice among the faces its OS release shipped.
import { findRelease, RELEASES } from "../host/releases.ts";
import type { CatalogEntry, OsFamily } from "../types.ts";
import { hashUnit } from "../util/random.ts";

/** What the choice needs to know of the host. */
export interface HostOs {
  family: OsFamily;
  /** A release id ("debian-7"); absent or unknown: any release of the family. */
  release?: string;
}

/**
 * How far apart two families are: the same family, then its kin (another Linux, then the BSD-derived
 * ones). A Windows face never stands on a Unix host (an OS scan would give it away), nor the reverse.
 */
const KIN: Record<OsFamily, OsFamily[]> = {
  debian: ["debian", "rhel", "freebsd", "macos"],
  rhel: ["rhel", "debian", "freebsd", "macos"],
  freebsd: ["freebsd", "debian", "rhel", "macos"],
  macos: ["macos", "freebsd", "debian", "rhel"],
  windows: ["windows"],
  // A device's firmware is its own world: a general-purpose Linux face only where nothing embedded fits.
  embedded: ["embedded", "debian", "rhel"],
  // An IOS box shows IOS faces only: a Linux daemon on a router is a story that does not fit.
  cisco: ["cisco"],
};

/** Distance from the host's release to another: kinship first, then the distribution, then years apart. */
function distance(host: HostOs, releaseId: string): number {
  const r = findRelease(releaseId);
  if (!r) return Infinity;
  const kin = KIN[host.family].indexOf(r.family);
  if (kin < 0) return Infinity;
  const hostYear = host.release ? findRelease(host.release)?.year : undefined;
  if (hostYear === undefined) return kin * 1000;
  // Within a family, the same distribution first: a Debian host takes a Debian face of another year
  // before an Ubuntu one ("Apache/2.4.7 (Ubuntu)" on a Debian host tells two stories).
  const sameDistro = host.release!.split("-")[0] === releaseId.split("-")[0];
  return kin * 1000 + (sameDistro ? 0 : 100) + Math.abs(r.year - hostYear);
}

/**
 * The entries a host may show: those its release shipped; else those of the nearest release that has any
 * (same family first, nearest year), so the versions still belong to one era; a table with nothing of the
 * host's kind of OS at all still gives a face.
 */
export function fittingEntries(entries: CatalogEntry[], host: HostOs): CatalogEntry[] {
  const own = host.release !== undefined && findRelease(host.release) ? entries.filter((e) => e.releases.includes(host.release!)) : [];
  if (own.length > 0) return own;
  let best = Infinity;
  let fit: CatalogEntry[] = [];
  for (const e of entries) {
    const d = Math.min(...e.releases.map((id) => distance(host, id)));
    if (d < best) {
      best = d;
      fit = [e];
    } else if (d === best && d !== Infinity) fit.push(e);
  }
  return fit.length > 0 ? fit : entries;
}

/**
 * Weighted rendezvous hashing: every entry gets a score from hash(seed, service, id) and its weight; the
 * best score wins. The same seed always gives the same entry, and adding an entry to a table only moves
 * the hosts that the new entry wins, so upgrades keep most faces stable.
 */
export function chooseEntry(entries: CatalogEntry[], seed: string, host: HostOs | OsFamily): CatalogEntry {
  const pool = fittingEntries(entries, typeof host === "string" ? { family: host } : host);
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

export { RELEASES };
