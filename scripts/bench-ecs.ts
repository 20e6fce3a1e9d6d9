// What the ECS fields of issue 11 cost per event (never a timed assertion in a test): ecsLine on an
// event of each kind (a plain data event, a data event of a TLS session, an HTTP request's command event,
// one with source.geo), the slow path (jsonLine(toEcs)) for comparison, and --geoip lookups, cached and not.
//
//   bun scripts/bench-ecs.ts [--events 200000]
// No network; the MaxMind database is written to a temp folder by test/mmdb-writer.ts. Loops are bounded.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { findEntry } from "../src/catalog/index.ts";
import { ecsLine, toEcs } from "../src/events/ecs.ts";
import { GeoIp } from "../src/events/geoip.ts";
import type { TrapEvent } from "../src/events/types.ts";
import { jsonLine } from "../src/util/escape.ts";
import { httpFieldsOfLine } from "../src/wire/http-fields.ts";
import { writeMmdb } from "../test/mmdb-writer.ts";

const { values } = parseArgs({ options: { events: { type: "string", default: "200000" } } });
const N = Math.max(1000, Math.min(5_000_000, Number(values.events)));
const entry = findEntry("apache-2.4.10-debian-ssl")!;
const payload = new TextEncoder().encode("GET /index.html HTTP/1.1\r\nHost: 203.0.113.5\r\nUser-Agent: Mozilla/5.0 zgrab/0.x\r\n\r\n");
const base = (): TrapEvent => ({
  action: "data",
  time: new Date(),
  service: "https",
  entry,
  host: { name: "web01", release: "debian-8" },
  sessionId: "mx3b5xqv-1-a1bd501e",
  source: { ip: "198.51.100.7", port: 40000 },
  destination: { ip: "203.0.113.5", port: 443 },
  direction: "in",
  payload,
});
const tls = { established: true, version: "TLSv1.2", cipher: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", serverName: "web01.example" };
const kinds: [string, TrapEvent][] = [
  ["data", base()],
  ["data, TLS session", { ...base(), tls }],
  ["command with http.*", { ...base(), action: "command", payload: undefined, direction: undefined, command: "GET /index.html?x=1 HTTP/1.1", http: httpFieldsOfLine("GET /index.html?x=1 HTTP/1.1", "Mozilla/5.0 zgrab/0.x")! } as TrapEvent],
  ["data with source.geo", { ...base(), source: { ip: "198.51.100.7", port: 40000, geo: { countryIsoCode: "ZZ", countryName: "Testland", cityName: "Testville", continentCode: "EU", location: { lat: 48.5, lon: -2.25 } } } }],
];
for (const [, e] of kinds) for (const k of Object.keys(e) as (keyof TrapEvent)[]) if (e[k] === undefined) delete e[k];

function time(fn: () => void, n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t0) * 1e6) / n; // ns per call
}

console.log(`${N} events of each kind, Bun ${Bun.version}`);
for (const [name, e] of kinds) {
  time(() => ecsLine(e), Math.min(N, 20_000)); // warm-up
  const fast = time(() => ecsLine(e), N);
  const slow = time(() => jsonLine(toEcs(e)), Math.max(1000, N / 4));
  console.log(`${name.padEnd(24)} ecsLine ${fast.toFixed(0).padStart(6)} ns   jsonLine(toEcs) ${slow.toFixed(0).padStart(6)} ns   ${Buffer.byteLength(ecsLine(e))} bytes`);
}

const dir = mkdtempSync(join(tmpdir(), "micetrap-bench-ecs-"));
try {
  const networks: [string, { country: { iso_code: string; names: { en: string } } }][] = [];
  for (let a = 1; a < 224; a++) networks.push([`${a}.0.0.0/8`, { country: { iso_code: `C${a % 10}`, names: { en: `Country ${a}` } } }]);
  const file = join(dir, "bench.mmdb");
  writeFileSync(file, writeMmdb(networks, "GeoLite2-Country"));
  const db = GeoIp.open(file);
  const ips = Array.from({ length: 50_000 }, (_, i) => `${1 + (i % 223)}.${(i >> 8) & 255}.${i & 255}.${(i * 7) & 255}`);
  let j = 0;
  const miss = time(() => db.lookup(ips[j++ % ips.length]!), ips.length); // every address new: 50,000 > the cache's 10,000
  j = 0;
  const hit = time(() => db.lookup(ips[j++ % 1000]!), N);
  console.log(`--geoip lookup: ${miss.toFixed(0)} ns uncached (LRU evicting), ${hit.toFixed(0)} ns cached; cache holds ${db.cached}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
