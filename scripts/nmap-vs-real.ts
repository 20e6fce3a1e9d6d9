// The timing and script table: `nmap -sV -sC` against a face and against the real daemon it claims, on the
// same machine, one after the other. Prints, per pair, the median wall time of each (3 runs), their ratio
// (face / real; the aim is 0.67–1.5), and the NSE scripts that printed output on each side, with the
// difference. A measurement, not a test: the real daemons are whatever runs on this machine.
//
//   bun scripts/nmap-vs-real.ts --pair SERVICE:FACE_ID:REAL_PORT [--pair …] [--runs N] [--json]
//
// The face is started from source on a free loopback port; the real daemon must already listen on
// 127.0.0.1:REAL_PORT. Only loopback is scanned.
import { parseArgs } from "node:util";
import { startTrapProcess } from "./lib/trap-process.ts";

const { values } = parseArgs({
  options: { pair: { type: "string", multiple: true }, runs: { type: "string", default: "3" }, json: { type: "boolean", default: false } },
});
const pairs = (values.pair ?? []).map((p) => {
  const m = /^([a-z0-9-]+):([A-Za-z0-9._-]+):(\d{1,5})$/.exec(p);
  if (!m) {
    console.error(`--pair ${p}: expected SERVICE:FACE_ID:REAL_PORT`);
    process.exit(2);
  }
  return { service: m[1]!, face: m[2]!, realPort: Number(m[3]) };
});
if (pairs.length === 0) {
  console.error("give at least one --pair SERVICE:FACE_ID:REAL_PORT");
  process.exit(2);
}
const runs = Math.max(1, Math.min(9, Number(values.runs) || 3));

interface Scan {
  seconds: number;
  scripts: string[];
  service: string;
}

/** One `nmap -sV -sC` of one loopback port: wall time, the scripts with output, what -sV said. */
async function scan(port: number): Promise<Scan> {
  const t0 = performance.now();
  const proc = Bun.spawn(["nmap", "-sV", "-sC", "-Pn", "-n", "-p", String(port), "-oX", "-", "127.0.0.1"], { stdout: "pipe", stderr: "pipe" });
  const killer = setTimeout(() => proc.kill("SIGKILL"), 10 * 60 * 1000);
  const xml = await new Response(proc.stdout).text();
  await proc.exited;
  clearTimeout(killer);
  const seconds = (performance.now() - t0) / 1000;
  const scripts = [...new Set([...xml.matchAll(/<script id="([^"]+)" output="([^"]*)"/g)].filter((m) => m[2]!.trim() !== "").map((m) => m[1]!))].sort();
  const svc = /<service ([^>]*)>/.exec(xml)?.[1] ?? "";
  const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(svc)?.[1] ?? "";
  return { seconds, scripts, service: [attr("name"), attr("product"), attr("version"), attr("extrainfo")].filter(Boolean).join(" ") };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const rows: Record<string, unknown>[] = [];
for (const p of pairs) {
  const trap = await startTrapProcess([process.execPath, "src/cli.ts", p.service, "0", "--host", "127.0.0.1", "--banner", p.face, "--max-rate-per-source", "0"]);
  try {
    const facePort = trap.ports[0]!;
    const face: Scan[] = [];
    const real: Scan[] = [];
    // Alternate, so a load change on the machine falls on both sides alike.
    for (let i = 0; i < runs; i++) {
      face.push(await scan(facePort));
      real.push(await scan(p.realPort));
    }
    const f = median(face.map((s) => s.seconds));
    const r = median(real.map((s) => s.seconds));
    const faceScripts = face[0]!.scripts;
    const realScripts = real[0]!.scripts;
    rows.push({
      service: p.service,
      face: p.face,
      faceSeconds: Number(f.toFixed(2)),
      realSeconds: Number(r.toFixed(2)),
      ratio: Number((f / r).toFixed(2)),
      faceScripts,
      realScripts,
      onlyFace: faceScripts.filter((s) => !realScripts.includes(s)),
      onlyReal: realScripts.filter((s) => !faceScripts.includes(s)),
      faceSaid: face[0]!.service,
      realSaid: real[0]!.service,
    });
  } finally {
    trap.proc.kill();
    await trap.proc.exited;
  }
}

if (values.json) console.log(JSON.stringify(rows));
else {
  console.log("| service | face | face s | real s | ratio | scripts (both) | only face | only real |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const both = (r.faceScripts as string[]).filter((s) => (r.realScripts as string[]).includes(s));
    console.log(`| ${r.service} | ${r.face} | ${r.faceSeconds} | ${r.realSeconds} | ${r.ratio} | ${both.join(", ")} | ${(r.onlyFace as string[]).join(", ")} | ${(r.onlyReal as string[]).join(", ")} |`);
  }
  for (const r of rows) console.log(`  ${r.face}: face says "${r.faceSaid}", real says "${r.realSaid}"`);
}
