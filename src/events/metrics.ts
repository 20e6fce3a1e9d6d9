// Prometheus counts of what the traps log. The counting is a sink: `runtime/run.ts` puts it in the same
// fan-out as the log file and the delivery sinks, so every event the records are given is counted once,
// where it is handed to them, and the counters agree with the log. Gauges that are states rather than events (open sessions,
// sink queues, memory) are read when scraped. `exposition()` renders text format 0.0.4.
import type { CatalogEntry } from "../types.ts";
import type { EventAction, EventSink, TrapEvent } from "./types.ts";

// Every action, once: a new action in EventAction fails the type check here until it is counted.
const ACTION_SET: Record<EventAction, true> = { listening: true, connection: true, refused: true, aborted: true, data: true, login: true, command: true, tls: true, close: true, error: true };
const ACTIONS = Object.keys(ACTION_SET) as EventAction[];

/** The counters of one face (a catalog entry) of one service. */
interface FaceCounts {
  service: string;
  face: string;
  /** `service="…",face="…"`, escaped once. */
  labels: string;
  connections: number;
  logins: number;
  /** Connections the peer reset before the trap could read them (`aborted` events' counts). */
  aborted: number;
  bytesIn: number;
  bytesOut: number;
  events: Record<EventAction, number>;
  /** Refused connections by limit (the reasons are the listener's own words, a short fixed set). */
  refusals: Map<string, number>;
}

/** Action labels, escaped once. */
const ACTION_LABELS = Object.fromEntries(ACTIONS.map((a) => [a, `,action="${a}"`])) as Record<EventAction, string>;

export class MetricsSink implements EventSink {
  /** In first-seen order, so series keep their order from scrape to scrape. */
  private readonly faces = new Map<CatalogEntry, FaceCounts>();

  /** `entries`: the plan's faces, whose series start at 0 before any traffic (so rate() sees the first). */
  constructor(entries: readonly CatalogEntry[] = []) {
    for (const e of entries) this.countsOf(e);
  }

  private countsOf(entry: CatalogEntry): FaceCounts {
    let c = this.faces.get(entry);
    if (!c) {
      const events = {} as Record<EventAction, number>;
      for (const a of ACTIONS) events[a] = 0;
      const labels = `service="${escapeLabel(entry.service)}",face="${escapeLabel(entry.id)}"`;
      c = { service: entry.service, face: entry.id, labels, connections: 0, logins: 0, aborted: 0, bytesIn: 0, bytesOut: 0, events, refusals: new Map() };
      this.faces.set(entry, c);
    }
    return c;
  }

  emit(e: TrapEvent): void {
    const c = this.countsOf(e.entry);
    c.events[e.action] = (c.events[e.action] ?? 0) + 1;
    switch (e.action) {
      case "connection":
        c.connections++;
        break;
      case "login":
        c.logins++;
        break;
      case "refused": {
        const reason = e.reason ?? "unknown";
        c.refusals.set(reason, (c.refusals.get(reason) ?? 0) + (e.count ?? 1));
        break;
      }
      case "aborted":
        c.aborted += e.count ?? 1;
        break;
      case "close":
        // An ended session's bytes: the close event carries its totals (what the peer sent, TLS records
        // included, and what the kernel took of the answers). Open sessions' bytes are added at scrape time.
        c.bytesIn += e.bytesIn ?? 0;
        c.bytesOut += e.bytesOut ?? 0;
        break;
    }
  }

  close(): void {}

  /** A face's labels, escaped (counted or not). */
  labelsOf(entry: CatalogEntry): string {
    return this.faces.get(entry)?.labels ?? `service="${escapeLabel(entry.service)}",face="${escapeLabel(entry.id)}"`;
  }

  /** The faces counted so far, in first-seen order. */
  counts(): readonly Readonly<FaceCounts>[] {
    return [...this.faces.values()];
  }
}

/** A state read at scrape time. */
export interface ScrapeState {
  /** Per trap: its face, its open sessions, and the bytes those sessions received and sent so far. */
  openSessions: { entry: CatalogEntry; open: number; bytesIn: number; bytesOut: number }[];
  /** Sinks with a queue: "file", "stdout", "syslog", "webhook". */
  sinks: { sink: string; queued: number; dropped: number }[];
  residentBytes: number;
  startTimeSeconds: number;
  version: string;
  commit: string;
}

