// Test helpers: real sockets on 127.0.0.1, the real CLI as a child process, the real binary.
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventSink, TrapEvent } from "../src/events/types.ts";
import { Trap, type Limits } from "../src/net/listener.ts";
import { SessionDriver, VirtualClock } from "../src/services/driver.ts";
import type { CatalogEntry, ProtocolSession } from "../src/types.ts";
import type { LineStream } from "../src/log.ts";

export const ROOT = join(import.meta.dir, "..");
export const BUN = process.execPath;

export class MemorySink implements EventSink {
  events: TrapEvent[] = [];
  emit(e: TrapEvent): void {
    this.events.push(e);
  }
  close(): void {}
  of(action: TrapEvent["action"]): TrapEvent[] {
    return this.events.filter((e) => e.action === action);
  }
  /** Data events of one direction: "in" is what the peer sent, "out" what the trap answered. */
  data(direction: "in" | "out"): TrapEvent[] {
    return this.events.filter((e) => e.action === "data" && e.direction === direction);
  }
}

export function startTestTrap(entry: CatalogEntry, limits: Partial<Limits> = {}): { trap: Trap; sink: MemorySink } {
  const sink = new MemorySink();
  const trap = new Trap({ entry, hostname: "127.0.0.1", port: 0, hostSeed: "test-host", sink, limits });
  trap.start();
  return { trap, sink };
}

export interface Conversation {
  received: () => Uint8Array;
  text: () => string;
  send: (data: string | Uint8Array) => void;
  /** Resolves once the received bytes satisfy `until`, or rejects after `ms`. */
  waitFor: (until: (text: string) => boolean, ms?: number) => Promise<string>;
  closed: Promise<void>;
  isClosed: () => boolean;
  end: () => void;
}

/** Opens a TCP connection and collects everything the server sends. */
export async function connect(port: number, host = "127.0.0.1"): Promise<Conversation> {
  const chunks: Uint8Array[] = [];
  let closed = false;
  let resolveClosed!: () => void;
  const closedP = new Promise<void>((r) => (resolveClosed = r));
  let waiter: (() => void) | undefined;
  const socket = await Bun.connect({
    hostname: host,
    port,
    socket: {
      data(_s, d) {
        chunks.push(new Uint8Array(d));
        waiter?.();
      },
      close() {
        closed = true;
        resolveClosed();
        waiter?.();
      },
      error() {},
    },
  });
  const received = () => Buffer.concat(chunks);
  const text = () => Buffer.from(received()).toString("latin1");
  return {
    received,
    text,
    send: (d) => void socket.write(d),
    waitFor: (until, ms = 3000) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms; got ${JSON.stringify(text())}`)), ms);
        const check = () => {
          if (until(text())) {
            clearTimeout(timer);
            waiter = undefined;
            resolve(text());
          } else if (closed) {
            clearTimeout(timer);
            reject(new Error(`connection closed; got ${JSON.stringify(text())}`));
          }
        };
        waiter = check;
        check();
      }),
    closed: closedP,
    isClosed: () => closed,
    end: () => socket.end(),
  };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what}: no result after ${ms} ms`)), ms))]);
}

export function tempDir(prefix = "micetrap-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI from source to completion (for commands that exit), bounded in time. */
export async function runCli(args: string[], opts: { timeoutMs?: number; cwd?: string; env?: Record<string, string> } = {}): Promise<RunResult> {
  const proc = Bun.spawn([BUN, join(ROOT, "src/cli.ts"), ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 15000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface Running {
  proc: ReturnType<typeof Bun.spawn>;
  port: number;
  lines: () => string[];
  stderr: () => string;
  /** Waits until stdout matches (lines printed after the listening line arrive a little later). */
  waitForOutput: (re: RegExp, ms?: number) => Promise<string>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Starts a trap process (source or binary) and waits for its "listening on port N" line. */
export async function startProcess(cmd: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Running> {
  const proc = Bun.spawn(cmd, { cwd: opts.cwd ?? ROOT, env: opts.env ?? { ...process.env }, stdout: "pipe", stderr: "pipe" });
  let out = "";
  let err = "";
  const decoder = new TextDecoder();
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within ${opts.timeoutMs ?? 10000} ms: ${out} ${err}`)), opts.timeoutMs ?? 10000);
    (async () => {
      for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
        out += decoder.decode(chunk);
        const m = /listening on port (\d+)\.\.\./.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      }
    })().catch(reject);
    (async () => {
      for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += decoder.decode(chunk);
    })().catch(() => {});
    proc.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before listening: ${out} ${err}`));
    });
  });
  return {
    proc,
    port,
    lines: () => out.split("\n").filter(Boolean),
    stderr: () => err,
    waitForOutput: async (re, ms = 3000) => {
      const until = Date.now() + ms;
      while (!re.test(out)) {
        if (Date.now() > until) throw new Error(`output never matched ${re}: ${out}`);
        await Bun.sleep(20);
      }
      return out;
    },
    stop: async (signal = "SIGTERM") => {
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      const code = await proc.exited;
      clearTimeout(timer);
      return code;
    },
  };
}

