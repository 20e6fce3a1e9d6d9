// Builds the one file that ships: dist/micetrap (or --target=bun-linux-arm64 etc. for other platforms).
// The catalog JSON is bundled in; the binary reads nothing from the source tree, and it ignores any
// bunfig.toml, .env, tsconfig.json or package.json lying where it runs.
import { parseArgs } from "node:util";
import pkg from "../package.json";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    outfile: { type: "string" },
  },
});

function gitCommit(): string {
  const r = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { stderr: "ignore" });
  return r.exitCode === 0 ? r.stdout.toString().trim() : "unknown";
}

const target = values.target as Bun.Build.CompileTarget | undefined;
const outfile = values.outfile ?? (target ? `dist/micetrap-${target.replace(/^bun-/, "")}` : "dist/micetrap");

const result = await Bun.build({
  entrypoints: ["src/cli.ts"],
  minify: true,
  // Precompiled bytecode: start-up until the port listens drops from ~44 ms to ~19 ms for ~2 MiB (scripts/bench.ts).
  bytecode: true,
  sourcemap: "none",
  define: {
    MICETRAP_VERSION: JSON.stringify(pkg.version),
    MICETRAP_COMMIT: JSON.stringify(gitCommit()),
  },
  compile: {
    outfile,
    ...(target ? { target } : {}),
    autoloadBunfig: false,
    autoloadDotenv: false,
    autoloadTsconfig: false,
    autoloadPackageJson: false,
  },
});

if (!result.success) {
  for (const log of result.logs) console.error(String(log));
  process.exit(1);
}
const size = Bun.file(outfile).size;
console.log(`built ${outfile} (${(size / 1048576).toFixed(1)} MiB)`);
