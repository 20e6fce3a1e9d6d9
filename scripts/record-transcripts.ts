// Re-records fixtures/transcripts/ from scratch: every catalog entry under `micetrap record`, scanned by
// real `nmap -sV --version-all` and then `nmap -sV -sC` (one run each over all entries, loopback only).
// Run it when a change to the answers is intended; review the diff; commit the new transcripts.
//
// As root it records on the usual ports (nmap picks probes and scripts by port: the SMB scripts only run
// on 139/445), inside a network namespace of its own where those ports are free, one loopback address
// per entry. Otherwise, on random high ports of 127.0.0.1.
//
//   bun scripts/record-transcripts.ts [--out fixtures/transcripts] [--service S] [--entry ID ...] [--high-ports]
//
// --entry (repeatable) re-records only those entries and leaves every other transcript as it is.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { allEntries } from "../src/catalog/index.ts";
import { serviceModule } from "../src/services/index.ts";
import { startTrapProcess } from "./lib/trap-process.ts";

const ROOT = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    out: { type: "string", default: join(ROOT, "fixtures/transcripts") },
    service: { type: "string" },
    entry: { type: "string", multiple: true },
    "high-ports": { type: "boolean", default: false },
    "in-netns": { type: "boolean", default: false },
  },
});

const isRoot = process.getuid?.() === 0;
if (isRoot && !values["high-ports"] && !values["in-netns"]) {
  // Start again inside a fresh network namespace (only loopback, brought up) and stop here.
  const args = process.argv.slice(2);
  const r = Bun.spawnSync(
    ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", process.execPath, import.meta.path, "--in-netns", ...args],
    { stdout: "inherit", stderr: "inherit" },
  );
  process.exit(r.exitCode ?? 1);
}
const usualPorts = values["in-netns"] === true;
const SCANS = [
  ["-sV", "--version-all"],
  ["-sV", "-sC"],
];
const NOTE = SCANS.map((s) => `nmap ${s.join(" ")}`).join("; ");

const build = Bun.spawnSync([process.execPath, join(ROOT, "scripts/build.ts")], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
if (build.exitCode !== 0) process.exit(1);
const bin = join(ROOT, "dist/micetrap");

const only = values.entry ?? [];
const entries = allEntries().filter((e) => (!values.service || e.service === values.service) && (only.length === 0 || only.includes(e.id)));
const unknown = only.filter((id) => !entries.some((e) => e.id === id));
if (unknown.length > 0) {
  console.error(`no such entry${values.service ? ` in ${values.service}` : ""}: ${unknown.join(", ")}`);
  process.exit(2);
}
for (const e of entries) rmSync(join(values.out!, e.service, `${e.id}.json`), { force: true });

// Every trap that did start is stopped again, even when another failed to start.
const started = await Promise.allSettled(
  entries.map(async (e, i) => {
    // Usual ports: each entry on its own address, on the service's usual ports (no port argument) when the
    // entry's ports are among them, else on the entry's own usual port (Transmission's web UI on 9091).
    const serviceUsual = serviceModule(e.service).defaultPorts;
    const own = e.ports.every((p) => serviceUsual.includes(p)) ? [] : [String(e.ports[0])];
    const where = usualPorts ? [...own, "--host", `127.0.1.${i + 1}`] : ["0", "--host", "127.0.0.1"];
    // With the usual ports, wait for the line that follows the last listening line.
    const t = await startTrapProcess([bin, "record", e.service, ...where, "--banner", e.id, "--out", values.out!, "--note", NOTE], {
      until: /Pretending to be/,
      stderr: "inherit",
      // Forty processes starting at once on two cores: give each time.
      timeoutMs: 60_000,
    });
    return { e, proc: t.proc, ports: t.ports, ip: usualPorts ? `127.0.1.${i + 1}` : "127.0.0.1" };
  }),
);
const traps = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
const failed = started.find((r): r is PromiseRejectedResult => r.status === "rejected");
if (failed) {
  for (const t of traps) t.proc.kill("SIGTERM");
  await Promise.all(traps.map((t) => t.proc.exited));
  throw failed.reason;
}

const ports = [...new Set(traps.flatMap((t) => t.ports))].sort((a, b) => a - b).join(",");
const targets = [...new Set(traps.map((t) => t.ip))];
for (const scan of SCANS) {
  const started = performance.now();
  const nmap = Bun.spawnSync(["nmap", ...scan, "-Pn", "-n", "-p", ports, ...targets], { stdout: "pipe", stderr: "pipe", timeout: 20 * 60 * 1000 });
  console.log(`nmap ${scan.join(" ")} over ${traps.length} traps (ports ${ports}): exit ${nmap.exitCode}, ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
for (const t of traps) t.proc.kill("SIGTERM");
await Promise.all(traps.map((t) => t.proc.exited));
// On the usual ports a trap binds all of its service's ports; an entry that answers on only some of them
// (Windows shows one face on 139 and another on 445) keeps just the sessions on its own ports.
if (usualPorts) {
  for (const { e } of traps) {
    const file = join(values.out!, e.service, `${e.id}.json`);
    const t = JSON.parse(readFileSync(file, "utf8")) as { sessions: { localPort: number }[] };
    const kept = t.sessions.filter((s) => e.ports.includes(s.localPort));
    if (kept.length !== t.sessions.length) writeFileSync(file, JSON.stringify({ ...t, sessions: kept }, null, 1) + "\n");
  }
}
console.log(`recorded ${traps.length} transcripts into ${values.out}`);
