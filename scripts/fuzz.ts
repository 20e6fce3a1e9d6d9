// Runs the protocol fuzzer (src/fuzz/run.ts) locally, for longer than CI does, or replays one case.
//
//   bun scripts/fuzz.ts --service samba --cases 1000000 --seed 7     many cases, with the rate
//   bun scripts/fuzz.ts --service all --cases 100000                   every service, one after the other
//   bun scripts/fuzz.ts --service ssh,mysql --seed 11,22               a seed per service
//   bun scripts/fuzz.ts --service http --seed 7 --case 4242            one case: its steps and its outcome
//   --json                                                              one JSON report per service (for the tests)
//
// Exits 1 when a case fails, printing each failure with the line that reproduces it; 2 on bad arguments.
import { parseArgs } from "node:util";
import { buildCase, describeCase, fuzzService, runCase } from "../src/fuzz/run.ts";
import { SERVICES } from "../src/services/index.ts";
import { reuseEphemeralKeys } from "../src/services/ssh/ssh2-internals.ts";

function fail(message: string): never {
  console.error(`fuzz: ${message}`);
  process.exit(2);
}

let values: { service?: string; cases?: string; seed?: string; case?: string; from?: string; json?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      service: { type: "string", default: "all" },
      cases: { type: "string", default: "100000" },
      seed: { type: "string", default: "1" },
      case: { type: "string" },
      from: { type: "string", default: "0" },
      json: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (err) {
  fail((err as Error).message.split("\n")[0]!);
}

const whole = (name: string, text: string | undefined, max: number): number => {
  if (text === undefined || !/^\d{1,10}$/.test(text) || Number(text) > max) fail(`--${name} must be a whole number from 0 to ${max}, not "${text}"`);
  return Number(text);
};
const services = values.service === "all" ? [...SERVICES] : (values.service ?? "").split(",");
for (const s of services) if (!SERVICES.includes(s)) fail(`no service "${s}" (one of: ${SERVICES.join(", ")}, all)`);
const seedTexts = (values.seed ?? "").split(",");
if (seedTexts.length !== 1 && seedTexts.length !== services.length) fail(`--seed takes one seed, or one per service (${services.length})`);
const seeds = services.map((_, i) => whole("seed", seedTexts[seedTexts.length === 1 ? 0 : i], 0xffffffff));

if (values.case !== undefined) {
  if (services.length !== 1) fail("--case needs one --service");
  const c = buildCase(services[0]!, seeds[0]!, whole("case", values.case, 0xffffffff));
  console.log(describeCase(c));
  reuseEphemeralKeys(true);
  const r = await runCase(c);
  console.log(r.failure ? `FAILED: ${r.failure}` : `ok: ${r.bytesIn} bytes in ${r.calls} reads, ${r.bytesOut} bytes out, ${r.closed ? "closed" : "still open"}, buffered at most ${r.maxBuffered}`);
  process.exit(r.failure ? 1 : 0);
}

const cases = whole("cases", values.cases, 1_000_000_000);
const from = whole("from", values.from, 0xffffffff);
let failed = false;
for (const [i, service] of services.entries()) {
  const seed = seeds[i]!;
  const r = await fuzzService(service, { seed, cases, from, onProgress: values.json ? undefined : (n) => process.stderr.write(`  ${service}: ${n} cases\r`) });
  if (r.failures.length > 0) failed = true;
  if (values.json) {
    console.log(JSON.stringify(r));
    continue;
  }
  console.log(
    `${service}: ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.cases / (r.ms / 1000))} cases/s; ${(r.cpuMs / 1000).toFixed(1)} CPU s, ` +
      `${Math.round(r.cases / (r.cpuMs / 1000))} cases per CPU s), seed ${seed}; ${r.calls} reads, ${(r.bytesIn / 1e6).toFixed(1)} MB in, ` +
      `${(r.bytesOut / 1e6).toFixed(1)} MB out, ${r.closed} closed, ${r.events} events (longest string ${r.maxField}); buffered at most ${r.maxBuffered} of ${r.bound}; ${r.failures.length} failures`,
  );
  for (const f of r.failures) console.log(`  FAIL ${f.service} case ${f.caseNo} (${f.entry}, from ${f.origin}): ${f.message.split("\n").slice(0, 6).join("\n    ")}\n    reproduce: ${f.reproduce}`);
}
process.exit(failed ? 1 : 0);
