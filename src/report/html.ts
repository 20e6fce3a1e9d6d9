// `micetrap report --html FILE`: one self-contained page. The charts are inline SVG drawn here (this is
// the report's whole "chart library": it ships inside the binary, needs no script, no network, no font
// files); a Content-Security-Policy forbids the page any fetch. Every string from the log is escaped
// twice: for humans first (escapeText: control characters, bidi controls and ANSI escapes become visible
// \xNN / \u{…}), then for HTML (& < > " ').
import { escapeText } from "../util/escape.ts";
import type { Counted, Report } from "./aggregate.ts";

const html = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const h = (s: string, max = 80) => html(escapeText(s, max));
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
/** Buckets drawn at most on the time chart (the most recent ones). */
const MAX_BUCKETS = 500;

/** Connections over time, one stacked bar per bucket, one colour per service (the busiest nine, then the rest). */
export function timeChart(r: Report): string {
  const byService = new Map<string, number>();
  for (const p of r.timeline.points) byService.set(p.service, (byService.get(p.service) ?? 0) + p.connections);
  const ranked = [...byService.entries()].sort((a, b) => b[1] - a[1]).map(([s]) => s);
  const shown = ranked.slice(0, 9);
  const series = ranked.length > 9 ? [...shown, "other services"] : shown;
  const seriesOf = (s: string) => (shown.includes(s) ? s : "other services");
  const buckets = [...new Set(r.timeline.points.map((p) => p.t))].sort().slice(-MAX_BUCKETS);
  if (buckets.length === 0) return `<p class="empty">no connections</p>`;
  const at = new Map(buckets.map((b, i) => [b, i]));
  const stacks = buckets.map(() => new Map<string, number>());
  for (const p of r.timeline.points) {
    const i = at.get(p.t);
    if (i === undefined) continue;
    const s = seriesOf(p.service);
    stacks[i]!.set(s, (stacks[i]!.get(s) ?? 0) + p.connections);
  }
  const max = Math.max(1, ...stacks.map((m) => [...m.values()].reduce((a, b) => a + b, 0)));
  const W = 800;
  const H = 260;
  const left = 48;
  const bottom = 36;
  const plotW = W - left - 8;
  const plotH = H - bottom - 10;
  const bw = plotW / buckets.length;
  const parts: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    const y = 10 + plotH - (plotH * k) / 4;
    parts.push(`<line x1="${left}" x2="${W - 8}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/><text x="${left - 4}" y="${(y + 4).toFixed(1)}" class="ax" text-anchor="end">${fmt(Math.round(v))}</text>`);
  }
  stacks.forEach((m, i) => {
    let y = 10 + plotH;
    const x = left + i * bw;
    series.forEach((s, si) => {
      const n = m.get(s) ?? 0;
      if (n === 0) return;
      const hgt = (plotH * n) / max;
      y -= hgt;
      parts.push(`<rect x="${(x + bw * 0.1).toFixed(2)}" y="${y.toFixed(2)}" width="${Math.max(0.5, bw * 0.8).toFixed(2)}" height="${hgt.toFixed(2)}" fill="${PALETTE[si % PALETTE.length]}"><title>${h(buckets[i]!)} ${h(s, 32)}: ${n}</title></rect>`);
    });
  });
  const labelEvery = Math.max(1, Math.ceil(buckets.length / 8));
  buckets.forEach((b, i) => {
    if (i % labelEvery !== 0) return;
    const label = r.timeline.bucket === "hour" ? b.slice(5, 13).replace("T", " ") + "h" : b.slice(0, 10);
    parts.push(`<text x="${(left + i * bw + bw / 2).toFixed(1)}" y="${H - bottom + 16}" class="ax" text-anchor="middle">${h(label, 20)}</text>`);
  });
  const legend = series.map((s, si) => `<span><i style="background:${PALETTE[si % PALETTE.length]}"></i>${h(s, 32)}</span>`).join("");
  // On a phone the chart keeps a readable width and scrolls sideways rather than shrinking its labels away.
  return `<div class="scroll"><svg viewBox="0 0 ${W} ${H}" role="img" aria-label="connections per ${r.timeline.bucket} and service" class="chart time">${parts.join("")}</svg></div><div class="legend">${legend}</div>`;
}

/** Horizontal bars, one per item, longest first. */
export function barChart(items: { label: string; value: number; note?: string }[], color = PALETTE[0]!): string {
  if (items.length === 0) return `<p class="empty">none</p>`;
  const W = 600;
  const row = 22;
  const labelW = 230;
  const H = items.length * row + 6;
  const max = Math.max(1, ...items.map((i) => i.value));
  const parts = items.map((it, k) => {
    const y = 3 + k * row;
    const w = ((W - labelW - 60) * it.value) / max;
    return (
      `<text x="${labelW - 6}" y="${y + 15}" class="lb" text-anchor="end">${h(it.label, 30)}</text>` +
      `<rect x="${labelW}" y="${y + 3}" width="${Math.max(1, w).toFixed(1)}" height="${row - 6}" fill="${color}"><title>${h(it.label, 200)}: ${it.value}${it.note ? " " + html(it.note) : ""}</title></rect>` +
      `<text x="${(labelW + w + 4).toFixed(1)}" y="${y + 15}" class="ax">${it.value}${it.note ? html(it.note) : ""}</text>`
    );
  });
  return `<svg viewBox="0 0 ${W} ${H}" role="img" class="chart">${parts.join("")}</svg>`;
}

