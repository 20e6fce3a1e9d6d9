// The fuzzer: seeded, reproducible cases for every protocol, each a fresh session of a random face of the
// service, driven through the same SessionDriver as the listener on a virtual clock (no sockets), fed a
// mutated recorded request in random pieces with pauses between them (so delays and timers fire in
// between), then left alone for two hours of daemon time. A case fails when a throw escapes the session
// (or one of its timers), when it writes without bound, when its parsers hold more than the service's
// declared bound (ServiceModule.maxBuffered), or when its timers run away. Case K of seed X of a service is
// the same bytes in every run: `bun scripts/fuzz.ts --service S --seed X --case K` replays it.
import { serviceEntries } from "../catalog/index.ts";
import { hostFacts, type HostFacts } from "../host/facts.ts";
import { makeContext } from "../services/context.ts";
import { type Clock, MAX_HELD_BYTES, SessionDriver } from "../services/driver.ts";
import { preparedFor, serviceModule, startSession } from "../services/index.ts";
import type { CatalogEntry, ProtocolSession, SessionContext } from "../types.ts";
import { escapeBytes } from "../util/escape.ts";
import { type Corpus, corpusFor } from "./corpus.ts";
import { MAX_INPUT, mutateMessages, SMALL_INPUT } from "./mutate.ts";
import { hash32, Rng, weights } from "./rng.ts";
import { reuseEphemeralKeys } from "../services/ssh/ssh2-internals.ts";

/** What one case does, in order: bytes in, a plain request where a TLS handshake should be, time passing. */
export type Step = { kind: "data"; bytes: Uint8Array } | { kind: "plain"; bytes: Uint8Array } | { kind: "wait"; ms: number };

export interface FuzzCase {
  service: string;
  seed: number;
  caseNo: number;
  entry: CatalogEntry;
  /** The recorded session or prefix the input grew from. */
  origin: string;
  steps: Step[];
}

export interface CaseOutcome {
  failure?: string;
  bytesIn: number;
  bytesOut: number;
  calls: number;
  closed: boolean;
  maxBuffered: number;
  events: number;
  /** The longest string in any event (a logged command, a user name). */
  maxField: number;
}

export interface Failure {
  service: string;
  seed: number;
  caseNo: number;
  entry: string;
  origin: string;
  message: string;
  reproduce: string;
}

export interface ServiceReport {
  service: string;
  seed: number;
  cases: number;
  /** Wall time, and CPU time of this process (the rate on a busy machine is cases per CPU second). */
  ms: number;
  cpuMs: number;
  failures: Failure[];
  bytesIn: number;
  bytesOut: number;
  calls: number;
  closed: number;
  /** The largest buffered() seen, and the service's bound. */
  maxBuffered: number;
  bound: number;
  events: number;
  maxField: number;
}

/** Most data() calls in one case: a large input in one-byte pieces is cut into fewer, larger ones. */
const MAX_CALLS = 1500;
/** Daemon time a case is left alone after its last byte: every idle timeout and goodbye runs out by then. */
const SETTLE_MS = 2 * 3600 * 1000;
/** Timer callbacks one case may run: more is a timer re-arming itself without end. */
const MAX_TIMER_RUNS = 20_000;
/** Timers one session may have armed at once. */
const MAX_LIVE_TIMERS = 64;
/** A day more, after SETTLE_MS: what a session writes then is on its own (keep-alives), never answers. */
const QUIET_MS = 24 * 3600 * 1000;
/** What a session may write in that day: a keep-alive every minute is 6 KB; more is a loop. */
const MAX_UNPROMPTED_OUT = 64 * 1024;
/** The longest string an event may carry: a logged request line is cut well before this. */
const MAX_EVENT_FIELD = 16 * 1024;
/** A fixed instant, so a case's bytes (dates in pages, FILETIMEs) are the same in every run. */
const FIXED_NOW = new Date("2024-03-14T15:09:26Z");

export function outputBound(bytesIn: number): number {
  // The biggest answers are pages (an Apache default page, 11 KB, a hundred times on one connection) and a
  // reply per line; anything past this is a session that writes without end.
  return 4 * 1024 * 1024 + 256 * bytesIn;
}

export function reproduceLine(service: string, seed: number, caseNo: number): string {
  return `bun scripts/fuzz.ts --service ${service} --seed ${seed} --case ${caseNo}`;
}

/** A clock that moves only when told, runs a bounded number of callbacks, and counts what is armed. */
class FuzzClock implements Clock {
  private t = 0;
  private seq = 0;
  private queue: { at: number; seq: number; fn: () => void }[] = [];
  runs = 0;

  now(): number {
    return this.t;
  }

  get armed(): number {
    return this.queue.length;
  }

