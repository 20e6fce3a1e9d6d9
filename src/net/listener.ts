// The only code that touches sockets: one Bun.listen per port, one Session per connection.
// Everything a peer does is bounded here: bytes kept, bytes accepted, time idle, sessions at once.
import type { Socket, TCPSocketListener } from "bun";
import type { EventSink, TrapEvent } from "../events/types.ts";
import { cliLog } from "../log.ts";
import { HostCounters } from "../host/counters.ts";
import { hostFacts, type HostFacts } from "../host/facts.ts";
import { makeContext } from "../services/context.ts";
import { realClock, SessionDriver } from "../services/driver.ts";
import { preparedFor, startSession } from "../services/index.ts";
import type { CatalogEntry, ProtocolEvent, ProtocolSession } from "../types.ts";
import { Governor } from "./governor.ts";
import { isPlainHttpRequest, secureContextFor, TlsLayer } from "./tls.ts";
import type { SecureContext } from "node:tls";
import { isIP } from "node:net";

export interface Limits {
  /**
   * Seconds without any byte from the peer before the trap drops the session, whatever the service. Each
   * service has its own, shorter idle timeout with its daemon's words (a session timer); this is the
   * outer bound for all of them.
   */
  idleSeconds: number;
  /** Bytes kept as evidence per session in each direction; the rest is counted, not kept. */
  keepBytes: number;
  /** Bytes kept as evidence per session, both directions together. */
  keepTotal: number;
  /** Incoming bytes after which the session is closed (a flood is not a client). */
  maxBytesIn: number;
  /** Outgoing bytes that may wait for a slow reader before the session is dropped. */
  maxPendingOut: number;
  /** Sessions at once per listener; more are refused at once (and counted in a `refused` event). */
  maxSessions: number;
  /** Sessions at once from one source address, so one source cannot take every slot from the others. */
  maxPerSource: number;
  /** Command and login events logged per session; past these, they are only counted (in the close event). */
  maxCommandsPerSession: number;
  maxLoginsPerSession: number;
  /** Longest life of one session, however active: a drip-feeding client ends here. */
  maxSessionSeconds: number;
}

/** Bytes kept from a connection waiting one turn for a slot (a request line fits). */
const WAITING_KEEP = 16 * 1024;

/** How long a closing session may wait for its peer to take the last bytes before it is cut off. */
const CLOSE_GRACE_MS = 10_000;

export const DEFAULT_LIMITS: Limits = {
  idleSeconds: 1000,
  keepBytes: 64 * 1024,
  keepTotal: 96 * 1024,
  maxBytesIn: 1024 * 1024,
  maxPendingOut: 256 * 1024,
  maxSessions: 1024,
  maxPerSource: 512,
  maxCommandsPerSession: 1000,
  maxLoginsPerSession: 1000,
  maxSessionSeconds: 3600,
};

export interface TrapOptions {
  entry: CatalogEntry;
  hostname: string;
  port: number;
  hostSeed: string;
  /** The fake host's facts (derived from hostSeed and the entry's OS when absent). */
  host?: HostFacts;
  /** The host's counters, shared by every trap of one host (a pid grows across services). */
  counters?: HostCounters;
  /** The persona `serve` runs, for the events. */
  persona?: string;
  sink: EventSink;
  limits?: Partial<Limits>;
  /** The process-wide limits, shared by every trap of the process (its own when absent). */
  governor?: Governor;
  /** Watches every session (`micetrap record`); may fix a session's randomness and clock. */
  observer?: SessionObserver;
}

