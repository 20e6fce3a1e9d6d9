// One catalog entry against the nmap model: the verdict, and when it is wrong, what would help fix it.
import { adNames, nmapDomainTail } from "../host/ad.ts";
import { hostFacts } from "../host/facts.ts";
import type { CatalogEntry, OsFamily } from "../types.ts";
import { toLatin1 } from "../wire/bytes.ts";
import { escapeBytes } from "../util/escape.ts";
import { entryConnector } from "./drive.ts";
import type { ScanResult, Scanner } from "./engine.ts";
import type { VersionInfo } from "./match.ts";
import { afterVersionScripts } from "./version-scripts.ts";

export interface CheckVerdict {
  entry: string;
  service: string;
  port: number;
  intensity: number;
  ok: boolean;
  claimed: { product: string; version: string; info: string; ostype: string };
  nmap: VersionInfo & { state: ScanResult["state"]; probe: string; line: number };
  /** What real nmap would spend waiting on silent steps, in milliseconds. */
  estimatedMs: number;
  steps: { probe: string; reused: boolean; tunnel?: "ssl"; sent: string; received: string; closed: boolean; match?: string }[];
  /** When not ok: the match lines that claim this product, nearest first. */
  nearest?: { line: number; probe: string; service: string; soft: boolean; pattern: string }[];
}

const SHOW = 300;

/** What the entry claims nmap -sV reports on that port: its own claim, or otherPortClaim off its usual ports. */
export function claimOn(entry: CatalogEntry, port: number): { product: string; version: string; info: string; ostype: string } {
  const base = { product: entry.product, version: entry.version, info: entry.info ?? "", ostype: entry.ostype ?? "" };
  return entry.otherPortClaim && !entry.ports.includes(port) ? { ...base, ...entry.otherPortClaim } : base;
}

/**
 * What a claim's named placeholders stand for on the host of that seed: {{domain}} (its DNS domain),
 * {{site}} (its AD site) and {{domainTail}} (what nmap shows after the domain when dnsHostName follows
 * dsServiceName), which an Active Directory face's nmap line reads out of the rootDSE (src/host/ad.ts).
 */
export function claimVars(hostSeed: string, family: OsFamily): Record<string, string> {
  const host = hostFacts({ seed: hostSeed, family });
  return { domain: host.domain, site: adNames(host).site, domainTail: nmapDomainTail(host) };
}

/**
 * Whether what nmap reported is the claim. A claim's text may hold {{n}} for a number that changes from
 * scan to scan (memcached's "uptime {{n}} seconds"), and {{name}} for a host fact given in `vars` (an AD
 * face's "Domain: {{domain}}, Site: {{site}}"); a placeholder without a value matches only itself;
 * everything else must be equal.
 */
export function claimHolds(
  claimed: { product: string; version: string; info: string; ostype: string },
  got: { product: string; version: string; info: string; ostype: string },
  vars: Record<string, string> = {},
): boolean {
  const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const same = (want: string, have: string) => {
    if (!want.includes("{{")) return want === have;
    const pattern = want
      .split(/(\{\{\w+\}\})/)
      .map((part) => {
        const name = /^\{\{(\w+)\}\}$/.exec(part)?.[1];
        if (name === "n") return "\\d+";
        if (name !== undefined && vars[name] !== undefined) return esc(vars[name]);
        return esc(part);
      })
      .join("");
    return new RegExp(`^${pattern}$`).test(have);
  };
  return same(claimed.product, got.product) && same(claimed.version, got.version) && same(claimed.info, got.info) && same(claimed.ostype, got.ostype);
}

