// A host plan: which faces a fake host shows on which ports, with one seed and one set of host facts.
// `micetrap <service>` makes a plan of one service; `micetrap serve` one from a persona or a config.
import { chooseEntry, fittingEntries } from "../catalog/choose.ts";
import { defaultPorts, findEntry, serviceEntries } from "../catalog/index.ts";
import { UserError } from "../errors.ts";
import type { HostConfig } from "../host/config.ts";
import { hostFacts, type HostFacts } from "../host/facts.ts";
import { hostOsFamily } from "../host/machine.ts";
import { drawRelease, findRelease, parseOsName, type Release } from "../host/releases.ts";
import { OS_FAMILIES, type CatalogEntry, type OsFamily, type ServiceName } from "../types.ts";

export interface ServicePlan {
  service: ServiceName;
  entry: CatalogEntry;
  /** Ports to bind; absent: the service's usual ports (falling back to a random one when not allowed). */
  ports?: number[];
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
}

/** The host's OS: a release as given, a family's release drawn with the seed, or this machine's family's. */
export function resolveRelease(os: string | undefined, seed: string): Release {
  if (os === undefined) return drawRelease(seed, hostOsFamily());
  const parsed = parseOsName(os);
  if (!parsed) throw new UserError(`unknown OS "${os}": expected a family (${OS_FAMILIES.join(", ")}) or a release such as debian-7 (micetrap list --releases)`);
  return parsed.release ?? drawRelease(seed, parsed.family);
}

/** The family an --os value names (a family, or a release's family). */
export function familyOf(os: string): OsFamily {
  const parsed = parseOsName(os);
  if (!parsed) throw new UserError(`unknown OS "${os}": expected a family (${OS_FAMILIES.join(", ")}) or a release such as debian-7 (micetrap list --releases)`);
  return parsed.family;
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
  const fitting = fittingEntries(serviceEntries(service), host);
  const onPort = ports ? fitting.filter((e) => e.ports.some((p) => ports.includes(p))) : [];
  return chooseEntry(onPort.length > 0 ? onPort : fitting, seed, host);
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
}

export function planForService(o: SingleServiceOptions): HostPlan {
  // A pinned face with no --os makes the host one of the face's own releases (a Windows face, a Windows host).
  const pinned = o.banner !== undefined && o.os === undefined ? findEntry(o.banner) : undefined;
  const release = pinned ? (findRelease(pinned.releases[0]!) ?? resolveRelease(undefined, o.seed)) : resolveRelease(o.os, o.seed);
  const host = hostFacts({ seed: o.seed, family: release.family, release: release.id });
  const entry = chooseFace(o.service, o.seed, release, o.banner);
  return {
    seed: o.seed,
    host,
    release,
    services: [{ service: o.service, entry, ...(o.port !== undefined ? { ports: [o.port] } : {}) }],
    ...(o.log !== undefined ? { log: o.log } : {}),
    ...(o.listen !== undefined ? { listen: o.listen } : {}),
    ...(o.user !== undefined ? { user: o.user } : {}),
  };
}

/** A plan from a (merged) config; command-line options win over the file's keys. */
export function planFromConfig(c: HostConfig, cli: { seed?: string; os?: string; log?: string; listen?: string; user?: string }, defaultSeed: () => string): HostPlan {
  const seed = cli.seed ?? c.seed ?? defaultSeed();
  const release = resolveRelease(cli.os ?? c.os, seed);
  const host = hostFacts({ seed, family: release.family, release: release.id, ...(c.hostname !== undefined ? { hostname: c.hostname } : {}) });
  if (!c.services || c.services.length === 0) throw new UserError(`${c.source}: no services to run (add services:, or a persona:)`);
  const services = c.services.map((s) => ({
    service: s.service,
    // Each service draws with its own label, so two http services on one host may show different faces.
    entry: chooseFace(s.service, s.ports ? `${seed}|${s.service}|${s.ports.join(",")}` : seed, release, s.banner, s.ports),
    ...(s.ports ? { ports: s.ports } : {}),
  }));
  const log = cli.log ?? c.log;
  const listen = cli.listen ?? c.listen;
  const user = cli.user ?? c.user;
  return {
    seed,
    host,
    release,
    ...(c.name !== undefined || c.persona !== undefined ? { persona: (c.name ?? c.persona)! } : {}),
    services,
    ...(log !== undefined ? { log } : {}),
    ...(listen !== undefined ? { listen } : {}),
    ...(user !== undefined ? { user } : {}),
  };
}

/** Every port a plan binds (usual ports where none are given). */
export function planPorts(plan: HostPlan): { service: ServiceName; port: number; entry: CatalogEntry }[] {
  return plan.services.flatMap((s) => (s.ports ?? defaultPorts(s.service)).map((port) => ({ service: s.service, port, entry: s.entry })));
}