export interface SessionStart {
  id: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export interface SessionObserver {
  start(info: SessionStart): { sessionSeed?: string; now?: () => Date } | undefined;
  /** A counter value the session drew, and how many sessions were open: replay hands them back. */
  fact?(id: string, name: string, value: number): void;
  /** Bytes the protocol was given ("in") or wrote ("out"), with milliseconds since accept. */
  exchange(id: string, direction: "in" | "out", bytes: Uint8Array, atMs: number, how?: "plainOnTls"): void;
  /** The session went opaque here (Reply.opaque): replay compares what follows only in summary. */
  opaque?(id: string, what: string, atMs: number): void;
  end(id: string, reason: string, atMs: number): void;
}

interface Session {
  id: string;
  driver: SessionDriver;
  /** Bytes of the process's memory budget this session's parsers hold (as last counted). */
  heldIn: number;
  /** When unread output started to wait (0: none waits): a peer that stops reading is idle too. */
  stalledSince: number;
  started: number;
  bytesIn: number;
  bytesOut: number;
  kept: number;
  notKept: number;
  keptOut: number;
  pendingOut: Uint8Array[];
  pendingBytes: number;
  closing: boolean;
  reason: string | undefined;
  remoteIp: string;
  remotePort: number;
  /** The local address the connection came in on (IPv4-mapped IPv6 shown as IPv4), for destination.ip. */
  localIp: string;
  /** The event fields of every event of the session, made once. */
  source: { ip: string; port: number };
  destination: { ip: string; port: number };
  /** Set once the session speaks TLS: the session reads and writes plaintext through it. */
  tls: TlsLayer | undefined;
  /** Once the handshake completed: the session's tls.* (established, version, cipher, SNI), on every later event. */
  tlsFields: TrapEvent["tls"] | undefined;
  /** Whether a TLS face has seen the peer's first bytes (a plain HTTP request there is answered in plain). */
  tlsFirstSeen: boolean;
  /** Once the session is closing it no longer holds a slot of the port or of its source. */
  released: boolean;
  /** Command and login events logged, and those only counted past the per-session caps. */
  commands: number;
  logins: number;
  droppedCommands: number;
  droppedLogins: number;
  /** Ends a closing session whose peer never takes what is left to send. */
  closeDeadline: ReturnType<typeof setTimeout> | undefined;
}

/** IPv4 peers of a dual-stack socket appear as ::ffff:a.b.c.d; log them as the IPv4 address they are. */
export function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

let sessionCounter = 0;
/** Random words for session ids, drawn 256 at a time (one call to the system's generator, not one a session). */
const idRandom = new Uint32Array(256);
let idRandomUsed = idRandom.length;
function newSessionId(): string {
  // Unique within and across runs: time plus a counter plus randomness, short enough to read.
  if (idRandomUsed === idRandom.length) {
    crypto.getRandomValues(idRandom);
    idRandomUsed = 0;
  }
  sessionCounter = (sessionCounter + 1) % 0x10000;
  return `${Date.now().toString(36)}-${sessionCounter.toString(36)}-${idRandom[idRandomUsed++]!.toString(16).padStart(8, "0")}`;
}

export class Trap {
  readonly entry: CatalogEntry;
  private listener: TCPSocketListener<Session> | undefined;
  private readonly sessions = new Set<Socket<Session>>();
  /** Sessions not yet closing, per source address and in all: the slots the limits count. */
  private readonly perSource = new Map<string, number>();
  private live = 0;
  /** Connections over a limit, held for one turn of the loop (bytes they send meanwhile are kept, a little). */
  private readonly waiting = new Map<Socket<Session>, { ip: string; chunks: Uint8Array[]; bytes: number; ended: boolean; closed: boolean }>();
  private readonly governor: Governor;
  /** Every event's host, made once. */
  private readonly hostRef: { name: string; release: string };
  /** The address the trap is bound to when it is one address (not a wildcard): a session's local address. */
  private readonly boundIp: string | undefined;
  private waitScheduled = false;
  /** Refusals not yet logged, per source and reason; summarised once a second, so a flood logs a line a second. */
  private refusals = new Map<string, { ip: string; reason: string; count: number }>();
  private refusalTimer: ReturnType<typeof setTimeout> | undefined;
  /** Connections reset by their peers before they could be read, not yet logged. */
  private abortedCount = 0;
  private readonly limits: Limits;
  private stopping = false;
  readonly host: HostFacts;
  private readonly counters: HostCounters;
  private prepared: unknown;
  private tlsContext: SecureContext | undefined;

