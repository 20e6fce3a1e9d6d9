// The protocol fuzzer (src/fuzz/run.ts) in CI: 100,000 seeded cases per service, each a fresh session of a
// random face fed mutated recorded requests in random pieces, with timers firing in between, on the
// virtual clock. No case may throw, write without bound, hold more than its service's bound, or let its
// timers run away. Every registered service is fuzzed, half in this process and half in a child process (two
// cores). Every failure prints the line that replays its case. First, the fuzzer is shown to catch what it
// claims to catch, on sessions broken on purpose.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { buildCase, describeCase, fuzzService, runCase, type ServiceReport } from "../src/fuzz/run.ts";
import { SERVICES } from "../src/services/index.ts";
import type { ProtocolSession, Reply } from "../src/types.ts";
import { BUN, ROOT } from "./helpers.ts";

/** Cases per service; CI runs the default (MICETRAP_FUZZ_CASES only ever raises it, for long local runs). */
const CASES = Math.max(100_000, Number(process.env.MICETRAP_FUZZ_CASES) || 0);

/** A fixed seed per service, so CI runs the same cases every time and each service its own stream; a
 * service added later gets one from its name. */
const FIXED_SEEDS: Record<string, number> = { ftp: 2101, http: 2202, https: 2303, mysql: 2404, samba: 2505, ssh: 2606, torrent: 2707 };
const seedOf = (s: string): number => FIXED_SEEDS[s] ?? 3000 + ([...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) % 6000);
const SEEDS: Record<string, number> = Object.fromEntries(SERVICES.map((s) => [s, seedOf(s)]));
// Every registered service is fuzzed: half in this process, half in a child (two cores).
const HERE = SERVICES.filter((_, i) => i % 2 === 0);
const CHILD = SERVICES.filter((_, i) => i % 2 === 1);

function summary(r: ServiceReport): string {
  return (
    `fuzz ${r.service}: ${r.cases} cases, seed ${r.seed}, ${(r.ms / 1000).toFixed(1)} s (${Math.round(r.cases / (r.ms / 1000))} cases/s, ` +
    `${Math.round(r.cases / (r.cpuMs / 1000))} per CPU s); ${(r.bytesIn / 1e6).toFixed(1)} MB in, ${r.closed} closed, buffered at most ${r.maxBuffered} of ${r.bound}`
  );
}

function failures(r: ServiceReport): string[] {
  return r.failures.map((f) => `${f.service} case ${f.caseNo} (${f.entry}, from ${f.origin}): ${f.message.split("\n").slice(0, 4).join(" | ")}\n  reproduce: ${f.reproduce}`);
}

