// --metrics: a real trap (from source and the compiled binary) scraped over loopback before and after
// traffic whose counts are known by construction (N connections, M Basic logins, the bytes each side
// sent), the scrape read by a strict parser written here, by promtool (Prometheus's own linter) and by a
// real Prometheus server on loopback; bad values, a port in use and a non-loopback address; the config key.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { findEntry } from "../src/catalog/index.ts";
import { JsonlSink, type FileIo } from "../src/events/jsonl.ts";
import { exposition, MetricsSink } from "../src/events/metrics.ts";
import type { TrapEvent } from "../src/events/types.ts";
import { isLoopback, parseMetricsTarget } from "../src/runtime/metrics.ts";
import { BUN, buildBinary, ROOT, runCli, startProcess, tempDir, withTimeout, type Running } from "./helpers.ts";

const PROMTOOL = Bun.which("promtool");
const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && Bun.spawnSync(["unshare", "-n", "true"]).exitCode === 0;
const FROM_SOURCE = [BUN, join(ROOT, "src/cli.ts")];

// ---------------------------------------------------------------------------------------------------
// A strict reader of text format 0.0.4: HELP and TYPE once per family and before its samples, a family's
// samples together, names and labels as the format allows, only the three escapes, no series twice.

interface Scrape {
  types: Map<string, string>;
  help: Map<string, string>;
  /** Every sample: its name, its labels, its value. */
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function unescapeStrict(s: string, allowQuote: boolean, where: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== "\\") {
      out += ch;
      continue;
    }
    const next = s[++i];
    if (next === "\\") out += "\\";
    else if (next === "n") out += "\n";
    else if (next === '"' && allowQuote) out += '"';
    else throw new Error(`${where}: bad escape \\${next ?? ""}`);
  }
  return out;
}

function parseValue(text: string, where: string): number {
  if (text === "NaN") return NaN;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`${where}: bad value "${text}"`);
  return Number(text);
}

