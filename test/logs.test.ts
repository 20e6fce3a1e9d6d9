// Logs that survive their environment: a console nobody reads, a console whose reader went away, a log
// file moved by logrotate, a full disk. The sinks are tested alone (a fake file, a fake stream) and the
// CLI as a process, with real pipes, real signals and a real full filesystem.
import { afterEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, truncateSync, writeSync, openSync, closeSync } from "node:fs";
import { join } from "node:path";
import { JsonlSink, type FileIo } from "../src/events/jsonl.ts";
import type { TrapEvent } from "../src/events/types.ts";
import { findEntry } from "../src/catalog/index.ts";
import { ConsoleOutput, CONSOLE_QUEUE_LINES } from "../src/log.ts";
import { ConsoleSink } from "../src/events/console.ts";
import { createConsola, type LogObject } from "consola/core";
import { BUN, FakeStream, ROOT, connect, readLog, sleep, tempDir, until, readLogSafe } from "./helpers.ts";

const entry = findEntry("vsftpd-3.0.3-debian")!;

function event(i: number, extra: Partial<TrapEvent> = {}): TrapEvent {
  return {
    action: "command",
    time: new Date(),
    service: "ftp",
    entry,
    sessionId: `s${i}`,
    source: { ip: "192.0.2.1", port: 40000 + (i % 20000) },
    destination: { port: 21 },
    command: `USER n${i}`,
    ...extra,
  };
}

/** A file in memory whose writes can be capped (a short write) or refused (a full disk). */
class FakeFile implements FileIo {
  files: Uint8Array[][] = [];
  writeCalls = 0;
  /** Bytes the "disk" still takes; undefined is unlimited. */
  room: number | undefined;
  open(): number {
    this.files.push([]);
    return this.files.length - 1;
  }
  write(fd: number, data: Uint8Array): number {
    this.writeCalls++;
    if (this.room === 0) throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    const n = this.room === undefined ? data.length : Math.min(this.room, data.length);
    if (this.room !== undefined) this.room -= n;
    this.files[fd]!.push(data.slice(0, n));
    return n;
  }
  close(): void {}
  truncateTail(fd: number, bytes: number): void {
    const all = Buffer.concat(this.files[fd]!);
    this.files[fd] = [all.subarray(0, all.length - bytes)];
  }
  text(fd = 0): string {
    return Buffer.concat(this.files[fd] ?? []).toString("utf8");
  }
}

