// A host plan: which faces a fake host shows on which ports, with one seed and one set of host facts.
// `micetrap <service>` makes a plan of one service; `micetrap serve` one from a persona or a config.
import { chooseEntry, fittingEntries } from "../catalog/choose.ts";
import { defaultPorts, findEntry, serviceEntries } from "../catalog/index.ts";
import { UserError } from "../errors.ts";
import type { SinkPlan } from "../events/sinks/index.ts";
import type { HostConfig } from "../host/config.ts";
import { hostFacts, type HostFacts } from "../host/facts.ts";
import { hostOsFamily } from "../host/machine.ts";
import { drawRelease, findRelease, parseOsName, type Release } from "../host/releases.ts";
import { serviceModule } from "../services/index.ts";
import { mergeSinks } from "./sinks.ts";
import { OS_FAMILIES, type CatalogEntry, type ServiceName } from "../types.ts";

export interface ServicePlan {
  service: ServiceName;
  entry: CatalogEntry;
  /** Ports this face answers on. */
  ports: number[];
  /** True when they are the service's usual ports (no port was given): a port that cannot be bound is skipped, and a random one used when none can. */
  usual: boolean;
  /** Which service of the config it comes from (one config service may show a face per port: Windows on 139 and 445). */
  configIndex: number;
}

export interface HostPlan {
  seed: string;
  host: HostFacts;
  release: Release;
  persona?: string;
  services: ServicePlan[];
  log?: string;
  /** Address to listen on; absent: every interface. */
  listen?: string;
  user?: string;
  /** Where events go besides the console and the log file (--json, --syslog, --webhook). */
  sinks?: SinkPlan;
  /** Limits set by the operator (flags over the config's `limits:`); the rest default. */
  limits?: Partial<import("./limits.ts").AllLimits>;
  /** A MaxMind database (--geoip, `geoip:`) for source.geo.* and source.as.*. */
  geoip?: string;
}

/** The host's OS: a release as given, a family's release drawn with the seed, or this machine's family's. */
export function resolveRelease(os: string | undefined, seed: string): Release {
  if (os === undefined) return drawRelease(seed, hostOsFamily());
  const parsed = parseOsName(os);
  if (!parsed) throw new UserError(`unknown OS "${os}": expected a family (${OS_FAMILIES.join(", ")}) or a release such as debian-7 (micetrap list --releases)`);
  return parsed.release ?? drawRelease(seed, parsed.family);
}

/**
 * The face a service shows on this host: pinned, or drawn with the seed among its release's faces. When
 * ports are given, faces whose usual ports include one of them come first (9091 is Transmission's web UI,
 * not a second Apache).
 */
export function chooseFace(service: ServiceName, seed: string, release: Release, banner?: string, ports?: number[]): CatalogEntry {
  if (banner !== undefined) {
    const entry = findEntry(banner);
    if (!entry) throw new UserError(`unknown banner "${banner}": run \`micetrap list --service ${service}\` for the ids`);
    if (entry.service !== service) throw new UserError(`banner "${banner}" is a ${entry.service} entry, not ${service}`);
    return entry;
  }
  const host = { family: release.family, release: release.id };
  const all = serviceEntries(service);
  // The port decides first, then the release: a host whose release shipped only Transmission's web UI
  // (9091) shows on 80 the web server of the nearest release that served 80, not Transmission.
  const onPort = ports ? all.filter((e) => e.ports.some((p) => ports.includes(p))) : [];
  return chooseEntry(fittingEntries(onPort.length > 0 ? onPort : all, host), seed, host);
}

/**
 * The faces of one service, port by port: usually one face on all its ports, but where the catalog has a
 * face per port (Windows answers nmap differently on 139 and 445), each port gets its own.
 */
function facesFor(service: ServiceName, seed: string, release: Release, banner: string | undefined, ports: number[] | undefined, configIndex: number): ServicePlan[] {
  const usual = ports === undefined;
  const list = ports ?? defaultPorts(service);
  if (banner !== undefined) return [{ service, entry: chooseFace(service, seed, release, banner), ports: list, usual, configIndex }];
  const byEntry = new Map<string, ServicePlan>();
  for (const port of list) {
    const entry = chooseFace(service, seed, release, undefined, port === 0 ? undefined : [port]);
    const plan = byEntry.get(entry.id);
    if (plan) plan.ports.push(port);
    else byEntry.set(entry.id, { service, entry, ports: [port], usual, configIndex });
  }
  return [...byEntry.values()];
}