  schedule(ms: number, fn: () => void): () => void {
    const item = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.queue.push(item);
    return () => {
      const i = this.queue.indexOf(item);
      if (i >= 0) this.queue.splice(i, 1);
    };
  }

  /** Runs what is due up to `target`, in time order; throws past MAX_TIMER_RUNS. */
  advanceBy(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let next = -1;
      for (let i = 0; i < this.queue.length; i++) {
        const q = this.queue[i]!;
        if (q.at <= target && (next < 0 || q.at < this.queue[next]!.at || (q.at === this.queue[next]!.at && q.seq < this.queue[next]!.seq))) next = i;
      }
      if (next < 0) break;
      const item = this.queue.splice(next, 1)[0]!;
      if (++this.runs > MAX_TIMER_RUNS) throw new FuzzFailure(`more than ${MAX_TIMER_RUNS} timer callbacks: a timer re-arms itself without end`);
      this.t = Math.max(this.t, item.at);
      item.fn();
    }
    this.t = Math.max(this.t, target);
  }
}

class FuzzFailure extends Error {}

const hosts = new Map<string, HostFacts>();

function hostFor(entry: CatalogEntry): HostFacts {
  let h = hosts.get(entry.id);
  if (!h) {
    h = hostFacts({ seed: "micetrap-fuzz", family: entry.os });
    hosts.set(entry.id, h);
  }
  return h;
}

const SOURCES = weights([
  [60, "recorded"],
  [15, "prefix"],
  [13, "login"],
  [6, "two"],
  [6, "noise"],
] as const);

/** Time between two reads: mostly none, sometimes past a daemon's delay, its idle timeout, its patience. */
const PAUSES = weights([
  [70, () => 0],
  [10, (rng: Rng) => rng.range(1, 100)],
  [10, (rng: Rng) => rng.range(500, 5000)],
  [7, (rng: Rng) => rng.range(10_000, 120_000)],
  [3, (rng: Rng) => rng.range(200_000, 1_000_000)],
]);

/** How the input is cut into reads: as recorded, at random places, byte by byte, or a mix. */
const MODES = weights([
  [35, "messages"],
  [45, "split"],
  [5, "bytes"],
  [15, "mixed"],
] as const);

/** The largest piece of a random split: one byte, a few, an MSS, a socket read. */
const CUTS = [1, 2, 3, 7, 16, 100, 536, 1460, 16384, 65536];

/** Case `caseNo` of `seed` for a service: always the same entry, input, pieces and pauses. */
export function buildCase(service: string, seed: number, caseNo: number, corpus: Corpus = corpusFor(service)): FuzzCase {
  const rng = new Rng(seed, hash32(service), caseNo);
  const entry = rng.pick(serviceEntries(service));
  const source = rng.weighted(SOURCES);
  let origin: string;
  let messages: Uint8Array[];
  if (source === "login" && corpus.logins.length > 0) {
    const l = rng.pick(corpus.logins);
    origin = l.origin;
    messages = l.messages.slice();
  } else if (source === "recorded" || source === "two" || source === "login" || corpus.prefixes.length === 0) {
    const a = rng.pick(corpus.seeds);
    origin = a.origin;
    messages = a.messages.slice();
    if (source === "two") {
      const b = rng.pick(corpus.seeds);
      origin += ` + ${b.origin}`;
      messages.push(...b.messages);
    }
  } else if (source === "prefix") {
    const i = rng.int(corpus.prefixes.length);
    origin = `prefix ${i} + random`;
    messages = [corpus.prefixes[i]!, rng.bytes(rng.int(600))];
  } else {
    origin = "random bytes";
    messages = [rng.bytes(rng.range(1, 2048))];
  }
  // One case in twenty may grow to MAX_INPUT (lines and frames past every limit); the rest stay small.
  messages = mutateMessages(rng, messages, corpus, rng.chance(0.05) ? MAX_INPUT : SMALL_INPUT);

  // Most cases are read in a few dozen pieces; one in fifty may take up to MAX_CALLS.
  const maxCalls = rng.chance(0.02) ? MAX_CALLS : 64;
  const total = messages.reduce((n, m) => n + m.length, 0);
  const minPiece = Math.max(1, Math.ceil(total / maxCalls));
  const mode = rng.weighted(MODES);
  const pieces: Uint8Array[] = [];
  const cutUp = (m: Uint8Array, cut: number): void => {
    for (let at = 0; at < m.length; ) {
      const n = Math.max(minPiece, cut <= 1 ? 1 : rng.range(1, cut));
      pieces.push(m.subarray(at, at + n));
      at += n;
    }
  };
  if (mode === "messages") pieces.push(...messages);
  else if (mode === "mixed") for (const m of messages) rng.chance(0.5) ? pieces.push(m) : cutUp(m, rng.pick(CUTS));
  else cutUp(concat(messages), mode === "bytes" ? 1 : rng.pick(CUTS));

  const steps: Step[] = [];
  // A silent start now and then: the daemon's own timers run before a byte arrives.
  if (rng.chance(0.05)) steps.push({ kind: "wait", ms: rng.range(1, 400_000) });
  const https = service === "https";
  let first = true;
  for (const p of pieces) {
    // The listener never delivers an empty read; a recorded empty message is skipped the same way.
    if (p.length === 0) continue;
    steps.push({ kind: first && https && rng.chance(0.25) ? "plain" : "data", bytes: p });
    first = false;
    const ms = rng.weighted(PAUSES)(rng);
    if (ms > 0) steps.push({ kind: "wait", ms });
  }
  return { service, seed, caseNo, entry, origin, steps };
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(Math.min(n, MAX_INPUT));
  let at = 0;
  for (const p of parts) {
    const take = Math.min(p.length, out.length - at);
    out.set(p.subarray(0, take), at);
    at += take;
  }
  return out;
}