  constructor(private readonly o: TrapOptions) {
    this.entry = o.entry;
    this.limits = { ...DEFAULT_LIMITS, ...o.limits };
    this.governor = o.governor ?? new Governor();
    this.host = o.host ?? hostFacts({ seed: o.hostSeed, family: o.entry.os });
    this.hostRef = { name: this.host.hostname, release: this.host.release };
    this.boundIp = isIP(o.hostname) && o.hostname !== "::" && o.hostname !== "0.0.0.0" ? normalizeIp(o.hostname) : undefined;
    this.counters = o.counters ?? new HostCounters(this.host);
  }

  get port(): number {
    return this.listener?.port ?? this.o.port;
  }

  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Bytes received and sent so far by the sessions open now (each one's close event carries its totals). */
  openSessionBytes(): { bytesIn: number; bytesOut: number } {
    let bytesIn = 0;
    let bytesOut = 0;
    for (const socket of this.sessions) {
      const s = socket.data;
      if (!s) continue;
      bytesIn += s.bytesIn;
      bytesOut += s.bytesOut;
    }
    return { bytesIn, bytesOut };
  }

  /**
   * Emits an event: the trap's fields are set on `partial` itself (no copies; a connection makes three
   * events). Sinks never change an event, so the shared parts (host, a session's source) are shared; the
   * one addition, GeoEnricher's source.geo/source.as, is the same for every event of the source.
   */
  private event(partial: Omit<TrapEvent, "time" | "service" | "entry" | "destination"> & { destination?: TrapEvent["destination"] }): void {
    const e = partial as TrapEvent;
    e.time = new Date();
    e.service = this.entry.service;
    e.entry = this.entry;
    e.host = this.hostRef;
    if (this.o.persona !== undefined) e.persona = this.o.persona;
    // Not a session's (refused, aborted, a listener's own error): a trap bound to one address knows it.
    e.destination ??= this.boundIp !== undefined ? { ip: this.boundIp, port: this.port } : { port: this.port };
    try {
      this.o.sink.emit(e);
    } catch (err) {
      // A sink failure (disk full) must not take the trap down; say so once on stderr.
      cliLog.error(`could not write event: ${(err as Error).message}`);
    }
  }

  /** Where a session's events say it came in: its local address and the trap's port. */
  /** An event of one session: its id, its peer and the address it came in on. */
  private sessionEvent(s: Session, partial: Omit<TrapEvent, "time" | "service" | "entry" | "destination" | "sessionId" | "source">): void {
    const e = partial as TrapEvent;
    e.sessionId = s.id;
    e.source = s.source;
    e.destination = s.destination;
    // A login or a command over TLS says so: the handshake's outcome rides on every later event.
    if (s.tlsFields !== undefined && e.tls === undefined) e.tls = s.tlsFields;
    this.event(e);
  }

  /** Binds the port. Throws the system error (EADDRINUSE, EACCES) for the caller to explain. */
  start(): void {
    // Host keys and certificates are made before the port opens, so the first client waits for nothing.
    this.prepared = preparedFor(this.entry, this.host);
    if (this.entry.tls) this.tlsContext = secureContextFor(this.entry.tls, this.host);
    // The listening event is written before the port accepts anything.
    this.listener = Bun.listen<Session>({
      hostname: this.o.hostname,
      port: this.o.port,
      exclusive: true,
      socket: {
        open: (socket) => this.onOpen(socket),
        data: (socket, chunk) => this.onData(socket, chunk),
        drain: (socket) => this.flush(socket),
        timeout: (socket) => this.finish(socket, "idle timeout"),
        end: (socket) => this.finish(socket, "peer closed"),
        close: (socket) => this.onClose(socket),
        error: (socket, err) => {
          if (socket.data) socket.data.reason ??= `socket error: ${err.message}`;
        },
      },
    });
    this.event({ action: "listening", destination: { ip: this.o.hostname, port: this.listener.port } });
  }

  /** Which limit a new connection from `ip` would pass, if any. */
  private refusalFor(ip: string): string | undefined {
    return this.stopping
      ? "shutting down"
      : this.live >= this.limits.maxSessions
        ? "too many sessions"
        : (this.perSource.get(ip) ?? 0) >= this.limits.maxPerSource
          ? "too many sessions from this source"
          : this.governor.sessions >= this.governor.limits.maxTotalSessions
            ? "too many sessions in the process"
            : undefined;
  }

  private onOpen(socket: Socket<Session>): void {
    // A peer that reset the connection before the trap got to it has no address left to read (Bun gives
    // undefined): it is counted, so every accepted connection is in the log.
    if (!socket.remoteAddress) {
      socket.terminate();
      this.abortedCount++;
      this.refusalTimer ??= setTimeout(() => this.flushRefusals(), 1000);
      return;
    }
    const remoteIp = normalizeIp(socket.remoteAddress);
    if (this.refusalFor(remoteIp) === undefined) {
      this.admitIfAllowed(socket, remoteIp);
      return;
    }
    // Over a limit: Bun accepts in batches, and the sessions that fill the slots may have ended in the same
    // batch, their ends not yet read. Decide on the next turn of the loop, once those ends are in.
    if (this.stopping || this.waiting.size >= this.limits.maxSessions) {
      socket.terminate();
      this.refuse(remoteIp, this.refusalFor(remoteIp)!);
      return;
    }
    this.waiting.set(socket, { ip: remoteIp, chunks: [], bytes: 0, ended: false, closed: false });
    if (!this.waitScheduled) {
      this.waitScheduled = true;
      setImmediate(() => this.decideWaiting());
    }
  }

  /** The waiting connections, in arrival order: admitted where a slot came free, refused (and counted) otherwise. */
  private decideWaiting(): void {
    this.waitScheduled = false;
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const [socket, w] of waiting) {
      this.governor.release(w.bytes);
      const refusal = this.refusalFor(w.ip);
      if (refusal !== undefined) {
        if (!w.closed) socket.terminate();
        this.refuse(w.ip, refusal);
        continue;
      }
      if (!this.admitIfAllowed(socket, w.ip, w.closed)) continue;
      for (const chunk of w.chunks) this.onData(socket, chunk);
      if (w.closed) this.onClose(socket);
      else if (w.ended) this.finish(socket, "peer closed");
    }
  }

