// Proves the catalog against the oracle: starts the compiled binary once per entry (pinned with
// --banner), runs ONE real `nmap -sV` over all of them, and compares what nmap reports with each claim.
//
//   bun scripts/verify-nmap.ts [--binary dist/micetrap] [--usual-ports] [--service S] [--banner ID] [--json]
//
// Default: every entry on a random free port of 127.0.0.1. With --usual-ports, every entry on each of its
// usual ports, each entry on its own loopback address (127.0.1.N); run it as root inside a network
// namespace of its own (`unshare -n`), where those ports are free: nmap picks its probes by port.
import { parseArgs } from "node:util";
import { allEntries } from "../src/catalog/index.ts";
import { hostSeed } from "../src/host/machine.ts";
import { claimHolds, claimOn, claimVars } from "../src/nmap/check.ts";
import type { CatalogEntry } from "../src/types.ts";
import { parseNmapXml, type NmapService } from "./lib/nmap-xml.ts";
import { startTrapProcess } from "./lib/trap-process.ts";

export interface Verdict {
  entry: string;
  service: string;
  ip: string;
  port: number;
  expected: { product: string; version: string; info: string; ostype: string };
  got:
    | { product: string; version: string; info: string; ostype: string; name: string; state: string; hostname: string; devicetype: string; cpe: string[] }
    | undefined;
  ok: boolean;
}

const { values } = parseArgs({
  options: {
    binary: { type: "string", default: "dist/micetrap" },
    "usual-ports": { type: "boolean", default: false },
    service: { type: "string" },
    banner: { type: "string" },
    json: { type: "boolean", default: false },
    "nmap-args": { type: "string", default: "" },
  },
});

interface Running {
  entry: CatalogEntry;
  ip: string;
  port: number;
  proc: ReturnType<typeof Bun.spawn>;
}

async function startAndWait(entry: CatalogEntry, ip: string, port: number): Promise<Running> {
  const t = await startTrapProcess([values.binary!, entry.service, String(port), "--host", ip, "--banner", entry.id]);
  return { entry, ip, port: t.ports[0]!, proc: t.proc };
}

/**
 * A TLS face is claimed on 443 and on ports nmap probes with SSL first (SSLSessionReq's `ports` in
 * nmap-service-probes, such as 44443): on other ports nmap's plain GetRequest comes first, and against the
 * real Apache it reports "SSL-only mode" (2.2) or plain "http" (2.4), as it does against the face. Each TLS
 * face gets that port on a loopback address of its own, drawn per run, so runs side by side do not collide.
 */
const SSL_PROBE_PORT = 44443;

function sslProbeAddresses(n: number): string[] {
  const [a, b] = crypto.getRandomValues(new Uint8Array(2));
  return Array.from({ length: n }, (_, i) => `127.${100 + (a! % 100)}.${b!}.${i + 1}`);
}

export async function verify(): Promise<{ verdicts: Verdict[]; seconds: number; nmapCommand: string }> {
  let entries = allEntries();
  if (values.service) entries = entries.filter((e) => e.service === values.service);
  if (values.banner) entries = entries.filter((e) => e.id === values.banner);
  const plan: { entry: CatalogEntry; ip: string; port: number }[] = [];
  const sslIps = sslProbeAddresses(entries.filter((e) => e.tls?.mode === "first-byte").length);
  entries.forEach((entry, i) => {
    if (values["usual-ports"]) {
      // One loopback address per entry: 127.0.1.1 to .250, then 127.0.2.1, …
      const ip = `127.0.${1 + Math.floor(i / 250)}.${(i % 250) + 1}`;
      for (const port of entry.ports) plan.push({ entry, ip, port });
    } else if (entry.tls?.mode === "first-byte") plan.push({ entry, ip: sslIps.shift()!, port: SSL_PROBE_PORT });
    else plan.push({ entry, ip: "127.0.0.1", port: 0 });
  });
  const traps = await Promise.all(plan.map((p) => startAndWait(p.entry, p.ip, p.port)));
  try {
    const ips = [...new Set(traps.map((t) => t.ip))];
    const ports = [...new Set(traps.map((t) => t.port))].sort((a, b) => a - b);
    const args = ["nmap", "-sV", "-Pn", "-n", "-oX", "-", "-p", ports.join(","), ...values["nmap-args"]!.split(" ").filter(Boolean), ...ips];
    const started = performance.now();
    const nmap = Bun.spawn(args, { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => nmap.kill("SIGKILL"), 20 * 60 * 1000);
    const xml = await new Response(nmap.stdout).text();
    const code = await nmap.exited;
    clearTimeout(killer);
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`nmap exited ${code}: ${await new Response(nmap.stderr).text()}`);
    const rows = parseNmapXml(xml);
    const find = (ip: string, port: number): NmapService | undefined => rows.find((r) => r.ip === ip && r.port === port);
    const verdicts = traps.map((t): Verdict => {
      const r = find(t.ip, t.port);
      // With the default scripts (-sC), a script may restate the version (smb-os-discovery on 445).
      const scripted = /(^|\s)-sC(\s|$)|--script/.test(values["nmap-args"]!) ? t.entry.scriptClaims?.[String(t.port)] : undefined;
      const base = claimOn(t.entry, t.port);
      const expected = { ...base, ...scripted };
      const got = r && {
        product: r.product,
        version: r.version,
        info: r.extrainfo,
        ostype: r.ostype,
        // As nmap prints it: "ssl/http" for a service found through its SSL tunnel.
        name: r.tunnel === "ssl" ? `ssl/${r.name}` : r.name,
        state: r.state,
        hostname: r.hostname,
        devicetype: r.devicetype,
        cpe: r.cpe,
      };
      const ok =
        got !== undefined &&
        // The traps run with this machine's default seed: a claim's {{domain}} and {{site}} are that host's.
        claimHolds(expected, got, claimVars(hostSeed(), t.entry.os)) &&
        // A face with TLS from the first byte must be found through nmap's SSL tunnel.
        (t.entry.tls?.mode !== "first-byte" || got.name.startsWith("ssl/"));
      return { entry: t.entry.id, service: t.entry.service, ip: t.ip, port: t.port, expected, got, ok };
    });
    return { verdicts, seconds, nmapCommand: args.join(" ") };
  } finally {
    for (const t of traps) t.proc.kill("SIGTERM");
    await Promise.all(traps.map((t) => t.proc.exited));
  }
}

export function formatTable(verdicts: Verdict[]): string {
  const rows = [
    ["", "ENTRY", "PORT", "CLAIMED", "NMAP SAID"],
    ...verdicts.map((v) => [
      v.ok ? "ok" : "FAIL",
      v.entry,
      `${v.ip}:${v.port}`,
      [v.expected.product, v.expected.version, v.expected.info && `(${v.expected.info})`, v.expected.ostype && `[${v.expected.ostype}]`].filter(Boolean).join(" "),
      v.got ? [v.got.name + ":", v.got.product, v.got.version, v.got.info && `(${v.got.info})`, v.got.ostype && `[${v.got.ostype}]`].filter(Boolean).join(" ") : "(no row)",
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n");
}

if (import.meta.main) {
  const { verdicts, seconds, nmapCommand } = await verify();
  if (values.json) process.stdout.write(JSON.stringify({ seconds, nmapCommand, verdicts }) + "\n");
  else {
    process.stdout.write(formatTable(verdicts) + "\n");
    process.stdout.write(`${verdicts.filter((v) => v.ok).length}/${verdicts.length} exact; nmap took ${seconds.toFixed(1)} s\n`);
  }
  process.exit(verdicts.every((v) => v.ok) ? 0 : 1);
}