/** Lets a library-driven session (ssh2) do what it does on the next turn: its reads start on a microtask. */
const settle = async (): Promise<void> => {
  await new Promise<void>((r) => setImmediate(r));
};

/** Runs one case; never throws: what went wrong is the outcome's failure. */
export interface CaseHooks {
  /** Starts the session instead of the service's own start (the fuzzer's own tests use broken ones). */
  start?: (ctx: SessionContext) => ProtocolSession;
  /** The bound buffered() is held to, instead of the service's maxBuffered. */
  maxBuffered?: number;
}

export async function runCase(c: FuzzCase, hooks: CaseHooks = {}): Promise<CaseOutcome> {
  const bound = hooks.maxBuffered ?? serviceModule(c.service).maxBuffered ?? 0;
  const outcome: CaseOutcome = { bytesIn: 0, bytesOut: 0, calls: 0, closed: false, maxBuffered: 0, events: 0, maxField: 0 };
  const clock = new FuzzClock();
  let error: Error | undefined;
  let unprompted = -1;
  let session: ProtocolSession | undefined;
  let driver: SessionDriver | undefined;
  const check = (where: string): void => {
    if (error) throw new FuzzFailure(`${where}: the session threw: ${error.stack ?? error.message}`);
    const held = session?.buffered?.() ?? 0;
    if (!Number.isFinite(held) || held < 0) throw new FuzzFailure(`${where}: buffered() returned ${held}`);
    if (held > outcome.maxBuffered) outcome.maxBuffered = held;
    if (held > bound) throw new FuzzFailure(`${where}: buffered() is ${held}, over the service's bound of ${bound}`);
    const total = driver?.buffered ?? 0;
    if (total > bound + MAX_HELD_BYTES) throw new FuzzFailure(`${where}: the driver holds ${total} bytes for the session, over ${bound} + ${MAX_HELD_BYTES}`);
    if (outcome.bytesOut > outputBound(outcome.bytesIn)) throw new FuzzFailure(`${where}: wrote ${outcome.bytesOut} bytes for ${outcome.bytesIn} received`);
    if (unprompted > MAX_UNPROMPTED_OUT) throw new FuzzFailure(`${where}: wrote ${unprompted} bytes on its own in a day without input`);
    if (clock.armed > MAX_LIVE_TIMERS) throw new FuzzFailure(`${where}: ${clock.armed} timers armed at once`);
    if (outcome.maxField > MAX_EVENT_FIELD) throw new FuzzFailure(`${where}: an event holds a string of ${outcome.maxField} characters`);
  };
  try {
    const ctx = makeContext({
      entry: c.entry,
      hostSeed: "micetrap-fuzz",
      host: hostFor(c.entry),
      sessionSeed: `fuzz-${c.seed}-${c.caseNo}`,
      now: () => FIXED_NOW,
      localAddress: "192.0.2.10",
      localPort: c.entry.ports[0] ?? 0,
      remoteAddress: "198.51.100.7",
      remotePort: 40000 + (c.caseNo % 20000),
    });
    session = (hooks.start ?? startSession)(ctx);
    const library = typeof session.attach === "function";
    driver = new SessionDriver(session, clock, {
      write: (b) => {
        outcome.bytesOut += b.length;
        if (unprompted >= 0) unprompted += b.length;
      },
      events: (events) => {
        outcome.events += events.length;
        for (const e of events) outcome.maxField = Math.max(outcome.maxField, longestString(e));
      },
      close: () => void (outcome.closed = true),
      error: (err) => void (error ??= err),
    });
    driver.open();
    if (library) await settle();
    check("open");
    for (let i = 0; i < c.steps.length && !outcome.closed && !error; i++) {
      const s = c.steps[i]!;
      if (s.kind === "wait") clock.advanceBy(s.ms);
      else {
        outcome.calls++;
        outcome.bytesIn += s.bytes.length;
        if (s.kind === "plain" && driver.answersPlainOnTls) driver.plainOnTls(s.bytes);
        else driver.data(s.bytes);
      }
      if (library) await settle();
      check(`step ${i + 1} (${s.kind})`);
    }
    // Two hours for what the input asked for (delayed answers, lines read ahead, goodbyes), then a day in
    // which anything written comes from the session alone.
    clock.advanceBy(SETTLE_MS);
    if (library) await settle();
    check(`after ${SETTLE_MS / 3600_000} h without input`);
    unprompted = 0;
    clock.advanceBy(QUIET_MS);
    if (library) await settle();
    check(`a day later`);
  } catch (err) {
    outcome.failure = err instanceof FuzzFailure ? err.message : `a throw escaped: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  } finally {
    try {
      driver?.stop();
    } catch (err) {
      outcome.failure ??= `stop() threw: ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  return outcome;
}

/** The length of the longest string anywhere in an event (fields, client facts, a hash's value). */
function longestString(value: unknown, depth = 0): number {
  if (typeof value === "string") return value.length;
  if (value === null || typeof value !== "object" || depth > 4) return 0;
  let n = 0;
  for (const v of Object.values(value)) n = Math.max(n, longestString(v, depth + 1));
  return n;
}

/** A readable account of one case, for reproducing it by hand. */
export function describeCase(c: FuzzCase): string {
  const lines = [`${c.service} seed ${c.seed} case ${c.caseNo}: entry ${c.entry.id}, from ${c.origin}`];
  for (const s of c.steps) lines.push(s.kind === "wait" ? `  wait ${s.ms} ms` : `  ${s.kind} ${s.bytes.length} bytes: "${escapeBytes(s.bytes, 200)}"`);
  return lines.join("\n");
}

/** Runs cases `from`..`from + count - 1` of a service; stops collecting failures after `maxFailures`. */
export interface FuzzOptions {
  seed: number;
  cases: number;
  /** The first case number (default 0): cases from..from+cases-1 are run. */
  from?: number;
  /** Failures kept in the report (the count of cases goes on). */
  maxFailures?: number;
  onProgress?: (done: number) => void;
  hooks?: CaseHooks;
}

export async function fuzzService(service: string, o: FuzzOptions): Promise<ServiceReport> {
  const corpus = corpusFor(service);
  const report: ServiceReport = {
    service,
    seed: o.seed,
    cases: 0,
    ms: 0,
    cpuMs: 0,
    failures: [],
    bytesIn: 0,
    bytesOut: 0,
    calls: 0,
    closed: 0,
    maxBuffered: 0,
    bound: serviceModule(service).maxBuffered ?? 0,
    events: 0,
    maxField: 0,
  };
  // Per-host work (ssh host keys) happens once, before the clock starts; so does each kind of ssh key
  // exchange's ephemeral key (see reuseEphemeralKeys: it reads nothing the peer sent).
  for (const e of serviceEntries(service)) preparedFor(e, hostFor(e));
  reuseEphemeralKeys(true);
  try {
    return await runCases(service, corpus, report, o);
  } finally {
    reuseEphemeralKeys(false);
  }
}

async function runCases(service: string, corpus: Corpus, report: ServiceReport, o: FuzzOptions): Promise<ServiceReport> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const from = o.from ?? 0;
  for (let k = from; k < from + o.cases; k++) {
    const c = buildCase(service, o.seed, k, corpus);
    const r = await runCase(c, o.hooks);
    report.cases++;
    report.bytesIn += r.bytesIn;
    report.bytesOut += r.bytesOut;
    report.calls += r.calls;
    if (r.closed) report.closed++;
    if (r.maxBuffered > report.maxBuffered) report.maxBuffered = r.maxBuffered;
    report.events += r.events;
    if (r.maxField > report.maxField) report.maxField = r.maxField;
    if (r.failure && report.failures.length < (o.maxFailures ?? 20)) {
      report.failures.push({ service, seed: o.seed, caseNo: k, entry: c.entry.id, origin: c.origin, message: r.failure, reproduce: reproduceLine(service, o.seed, k) });
    }
    if (o.onProgress && (k - from) % 10_000 === 9_999) o.onProgress(k - from + 1);
  }
  report.ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  report.cpuMs = (cpu.user + cpu.system) / 1000;
  return report;
}
