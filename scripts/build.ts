// Builds the one file that ships: dist/micetrap (or --target=bun-linux-arm64 etc. for other platforms).
// The catalog JSON is bundled in; the binary reads nothing from the source tree, and it ignores any
// bunfig.toml, .env, tsconfig.json or package.json lying where it runs. scripts/release.ts builds every
// platform through buildExecutable().
import { join } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json";

/** The commit built: `git rev-parse --short=12 HEAD`, plus `-dirty` when tracked files differ from it. */
export function gitCommit(cwd?: string): string {
  const run = (args: string[]) => Bun.spawnSync(["git", ...args], { stdout: "pipe", stderr: "ignore", cwd: cwd ?? join(import.meta.dir, "..") });
  const head = run(["rev-parse", "--short=12", "HEAD"]);
  if (head.exitCode !== 0) return "unknown";
  // Untracked files are left out, as `git describe --dirty` does: a worktree's node_modules link is one.
  const status = run(["status", "--porcelain", "--untracked-files=no"]);
  const dirty = status.exitCode !== 0 || status.stdout.toString().trim() !== "";
  return head.stdout.toString().trim() + (dirty ? "-dirty" : "");
}

export interface BuildOptions {
  /** A Bun compile target (bun-linux-arm64, bun-windows-x64, …); absent: this machine. */
  target?: Bun.Build.CompileTarget;
  outfile: string;
  /** Precompiled bytecode (default on). */
  bytecode?: boolean;
  version?: string;
  commit?: string;
}

/** The file a build writes: Bun adds .exe to a Windows executable that lacks it. */
export function outputPath(outfile: string, target?: string): string {
  return target?.includes("windows") && !outfile.endsWith(".exe") ? `${outfile}.exe` : outfile;
}

/** Builds one executable; throws an Error carrying Bun's messages (a failed runtime download among them). */
export async function buildExecutable(o: BuildOptions): Promise<{ path: string; size: number }> {
  let result: Bun.BuildOutput;
  try {
    result = await Bun.build({
      entrypoints: [join(import.meta.dir, "../src/cli.ts")],
      minify: true,
      // Precompiled bytecode: start-up until the port listens drops from ~44 ms to ~19 ms for ~5 MiB (scripts/bench.ts).
      bytecode: o.bytecode ?? true,
      sourcemap: "none",
      define: {
        MICETRAP_VERSION: JSON.stringify(o.version ?? pkg.version),
        MICETRAP_COMMIT: JSON.stringify(o.commit ?? gitCommit()),
      },
      compile: {
        outfile: o.outfile,
        ...(o.target ? { target: o.target } : {}),
        autoloadBunfig: false,
        autoloadDotenv: false,
        autoloadTsconfig: false,
        autoloadPackageJson: false,
      },
      throw: false,
    });
  } catch (err) {
    // Bun throws an AggregateError for some failures (a runtime it could not download) even with throw: false.
    const inner = (err as AggregateError).errors ?? [];
    throw new Error(inner.length ? inner.map((e: unknown) => String((e as Error)?.message ?? e)).join("; ") : String((err as Error)?.message ?? err));
  }
  if (!result.success) throw new Error(result.logs.map((l) => String(l.message ?? l)).join("; ") || "bun build failed");
  const path = outputPath(o.outfile, o.target);
  return { path, size: Bun.file(path).size };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      target: { type: "string" },
      outfile: { type: "string" },
    },
  });
  const target = values.target as Bun.Build.CompileTarget | undefined;
  const outfile = values.outfile ?? (target ? `dist/micetrap-${target.replace(/^bun-/, "")}` : "dist/micetrap");
  try {
    const { path, size } = await buildExecutable({ outfile, ...(target ? { target } : {}) });
    console.log(`built ${path} (${(size / 1048576).toFixed(1)} MiB)`);
  } catch (err) {
    console.error(`build failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
