// `micetrap replay [FILES…]`: feeds recorded requests to today's code; reports every changed answer and
// what nmap would now conclude for the recorded ports.
import { defineCommand } from "citty";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { findEntry } from "../catalog/index.ts";
import { UserError } from "../errors.ts";
import { createLogger } from "../log.ts";
import { checkEntry } from "../nmap/check.ts";
import { Scanner } from "../nmap/engine.ts";
import { DEFAULT_PROBES_FILE, loadProbeFile } from "../nmap/probes.ts";
import { parseTranscript } from "../transcripts/format.ts";
import { formatDiff, replayTranscript, type ReplayResult } from "../transcripts/replay.ts";

export const DEFAULT_TRANSCRIPTS = "fixtures/transcripts";

/** The transcript files under a folder (or the file itself). */
export function transcriptFiles(path: string): string[] {
  if (!existsSync(path)) throw new UserError(`no such file or folder: ${path}`);
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(path, f));
}

export interface FileReplay extends ReplayResult {
  file: string;
  /** What nmap would now report for the entry on each port the transcript was recorded on. */
  nmapNow?: { port: number; ok: boolean; said: string }[];
}

export async function replayFile(file: string, scanner: Scanner | undefined): Promise<FileReplay> {
  const t = parseTranscript(readFileSync(file, "utf8"), file);
  const entry = findEntry(t.entry);
  if (!entry) throw new UserError(`${file}: entry "${t.entry}" is not in the catalog (removed? re-record or delete the transcript)`);
  const result: FileReplay = { file, ...(await replayTranscript(t, entry)) };
  if (scanner) {
    const ports = [...new Set(t.sessions.map((s) => s.localPort))];
    result.nmapNow = [];
    for (const port of ports) {
      const v = await checkEntry(scanner, entry, { port, intensity: 7, hostSeed: t.hostSeed });
      const said = [v.nmap.service + ":", v.nmap.product, v.nmap.version, v.nmap.info && `(${v.nmap.info})`].filter(Boolean).join(" ");
      result.nmapNow.push({ port, ok: v.ok, said: `${said} via ${v.nmap.probe} line ${v.nmap.line}` });
    }
  }
  return result;
}

export const replayCommand = defineCommand({
  meta: { name: "replay", description: `replay recorded transcripts against today's code (default: ${DEFAULT_TRANSCRIPTS})` },
  args: {
    json: { type: "boolean", description: "print a JSON array of results" },
    probes: { type: "string", description: `nmap-service-probes, to say what nmap would now conclude (default ${DEFAULT_PROBES_FILE})`, valueHint: "FILE" },
  },
  async run({ args }) {
    const paths = args._.length > 0 ? args._ : [DEFAULT_TRANSCRIPTS];
    const files = paths.flatMap(transcriptFiles);
    if (files.length === 0) throw new UserError(`no transcripts found in ${paths.join(", ")}`);
    let scanner: Scanner | undefined;
    try {
      scanner = new Scanner(loadProbeFile(args.probes));
    } catch (err) {
      if (args.probes !== undefined) throw new UserError((err as Error).message);
    }
    const results: FileReplay[] = [];
    for (const f of files) results.push(await replayFile(f, scanner));
    const changed = results.filter((r) => r.diffs.length > 0);
    if (args.json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
    else {
      const log = createLogger("normal");
      for (const r of results) {
        const now = r.nmapNow?.map((n) => `${n.ok ? "" : "NOT OK: "}port ${n.port} ${n.said}`).join("; ") ?? "nmap model unavailable";
        log.log(`${r.diffs.length ? "CHANGED" : "same   "} ${r.entry.padEnd(30)} ${r.sessions} sessions, ${r.requests} requests; nmap now: ${now}`);
        for (const d of r.diffs.slice(0, 5)) log.log(formatDiff(d));
        if (r.diffs.length > 5) log.log(`  …and ${r.diffs.length - 5} more sessions differ`);
      }
      log.log(`${results.length - changed.length}/${results.length} transcripts replay unchanged`);
    }
    if (changed.length > 0 || results.some((r) => r.nmapNow?.some((n) => !n.ok))) process.exitCode = 1;
  },
});