/** A label value as the exposition format wants it: backslash, double quote and newline escaped. */
export function escapeLabel(v: string): string {
  return v.replace(/[\\"\n]/g, (ch) => (ch === "\n" ? "\\n" : `\\${ch}`));
}

/** HELP text: backslash and newline escaped. */
function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (ch) => (ch === "\n" ? "\\n" : "\\\\"));
}

function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

/** Renders families into one string; label sets arrive escaped (`a="x",b="y"`) or empty. */
class Writer {
  private out = "";
  family(name: string, type: "counter" | "gauge", help: string): void {
    this.out += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
  }
  sample(name: string, labels: string, value: number): void {
    this.out += labels === "" ? `${name} ${formatValue(value)}\n` : `${name}{${labels}} ${formatValue(value)}\n`;
  }
  text(): string {
    return this.out;
  }
}

/** The whole scrape in text format 0.0.4: every family with HELP and TYPE, one sample a line. */
export function exposition(m: MetricsSink, s: ScrapeState): string {
  const faces = m.counts();
  const w = new Writer();
  const perFace = (name: string, type: "counter" | "gauge", help: string, value: (c: Readonly<FaceCounts>) => number) => {
    w.family(name, type, help);
    for (const c of faces) w.sample(name, c.labels, value(c));
  };
  w.family("micetrap_build_info", "gauge", "The running micetrap: its version and commit (empty from source), always 1.");
  w.sample("micetrap_build_info", `version="${escapeLabel(s.version)}",commit="${escapeLabel(s.commit)}"`, 1);
  perFace("micetrap_connections_total", "counter", "Connections that became sessions, by service and face.", (c) => c.connections);
  w.family("micetrap_refusals_total", "counter", "Connections refused by a limit, by service, face and the limit (reason).");
  for (const c of faces) for (const [reason, n] of c.refusals) w.sample("micetrap_refusals_total", `${c.labels},reason="${escapeLabel(reason)}"`, n);
  perFace("micetrap_aborted_connections_total", "counter", "Connections the peer reset before the trap could read them, by service and face.", (c) => c.aborted);
  perFace("micetrap_logins_total", "counter", "Login attempts logged, by service and face.", (c) => c.logins);
  // Open sessions and their bytes so far, per face: summed over its ports and addresses.
  const open = new Map<string, { labels: string; n: number; bytesIn: number; bytesOut: number }>();
  for (const c of faces) open.set(c.labels, { labels: c.labels, n: 0, bytesIn: 0, bytesOut: 0 });
  for (const o of s.openSessions) {
    const labels = m.labelsOf(o.entry);
    const row = open.get(labels) ?? { labels, n: 0, bytesIn: 0, bytesOut: 0 };
    row.n += o.open;
    row.bytesIn += o.bytesIn;
    row.bytesOut += o.bytesOut;
    open.set(labels, row);
  }
  const live = (c: Readonly<FaceCounts>) => open.get(c.labels)!;
  perFace("micetrap_received_bytes_total", "counter", "Bytes received from peers (TLS records as sent), by service and face.", (c) => c.bytesIn + live(c).bytesIn);
  perFace("micetrap_sent_bytes_total", "counter", "Bytes sent to peers (taken by the kernel), by service and face.", (c) => c.bytesOut + live(c).bytesOut);
  w.family("micetrap_events_total", "counter", "Events written to the records (log file and sinks), by service, face and action.");
  for (const c of faces) for (const a of ACTIONS) w.sample("micetrap_events_total", c.labels + ACTION_LABELS[a], c.events[a]);
  w.family("micetrap_open_sessions", "gauge", "Sessions open now, by service and face.");
  for (const r of open.values()) w.sample("micetrap_open_sessions", r.labels, r.n);
  w.family("micetrap_sink_queue_depth", "gauge", "Events waiting in a sink's queue to be delivered (file: lines not yet written).");
  for (const k of s.sinks) w.sample("micetrap_sink_queue_depth", `sink="${escapeLabel(k.sink)}"`, k.queued);
  w.family("micetrap_sink_dropped_events_total", "counter", "Events a sink dropped (its queue full, its receiver gone or refusing them).");
  for (const k of s.sinks) w.sample("micetrap_sink_dropped_events_total", `sink="${escapeLabel(k.sink)}"`, k.dropped);
  w.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  w.sample("process_resident_memory_bytes", "", s.residentBytes);
  w.family("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch in seconds.");
  w.sample("process_start_time_seconds", "", s.startTimeSeconds);
  return w.text();
}