  /** A connection the port has room for still passes the process's limits (its source's rate and output budget). */
  private admitIfAllowed(socket: Socket<Session>, remoteIp: string, gone = false): boolean {
    const refusal = this.governor.admit(remoteIp);
    if (refusal === undefined) {
      this.admit(socket, remoteIp);
      return true;
    }
    if (!gone) socket.terminate();
    this.refuse(remoteIp, refusal);
    return false;
  }

  private admit(socket: Socket<Session>, remoteIp: string): void {
    this.perSource.set(remoteIp, (this.perSource.get(remoteIp) ?? 0) + 1);
    this.live++;
    this.governor.sessions++;
    const id = newSessionId();
    // Each of these is a system call (getpeername, getsockname): read once. A trap bound to one address
    // knows its local address without asking.
    const remotePort = socket.remotePort;
    const where: SessionStart = {
      id,
      localAddress: this.boundIp ?? normalizeIp(socket.localAddress ?? this.o.hostname),
      localPort: this.port,
      remoteAddress: remoteIp,
      remotePort,
    };
    const fixed = this.o.observer?.start(where);
    const concurrent = this.sessions.size + 1;
    this.o.observer?.fact?.(id, "concurrent", concurrent);
    const ctx = makeContext({
      entry: this.entry,
      hostSeed: this.o.hostSeed,
      host: this.host,
      concurrent,
      counter: (name, spec) => {
        const value = this.counters.next(name, spec);
        this.o.observer?.fact?.(id, name, value);
        return value;
      },
      localAddress: where.localAddress,
      localPort: where.localPort,
      remoteAddress: where.remoteAddress,
      remotePort: where.remotePort,
      ...(fixed?.sessionSeed !== undefined ? { sessionSeed: fixed.sessionSeed } : {}),
      ...(fixed?.now !== undefined ? { now: fixed.now } : {}),
    });
    // A session that cannot even start (a module that fails to load) still leaves its connection, the
    // error and its close in the log: it is reset at once instead of vanishing from the open handler.
    let protocol: ProtocolSession;
    let startError: string | undefined;
    try {
      protocol = startSession(this.prepared === undefined ? ctx : { ...ctx, prepared: this.prepared });
    } catch (err) {
      startError = (err as Error)?.message ?? String(err);
      protocol = { open: () => ({ close: "reset" }), data: () => ({}) };
    }
    const session: Session = {
      id,
      driver: undefined as unknown as SessionDriver,
      heldIn: 0,
      stalledSince: 0,
      started: performance.now(),
      bytesIn: 0,
      bytesOut: 0,
      kept: 0,
      notKept: 0,
      keptOut: 0,
      pendingOut: [],
      pendingBytes: 0,
      closing: false,
      reason: undefined,
      remoteIp,
      remotePort,
      localIp: where.localAddress,
      source: { ip: remoteIp, port: remotePort },
      destination: { ip: where.localAddress, port: this.port },
      tls: undefined,
      tlsFields: undefined,
      tlsFirstSeen: false,
      released: false,
      closeDeadline: undefined,
      commands: 0,
      logins: 0,
      droppedCommands: 0,
      droppedLogins: 0,
    };
    session.driver = new SessionDriver(protocol, realClock, {
      // Recorded when the protocol really gets it (after any wait), so a replay feeds exactly what it saw.
      input: (bytes, how) => this.o.observer?.exchange(id, "in", bytes, performance.now() - session.started, how),
      write: (bytes) => this.send(socket, bytes),
      events: (events) => this.protocolEvents(session, events),
      startTls: () => this.startTls(socket),
      opaque: (what) => this.o.observer?.opaque?.(id, what, performance.now() - session.started),
      close: (how) => (how === "reset" ? this.reset(socket, "reset by service") : this.finish(socket, "closed by service")),
      error: (err) => {
        this.sessionEvent(session, { action: "error", message: `protocol error: ${err.message}` });
        this.finish(socket, "protocol error");
      },
    });
    socket.data = session;
    this.sessions.add(socket);
    socket.timeout(this.limits.idleSeconds);
    this.sessionEvent(session, { action: "connection" });
    if (startError !== undefined) {
      session.reason = "protocol error";
      this.sessionEvent(session, { action: "error", message: `protocol error: the session could not start: ${startError}` });
    }
    if (this.entry.tls?.mode === "first-byte") this.startTls(socket);
    session.driver.open();
  }

