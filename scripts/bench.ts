// Benchmarks, as ratios against a baseline measured in the same run (never a timed assertion in a test):
// the compiled micetrap against a bare compiled Bun program that only listens and greets.
//   startup:   process start until the port accepts
//   sessions:  sequential banner+QUIT sessions per second (bounded count)
//   memory:    RSS with N idle connections held open
//
//   bun scripts/bench.ts [--sessions 2000] [--idle 1000]
// Traffic goes to 127.0.0.1 only; every loop is bounded in count and in time.
import { mkdtempSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startTrapProcess } from "./lib/trap-process.ts";

const { values } = parseArgs({ options: { sessions: { type: "string", default: "2000" }, idle: { type: "string", default: "1000" }, runs: { type: "string", default: "5" } } });
const SESSIONS = Math.min(20000, Number(values.sessions));
const IDLE = Math.min(5000, Number(values.idle));
const RUNS = Math.min(20, Number(values.runs));
const DEADLINE = Date.now() + 5 * 60 * 1000;

const ROOT = join(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "micetrap-bench-"));
const micetrap = join(ROOT, "dist/micetrap");

// The baseline: what Bun alone costs for the same job (listen, greet, close on QUIT).
const baselineSrc = join(work, "bare.ts");
writeFileSync(
  baselineSrc,
  `const l = Bun.listen({ hostname: "127.0.0.1", port: Number(process.argv[2] ?? 0), socket: {
     open(s) { s.write("220 ready\\r\\n"); },
     data(s, d) { if (String(d).startsWith("QUIT")) { s.write("221 bye\\r\\n"); s.end(); } },
   } });
   console.log("Fake ftp service listening on port " + l.port + "...");
   process.on("SIGTERM", () => process.exit(0));`,
);
const baseline = join(work, "bare");
{
  const b = Bun.spawnSync([process.execPath, "build", "--compile", baselineSrc, "--outfile", baseline], { stdout: "ignore", stderr: "pipe" });
  if (b.exitCode !== 0) throw new Error(b.stderr.toString());
}
if (!(await Bun.file(micetrap).exists())) {
  const b = Bun.spawnSync([process.execPath, join(ROOT, "scripts/build.ts")], { cwd: ROOT });
  if (b.exitCode !== 0) throw new Error("build failed");
}

interface Proc {
  proc: ReturnType<typeof Bun.spawn>;
  port: number;
  startedMs: number;
}

async function start(cmd: string[]): Promise<Proc> {
  const t = await startTrapProcess(cmd, { env: {}, stderr: "ignore" });
  return { proc: t.proc, port: t.ports[0]!, startedMs: t.startedMs };
}

async function stop(p: Proc) {
  p.proc.kill("SIGTERM");
  await p.proc.exited;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function session(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let sent = false;
    const timer = setTimeout(() => reject(new Error("session timeout")), 5000);
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(s) {
          if (!sent) {
            sent = true;
            s.write("QUIT\r\n");
          }
        },
        close() {
          clearTimeout(timer);
          resolve();
        },
        error(_s, e) {
          clearTimeout(timer);
          reject(e);
        },
      },
    }).catch(reject);
  });
}

async function sessionsPerSecond(port: number): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for (; n < SESSIONS && Date.now() < DEADLINE; n++) await session(port);
  return n / ((performance.now() - t0) / 1000);
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

async function idleMemory(p: Proc): Promise<{ before: number; after: number }> {
  const before = rssKiB(p.proc.pid);
  const sockets: { end(): void }[] = [];
  for (let i = 0; i < IDLE && Date.now() < DEADLINE; i++) {
    sockets.push(await Bun.connect({ hostname: "127.0.0.1", port: p.port, socket: { data() {}, error() {} } }));
  }
  await Bun.sleep(300);
  const after = rssKiB(p.proc.pid);
  for (const s of sockets) s.end();
  return { before, after };
}

