// `micetrap <service> [port]`: one service of the fake host, on its usual port(s) or the one given.
// It is a host plan of one service: the same seed, host facts and release rules as `micetrap serve`.
import { defineCommand } from "citty";
import { allEntries, findEntry, resolveService } from "../catalog/index.ts";
import { UserError, parsePort } from "../errors.ts";
import { hostSeed } from "../host/machine.ts";
import { parseOsName } from "../host/releases.ts";
import type { Verbosity } from "../log.ts";
import { loadProbeFile, type ProbeFile } from "../nmap/probes.ts";
import { limitArgs, limitsFrom } from "../runtime/limits.ts";
import type { Limits } from "../net/listener.ts";
import { planForService } from "../runtime/plan.ts";
import { sinkArgs, sinksFrom } from "../runtime/sinks.ts";
import type { SinkPlan } from "../events/sinks/index.ts";
import { runPlan } from "../runtime/run.ts";
import { SERVICES } from "../services/index.ts";
import { Recorder } from "../transcripts/recorder.ts";
import { OS_FAMILIES, type CatalogEntry, type ServiceName } from "../types.ts";
import { cliLog } from "../log.ts";

export const serveArgs = {
  port: { type: "positional", required: false, description: "TCP port (default: the usual port if allowed, else a random free one; 0 = random)" },
  host: { type: "string", description: "address to listen on (default: all interfaces, IPv4 and IPv6)", valueHint: "ADDR" },
  seed: { type: "string", description: "seed for the fake host and its faces (default: stable per machine)", valueHint: "TEXT" },
  os: { type: "string", description: `OS family (${OS_FAMILIES.join(", ")}) or release (debian-7, …) of the fake host (default: this machine's family)`, valueHint: "OS" },
  banner: { type: "string", description: "pin one catalog entry by id (see `micetrap list`)", valueHint: "ID" },
  log: { type: "string", description: "append events as JSON Lines (ECS) to FILE", valueHint: "FILE" },
  geoip: { type: "string", description: "add source.geo.* (or source.as.*) to events from this local MaxMind database (.mmdb); nothing is downloaded", valueHint: "FILE" },
  user: { type: "string", description: "after binding, run as this user (default when started as root: nobody; `root` keeps root)", valueHint: "USER" },
  quiet: { type: "boolean", description: "print only warnings and errors" },
  verbose: { type: "boolean", description: "print session ids and every command" },
  ...sinkArgs,
  ...limitArgs,
} as const;

export interface ServeOptions {
  service: ServiceName;
  port?: string;
  host?: string;
  seed?: string;
  os?: string;
  banner?: string;
  log?: string;
  geoip?: string;
  user?: string;
  quiet?: boolean;
  verbose?: boolean;
  limits?: Partial<Limits>;
  sinks?: SinkPlan;
  /** `micetrap record`: keep every session as a transcript under outDir. */
  record?: { outDir: string; note?: string; probes?: string };
}

/** Recordings use a fixed default seed: fixtures must not carry the recording host's machine id. */
export const RECORD_SEED = "micetrap-record";

export function verbosityOf(o: { quiet?: boolean; verbose?: boolean }): Verbosity {
  return o.quiet ? "quiet" : o.verbose ? "verbose" : "normal";
}

/** The options of selectEntries, for commands that take them. */
export const selectArgs = {
  service: { type: "string", description: "only entries of this service", valueHint: "NAME" },
  os: { type: "string", description: "only entries of this OS family or release", valueHint: "OS" },
  banner: { type: "string", description: "only this entry", valueHint: "ID" },
} as const;

/** The entries a command works on: --service, --os (a family or a release) and --banner narrow the catalog. */
export function selectEntries(o: { service?: string; os?: string; banner?: string }): CatalogEntry[] {
  let entries = allEntries();
  if (o.service !== undefined) {
    const service = resolveService(o.service);
    if (!service) throw new UserError(`unknown service "${o.service}": expected one of ${SERVICES.join(", ")}`);
    entries = entries.filter((e) => e.service === service);
  }
  if (o.os !== undefined) {
    const os = parseOsName(o.os);
    if (!os) throw new UserError(`unknown OS "${o.os}": expected a family (${OS_FAMILIES.join(", ")}) or a release such as debian-7 (micetrap list --releases)`);
    entries = entries.filter((e) => (os.release ? e.releases.includes(os.release.id) : e.os === os.family));
  }
  if (o.banner !== undefined) {
    const entry = findEntry(o.banner);
    if (!entry) throw new UserError(`unknown banner "${o.banner}": run \`micetrap list\` for the ids`);
    entries = entries.filter((e) => e === entry);
  }
  return entries;
}

export async function serve(o: ServeOptions): Promise<void> {
  const explicitPort = o.port !== undefined && o.port !== "" ? parsePort(o.port) : undefined;
  const seed = o.seed ?? (o.record ? RECORD_SEED : hostSeed());
  const limits = o.limits ?? {};
  const plan = planForService({
    service: o.service,
    seed,
    ...(explicitPort !== undefined ? { port: explicitPort } : {}),
    ...(o.os !== undefined ? { os: o.os } : {}),
    ...(o.banner !== undefined ? { banner: o.banner } : {}),
    ...(o.log !== undefined ? { log: o.log } : {}),
    ...(o.geoip !== undefined ? { geoip: o.geoip } : {}),
    ...(o.host !== undefined ? { listen: o.host } : {}),
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.sinks && Object.keys(o.sinks).length > 0 ? { sinks: o.sinks } : {}),
  });
  if (Object.keys(limits).length > 0) plan.limits = limits;
  let recorder: Recorder | undefined;
  if (o.record) {
    let probes: ProbeFile | undefined;
    try {
      probes = loadProbeFile(o.record.probes);
    } catch (err) {
      if (o.record.probes !== undefined) throw new UserError((err as Error).message);
      cliLog.warn(`${(err as Error).message}; requests will not be named after nmap probes`);
    }
    try {
      recorder = new Recorder(plan.services[0]!.entry, plan.host, o.record.outDir, probes, o.record.note);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
  }
  await runPlan(plan, {
    verbosity: verbosityOf(o),
    ...(recorder ? { observer: recorder, afterStop: () => recorder.close(), lines: [`Recording every session to ${recorder.path}`] } : {}),
  });
}

type ParsedServeArgs = { [K in keyof typeof serveArgs]?: string | boolean | undefined };

/** ServeOptions from parsed arguments (citty leaves absent options undefined). */
export function serveOptions(service: ServiceName, args: ParsedServeArgs): ServeOptions {
  const text = (k: keyof typeof serveArgs) => (typeof args[k] === "string" ? { [k]: args[k] as string } : {});
  return {
    service,
    ...text("port"),
    ...text("host"),
    ...text("seed"),
    ...text("os"),
    ...text("banner"),
    ...text("log"),
    ...text("geoip"),
    ...text("user"),
    quiet: args.quiet === true,
    verbose: args.verbose === true,
    limits: limitsFrom(args),
    sinks: sinksFrom(args),
  };
}

export function serviceCommand(service: ServiceName, aliases: string[] = []) {
  return defineCommand({
    meta: {
      name: service,
      description: `run a fake ${service} service`,
      ...(aliases.length ? { alias: aliases } : {}),
    },
    args: serveArgs,
    run: ({ args }) => serve(serveOptions(service, args)),
  });
}
