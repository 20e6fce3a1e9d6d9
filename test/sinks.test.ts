// Sinks besides the JSONL file: stdout JSON, syslog (RFC 5424 over UDP, TCP, unix datagram and stream
// sockets) and an HTTP webhook. The syslog receiver is a real rsyslogd from Debian, started here with its
// own config; the webhook receiver is a real HTTP server on 127.0.0.1 that goes away and comes back. The
// trap runs as a process (src/cli.ts), and its own JSONL log is the list of events each sink must carry:
// every one once, in order.
import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, constants, existsSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findEntry } from "../src/catalog/index.ts";
import { ecsLine } from "../src/events/ecs.ts";
import { BoundedQueue, backoff } from "../src/events/sinks/outage.ts";
import { StdoutJsonSink } from "../src/events/sinks/stdout.ts";
import { severityOf, SyslogSink, syslogMessage } from "../src/events/sinks/syslog.ts";
import { parseSyslogUrl, parseWebhookUrl, SinkUrlError } from "../src/events/sinks/url.ts";
import { verdict, WebhookSink } from "../src/events/sinks/webhook.ts";
import type { TrapEvent } from "../src/events/types.ts";
import { startRsyslog, type Received, type Rsyslog } from "../scripts/lib/rsyslog.ts";
import { BUN, FakeStream, HOSTILE_CLASSES, ROOT, buildBinary, connect, rawHostile, readLog, runCli, sleep, tempDir, until, readLogSafe } from "./helpers.ts";

const entry = findEntry("vsftpd-3.0.3-debian")!;