  private onData(socket: Socket<Session>, chunk: Uint8Array): void {
    const s = socket.data;
    if (!s) {
      const w = this.waiting.get(socket);
      const take = w ? Math.min(chunk.length, WAITING_KEEP - w.bytes) : 0;
      if (w && take > 0 && this.governor.hold(take)) {
        w.chunks.push(chunk.slice(0, take));
        w.bytes += take;
      }
      return;
    }
    if (s.closing) return;
    s.bytesIn += chunk.length;
    // Bun's socket timeout does not restart on traffic: restart it, so only silence ends a session.
    socket.timeout(this.limits.idleSeconds);
    const now = performance.now();
    if (now - s.started > this.limits.maxSessionSeconds * 1000) {
      this.finish(socket, "session time cap reached");
      return;
    }
    // Sending is not the same as being there: a peer that has not read for the idle time is gone.
    if (s.stalledSince > 0 && now - s.stalledSince > this.limits.idleSeconds * 1000) {
      this.finish(socket, "peer not reading");
      return;
    }
    if (s.bytesIn > this.limits.maxBytesIn) {
      // Evidence up to the cap; every byte not kept is counted, those past the cap too. (A TLS session's
      // records are not its evidence: its plaintext is, counted as the layer hands it over.)
      const room = Math.max(0, chunk.length - (s.bytesIn - this.limits.maxBytesIn));
      if (!s.tls) s.notKept += chunk.length - this.keep(s, "in", chunk.subarray(0, room));
      this.finish(socket, "input cap reached");
      return;
    }
    // A plain HTTP request where the handshake should be: the product answers it in plain (Apache's
    // "speaking plain HTTP" page), if it does; otherwise the handshake fails on it.
    if (s.tls && !s.tlsFirstSeen) {
      s.tlsFirstSeen = true;
      if (chunk.length >= 5 && isPlainHttpRequest(chunk) && s.driver.answersPlainOnTls && this.entry.tls?.mode === "first-byte") {
        s.tls.destroy();
        s.tls = undefined;
        s.notKept += chunk.length - this.keep(s, "in", chunk);
        s.driver.plainOnTls(chunk);
        this.countHeld(socket);
        return;
      }
    }
    // Under TLS the evidence is the plaintext, logged when the layer hands it over.
    if (s.tls) {
      s.tls.fromPeer(chunk);
      return;
    }
    s.notKept += chunk.length - this.keep(s, "in", chunk);
    s.driver.data(chunk);
    this.countHeld(socket);
  }

