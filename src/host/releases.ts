// OS releases (fixtures/releases.json): what a fake host runs. Every catalog entry names the releases that
// shipped it, so a host's faces belong to one era.
import table from "../../fixtures/releases.json";
import { SchemaError, schema, t } from "../services/schema.ts";
import { OS_FAMILIES, type OsFamily } from "../types.ts";
import { hashUnit } from "../util/random.ts";

export interface Release {
  id: string;
  family: OsFamily;
  name: string;
  year: number;
  kernel: string;
  weight: number;
}

const releaseShape = schema({
  id: t.text("release id, family-version", /^[a-z]+-[0-9a-z.]+$/, '"family-version"'),
  family: t.oneOf("OS family", OS_FAMILIES),
  name: t.text("display name"),
  year: t.int("year of release", 1990, 2100),
  kernel: t.text("what uname or the OS string says"),
  weight: t.int("chance of being drawn within its family", 1, 1000),
});

function load(): Release[] {
  const where = "fixtures/releases.json";
  const raw = table as { releases?: unknown };
  if (!Array.isArray(raw.releases)) throw new SchemaError(where, "releases: expected a list");
  const seen = new Set<string>();
  return raw.releases.map((r, i) => {
    const rel = releaseShape.parse(r, `${where}: release #${i + 1}:`);
    if (seen.has(rel.id)) throw new SchemaError(`${where}: release ${rel.id}`, "duplicate id");
    seen.add(rel.id);
    return rel;
  });
}

export const RELEASES: readonly Release[] = load();
const BY_ID = new Map(RELEASES.map((r) => [r.id, r]));

export function findRelease(id: string): Release | undefined {
  return BY_ID.get(id);
}

export function releasesOf(family: OsFamily): Release[] {
  return RELEASES.filter((r) => r.family === family);
}

/** The release a host of `family` runs, drawn with its seed by weight: the same seed, the same release. */
export function drawRelease(seed: string, family: OsFamily): Release {
  const pool = releasesOf(family);
  let best = pool[0]!;
  let bestScore = Infinity;
  for (const r of pool) {
    const score = -Math.log(1 - hashUnit(seed, "release", r.id)) / r.weight;
    if (score < bestScore) {
      bestScore = score;
      best = r;
    }
  }
  return best;
}

/** "debian" or "debian-7": a family, or a release (and so its family). Undefined when neither. */
export function parseOsName(text: string): { family: OsFamily; release?: Release } | undefined {
  const lower = text.toLowerCase();
  if ((OS_FAMILIES as readonly string[]).includes(lower)) return { family: lower as OsFamily };
  const release = findRelease(lower);
  return release ? { family: release.family, release } : undefined;
}
