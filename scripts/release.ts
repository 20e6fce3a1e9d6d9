// `scripts/release`: cross-compiles micetrap for every platform Bun targets, into dist/release/ (or --out
// DIR), as micetrap-<version>-<os>-<arch>[-variant][.exe], copies the server files beside them (the install
// script, the systemd unit, the sample config, the logrotate rule) and writes SHA256SUMS over all of it
// (`sha256sum -c SHA256SUMS` checks them).
//
// Bun builds another platform's executable from that platform's Bun runtime, which it downloads from the
// npm registry on first use (40-55 MB each) and keeps in its install cache (~/.bun/install/cache, or
// $BUN_INSTALL_CACHE_DIR) as bun-<os>-<arch>[-variant]-v<bun version>.
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json";
import { buildExecutable, gitCommit } from "./build.ts";

interface Platform {
  /** In the file name: <os>-<arch>[-variant]. */
  name: string;
  target: Bun.Build.CompileTarget;
  /** Runs here, so the release checks its --version. */
  native?: boolean;
}

const ROOT = join(import.meta.dir, "..");
const onLinuxX64 = process.platform === "linux" && process.arch === "x64" && !isMusl();

export const PLATFORMS: Platform[] = [
  { name: "linux-x64", target: "bun-linux-x64", native: onLinuxX64 },
  // For x86-64 CPUs without AVX2 (before Haswell, 2013).
  { name: "linux-x64-baseline", target: "bun-linux-x64-baseline", native: onLinuxX64 },
  // musl (Alpine): needs libstdc++ and libgcc (apk add libstdc++ libgcc).
  { name: "linux-x64-musl", target: "bun-linux-x64-musl" },
  { name: "linux-arm64", target: "bun-linux-arm64" },
  { name: "linux-arm64-musl", target: "bun-linux-arm64-musl" },
  { name: "darwin-x64", target: "bun-darwin-x64" },
  { name: "darwin-arm64", target: "bun-darwin-arm64" },
  { name: "windows-x64", target: "bun-windows-x64" },
];

/** What goes beside the executables: an operator needs these on the server, and they are checksummed too. */
export const SERVER_FILES = ["install.sh", "micetrap.service", "config.yaml", "micetrap.logrotate"];

function isMusl(): boolean {
  try {
    return !(process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
  } catch {
    return false;
  }
}

export function releaseName(version: string, p: Platform): string {
  return `micetrap-${version}-${p.name}${p.name.startsWith("windows") ? ".exe" : ""}`;
}

async function sha256(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

const fail = (message: string): never => {
  console.error(`release: ${message}`);
  process.exit(2);
};

const usage = `usage: scripts/release [--out DIR] [--only NAME,NAME…]
  --out DIR    where the files go (default: dist/release)
  --only LIST  build only these platforms: ${PLATFORMS.map((p) => p.name).join(", ")}`;

async function main(): Promise<void> {
  let values: { out?: string; only?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { out: { type: "string" }, only: { type: "string" }, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }));
  } catch (err) {
    return fail(`${(err as Error).message.split("\n")[0]} (scripts/release --help)`);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  let platforms = PLATFORMS;
  if (values.only !== undefined) {
    const wanted = values.only.split(",").map((s) => s.trim()).filter(Boolean);
    const unknown = wanted.filter((w) => !PLATFORMS.some((p) => p.name === w));
    if (unknown.length || wanted.length === 0) fail(`unknown platform "${unknown[0] ?? values.only}": expected some of ${PLATFORMS.map((p) => p.name).join(", ")}`);
    platforms = PLATFORMS.filter((p) => wanted.includes(p.name));
  }
  const out = values.out !== undefined ? resolve(values.out) : join(ROOT, "dist/release");
  const version = pkg.version;
  const commit = gitCommit(ROOT);
  if (commit === "unknown") fail("not a git checkout: the release must name the commit it was built from");
  if (commit.endsWith("-dirty")) console.warn(`release: warning: tracked files have uncommitted changes; the executables will say commit ${commit}`);
  try {
    mkdirSync(out, { recursive: true });
  } catch (err) {
    fail(`cannot create ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  console.log(`micetrap ${version}, commit ${commit}, Bun ${Bun.version}: ${platforms.length} platform(s) into ${out}`);

  const files: string[] = [];
  const failures: string[] = [];
  const started = performance.now();
  for (const p of platforms) {
    const name = releaseName(version, p);
    const outfile = join(out, name);
    rmSync(outfile, { force: true });
    const t0 = performance.now();
    let bytecode = true;
    let built: { size: number } | undefined;
    let firstError = "";
    try {
      built = await buildExecutable({ target: p.target, outfile, version, commit });
    } catch (err) {
      firstError = (err as Error).message;
    }
    if (!built && !/download|resolve|connect|network|timed? ?out/i.test(firstError)) {
      // Some Bun versions cannot precompile bytecode for a foreign target: the plain build still ships.
      try {
        built = await buildExecutable({ target: p.target, outfile, version, commit, bytecode: false });
        bytecode = false;
      } catch {
        // the first error says more
      }
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    if (!built) {
      failures.push(`${p.name}: ${firstError}`);
      console.error(`  ${p.name.padEnd(19)} FAILED after ${secs} s: ${firstError}`);
      continue;
    }
    files.push(name);
    console.log(`  ${name.padEnd(34)} ${(built.size / 1048576).toFixed(1).padStart(6)} MiB ${secs.padStart(6)} s${bytecode ? "" : `  (without bytecode: ${firstError})`}`);
    if (p.native) {
      const r = Bun.spawnSync([outfile, "--version"], { stdout: "pipe", stderr: "pipe", env: {} });
      const said = r.stdout.toString().trim();
      const expected = `micetrap ${version} (commit ${commit})`;
      if (r.exitCode !== 0 || said !== expected) {
        failures.push(`${p.name}: --version printed ${JSON.stringify(said || r.stderr.toString().trim())}, expected ${JSON.stringify(expected)}`);
        console.error(`  ${p.name}: --version printed ${JSON.stringify(said)} (exit ${r.exitCode}), expected ${JSON.stringify(expected)}`);
      }
    }
  }
  for (const f of SERVER_FILES) {
    copyFileSync(join(ROOT, "scripts/install", f), join(out, f));
    files.push(f);
  }
  files.sort();
  const lines: string[] = [];
  for (const f of files) lines.push(`${await sha256(join(out, f))}  ${f}`);
  await Bun.write(join(out, "SHA256SUMS"), lines.join("\n") + "\n");
  console.log(`wrote ${join(out, "SHA256SUMS")} (${files.length} files) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (failures.length) {
    console.error(`release: ${failures.length} platform(s) failed: ${failures.map((f) => f.split(":")[0]).join(", ")}`);
    process.exit(1);
  }
  console.log(`check with: cd ${out} && sha256sum -c SHA256SUMS`);
}

await main();
