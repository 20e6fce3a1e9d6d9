// How fast each sink delivers, and what it costs the process that emits (never a timed assertion in a test).
// A child process runs one sink and emits login events as a busy trap would (500 a turn of the event loop,
// pausing while the sink holds 5,000); this process is the receiver, or reads the receiver's output, and
// stops the clock when the last event arrived. Receivers: a pipe (stdout JSON), a real rsyslogd (syslog
// over UDP, TCP, a unix datagram and a unix stream socket), an HTTP server on 127.0.0.1 (webhook).
//
//   bun scripts/bench-sinks.ts [--events 50000]
// Traffic goes to 127.0.0.1 and sockets in a temp folder only; every loop is bounded in count and time.
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { findEntry } from "../src/catalog/index.ts";
import { ecsLine } from "../src/events/ecs.ts";
import type { EventSink, TrapEvent } from "../src/events/types.ts";
import { StdoutJsonSink } from "../src/events/sinks/stdout.ts";
import { SyslogSink } from "../src/events/sinks/syslog.ts";
import { parseSyslogUrl, parseWebhookUrl } from "../src/events/sinks/url.ts";
import { WebhookSink } from "../src/events/sinks/webhook.ts";
import type { LineStream } from "../src/log.ts";
import { startRsyslog } from "./lib/rsyslog.ts";

const { values } = parseArgs({ options: { events: { type: "string", default: "50000" }, child: { type: "string" }, url: { type: "string" } }, allowPositionals: true });
const N = Math.max(1000, Math.min(1_000_000, Number(values.events)));

const entry = findEntry("vsftpd-3.0.3-debian")!;

function loginEvent(i: number): TrapEvent {
  return {
    action: "login",
    time: new Date(),
    service: "ssh",
    entry,
    host: { name: "files02", release: "debian-7" },
    sessionId: `bench-${i}`,
    source: { ip: "198.51.100.7", port: 40000 + (i % 20000) },
    destination: { ip: "203.0.113.5", port: 22 },
    user: `root${i % 100}`,
    password: `hunter${i}`,
    method: "password",
    client: { version: "SSH-2.0-libssh2_1.10.0" },
  };
}

// ---- the emitting child ----
if (values.child) {
  const kind = values.child;
  let sink: EventSink & { pending: number; dropped: number; flushWithin(ms: number): Promise<void> };
  if (kind === "stdout") sink = new StdoutJsonSink(process.stdout as unknown as LineStream);
  else if (kind === "webhook") sink = new WebhookSink(parseWebhookUrl(values.url!));
  else sink = new SyslogSink(parseSyslogUrl(values.url!));
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  let i = 0;
  const deadline = Date.now() + 120_000;
  while (i < N && Date.now() < deadline) {
    if (sink.pending > 5000) {
      await Bun.sleep(1);
      continue;
    }
    for (let k = 0; k < 500 && i < N; k++) sink.emit(loginEvent(i++));
    await new Promise((r) => setImmediate(r));
  }
  await sink.flushWithin(60_000);
  const cpu = process.cpuUsage(cpu0);
  process.stderr.write(JSON.stringify({ start: t0, emitted: i, dropped: sink.dropped, cpuUs: cpu.user + cpu.system }) + "\n");
  sink.close();
  process.exit(0);
}

// ---- the receiving parent ----
interface Row {
  sink: string;
  delivered: number;
  dropped: number;
  eventsPerSecond: number;
  cpuUsPerEvent: number;
}

