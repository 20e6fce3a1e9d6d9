// `--syslog URL`: every event as one RFC 5424 message, over UDP (RFC 5426), TCP (RFC 6587 octet counting)
// or a local unix socket (/dev/log: datagrams; a stream socket there gets one message per line).
//
//   <PRI>1 TIMESTAMP HOSTNAME micetrap PID ACTION [meta sequenceId="N"] {ECS JSON}
//
// The MSG is the event's ECS JSON line, exactly as the JSONL file has it: what SIEMs and rsyslog's
// mmjsonparse parse, with no second format to learn. It is sent without a BOM (a BOM in front of JSON
// breaks JSON readers); ecsLine escapes every control character, so a frame never holds a raw newline or
// NUL. PRI is the facility (local0 unless `?facility=`) and a severity by action: warning for a login,
// err for an error, notice for a refusal, info for the rest. MSGID is the action, and the `meta`
// sequenceId (RFC 5424 7.3.1) numbers the messages, so a receiver sees a loss or a reordering (UDP).
//
// A message longer than the target's size (`?max=`, by default 8096 bytes: rsyslog's default maxMessageSize)
// is shortened to fit, as a whole JSON document: the payload's text, then its base64, then any string
// over 256 characters are cut, and `micetrap.syslog.cut` names what was; the JSONL file keeps all of it.
//
// Nothing here waits on the receiver: messages queue in memory (10,000 or 16 MiB at most, then new ones
// are dropped and counted), TCP and unix sockets reconnect with backoff, and an outage is reported once
// when it starts and once when delivery works again. TCP has no acknowledgements: messages the kernel
// took before a connection broke may be lost; the one being written when it broke is sent again whole.
import { isIP } from "node:net";
import { hostname } from "node:os";
import { writeSync, closeSync } from "node:fs";
import { toEcs } from "../ecs.ts";
import type { EventSink, TrapEvent } from "../types.ts";
import { jsonLine } from "../../util/escape.ts";
import { backoff, BoundedQueue, Outage, renderOnce, type SinkHooks, type WriteFailure } from "./outage.ts";
import { connectUnixDatagram } from "./unix-dgram.ts";
import type { SyslogTarget } from "./url.ts";

export const SYSLOG_QUEUE_ITEMS = 10_000;
export const SYSLOG_QUEUE_BYTES = 16 * 1024 * 1024;

const SEVERITY: Partial<Record<TrapEvent["action"], number>> = { login: 4, error: 3, refused: 5 };
const INFO = 6;

export function severityOf(action: TrapEvent["action"]): number {
  return SEVERITY[action] ?? INFO;
}

/** RFC 5424 HOSTNAME: 1 to 255 printable ASCII characters, or "-". */
function headerHost(name: string): string {
  const clean = name.replace(/[^\x21-\x7e]/g, "").slice(0, 255);
  return clean === "" ? "-" : clean;
}

const HOST = headerHost(hostname());

export interface FormatOptions {
  facility: number;
  maxMessage: number;
  /** The `meta` sequenceId, 1 to 2147483647. */
  sequence: number;
  host?: string;
  pid?: number;
}

const CUT_STRING = 256;

/** The event's ECS document with what syslog could not carry cut, and named in micetrap.syslog.cut. */
function shortened(e: TrapEvent, room: number): string | undefined {
  const doc = toEcs(e);
  const m = doc.micetrap as Record<string, unknown>;
  const cut: string[] = [];
  m.syslog = { cut };
  const fits = () => {
    const line = jsonLine(doc);
    return Buffer.byteLength(line, "utf8") <= room ? line : undefined;
  };
  const payload = m.payload as Record<string, unknown> | undefined;
  if (payload) {
    for (const key of ["text", "base64"]) {
      if (payload[key] === undefined) continue;
      delete payload[key];
      cut.push(`micetrap.payload.${key}`);
      const line = fits();
      if (line) return line;
    }
  }
  const visit = (node: Record<string, unknown> | unknown[], path: string): void => {
    const list = Array.isArray(node);
    for (const k in node) {
      const v = (node as Record<string, unknown>)[k];
      const at = list ? path : path === "" ? k : `${path}.${k}`;
      if (typeof v === "string" && v.length > CUT_STRING) {
        // Never split a surrogate pair: the cut must stay well-formed text.
        const end = /[\ud800-\udbff]/.test(v[CUT_STRING - 1]!) ? CUT_STRING - 1 : CUT_STRING;
        (node as Record<string, unknown>)[k] = v.slice(0, end);
        if (!cut.includes(at)) cut.push(at);
      } else if (v !== null && typeof v === "object" && v !== cut) visit(v as Record<string, unknown>, at);
    }
  };
  visit(doc, "");
  return fits();
}