export function parseExposition(text: string): Scrape {
  if (!text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const scrape: Scrape = { types: new Map(), help: new Map(), samples: [] };
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current: string | undefined;
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line === "") throw new Error(`${where}: empty line`);
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) ([^ ]+) ?(.*)$/.exec(line);
      if (!m) throw new Error(`${where}: a comment that is neither HELP nor TYPE`);
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name) || NAME.exec(name)![0] !== name) throw new Error(`${where}: bad metric name`);
      if (closed.has(name)) throw new Error(`${where}: ${name} comes back after other families`);
      if (current !== undefined && current !== name) closed.add(current);
      current = name;
      if (kind === "HELP") {
        if (scrape.help.has(name)) throw new Error(`${where}: HELP twice`);
        if (scrape.types.has(name)) throw new Error(`${where}: HELP after TYPE`);
        scrape.help.set(name, unescapeStrict(rest, false, where));
      } else {
        if (scrape.types.has(name)) throw new Error(`${where}: TYPE twice`);
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) throw new Error(`${where}: bad type`);
        scrape.types.set(name, rest);
      }
      return;
    }
    const nm = NAME.exec(line);
    if (!nm) throw new Error(`${where}: no metric name`);
    const name = nm[0];
    if (!scrape.types.has(name)) throw new Error(`${where}: a sample before its TYPE`);
    if (current !== name) throw new Error(`${where}: ${name}'s samples are not together`);
    let rest = line.slice(name.length);
    const labels: Record<string, string> = {};
    if (rest.startsWith("{")) {
      rest = rest.slice(1);
      while (!rest.startsWith("}")) {
        const ln = LABEL_NAME.exec(rest);
        if (!ln) throw new Error(`${where}: bad label name`);
        rest = rest.slice(ln[0].length);
        if (!rest.startsWith('="')) throw new Error(`${where}: expected ="`);
        rest = rest.slice(2);
        let end = 0;
        while (end < rest.length && rest[end] !== '"') end += rest[end] === "\\" ? 2 : 1;
        if (end >= rest.length) throw new Error(`${where}: unterminated label value`);
        if (Object.hasOwn(labels, ln[0])) throw new Error(`${where}: label ${ln[0]} twice`);
        labels[ln[0]] = unescapeStrict(rest.slice(0, end), true, where);
        rest = rest.slice(end + 1);
        if (rest.startsWith(",")) rest = rest.slice(1);
        else if (!rest.startsWith("}")) throw new Error(`${where}: expected , or }`);
      }
      rest = rest.slice(1);
    }
    const vm = /^ (\S+)( -?\d+)?$/.exec(rest);
    if (!vm) throw new Error(`${where}: expected " VALUE [TIMESTAMP]"`);
    const value = parseValue(vm[1]!, where);
    if (scrape.types.get(name) === "counter" && !(value >= 0)) throw new Error(`${where}: a counter below 0`);
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(",")}}`;
    if (seen.has(key)) throw new Error(`${where}: the same series twice`);
    seen.add(key);
    scrape.samples.push({ name, labels, value });
  });
  for (const name of scrape.types.keys()) if (!scrape.help.has(name)) throw new Error(`${name} has no HELP`);
  return scrape;
}

/** The sum of a metric's samples whose labels include `match`. */
function sum(s: Scrape, name: string, match: Record<string, string> = {}): number {
  return s.samples.filter((x) => x.name === name && Object.entries(match).every(([k, v]) => x.labels[k] === v)).reduce((n, x) => n + x.value, 0);
}

function promtoolCheck(text: string): void {
  const r = Bun.spawnSync([PROMTOOL!, "check", "metrics"], { stdin: Buffer.from(text), stdout: "pipe", stderr: "pipe" });
  expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
  expect(r.exitCode).toBe(0);
}

// ---------------------------------------------------------------------------------------------------

test("promtool is installed (scripts/test.sh installs Debian's prometheus package for it)", () => {
  expect(PROMTOOL).toBeTruthy();
});

describe("the parser itself refuses what the format forbids", () => {
  const ok = "# HELP a_total An a.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
  test("a well-formed family reads back", () => {
    expect(parseExposition(ok).samples).toEqual([{ name: "a_total", labels: { x: "1" }, value: 2 }]);
  });
  for (const [what, text] of [
    ["no final newline", ok.slice(0, -1)],
    ["a sample before TYPE", "a 1\n"],
    ["an unknown escape", '# HELP a A.\n# TYPE a gauge\na{x="\\t"} 1\n'],
    ["a raw quote", '# HELP a A.\n# TYPE a gauge\na{x="""} 1\n'],
    ["a series twice", "# HELP a A.\n# TYPE a gauge\na 1\na 2\n"],
    ["a negative counter", "# HELP a A.\n# TYPE a counter\na -1\n"],
    ["a family split", "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\na{x=\"y\"} 2\n"],
    ["no HELP", "# TYPE a gauge\na 1\n"],
  ] as const) {
    test(what, () => {
      expect(() => parseExposition(text)).toThrow();
    });
  }
});

describe("exposition", () => {
  test("label values and HELP are escaped (backslash, quote, newline) and read back as they were", () => {
    const base = findEntry("apache-2.2.22-debian")!;
    const odd = { ...base, id: 'we\\ird "face"\nnext' };
    const m = new MetricsSink([odd]);
    const n = 7;
    for (let i = 0; i < n; i++) m.emit({ action: "connection", time: new Date(), service: "http", entry: odd, destination: { port: 80 } });
    m.emit({ action: "refused", time: new Date(), service: "http", entry: odd, destination: { port: 80 }, count: 5, reason: 'a "quoted"\\ reason' });
    m.emit({ action: "close", time: new Date(), service: "http", entry: odd, destination: { port: 80 }, bytesIn: 100, bytesOut: 200 });
    const text = exposition(m, {
      openSessions: [
        { entry: odd, open: 2, bytesIn: 11, bytesOut: 13 },
        { entry: odd, open: 1, bytesIn: 1, bytesOut: 0 },
      ],
      sinks: [{ sink: "file", queued: 3, dropped: 4 }],
      residentBytes: 1234,
      startTimeSeconds: 1700000000.5,
      version: 'v"1"',
      commit: "",
    });
    const s = parseExposition(text);
    expect(sum(s, "micetrap_connections_total", { face: odd.id, service: "http" })).toBe(n);
    expect(sum(s, "micetrap_events_total", { face: odd.id, action: "connection" })).toBe(n);
    expect(sum(s, "micetrap_refusals_total", { face: odd.id, reason: 'a "quoted"\\ reason' })).toBe(5);
    expect(sum(s, "micetrap_open_sessions", { face: odd.id })).toBe(3);
    // Ended sessions' totals and open sessions' bytes so far, together.
    expect(sum(s, "micetrap_received_bytes_total", { face: odd.id })).toBe(112);
    expect(sum(s, "micetrap_sent_bytes_total", { face: odd.id })).toBe(213);
    expect(sum(s, "micetrap_sink_queue_depth", { sink: "file" })).toBe(3);
    expect(sum(s, "micetrap_sink_dropped_events_total", { sink: "file" })).toBe(4);
    expect(sum(s, "micetrap_build_info", { version: 'v"1"' })).toBe(1);
    expect(sum(s, "process_resident_memory_bytes")).toBe(1234);
    expect(sum(s, "process_start_time_seconds")).toBe(1700000000.5);
    promtoolCheck(text);
  });

  test("addresses: a bare port is 127.0.0.1; loopback is 127/8 and ::1 in any spelling", () => {
    expect(parseMetricsTarget("9108")).toEqual({ host: "127.0.0.1", port: 9108, loopback: true });
    expect(parseMetricsTarget(9108)).toEqual({ host: "127.0.0.1", port: 9108, loopback: true });
    expect(parseMetricsTarget("[::1]:80")).toEqual({ host: "::1", port: 80, loopback: true });
    expect(parseMetricsTarget("127.8.9.10:1")).toEqual({ host: "127.8.9.10", port: 1, loopback: true });
    expect(parseMetricsTarget("0.0.0.0:9108").loopback).toBe(false);
    expect(parseMetricsTarget("[::]:9108").loopback).toBe(false);
    for (const ip of ["0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "127.0.0.1"]) expect(isLoopback(ip)).toBe(true);
    for (const ip of ["::", "::2", "10.0.0.1", "128.0.0.1", "::ffff:10.0.0.1", "fe80::1"]) expect(isLoopback(ip)).toBe(false);
  });
});

describe("the file's queue depth (pendingLines)", () => {
  /** A disk that takes `room` bytes more, then fails with ENOSPC; undefined: no limit. */
  class TightFile implements FileIo {
    room: number | undefined;
    taken = 0;
    open(): number {
      return 3;
    }
    write(_fd: number, data: Uint8Array): number {
      if (this.room === 0) throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
      const n = this.room === undefined ? data.length : Math.min(this.room, data.length);
      if (this.room !== undefined) this.room -= n;
      this.taken += n;
      return n;
    }
    close(): void {}
    truncateTail(): void {}
  }
  const entry = findEntry("vsftpd-3.0.3-debian")!;
  const ev = (): TrapEvent => ({ action: "command", time: new Date(0), service: "ftp", entry, sessionId: "s", source: { ip: "192.0.2.1", port: 1 }, destination: { port: 21 }, command: "NOOP" });

  test("lines not yet in the file, whole or in part, through a full disk and back", () => {
    // One line's length, from a sink whose disk takes everything.
    const probe = new TightFile();
    const one = new JsonlSink("/x", { io: probe, retryMs: 60_000 });
    one.emit(ev());
    one.flush();
    const lineBytes = probe.taken;
    one.close();

    const io = new TightFile();
    const sink = new JsonlSink("/x", { io, retryMs: 60_000 });
    try {
      for (let i = 0; i < 5; i++) sink.emit(ev());
      expect(sink.pendingLines).toBe(5);
      // The disk takes the first line and 10 bytes of the second, then is full: four lines wait.
      io.room = lineBytes + 10;
      expect(sink.flush()).toBe(false);
      expect(sink.pendingLines).toBe(4);
      sink.emit(ev());
      sink.emit(ev());
      expect(sink.pendingLines).toBe(6);
      io.room = undefined;
      expect(sink.flush()).toBe(true);
      expect(sink.pendingLines).toBe(0);
      expect(io.taken).toBe(lineBytes * 7);
    } finally {
      sink.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------
// Live: a trap with --metrics, scraped over loopback.

async function scrapeText(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
  return r.text();
}

async function scrape(url: string): Promise<Scrape> {
  return parseExposition(await scrapeText(url));
}

/** Polls the scrape until `ok` holds (bounded: 8 s), then returns it. */
async function scrapeUntil(url: string, ok: (s: Scrape) => boolean, what: string): Promise<Scrape> {
  const until = Date.now() + 8000;
  for (;;) {
    const s = await scrape(url);
    if (ok(s)) return s;
    if (Date.now() > until) throw new Error(`metrics never showed ${what}:\n${(await scrapeText(url)).split("\n").filter((l) => !l.startsWith("#") && !l.endsWith(" 0")).join("\n")}`);
    await Bun.sleep(50);
  }
}

/** One raw HTTP/1.0 exchange: what was sent, and every byte the trap answered until it closed. */
async function exchange(port: number, request: string): Promise<{ sent: number; received: number }> {
  let received = 0;
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, d) => void (received += d.length),
      close: () => done(),
      error: () => done(),
    },
  });
  const bytes = Buffer.from(request, "latin1");
  expect(socket.write(bytes)).toBe(bytes.length);
  await withTimeout(closed, 10_000, "the trap's answer and close");
  return { sent: bytes.length, received };
}

/** A connection over the limit: the trap may reset it before the connect completes; resolves once it is gone. */
async function refusedAttempt(port: number): Promise<void> {
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  try {
    await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, close: () => done(), error: () => done() } });
  } catch {
    return; // reset during the handshake: refused
  }
  await withTimeout(closed, 5000, "a refused connection's close");
}

/** A connection held open, after sending `start` (the start of a request, never finished); `closed` resolves when the trap closes it. */
async function hold(port: number, start = ""): Promise<{ end: () => void; closed: Promise<void>; received: () => number }> {
  let done!: () => void;
  let received = 0;
  const closed = new Promise<void>((r) => (done = r));
  const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data: (_s, d) => void (received += d.length), close: () => done(), error: () => done() } });
  if (start !== "") expect(socket.write(start)).toBe(start.length);
  return { end: () => socket.end(), closed, received: () => received };
}

const FACE = "apache-2.2.22-debian";
const metricsLine = /Metrics for Prometheus on http:\/\/127\.0\.0\.1:(\d+)\/metrics/;

async function metricsUrl(t: Running): Promise<string> {
  const out = await t.waitForOutput(metricsLine, 5000);
  return `http://127.0.0.1:${metricsLine.exec(out)![1]}/metrics`;
}

