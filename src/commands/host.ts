// `micetrap serve` (a whole fake host in one process), `micetrap personas` and `micetrap validate FILE`.
import { readFileSync } from "node:fs";
import { defineCommand } from "citty";
import { defaultPorts } from "../catalog/index.ts";
import { UserError } from "../errors.ts";
import { ConfigError, mergeConfigs, parseConfig, type HostConfig, type ServiceConfig } from "../host/config.ts";
import { hostSeed } from "../host/machine.ts";
import { defaultPersona, persona, personas, PERSONA_NAMES } from "../host/personas.ts";
import { findRelease, parseOsName } from "../host/releases.ts";
import { createLogger } from "../log.ts";
import { planFromConfig, type HostPlan } from "../runtime/plan.ts";
import { limitArgs, limitsFrom } from "../runtime/limits.ts";
import { sinkArgs, sinksFrom } from "../runtime/sinks.ts";
import { runPlan } from "../runtime/run.ts";
import { OS_FAMILIES } from "../types.ts";
import { verbosityOf } from "./serve.ts";

/** Reads and parses a config file; its persona, if any, is the base. */
function loadConfig(file: string, personaOverride?: string): HostConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const c = parseConfig(text, file, PERSONA_NAMES);
  const baseName = personaOverride ?? c.persona;
  return mergeConfigs(baseName !== undefined ? persona(baseName) : undefined, c);
}

function namedPersona(name: string): HostConfig {
  const p = persona(name);
  if (!p) throw new UserError(`unknown persona "${name}": expected one of ${PERSONA_NAMES.join(", ")} (micetrap personas)`);
  return p;
}

export interface Finding {
  level: "error" | "warning";
  line: number;
  field: string;
  message: string;
}

/** What is wrong with a plan beyond its syntax: ports taken twice, faces of another OS, ports needing root. */
export function reviewPlan(c: HostConfig, plan: HostPlan, isRoot: boolean): Finding[] {
  const findings: Finding[] = [];
  const taken = new Map<number, string>();
  const services: (ServiceConfig | undefined)[] = c.services ?? [];
  plan.services.forEach((s) => {
    const sc = services[s.configIndex];
    const line = sc?.line ?? 1;
    const field = `services[${s.configIndex + 1}]`;
    for (const port of s.ports) {
      if (port === 0) continue; // any free port: never taken twice
      const other = taken.get(port);
      if (other !== undefined) findings.push({ level: "error", line, field, message: `port ${port} is already used by ${other}` });
      else taken.set(port, `${field} (${s.service})`);
      if (port < 1024 && !isRoot)
        findings.push({ level: "warning", line, field, message: `port ${port} needs root or CAP_NET_BIND_SERVICE: without them it falls back to a random free port` });
    }
    const hostWindows = plan.release.family === "windows";
    if ((s.entry.os === "windows") !== hostWindows)
      findings.push({ level: "warning", line, field: `${field}.banner`, message: `${s.entry.id} is a ${s.entry.os} face on a ${plan.release.family} host: an OS scan would not agree` });
    else if (!s.entry.releases.includes(plan.release.id))
      findings.push({ level: "warning", line, field, message: `${s.entry.id} did not ship in ${plan.release.id} (${s.entry.releases.join(", ")}): the host's story spans releases` });
  });
  return findings;
}

const shared = {
  seed: { type: "string", description: "seed for the fake host and its faces (default: the config's, else stable per machine)", valueHint: "TEXT" },
  os: { type: "string", description: `OS family (${OS_FAMILIES.join(", ")}) or release (debian-7, …), over the config's`, valueHint: "OS" },
} as const;

/** A plan for scripts: the host, and each service's face with the claim nmap should confirm. */
function planAsData(plan: HostPlan, findings: Finding[]) {
  return {
    host: { name: plan.host.hostname, fqdn: plan.host.fqdn, netbios: plan.host.netbiosName, timeZone: plan.host.timeZone },
    release: plan.release.id,
    ...(plan.persona !== undefined ? { persona: plan.persona } : {}),
    services: plan.services.map((s) => ({
      service: s.service,
      ports: s.ports,
      entry: {
        id: s.entry.id,
        product: s.entry.product,
        version: s.entry.version,
        info: s.entry.info ?? "",
        ostype: s.entry.ostype ?? "",
        os: s.entry.os,
        ...(s.entry.scriptClaims ? { scriptClaims: s.entry.scriptClaims } : {}),
      },
    })),
    findings,
  };
}