let built: Promise<string> | undefined;
/** Builds dist/micetrap once per test run, with the real build script. */
export function buildBinary(): Promise<string> {
  built ??= (async () => {
    const r = Bun.spawnSync([BUN, "scripts/build.ts"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
    const path = join(ROOT, "dist/micetrap");
    if (!existsSync(path)) throw new Error("build produced no dist/micetrap");
    return path;
  })();
  return built;
}

/** A JSON Lines event log as objects, one per line; nothing yet when the file does not exist. */
export function readLog(file: string): any[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** A log being written, as objects: its whole lines only (a line still being written is not one yet). */
export function readLogSafe(file: string): any[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** Polls until `get` gives a value (an event in a log file, a line of output), or throws after `ms`. */
export async function until<T>(get: () => T | undefined, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`nothing after ${ms} ms`);
    await Bun.sleep(50);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A session driven on a virtual clock, with what it did and when: writes (with their bytes), events, the close. */
export interface VirtualRun {
  clock: VirtualClock;
  driver: SessionDriver;
  log: { at: number; what: string }[];
  writes: Uint8Array[];
  /** When and how the session ended, if it did. */
  closedAt(): { at: number; how: string } | undefined;
  /** When each write went out. */
  wroteAt(): number[];
}

export function driveVirtually(session: ProtocolSession): VirtualRun {
  const clock = new VirtualClock();
  const log: { at: number; what: string }[] = [];
  const writes: Uint8Array[] = [];
  const driver = new SessionDriver(session, clock, {
    write: (b) => {
      writes.push(b);
      log.push({ at: clock.now(), what: `write ${b.length}` });
    },
    events: (ev) => log.push({ at: clock.now(), what: `event ${ev.map((x) => x.action).join(",")}` }),
    close: (how) => log.push({ at: clock.now(), what: `close ${how}` }),
    error: (err) => log.push({ at: clock.now(), what: `error ${err.message}` }),
  });
  driver.open();
  return {
    clock,
    driver,
    log,
    writes,
    closedAt: () => {
      const c = log.find((l) => l.what.startsWith("close"));
      return c && { at: c.at, how: c.what.slice(6) };
    },
    wroteAt: () => log.filter((l) => l.what.startsWith("write")).map((l) => l.at),
  };
}

/**
 * The CLI as an unprivileged user: as root, the compiled binary is copied into a folder anyone may
 * enter and run as nobody (the checkout itself may sit in a folder nobody can read), so binding a
 * privileged port really fails.
 */
export async function unprivilegedCli(): Promise<string[]> {
  const bin = await buildBinary();
  if (process.getuid?.() !== 0) return [bin];
  const dir = tempDir("micetrap-nobody-");
  chmodSync(dir, 0o755);
  copyFileSync(bin, join(dir, "micetrap"));
  return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", join(dir, "micetrap")];
}

/**
 * Code points that must never reach a log line or a terminal raw, by class: a terminal acts on them,
 * or some reader of lines splits a line at them, or UTF-8 cannot carry them (lone surrogates).
 */
export const HOSTILE_CLASSES: Record<string, number[]> = {
  c0: Array.from({ length: 0x20 }, (_, i) => i),
  del: [0x7f],
  c1: Array.from({ length: 0x20 }, (_, i) => 0x80 + i),
  lineSeparators: [0x2028, 0x2029],
  bidi: [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069],
  loneSurrogates: [0xd800, 0xdbff, 0xdc00, 0xdfff, 0xd834, 0xdd1e],
};

/**
 * Where a file's bytes hold one of those raw (a line feed only as the end of a line is allowed): C0 bytes,
 * DEL, the UTF-8 forms of C1, U+2028/2029 and the bidi controls, encoded surrogates (ED A0–BF), and
 * JSON's \uD800–\uDFFF escapes (a backslash before the u not itself escaped). Returns what it found.
 */
export function rawHostile(bytes: Uint8Array): string[] {
  const text = Buffer.from(bytes).toString("latin1");
  const found: string[] = [];
  const utf8 = /[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]|\xed[\xa0-\xbf][\x80-\xbf]/g;
  for (const m of text.matchAll(utf8)) found.push(`bytes ${Buffer.from(m[0], "latin1").toString("hex")} at ${m.index}`);
  for (const m of text.matchAll(/(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/g)) found.push(`escape ${m[0]} at ${m.index}`);
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    found.push("not valid UTF-8");
  }
  return found;
}

/** A console-like stream for the writers' tests: keeps what it is given, says "full" when told to, fires events. */
export class FakeStream implements LineStream {
  taken: string[] = [];
  full = false;
  private handlers: Record<string, ((x?: any) => void)[]> = {};
  write(text: string): boolean {
    this.taken.push(text); // a stream holds what it was given even when it asks for a drain
    return !this.full;
  }
  on(event: string, fn: (x?: any) => void): this {
    (this.handlers[event] ??= []).push(fn);
    return this;
  }
  fire(event: string, arg?: unknown): void {
    for (const fn of this.handlers[event] ?? []) fn(arg);
  }
}