/** Every line of the text is a whole JSON object, and the text ends with a newline. */
function parseLines(text: string): any[] {
  if (text === "") return [];
  expect(text.endsWith("\n")).toBe(true);
  return text
    .slice(0, -1)
    .split("\n")
    .map((l) => JSON.parse(l));
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe("JsonlSink", () => {
  test("a burst of 1,000 events is one write, made on the next turn of the loop", async () => {
    const io = new FakeFile();
    const sink = new JsonlSink("x.jsonl", { io });
    for (let i = 0; i < 1000; i++) sink.emit(event(i));
    expect(io.writeCalls).toBe(0);
    await tick();
    await tick();
    expect(io.writeCalls).toBe(1);
    const lines = parseLines(io.text());
    expect(lines).toHaveLength(1000);
    expect(lines.map((l) => l.micetrap.command)).toEqual(Array.from({ length: 1000 }, (_, i) => `USER n${i}`));
    sink.close();
  });

  test("a short write then a full disk: the rest is kept, written after, and never glued to the next line", async () => {
    const io = new FakeFile();
    const fails: string[] = [];
    const recovered: { code: string; dropped: number }[] = [];
    const sink = new JsonlSink("x.jsonl", { io, retryMs: 20, onFail: (f) => fails.push(f.code), onRecover: (f) => recovered.push({ code: f.code, dropped: f.dropped }) });
    io.room = 300; // less than one line: the first line is cut
    for (let i = 0; i < 5; i++) sink.emit(event(i));
    await tick();
    await tick();
    expect(fails).toEqual(["ENOSPC"]);
    expect(io.text().length).toBe(300);
    // More events and several retries while the disk stays full: reported once, nothing written.
    for (let i = 5; i < 10; i++) sink.emit(event(i));
    await sleep(100);
    expect(fails).toEqual(["ENOSPC"]);
    io.room = undefined;
    await until(() => (recovered.length ? true : undefined), 2000);
    expect(recovered).toEqual([{ code: "ENOSPC", dropped: 0 }]);
    const lines = parseLines(io.text());
    expect(lines.map((l) => l.micetrap.command)).toEqual(Array.from({ length: 10 }, (_, i) => `USER n${i}`));
    sink.close();
  });

  test("past its bound the buffer drops whole lines and counts them; closing on a full disk cuts the half line", async () => {
    const io = new FakeFile();
    const recovered: number[] = [];
    const sink = new JsonlSink("x.jsonl", { io, maxBuffer: 20_000, retryMs: 10_000, onRecover: (f) => recovered.push(f.dropped) });
    io.room = 1000;
    for (let i = 0; i < 200; i++) sink.emit(event(i));
    sink.flush();
    expect(sink.failing?.code).toBe("ENOSPC");
    expect(sink.pendingBytes).toBeLessThanOrEqual(20_000);
    expect(sink.dropped).toBeGreaterThan(100);
    expect(sink.failing?.dropped).toBe(sink.dropped);
    // The file holds whole lines and the start of one more.
    expect(io.text().endsWith("\n")).toBe(false);
    sink.close();
    const kept = parseLines(io.text());
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.map((l) => l.micetrap.command)).toEqual(Array.from({ length: kept.length }, (_, i) => `USER n${i}`));
  });

  test("a failed write in the middle of a flush keeps the order, and recovery reports the lines dropped", async () => {
    const io = new FakeFile();
    const recovered: number[] = [];
    const sink = new JsonlSink("x.jsonl", { io, maxBuffer: 5_000, retryMs: 10, onRecover: (f) => recovered.push(f.dropped) });
    io.room = 0;
    for (let i = 0; i < 100; i++) sink.emit(event(i));
    await tick();
    const dropped = sink.dropped;
    expect(dropped).toBeGreaterThan(0);
    io.room = undefined;
    await until(() => (recovered.length ? true : undefined), 2000);
    expect(recovered).toEqual([dropped]);
    const lines = parseLines(io.text());
    expect(lines.length).toBe(100 - dropped);
    expect(lines.map((l) => l.micetrap.command)).toEqual(Array.from({ length: 100 - dropped }, (_, i) => `USER n${i}`));
    sink.close();
  });

  test("reopen finishes the old file with a whole line and goes on in the new one", async () => {
    const io = new FakeFile();
    const sink = new JsonlSink("x.jsonl", { io, retryMs: 10_000 });
    for (let i = 0; i < 3; i++) sink.emit(event(i));
    io.room = 700; // the old file takes a line and a half
    for (let i = 3; i < 6; i++) sink.emit(event(i));
    sink.flush();
    expect(io.text(0).endsWith("\n")).toBe(false);
    io.room = undefined;
    sink.reopen();
    sink.emit(event(6));
    sink.close();
    const old = parseLines(io.text(0));
    const fresh = parseLines(io.text(1));
    expect([...old, ...fresh].map((l) => l.micetrap.command)).toEqual(Array.from({ length: 7 }, (_, i) => `USER n${i}`));
  });
});

/** A stream that takes writes until told it is full, then wants a drain; or fails with an error. */
describe("ConsoleOutput", () => {
  test("a stalled stream holds at most its bound; the lines beyond are counted and the count printed on drain", () => {
    const s = new FakeStream();
    const out = new ConsoleOutput(s, "stdout");
    s.full = true;
    out.write("first\n"); // taken by the stream, which now wants a drain
    for (let i = 0; i < 50_000; i++) out.write(`line ${i}\n`);
    expect(s.taken).toEqual(["first\n"]);
    expect(out.dropped).toBe(50_000 - CONSOLE_QUEUE_LINES);
    s.full = false;
    s.fire("drain");
    expect(s.taken).toHaveLength(2);
    const flushed = s.taken[1]!.split("\n").filter(Boolean);
    expect(flushed).toHaveLength(CONSOLE_QUEUE_LINES + 1);
    expect(flushed[0]).toBe("line 0");
    expect(flushed.at(-1)).toBe(`(${50_000 - CONSOLE_QUEUE_LINES} console lines not shown: stdout was not being read)`);
    out.write("after\n");
    expect(s.taken.at(-1)).toBe("after\n");
  });

  test("EPIPE breaks the stream for good: nothing thrown, every later line dropped and counted, listeners told once", () => {
    const s = new FakeStream();
    const out = new ConsoleOutput(s, "stderr");
    const told: string[] = [];
    out.onBroken((code) => told.push(code));
    out.write("a\n");
    s.fire("error", Object.assign(new Error("broken pipe"), { code: "EPIPE" }));
    s.fire("error", Object.assign(new Error("broken pipe"), { code: "EPIPE" }));
    for (let i = 0; i < 10; i++) out.write("b\n");
    expect(told).toEqual(["EPIPE"]);
    expect(out.broken).toBe("EPIPE");
    expect(out.dropped).toBe(10);
    expect(s.taken).toEqual(["a\n"]);
  });
});

