// source.geo.* and source.as.* from a MaxMind database the operator supplies (`--geoip FILE`, `geoip:` in
// a config): GeoLite2/GeoIP2 City or Country, or an ASN database. Nothing is fetched: the file is read
// once at start (a missing or unreadable one stops the start), looked up with mmdb-lib, and each address's
// answer kept in a bounded LRU, so a flood from one source costs one lookup.
import { readFileSync } from "node:fs";
import type { Reader, Response } from "mmdb-lib";
import { UserError } from "../errors.ts";
import type { EventSink, SourceAs, SourceGeo, TrapEvent } from "./types.ts";

// mmdb-lib loads with --geoip, not with every start of micetrap.
const mmdb = (): typeof import("mmdb-lib") => require("mmdb-lib");

/** Addresses whose answer is kept; the least recently used goes first. */
export const GEOIP_CACHE_MAX = 10_000;
/** Longest name taken from the database (a city, a country, an AS organisation). */
const NAME_MAX = 256;

export interface GeoAnswer {
  geo?: SourceGeo;
  as?: SourceAs;
}

interface Names {
  names?: Record<string, unknown>;
}
interface MmdbRecord {
  city?: Names;
  country?: Names & { iso_code?: unknown };
  registered_country?: Names & { iso_code?: unknown };
  continent?: Names & { code?: unknown };
  location?: { latitude?: unknown; longitude?: unknown };
  autonomous_system_number?: unknown;
  autonomous_system_organization?: unknown;
}

function oneLine(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
}

function text(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v.slice(0, NAME_MAX) : undefined;
}

/** The English name, else the first the record has. */
function nameOf(n: Names | undefined): string | undefined {
  const names = n?.names;
  if (!names || typeof names !== "object") return undefined;
  return text(names["en"]) ?? text(Object.values(names)[0]);
}

/** What one database record says, in the event's terms; undefined when it says nothing usable. */
export function answerOf(r: MmdbRecord | null): GeoAnswer | undefined {
  if (!r || typeof r !== "object") return undefined;
  const geo: SourceGeo = {};
  const country = r.country ?? r.registered_country;
  const iso = text(country?.iso_code);
  if (iso !== undefined) geo.countryIsoCode = iso;
  const countryName = nameOf(country);
  if (countryName !== undefined) geo.countryName = countryName;
  const city = nameOf(r.city);
  if (city !== undefined) geo.cityName = city;
  const continent = text(r.continent?.code);
  if (continent !== undefined) geo.continentCode = continent;
  const lat = r.location?.latitude;
  const lon = r.location?.longitude;
  if (typeof lat === "number" && typeof lon === "number" && Number.isFinite(lat) && Number.isFinite(lon)) geo.location = { lat, lon };
  const as: SourceAs = {};
  const asn = r.autonomous_system_number;
  if (typeof asn === "number" && Number.isInteger(asn) && asn >= 0) as.number = asn;
  const org = text(r.autonomous_system_organization);
  if (org !== undefined) as.organization = org;
  const out: GeoAnswer = {};
  if (Object.keys(geo).length > 0) out.geo = geo;
  if (Object.keys(as).length > 0) out.as = as;
  return out.geo || out.as ? out : undefined;
}

export class GeoIp {
  private readonly cache = new Map<string, GeoAnswer | null>();
  lookups = 0;

  private constructor(
    private readonly reader: Reader<Response>,
    readonly databaseType: string,
  ) {}

  /** Opens the database; a file that is missing, unreadable or not a MaxMind database is a UserError. */
  static open(path: string): GeoIp {
    if (path === "") throw new UserError("--geoip needs a file name");
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (err) {
      throw new UserError(`cannot read the GeoIP database ${path}: ${(err as NodeJS.ErrnoException).code ?? oneLine((err as Error).message)}`);
    }
    let reader: Reader<Response>;
    try {
      reader = new (mmdb().Reader)(bytes);
      // A database whose tree is cut short fails on its first lookup, not at open: try one now.
      reader.get("127.0.0.1");
    } catch (err) {
      throw new UserError(`${path} is not a readable MaxMind database (${oneLine((err as Error).message).slice(0, 200)})`);
    }
    return new GeoIp(reader, String(reader.metadata.databaseType));
  }

  /** The database's answer for an address (cached); undefined when it has none, or the address is not one. */
  lookup(ip: string): GeoAnswer | undefined {
    const hit = this.cache.get(ip);
    if (hit !== undefined) {
      // Most recently used goes to the end.
      this.cache.delete(ip);
      this.cache.set(ip, hit);
      return hit ?? undefined;
    }
    this.lookups++;
    let answer: GeoAnswer | undefined;
    try {
      answer = answerOf(this.reader.get(ip) as unknown as MmdbRecord | null);
    } catch {
      answer = undefined; // not an address, or a damaged record: no geo fields, never a failed event
    }
    if (this.cache.size >= GEOIP_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(ip, answer ?? null);
    return answer;
  }

  get cached(): number {
    return this.cache.size;
  }
}

/**
 * Puts source.geo / source.as on events before they reach the sinks. A session's events share one
 * source object, so the first event of a session carries the answer to the rest.
 */
export class GeoEnricher implements EventSink {
  constructor(
    private readonly inner: EventSink,
    private readonly db: GeoIp,
  ) {}

  emit(e: TrapEvent): void {
    const src = e.source;
    if (src && src.ip && src.geo === undefined && src.as === undefined) {
      const a = this.db.lookup(src.ip);
      if (a?.geo) src.geo = a.geo;
      if (a?.as) src.as = a.as;
    }
    this.inner.emit(e);
  }

  close(): void {
    this.inner.close();
  }
}
