// The durable record: one ECS JSON object per line, appended to a file.
//
// Lines are buffered and written together once per turn of the event loop (and at exit), so a burst of
// events is one write, not one syscall each. A line is never left half written: a short write keeps the
// unwritten rest to write first next time, and a write that fails (disk full, quota) keeps everything
// in memory up to `maxBuffer` bytes, then drops whole new lines and counts them. The owner hears of a
// failure once when it starts (`onFail`) and once when writing works again (`onRecover`, with the count
// dropped meanwhile), and retries once a second in between. `reopen()` (SIGHUP) moves to a new file of
// the same name, for logrotate: what the old file was owed is written to it first.
import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from "node:fs";
import { ecsLine } from "./ecs.ts";
import type { EventSink, TrapEvent } from "./types.ts";

/** The file operations the sink uses; tests count or fail them. */
export interface FileIo {
  open(path: string): number;
  write(fd: number, data: Uint8Array): number;
  close(fd: number): void;
  /** Cuts a half-written line off the end of the file (only ever as the sink closes a file for good). */
  truncateTail(fd: number, bytes: number): void;
}

export const fsIo: FileIo = {
  open: (path) => openSync(path, "a", 0o640),
  write: (fd, data) => writeSync(fd, data),
  close: (fd) => closeSync(fd),
  truncateTail: (fd, bytes) => ftruncateSync(fd, Math.max(0, fstatSync(fd).size - bytes)),
};

export interface WriteFailure {
  /** The system's error code (ENOSPC, EDQUOT, EIO…). */
  code: string;
  since: Date;
  /** Whole lines dropped because the buffer was full. */
  dropped: number;
}

export interface JsonlOptions {
  io?: FileIo;
  /** Bytes held in memory while the file cannot take them (default 16 MiB). */
  maxBuffer?: number;
  /** Milliseconds between retries while writes fail (default 1000). */
  retryMs?: number;
  onFail?: (f: WriteFailure) => void;
  onRecover?: (f: WriteFailure) => void;
}

const NEWLINE = 0x0a;

export class JsonlSink implements EventSink {
  private fd: number | undefined;
  private readonly io: FileIo;
  private readonly maxBuffer: number;
  private readonly retryMs: number;
  /** Lines not yet handed to the kernel, in order. */
  private lines: string[] = [];
  private lineBytes = 0;
  /** Bytes from an earlier flush the file did not take; `written` of them (a line's start) are in the file. */
  private held: Uint8Array | undefined;
  private written = 0;
  private scheduled = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private failure: WriteFailure | undefined;
  /** Write calls made, for the curious (tests, benchmarks). */
  writes = 0;
  /** Whole lines dropped because the buffer was full, over the sink's life. */
  dropped = 0;

  constructor(
    readonly path: string,
    private readonly o: JsonlOptions = {},
  ) {
    this.io = o.io ?? fsIo;
    this.maxBuffer = o.maxBuffer ?? 16 * 1024 * 1024;
    this.retryMs = o.retryMs ?? 1000;
    this.fd = this.io.open(path);
  }

  get pendingBytes(): number {
    return this.lineBytes + (this.held ? this.held.length - this.written : 0);
  }

  /** Lines not yet handed to the kernel (whole or in part), for the metrics' queue depth. */
  get pendingLines(): number {
    let n = this.lines.length;
    if (this.held) {
      // Only while the file fails: held is what one write did not take, lines ending in newlines.
      for (let i = this.held.indexOf(NEWLINE, this.written); i >= 0; i = this.held.indexOf(NEWLINE, i + 1)) n++;
    }
    return n;
  }

  get failing(): WriteFailure | undefined {
    return this.failure;
  }

  emit(event: TrapEvent): void {
    if (this.fd === undefined) return;
    this.push(ecsLine(event) + "\n");
  }

  /** Queues one complete line (ending in a newline), or drops it with a count when the buffer is full. */
  private push(line: string): void {
    // Length in UTF-16 units bounds the UTF-8 size within a factor of 3; ECS lines are almost all ASCII.
    const fits = () => this.pendingBytes + line.length <= this.maxBuffer;
    // More than the bound in one turn of the loop while the file takes writes: write now rather than drop.
    if (!fits() && !this.failure) this.flush();
    if (!fits()) {
      this.dropped++;
      if (this.failure) this.failure.dropped++;
      return;
    }
    this.lines.push(line);
    this.lineBytes += line.length;
    if (!this.scheduled && !this.failure) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes everything pending now. Returns true when nothing is left. */
  flush(): boolean {
    if (this.fd === undefined) return true;
    if (this.lines.length > 0) {
      const fresh = Buffer.from(this.lines.join(""), "utf8");
      this.lines = [];
      this.lineBytes = 0;
      if (this.held) {
        const both = new Uint8Array(this.held.length + fresh.length);
        both.set(this.held, 0);
        both.set(fresh, this.held.length);
        this.held = both;
      } else {
        this.held = fresh;
        this.written = 0;
      }
    }
    const buf = this.held;
    if (!buf) return true;
    while (this.written < buf.length) {
      let n: number;
      try {
        this.writes++;
        n = this.io.write(this.fd, buf.subarray(this.written));
      } catch (err) {
        this.failed((err as NodeJS.ErrnoException).code ?? (err as Error).message);
        return false;
      }
      if (n <= 0) {
        this.failed("EIO");
        return false;
      }
      this.written += n;
    }
    this.held = undefined;
    this.written = 0;
    if (this.failure) this.recovered();
    return true;
  }

  private failed(code: string): void {
    // Keep only from the start of the line being written: what the file has of it is `written` bytes in.
    const buf = this.held!;
    const lineStart = this.written > 0 ? buf.lastIndexOf(NEWLINE, this.written - 1) + 1 : 0;
    if (lineStart > 0) {
      this.held = buf.subarray(lineStart);
      this.written -= lineStart;
    }
    if (!this.failure) {
      this.failure = { code, since: new Date(), dropped: 0 };
      this.o.onFail?.(this.failure);
    }
    this.retry ??= setTimeout(() => {
      this.retry = undefined;
      this.flush();
    }, this.retryMs);
  }

  private recovered(): void {
    const f = this.failure!;
    this.failure = undefined;
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.o.onRecover?.(f);
  }

  /** Writes what it can, then cuts any half-written line off the file so it ends with a whole line. */
  private finishFile(fd: number): void {
    this.flush();
    if (this.held && this.written > 0) {
      try {
        this.io.truncateTail(fd, this.written);
        this.written = 0;
      } catch {
        // the file keeps a half line; its next line starts on the same line
      }
    }
  }

  /** SIGHUP: finish the old file, then append to a new one at the same path (logrotate moved the old). */
  reopen(): void {
    if (this.fd === undefined) return;
    const next = this.io.open(this.path); // throws if it cannot: the old file stays in use
    const old = this.fd;
    this.finishFile(old);
    this.io.close(old);
    this.fd = next;
    if (this.held || this.lines.length) this.flush();
  }

  close(): void {
    if (this.fd === undefined) return;
    this.finishFile(this.fd);
    if (this.retry) clearTimeout(this.retry);
    this.retry = undefined;
    this.io.close(this.fd);
    this.fd = undefined;
  }
}