describe("ConsoleSink", () => {
  /** A logger at consola's level for the verbosity, keeping each line it prints with its type. */
  function capture(level: number): { sink: ConsoleSink; lines: string[] } {
    const lines: string[] = [];
    const log = createConsola({ level, throttle: 0, reporters: [{ log: (o: LogObject) => lines.push(`${o.type} ${o.args.join(" ")}`) }] });
    return { sink: new ConsoleSink(log), lines };
  }
  const session = (action: TrapEvent["action"], extra: Partial<TrapEvent> = {}) => event(1, { action, command: undefined, ...extra });
  const all = [
    session("connection"),
    session("data", { direction: "in", payload: new Uint8Array([0x41, 0x0a]) }),
    session("login", { user: "root", password: "toor" }),
    { ...session("refused"), sessionId: undefined, source: { ip: "192.0.2.7" }, count: 3, reason: "too many sessions" },
    session("error", { message: "protocol error: x" }),
    session("close", { bytesIn: 2, bytesOut: 20, durationMs: 5, reason: "peer closed" }),
    { ...session("error", { message: "cannot write to the log file" }), sessionId: undefined, source: undefined },
  ];

  test("quiet (warnings and errors): logins, refusals and errors are printed; connection, data and close lines are not", () => {
    const { sink, lines } = capture(1);
    for (const e of all) sink.emit(e);
    expect(lines).toEqual([
      'warn 192.0.2.1:40001 tried to log in as "root" with password "toor"',
      "warn 192.0.2.7: 3 connection(s) refused (too many sessions)",
      "warn 192.0.2.1:40001: protocol error: x", // a peer's malformed input: a warning
      "error cannot write to the log file", // the trap's own trouble
    ]);
  });

  test("normal: every event has its line, in order", () => {
    const { sink, lines } = capture(3);
    for (const e of all) sink.emit(e);
    expect(lines.map((l) => l.split(" ")[0])).toEqual(["info", "info", "warn", "warn", "warn", "info", "error"]);
    expect(lines[0]).toBe("info Incoming connection from 192.0.2.1:40001");
    expect(lines[5]).toBe("info Connection from 192.0.2.1:40001 closed (peer closed): 2 bytes in, 20 bytes out, 0.01s");
  });
});

// ---- the CLI as a process ----

interface Trap {
  proc: ReturnType<typeof Bun.spawn>;
  port: number;
  stderr: () => string;
  stdout: () => string;
}

