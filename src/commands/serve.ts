// `micetrap <service> [port]`: choose the fake product, bind the port(s), serve until a signal.
import { defineCommand } from "citty";
import type { ConsolaInstance } from "consola/core";
import { allEntries, defaultPorts, findEntry, isOsFamily, resolveService, serviceEntries } from "../catalog/index.ts";
import { chooseEntry } from "../catalog/choose.ts";
import { hostOsFamily, hostSeed } from "../host/machine.ts";
import { UserError, parsePort } from "../errors.ts";
import { ConsoleSink } from "../events/console.ts";
import { JsonlSink } from "../events/jsonl.ts";
import type { EventSink, TrapEvent } from "../events/types.ts";
import { createLogger, type Verbosity } from "../log.ts";
import { Trap } from "../net/listener.ts";
import { loadProbeFile, type ProbeFile } from "../nmap/probes.ts";
import { Recorder } from "../transcripts/recorder.ts";
import { dropPrivileges, lookupAccount, type Account } from "../net/privileges.ts";
import { SERVICES } from "../services/index.ts";
import { OS_FAMILIES, type CatalogEntry, type OsFamily, type ServiceName } from "../types.ts";

export const serveArgs = {
  port: { type: "positional", required: false, description: "TCP port (default: the usual port if allowed, else a random free one; 0 = random)" },
  host: { type: "string", description: "address to listen on (default: all interfaces, IPv4 and IPv6)", valueHint: "ADDR" },
  seed: { type: "string", description: "seed for the fake product choice (default: stable per host)", valueHint: "TEXT" },
  os: { type: "string", description: `OS family to fit (${OS_FAMILIES.join(", ")}; default: this host's)`, valueHint: "FAMILY" },
  banner: { type: "string", description: "pin one catalog entry by id (see `micetrap list`)", valueHint: "ID" },
  log: { type: "string", description: "append events as JSON Lines (ECS) to FILE", valueHint: "FILE" },
  user: { type: "string", description: "after binding, run as this user (default when started as root: nobody; `root` keeps root)", valueHint: "USER" },
  quiet: { type: "boolean", description: "print only warnings and errors" },
  verbose: { type: "boolean", description: "print session ids and every command" },
} as const;

export interface ServeOptions {
  service: ServiceName;
  port?: string;
  host?: string;
  seed?: string;
  os?: string;
  banner?: string;
  log?: string;
  user?: string;
  quiet?: boolean;
  verbose?: boolean;
  /** `micetrap record`: keep every session as a transcript under outDir. */
  record?: { outDir: string; note?: string; probes?: string };
}

/** Recordings use a fixed default seed: fixtures must not carry the recording host's machine id. */
export const RECORD_SEED = "micetrap-record";

export function parseOs(text: string | undefined): OsFamily {
  if (text === undefined) return hostOsFamily();
  const os = text.toLowerCase();
  if (!isOsFamily(os)) throw new UserError(`unknown OS family "${text}": expected one of ${OS_FAMILIES.join(", ")}`);
  return os;
}

/** The options of selectEntries, for commands that take them. */
export const selectArgs = {
  service: { type: "string", description: "only entries of this service", valueHint: "NAME" },
  os: { type: "string", description: "only entries of this OS family", valueHint: "FAMILY" },
  banner: { type: "string", description: "only this entry", valueHint: "ID" },
} as const;

/** The entries a command works on: --service, --os and --banner narrow the whole catalog. */
export function selectEntries(o: { service?: string; os?: string; banner?: string }): CatalogEntry[] {
  let entries = allEntries();
  if (o.service !== undefined) {
    const service = resolveService(o.service);
    if (!service) throw new UserError(`unknown service "${o.service}": expected one of ${SERVICES.join(", ")}`);
    entries = entries.filter((e) => e.service === service);
  }
  if (o.os !== undefined) {
    const os = parseOs(o.os);
    entries = entries.filter((e) => e.os === os);
  }
  if (o.banner !== undefined) {
    const entry = findEntry(o.banner);
    if (!entry) throw new UserError(`unknown banner "${o.banner}": run \`micetrap list\` for the ids`);
    entries = entries.filter((e) => e === entry);
  }
  return entries;
}

/** The entry a trap shows: pinned by --banner, or the seeded, OS-fitting choice. */
export function resolveEntry(service: ServiceName, o: { banner?: string; seed?: string; os?: string }): CatalogEntry {
  if (o.banner !== undefined) {
    const entry = findEntry(o.banner);
    if (!entry) throw new UserError(`unknown banner "${o.banner}": run \`micetrap list --service ${service}\` for the ids`);
    if (entry.service !== service) throw new UserError(`banner "${o.banner}" is a ${entry.service} entry, not ${service}`);
    return entry;
  }
  return chooseEntry(serviceEntries(service), o.seed ?? hostSeed(), parseOs(o.os));
}

class FanOut implements EventSink {
  constructor(private readonly sinks: EventSink[]) {}
  emit(e: TrapEvent): void {
    for (const s of this.sinks) s.emit(e);
  }
  close(): void {
    for (const s of this.sinks) s.close();
  }
}