/** Sources (rows) by services (columns), each cell shaded by its sessions on a log scale. */
export function heatMap(r: Report): string {
  const rows = r.topSources.slice(0, 20);
  const totals = new Map<string, number>();
  for (const s of rows) for (const [svc, n] of Object.entries(s.services)) totals.set(svc, (totals.get(svc) ?? 0) + n);
  const cols = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 16).map(([s]) => s);
  if (rows.length === 0 || cols.length === 0) return `<p class="empty">no sources</p>`;
  const cell = 34;
  const labelW = 150;
  const top = 90;
  const W = labelW + cols.length * cell + 8;
  const H = top + rows.length * cell + 8;
  const max = Math.max(1, ...rows.flatMap((s) => cols.map((c) => s.services[c] ?? 0)));
  const parts: string[] = [];
  cols.forEach((c, j) => {
    const x = labelW + j * cell + cell / 2;
    parts.push(`<text transform="translate(${x.toFixed(1)},${top - 6}) rotate(-60)" class="lb">${h(c, 16)}</text>`);
  });
  rows.forEach((s, i) => {
    const y = top + i * cell;
    parts.push(`<text x="${labelW - 6}" y="${y + cell / 2 + 4}" class="lb" text-anchor="end">${h(s.ip, 24)}</text>`);
    cols.forEach((c, j) => {
      const n = s.services[c] ?? 0;
      const t = n === 0 ? 0 : 0.15 + (0.85 * Math.log1p(n)) / Math.log1p(max);
      parts.push(
        `<rect x="${labelW + j * cell + 1}" y="${y + 1}" width="${cell - 2}" height="${cell - 2}" fill="${n === 0 ? "#f1f1f1" : `rgba(225,87,89,${t.toFixed(3)})`}"><title>${h(s.ip, 48)} → ${h(c, 32)}: ${n}</title></rect>`,
      );
      if (n > 0) parts.push(`<text x="${labelW + j * cell + cell / 2}" y="${y + cell / 2 + 4}" class="cv" text-anchor="middle">${n}</text>`);
    });
  });
  return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="sessions per source and service" class="chart heat" style="max-width:${W}px">${parts.join("")}</svg>`;
}

function countedTable(rows: Counted[], label: string): string {
  if (rows.length === 0) return `<p class="empty">none</p>`;
  return `<div class="scroll"><table><tr><th class="n">count</th><th>${label}</th></tr>${rows.map((r) => `<tr><td class="n">${r.error > 0 ? "≤" : ""}${r.count}</td><td><code>${h(r.value, 200)}</code></td></tr>`).join("")}</table></div>`;
}

const bars = (rows: Counted[], color?: string) => barChart(rows.map((r) => ({ label: r.value, value: r.count, note: r.error > 0 ? ` (±${r.error})` : undefined })), color);

export function renderHtml(r: Report): string {
  const card = (title: string, body: string, wide = false) => `<section class="card${wide ? " wide" : ""}"><h2>${title}</h2>${body}</section>`;
  const t = r.totals;
  const summary = `<p>${r.input.events} events from ${r.input.lines} lines of ${r.input.sources.map((s) => `<code>${h(s, 120)}</code>`).join(", ")}; ${html(r.first ?? "-")} to ${html(r.last ?? "-")}.</p>