/**
 * One event as one RFC 5424 message (no framing), or undefined when even its shortened form is over
 * `maxMessage` bytes.
 */
export function syslogMessage(e: TrapEvent, o: FormatOptions): string | undefined {
  const pri = o.facility * 8 + severityOf(e.action);
  const header = `<${pri}>1 ${e.time.toISOString()} ${o.host ?? HOST} micetrap ${o.pid ?? process.pid} ${e.action} [meta sequenceId="${o.sequence}"] `;
  const room = o.maxMessage - Buffer.byteLength(header, "utf8");
  const line = renderOnce(e);
  if (line.length <= room && Buffer.byteLength(line, "utf8") <= room) return header + line;
  const short = shortened(e, room);
  return short === undefined ? undefined : header + short;
}

/** What a transport needs of its sink. */
interface Link {
  queue: BoundedQueue;
  outage: Outage;
  /** Sends what is queued as soon as the transport can (after a connect, a drain). */
  kick(): void;
}

interface Transport {
  /** Sends queued messages while it can; returns when it must wait. */
  pump(): void;
  /** Nothing held inside the transport (a frame half written). */
  idle(): boolean;
  close(): void;
}

const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
/** A peer that takes no byte for this long is given up on and connected to again. */
const STALL_MS = 30_000;

function errorCode(err: unknown): string {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code ?? (e?.message ? e.message.split("\n")[0]!.slice(0, 80) : String(err));
}

/** UDP: one datagram a message on a connected socket; ICMP refusals come back as errors and are counted. */
class UdpTransport implements Transport {
  private sock: import("bun").udp.ConnectedSocket<"buffer"> | undefined;
  private waiting = false;
  private closed = false;
  private attempt = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private lastError = 0;
  private check: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly link: Link,
    private readonly host: string,
    private readonly port: number,
  ) {
    this.open();
  }

  private open(): void {
    Bun.udpSocket({
      // The local end must be of the receiver's family (Bun binds IPv4 unless told otherwise).
      ...(isIP(this.host) === 6 ? { hostname: "::" } : {}),
      connect: { hostname: this.host, port: this.port },
      socket: {
        drain: () => {
          this.waiting = false;
          this.link.kick();
        },
        // Bun passes the error alone (the socket is `this`); the types say (socket, error).
        error: (a: unknown, b?: unknown) => {
          this.lastError = Date.now();
          this.link.outage.drop(1, errorCode(b instanceof Error ? b : a));
        },
      },
    }).then(
      (s) => {
        if (this.closed) return s.close();
        this.sock = s;
        this.attempt = 0;
        this.link.kick();
      },
      (err) => {
        this.link.outage.fail(errorCode(err));
        if (!this.closed) this.retry = setTimeout(() => this.open(), backoff(this.attempt++, RETRY_BASE_MS, RETRY_MAX_MS));
      },
    );
  }

  pump(): void {
    const q = this.link.queue;
    while (this.sock && !this.waiting && q.length > 0) {
      let sent: boolean;
      try {
        sent = this.sock.send(q.peek()!);
      } catch (err) {
        q.shift();
        this.link.outage.drop(1, errorCode(err));
        continue;
      }
      if (!sent) {
        this.waiting = true;
        return;
      }
      q.shift();
      // A refusal arrives after the datagram that drew it: delivery counts as working again once a
      // datagram sent a second ago drew none.
      if (this.link.outage.failing && !this.check) {
        const at = Date.now();
        this.check = setTimeout(() => {
          this.check = undefined;
          if (this.lastError < at) this.link.outage.ok();
          else this.link.kick();
        }, 1000);
      }
    }
  }

  idle(): boolean {
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.check) clearTimeout(this.check);
    this.sock?.close();
  }
}

