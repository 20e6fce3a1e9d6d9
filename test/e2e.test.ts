// End to end: the compiled binary, every catalog entry, real nmap. The judge of the whole product.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { allEntries } from "../src/catalog/index.ts";
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
  const killer = setTimeout(() => proc.kill("SIGKILL"), 8 * 60 * 1000);
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

describe.if(hasNmap)("real nmap -sV against the compiled binary", () => {
  test("every catalog entry, on a random high port, is reported exactly as claimed (one nmap run)", async () => {
    const r = await runVerify([]);
    console.log(`nmap -sV over ${r.verdicts.length} high ports: ${r.seconds.toFixed(1)} s`);
    expect(r.verdicts.length).toBe(allEntries().length);
    expectAllExact(r, "high ports");
  }, 600_000);

  test.if(canUnshare)("every catalog entry, on its usual ports in a private network namespace, is reported exactly as claimed", async () => {
    // unshare -n: a fresh namespace with only loopback, so 21/80/139/445/3306/6881 are free whatever the host runs.
    const r = await runVerify(["--usual-ports"], ["unshare", "-n", "sh", "-c", 'ip link set lo up 2>/dev/null || ifconfig lo up; exec "$@"', "sh"]);
    console.log(`nmap -sV over ${r.verdicts.length} usual ports: ${r.seconds.toFixed(1)} s`);
    expect(r.verdicts.length).toBe(allEntries().reduce((n, e) => n + e.ports.length, 0));
    expectAllExact(r, "usual ports");
  }, 600_000);

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