function event(i: number, extra: Partial<TrapEvent> = {}): TrapEvent {
  return {
    action: "command",
    time: new Date(Date.UTC(2024, 4, 1, 10, 0, 0, i % 1000)),
    service: "ftp",
    entry,
    sessionId: `s${i}`,
    source: { ip: "192.0.2.1", port: 40000 + (i % 20000) },
    destination: { port: 21 },
    command: `USER n${i}`,
    ...extra,
  };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

// ---- URLs ----

describe("sink URLs", () => {
  test("syslog: udp, tcp and unix, with the default port, facility and size", () => {
    expect(parseSyslogUrl("udp://127.0.0.1:5514")).toMatchObject({ transport: "udp", host: "127.0.0.1", port: 5514, facility: 16, facilityName: "local0", maxMessage: 8096 });
    expect(parseSyslogUrl("tcp://logs.example.org")).toMatchObject({ transport: "tcp", host: "logs.example.org", port: 514 });
    expect(parseSyslogUrl("tcp://[::1]:6514/")).toMatchObject({ transport: "tcp", host: "::1", port: 6514 });
    expect(parseSyslogUrl("unix:///dev/log")).toMatchObject({ transport: "unix", path: "/dev/log" });
    expect(parseSyslogUrl("udp://10.0.0.1?facility=auth&max=65000")).toMatchObject({ facility: 4, facilityName: "auth", maxMessage: 65000 });
  });

  test("syslog: every bad URL is refused with a reason", () => {
    const bad: [string, RegExp][] = [
      ["ftp://host:514", /scheme must be udp, tcp or unix/],
      ["udp://host:0", /port "0" is not a number from 1 to 65535/],
      ["udp://host:65536", /port "65536"/],
      ["tcp://host:http", /port "http"/],
      ["tcp://:514", /has no host/],
      ["tcp://bad_host!:514", /is not a host name/],
      ["tcp://300.1.1.1", /is not an IPv4 address/],
      ["tcp://[::g]:514", /is not an IPv6 address/],
      ["tcp://user@host:514", /no user or password/],
      ["tcp://host:514/path", /has no path/],
      ["unix://dev/log", /has no host/],
      ["unix:///", /absolute socket path/],
      [`unix:///${"x".repeat(120)}`, /longer than 107 bytes/],
      ["udp://host?facility=mars", /unknown facility "mars"/],
      ["udp://host?max=100", /max=100 is not a message size from 480 to 65507/],
      ["udp://host?level=1", /unknown parameter "level"/],
      ["udp://ho st", /spaces or control characters/],
      ["localhost:514", /is not a URL/],
    ];
    for (const [url, why] of bad) {
      let err: unknown;
      try {
        parseSyslogUrl(url);
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(SinkUrlError);
      expect((err as Error).message, url).toMatch(why);
      expect((err as Error).message).not.toContain("\n");
    }
  });

  test("webhook: http and https; a password becomes a Basic header and is never shown", () => {
    expect(parseWebhookUrl("https://siem.example.org/ingest?x=1")).toEqual({ url: "https://siem.example.org/ingest?x=1", display: "https://siem.example.org/ingest?x=1" });
    const w = parseWebhookUrl("http://alice:s3cret@127.0.0.1:8080/in");
    expect(w.url).toBe("http://127.0.0.1:8080/in");
    expect(w.authorization).toBe(`Basic ${Buffer.from("alice:s3cret").toString("base64")}`);
    expect(w.display).not.toContain("s3cret");
    const bad: [string, RegExp][] = [
      ["ftp://host/x", /scheme must be http or https/],
      ["http://:80/", /has no host/],
      ["http://host:99999/", /port "99999"/],
      ["https://host/#frag", /no #fragment/],
      ["http://bad host/", /spaces or control characters/],
      ["host/path", /is not a URL/],
    ];
    for (const [url, why] of bad) expect(() => parseWebhookUrl(url), url).toThrow(why);
    let shown = "";
    try {
      parseWebhookUrl("ftp://alice:s3cret@host/");
    } catch (e) {
      shown = (e as Error).message;
    }
    expect(shown).not.toContain("s3cret");
  });
});

// ---- RFC 5424 messages ----

/** RFC 5424 section 6, as a pattern: PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD SP MSG. */
const RFC5424 = /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) ([\x21-\x7e]{1,255}) ([\x21-\x7e]{1,48}) ([\x21-\x7e]{1,128}) ([\x21-\x7e]{1,32}) (-|(?:\[[^\]]*\])+) (.*)$/s;

describe("syslog messages", () => {
  test("header fields, severity by action, and the ECS line as MSG", () => {
    const cases: [TrapEvent["action"], number][] = [
      ["login", 4],
      ["error", 3],
      ["refused", 5],
      ["connection", 6],
      ["data", 6],
      ["close", 6],
    ];
    for (const [action, severity] of cases) {
      expect(severityOf(action)).toBe(severity);
      const e = event(7, { action });
      const msg = syslogMessage(e, { facility: 16, maxMessage: 8096, sequence: 42, host: "sensor-1", pid: 4242 })!;
      const m = RFC5424.exec(msg)!;
      expect(m, msg).not.toBeNull();
      expect(Number(m[1])).toBe(16 * 8 + severity);
      expect(m[2]).toBe("2024-05-01T10:00:00.007Z");
      expect(m.slice(3, 7)).toEqual(["sensor-1", "micetrap", "4242", action]);
      expect(m[7]).toBe('[meta sequenceId="42"]');
      expect(m[8]).toBe(ecsLine(e));
    }
  });

  test("hostile strings: no raw newline, NUL or other control in the message", () => {
    const every = Object.entries(HOSTILE_CLASSES).flatMap(([cls, cps]) => (cls === "loneSurrogates" ? [] : cps));
    const nasty = String.fromCharCode(...every) + "\ud800\r\n<13>1 forged";
    const msg = syslogMessage(event(1, { action: "login", user: nasty, password: nasty, command: nasty }), { facility: 16, maxMessage: 65_000, sequence: 1 })!;
    expect(rawHostile(Buffer.from(msg, "utf8"))).toEqual([]);
    const json = JSON.parse(RFC5424.exec(msg)![8]!);
    expect(json.user.name).toBe(String.fromCharCode(...every) + "\ufffd\r\n<13>1 forged");
  });

  test("an event over the size keeps its place as whole JSON: the payload goes first, then long strings, each named", () => {
    const payload = new Uint8Array(20_000).map((_, i) => i % 256);
    const big = event(3, { action: "data", direction: "in", payload });
    const full = syslogMessage(big, { facility: 16, maxMessage: 1_000_000, sequence: 1 })!;
    expect(JSON.parse(RFC5424.exec(full)![8]!).micetrap.payload.base64).toBe(Buffer.from(payload).toString("base64"));
    // 8096 bytes: the text (about 4 bytes a byte) cannot stay, the base64 (27 KB) neither.
    const short = syslogMessage(big, { facility: 16, maxMessage: 8096, sequence: 1 })!;
    expect(Buffer.byteLength(short)).toBeLessThanOrEqual(8096);
    const doc = JSON.parse(RFC5424.exec(short)![8]!);
    expect(doc.micetrap.syslog.cut).toEqual(["micetrap.payload.text", "micetrap.payload.base64"]);
    expect(doc.micetrap.payload.length).toBe(20_000);
    expect(doc.event.action).toBe("data");
    // 40 KB: the base64 fits once the text is gone.
    const mid = JSON.parse(RFC5424.exec(syslogMessage(big, { facility: 16, maxMessage: 40_000, sequence: 1 })!)![8]!);
    expect(mid.micetrap.syslog.cut).toEqual(["micetrap.payload.text"]);
    expect(mid.micetrap.payload.base64).toBe(Buffer.from(payload).toString("base64"));
    // A long command line: cut to 256 characters and named.
    const cmd = syslogMessage(event(4, { command: "A".repeat(9000) }), { facility: 16, maxMessage: 1024, sequence: 1 })!;
    const c = JSON.parse(RFC5424.exec(cmd)![8]!);
    expect(c.micetrap.command).toBe("A".repeat(256));
    expect(c.micetrap.syslog.cut).toEqual(["micetrap.command"]);
  });
});

describe("syslog to IPv6 receivers", () => {
  test("udp://[::1] and tcp://[::1]: one message each, framed", async () => {
    let udp: import("bun").udp.Socket<"buffer">;
    try {
      udp = await Bun.udpSocket({ hostname: "::1", port: 0, socket: { data: (_s, d) => void got.push(`udp ${Buffer.from(d).toString()}`) } });
    } catch {
      console.warn("skipped: no IPv6 loopback here");
      return;
    }
    const got: string[] = [];
    const tcp = Bun.listen({ hostname: "::1", port: 0, socket: { data: (_s, d) => void got.push(`tcp ${Buffer.from(d).toString()}`) } });
    try {
      for (const url of [`udp://[::1]:${udp.port}`, `tcp://[::1]:${tcp.port}`]) {
        const sink = new SyslogSink(parseSyslogUrl(url));
        sink.emit(event(1, { action: "listening" }));
        await sink.flushWithin(5000);
        await until(() => (got.length === (url.startsWith("udp") ? 1 : 2) ? true : undefined));
        sink.close();
      }
      expect(got[0]).toMatch(/^udp <134>1 \S+ \S+ micetrap \d+ listening \[meta sequenceId="1"\] \{/);
      const frame = /^tcp (\d+) (.*)$/s.exec(got[1]!)!;
      expect(Number(frame[1])).toBe(Buffer.byteLength(frame[2]!));
      expect(frame[2]).toBe(got[0]!.slice(4));
    } finally {
      udp.close();
      tcp.stop(true);
    }
  });
});

describe("queue and backoff", () => {
  test("the queue holds at most its bounds and gives items back in order", () => {
    const q = new BoundedQueue(3, 100);
    expect([q.push("a"), q.push("b"), q.push("c"), q.push("d")]).toEqual([true, true, true, false]);
    expect(q.take(2)).toEqual(["a", "b"]);
    expect(q.push("x".repeat(100))).toBe(false); // "c" and 100 more are over 100
    expect(q.push("x".repeat(99))).toBe(true);
    expect(q.take(10)).toEqual(["c", "x".repeat(99)]);
    expect(q.length).toBe(0);
    expect(q.bytes).toBe(0);
  });

  test("backoff doubles to its cap and stays in the upper half of each step", () => {
    expect([0, 1, 2, 3, 10].map((a) => backoff(a, 500, 30_000, () => 0))).toEqual([250, 500, 1000, 2000, 15_000]);
    expect([0, 1, 2, 3, 10].map((a) => backoff(a, 500, 30_000, () => 1))).toEqual([500, 1000, 2000, 4000, 30_000]);
  });
});

// ---- stdout JSON, alone ----

/** A stream that takes writes until told it is full, then wants a drain; or fails with an error. */
describe("StdoutJsonSink", () => {
  test("a burst is one write; a stall keeps at most the bound, counts the rest, and says so on the drain", async () => {
    const s = new FakeStream();
    const fails: string[] = [];
    const recovered: number[] = [];
    const sink = new StdoutJsonSink(s, { maxItems: 100, onFail: (f) => fails.push(f.code), onRecover: (f) => recovered.push(f.dropped) });
    for (let i = 0; i < 50; i++) sink.emit(event(i));
    await tick();
    expect(s.taken).toHaveLength(1);
    expect(s.taken[0]!.split("\n").filter(Boolean).map((l) => JSON.parse(l).micetrap.command)).toEqual(Array.from({ length: 50 }, (_, i) => `USER n${i}`));
    s.full = true;
    sink.emit(event(50)); // taken by the stream, which now wants a drain
    await tick();
    for (let i = 51; i < 1000; i++) sink.emit(event(i));
    await tick();
    expect(s.taken).toHaveLength(2);
    expect(sink.pending).toBe(100);
    expect(sink.dropped).toBe(849);
    expect(fails).toEqual(["not being read"]);
    s.full = false;
    s.fire("drain");
    expect(recovered).toEqual([849]);
    const after = s.taken.slice(2).join("").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(after.map((l) => l.micetrap.command)).toEqual(Array.from({ length: 100 }, (_, i) => `USER n${51 + i}`));
    sink.close();
  });

  test("EPIPE: nothing thrown, every later event dropped and counted, reported once", async () => {
    const s = new FakeStream();
    const fails: string[] = [];
    const sink = new StdoutJsonSink(s, { onFail: (f) => fails.push(f.code) });
    sink.emit(event(0));
    await tick();
    s.fire("error", Object.assign(new Error("broken pipe"), { code: "EPIPE" }));
    for (let i = 1; i <= 10; i++) sink.emit(event(i));
    await tick();
    expect(fails).toEqual(["EPIPE"]);
    expect(sink.dropped).toBe(10);
    expect(s.taken).toHaveLength(1);
    sink.close();
  });
});

// ---- the webhook, in process, against a real HTTP server ----

interface Hook {
  port: number;
  /** Each accepted request's events (2xx answers only). */
  accepted: { key: string; events: any[] }[];
  /** Every request seen: its Idempotency-Key and the status answered. */
  seen: { key: string; status: number; count: number }[];
  /** What the next requests get: 200, another status, or the server is gone. */
  mode: number | "down";
  setMode(m: number | "down"): void;
  stop(): void;
  all(): any[];
}

/** A real HTTP receiver on 127.0.0.1; "down" stops the server (connection refused), anything else restarts it on the same port. */
function startHook(port = 0): Hook {
  let server: ReturnType<typeof Bun.serve> | undefined;
  const hook: Hook = {
    port,
    accepted: [],
    seen: [],
    mode: 200,
    setMode(m) {
      hook.mode = m;
      if (m === "down") {
        server?.stop(true);
        server = undefined;
      } else if (!server) listen();
    },
    stop() {
      server?.stop(true);
      server = undefined;
    },
    all: () => hook.accepted.flatMap((a) => a.events),
  };
  const listen = () => {
    server = Bun.serve({
      hostname: "127.0.0.1",
      port: hook.port,
      async fetch(req) {
        const body = (await req.json()) as any[];
        const key = req.headers.get("idempotency-key") ?? "";
        const status = hook.mode === "down" ? 503 : hook.mode;
        hook.seen.push({ key, status, count: body.length });
        if (status >= 200 && status < 300) hook.accepted.push({ key, events: body });
        return new Response(null, { status });
      },
    });
    hook.port = server.port!;
  };
  listen();
  return hook;
}

describe("WebhookSink against a real server", () => {
  test("503, then gone, then back: every event once, in order; one failure reported, one recovery", async () => {
    const hook = startHook();
    const fails: string[] = [];
    const recovered: { code: string; dropped: number }[] = [];
    const sink = new WebhookSink(parseWebhookUrl(`http://127.0.0.1:${hook.port}/events`), {
      retryBaseMs: 40,
      retryMaxMs: 200,
      onFail: (f) => fails.push(f.code),
      onRecover: (f) => recovered.push({ code: f.code, dropped: f.dropped }),
    });
    try {
      let n = 0;
      const burst = (k: number) => {
        for (let i = 0; i < k; i++) sink.emit(event(n++));
      };
      burst(30);
      await until(() => (hook.all().length === 30 ? true : undefined));
      hook.setMode(503);
      burst(30);
      await until(() => (hook.seen.some((s) => s.status === 503) ? true : undefined));
      hook.setMode("down");
      burst(700); // more than a batch
      await sleep(300);
      hook.setMode(200);
      burst(40);
      await until(() => (hook.all().length === 800 ? true : undefined), 10_000);
      await sleep(100);
      expect(hook.all().map((e) => e.micetrap.command)).toEqual(Array.from({ length: 800 }, (_, i) => `USER n${i}`));
      expect(fails).toEqual(["HTTP 503"]);
      expect(recovered).toEqual([{ code: "HTTP 503", dropped: 0 }]);
      expect(sink.dropped).toBe(0);
      // A batch refused with 503 was sent again with the same key; no key was accepted twice.
      const keys = hook.accepted.map((a) => a.key);
      expect(new Set(keys).size).toBe(keys.length);
      const refusedKey = hook.seen.find((s) => s.status === 503)!.key;
      expect(keys).toContain(refusedKey);
      expect(hook.accepted.every((a) => a.events.length <= 500)).toBe(true);
    } finally {
      sink.close();
      hook.stop();
    }
  });

  test("server down, more events than the queue holds: the newest are dropped and counted, the rest arrive in order", async () => {
    const hook = startHook();
    hook.setMode("down");
    const recovered: number[] = [];
    const sink = new WebhookSink(parseWebhookUrl(`http://127.0.0.1:${hook.port}/`), { maxItems: 1000, retryBaseMs: 40, retryMaxMs: 200, onRecover: (f) => recovered.push(f.dropped) });
    try {
      for (let i = 0; i < 2500; i++) sink.emit(event(i));
      await sleep(200);
      expect(sink.pending).toBe(1000);
      expect(sink.dropped).toBe(1500);
      hook.setMode(200);
      await until(() => (recovered.length > 0 && sink.pending === 0 ? true : undefined), 10_000);
      for (let i = 2500; i < 2510; i++) sink.emit(event(i));
      await until(() => (hook.all().length === 1010 ? true : undefined));
      expect(recovered).toEqual([1500]);
      const expected = [...Array.from({ length: 1000 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 2500 + i)].map((i) => `USER n${i}`);
      expect(hook.all().map((e) => e.micetrap.command)).toEqual(expected);
    } finally {
      sink.close();
      hook.stop();
    }
  });

  test("4xx (not 408/429) refuses a batch for good: dropped and counted, the next batches go on", async () => {
    const hook = startHook();
    hook.setMode(400);
    const fails: string[] = [];
    const sink = new WebhookSink(parseWebhookUrl(`http://127.0.0.1:${hook.port}/`), { retryBaseMs: 40, onFail: (f) => fails.push(f.code) });
    try {
      for (let i = 0; i < 5; i++) sink.emit(event(i));
      await until(() => (sink.dropped === 5 ? true : undefined));
      hook.setMode(200);
      for (let i = 5; i < 8; i++) sink.emit(event(i));
      await until(() => (hook.all().length === 3 ? true : undefined));
      expect(hook.all().map((e) => e.micetrap.command)).toEqual(["USER n5", "USER n6", "USER n7"]);
      expect(fails).toEqual(["HTTP 400"]);
      expect(hook.seen.filter((s) => s.status === 400)).toHaveLength(1);
    } finally {
      sink.close();
      hook.stop();
    }
    expect([200, 204, 299, 408, 429, 500, 503, 301, 400, 401, 404, 413].map(verdict)).toEqual(["ok", "ok", "ok", "retry", "retry", "retry", "retry", "refused", "refused", "refused", "refused", "refused"]);
  });
});

// ---- the CLI as a process ----

interface TrapProc {
  proc: ReturnType<typeof Bun.spawn>;
  port: number;
  log: string;
  stdout: () => string;
  stderr: () => string;
  /** With `stalledStdout`: starts reading stdout (until then its pipe is full). */
  readStdout: () => void;
}

const started: ReturnType<typeof Bun.spawn>[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

/** `micetrap ftp` with a JSONL log and `extra` flags; the port comes from the log (stdout may carry JSON). */
async function startTrap(extra: string[], opts: { closeStdout?: boolean; stalledStdout?: boolean } = {}): Promise<TrapProc> {
  const dir = tempDir();
  const log = join(dir, "events.jsonl");
  const args = [BUN, join(ROOT, "src/cli.ts"), "ftp", "0", "--host", "127.0.0.1", "--seed", "sinks-test", "--banner", "vsftpd-3.0.3-debian", "--log", log, ...extra];
  const texts = { out: "", err: "" };
  const decoder = new TextDecoder();
  let readStdout = () => {};
  let proc: ReturnType<typeof Bun.spawn>;
  if (opts.stalledStdout) {
    // A named pipe nobody reads until told to: Bun's own pipes to a child are read eagerly by the parent,
    // whatever the test does, so they never fill. Opening the read end without blocking lets the write end open.
    const fifo = join(dir, "stdout.fifo");
    expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
    const rfd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const wfd = openSync(fifo, constants.O_WRONLY);
    proc = Bun.spawn(args, { cwd: ROOT, stdout: wfd, stderr: "pipe" });
    closeSync(wfd);
    readStdout = () => {
      void (async () => {
        const buf = Buffer.alloc(1 << 20);
        for (;;) {
          let n: number;
          try {
            n = readSync(rfd, buf);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
            await sleep(10);
            continue;
          }
          if (n === 0) break; // the trap exited
          texts.out += decoder.decode(buf.subarray(0, n), { stream: true });
        }
        closeSync(rfd);
      })();
    };
  } else {
    proc = Bun.spawn(args, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    void (async () => {
      const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
      for (;;) {
        const r = await reader.read();
        if (r.done) return;
        texts.out += decoder.decode(r.value, { stream: true });
        // `| head -c 1`: read once, then close the pipe's read end.
        if (opts.closeStdout) return void (await reader.cancel());
      }
    })().catch(() => {});
  }
  started.push(proc);
  void (async () => {
    const decoder = new TextDecoder();
    const errDecoder = new TextDecoder();
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) texts.err += errDecoder.decode(c, { stream: true });
  })().catch(() => {});
  const listening = await until(() => readLogSafe(log).find((e) => e.event.action === "listening"), 15_000);
  return {
    proc,
    port: listening.destination.port,
    log,
    stdout: () => texts.out,
    stderr: () => texts.err,
    readStdout,
  };
}

async function stopTrap(t: TrapProc, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  t.proc.kill(signal);
  const timer = setTimeout(() => t.proc.kill("SIGKILL"), 10_000);
  const code = await t.proc.exited;
  clearTimeout(timer);
  return code;
}

/** Every hostile class but lone surrogates (UTF-16 protocols only) and the line end that ends an ftp command. */
const HOSTILE = String.fromCodePoint(
  ...Object.entries(HOSTILE_CLASSES)
    .filter(([c]) => c !== "loneSurrogates")
    .flatMap(([, cps]) => cps)
    .filter((c) => c !== 0x0a && c !== 0x0d),
);

/** One ftp session with hostile bytes in USER, PASS and a raw line: a login, commands and data events. */
async function hostileSession(port: number, i: number): Promise<void> {
  const c = await connect(port);
  await c.waitFor((t) => t.startsWith("220"), 5000);
  c.send(Buffer.concat([Buffer.from(`USER evil${i}`), Buffer.from(HOSTILE, "utf8"), Buffer.from("\x1b[2J\x00<13>1 - forged\r\n", "latin1")]));
  await c.waitFor((t) => t.includes("331"), 5000);
  c.send(Buffer.from(`PASS \xff\xfe\x9b\x85${i}\r\nSITE \x00\x07\x7f\r\n`, "latin1"));
  await sleep(50);
  c.end();
  await c.closed;
}

/** `sessions` ftp sessions of 1,100 NOOP lines each: about 1,000 events a session (commands are capped at 1,000). */
async function flood(port: number, sessions: number): Promise<void> {
  for (let s = 0; s < sessions; s++) {
    const c = await connect(port);
    await c.waitFor((t) => t.startsWith("220"), 5000);
    c.send("NOOP\r\n".repeat(1100));
    await c.waitFor((t) => (t.match(/\r\n/g) ?? []).length >= 1101, 10_000);
    c.end();
    await c.closed;
  }
}

const actions = (events: any[]) => events.map((e) => e.event.action);

describe("syslog to a real rsyslogd", () => {
  let rs: Rsyslog | undefined;
  afterEach(async () => {
    await rs?.stop();
    rs = undefined;
  });

  /** Runs the trap with --syslog URL, hostile sessions, SIGTERM; returns what the trap logged and what rsyslogd got. */
  async function through(url: (r: Rsyslog) => string, sessions = 3): Promise<{ logged: any[]; got: Received[]; pid: number }> {
    rs = await startRsyslog();
    const t = await startTrap(["--quiet", "--syslog", url(rs)]);
    for (let i = 0; i < sessions; i++) await hostileSession(t.port, i);
    // One session sends 20 KB of binary: its data event is shortened to rsyslog's default 8096 bytes.
    const big = await connect(t.port);
    await big.waitFor((x) => x.startsWith("220"), 5000);
    big.send(new Uint8Array(20_000).map((_, i) => (i * 7) % 256));
    await sleep(200);
    big.end();
    await big.closed;
    await until(() => (readLogSafe(t.log).filter((e) => e.event.action === "close").length === sessions + 1 ? true : undefined));
    expect(await stopTrap(t)).toBe(0);
    const logged = readLog(t.log);
    const got = await rs.waitFor(logged.length, 10_000);
    await sleep(300); // anything more (a duplicate) would arrive now
    return { logged, got: rs.received(), pid: t.proc.pid };
  }

  /** Every logged event arrived once, in order, as an RFC 5424 message rsyslogd parsed field by field. */
  function expectSame(logged: any[], got: Received[], pid: number, input: string): void {
    expect(got.map((g) => g.inputname)).toEqual(logged.map(() => input));
    expect(got.map((g) => g.msgid)).toEqual(actions(logged));
    const severity: Record<string, string> = { login: "warning", error: "err", refused: "notice" };
    got.forEach((g, i) => {
      const e = logged[i];
      expect(g["protocol-version"]).toBe("1");
      expect(g["app-name"]).toBe("micetrap");
      expect(g.procid).toBe(String(pid));
      expect(g["syslogfacility-text"]).toBe("local0");
      expect(g["syslogseverity-text"]).toBe(severity[e.event.action] ?? "info");
      expect(g["structured-data"]).toBe(`[meta sequenceId="${i + 1}"]`);
      expect(Date.parse(g.timereported)).toBe(Date.parse(e["@timestamp"]));
      expect(rawHostile(Buffer.from(g.rawmsg, "utf8"))).toEqual([]);
      const doc = JSON.parse(g.msg);
      if (doc.micetrap.syslog) {
        // Shortened to fit: the same event without what it names.
        expect(e.event.action).toBe("data");
        expect(Buffer.byteLength(g.rawmsg)).toBeLessThanOrEqual(8096);
        expect(doc.micetrap.syslog.cut).toEqual(["micetrap.payload.text", "micetrap.payload.base64"]);
        delete doc.micetrap.syslog;
        delete e.micetrap.payload.text;
        delete e.micetrap.payload.base64;
        expect(doc).toEqual(e);
      } else expect(doc).toEqual(e);
    });
    expect(got.filter((g) => JSON.parse(g.msg).micetrap.syslog)).toHaveLength(1);
    // The hostile user names came through whole (ftp reads bytes as latin1).
    const users = logged.filter((e) => e.event.action === "login").map((e) => e.user.name);
    expect(users.length).toBeGreaterThan(0);
    for (const u of users) expect(u).toContain(Buffer.from(HOSTILE, "utf8").toString("latin1"));
  }

  test("UDP: every event once, in order, parsed by rsyslogd", async () => {
    const { logged, got, pid } = await through((r) => `udp://127.0.0.1:${r.udpPort}`);
    expectSame(logged, got, pid, "imudp");
  }, 60_000);

  test("TCP, octet counting: every event once, in order", async () => {
    const { logged, got, pid } = await through((r) => `tcp://127.0.0.1:${r.tcpPort}`);
    expectSame(logged, got, pid, "imtcp");
  }, 60_000);

  test("unix datagram socket (the /dev/log kind): every event once, in order", async () => {
    const { logged, got, pid } = await through((r) => `unix://${r.dgramPath}`);
    expectSame(logged, got, pid, "imuxsock");
  }, 60_000);

  test("unix stream socket: found to be one, one message a line, every event once, in order", async () => {
    const { logged, got, pid } = await through((r) => `unix://${r.streamPath}`);
    expectSame(logged, got, pid, "imptcp");
  }, 60_000);

  test("the compiled binary reaches the unix datagram socket too (bun:ffi inside the executable)", async () => {
    const bin = await buildBinary();
    rs = await startRsyslog();
    const dir = tempDir();
    const log = join(dir, "events.jsonl");
    const proc = Bun.spawn([bin, "ftp", "0", "--host", "127.0.0.1", "--quiet", "--log", log, "--syslog", `unix://${rs.dgramPath}`], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    started.push(proc);
    const listening = await until(() => readLogSafe(log).find((e) => e.event.action === "listening"), 15_000);
    await hostileSession(listening.destination.port, 0);
    await until(() => (readLogSafe(log).some((e) => e.event.action === "close") ? true : undefined));
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    const logged = readLog(log);
    const got = await rs.waitFor(logged.length);
    expect(got.map((g) => g.inputname)).toEqual(logged.map(() => "imuxsock"));
    expect(got.map((g) => JSON.parse(g.msg))).toEqual(logged);
  }, 90_000);

  test("TCP receiver restarted: the trap reconnects, reports the outage once, and the events after it arrive in order", async () => {
    rs = await startRsyslog();
    const port = rs.tcpPort;
    const t = await startTrap(["--quiet", "--syslog", `tcp://127.0.0.1:${port}`]);
    await hostileSession(t.port, 0);
    await until(() => (readLogSafe(t.log).some((e) => e.event.action === "close") ? true : undefined));
    const before = readLogSafe(t.log).length;
    await rs.waitFor(before);
    const first = rs.received();
    // rsyslogd goes away; a new one cannot take the same random port for sure, so the trap is pointed at
    // a port nothing listens on, then a receiver is started there: a listener from this test, framing checked.
    await rs.stop();
    rs = undefined;
    await hostileSession(t.port, 1);
    await sleep(700);
    expect(t.proc.exitCode).toBeNull();
    const frames: string[] = [];
    let buffered = Buffer.alloc(0);
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port,
      socket: {
        data(_s, d) {
          buffered = Buffer.concat([buffered, Buffer.from(d)]);
          for (;;) {
            const sp = buffered.indexOf(0x20);
            if (sp < 0) break;
            const len = Number(buffered.subarray(0, sp).toString());
            if (buffered.length < sp + 1 + len) break;
            frames.push(buffered.subarray(sp + 1, sp + 1 + len).toString("utf8"));
            buffered = buffered.subarray(sp + 1 + len);
          }
        },
      },
    });
    try {
      // The outage's end is an event in every record, the syslog too.
      await until(() => (frames.some((f) => f.includes(" error ")) ? true : undefined), 40_000);
      expect(await stopTrap(t)).toBe(0);
      await sleep(200);
      const all = readLog(t.log);
      const msgs = frames.map((f) => JSON.parse(RFC5424.exec(f)![8]!));
      // Before the outage: all in rsyslogd. After it: everything from the first event not delivered, in order.
      expect(first.map((g) => JSON.parse(g.msg))).toEqual(all.slice(0, before));
      expect(actions(msgs)).toEqual(actions(all.slice(before)));
      expect(msgs).toEqual(all.slice(before));
      const note = all.find((e) => e.event.action === "error");
      expect(note.error.message).toMatch(new RegExp(`^syslog tcp://127\\.0\\.0\\.1:${port} failed for [\\d.]+s \\(`));
      expect(t.stderr().match(/is not taking events/g)).toHaveLength(1);
    } finally {
      server.stop(true);
    }
  }, 90_000);
});

describe("webhook from the CLI", () => {
  test("the receiver answers 503, then goes away, then comes back: every event once, in order; SIGTERM delivers the last", async () => {
    const hook = startHook();
    const t = await startTrap(["--quiet", "--webhook", `http://127.0.0.1:${hook.port}/events`]);
    try {
      await hostileSession(t.port, 0);
      await until(() => (hook.all().some((e) => e.event.action === "close") ? true : undefined));
      hook.setMode(503);
      await hostileSession(t.port, 1);
      await until(() => (hook.seen.some((s) => s.status === 503) ? true : undefined));
      hook.setMode("down");
      await hostileSession(t.port, 2);
      await sleep(500);
      hook.setMode(200);
      await until(() => (hook.all().some((e) => e.event.action === "error") ? true : undefined), 40_000);
      await hostileSession(t.port, 3);
      expect(await stopTrap(t)).toBe(0);
      const logged = readLog(t.log);
      expect(hook.all()).toEqual(logged);
      expect(logged.filter((e) => e.event.action === "close")).toHaveLength(4);
      const notes = logged.filter((e) => e.event.action === "error").map((e) => e.error.message);
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(new RegExp(`^webhook http://127\\.0\\.0\\.1:${hook.port}/events failed for [\\d.]+s \\(HTTP 503\\): no event lost$`));
      expect(t.stderr().match(/is not taking events/g)).toHaveLength(1);
    } finally {
      hook.stop();
    }
  }, 90_000);

  test("receiver down and more events than the queue holds (10,000): the drop is counted, reported, and the rest arrive in order", async () => {
    const hook = startHook();
    hook.setMode("down");
    const t = await startTrap(["--quiet", "--webhook", `http://127.0.0.1:${hook.port}/`]);
    try {
      await flood(t.port, 13);
      await until(() => (readLogSafe(t.log).filter((e) => e.event.action === "close").length === 13 ? true : undefined), 20_000);
      const made = readLogSafe(t.log).length;
      expect(made).toBeGreaterThan(12_000);
      expect(t.proc.exitCode).toBeNull();
      hook.setMode(200);
      await until(() => (hook.all().some((e) => e.event.action === "error") ? true : undefined), 40_000);
      expect(await stopTrap(t)).toBe(0);
      const logged = readLog(t.log);
      const note = logged.find((e) => e.event.action === "error");
      const m = /^webhook http:\/\/127\.0\.0\.1:\d+\/ failed for [\d.]+s \(ECONNREFUSED\): (\d+) events dropped$/.exec(note.error.message);
      expect(m, note.error.message).not.toBeNull();
      const dropped = Number(m![1]);
      expect(dropped).toBe(made - 10_000);
      // Held: the first 10,000; dropped: the next; then everything from the recovery on.
      expect(hook.all()).toEqual([...logged.slice(0, 10_000), ...logged.slice(10_000 + dropped)]);
      expect(t.stderr().match(/is not taking events/g)).toHaveLength(1);
    } finally {
      hook.stop();
    }
  }, 120_000);

  test("a receiver that never answers does not hold up SIGTERM: the trap exits by itself, saying what was not delivered", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } }); // takes requests, never answers
    try {
      const t = await startTrap(["--quiet", "--webhook", `http://127.0.0.1:${silent.port}/`]);
      await hostileSession(t.port, 0);
      await sleep(200);
      expect(await stopTrap(t)).toBe(0);
      expect(t.proc.signalCode).toBeNull();
      const logged = readLog(t.log);
      const note = logged.find((e) => e.event.action === "error" && e.error.message.includes("not delivered at exit"));
      expect(note.error.message).toMatch(/^webhook http:\/\/127\.0\.0\.1:\d+\/: \d+ events? not delivered at exit/);
    } finally {
      silent.stop(true);
    }
  }, 60_000);
});