export const serveCommand = defineCommand({
  meta: { name: "serve", description: "run a whole fake host: every service of a persona or a config, in one process" },
  args: {
    persona: { type: "string", description: `a shipped persona (${PERSONA_NAMES.join(", ")})`, valueHint: "NAME" },
    config: { type: "string", description: "a YAML host config (see micetrap validate)", valueHint: "FILE" },
    host: { type: "string", description: "address to listen on (default: all interfaces, IPv4 and IPv6)", valueHint: "ADDR" },
    ...shared,
    log: { type: "string", description: "append events as JSON Lines (ECS) to FILE", valueHint: "FILE" },
    geoip: { type: "string", description: "add source.geo.* (or source.as.*) to events from this local MaxMind database (.mmdb); nothing is downloaded", valueHint: "FILE" },
    user: { type: "string", description: "after binding, run as this user (default when started as root: nobody; `root` keeps root)", valueHint: "USER" },
    quiet: { type: "boolean", description: "print only warnings and errors" },
    verbose: { type: "boolean", description: "print session ids and every command" },
    ...sinkArgs,
    ...limitArgs,
  },
  async run({ args }) {
    const limits = limitsFrom(args);
    const sinks = sinksFrom(args);
    const c = args.config !== undefined ? loadConfig(args.config, args.persona) : args.persona !== undefined ? namedPersona(args.persona) : defaultPersona();
    if (args.persona !== undefined) namedPersona(args.persona);
    const cli = {
      ...(args.seed !== undefined ? { seed: args.seed } : {}),
      ...(args.os !== undefined ? { os: args.os } : {}),
      ...(args.log !== undefined ? { log: args.log } : {}),
      ...(args.geoip !== undefined ? { geoip: args.geoip } : {}),
      ...(args.host !== undefined ? { listen: args.host } : {}),
      ...(args.user !== undefined ? { user: args.user } : {}),
      sinks,
    };
    const plan = planFromConfig(c, cli, hostSeed);
    if (Object.keys(limits).length > 0) plan.limits = { ...plan.limits, ...limits };
    const isRoot = process.getuid?.() === 0;
    const findings = reviewPlan(c, plan, isRoot);
    const error = findings.find((f) => f.level === "error");
    if (error) throw new ConfigError(c.source, error.line, error.field, error.message);
    const log = createLogger(verbosityOf(args));
    for (const f of findings) if (!f.message.includes("needs root")) log.warn(`${c.source}:${f.line}: ${f.field}: ${f.message}`);
    await runPlan(plan, { verbosity: verbosityOf(args), showHost: true });
  },
});

export const personasCommand = defineCommand({
  meta: { name: "personas", description: "list the shipped personas: a whole believable host each" },
  args: { json: { type: "boolean", description: "print a JSON array" } },
  run({ args }) {
    const rows = [...personas().values()].map((p) => {
      const release = p.os ? findRelease(p.os) : undefined;
      return {
        name: p.name!,
        release: p.os ?? "",
        os: release?.name ?? p.os ?? "",
        family: (p.os && parseOsName(p.os)?.family) || "",
        services: (p.services ?? []).map((s) => ({ service: s.service, ports: s.ports ?? defaultPorts(s.service), ...(s.banner ? { banner: s.banner } : {}) })),
        story: p.story ?? "",
      };
    });
    if (args.json) {
      process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
      return;
    }
    const log = createLogger("normal");
    for (const r of rows) {
      log.log(`${r.name.padEnd(15)} ${r.release.padEnd(15)} ${r.services.map((s) => `${s.service}:${s.ports.join("+")}`).join(" ")}`);
      log.log(`${"".padEnd(15)} ${r.story}`);
    }
  },
});

export const validateCommand = defineCommand({
  meta: { name: "validate", description: "check a host config without starting it: errors and warnings, with lines" },
  args: {
    file: { type: "positional", required: true, description: "the YAML config", valueHint: "FILE" },
    ...shared,
    json: { type: "boolean", description: "print the plan and the findings as JSON" },
  },
  run({ args }) {
    const c = loadConfig(args.file);
    const plan = planFromConfig(c, { ...(args.seed !== undefined ? { seed: args.seed } : {}), ...(args.os !== undefined ? { os: args.os } : {}) }, hostSeed);
    const findings = reviewPlan(c, plan, false);
    if (args.json) {
      process.stdout.write(JSON.stringify(planAsData(plan, findings), null, 2) + "\n");
      if (findings.some((f) => f.level === "error")) process.exitCode = 2;
      return;
    }
    const log = createLogger("normal");
    for (const f of findings) {
      const line = `${args.file}:${f.line}: ${f.field}: ${f.message}`;
      if (f.level === "error") log.error(line);
      else log.warn(line);
    }
    const errors = findings.filter((f) => f.level === "error").length;
    const warnings = findings.length - errors;
    const faces = plan.services.map((s) => `${s.service} ${s.entry.id} on ${s.ports.join("+")}`).join(", ");
    if (errors > 0) {
      process.exitCode = 2;
      return;
    }
    log.log(`${args.file}: ok${warnings ? ` (${warnings} warning${warnings > 1 ? "s" : ""})` : ""}: host ${plan.host.fqdn}, ${plan.release.name}; ${faces}`);
  },
});