/** A unix datagram socket (/dev/log): one write a message; EAGAIN waits, a receiver gone is reconnected. */
class UnixDatagramTransport implements Transport {
  private fd: number | undefined;
  private closed = false;
  private attempt = 0;
  /** EAGAINs in a row: the retry waits 2^busy ms, at most 64. */
  private busy = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly link: Link,
    private readonly path: string,
    /** Called when the socket turns out to be a stream socket. */
    private readonly isStream: () => void,
  ) {
    void this.open();
  }

  private async open(): Promise<void> {
    this.timer = undefined;
    const r = await connectUnixDatagram(this.path);
    if (this.closed) {
      if ("fd" in r) closeSync(r.fd);
      return;
    }
    if ("fd" in r) {
      this.fd = r.fd;
      this.attempt = 0;
      this.link.kick();
      return;
    }
    if (r.error === "EPROTOTYPE" || r.error === "ENOTSUP") return this.isStream();
    this.link.outage.fail(r.error);
    this.later(backoff(this.attempt++, RETRY_BASE_MS, RETRY_MAX_MS), () => void this.open());
  }

  private later(ms: number, fn: () => void): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      fn();
    }, ms);
  }

  pump(): void {
    const q = this.link.queue;
    while (this.fd !== undefined && !this.timer && q.length > 0) {
      try {
        writeSync(this.fd, Buffer.from(q.peek()!, "utf8"));
      } catch (err) {
        const code = errorCode(err);
        if (code === "EAGAIN" || code === "EWOULDBLOCK" || code === "ENOBUFS") {
          // The receiver is behind (Linux queues only net.unix.max_dgram_qlen datagrams, 10 by default):
          // try again shortly, never wait here; 1 ms at first, doubling to 64 ms while it stays full.
          this.later(Math.min(64, 2 ** this.busy++), () => this.link.kick());
          return;
        }
        if (code === "EMSGSIZE") {
          q.shift();
          this.link.outage.drop(1, code);
          continue;
        }
        // The receiver went away (restarted, socket removed): connect again, the message stays queued.
        closeSync(this.fd);
        this.fd = undefined;
        this.link.outage.fail(code);
        this.later(backoff(this.attempt++, RETRY_BASE_MS, RETRY_MAX_MS), () => void this.open());
        return;
      }
      q.shift();
      this.busy = 0;
      this.link.outage.ok();
    }
  }

  idle(): boolean {
    return true;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Frames being written: the bytes, where each frame ends, and how many bytes the socket took. */
interface Held {
  buf: Buffer;
  ends: number[];
  written: number;
}

/** A batch handed to the socket at once, at most (bigger frames go alone). */
const BATCH_BYTES = 256 * 1024;

/** TCP (octet counting: "LEN SP MSG") or a unix stream socket (one message per line). */
class StreamTransport implements Transport {
  private sock: import("bun").Socket<undefined> | undefined;
  private held: Held | undefined;
  private waiting = false;
  private closed = false;
  private connecting = false;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stall: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly link: Link,
    private readonly where: { hostname: string; port: number } | { unix: string },
    private readonly framing: "octet-counting" | "lf",
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.closed || this.connecting) return;
    this.connecting = true;
    let settled = false;
    const giveUp = setTimeout(() => {
      if (settled) return;
      settled = true;
      this.connecting = false;
      this.down("connect timeout");
    }, CONNECT_TIMEOUT_MS);
    const handlers = {
      open: () => {},
      data: () => {}, // a receiver has nothing to say; whatever it sends is read and ignored
      drain: () => {
        // Progress: the stall clock starts again at the next partial write.
        if (this.stall) clearTimeout(this.stall);
        this.stall = undefined;
        this.waiting = false;
        this.pump();
      },
      close: (s: import("bun").Socket<undefined>) => {
        if (s === this.sock) this.lost("closed by the receiver");
      },
      end: (s: import("bun").Socket<undefined>) => {
        s.end();
      },
      error: (s: import("bun").Socket<undefined>, err: Error) => {
        if (s === this.sock) this.lost(errorCode(err));
      },
      connectError: (_s: unknown, err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(giveUp);
        this.connecting = false;
        this.down(errorCode(err));
      },
    };
    const opts = "unix" in this.where ? { unix: this.where.unix, socket: handlers } : { ...this.where, socket: handlers };
    (Bun.connect(opts as Parameters<typeof Bun.connect>[0]) as Promise<import("bun").Socket<undefined>>).then(
      (s) => {
        if (settled || this.closed) return void s.end();
        settled = true;
        clearTimeout(giveUp);
        this.connecting = false;
        this.sock = s;
        this.waiting = false;
        this.attempt = 0;
        this.pump();
      },
      (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(giveUp);
        this.connecting = false;
        this.down(errorCode(err));
      },
    );
  }

  /** Not connected: report, then try again after a while. */
  private down(code: string): void {
    this.link.outage.fail(code);
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, backoff(this.attempt++, RETRY_BASE_MS, RETRY_MAX_MS));
  }

  /** The connection broke: the frame being written goes again whole on the next one. */
  private lost(code: string): void {
    const s = this.sock;
    this.sock = undefined;
    this.waiting = false;
    if (this.stall) clearTimeout(this.stall);
    this.stall = undefined;
    try {
      s?.terminate();
    } catch {
      // already gone
    }
    const h = this.held;
    if (h) {
      const i = h.ends.findIndex((end) => end > h.written);
      if (i < 0) this.held = undefined;
      else {
        const start = i === 0 ? 0 : h.ends[i - 1]!;
        this.held = { buf: h.buf.subarray(start), ends: h.ends.slice(i).map((e) => e - start), written: 0 };
      }
    }
    this.down(code);
  }

  pump(): void {
    const q = this.link.queue;
    while (this.sock && !this.waiting) {
      if (!this.held) {
        if (q.length === 0) return;
        // One string, one encoding: "LEN SP MSG" (LEN in bytes) or "MSG LF"; LEN, SP and LF are ASCII.
        const parts: string[] = [];
        const ends: number[] = [];
        let size = 0;
        while (q.length > 0 && (ends.length === 0 || size < BATCH_BYTES)) {
          const msg = q.shift()!;
          const bytes = Buffer.byteLength(msg, "utf8");
          if (this.framing === "lf") {
            parts.push(msg, "\n");
            size += bytes + 1;
          } else {
            const head = `${bytes} `;
            parts.push(head, msg);
            size += head.length + bytes;
          }
          ends.push(size);
        }
        this.held = { buf: Buffer.from(parts.join(""), "utf8"), ends, written: 0 };
      }
      const h = this.held;
      const n = this.sock.write(h.buf.subarray(h.written));
      h.written += Math.max(0, n);
      if (h.written < h.buf.length) {
        this.waiting = true;
        this.stall ??= setTimeout(() => {
          this.stall = undefined;
          if (this.waiting) this.lost("receiver stalled");
        }, STALL_MS);
        return;
      }
      this.held = undefined;
      if (this.stall) clearTimeout(this.stall);
      this.stall = undefined;
      this.link.outage.ok();
    }
  }

  idle(): boolean {
    return this.held === undefined;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.stall) clearTimeout(this.stall);
    const s = this.sock;
    this.sock = undefined;
    s?.end();
  }
}

