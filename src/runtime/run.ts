// Runs a host plan: one process binds every port of the fake host (one seed, one set of host facts, one
// log, one set of counters), drops root before reading a byte, and serves until a signal.
import { chownSync, existsSync, rmSync } from "node:fs";
import type { ConsolaInstance } from "consola/core";
import { UserError } from "../errors.ts";
import { ConsoleSink } from "../events/console.ts";
import { GeoEnricher, GeoIp } from "../events/geoip.ts";
import { JsonlSink, type WriteFailure } from "../events/jsonl.ts";
import { openSinks, type DeliverySink } from "../events/sinks/index.ts";
import type { EventSink, TrapEvent } from "../events/types.ts";
import { HostCounters } from "../host/counters.ts";
import { consoleOutputs, createLogger, type LineStream, type Verbosity } from "../log.ts";
import { Governor } from "../net/governor.ts";
import { Trap, type SessionObserver } from "../net/listener.ts";
import { completeLimits } from "./limits.ts";
import { serveMetrics, showTarget, type MetricsServer } from "./metrics.ts";
import { MetricsSink } from "../events/metrics.ts";
import { COMMIT, VERSION } from "../version.ts";
import { dropPrivileges, forbidNewPrivileges, lookupAccount, type Account } from "../net/privileges.ts";
import type { CatalogEntry } from "../types.ts";
import type { HostPlan } from "./plan.ts";

export interface RunOptions {
  verbosity: Verbosity;
  /** `micetrap record`: watches every session; called once the sink exists. */
  observer?: SessionObserver;
  /** Single-service runs keep today's wording; `serve` prints the host line too. */
  showHost?: boolean;
  /** After everything stopped (the recorder's close). */
  afterStop?: () => void;
  /** More lines to print once listening (where a recording goes). */
  lines?: string[];
}

/** Every event to every sink; one sink's failure is never another's (nor the trap's). */
class FanOut implements EventSink {
  constructor(private readonly sinks: EventSink[]) {}
  emit(e: TrapEvent): void {
    for (const s of this.sinks) {
      try {
        s.emit(e);
      } catch {
        // a sink that throws loses this event alone
      }
    }
  }
  close(): void {
    for (const s of this.sinks) {
      try {
        s.close();
      } catch {
        // closing one must not keep the others open
      }
    }
  }
}

/** At SIGINT/SIGTERM, what the network sinks and stdout hold gets this long to be delivered, then the process exits. */
export const SHUTDOWN_FLUSH_MS = 2000;

function outageMessage(name: string, f: WriteFailure): string {
  const secs = ((Date.now() - f.since.getTime()) / 1000).toFixed(1);
  return `${name} failed for ${secs}s (${f.code})${f.dropped ? `: ${f.dropped} event${f.dropped === 1 ? "" : "s"} dropped` : ": no event lost"}`;
}

function isPermission(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === "EACCES" || code === "EPERM";
}

function bindError(err: unknown, port: number, where: string): UserError {
  const code = (err as { code?: string }).code;
  if (code === "EADDRINUSE") return new UserError(`port ${port} is already in use on ${where}: choose another port, or 0 for a random free one`);
  if (isPermission(err))
    return new UserError(
      `port ${port} needs privileges: run as root, or grant the binary CAP_NET_BIND_SERVICE (sudo setcap cap_net_bind_service=+ep ./micetrap), or use a port above 1023`,
    );
  if (code === "EADDRNOTAVAIL") return new UserError(`cannot listen on ${where}: no such address on this host`);
  return new UserError(`cannot listen on ${where} port ${port}: ${(err as Error).message}`);
}

/** Default address: every interface, IPv6 and IPv4 at once; IPv4 only where the host has no IPv6. */
function startTrap(make: (address: string) => Trap, address: string | undefined): Trap {
  const started = (t: Trap) => {
    t.start();
    return t;
  };
  if (address !== undefined) return started(make(address));
  try {
    return started(make("::"));
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== "EAFNOSUPPORT" && code !== "EADDRNOTAVAIL" && code !== "EINVAL") throw err;
    return started(make("0.0.0.0"));
  }
}

export function describeEntry(e: CatalogEntry): string {
  // An entry may have no product (rsync: nmap's one line gives the protocol alone): no double space then.
  const what = [e.product, e.version, e.info ? `(${e.info})` : ""].filter(Boolean).join(" ");
  return `Pretending to be ${what} [entry ${e.id}, os ${e.os}]`;
}

