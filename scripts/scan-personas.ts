// Every shipped persona as a whole host under real `nmap -sV -sC`: each persona runs as one
// `micetrap serve` process on its usual ports, on its own loopback address inside a private network
// namespace, and one nmap run per persona (all at once) covers all its ports. Prints, per persona, the
// nmap time, the Service Info line and every port against its claim; exits 1 when a port is not exact,
// when Service Info names more than one host, or when it mixes Windows with a Unix.
//
//   sudo bun scripts/scan-personas.ts [--json] [--persona NAME] [--seed TEXT] [--binary dist/micetrap]
import { claimHolds, claimOn, claimVars } from "../src/nmap/check.ts";
import type { CatalogEntry } from "../src/types.ts";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseNmapXml } from "./lib/nmap-xml.ts";

const ROOT = join(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    persona: { type: "string" },
    seed: { type: "string", default: "persona-e2e" },
    binary: { type: "string", default: join(ROOT, "dist/micetrap") },
    "in-netns": { type: "boolean", default: false },
  },
});

if (!values["in-netns"]) {
  if (process.getuid?.() !== 0) {
    console.error("scan-personas needs root: it binds the usual ports inside its own network namespace");
    process.exit(2);
  }
  const r = Bun.spawnSync(["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", process.execPath, import.meta.path, "--in-netns", ...process.argv.slice(2)], {
    stdout: "inherit",
    stderr: "inherit",
  });
  process.exit(r.exitCode ?? 1);
}

interface Claim {
  service: string;
  ports: number[];
  entry: { id: string; product: string; version: string; info: string; ostype: string; os: string; scriptClaims?: Record<string, Partial<Record<"product" | "version" | "info" | "ostype", string>>>; ports: number[]; otherPortClaim?: Partial<Record<"product" | "version" | "info" | "ostype", string>> };
}
interface Plan {
  host: { name: string; fqdn: string; netbios: string };
  release: string;
  services: Claim[];
}

export interface PortVerdict {
  port: number;
  entry: string;
  claimed: string;
  got: string;
  ok: boolean;
}
export interface PersonaVerdict {
  persona: string;
  release: string;
  ip: string;
  seconds: number;
  serviceInfo: string;
  hostnames: string[];
  ostypes: string[];
  ports: PortVerdict[];
  /** The serve process's uid while it serves: never 0. */
  uid: number;
  ok: boolean;
}

const bin = values.binary!;
const list = JSON.parse(Bun.spawnSync([bin, "personas", "--json"]).stdout.toString()) as { name: string }[];
const names = list.map((p) => p.name).filter((n) => !values.persona || n === values.persona);
const dir = mkdtempSync(join(tmpdir(), "micetrap-personas-"));

async function waitFor(proc: Bun.Subprocess<"ignore", "pipe", "pipe">, re: RegExp, ms: number): Promise<string> {
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let out = "";
  const deadline = Date.now() + ms;
  while (!re.test(out)) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no ${re} within ${ms} ms: ${out}`);
    const next = await Promise.race([reader.read(), Bun.sleep(left).then(() => ({ done: true, value: undefined }))]);
    if (next.done) throw new Error(`exited before ${re}: ${out}`);
    out += decoder.decode(next.value);
  }
  reader.releaseLock();
  return out;
}

async function scan(name: string, i: number): Promise<PersonaVerdict> {
  const ip = `127.0.2.${i + 1}`;
  const file = join(ROOT, "fixtures/personas", `${name}.yaml`);
  // One seed per persona: each is a different host.
  const seed = `${values.seed}-${name}`;
  const plan = JSON.parse(Bun.spawnSync([bin, "validate", file, "--seed", seed, "--json"]).stdout.toString()) as Plan;
  const proc = Bun.spawn([bin, "serve", "--persona", name, "--seed", seed, "--host", ip, "--log", join(dir, `${name}.jsonl`)], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    await waitFor(proc, /Running as /, 30_000);
    // As root it binds the usual ports, then gives root up before reading a byte.
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1] ?? -1);
    const ports = plan.services.flatMap((s) => s.ports);
    const started = performance.now();
    const nmap = Bun.spawn(["nmap", "-sV", "-sC", "-Pn", "-n", "-oX", "-", "-oN", join(dir, `${name}.nmap`), "-p", ports.join(","), ip], { stdout: "pipe", stderr: "pipe" });
    const killer = setTimeout(() => nmap.kill("SIGKILL"), 10 * 60 * 1000);
    const xml = await new Response(nmap.stdout).text();
    await nmap.exited;
    clearTimeout(killer);
    const seconds = (performance.now() - started) / 1000;
    const rows = parseNmapXml(xml);
    const verdicts = plan.services.flatMap((s) =>
      s.ports.map((port): PortVerdict => {
        const r = rows.find((x) => x.port === port);
        // -sC can change what nmap reports on a port (smb-os-discovery sets the version on 445).
        const e = { ...claimOn(s.entry as unknown as CatalogEntry, port), ...s.entry.scriptClaims?.[String(port)] };
        const claimed = [e.product, e.version, e.info && `(${e.info})`, e.ostype && `[${e.ostype}]`].filter(Boolean).join(" ");
        const got = r ? [r.product, r.version, r.extrainfo && `(${r.extrainfo})`, r.ostype && `[${r.ostype}]`].filter(Boolean).join(" ") : "(no row)";
        // A claim may hold {{n}} for a number that changes from scan to scan (memcached's uptime), and an AD
        // face's {{domain}}/{{site}}/{{domainTail}}, the persona host's (its seed).
        const vars = claimVars(seed, s.entry.os as CatalogEntry["os"]);
        const ok = !!r && r.state === "open" && claimHolds({ product: e.product ?? "", version: e.version ?? "", info: e.info ?? "", ostype: e.ostype ?? "" }, { product: r.product, version: r.version, info: r.extrainfo, ostype: r.ostype }, vars);
        return { port, entry: s.entry.id, claimed, got, ok };
      }),
    );
    const hostnames = [...new Set(rows.map((r) => r.hostname).filter(Boolean))];
    const ostypes = [...new Set(rows.map((r) => r.ostype).filter(Boolean))];
    const serviceInfo = /^Service Info: (.*)$/m.exec(readFileSync(join(dir, `${name}.nmap`), "utf8"))?.[1] ?? "";
    const mixed = ostypes.some((o) => /windows/i.test(o)) && ostypes.some((o) => !/windows/i.test(o));
    return {
      persona: name,
      release: plan.release,
      ip,
      seconds,
      serviceInfo,
      hostnames,
      ostypes,
      ports: verdicts,
      uid,
      ok: verdicts.every((v) => v.ok) && hostnames.length <= 1 && !mixed && uid !== 0,
    };
  } finally {
    proc.kill("SIGTERM");
    await proc.exited;
  }
}

const results = await Promise.all(names.map((n, i) => scan(n, i)));
if (values.json) process.stdout.write(JSON.stringify(results) + "\n");
else {
  for (const r of results) {
    process.stdout.write(`${r.ok ? "ok  " : "FAIL"} ${r.persona} (${r.release}) nmap -sV -sC ${r.seconds.toFixed(1)} s; Service Info: ${r.serviceInfo || "(none)"}\n`);
    for (const p of r.ports) process.stdout.write(`       ${p.ok ? "ok  " : "FAIL"} ${String(p.port).padEnd(5)} ${p.entry.padEnd(28)} ${p.got}${p.ok ? "" : `   (claimed ${p.claimed})`}\n`);
  }
}
process.exit(results.every((r) => r.ok) ? 0 : 1);
