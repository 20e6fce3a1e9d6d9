// End to end: the compiled binary, every catalog entry, real nmap. The judge of the whole product.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allEntries, findEntry } from "../src/catalog/index.ts";
import { hostSeed } from "../src/host/machine.ts";
import { checkEntry } from "../src/nmap/check.ts";
import { Scanner } from "../src/nmap/engine.ts";
import { loadProbeFile } from "../src/nmap/probes.ts";
import { parseNmapXml } from "../scripts/lib/nmap-xml.ts";
import type { Verdict } from "../scripts/verify-nmap.ts";
import { BUN, ROOT, buildBinary, startProcess, tempDir } from "./helpers.ts";

const hasNmap = Bun.spawnSync(["sh", "-c", "command -v nmap"]).exitCode === 0;
const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && Bun.spawnSync(["unshare", "-n", "true"]).exitCode === 0;

async function runVerify(args: string[], wrap: string[] = []): Promise<{ verdicts: Verdict[]; seconds: number; table: string }> {
  const bin = await buildBinary();
  const cmd = [...wrap, BUN, join(ROOT, "scripts/verify-nmap.ts"), "--binary", bin, "--json", ...args];
  const proc = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  // Over 280 faces in one nmap run: the slowest face sets the time (about 7 min on 2 loaded cores).
  const killer = setTimeout(() => proc.kill("SIGKILL"), 20 * 60 * 1000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  clearTimeout(killer);
  const line = out.trim().split("\n").pop() ?? "";
  if (!line.startsWith("{")) throw new Error(`verify-nmap gave no result: ${out}\n${err}`);
  const r = JSON.parse(line) as { verdicts: Verdict[]; seconds: number };
  const table = r.verdicts
    .map((v) => `${v.ok ? "ok  " : "FAIL"} ${v.entry.padEnd(34)} ${v.ip}:${v.port}  claimed ${JSON.stringify(v.expected)}  nmap ${JSON.stringify(v.got)}`)
    .join("\n");
  return { ...r, table };
}

function expectAllExact(r: { verdicts: Verdict[]; table: string }, label: string) {
  const bad = r.verdicts.filter((v) => !v.ok);
  if (bad.length) console.error(`${label}: nmap disagreed with the catalog:\n${r.table}`);
  expect(bad.map((v) => v.entry)).toEqual([]);
}

const scanner = hasNmap ? new Scanner(loadProbeFile()) : undefined;

/** The model must say what real nmap said, field by field, for the very same entry and port. */
async function expectModelAgrees(r: { verdicts: Verdict[] }, label: string, intensity = 7) {
  const disagreements: string[] = [];
  for (const v of r.verdicts) {
    const entry = findEntry(v.entry)!;
    const model = (await checkEntry(scanner!, entry, { port: v.port, intensity, hostSeed: hostSeed() })).nmap;
    const fromModel = { service: model.service, product: model.product, version: model.version, info: model.info, hostname: model.hostname, ostype: model.ostype, devicetype: model.devicetype, cpe: model.cpe };
    const fromNmap = { service: v.got?.name, product: v.got?.product, version: v.got?.version, info: v.got?.info, hostname: v.got?.hostname, ostype: v.got?.ostype, devicetype: v.got?.devicetype, cpe: v.got?.cpe };
    // A number that changes from scan to scan (memcached's uptime) is not part of the claim: the model's
    // fixed clock and a live scan count different seconds.
    const uptime = <T extends string | undefined>(x: T): T => (x?.replace(/uptime \d+ seconds/, "uptime N seconds") ?? x) as T;
    fromModel.info = uptime(fromModel.info);
    fromNmap.info = uptime(fromNmap.info);
    if (JSON.stringify(fromModel) !== JSON.stringify(fromNmap))
      disagreements.push(`${v.entry} port ${v.port}\n  model ${JSON.stringify(fromModel)}\n  nmap  ${JSON.stringify(fromNmap)}`);
  }
  if (disagreements.length) console.error(`${label}: micetrap check and real nmap disagree:\n${disagreements.join("\n")}`);
  expect(disagreements).toEqual([]);
}

const NETNS = ["unshare", "-n", "sh", "-c", 'ip link set lo up 2>/dev/null || ifconfig lo up; exec "$@"', "sh"];

describe.if(hasNmap)("real nmap -sV against the compiled binary", () => {
  // One scan per test, one after another: each starts a trap per face (over 300 now), and the three at
  // once were more processes than two cores could schedule.
  const scans: Partial<Record<"high" | "usual" | "all", ReturnType<typeof runVerify>>> = {};
  const scan = (name: "high" | "usual" | "all") =>
    (scans[name] ??=
      name === "high"
        ? runVerify([])
        : // unshare -n: a fresh namespace with only loopback, so the usual ports are free whatever the host runs.
          name === "usual"
          ? runVerify(["--usual-ports"], NETNS)
          : runVerify(["--nmap-args=--version-all"]));

  test("every catalog entry, on a random high port, is reported exactly as claimed (one nmap run)", async () => {
    const r = await scan("high");
    console.log(`nmap -sV over ${r.verdicts.length} high ports: ${r.seconds.toFixed(1)} s`);
    expect(r.verdicts.length).toBe(allEntries().length);
    expectAllExact(r, "high ports");
    await expectModelAgrees(r, "high ports");
  }, 1_260_000);

  test.if(canUnshare)("every catalog entry, on its usual ports in a private network namespace, is reported exactly as claimed", async () => {
    const r = await scan("usual");
    console.log(`nmap -sV over ${r.verdicts.length} usual ports: ${r.seconds.toFixed(1)} s`);
    expect(r.verdicts.length).toBe(allEntries().reduce((n, e) => n + e.ports.length, 0));
    expectAllExact(r, "usual ports");
    await expectModelAgrees(r, "usual ports");
  }, 1_260_000);

  test("with --version-all (intensity 9) too, every entry is exact and check --intensity 9 agrees", async () => {
    const r = await scan("all");
    console.log(`nmap -sV --version-all over ${r.verdicts.length} high ports: ${r.seconds.toFixed(1)} s`);
    expectAllExact(r, "--version-all");
    await expectModelAgrees(r, "--version-all", 9);
  }, 1_260_000);

  test("nmap's connections leave listening, connection, data and close events in the log", async () => {
    const bin = await buildBinary();
    const log = join(tempDir(), "events.jsonl");
    const t = await startProcess([bin, "ftp", "0", "--host", "127.0.0.1", "--seed", "demo", "--log", log]);
    const nmap = Bun.spawnSync(["nmap", "-sV", "-Pn", "-n", "-p", String(t.port), "-oX", "-", "127.0.0.1"], { timeout: 120_000 });
    await t.stop();
    const [row] = parseNmapXml(nmap.stdout.toString());
    const claim = /Pretending to be (.+) \[entry ([^,]+),/.exec(t.lines()[1]!)!;
    const entry = allEntries().find((e) => e.id === claim[2])!;
    expect(row?.product).toBe(entry.product);
    expect(row?.version).toBe(entry.version);
    const events = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const actions = events.map((e) => e.event.action);
    expect(actions[0]).toBe("listening");
    for (const a of ["connection", "data", "close"]) expect(actions).toContain(a);
    // nmap hard-matches an ftp greeting and hangs up without a word: the data logged is the greeting it read.
    const greeting = events.find((e) => e.event.action === "data")!;
    expect(greeting.micetrap.payload.direction).toBe("outbound");
    expect(Buffer.from(greeting.micetrap.payload.base64, "base64").toString()).toMatch(/^220[ -]/);
  }, 180_000);
});