describe("--json: events on stdout", () => {
  test("every stdout line is an ECS event, the same as the file's; human lines are on stderr", async () => {
    const t = await startTrap(["--json"]);
    for (let i = 0; i < 3; i++) await hostileSession(t.port, i);
    expect(await stopTrap(t)).toBe(0);
    await sleep(100);
    const out = t.stdout();
    expect(out.endsWith("\n")).toBe(true);
    expect(rawHostile(Buffer.from(out, "utf8"))).toEqual([]);
    const lines = out.slice(0, -1).split("\n");
    expect(lines.map((l) => JSON.parse(l))).toEqual(readLog(t.log));
    expect(t.stderr()).toContain(`Fake ftp service listening on port ${t.port}...`);
    expect(t.stderr()).toContain("Incoming connection from 127.0.0.1:");
    expect(t.stderr()).toContain("Received SIGTERM");
  }, 60_000);

  test("--log - writes the events to stdout and makes no file", async () => {
    const dir = tempDir();
    const r = Bun.spawn([BUN, join(ROOT, "src/cli.ts"), "ftp", "0", "--host", "127.0.0.1", "--seed", "sinks-test", "--log", "-"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    started.push(r);
    let out = "";
    void (async () => {
      for await (const c of r.stdout as ReadableStream<Uint8Array>) out += Buffer.from(c).toString();
    })();
    const first = await until(() => (out.includes("\n") ? JSON.parse(out.split("\n")[0]!) : undefined), 15_000);
    expect(first.event.action).toBe("listening");
    r.kill("SIGTERM");
    expect(await r.exited).toBe(0);
    expect(existsSync(join(dir, "-"))).toBe(false);
  }, 30_000);

  test("stdout read once then closed: the trap keeps serving; the file says how many stdout lost", async () => {
    const t = await startTrap(["--json", "--quiet"], { closeStdout: true });
    for (let i = 0; i < 4; i++) await hostileSession(t.port, i);
    await until(() => (readLogSafe(t.log).filter((e) => e.event.action === "close").length === 4 ? true : undefined));
    expect(t.proc.exitCode).toBeNull();
    expect(await stopTrap(t)).toBe(0);
    const logged = readLog(t.log);
    expect(logged.filter((e) => e.event.action === "login")).toHaveLength(4);
    expect(t.stderr()).toContain("JSON events to stdout failed (EPIPE)");
    const note = logged.find((e) => e.event.action === "error");
    expect(note.error.message).toMatch(/^stdout failed for [\d.]+s \(EPIPE\): \d+ events dropped$/);
  }, 60_000);

  test("stdout not read (a full pipe): the trap keeps serving; past the bound events are dropped, counted, and reported when it is read again", async () => {
    const t = await startTrap(["--json", "--quiet"], { stalledStdout: true });
    await flood(t.port, 16);
    await until(() => (readLogSafe(t.log).filter((e) => e.event.action === "close").length === 16 ? true : undefined), 20_000);
    const made = readLogSafe(t.log).length;
    expect(made).toBeGreaterThan(15_000);
    expect(t.stderr().match(/stdout is not taking events \(not being read\)/g)).toHaveLength(1);
    t.readStdout();
    await until(() => (t.stdout().includes('"action":"error"') ? true : undefined), 10_000);
    expect(await stopTrap(t)).toBe(0);
    await sleep(100);
    const lines = t.stdout().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const note = lines.find((e) => e.event.action === "error");
    const m = /^stdout failed for [\d.]+s \(not being read\): (\d+) events dropped$/.exec(note.error.message);
    expect(m, note.error.message).not.toBeNull();
    const logged = readLog(t.log);
    // What stdout got: a prefix (the pipe and the queue), then from the recovery note on, as in the file.
    const dropped = Number(m![1]);
    const kept = made - dropped;
    expect(lines.slice(0, kept)).toEqual(logged.slice(0, kept));
    expect(lines.slice(kept)).toEqual(logged.slice(made));
  }, 120_000);
});

describe("bad sink URLs", () => {
  test("on the command line: one line, exit 2, nothing bound, no log file", async () => {
    const dir = tempDir();
    const log = join(dir, "events.jsonl");
    const cases: [string[], RegExp][] = [
      [["ftp", "0", "--syslog", "http://x:514"], /^error: invalid --syslog: syslog URL "http:\/\/x:514": scheme must be udp, tcp or unix, not "http"$/],
      [["ftp", "0", "--syslog", "udp://127.0.0.1:70000"], /^error: invalid --syslog: .*port "70000" is not a number from 1 to 65535$/],
      [["ftp", "0", "--webhook", "gopher://x/"], /^error: invalid --webhook: .*scheme must be http or https/],
      [["serve", "--persona", "debian-lamp", "--webhook", "http://:80/"], /^error: invalid --webhook: .*has no host$/],
      [["serve", "--persona", "debian-lamp", "--syslog", "unix://relative"], /^error: invalid --syslog: .*has no host/],
    ];
    for (const [args, why] of cases) {
      const r = await runCli([...args, "--host", "127.0.0.1", "--log", log]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(why);
      expect(r.stdout).toBe("");
      expect(existsSync(log)).toBe(false);
    }
  }, 60_000);

  test("in a config: the file, the line and the key, one line, exit 2, no log file", async () => {
    const dir = tempDir();
    const log = join(dir, "events.jsonl");
    const cases: [string, RegExp][] = [
      [`services:\n  - service: ftp\n    port: 0\nlog: ${log}\nsyslog: udp://[::1\n`, /:5: syslog: syslog URL "udp:\/\/\[::1": "\[" is not an IPv6 address$/],
      [`log: ${log}\nwebhook: https://host:0/x\nservices:\n  - service: ftp\n    port: 0\n`, /:2: webhook: webhook URL "https:\/\/host:0\/x": port "0" is not a number from 1 to 65535$/],
      [`services:\n  - service: ftp\n    port: 0\njson: yes please\nlog: ${log}\n`, /:4: json: expected true or false$/],
    ];
    for (const [text, why] of cases) {
      const conf = join(dir, "host.yaml");
      writeFileSync(conf, text);
      for (const args of [["serve", "--config", conf, "--host", "127.0.0.1"], ["validate", conf]]) {
        const r = await runCli(args);
        expect(r.code, text).toBe(2);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
        expect(r.stderr.trim()).toMatch(why);
        expect(existsSync(log)).toBe(false);
      }
    }
  }, 60_000);

  test("a good config's sinks are taken: syslog and webhook from the file, --json from the command line", async () => {
    const dir = tempDir();
    const hook = startHook();
    const rs = await startRsyslog();
    try {
      const log = join(dir, "events.jsonl");
      const conf = join(dir, "host.yaml");
      writeFileSync(conf, `services:\n  - service: ftp\n    port: 0\nlog: ${log}\nsyslog: tcp://127.0.0.1:${rs.tcpPort}\nwebhook: http://127.0.0.1:${hook.port}/in\n`);
      const v = await runCli(["validate", conf]);
      expect(v.code).toBe(0);
      const proc = Bun.spawn([BUN, join(ROOT, "src/cli.ts"), "serve", "--config", conf, "--host", "127.0.0.1", "--json", "--quiet"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      started.push(proc);
      let out = "";
      void (async () => {
        for await (const c of proc.stdout as ReadableStream<Uint8Array>) out += Buffer.from(c).toString();
      })();
      const listening = await until(() => readLogSafe(log).find((e) => e.event.action === "listening"), 15_000);
      await hostileSession(listening.destination.port, 0);
      await until(() => (readLogSafe(log).some((e) => e.event.action === "close") ? true : undefined));
      proc.kill("SIGTERM");
      expect(await proc.exited).toBe(0);
      const logged = readLog(log);
      await rs.waitFor(logged.length);
      expect(rs.received().map((g) => JSON.parse(g.msg))).toEqual(logged);
      await until(() => (hook.all().length === logged.length ? true : undefined));
      expect(hook.all()).toEqual(logged);
      expect(out.split("\n").filter(Boolean).map((l) => JSON.parse(l))).toEqual(logged);
    } finally {
      hook.stop();
      await rs.stop();
    }
  }, 60_000);
});