function bindError(err: unknown, port: number, host: string): UserError {
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE") return new UserError(`port ${port} is already in use on ${host}: choose another port, or 0 for a random free one`);
  if (code === "EACCES" || code === "EPERM")
    return new UserError(
      `port ${port} needs privileges: run as root, or grant the binary CAP_NET_BIND_SERVICE (sudo setcap cap_net_bind_service=+ep ./micetrap), or use a port above 1023`,
    );
  if (code === "EADDRNOTAVAIL") return new UserError(`cannot listen on ${host}: no such address on this host`);
  return new UserError(`cannot listen on ${host} port ${port}: ${(err as Error).message}`);
}

/** Default host: every interface, IPv6 and IPv4 at once; IPv4 only where the host has no IPv6. */
function startTrap(make: (host: string) => Trap, host: string | undefined): Trap {
  if (host !== undefined) return started(make(host));
  try {
    return started(make("::"));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL" && code !== "EINVAL") throw err;
    return started(make("0.0.0.0"));
  }
}

function started(t: Trap): Trap {
  t.start();
  return t;
}

export async function serve(o: ServeOptions): Promise<void> {
  const verbosity: Verbosity = o.quiet ? "quiet" : o.verbose ? "verbose" : "normal";
  const log = createLogger(verbosity);
  const explicitPort = o.port !== undefined && o.port !== "" ? parsePort(o.port) : undefined;
  const seed = o.seed ?? (o.record ? RECORD_SEED : hostSeed());
  const entry = resolveEntry(o.service, { ...o, seed });
  const sinks: EventSink[] = [new ConsoleSink(log, o.verbose === true)];
  if (o.log !== undefined) {
    if (o.log === "") throw new UserError("--log needs a file name");
    try {
      sinks.push(new JsonlSink(o.log));
    } catch (err) {
      throw new UserError(`cannot open log file ${o.log}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  // Resolve the account before binding, so a bad --user fails before any port is taken.
  const isRoot = process.getuid?.() === 0;
  const account: Account | undefined = isRoot && o.user !== "root" ? lookupAccount(o.user ?? "nobody") : undefined;
  const sink = new FanOut(sinks);
  let recorder: Recorder | undefined;
  if (o.record) {
    let probes: ProbeFile | undefined;
    try {
      probes = loadProbeFile(o.record.probes);
    } catch (err) {
      if (o.record.probes !== undefined) throw new UserError((err as Error).message);
      log.warn(`${(err as Error).message}; requests will not be named after nmap probes`);
    }
    try {
      recorder = new Recorder(entry, seed, o.record.outDir, probes, o.record.note);
    } catch (err) {
      throw new UserError((err as Error).message);
    }
  }
  const make = (port: number) => (host: string) =>
    new Trap({ entry, hostname: host, port, hostSeed: seed, sink, ...(recorder ? { observer: recorder } : {}) });
  const shownHost = o.host ?? "all interfaces";

  const traps: Trap[] = [];
  let note = "";
  try {
    if (explicitPort !== undefined) {
      try {
        traps.push(startTrap(make(explicitPort), o.host));
      } catch (err) {
        throw bindError(err, explicitPort, shownHost);
      }
    } else {
      const refused: string[] = [];
      for (const port of defaultPorts(o.service)) {
        try {
          traps.push(startTrap(make(port), o.host));
        } catch (err) {
          const code = (err as { code?: string }).code;
          refused.push(`${port} (${code === "EACCES" || code === "EPERM" ? "needs root or CAP_NET_BIND_SERVICE" : code === "EADDRINUSE" ? "in use" : code ?? "error"})`);
        }
      }
      if (traps.length === 0) {
        traps.push(startTrap(make(0), o.host));
        note = `No port given and the usual port is not available: ${refused.join(", ")}; using a random free port.`;
      } else {
        note = `No port given: using the usual port${traps.length > 1 ? "s" : ""}.`;
      }
    }
  } catch (err) {
    for (const t of traps) t.stop();
    sink.close();
    throw err instanceof UserError ? err : new UserError((err as Error).message);
  }

  if (account) {
    try {
      dropPrivileges(account);
    } catch (err) {
      for (const t of traps) t.stop();
      sink.close();
      throw err instanceof UserError ? err : new UserError(`could not switch to user ${account.name}: ${(err as Error).message}`);
    }
  }
  for (const t of traps) log.info(`Fake ${o.service} service listening on port ${t.port}...`);
  log.info(describeEntry(entry));
  if (note) log.info(note);
  if (recorder) log.info(`Recording every session to ${recorder.path}`);
  if (account) log.info(`Running as ${account.name} (uid ${account.uid}) after binding.`);
  else if (isRoot) log.warn("Running as root: every attacker byte is handled with full rights (--user root).");
  installShutdown(traps, sink, log, () => recorder?.close());
}

export function describeEntry(e: CatalogEntry): string {
  const what = [e.product, e.version].filter(Boolean).join(" ");
  return `Pretending to be ${what}${e.info ? ` (${e.info})` : ""} [entry ${e.id}, os ${e.os}]`;
}

function installShutdown(traps: Trap[], sink: EventSink, log: ConsolaInstance, afterStop: () => void): void {
  let done = false;
  const stop = (signal: string) => {
    if (done) return;
    done = true;
    log.info(`Received ${signal}: closing ${traps.reduce((n, t) => n + t.activeSessions, 0)} session(s) and stopping.`);
    for (const t of traps) t.stop();
    afterStop();
    sink.close();
    process.exit(0);
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
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
    ...text("user"),
    quiet: args.quiet === true,
    verbose: args.verbose === true,
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

export { resolveService };