export async function checkEntry(scanner: Scanner, entry: CatalogEntry, o: { port: number; intensity: number; hostSeed: string }): Promise<CheckVerdict> {
  const connector = entryConnector(entry, { hostSeed: o.hostSeed, port: o.port, now: new Date("2026-01-01T00:00:00Z") });
  const r = await afterVersionScripts(await scanner.scan(connector, { port: o.port, intensity: o.intensity }), connector, o.port);
  const claimed = { ...claimOn(entry, o.port) };
  const ok = r.state === "matched" && claimHolds(claimed, r, claimVars(o.hostSeed, entry.os));
  const verdict: CheckVerdict = {
    entry: entry.id,
    service: entry.service,
    port: o.port,
    intensity: o.intensity,
    ok,
    claimed,
    nmap: {
      state: r.state,
      service: r.service,
      product: r.product,
      version: r.version,
      info: r.info,
      hostname: r.hostname,
      ostype: r.ostype,
      devicetype: r.devicetype,
      cpe: r.cpe,
      probe: r.probe,
      line: r.line,
    },
    estimatedMs: r.estimatedMs,
    steps: r.steps.map((s) => ({
      probe: s.probe,
      reused: s.reused,
      ...(s.tunnel ? { tunnel: s.tunnel } : {}),
      sent: escapeBytes(s.sent, SHOW),
      received: escapeBytes(s.received, SHOW) + (s.received.length > SHOW ? `…(${s.received.length} bytes)` : ""),
      closed: s.closed,
      ...(s.match ? { match: `${s.match.soft ? "softmatch" : "match"} ${s.match.service} line ${s.match.line} (${s.match.probe})` } : {}),
    })),
  };
  if (!ok) verdict.nearest = nearestLines(scanner, entry, r);
  return verdict;
}

/**
 * Lines whose product template names the claimed product, nearest first: lines whose pattern matches a
 * response the entry gave (the fields are what differ), then lines of probes that got an answer.
 */
function nearestLines(scanner: Scanner, entry: CatalogEntry, r: ScanResult) {
  const responses = r.steps.filter((s) => s.received.length > 0).map((s) => ({ probe: s.probe, text: toLatin1(s.received) }));
  const answered = new Set(responses.map((x) => x.probe));
  const want = entry.product.toLowerCase();
  const candidates = scanner.file.probes.flatMap((p) =>
    p.matches
      .filter((m) => (m.templates.p ?? "").toLowerCase().includes(want))
      .map((m) => {
        const matchesAnswer = responses.some((x) => m.regex?.test(x.text));
        const rank = (matchesAnswer ? 0 : answered.has(p.name) ? 2 : 4) + ((m.templates.p ?? "").toLowerCase() === want ? 0 : 1);
        return { m, rank };
      }),
  );
  candidates.sort((a, b) => a.rank - b.rank || a.m.line - b.m.line);
  return candidates.slice(0, 3).map(({ m }) => ({ line: m.line, probe: m.probe, service: m.service, soft: m.soft, pattern: m.pattern.slice(0, 200) }));
}

export function formatCheckRow(v: CheckVerdict, verbose: boolean): string {
  const said = v.nmap.state === "matched" || v.nmap.state === "softmatched"
    ? [v.nmap.service + ":", v.nmap.product, v.nmap.version, v.nmap.info && `(${v.nmap.info})`, v.nmap.ostype && `[${v.nmap.ostype}]`].filter(Boolean).join(" ")
    : v.nmap.state;
  const where = v.nmap.line ? ` via ${v.nmap.probe} line ${v.nmap.line}` : "";
  let text = `${v.ok ? "ok  " : "FAIL"} ${v.entry.padEnd(30)} port ${String(v.port).padEnd(5)} ${said}${where} (~${(v.estimatedMs / 1000).toFixed(1)} s in nmap)`;
  if (!v.ok) {
    text += `\n     claimed: ${[v.claimed.product, v.claimed.version, v.claimed.info && `(${v.claimed.info})`, v.claimed.ostype && `[${v.claimed.ostype}]`].filter(Boolean).join(" ")}`;
    for (const n of v.nearest ?? []) text += `\n     nearest: line ${n.line} (${n.probe}) ${n.soft ? "softmatch" : "match"} ${n.service} m|${n.pattern}|`;
  }
  if (verbose || !v.ok) {
    for (const s of v.steps) text += `\n       ${s.tunnel ? "ssl/" : ""}${s.probe}${s.reused ? " (same connection)" : ""}: sent "${s.sent}" got "${s.received}"${s.closed ? " [closed]" : ""}${s.match ? ` -> ${s.match}` : ""}`;
  }
  return text;
}
