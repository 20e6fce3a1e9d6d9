// Re-records fixtures/transcripts/ from scratch: every catalog entry under `micetrap record`, scanned by
// real `nmap -sV --version-all` and then `nmap -sV -sC` (one run each over all entries, loopback only).
// Run it when a change to the answers is intended; review the diff; commit the new transcripts.
//
//   bun scripts/record-transcripts.ts [--out fixtures/transcripts] [--service S]
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { allEntries } from "../src/catalog/index.ts";

const ROOT = join(import.meta.dir, "..");
const { values } = parseArgs({ options: { out: { type: "string", default: join(ROOT, "fixtures/transcripts") }, service: { type: "string" } } });
const SCANS = [
  ["-sV", "--version-all"],
  ["-sV", "-sC"],
];
const NOTE = SCANS.map((s) => `nmap ${s.join(" ")}`).join("; ");

const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts/build.ts")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
if (build.exitCode !== 0) process.exit(1);
const bin = join(ROOT, "dist/micetrap");

const entries = allEntries().filter((e) => !values.service || e.service === values.service);
for (const e of entries) rmSync(join(values.out!, e.service, `${e.id}.json`), { force: true });

const traps = await Promise.all(
  entries.map(async (e) => {
    const proc = Bun.spawn([bin, "record", e.service, "0", "--host", "127.0.0.1", "--banner", e.id, "--out", values.out!, "--note", NOTE], {
      stdout: "pipe",
      stderr: "inherit",
    });
    const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
    let out = "";
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      out += new TextDecoder().decode(value);
      const m = /listening on port (\d+)\.\.\./.exec(out);
      if (m) {
        reader.releaseLock();
        (async () => {
          for await (const _ of proc.stdout as ReadableStream<Uint8Array>);
        })().catch(() => {});
        return { e, proc, port: Number(m[1]) };
      }
    }
    proc.kill("SIGKILL");
    throw new Error(`${e.id}: recorder did not start: ${out}`);
  }),
);

const ports = traps.map((t) => t.port).join(",");
for (const scan of SCANS) {
  const started = performance.now();
  const nmap = Bun.spawnSync(["nmap", ...scan, "-Pn", "-n", "-p", ports, "127.0.0.1"], { stdout: "pipe", stderr: "pipe", timeout: 20 * 60 * 1000 });
  console.log(`nmap ${scan.join(" ")} over ${traps.length} ports: exit ${nmap.exitCode}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
for (const t of traps) t.proc.kill("SIGTERM");
await Promise.all(traps.map((t) => t.proc.exited));
console.log(`recorded ${traps.length} transcripts into ${values.out}`);