const subjects = {
  baseline: [baseline, "0"],
  // Normal output (drained by start()), so the console sink's cost is part of the measurement.
  // All load comes from one address: the per-source and per-port shares are lifted so every connection counts.
  micetrap: [micetrap, "ftp", "0", "--host", "127.0.0.1", "--seed", "bench", "--os", "debian", "--max-per-source", "100000", "--max-sessions", "100000"],
};

const results: Record<string, Record<string, number>> = {};
for (const [name, cmd] of Object.entries(subjects)) {
  const startups: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const p = await start(cmd);
    await session(p.port); // the port really accepts
    startups.push(p.startedMs);
    await stop(p);
  }
  const p = await start(cmd);
  const rate = await sessionsPerSecond(p.port);
  await stop(p);
  const q = await start(cmd);
  const mem = await idleMemory(q);
  await stop(q);
  results[name] = { startupMs: median(startups), sessionsPerSec: rate, rssIdleKiB: mem.before, rssWithIdleKiB: mem.after };
}

const size = { baseline: Bun.file(baseline).size, micetrap: Bun.file(micetrap).size };
const b = results.baseline!;
const m = results.micetrap!;
const row = (label: string, mv: number, bv: number, unit: string, digits = 1) =>
  `${label.padEnd(34)} micetrap ${mv.toFixed(digits).padStart(10)} ${unit.padEnd(6)} baseline ${bv.toFixed(digits).padStart(10)} ${unit.padEnd(6)} ratio ${(mv / bv).toFixed(2)}`;
console.log(`micetrap bench: ${SESSIONS} sequential sessions, ${IDLE} idle connections, startup median of ${RUNS}`);
console.log(row("binary size", size.micetrap / 1048576, size.baseline / 1048576, "MiB"));
console.log(row("startup until listening", m.startupMs!, b.startupMs!, "ms"));
console.log(row("sessions per second (higher=better)", m.sessionsPerSec!, b.sessionsPerSec!, "/s", 0));
console.log(row("RSS idle", m.rssIdleKiB! / 1024, b.rssIdleKiB! / 1024, "MiB"));
console.log(row(`RSS with ${IDLE} idle connections`, m.rssWithIdleKiB! / 1024, b.rssWithIdleKiB! / 1024, "MiB"));
console.log(row("RSS per idle connection", ((m.rssWithIdleKiB! - m.rssIdleKiB!) / IDLE), ((b.rssWithIdleKiB! - b.rssIdleKiB!) / IDLE), "KiB", 2));

// A whole host: one `serve` process for the largest persona against one process per service of it.
{
  const personas = JSON.parse(Bun.spawnSync([micetrap, "personas", "--json"]).stdout.toString()) as { name: string; release: string; services: { service: string }[] }[];
  const largest = personas.reduce((a, p) => (p.services.length > a.services.length ? p : a));
  const config = join(work, "host.yaml");
  writeFileSync(config, `persona: ${largest.name}\nservices:\n${largest.services.map((s) => `  - service: ${s.service}\n    port: 0\n`).join("")}`);
  const settle = async (pid: number) => {
    await Bun.sleep(1000);
    return rssKiB(pid);
  };
  const whole = await startTrapProcess([micetrap, "serve", "--config", config, "--seed", "bench", "--host", "127.0.0.1"], { env: {}, stderr: "ignore", until: /Host / });
  const wholeRss = await settle(whole.proc.pid);
  whole.proc.kill("SIGTERM");
  await whole.proc.exited;
  let sum = 0;
  for (const s of largest.services) {
    const one = await startTrapProcess([micetrap, s.service, "0", "--host", "127.0.0.1", "--seed", "bench", "--os", largest.release], { env: {}, stderr: "ignore", until: /Pretending/ });
    sum += await settle(one.proc.pid);
    one.proc.kill("SIGTERM");
    await one.proc.exited;
  }
  console.log(
    `${`RSS of ${largest.name} (${largest.services.length} services)`.padEnd(34)} serve    ${(wholeRss / 1024).toFixed(1).padStart(10)} MiB    one each ${(sum / 1024).toFixed(1).padStart(10)} MiB    ratio ${(wholeRss / sum).toFixed(2)}`,
  );
}
