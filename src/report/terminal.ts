// The terminal summary of `micetrap report`: plain text tables. Every string that came from the log (and
// so maybe from an attacker: names, passwords, commands, even service names in a forged log) goes through
// escapeText, so nothing printed can move the cursor, set colours or split a line.
import { escapeText } from "../util/escape.ts";
import type { Counted, Report } from "./aggregate.ts";

const esc = (s: string, max = 80) => escapeText(s, max);

function table(head: string[], rows: string[][], right: Set<number> = new Set()): string[] {
  if (rows.length === 0) return ["  (none)"];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => "  " + r.map((c, i) => (i === r.length - 1 && !right.has(i) ? c : right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd());
}

/** A payload example is escaped already (printable ASCII and \xNN): only cut. */
const exampleCut = (s: string) => (s.length > 100 ? s.slice(0, 100) + "…" : s);

const approx = (c: { count: number; error: number }) => (c.error > 0 ? `≤${c.count}` : String(c.count));

function counted(title: string, rows: Counted[], label: string): string[] {
  return [`${title}`, ...table(["COUNT", label], rows.map((r) => [approx(r), esc(r.value)]), new Set([0]))];
}

export function renderTerminal(r: Report): string {
  const out: string[] = [];
  const skipped = r.input.skipped;
  out.push(`micetrap report: ${r.input.events} events from ${r.input.lines} lines (${r.input.sources.map((s) => esc(s)).join(", ")})`);
  out.push(`  span ${r.first ?? "-"} .. ${r.last ?? "-"}${r.window.since || r.window.until ? `; window ${r.window.since ?? "…"} .. ${r.window.until ?? "…"}` : ""}`);
  const skips = Object.entries(skipped).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  if (skips.length) out.push(`  skipped: ${skips.join(", ")}`);
  for (const b of r.input.broken) out.push(`  ${esc(b.source)}: read stopped early: ${esc(b.error)}`);
  out.push(
    `  ${r.totals.connections} connections from ${r.accuracy.uniqueSourcesEstimated ? "~" : ""}${r.totals.uniqueSources} sources, ${r.totals.logins} logins, ${r.totals.commands} commands, ${r.totals.payloads} first payloads`,
  );
  out.push("");
  out.push("Services");
  out.push(
    ...table(
      ["SERVICE", "CONNECTIONS", "SOURCES", "LOGINS", "COMMANDS", "BYTES IN", "BYTES OUT"],
      r.services.map((s) => [esc(s.service, 32), String(s.connections), String(s.uniqueSources), String(s.logins), String(s.commands), String(s.bytesIn), String(s.bytesOut)]),
      new Set([1, 2, 3, 4, 5, 6]),
    ),
  );
  out.push("");
  out.push("Per day");
  out.push(...table(["DAY", "SERVICE", "CONNECTIONS", "SOURCES"], r.days.map((d) => [esc(d.day, 16), esc(d.service, 32), String(d.connections), String(d.uniqueSources)]), new Set([2, 3])));
  out.push("");
  out.push("Top sources");
  out.push(
    ...table(
      ["SOURCE", "SESSIONS", "LOGINS", "FIRST SEEN", "LAST SEEN", "SERVICES"],
      r.topSources.map((s) => [
        esc(s.ip, 48),
        s.error > 0 ? `≤${s.sessions}` : String(s.sessions),
        String(s.logins),
        s.first,
        s.last,
        Object.entries(s.services).map(([k, n]) => `${esc(k, 32)}:${n}`).join(" "),
      ]),
      new Set([1, 2]),
    ),
  );
  out.push("");
  out.push(...counted("Top user names", r.users, "USER"));
  out.push("");
  out.push(...counted("Top passwords", r.passwords, "PASSWORD"));
  out.push("");
  out.push("Top user/password pairs");
  out.push(...table(["COUNT", "USER", "PASSWORD"], r.pairs.map((p) => [approx(p), esc(p.user, 40), esc(p.password, 40)]), new Set([0])));
  out.push("");
  out.push("Hashes captured");
  out.push(...table(["COUNT", "UNIQUE", "TYPE", "EXAMPLE"], r.hashes.map((h) => [String(h.count), String(h.unique), esc(h.type, 24), esc(h.example, 100)]), new Set([0, 1])));
  out.push("");
  out.push(...counted("Top commands", r.commands, "COMMAND"));
  out.push("");
  out.push(...counted("HTTP methods", r.httpMethods, "METHOD"));
  out.push("");
  out.push(...counted("Top HTTP paths", r.httpPaths, "PATH"));
  out.push("");
  out.push(...counted("Top user agents", r.userAgents, "USER AGENT"));
  out.push("");
  out.push("First payloads by fingerprint (sha256 of the first 32 bytes)");
  out.push(
    ...table(
      ["COUNT", "FINGERPRINT", "SERVICES", "EXAMPLE"],
      r.payloads.map((p) => [approx(p), p.fingerprint, p.services.map((s) => esc(s, 24)).join(","), exampleCut(p.example)]),
      new Set([0]),
    ),
  );
  const inexact = Object.entries(r.accuracy.exact).filter(([, e]) => !e).map(([k]) => k);
  if (inexact.length) out.push("", `≤N: approximate (top-${r.accuracy.topCapacity} counters) in: ${inexact.join(", ")}; each count is at most its true count plus the printed bound`);
  return out.join("\n") + "\n";
}