async function runChild(kind: string, url: string | undefined, received: () => number, stdout: "pipe" | "ignore" = "ignore", onStdout?: (chunk: Uint8Array) => void): Promise<Row> {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--child", kind, "--events", String(N), ...(url ? ["--url", url] : [])], { stdout, stderr: "pipe" });
  if (stdout === "pipe" && onStdout) void (async () => {
    for await (const c of proc.stdout as ReadableStream<Uint8Array>) onStdout(c);
  })();
  const errText = new Response(proc.stderr).text();
  const deadline = Date.now() + 150_000;
  let end = 0;
  while (Date.now() < deadline) {
    if (received() >= N) {
      end = Date.now();
      break;
    }
    if (proc.exitCode !== null) {
      // Finished: whatever did not arrive within a second more will not (UDP).
      await Bun.sleep(1000);
      end = Date.now();
      break;
    }
    await Bun.sleep(5);
  }
  await proc.exited;
  const report = JSON.parse((await errText).trim().split("\n").at(-1)!);
  const delivered = received();
  return {
    sink: kind === "stdout" || kind === "webhook" ? kind : `syslog ${url!.split(":")[0]}${url!.includes("stream") ? " stream" : url!.startsWith("unix") ? " dgram" : ""}`,
    delivered,
    dropped: report.dropped,
    eventsPerSecond: Math.round(delivered / ((end - report.start) / 1000)),
    cpuUsPerEvent: Number((report.cpuUs / report.emitted).toFixed(1)),
  };
}

const rows: Row[] = [];

{
  let lines = 0;
  rows.push(
    await runChild("stdout", undefined, () => lines, "pipe", (c) => {
      for (const b of c) if (b === 0x0a) lines++;
    }),
  );
}

{
  let got = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = (await req.json()) as unknown[];
      got += body.length;
      return new Response(null, { status: 204 });
    },
  });
  try {
    rows.push(await runChild("webhook", `http://127.0.0.1:${server.port}/`, () => got));
  } finally {
    server.stop(true);
  }
}

{
  // The sink's own ceiling: TCP to a bare listener in this process that only counts frames.
  let frames = 0;
  let pending = Buffer.alloc(0);
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(_s, d) {
        pending = pending.length ? Buffer.concat([pending, Buffer.from(d)]) : Buffer.from(d);
        let at = 0;
        for (;;) {
          const sp = pending.indexOf(0x20, at);
          if (sp < 0) break;
          const len = Number(pending.subarray(at, sp).toString());
          if (pending.length < sp + 1 + len) break;
          frames++;
          at = sp + 1 + len;
        }
        pending = pending.subarray(at);
      },
    },
  });
  try {
    const row = await runChild("syslog", `tcp://127.0.0.1:${server.port}`, () => frames);
    rows.push({ ...row, sink: "syslog tcp, to a bare counting listener" });
  } finally {
    server.stop(true);
  }
}

const rs = await startRsyslog({ maxMessageSize: "64k" });
try {
  // rsyslogd writes one line a message; counting newlines in its file is enough here.
  const file = `${rs.dir}/received.jsonl`;
  const count = () => {
    try {
      const b = new Uint8Array(readFileSync(file));
      let n = 0;
      for (const x of b) if (x === 0x0a) n++;
      return n;
    } catch {
      return 0;
    }
  };
  for (const url of [`udp://127.0.0.1:${rs.udpPort}`, `tcp://127.0.0.1:${rs.tcpPort}`, `unix://${rs.dgramPath}`, `unix://${rs.streamPath}`]) {
    const before = count();
    const row = await runChild("syslog", url, () => count() - before);
    rows.push({ ...row, sink: `${row.sink}, to rsyslogd` });
  }
  console.log(`rsyslogd ${rs.version}`);
} finally {
  await rs.stop();
}

console.log(`${N} login events (${Buffer.byteLength(ecsLine(loginEvent(0)))} bytes of ECS JSON each), Bun ${Bun.version}, ${cpus().length} cores`);
console.log("| sink | delivered | dropped | events/s | CPU µs per event (emitting process) |");
console.log("|---|---|---|---|---|");
for (const r of rows) console.log(`| ${r.sink} | ${r.delivered} | ${r.dropped} | ${r.eventsPerSecond.toLocaleString("en")} | ${r.cpuUsPerEvent} |`);