  /** What the session's parsers hold now, against the process's memory budget; over it, the session ends. */
  private countHeld(socket: Socket<Session>): void {
    const s = socket.data;
    if (!s || s.closing) return;
    const now = s.driver.buffered;
    const more = now - s.heldIn;
    if (more <= 0) {
      this.governor.release(-more);
      s.heldIn = now;
    } else if (this.governor.hold(more)) {
      s.heldIn = now;
    } else {
      this.finish(socket, "memory budget reached");
    }
  }

  /** From here on the session's bytes go through TLS with the face's certificate. */
  private startTls(socket: Socket<Session>): void {
    const s = socket.data;
    if (!s || s.tls || s.closing) return;
    const context = this.tlsContext;
    if (!context) {
      this.finish(socket, "TLS asked for on a face without a certificate");
      return;
    }
    s.tls = new TlsLayer(context, {
      plaintext: (bytes) => {
        if (s.closing) return;
        s.notKept += bytes.length - this.keep(s, "in", bytes);
        s.driver.data(bytes);
        this.countHeld(socket);
      },
      ciphertext: (bytes) => this.sendRaw(socket, bytes),
      secure: (info) => {
        this.sessionEvent(s, { action: "tls", tls: { established: true, ...info } });
        s.tlsFields = { established: true, version: info.version, cipher: info.cipher, ...(info.serverName !== undefined ? { serverName: info.serverName } : {}) };
      },
      failed: (message, raw, hello) => {
        this.sessionEvent(s, { action: "tls", tls: { established: false, ...hello }, message: `TLS handshake failed: ${message}` });
        // What came instead of a handshake (a plain HTTP request, a scanner's SSLv2 hello) is the evidence.
        if (raw) s.notKept += raw.length - this.keep(s, "in", raw);
        this.finish(socket, "TLS failed");
      },
      ended: () => this.finish(socket, "peer closed"),
    });
  }

  /** Logs a data event for what still fits under the session's cap in that direction; returns bytes kept. */
  private keep(s: Session, direction: "in" | "out", bytes: Uint8Array): number {
    const used = direction === "in" ? s.kept : s.keptOut;
    const room = Math.max(0, Math.min(this.limits.keepBytes - used, this.limits.keepTotal - s.kept - s.keptOut));
    const kept = bytes.length > room ? bytes.subarray(0, room) : bytes;
    if (kept.length === 0) return 0;
    if (direction === "in") s.kept += kept.length;
    else s.keptOut += kept.length;
    this.sessionEvent(s, {
      action: "data",
      direction,
      // Incoming chunks are Bun's buffer, reused for the next read: copied. What the trap writes is its own.
      payload: direction === "in" ? new Uint8Array(kept) : kept,
      ...(bytes.length > kept.length ? { truncated: bytes.length - kept.length } : {}),
    });
    return kept.length;
  }

