// `micetrap check`: what would nmap -sV report for each catalog entry? Played in memory, in seconds.
import { defineCommand } from "citty";
import { hostSeed } from "../host/machine.ts";
import { UserError, parsePort } from "../errors.ts";
import { createLogger } from "../log.ts";
import { checkEntry, formatCheckRow, type CheckVerdict } from "../nmap/check.ts";
import { DEFAULT_PROBES_FILE, loadProbeFile } from "../nmap/probes.ts";
import { Scanner } from "../nmap/engine.ts";
import { selectArgs, selectEntries } from "./serve.ts";

export const checkCommand = defineCommand({
  meta: { name: "check", description: "play nmap's version detection against every catalog entry, in memory" },
  args: {
    json: { type: "boolean", description: "print a JSON array of verdicts" },
    ...selectArgs,
    intensity: { type: "string", description: "nmap --version-intensity, 0-9 (default 7)", valueHint: "N" },
    port: { type: "string", description: "scan as if on this port (default: each entry's usual ports)", valueHint: "PORT" },
    probes: { type: "string", description: `nmap-service-probes to use (default ${DEFAULT_PROBES_FILE})`, valueHint: "FILE" },
    seed: { type: "string", description: "host seed for per-host details (default: this host's)", valueHint: "TEXT" },
    verbose: { type: "boolean", description: "show every probe sent and what came back" },
  },
  async run({ args }) {
    const intensity = args.intensity === undefined ? 7 : Number(args.intensity);
    if (!/^\d$/.test(args.intensity ?? "7")) throw new UserError(`invalid --intensity "${args.intensity}": expected 0 to 9`);
    const port = args.port === undefined ? undefined : parsePort(args.port);
    const entries = selectEntries(args);
    let file;
    try {
      file = loadProbeFile(args.probes);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
    const scanner = new Scanner(file);
    const seed = args.seed ?? hostSeed();
    const started = performance.now();
    const verdicts: CheckVerdict[] = [];
    for (const entry of entries) {
      for (const p of port === undefined ? entry.ports : [port]) verdicts.push(await checkEntry(scanner, entry, { port: p, intensity, hostSeed: seed }));
    }
    const ms = performance.now() - started;
    if (args.json) process.stdout.write(JSON.stringify(verdicts, null, 2) + "\n");
    else {
      const log = createLogger("normal");
      for (const v of verdicts) log.log(formatCheckRow(v, args.verbose === true));
      const bad = verdicts.filter((v) => !v.ok).length;
      log.log(`${verdicts.length - bad}/${verdicts.length} ok in ${ms.toFixed(0)} ms (${file.counts.probes} probes, ${file.counts.matches} matches, ${file.counts.softmatches} softmatches, ${file.untranslated.length} untranslated, from ${file.path})`);
    }
    if (verdicts.some((v) => !v.ok)) process.exitCode = 1;
  },
});