/** Every trap process started here; one a failed test left running is killed after it. */
const started: ReturnType<typeof Bun.spawn>[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

/** Starts `micetrap ftp` logging to `log`; the port comes from the log's listening event (stdout may be closed). */
async function startFtp(log: string, opts: { quiet?: boolean; closeStdout?: boolean; closeStderr?: boolean } = {}): Promise<Trap> {
  const args = [BUN, join(ROOT, "src/cli.ts"), "ftp", "0", "--host", "127.0.0.1", "--seed", "logs-test", "--banner", "vsftpd-3.0.3-debian", "--log", log];
  if (opts.quiet) args.push("--quiet");
  const proc = Bun.spawn(args, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  started.push(proc);
  const texts = { out: "", err: "" };
  const collect = async (stream: ReadableStream<Uint8Array>, key: "out" | "err", close: boolean) => {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      texts[key] += decoder.decode(r.value);
      // `| head -c 1`: read once, then close the pipe's read end.
      if (close) return void (await reader.cancel());
    }
  };
  void collect(proc.stdout as ReadableStream<Uint8Array>, "out", opts.closeStdout === true);
  if (opts.closeStderr) await (proc.stderr as ReadableStream<Uint8Array>).cancel();
  else void collect(proc.stderr as ReadableStream<Uint8Array>, "err", false);
  const listening = await until(() => readLogSafe(log).find((e) => e.event.action === "listening"), 10_000);
  return { proc, port: listening.destination.port, stderr: () => texts.err, stdout: () => texts.out };
}

/** One ftp session: greeting, a refused login (a `login` event, a warning on stderr), then close. */
async function ftpLogin(port: number, user: string): Promise<void> {
  const c = await connect(port);
  await c.waitFor((t) => t.startsWith("220"), 5000);
  c.send(`USER ${user}\r\nPASS secret\r\n`);
  await c.waitFor((t) => t.includes("331"), 5000);
  c.end();
  await c.closed;
}

async function stopTrap(t: Trap, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  t.proc.kill(signal);
  const timer = setTimeout(() => t.proc.kill("SIGKILL"), 5000);
  const code = await t.proc.exited;
  clearTimeout(timer);
  return code;
}

const count = (events: any[], action: string) => events.filter((e) => e.event.action === action).length;

describe("the CLI with a broken console", () => {
  test("stdout read once then closed (| head -c 1): the trap keeps serving and logging, and says so in the log", async () => {
    const log = join(tempDir(), "events.jsonl");
    const t = await startFtp(log, { closeStdout: true });
    for (let i = 0; i < 8; i++) await ftpLogin(t.port, `user${i}`);
    expect(t.proc.exitCode).toBeNull();
    await until(() => (count(readLogSafe(log), "close") === 8 ? true : undefined));
    expect(await stopTrap(t)).toBe(0);
    const events = readLog(log);
    expect(count(events, "connection")).toBe(8);
    expect(count(events, "login")).toBe(8);
    const notes = events.filter((e) => e.event.action === "error").map((e) => e.error.message);
    expect(notes).toContain("console output to stdout failed (EPIPE): its lines are dropped from now on");
    expect(notes.some((m: string) => /^\d+ console lines? not shown on stdout \(EPIPE\)$/.test(m))).toBe(true);
    expect(t.stderr()).toContain("warning: console output to stdout failed (EPIPE)");
  }, 30_000);

  test("--quiet with stderr closed: login warnings do not stop the trap", async () => {
    const log = join(tempDir(), "events.jsonl");
    const t = await startFtp(log, { quiet: true, closeStderr: true });
    for (let i = 0; i < 4; i++) await ftpLogin(t.port, `quiet${i}`);
    await until(() => (count(readLogSafe(log), "close") === 4 ? true : undefined));
    expect(t.proc.exitCode).toBeNull();
    expect(await stopTrap(t)).toBe(0);
    const events = readLog(log);
    expect(events.filter((e) => e.event.action === "login").map((e) => e.user.name)).toEqual(["quiet0", "quiet1", "quiet2", "quiet3"]);
    expect(events.some((e) => e.event.action === "error" && e.error.message.startsWith("console output to stderr failed (EPIPE)"))).toBe(true);
  }, 30_000);
});

describe("SIGHUP and the log file", () => {
  test("after mv log log.1 and SIGHUP, new events go to a new log; no event lost; open sessions close in it", async () => {
    const dir = tempDir();
    // Started as root, the trap runs as nobody: the new file is created by that user, as logrotate's
    // `create` would have made it for it; a folder anyone may write to stands in for either.
    chmodSync(dir, 0o1777);
    const log = join(dir, "events.jsonl");
    const t = await startFtp(log);
    const held = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(t.port);
      await c.waitFor((x) => x.startsWith("220"), 5000);
      held.push(c);
    }
    for (let i = 0; i < 3; i++) await ftpLogin(t.port, `before${i}`);
    renameSync(log, `${log}.1`);
    t.proc.kill("SIGHUP");
    await until(() => (existsSync(log) ? true : undefined));
    for (let i = 0; i < 4; i++) await ftpLogin(t.port, `after${i}`);
    await sleep(200);
    expect(t.proc.exitCode).toBeNull(); // HUP does not stop the trap
    t.proc.kill("SIGHUP"); // a second one, with nothing moved, reopens the same file
    await sleep(200);
    expect(t.proc.exitCode).toBeNull();
    expect(await stopTrap(t)).toBe(0);
    const oldText = readFileSync(`${log}.1`, "utf8");
    expect(oldText.endsWith("\n")).toBe(true);
    const old = readLog(`${log}.1`);
    const fresh = readLog(log);
    const all = [...old, ...fresh];
    expect(count(all, "listening")).toBe(1);
    expect(count(all, "connection")).toBe(10);
    expect(count(all, "close")).toBe(10);
    expect(count(old, "connection")).toBe(6);
    expect(fresh.filter((e) => e.event.action === "login").map((e) => e.user.name)).toEqual(["after0", "after1", "after2", "after3"]);
    // The sessions open across the HUP end at SIGTERM, in the new file.
    expect(fresh.filter((e) => e.event.action === "close" && e.micetrap.reason === "shutdown")).toHaveLength(3);
    for (const c of held) c.end();
  }, 40_000);
});