export interface SyslogOptions extends SinkHooks {
  maxItems?: number;
  maxBytes?: number;
}

export class SyslogSink implements EventSink {
  readonly name: string;
  private readonly link: Link;
  private transport: Transport;
  private sequence = 0;
  private scheduled = false;
  private closed = false;

  constructor(
    readonly target: SyslogTarget,
    o: SyslogOptions = {},
  ) {
    this.name = `syslog ${target.display}`;
    this.link = {
      queue: new BoundedQueue(o.maxItems ?? SYSLOG_QUEUE_ITEMS, o.maxBytes ?? SYSLOG_QUEUE_BYTES),
      outage: new Outage(o),
      kick: () => this.schedule(),
    };
    this.transport = this.makeTransport();
  }

  private makeTransport(): Transport {
    const t = this.target;
    if (t.transport === "udp") return new UdpTransport(this.link, t.host!, t.port!);
    if (t.transport === "tcp") return new StreamTransport(this.link, { hostname: t.host!, port: t.port! }, "octet-counting");
    return new UnixDatagramTransport(this.link, t.path!, () => {
      if (!this.closed) this.transport = new StreamTransport(this.link, { unix: t.path! }, "lf");
    });
  }

  get dropped(): number {
    return this.link.outage.dropped;
  }

  get failing(): WriteFailure | undefined {
    return this.link.outage.failing;
  }

  get pending(): number {
    return this.link.queue.length;
  }

  emit(event: TrapEvent): void {
    if (this.closed) return;
    this.sequence = this.sequence >= 2_147_483_647 ? 1 : this.sequence + 1;
    let msg: string | undefined;
    try {
      msg = syslogMessage(event, { facility: this.target.facility, maxMessage: this.target.maxMessage, sequence: this.sequence });
    } catch {
      msg = undefined;
    }
    if (msg === undefined) return this.link.outage.drop(1, "event too large");
    if (!this.link.queue.push(msg)) return this.link.outage.drop(1, "queue full");
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.transport.pump();
    });
  }

  async flushWithin(ms: number): Promise<void> {
    const end = Date.now() + ms;
    this.transport.pump();
    while ((this.link.queue.length > 0 || !this.transport.idle()) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 10));
      this.transport.pump();
    }
  }

  close(): void {
    if (this.closed) return;
    this.transport.pump();
    this.closed = true;
    this.link.outage.lose(this.link.queue.clear());
    this.transport.close();
  }
}