  private protocolEvents(s: Session, events: ProtocolEvent[]): void {
    for (const pe of events) {
      // A session of a million one-byte commands must not write a million lines: past the cap, counted.
      // Malformed-input errors count with commands: a session of bad frames is as bounded as one of commands.
      if ((pe.action === "command" || pe.action === "error") && ++s.commands > this.limits.maxCommandsPerSession) {
        s.droppedCommands++;
        continue;
      }
      if (pe.action === "login" && ++s.logins > this.limits.maxLoginsPerSession) {
        s.droppedLogins++;
        continue;
      }
      const { action, ...fields } = pe;
      this.sessionEvent(s, { action, ...fields });
    }
  }

  private send(socket: Socket<Session>, bytes: Uint8Array): void {
    const s = socket.data;
    if (bytes.length === 0 || s.closing) return;
    this.o.observer?.exchange(s.id, "out", bytes, performance.now() - s.started);
    // What the trap answered is evidence too (which face a scanner saw); kept under the same cap.
    this.keep(s, "out", bytes);
    if (s.tls) s.tls.write(bytes);
    else this.sendRaw(socket, bytes);
  }

  /** Bytes onto the wire (TLS records, or the plaintext of a session without TLS). */
  private sendRaw(socket: Socket<Session>, bytes: Uint8Array): void {
    const s = socket.data;
    if (bytes.length === 0 || !s) return;
    // Nobody gets more than their share of answers a minute: the trap is not an amplifier.
    if (!this.governor.spendOutput(s.remoteIp, bytes.length)) {
      s.reason ??= "output budget for this source spent";
      if (!s.closing) this.finish(socket, s.reason);
      return;
    }
    if (s.pendingBytes > 0) {
      this.queue(socket, bytes);
      return;
    }
    // bytesOut counts what the kernel took, not what waits for a slow reader (and may be dropped with it).
    const written = Math.max(0, socket.write(bytes));
    s.bytesOut += written;
    if (written < bytes.length) this.queue(socket, bytes.subarray(written));
  }

  private queue(socket: Socket<Session>, bytes: Uint8Array): void {
    const s = socket.data;
    if (s.pendingBytes + bytes.length > this.limits.maxPendingOut || !this.governor.hold(bytes.length)) {
      s.reason ??= s.pendingBytes + bytes.length > this.limits.maxPendingOut ? "peer not reading" : "memory budget reached";
      this.reset(socket, s.reason);
      return;
    }
    if (s.pendingBytes === 0) s.stalledSince = performance.now();
    s.pendingOut.push(bytes);
    s.pendingBytes += bytes.length;
  }

  private flush(socket: Socket<Session>): void {
    const s = socket.data;
    if (!s) return;
    while (s.pendingOut.length > 0) {
      const head = s.pendingOut[0]!;
      const written = Math.max(0, socket.write(head));
      s.bytesOut += written;
      this.governor.release(written);
      if (written > 0) s.stalledSince = performance.now();
      if (written < head.length) {
        s.pendingOut[0] = head.subarray(written);
        s.pendingBytes -= written;
        return;
      }
      s.pendingOut.shift();
      s.pendingBytes -= head.length;
    }
    s.stalledSince = 0;
    if (s.closing) socket.end();
  }