export interface SingleServiceOptions {
  service: ServiceName;
  port?: number;
  seed: string;
  os?: string;
  banner?: string;
  log?: string;
  listen?: string;
  user?: string;
  sinks?: SinkPlan;
  geoip?: string;
}

export function planForService(o: SingleServiceOptions): HostPlan {
  // A pinned face with no --os makes the host one of the face's own releases (a Windows face, a Windows host).
  const pinned = o.banner !== undefined && o.os === undefined ? findEntry(o.banner) : undefined;
  const release = pinned ? (findRelease(pinned.releases[0]!) ?? resolveRelease(undefined, o.seed)) : resolveRelease(o.os, o.seed);
  const host = hostFacts({ seed: o.seed, family: release.family, release: release.id });
  return {
    seed: o.seed,
    host,
    release,
    services: facesFor(o.service, o.seed, release, o.banner, o.port !== undefined ? [o.port] : undefined, 0),
    ...(o.log !== undefined ? { log: o.log } : {}),
    ...(o.listen !== undefined ? { listen: o.listen } : {}),
    ...(o.user !== undefined ? { user: o.user } : {}),
    ...(o.sinks !== undefined ? { sinks: o.sinks } : {}),
    ...(o.geoip !== undefined ? { geoip: o.geoip } : {}),
  };
}

/**
 * Faces that belong together (ServiceModule.follows): an https face is re-drawn among those that show the
 * host's own http face, when the release has one; a face pinned with banner: stays as given.
 */
function pairFaces(services: ServicePlan[], config: { banner?: string }[], release: Release, seed: string): void {
  for (const plan of services) {
    const follows = serviceModule(plan.service).follows;
    if (!follows || config[plan.configIndex]?.banner !== undefined) continue;
    const leader = services.find((p) => p.service === follows.service && p.usual) ?? services.find((p) => p.service === follows.service);
    if (!leader || follows.faceOf(plan.entry) === leader.entry.id) continue;
    const host = { family: release.family, release: release.id };
    const fitting = fittingEntries(serviceEntries(plan.service), host).filter((e) => follows.faceOf(e) === leader.entry.id);
    if (fitting.length > 0) plan.entry = chooseEntry(fitting, seed, host);
  }
}

/** A plan from a (merged) config; command-line options win over the file's keys. */
export function planFromConfig(c: HostConfig, cli: { seed?: string; os?: string; log?: string; listen?: string; user?: string; sinks?: SinkPlan; geoip?: string }, defaultSeed: () => string): HostPlan {
  const seed = cli.seed ?? c.seed ?? defaultSeed();
  const release = resolveRelease(cli.os ?? c.os, seed);
  const host = hostFacts({ seed, family: release.family, release: release.id, ...(c.hostname !== undefined ? { hostname: c.hostname } : {}) });
  if (!c.services || c.services.length === 0) throw new UserError(`${c.source}: no services to run (add services:, or a persona:)`);
  // A service given its ports draws with its own label, so two http services on one host may show different faces.
  const services = c.services.flatMap((s, i) => facesFor(s.service, s.ports ? `${seed}|${s.service}|${s.ports.join(",")}` : seed, release, s.banner, s.ports, i));
  pairFaces(services, c.services, release, seed);
  const log = cli.log ?? c.log;
  const listen = cli.listen ?? c.listen;
  const user = cli.user ?? c.user;
  const geoip = cli.geoip ?? c.geoip;
  const sinks = mergeSinks({ ...(c.json !== undefined ? { json: c.json } : {}), ...(c.syslog ? { syslog: c.syslog } : {}), ...(c.webhook ? { webhook: c.webhook } : {}), ...(c.metrics ? { metrics: c.metrics } : {}) }, cli.sinks ?? {});
  return {
    ...(c.limits !== undefined ? { limits: c.limits } : {}),
    seed,
    host,
    release,
    ...(c.name !== undefined || c.persona !== undefined ? { persona: (c.name ?? c.persona)! } : {}),
    services,
    ...(log !== undefined ? { log } : {}),
    ...(listen !== undefined ? { listen } : {}),
    ...(user !== undefined ? { user } : {}),
    ...(sinks ? { sinks } : {}),
    ...(geoip !== undefined ? { geoip } : {}),
  };
}