describe("the fuzzer catches what it claims to", () => {
  // Real cases of a real service, run against sessions broken in one way each.
  const someCases = (n: number) => Array.from({ length: n }, (_, k) => buildCase("ftp", 9, k));
  const plain = (over: Partial<ProtocolSession>): (() => ProtocolSession) => () => ({ open: () => ({ write: "220 hi\r\n" }), data: () => ({}), ...over });

  test("the same seed and case number give the same case; another seed gives others", () => {
    expect(describeCase(buildCase("samba", 5, 77))).toBe(describeCase(buildCase("samba", 5, 77)));
    const a = Array.from({ length: 20 }, (_, k) => describeCase(buildCase("samba", 5, k)));
    const b = Array.from({ length: 20 }, (_, k) => describeCase(buildCase("samba", 6, k)));
    expect(a.filter((x, i) => x === b[i])).toEqual([]);
  });

  test("a throw from data() is a failure that names the throw", async () => {
    const outcomes = await Promise.all(
      someCases(30).map((c) =>
        runCase(c, {
          start: plain({
            data: (chunk) => {
              if (chunk.includes(0x0a)) throw new Error("parser bug");
              return {};
            },
          }),
        }),
      ),
    );
    const failed = outcomes.filter((o) => o.failure);
    expect(failed.length).toBeGreaterThan(20);
    expect(failed[0]!.failure).toContain("parser bug");
  });

  test("a throw from a timer is a failure; so is a throw from a library's scheduled work", async () => {
    const timerThrows = await runCase(buildCase("ftp", 9, 1), { start: plain({ open: () => ({ timers: { idle: 1000 } }), timer: () => { throw new Error("timer bug"); } }) });
    expect(timerThrows.failure).toContain("timer bug");
    const laterThrows = await runCase(buildCase("ftp", 9, 1), {
      start: () => {
        let later: ((ms: number, fn: () => void) => void) | undefined;
        return {
          attach: (c) => void (later = c.later),
          open: (): Reply => {
            later!(5000, () => {
              throw new Error("library bug");
            });
            return {};
          },
          data: () => ({}),
        };
      },
    });
    expect(laterThrows.failure).toContain("library bug");
  });

  test("holding more than the bound, writing without end, and a timer that re-arms itself are failures", async () => {
    const big = someCases(50).find((c) => c.steps.reduce((n, s) => n + (s.kind === "wait" ? 0 : s.bytes.length), 0) > 200)!;
    let held = 0;
    const hoarder = await runCase(big, { maxBuffered: 100, start: plain({ data: (c) => ((held += c.length), {}), buffered: () => held }) });
    expect(hoarder.failure).toContain("over the service's bound of 100");

    const chatty = await runCase(buildCase("ftp", 9, 3), { start: plain({ open: () => ({ timers: { tick: 1000 } }), timer: () => ({ write: "x".repeat(4096), timers: { tick: 1000 } }) }) });
    expect(chatty.failure).toMatch(/wrote \d+ bytes (for|on its own)/);

    const spinning = await runCase(buildCase("ftp", 9, 4), { start: plain({ open: () => ({ timers: { spin: 0 } }), timer: () => ({ timers: { spin: 0 } }) }) });
    expect(spinning.failure).toContain("timer callbacks");
  });

  test("each failing case is reported with its seed, its number and the line that replays it", async () => {
    const r = await fuzzService("ftp", {
      seed: 9,
      cases: 3,
      from: 40,
      hooks: {
        start: plain({
          open: () => {
            throw new Error("broken at open");
          },
        }),
      },
    });
    expect(r.cases).toBe(3);
    expect(r.failures.map((f) => [f.caseNo, f.seed, f.reproduce])).toEqual([40, 41, 42].map((k) => [k, 9, `bun scripts/fuzz.ts --service ftp --seed 9 --case ${k}`]));
    expect(r.failures[0]!.message).toContain("broken at open");
  });
});

describe(`fuzzing every protocol, ${CASES.toLocaleString("en")} cases each`, () => {
  // The child runs its services while this process runs its own.
  let child: ReturnType<typeof Bun.spawn> | undefined;
  let childReports: Promise<{ reports: Map<string, ServiceReport>; stderr: string; code: number }>;

  beforeAll(() => {
    child = Bun.spawn([BUN, "scripts/fuzz.ts", "--json", "--cases", String(CASES), "--service", CHILD.join(","), "--seed", CHILD.map((s) => SEEDS[s]).join(",")], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const proc = child;
    childReports = (async () => {
      const [out, err, code] = await Promise.all([new Response(proc.stdout as ReadableStream).text(), new Response(proc.stderr as ReadableStream).text(), proc.exited]);
      const reports = new Map<string, ServiceReport>();
      for (const line of out.split("\n")) {
        if (!line.startsWith("{")) continue;
        const r = JSON.parse(line) as ServiceReport;
        reports.set(r.service, r);
      }
      return { reports, stderr: err, code };
    })();
  });

  afterAll(() => {
    child?.kill();
  });

  for (const service of HERE) {
    test(
      service,
      async () => {
        const r = await fuzzService(service, { seed: SEEDS[service]!, cases: CASES });
        console.log(summary(r));
        expect(failures(r)).toEqual([]);
        expect(r.cases).toBe(CASES);
        expect(r.maxBuffered).toBeLessThanOrEqual(r.bound);
      },
      300_000,
    );
  }

  for (const service of CHILD) {
    test(
      `${service} (in a child process)`,
      async () => {
        const { reports, stderr, code } = await childReports;
        const r = reports.get(service);
        expect(r, `the child gave no report for ${service} (exit ${code}): ${stderr.slice(-2000)}`).toBeDefined();
        console.log(summary(r!));
        expect(failures(r!)).toEqual([]);
        expect(r!.cases).toBe(CASES);
        expect(r!.maxBuffered).toBeLessThanOrEqual(r!.bound);
      },
      600_000,
    );
  }
});