  /** Ends a session gracefully once what we wrote has gone out. */
  private finish(socket: Socket<Session>, reason: string): void {
    const s = socket.data;
    if (!s) {
      const w = this.waiting.get(socket);
      if (w) w.ended = true;
      else socket.end();
      return;
    }
    s.reason ??= reason;
    if (s.closing) return;
    s.closing = true;
    this.release(s);
    // A peer that never reads what is left would keep the session forever: it gets a little while.
    s.closeDeadline = setTimeout(() => socket.terminate(), CLOSE_GRACE_MS);
    if (s.tls) {
      // close_notify goes out on a later tick; the socket ends after it (or right away if TLS never started).
      s.tls.end();
      setImmediate(() => {
        if (s.pendingBytes === 0) socket.end();
      });
      return;
    }
    if (s.pendingBytes === 0) socket.end();
  }

  /** Ends a session with a reset, as some daemons do (what is still queued is dropped, as the kernel would). */
  private reset(socket: Socket<Session>, reason: string): void {
    const s = socket.data;
    if (s) {
      s.reason ??= reason;
      s.closing = true;
      this.release(s);
    }
    socket.terminate();
  }

  /** The session gives its slots back: closing sessions are not what a flood must wait behind. */
  private release(s: Session): void {
    if (s.released) return;
    s.released = true;
    this.live--;
    this.governor.sessions--;
    this.governor.endedSinceCollect++;
    const left = (this.perSource.get(s.remoteIp) ?? 1) - 1;
    if (left > 0) this.perSource.set(s.remoteIp, left);
    else this.perSource.delete(s.remoteIp);
  }

  private onClose(socket: Socket<Session>): void {
    const s = socket.data;
    if (!s) {
      const w = this.waiting.get(socket);
      if (w) w.closed = true;
      return;
    }
    if (!this.sessions.delete(socket)) return;
    this.release(s);
    // What was held for this peer goes back to the process's budget.
    this.governor.release(s.heldIn + s.pendingBytes);
    s.heldIn = 0;
    s.pendingOut = [];
    s.pendingBytes = 0;
    if (s.closeDeadline) clearTimeout(s.closeDeadline);
    s.driver.stop();
    s.tls?.destroy();
    this.sessionEvent(s, {
      action: "close",
      bytesIn: s.bytesIn,
      bytesOut: s.bytesOut,
      durationMs: performance.now() - s.started,
      reason: s.reason ?? "peer closed",
      ...(s.notKept > 0 ? { truncated: s.notKept } : {}),
      ...(s.droppedCommands + s.droppedLogins > 0 ? { dropped: { commands: s.droppedCommands, logins: s.droppedLogins } } : {}),
    });
    this.o.observer?.end(s.id, s.reason ?? "peer closed", performance.now() - s.started);
  }

  /**
   * A connection refused by a limit: counted, and logged as one `refused` event per source and reason each
   * second (the first at once), so a flood leaves a bounded log that still accounts for every connection.
   */
  private refuse(ip: string, reason: string): void {
    const key = `${ip}\u0000${reason}`;
    const r = this.refusals.get(key);
    if (r) r.count++;
    else this.refusals.set(key, { ip, reason, count: 1 });
    this.refusalTimer ??= setTimeout(() => this.flushRefusals(), 1000);
  }

  private flushRefusals(): void {
    if (this.refusalTimer) clearTimeout(this.refusalTimer);
    this.refusalTimer = undefined;
    const pending = this.refusals;
    this.refusals = new Map();
    for (const r of pending.values()) this.event({ action: "refused", source: { ip: r.ip }, count: r.count, reason: r.reason });
    if (this.abortedCount > 0) this.event({ action: "aborted", count: this.abortedCount, reason: "reset by the peer before it was read" });
    this.abortedCount = 0;
  }

  /** Stops accepting, closes every session (each gets its close event), and releases the port. */
  stop(): void {
    this.stopping = true;
    this.decideWaiting();
    // Mark first: stopping the listener closes its sockets, and their close events must say why.
    for (const socket of this.sessions) if (socket.data) socket.data.reason ??= "shutdown";
    this.listener?.stop(true);
    for (const socket of [...this.sessions]) {
      socket.end();
      this.onClose(socket);
    }
    this.flushRefusals();
    this.listener = undefined;
  }
}