<div class="kpis"><div><b>${t.connections}</b>connections</div><div><b>${r.accuracy.uniqueSourcesEstimated ? "~" : ""}${t.uniqueSources}</b>sources</div><div><b>${t.logins}</b>logins</div><div><b>${t.commands}</b>commands</div><div><b>${t.payloads}</b>first payloads</div></div>`;
  const servicesTable = `<div class="scroll"><table><tr><th>service</th><th class="n">connections</th><th class="n">sources</th><th class="n">logins</th><th class="n">commands</th><th class="n">bytes in</th><th class="n">bytes out</th></tr>${r.services
    .map((s) => `<tr><td>${h(s.service, 32)}</td><td class="n">${s.connections}</td><td class="n">${s.uniqueSources}</td><td class="n">${s.logins}</td><td class="n">${s.commands}</td><td class="n">${s.bytesIn}</td><td class="n">${s.bytesOut}</td></tr>`)
    .join("")}</table></div>`;
  const daysTable = `<div class="scroll"><table><tr><th>day</th><th>service</th><th class="n">connections</th><th class="n">sources</th></tr>${r.days
    .map((d) => `<tr><td>${h(d.day, 16)}</td><td>${h(d.service, 32)}</td><td class="n">${d.connections}</td><td class="n">${d.uniqueSources}</td></tr>`)
    .join("")}</table></div>`;
  const sourcesTable = `<div class="scroll"><table><tr><th>source</th><th class="n">sessions</th><th class="n">logins</th><th>first seen</th><th>last seen</th><th>services</th></tr>${r.topSources
    .map(
      (s) =>
        `<tr><td><code>${h(s.ip, 48)}</code></td><td class="n">${s.error > 0 ? "≤" : ""}${s.sessions}</td><td class="n">${s.logins}</td><td>${html(s.first)}</td><td>${html(s.last)}</td><td>${Object.entries(s.services)
          .map(([k, n]) => `${h(k, 32)}:${n}`)
          .join(" ")}</td></tr>`,
    )
    .join("")}</table></div>`;
  const pairsTable = r.pairs.length
    ? `<div class="scroll"><table><tr><th class="n">count</th><th>user</th><th>password</th></tr>${r.pairs.map((p) => `<tr><td class="n">${p.error > 0 ? "≤" : ""}${p.count}</td><td><code>${h(p.user, 60)}</code></td><td><code>${h(p.password, 60)}</code></td></tr>`).join("")}</table></div>`
    : `<p class="empty">none</p>`;
  const hashesTable = r.hashes.length
    ? `<div class="scroll"><table><tr><th class="n">count</th><th class="n">unique</th><th>type</th><th>example</th></tr>${r.hashes.map((x) => `<tr><td class="n">${x.count}</td><td class="n">${x.unique}</td><td>${h(x.type, 24)}</td><td><code class="wrap">${h(x.example, 400)}</code></td></tr>`).join("")}</table></div>`
    : `<p class="empty">none</p>`;
  const payloadsTable = r.payloads.length
    ? `<div class="scroll"><table><tr><th class="n">sessions</th><th>fingerprint</th><th>services</th><th>first bytes (escaped)</th></tr>${r.payloads.map((p) => `<tr><td class="n">${p.error > 0 ? "≤" : ""}${p.count}</td><td><code>${html(p.fingerprint)}</code></td><td>${p.services.map((s) => h(s, 24)).join(", ")}</td><td><code class="wrap">${html(p.example.slice(0, 400))}</code></td></tr>`).join("")}</table></div>`
    : `<p class="empty">none</p>`;
  const body = [
    card("Summary", summary, true),
    card(`Connections per ${r.timeline.bucket} and service`, timeChart(r), true),
    card("Services", servicesTable),
    card("Per day", daysTable),
    card("Top sources", barChart(r.topSources.map((s) => ({ label: s.ip, value: s.sessions }))) + sourcesTable, true),
    card("Sources × services (sessions)", heatMap(r), true),
    card("Top user names", bars(r.users, PALETTE[1]) + countedTable(r.users, "user")),
    card("Top passwords", bars(r.passwords, PALETTE[2]) + countedTable(r.passwords, "password")),
    card("Top user/password pairs", pairsTable),
    card("Hashes captured", hashesTable),
    card("Top commands", bars(r.commands, PALETTE[3]) + countedTable(r.commands, "command")),
    card("Top HTTP paths", bars(r.httpPaths, PALETTE[4]) + countedTable(r.httpPaths, "path")),
    card("HTTP methods", bars(r.httpMethods, PALETTE[6])),
    card("Top user agents", countedTable(r.userAgents, "user agent")),
    card("First payloads by fingerprint", bars(r.payloads.map((p) => ({ value: p.fingerprint, count: p.count, error: p.error })), PALETTE[5]) + payloadsTable, true),
  ].join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>micetrap report ${html(r.first?.slice(0, 10) ?? "")}${r.last ? " – " + html(r.last.slice(0, 10)) : ""}</title>
<style>
*{box-sizing:border-box}
body{margin:0;padding:16px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#222;background:#f6f7f9}
h1{font-size:20px;margin:0 0 12px}h2{font-size:15px;margin:0 0 8px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,520px),1fr));gap:14px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px;min-width:0}
.card.wide{grid-column:1/-1}
.chart{width:100%;height:auto;display:block}
.heat{margin:0 auto}.time{min-width:520px}
.grid{stroke:#e3e6ea;stroke-width:1}
.ax{font-size:11px;fill:#555}.lb{font-size:12px;fill:#222}.cv{font-size:10px;fill:#111}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:6px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:5px;border-radius:2px}
.kpis{display:flex;flex-wrap:wrap;gap:10px}.kpis div{background:#f0f3f7;border-radius:6px;padding:8px 12px;min-width:110px}
.kpis b{display:block;font-size:20px}
.scroll{overflow-x:auto;margin-top:8px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eceef1;vertical-align:top}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
code.wrap{word-break:break-all}
.empty{color:#888}
</style></head>
<body><h1>micetrap report</h1>
<main>
${body}
</main></body></html>
`;
}