/** Binds the plan's ports. Explicit ports that need root fall back to a random free port only in `serve`. */
function bindAll(plan: HostPlan, make: (entry: CatalogEntry, port: number) => (address: string) => Trap, fallbackExplicit: boolean): { traps: Trap[]; notes: string[] } {
  const where = plan.listen ?? "all interfaces";
  const traps: Trap[] = [];
  const notes: string[] = [];
  try {
    for (const s of plan.services) {
      if (!s.usual) {
        for (const port of s.ports) {
          try {
            traps.push(startTrap(make(s.entry, port), plan.listen));
          } catch (err) {
            if (!fallbackExplicit || !isPermission(err)) throw bindError(err, port, where);
            const t = startTrap(make(s.entry, 0), plan.listen);
            traps.push(t);
            notes.push(`${s.service}: port ${port} needs root or CAP_NET_BIND_SERVICE; using port ${t.port} instead.`);
          }
        }
        continue;
      }
      const refused: string[] = [];
      const before = traps.length;
      for (const port of s.ports) {
        try {
          traps.push(startTrap(make(s.entry, port), plan.listen));
        } catch (err) {
          const code = (err as { code?: string }).code;
          refused.push(`${port} (${isPermission(err) ? "needs root or CAP_NET_BIND_SERVICE" : code === "EADDRINUSE" ? "in use" : (code ?? "error")})`);
        }
      }
      const bound = traps.length - before;
      if (bound === 0) {
        const t = startTrap(make(s.entry, 0), plan.listen);
        traps.push(t);
        notes.push(
          fallbackExplicit
            ? `${s.service}: the usual port is not available: ${refused.join(", ")}; using port ${t.port} instead.`
            : `No port given and the usual port is not available: ${refused.join(", ")}; using a random free port.`,
        );
      } else if (!fallbackExplicit) {
        // `micetrap <service>` says where it went; `serve` binds usual ports as a matter of course.
        notes.push(`No port given: using the usual port${bound > 1 ? "s" : ""}.`);
      }
    }
  } catch (err) {
    for (const t of traps) t.stop();
    throw err instanceof UserError ? err : new UserError((err as Error).message);
  }
  return { traps, notes };
}

