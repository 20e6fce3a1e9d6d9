// What the fuzzer starts from: the client side of every recorded session in fixtures/transcripts (nmap's
// probes and scripts, real clients' requests), one message per recorded read, duplicates dropped; each
// service's fuzz prefixes (ServiceModule.fuzzPrefixes); and whole logins (logins.ts). Read from the
// checkout, never bundled.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serviceModule } from "../services/index.ts";
import { parseTranscript } from "../transcripts/format.ts";
import { toBytes } from "../wire/bytes.ts";
import { LOGINS } from "./logins.ts";

export const TRANSCRIPTS_DIR = join(import.meta.dir, "../../fixtures/transcripts");

export interface Seed {
  /** Where it came from: "<file>#<session>" or "prefix <n>". */
  origin: string;
  /** The client's reads, in order. */
  messages: Uint8Array[];
}

export interface Corpus {
  service: string;
  seeds: Seed[];
  /** Whole logins (logins.ts), drawn on their own so that credential parsers are reached often. */
  logins: Seed[];
  /** Every message of every seed, for splicing. */
  pieces: Uint8Array[];
  prefixes: Uint8Array[];
}

const cache = new Map<string, Corpus>();

export function corpusFor(service: string, dir = TRANSCRIPTS_DIR): Corpus {
  const key = `${service}\u0000${dir}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const seeds: Seed[] = [];
  const seen = new Set<string>();
  const folder = join(dir, service);
  const files = existsSync(folder) ? readdirSync(folder).filter((f) => f.endsWith(".json")).sort() : [];
  for (const file of files) {
    const t = parseTranscript(readFileSync(join(folder, file), "utf8"), join(folder, file));
    for (const s of t.sessions) {
      const ins = s.exchanges.filter((x) => x.dir === "in");
      if (ins.length === 0) continue;
      const id = ins.map((x) => x.base64).join("|");
      if (seen.has(id)) continue;
      seen.add(id);
      seeds.push({ origin: `${service}/${file}#${s.id}`, messages: ins.map((x) => new Uint8Array(Buffer.from(x.base64, "base64"))) });
    }
  }
  const prefixes = serviceModule(service).fuzzPrefixes.map((p) => toBytes(p));
  prefixes.forEach((p, i) => seeds.push({ origin: `prefix ${i}`, messages: [p] }));
  const logins = (LOGINS[service] ?? []).map((l, i) => ({ origin: `login ${i}`, messages: [toBytes(l)] }));
  const corpus: Corpus = { service, seeds, logins, pieces: [...seeds, ...logins].flatMap((s) => s.messages).filter((m) => m.length > 0), prefixes };
  cache.set(key, corpus);
  return corpus;
}
