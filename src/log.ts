// Every human-facing line goes through consola, with a plain reporter: the trap's lines are read by people
// and by scripts (`Fake ftp service listening on port 8765...` must appear as it is, with no badge).
// Throttling is off: five identical attacker lines are five events, never "(repeated 5 times)".
//
// The console is a courtesy, never a reason to stop or to grow: a stdout or stderr whose reader went away
// (EPIPE) or stopped reading must not take the trap down or fill its memory. Lines go through a
// ConsoleOutput per stream: a bounded queue while the stream waits for a drain, whole lines dropped and
// counted beyond it, the count printed once the stream drains, and every line dropped once it broke.
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { formatWithOptions } from "node:util";

/** What a ConsoleOutput needs of a stream: process.stdout and process.stderr, or a test's fake. */
export interface LineStream {
  write(text: string): boolean;
  on(event: "drain", fn: () => void): unknown;
  on(event: "error", fn: (err: NodeJS.ErrnoException) => void): unknown;
}

/** Lines waiting for a drain, at most; beyond either bound new lines are dropped and counted. */
export const CONSOLE_QUEUE_LINES = 1000;
export const CONSOLE_QUEUE_BYTES = 256 * 1024;


/**
 * What a failed write to a stream means: undefined when the stream is only full (EAGAIN: `waitForDrain` is
 * called, to wait for its drain with a timer in case none comes), else the code of a stream that is gone.
 */
export function streamFailure(err: NodeJS.ErrnoException, waitForDrain: () => void): string | undefined {
  const code = err?.code ?? String(err?.message ?? err);
  if (code !== "EAGAIN" && code !== "EWOULDBLOCK") return code;
  waitForDrain();
  return undefined;
}
export class ConsoleOutput {
  private queue: string[] = [];
  private queuedBytes = 0;
  private waiting = false;
  /** Lines dropped since output last worked (reported when it works again). */
  private droppedNow = 0;
  /** Every line dropped, for the record at the end. */
  dropped = 0;
  /** Set once the stream failed for good (EPIPE, EBADF): every later line is dropped. */
  broken: string | undefined;
  private readonly brokenListeners: ((code: string) => void)[] = [];

  constructor(
    private readonly stream: LineStream,
    readonly name: string,
  ) {
    stream.on("error", (err) => this.fail(err));
    stream.on("drain", () => this.drained());
  }

  /** Called once, when the stream breaks for good. */
  onBroken(fn: (code: string) => void): void {
    this.brokenListeners.push(fn);
  }

  write(line: string): void {
    if (this.broken !== undefined) {
      this.drop();
      return;
    }
    if (this.waiting) {
      if (this.queue.length >= CONSOLE_QUEUE_LINES || this.queuedBytes + line.length > CONSOLE_QUEUE_BYTES) this.drop();
      else {
        this.queue.push(line);
        this.queuedBytes += line.length;
      }
      return;
    }
    this.send(line);
  }

  private drop(): void {
    this.dropped++;
    this.droppedNow++;
  }

  /** Hands text to the stream; `false` means the stream holds it and wants a drain before more. */
  private send(text: string): void {
    try {
      if (!this.stream.write(text)) this.waiting = true;
    } catch (err) {
      this.fail(err as NodeJS.ErrnoException);
    }
  }

  private drained(): void {
    if (this.broken !== undefined) return;
    this.waiting = false;
    if (this.queue.length === 0 && this.droppedNow === 0) return;
    let text = this.queue.join("");
    this.queue = [];
    this.queuedBytes = 0;
    if (this.droppedNow > 0) {
      text += `(${this.droppedNow} console line${this.droppedNow === 1 ? "" : "s"} not shown: ${this.name} was not being read)\n`;
      this.droppedNow = 0;
    }
    this.send(text);
  }

  private fail(err: NodeJS.ErrnoException): void {
    const code = streamFailure(err, () => {
      this.waiting = true;
      setTimeout(() => this.drained(), 1000).unref?.();
    });
    if (code === undefined) return;
    if (this.broken !== undefined) return;
    this.broken = code;
    this.dropped += this.queue.length;
    this.droppedNow += this.queue.length;
    this.queue = [];
    this.queuedBytes = 0;
    for (const fn of this.brokenListeners) {
      try {
        fn(code);
      } catch {
        // a listener's failure is not the console's
      }
    }
  }
}

let outputs: { stdout: ConsoleOutput; stderr: ConsoleOutput } | undefined;

/** The process's two console outputs, made once (their error handlers keep EPIPE from ending the process). */
export function consoleOutputs(): { stdout: ConsoleOutput; stderr: ConsoleOutput } {
  outputs ??= {
    stdout: new ConsoleOutput(process.stdout as unknown as LineStream, "stdout"),
    stderr: new ConsoleOutput(process.stderr as unknown as LineStream, "stderr"),
  };
  return outputs;
}

function plainReporter(errorsToStderr: boolean, allToStderr: boolean) {
  return {
    log(obj: LogObject) {
      const text = formatWithOptions({ colors: false }, ...obj.args);
      const isProblem = obj.level <= 1; // fatal, error, warn
      const prefix = obj.level <= 0 ? "error: " : obj.level === 1 ? "warning: " : "";
      const out = consoleOutputs();
      (allToStderr || (isProblem && errorsToStderr) ? out.stderr : out.stdout).write(prefix + text + "\n");
    },
  };
}

export type Verbosity = "quiet" | "normal" | "verbose";

const LEVELS: Record<Verbosity, number> = { quiet: 1, normal: 3, verbose: 4 };

/** `stdoutReserved`: stdout carries something else (the events as JSON, --json), so every line goes to stderr. */
export function createLogger(verbosity: Verbosity = "normal", o: { stdoutReserved?: boolean } = {}): ConsolaInstance {
  // The level is explicit: consola would otherwise drop to warnings under NODE_ENV=test.
  return createConsola({
    level: LEVELS[verbosity],
    throttle: 0,
    reporters: [plainReporter(true, o.stdoutReserved === true)],
  });
}

/** The logger for command-line errors, before any option is parsed. */
export const cliLog = createLogger("normal");