export async function runPlan(plan: HostPlan, o: RunOptions): Promise<void> {
  // `--json` or `--log -`: stdout carries the events as ECS JSON lines, and nothing else.
  const jsonOut = plan.sinks?.json === true || plan.log === "-";
  const logPath = plan.log === "-" ? undefined : plan.log;
  const log = createLogger(o.verbosity, { stdoutReserved: jsonOut });
  const sinks: EventSink[] = [new ConsoleSink(log, o.verbosity === "verbose")];
  // The records: the file and the delivery sinks (stdout JSON, syslog, webhook), everything but the console.
  const recordSinks: EventSink[] = [];
  const records = new FanOut(recordSinks);
  // --metrics: counted here, in the records' own fan-out, so the counts are those of the events logged.
  const counts = plan.sinks?.metrics ? new MetricsSink(plan.services.map((s) => s.entry)) : undefined;
  if (counts) recordSinks.push(counts);
  // Events about the trap itself (the log file's, a sink's or the console's trouble) carry the first face,
  // as a listener's own errors do; they go to the records only, and their console line is worded here.
  let traps: Trap[] = [];
  const selfEvent = (message: string): TrapEvent => {
    const entry = traps[0]?.entry ?? plan.services[0]!.entry;
    return {
      action: "error",
      time: new Date(),
      service: entry.service,
      entry,
      host: { name: plan.host.hostname, release: plan.host.release },
      ...(plan.persona !== undefined ? { persona: plan.persona } : {}),
      destination: { port: traps[0]?.port ?? 0 },
      message,
    };
  };
  // Resolve the account before the log file and the ports, so a bad --user fails having made nothing.
  const isRoot = process.getuid?.() === 0;
  const account: Account | undefined = isRoot && plan.user !== "root" ? lookupAccount(plan.user ?? "nobody") : undefined;
  // The GeoIP database too: a missing or damaged file stops the start before anything is made.
  const geo = plan.geoip !== undefined ? GeoIp.open(plan.geoip) : undefined;
  let file: JsonlSink | undefined;
  let created = false;
  if (logPath !== undefined) {
    if (logPath === "") throw new UserError("--log needs a file name");
    const path = logPath;
    created = !existsSync(path);
    try {
      file = new JsonlSink(path, {
        onFail: (f) => log.error(`cannot write to the log file ${path} (${f.code}): events wait in memory and are written once it works again`),
        onRecover: (f) => {
          const secs = ((Date.now() - f.since.getTime()) / 1000).toFixed(1);
          const message = `writes to the log file failed for ${secs}s (${f.code})${f.dropped ? `: ${f.dropped} events dropped` : ": no event lost"}`;
          log.warn(`${message}; writing again`);
          records.emit(selfEvent(message));
        },
      });
      recordSinks.push(file);
    } catch (err) {
      throw new UserError(`cannot open log file ${logPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    // A log this process made belongs to the user it runs as from now on (mode 0640 from the open).
    if (created && account) {
      try {
        chownSync(path, account.uid, account.gid);
      } catch {
        // Not ours to give (a filesystem without owners): the file stays root's, writable through the open fd.
      }
    }
  }
  // Sinks that deliver elsewhere: each says once when it stops delivering, and once (also as an event in
  // every record) when it works again. None of them can fail here: a receiver that is down is an outage.
  const delivery: DeliverySink[] = openSinks(
    { ...plan.sinks, ...(jsonOut ? { json: true } : {}) },
    (name) => ({
      onFail: (f) =>
        log.error(
          name === "stdout" && f.code !== "not being read"
            ? `JSON events to stdout failed (${f.code}): they are dropped from now on; the other sinks go on`
            : `${name} is not taking events (${f.code}): they wait in memory up to a bound, the rest are dropped and counted`,
        ),
      onRecover: (f) => {
        const message = outageMessage(name, f);
        log.warn(`${message}; delivering again`);
        records.emit(selfEvent(message));
      },
    }),
    process.stdout as unknown as LineStream,
  );
  recordSinks.push(...delivery);
  sinks.push(records);
  const fan = new FanOut(sinks);
  const sink: EventSink = geo ? new GeoEnricher(fan, geo) : fan;
  const counters = new HostCounters(plan.host);
  // One set of process-wide limits (sessions in all, each source's rate and output, the memory budget) for every port.
  const limits = completeLimits(plan.limits ?? {});
  const governor = new Governor(limits);
  governor.collectAfterBursts();
  const make = (entry: CatalogEntry, port: number) => (address: string) =>
    new Trap({
      entry,
      hostname: address,
      port,
      hostSeed: plan.seed,
      host: plan.host,
      counters,
      sink,
      ...(plan.persona !== undefined ? { persona: plan.persona } : {}),
      limits,
      governor,
      ...(o.observer ? { observer: o.observer } : {}),
    });
  // The metrics port is bound before the traps': when it cannot be, no trap has listened.
  let metrics: MetricsServer | undefined;
  if (counts && plan.sinks?.metrics) {
    try {
      metrics = serveMetrics(plan.sinks.metrics, counts, () => ({
        openSessions: traps.map((t) => ({ entry: t.entry, open: t.activeSessions, ...t.openSessionBytes() })),
        sinks: [
          ...(file ? [{ sink: "file", queued: file.pendingLines, dropped: file.dropped }] : []),
          ...delivery.map((d) => ({ sink: d.name.split(" ")[0]!, queued: d.pending, dropped: d.dropped })),
        ],
        residentBytes: process.memoryUsage.rss(),
        startTimeSeconds: Math.round(performance.timeOrigin) / 1000,
        version: VERSION,
        commit: COMMIT,
      }));
    } catch (err) {
      sink.close();
      if (created && file) rmSync(file.path, { force: true });
      throw err;
    }
  }
  let bound: { traps: Trap[]; notes: string[] };
  try {
    bound = bindAll(plan, make, o.showHost === true);
  } catch (err) {
    metrics?.stop();
    sink.close();
    // A start that failed leaves no trace: a log file it made holds only the listening lines of ports it
    // let go again.
    if (created && file) rmSync(file.path, { force: true });
    throw err;
  }
  traps = bound.traps;
  const notes = bound.notes;
  if (account) {
    try {
      dropPrivileges(account);
    } catch (err) {
      for (const t of traps) t.stop();
      metrics?.stop();
      sink.close();
      if (created && file) rmSync(file.path, { force: true });
      throw err instanceof UserError ? err : new UserError(`could not switch to user ${account.name}: ${(err as Error).message}`);
    }
  }
  // Even when not root: no execve from here on can gain privileges (dropPrivileges set it already).
  if (!account) forbidNewPrivileges();
  for (const t of traps) log.info(`Fake ${t.entry.service} service listening on port ${t.port}...`);
  for (const s of plan.services) log.info(describeEntry(s.entry));
  if (o.showHost) {
    const h = plan.host;
    log.info(`Host ${h.fqdn} (${plan.release.name}, ${h.timeZone})${plan.persona ? `, persona ${plan.persona}` : ""}.`);
  }
  if (metrics && plan.sinks?.metrics) {
    const where = showTarget({ host: plan.sinks.metrics.host, port: metrics.port });
    log.info(`Metrics for Prometheus on http://${where}/metrics`);
    if (!plan.sinks.metrics.loopback) log.warn(`The metrics listen on ${where}, not on loopback: anyone who can reach that address can read them.`);
  }
  for (const n of notes) log.info(n);
  for (const l of o.lines ?? []) log.info(l);
  if (account) log.info(`Running as ${account.name} (uid ${account.uid}) after binding.`);
  else if (isRoot) log.warn("Running as root: every attacker byte is handled with full rights (--user root).");
  const reportConsole = watchConsole(records, selfEvent, jsonOut);
  installSignals(traps, sink, file, delivery, selfEvent, log, () => {
    o.afterStop?.();
    reportConsole();
  });
}

/**
 * A console stream that breaks (its reader exited) is noted on the other stream and in the records. With
 * JSON on stdout the console is stderr alone (the stdout sink reports its own trouble).
 */
function watchConsole(records: EventSink, selfEvent: (message: string) => TrapEvent, jsonOut: boolean): () => void {
  const out = consoleOutputs();
  const pairs = jsonOut
    ? ([[out.stderr, undefined]] as const)
    : ([
        [out.stdout, out.stderr],
        [out.stderr, out.stdout],
      ] as const);
  for (const [stream, other] of pairs) {
    stream.onBroken((code) => {
      const message = `console output to ${stream.name} failed (${code}): its lines are dropped from now on`;
      other?.write(`warning: ${message}\n`);
      records.emit(selfEvent(message));
    });
  }
  let reported = false;
  const report = () => {
    if (reported) return;
    reported = true;
    for (const s of [out.stdout, out.stderr])
      if (s.dropped > 0) records.emit(selfEvent(`${s.dropped} console line${s.dropped === 1 ? "" : "s"} not shown on ${s.name}${s.broken ? ` (${s.broken})` : " (not being read)"}`));
  };
  // Whatever ends the process, what the records are owed is written (the file) or counted (the others).
  process.on("exit", () => {
    report();
    records.close();
  });
  return report;
}

/**
 * SIGINT and SIGTERM close every session (each logs its close), give the delivery sinks up to
 * SHUTDOWN_FLUSH_MS to deliver what they hold, and exit (a second signal exits at once); SIGHUP reopens
 * the log file.
 */
function installSignals(
  traps: Trap[],
  sink: EventSink,
  file: JsonlSink | undefined,
  delivery: DeliverySink[],
  selfEvent: (message: string) => TrapEvent,
  log: ConsolaInstance,
  afterStop: () => void,
): void {
  let done = false;
  const exit = () => {
    sink.close();
    process.exit(0);
  };
  const stop = async (signal: string) => {
    if (done) return exit();
    done = true;
    log.info(`Received ${signal}: closing ${traps.reduce((n, t) => n + t.activeSessions, 0)} session(s) and stopping.`);
    for (const t of traps) t.stop();
    afterStop();
    if (delivery.length > 0) {
      const deadline = new Promise((r) => setTimeout(r, SHUTDOWN_FLUSH_MS + 200));
      await Promise.race([Promise.all(delivery.map((d) => d.flushWithin(SHUTDOWN_FLUSH_MS).catch(() => {}))), deadline]);
      // What could not be delivered in time is said on the console and in the file.
      for (const d of delivery) {
        if (d.pending === 0) continue;
        const message = `${d.name}: ${d.pending} event${d.pending === 1 ? "" : "s"} not delivered at exit${d.failing ? ` (${d.failing.code})` : ""}`;
        log.warn(message);
        file?.emit(selfEvent(message));
      }
      for (const d of delivery) if (d.dropped > 0 && d.failing) file?.emit(selfEvent(outageMessage(d.name, d.failing)));
    }
    exit();
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGHUP", () => {
    if (done) return;
    if (!file) {
      log.info("Received SIGHUP: no log file to reopen.");
      return;
    }
    try {
      file.reopen();
      log.info(`Received SIGHUP: reopened the log file ${file.path}.`);
    } catch (err) {
      log.error(`Received SIGHUP: cannot reopen the log file ${file.path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): still writing to the file already open`);
    }
  });
}
