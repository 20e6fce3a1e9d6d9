// `micetrap report [LOG…]`: what attackers did, from the JSONL event log (plain or gzip, several files,
// or stdin), in the terminal, as JSON (--json) or as a self-contained HTML page with charts (--html FILE).
import { defineCommand } from "citty";
import { writeFileSync } from "node:fs";
import { UserError } from "../errors.ts";
import { Aggregator } from "../report/aggregate.ts";
import { renderHtml } from "../report/html.ts";
import { readLines, type ReadStats } from "../report/reader.ts";
import { renderTerminal } from "../report/terminal.ts";

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/**
 * A --since/--until value as a UTC ISO string: an ISO 8601 date (`2026-11-30`, midnight UTC), date and
 * time (`2026-11-30T12:00`, `…Z`, `…+01:00`; without a zone it is UTC), or a time back from now (`30m`,
 * `24h`, `7d`, `2w`).
 */
export function parseWhen(option: string, text: string, now = Date.now()): string {
  const rel = /^(\d{1,6})([mhdw])$/.exec(text);
  if (rel) return new Date(now - Number(rel[1]) * UNITS[rel[2]!]!).toISOString();
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(\.\d{1,9})?)?(Z|[+-]\d\d:?\d\d)?)?$/.exec(text);
  if (m) {
    const [, y, mo, d, hh = "00", mi = "00", ss = "00", frac = "", zone = "Z"] = m;
    const iso = `${y}-${mo}-${d}T${hh}:${mi}:${ss}${frac.slice(0, 4)}${zone.length === 5 ? zone.slice(0, 3) + ":" + zone.slice(3) : zone}`;
    const t = Date.parse(iso);
    // Date.parse rolls 2026-02-31 over to March: a date that does not exist is an error.
    const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
    if (!Number.isNaN(t) && check.getUTCDate() === Number(d) && check.getUTCMonth() === Number(mo) - 1 && Number(hh) < 24 && Number(mi) < 60 && Number(ss) < 60) return new Date(t).toISOString();
  }
  throw new UserError(`invalid --${option} "${text.slice(0, 64)}": expected an ISO 8601 date or time (2026-11-30, 2026-11-30T12:00:00Z) or a time back from now (30m, 24h, 7d, 2w)`);
}

function parseTop(text: string | undefined): number {
  if (text === undefined) return 10;
  if (!/^\d{1,4}$/.test(text) || Number(text) < 1 || Number(text) > 1000) throw new UserError(`invalid --top "${text.slice(0, 32)}": expected a number from 1 to 1000`);
  return Number(text);
}

export const reportCommand = defineCommand({
  meta: { name: "report", description: "summarise event logs (JSONL, plain or gzip; stdin when none or -): terminal, --json or --html FILE" },
  args: {
    log: { type: "positional", required: false, description: "log files (plain or gzip); - or none reads stdin" },
    since: { type: "string", description: "only events at or after this time (ISO 8601 date/time, or 30m, 24h, 7d back from now)" },
    until: { type: "string", description: "only events before this time (same forms)" },
    json: { type: "boolean", description: "print the figures as one JSON document" },
    html: { type: "string", description: "write a self-contained HTML page with charts to FILE" },
    top: { type: "string", description: "rows in each top list (default 10)" },
  },
  async run({ args }) {
    const since = args.since === undefined ? undefined : parseWhen("since", args.since);
    const until = args.until === undefined ? undefined : parseWhen("until", args.until);
    if (since !== undefined && until !== undefined && since >= until) throw new UserError(`--since ${since} is not before --until ${until}`);
    const top = parseTop(args.top);
    const files = (args._ as string[]).length > 0 ? (args._ as string[]) : ["-"];
    if (files.filter((f) => f === "-").length > 1) throw new UserError("stdin (-) can be read only once");
    if (files.includes("-") && process.stdin.isTTY) throw new UserError("no log to read: name LOG files, or pipe a log into stdin");
    const stats: ReadStats = { overlong: 0, broken: [] };
    const agg = new Aggregator({ since, until });
    try {
      for await (const line of readLines(files, stats)) agg.addLine(line);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new UserError(`cannot read ${JSON.stringify(e.path ?? "stdin")}: ${e.code ?? e.message}`, 1);
    }
    const report = agg.result({ sources: files.map((f) => (f === "-" ? "(stdin)" : f)), overlong: stats.overlong, broken: stats.broken }, top);
    if (args.html !== undefined) {
      try {
        writeFileSync(args.html, renderHtml(report));
      } catch (err) {
        throw new UserError(`cannot write --html ${JSON.stringify(args.html)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 1);
      }
    }
    if (args.json) process.stdout.write(JSON.stringify(report) + "\n");
    else if (args.html === undefined) process.stdout.write(renderTerminal(report));
    else process.stderr.write(`wrote ${args.html}: ${report.input.events} events, ${report.totals.connections} connections\n`);
  },
});