/** The whole scenario, against `cmd` (the CLI from source, or the binary). */
async function knownTraffic(cmd: string[], cwd: string): Promise<void> {
  const dir = tempDir("micetrap-metrics-");
  // A webhook nobody answers (a port just let go): every event waits in its queue, none is delivered.
  const dead = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const deadPort = dead.port;
  dead.stop(true);
  const t = await startProcess(
    [
      ...cmd,
      "http",
      "0",
      "--host",
      "127.0.0.1",
      "--banner",
      FACE,
      "--seed",
      "metrics-test",
      "--metrics",
      "0",
      "--log",
      join(dir, "events.jsonl"),
      "--webhook",
      `http://127.0.0.1:${deadPort}/hook`,
      "--max-sessions",
      "3",
      "--max-per-source",
      "3",
    ],
    { cwd, timeoutMs: 30_000 },
  );
  const held: { end: () => void; closed: Promise<void>; received: () => number }[] = [];
  try {
    const url = await metricsUrl(t);
    const face = { service: "http", face: FACE };
    const before = await scrape(url);
    const delta = (after: Scrape, name: string, match: Record<string, string> = face) => sum(after, name, match) - sum(before, name, match);

    // N requests one after the other, M of them with Basic credentials; bytes counted on this side.
    const N = 6;
    const M = 4;
    let sent = 0;
    let received = 0;
    for (let i = 0; i < N; i++) {
      const auth = i < M ? `Authorization: Basic ${Buffer.from(`user${i}:secret${i}`).toString("base64")}\r\n` : "";
      const r = await exchange(t.port, `GET /page-${i} HTTP/1.0\r\nUser-Agent: metrics-test/${"x".repeat(i * 7)}\r\n${auth}\r\n`);
      sent += r.sent;
      received += r.received;
    }
    expect(received).toBeGreaterThan(0);
    const after = await scrapeUntil(url, (s) => sum(s, "micetrap_events_total", { ...face, action: "close" }) - sum(before, "micetrap_events_total", { ...face, action: "close" }) === N, `${N} closes`);
    expect(delta(after, "micetrap_connections_total")).toBe(N);
    expect(delta(after, "micetrap_events_total", { ...face, action: "connection" })).toBe(N);
    expect(delta(after, "micetrap_logins_total")).toBe(M);
    expect(delta(after, "micetrap_events_total", { ...face, action: "login" })).toBe(M);
    expect(delta(after, "micetrap_received_bytes_total")).toBe(sent);
    expect(delta(after, "micetrap_sent_bytes_total")).toBe(received);
    expect(sum(after, "micetrap_open_sessions", face)).toBe(0);
    expect(delta(after, "micetrap_refusals_total")).toBe(0);
    // Every event went to the dead webhook and waits there: its queue is the count of events.
    expect(sum(after, "micetrap_sink_queue_depth", { sink: "webhook" })).toBe(sum(after, "micetrap_events_total"));
    expect(sum(after, "micetrap_sink_dropped_events_total", { sink: "webhook" })).toBe(0);
    expect(sum(after, "micetrap_sink_dropped_events_total", { sink: "file" })).toBe(0);
    expect(sum(after, "process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
    const start = sum(after, "process_start_time_seconds");
    expect(start).toBeLessThanOrEqual(Date.now() / 1000);
    expect(start).toBeGreaterThan(Date.now() / 1000 - 120);
    expect(after.samples.find((s) => s.name === "micetrap_build_info")!.labels.version).toMatch(/^\d+\.\d+\.\d+/);

    // Three sessions held open, each in the middle of a request line, fill --max-sessions 3: their bytes
    // count while they are open. Two more connections are refused for the limit.
    const partial = ["GET /a", "GET /held-open-longer", "POST /x HTTP/1.1\r\nHost: a"];
    for (const p of partial) held.push(await hold(t.port, p));
    const partialBytes = partial.reduce((n, p) => n + p.length, 0);
    const open3 = await scrapeUntil(
      url,
      (s) => sum(s, "micetrap_open_sessions", face) === 3 && delta(s, "micetrap_received_bytes_total") === sent + partialBytes,
      "3 open sessions and their bytes",
    );
    expect(delta(open3, "micetrap_sent_bytes_total")).toBe(received + held.reduce((n, h) => n + h.received(), 0));
    await refusedAttempt(t.port);
    await refusedAttempt(t.port);
    const full = await scrapeUntil(url, (s) => delta(s, "micetrap_refusals_total") === 2, "2 refusals");
    expect(delta(full, "micetrap_refusals_total", { ...face, reason: "too many sessions" })).toBe(2);
    expect(delta(full, "micetrap_connections_total")).toBe(N + 3);
    for (const h of held) h.end();
    await Promise.all(held.map((h) => withTimeout(h.closed, 5000, "a held connection's close")));
    const ended = await scrapeUntil(url, (s) => sum(s, "micetrap_open_sessions", face) === 0, "0 open sessions");
    // Their bytes stay counted once they end (a counter never goes back).
    expect(delta(ended, "micetrap_received_bytes_total")).toBe(sent + partialBytes);

    // The endpoint: HEAD, other paths and methods, a body over the bound, and promtool's lint of a scrape.
    const head = await fetch(url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect((await fetch(url.replace("/metrics", "/"))).status).toBe(404);
    expect((await fetch(url.replace("/metrics", "/metrics/x"))).status).toBe(404);
    expect((await fetch(url, { method: "POST", body: "x" })).status).toBe(405);
    expect((await fetch(url, { method: "POST", body: "x".repeat(64 * 1024) })).status).toBe(413);
    expect((await fetch(url, { headers: { "x-padding": "x".repeat(64 * 1024) } })).status).toBe(431);
    promtoolCheck(await scrapeText(url));
  } finally {
    for (const h of held) h.end();
    await t.stop();
  }
}

describe("live", () => {
  test("from source: counts before and after known traffic", async () => {
    await knownTraffic(FROM_SOURCE, ROOT);
  }, 60_000);

  test("the compiled binary: the same", async () => {
    const bin = await buildBinary();
    await knownTraffic([bin], tempDir("micetrap-metrics-bin-"));
  }, 180_000);

  test("off by default: no metrics line, and no port beyond the trap's", async () => {
    const t = await startProcess([...FROM_SOURCE, "ftp", "0", "--host", "127.0.0.1", "--seed", "metrics-off"]);
    try {
      await Bun.sleep(300);
      expect(t.lines().join("\n")).not.toContain("Metrics");
    } finally {
      await t.stop();
    }
  });
});

describe("a real Prometheus", () => {
  const PROMETHEUS = Bun.which("prometheus");
  test("is installed (the same Debian package as promtool)", () => {
    expect(PROMETHEUS).toBeTruthy();
  });

  test("scrapes the trap and stores what was sent: N connections, M logins", async () => {
    const dir = tempDir("micetrap-prom-");
    const t = await startProcess([...FROM_SOURCE, "http", "0", "--host", "127.0.0.1", "--banner", FACE, "--seed", "metrics-prom", "--metrics", "0"]);
    let prom: ReturnType<typeof Bun.spawn> | undefined;
    try {
      const url = await metricsUrl(t);
      const N = 3;
      const M = 2;
      for (let i = 0; i < N; i++) {
        const auth = i < M ? `Authorization: Basic ${Buffer.from(`p${i}:q${i}`).toString("base64")}\r\n` : "";
        await exchange(t.port, `GET / HTTP/1.0\r\n${auth}\r\n`);
      }
      await scrapeUntil(url, (s) => sum(s, "micetrap_events_total", { action: "close" }) === N, `${N} closes`);
      // Prometheus on a loopback port of its own, scraping every second, its data in the test's folder.
      const spare = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
      const webPort = spare.port;
      spare.stop(true);
      const target = new URL(url).host;
      writeFileSync(
        join(dir, "prometheus.yml"),
        `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: micetrap\n    static_configs:\n      - targets: ["${target}"]\n`,
      );
      prom = Bun.spawn([PROMETHEUS!, `--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${webPort}`], {
        stdout: "ignore",
        stderr: "pipe",
      });
      const query = async (q: string): Promise<number | undefined> => {
        try {
          const r = await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${encodeURIComponent(q)}`, { signal: AbortSignal.timeout(2000) });
          const body = (await r.json()) as { data?: { result?: { value: [number, string] }[] } };
          const v = body.data?.result?.[0]?.value[1];
          return v === undefined ? undefined : Number(v);
        } catch {
          return undefined; // not up yet
        }
      };
      const face = `service="http",face="${FACE}"`;
      const until = Date.now() + 30_000;
      let seen: (number | undefined)[] = [];
      while (Date.now() < until) {
        seen = await Promise.all([query(`up{job="micetrap"}`), query(`micetrap_connections_total{${face}}`), query(`micetrap_logins_total{${face}}`)]);
        if (seen[0] === 1 && seen[1] === N && seen[2] === M) break;
        await Bun.sleep(250);
      }
      expect(seen).toEqual([1, N, M]);
      // Prometheus read the whole scrape: not one sample rejected.
      expect(await query(`scrape_samples_scraped{job="micetrap"}`)).toBe((await scrape(url)).samples.length);
    } finally {
      if (prom) {
        prom.kill("SIGTERM");
        const timer = setTimeout(() => prom!.kill("SIGKILL"), 5000);
        await prom.exited;
        clearTimeout(timer);
      }
      await t.stop();
    }
  }, 60_000);
});

describe("bad values", () => {
  for (const value of ["x", "99999", ":9108", "1.2.3:4", "localhost", "[::1]9108", "host.example:9108", "-1"]) {
    test(`--metrics ${JSON.stringify(value)}: one line, exit 2, nothing listens`, async () => {
      const dir = tempDir();
      const r = await runCli(["ftp", "0", "--host", "127.0.0.1", "--log", join(dir, "e.jsonl"), `--metrics=${value}`]);
      expect(r.code).toBe(2);
      expect(r.stdout).not.toContain("listening");
      const lines = r.stderr.trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain("--metrics");
      expect(await Bun.file(join(dir, "e.jsonl")).exists()).toBe(false);
    });
  }

  test("a metrics port in use: one line, exit 2, no trap listened, no log file left", async () => {
    const busy = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const dir = tempDir();
      const r = await runCli(["ftp", "0", "--host", "127.0.0.1", "--log", join(dir, "e.jsonl"), "--metrics", String(busy.port)]);
      expect(r.code).toBe(2);
      expect(r.stdout).not.toContain("listening");
      expect(r.stderr.trim().split("\n")).toEqual([expect.stringContaining(`127.0.0.1:${busy.port}`)]);
      expect(r.stderr).toContain("in use");
      expect(await Bun.file(join(dir, "e.jsonl")).exists()).toBe(false);
    } finally {
      busy.stop(true);
    }
  });

  test("config: metrics: with a bad value is an error on its line", async () => {
    const dir = tempDir();
    const file = join(dir, "host.yaml");
    writeFileSync(file, "os: debian-12\nservices:\n  - service: ftp\n    port: 0\nmetrics: 0.0.0.0\n");
    const r = await runCli(["validate", file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([expect.stringContaining(`${file}:5: metrics:`)]);
  });
});

describe("config key", () => {
  test("serve --config with metrics: serves them; --metrics on the command line replaces the key", async () => {
    const dir = tempDir();
    const file = join(dir, "host.yaml");
    writeFileSync(file, `os: debian-12\nlisten: 127.0.0.1\nservices:\n  - service: ftp\n    port: 0\nmetrics: 127.0.0.1:0\n`);
    const fromKey = await startProcess([...FROM_SOURCE, "serve", "--config", file, "--seed", "metrics-config"]);
    try {
      const s = await scrape(await metricsUrl(fromKey));
      expect(s.samples.some((x) => x.name === "micetrap_connections_total" && x.labels.service === "ftp")).toBe(true);
    } finally {
      await fromKey.stop();
    }
    // Then the key names an address the flag replaces: it is never bound.
    writeFileSync(file, `os: debian-12\nlisten: 127.0.0.1\nservices:\n  - service: ftp\n    port: 0\nmetrics: "[::1]:1"\n`);
    const fromFlag = await startProcess([...FROM_SOURCE, "serve", "--config", file, "--seed", "metrics-config", "--metrics", "127.0.0.1:0"]);
    try {
      const s = await scrape(await metricsUrl(fromFlag));
      expect(sum(s, "micetrap_build_info")).toBe(1);
      expect(fromFlag.lines().join("\n")).not.toContain("::1");
    } finally {
      await fromFlag.stop();
    }
  });
});

describe("non-loopback", () => {
  // 0.0.0.0 inside a network namespace the test makes: its only interface is its own loopback.
  test.skipIf(!canUnshare)("an explicit 0.0.0.0 binds, with a warning saying it is not loopback", async () => {
    const t = await startProcess(["unshare", "-n", "sh", "-c", 'ip link set lo up; exec "$@"', "sh", ...FROM_SOURCE, "ftp", "0", "--host", "127.0.0.1", "--metrics", "0.0.0.0:0"]);
    try {
      await t.waitForOutput(/Metrics for Prometheus on http:\/\/0\.0\.0\.0:\d+\/metrics/);
      const until = Date.now() + 3000;
      while (!/not on loopback/.test(t.stderr()) && Date.now() < until) await Bun.sleep(20);
      expect(t.stderr()).toMatch(/warning: The metrics listen on 0\.0\.0\.0:\d+, not on loopback/);
    } finally {
      await t.stop();
    }
  });
});