describe("a full disk", () => {
  const root = process.getuid?.() === 0;
  // Mounting a tmpfs needs root (the project's test command runs as root).
  test.skipIf(!root)("events wait for room: every line parses, the listening event is kept, the error is printed once", async () => {
    const dir = join(tempDir(), "disk");
    mkdirSync(dir);
    const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir], { stderr: "pipe" });
    if (mount.exitCode !== 0) {
      console.warn(`skipped: cannot mount a tmpfs (${mount.stderr.toString().trim()})`);
      return;
    }
    let t: Trap | undefined;
    try {
      // Fill the disk, keeping the filler's size to free it in steps.
      const filler = join(dir, "filler");
      const fd = openSync(filler, "w");
      const block = Buffer.alloc(4096, 0x41);
      let size = 0;
      try {
        for (;;) size += writeSync(fd, block);
      } catch {
        // ENOSPC: full
      }
      closeSync(fd);
      const log = join(dir, "events.jsonl");
      // The log cannot take a byte: the port comes from stdout this time.
      const proc = Bun.spawn([BUN, join(ROOT, "src/cli.ts"), "ftp", "0", "--host", "127.0.0.1", "--seed", "logs-test", "--banner", "vsftpd-3.0.3-debian", "--log", log], {
        cwd: ROOT,
        stdout: "pipe",
        stderr: "pipe",
      });
      const texts = { out: "", err: "" };
      void (async () => {
        for await (const c of proc.stdout as ReadableStream<Uint8Array>) texts.out += Buffer.from(c).toString();
      })();
      void (async () => {
        for await (const c of proc.stderr as ReadableStream<Uint8Array>) texts.err += Buffer.from(c).toString();
      })();
      const port = Number(await until(() => /listening on port (\d+)/.exec(texts.out)?.[1], 10_000));
      t = { proc, port, stderr: () => texts.err, stdout: () => texts.out };
      for (let i = 0; i < 4; i++) await ftpLogin(port, `full${i}`);
      await sleep(1200);
      expect(readFileSync(log, "utf8")).toBe("");
      // Room for a page: a short write, the rest waits.
      truncateSync(filler, size - 4096);
      await sleep(1500);
      expect(readFileSync(log).length).toBeGreaterThan(0); // what fitted is written, the rest waits
      for (let i = 4; i < 8; i++) await ftpLogin(port, `full${i}`);
      await sleep(1200);
      expect(proc.exitCode).toBeNull();
      rmSync(filler);
      await until(() => (count(readLogSafe(log), "close") === 8 ? true : undefined), 5000);
      expect(await stopTrap(t)).toBe(0);
      const events = parseLines(readFileSync(log, "utf8"));
      expect(events[0].event.action).toBe("listening");
      expect(count(events, "connection")).toBe(8);
      expect(count(events, "close")).toBe(8);
      expect(events.filter((e) => e.event.action === "login").map((e) => e.user.name)).toEqual(Array.from({ length: 8 }, (_, i) => `full${i}`));
      const recovered = events.filter((e) => e.event.action === "error" && /^writes to the log file failed for [\d.]+s \(ENOSPC\): no event lost$/.test(e.error.message));
      expect(recovered).toHaveLength(1);
      expect(texts.err.match(/cannot write to the log file/g)).toHaveLength(1);
    } finally {
      if (t && t.proc.exitCode === null) t.proc.kill("SIGKILL");
      await t?.proc.exited;
      Bun.spawnSync(["umount", "-l", dir]);
    }
  }, 60_000);
});
