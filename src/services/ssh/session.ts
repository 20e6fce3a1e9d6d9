// SSH: the version line at once (nmap's NULL probe reads it), then the client's identification read here,
// then ssh2's server side for the key exchange and the authentication requests. No login ever works.
// The template keys and their meaning are in templates.ts; the measured behaviour in docs/research/ssh-tls.md.
//
// What is done here rather than in ssh2:
// - The identification: a first line that is not SSH- gets the face's words (OpenSSH) or is skipped
//   (Dropbear, 50 lines at most); lines are bounded at 255 bytes, as sshd's buffer is.
// - The client's KEXINIT is read before ssh2 starts (it is plaintext, and every common client sends it right
//   after its identification): its lists give the HASSH fingerprint, and they tell which algorithm the
//   client will pick. When that is one ssh2 cannot run in this runtime (chacha20-poly1305 and umac under
//   Bun, sntrup761), that connection's offer drops it, so the client settles on
//   its next choice; every other client, nmap's ssh2-enum-algos included, sees the version's exact lists.
//   A client that waits for the server's KEXINIT first gets the exact lists after a second.
// - Refusals: each wrong password waits the face's delay (PAM's), then USERAUTH_FAILURE with the face's
//   methods; the failure that reaches MaxAuthTries gets DISCONNECT reason 2 with the version's words
//   instead (Dropbear: its failure, then a plain close). LoginGraceTime ends the connection without a word.
import { EventEmitter } from "node:events";
import type { ProtocolEvent, ProtocolSession, Reply, SessionChannel, SessionContext } from "../../types.ts";
import { fill } from "../../util/template.ts";
import { toLatin1 } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { drawMs } from "../schema.ts";
import type { HostKeySet } from "./keys.ts";
import { type AuthRequest, libraryHeld, type Offer, sendDisconnect, sendExtInfo, serverConnection, type ServerConnection, SSH2_MAX_PACKET, SUPPORTED } from "./ssh2-internals.ts";
import type { SshTemplates } from "./templates.ts";
import { hassh, type KexinitLists, MAX_PLAIN_PACKET, parseKexinit, plainPackets, sha256Fingerprint } from "./wire.ts";

export interface SshPrepared {
  keys: HostKeySet;
}

/** sshd reads the identification into a 256-byte buffer (255 characters and the NUL); Dropbear likewise. */
export const IDENT_MAX = 255;
/** Dropbear reads at most this many lines looking for SSH- (common-session.c), then hangs up. */
const DROPBEAR_MAX_LINES = 50;
/** How long to wait for the client's KEXINIT before offering the exact lists anyway. */
const KEXINIT_WAIT_MS = 1000;
/** User names and passwords are logged up to this many characters. */
const FIELD_MAX = 1024;
const AEAD = /gcm|poly1305/;

/** A socket for ssh2 that is no socket: what ssh2 writes goes to the session's channel at once. */
class LibrarySocket extends EventEmitter {
  writable = true;
  readonly _readableState = { ended: false };
  remoteAddress: string;
  remotePort: number;
  remoteFamily: string;
  private paused = false;
  private queued: Buffer[] = [];
  /** Bytes in `queued`: what waits for ssh2 to read (it starts reading on a later tick). */
  held = 0;

  constructor(
    ctx: SessionContext,
    private readonly out: (bytes: Uint8Array) => void,
    private readonly hangUp: () => void,
  ) {
    super();
    this.remoteAddress = ctx.remoteAddress;
    this.remotePort = ctx.remotePort;
    this.remoteFamily = ctx.remoteAddress.includes(":") ? "IPv6" : "IPv4";
  }

  write(data: Uint8Array): boolean {
    if (this.writable) this.out(data);
    return true;
  }

  end(): this {
    if (!this.writable) return this;
    this.writable = false;
    this._readableState.ended = true;
    this.hangUp();
    return this;
  }

  destroy(): this {
    return this.end();
  }

  setNoDelay(): this {
    return this;
  }

  pause(): this {
    this.paused = true;
    return this;
  }

  resume(): this {
    this.paused = false;
    while (!this.paused && this.queued.length > 0 && this.writable) {
      const b = this.queued.shift()!;
      this.held -= b.length;
      this.emit("data", b);
    }
    return this;
  }

  /** Bytes from the peer, for ssh2 (held while it is paused: it starts on a later tick). */
  feed(bytes: Uint8Array): void {
    const b = Buffer.from(bytes);
    if (this.paused || this.listenerCount("data") === 0) {
      this.queued.push(b);
      this.held += b.length;
    } else this.emit("data", b);
  }

  /** The connection is gone: ssh2 cleans up on close. */
  gone(): void {
    this.writable = false;
    this._readableState.ended = true;
    this.queued = [];
    this.held = 0;
    this.emit("close");
    this.removeAllListeners();
  }
}

/** The offer list without the algorithms this client would pick that cannot be served, one at a time. */
export function tailor(face: string[], client: string[], usable: (name: string) => boolean): string[] {
  let offer = face;
  for (;;) {
    const pick = client.find((a) => offer.includes(a));
    if (pick === undefined || usable(pick)) return offer;
    offer = offer.filter((a) => a !== pick);
  }
}

/** The offer for a client whose KEXINIT is known (see the file comment); the exact lists otherwise. */
export function offerFor(t: SshTemplates, keys: HostKeySet, client: KexinitLists | undefined): Offer {
  const exact: Offer = { kex: t.kex, hostKey: t.hostKeyAlgorithms, ciphers: t.ciphers, macs: t.macs, compression: t.compression };
  if (!client) return exact;
  const kex = tailor(t.kex, client.kex, (a) => SUPPORTED.kex.has(a));
  // ssh-dss stays: the version's list shows it (nmap's ssh2-enum-algos names it first), though a client that
  // picks it fails, there being no DSA key (Bun cannot sign ssh-dss). Modern clients never pick it.
  const hostKey = tailor(t.hostKeyAlgorithms, client.hostKey, (a) => keys.byAlgorithm[a] !== undefined || a === "ssh-dss");
  const cipherOk = (a: string) => SUPPORTED.cipher.has(a);
  const ciphers = tailor(tailor(t.ciphers, client.encCs, cipherOk), client.encSc, cipherOk);
  const chosen = [client.encCs, client.encSc].map((l) => l.find((a) => ciphers.includes(a)) ?? "");
  const macOk = (a: string) => SUPPORTED.mac.has(a);
  const macs = chosen.every((c) => AEAD.test(c)) ? t.macs : tailor(tailor(t.macs, client.macCs, macOk), client.macSc, macOk);
  const compOk = (a: string) => SUPPORTED.compression.has(a);
  const compression = tailor(tailor(t.compression, client.compCs, compOk), client.compSc, compOk);
  return { kex, hostKey, ciphers, macs, compression };
}

function clip(s: string): string {
  return s.length > FIELD_MAX ? s.slice(0, FIELD_MAX) : s;
}

class SshSession implements ProtocolSession {
  private readonly t: SshTemplates;
  private channel: SessionChannel | undefined;
  private phase: "ident" | "kexinit" | "library" | "done" = "ident";
  /** What the client sent before ssh2 takes over: skipped lines, its identification, its first packets. */
  private readonly pending = new ByteQueue();
  /** Where the identification's LF is in `pending`, once it is there. */
  private identEnd = -1;
  private skippedLines = 0;
  private clientIdent = "";
  private clientLists: KexinitLists | undefined;
  private socket: LibrarySocket | undefined;
  private conn: ServerConnection | undefined;
  private failures = 0;
  private cancelWait: (() => void) | undefined;

  constructor(
    private readonly ctx: SessionContext<SshTemplates>,
    private readonly prepared: SshPrepared,
  ) {
    this.t = ctx.entry.templates;
  }

  attach(channel: SessionChannel): void {
    this.channel = channel;
  }

  open(): Reply {
    return { write: this.t.versionLine + (this.t.lineEnd === "crlf" ? "\r\n" : "\n"), timers: { grace: drawMs(this.t.loginGraceMs, this.ctx.random) } };
  }

  timer(name: string): Reply {
    // LoginGraceTime: sshd's alarm kills the child; the client sees a FIN and nothing else.
    if (name === "grace") return this.finish({ close: true });
    return {};
  }

  data(chunk: Uint8Array): Reply {
    if (this.phase === "library") {
      this.socket?.feed(chunk);
      return {};
    }
    if (this.phase === "done") return {};
    this.pending.push(chunk);
    if (this.phase === "ident") return this.readIdent();
    return this.awaitKexinit();
  }

  stop(): void {
    this.phase = "done";
    this.pending.clear();
    this.cancelWait?.();
    const socket = this.socket;
    this.socket = undefined;
    this.conn = undefined;
    // ssh2 may be the caller (its own hang-up): let it unwind before it is torn down.
    if (socket) queueMicrotask(() => socket.gone());
  }

  private finish(reply: Reply): Reply {
    this.phase = "done";
    this.pending.clear();
    return reply;
  }

  /** Bytes held: what waits here before ssh2 starts, what waits for ssh2 to read, ssh2's partial packet. */
  buffered(): number {
    return this.pending.length + (this.socket?.held ?? 0) + (this.conn ? libraryHeld(this.conn) : 0);
  }

  private readIdent(): Reply {
    for (;;) {
      // A line is looked for within its first IDENT_MAX + 1 bytes: more is an over-long line.
      const lf = this.pending.indexOf(0x0a, 0, IDENT_MAX + 1);
      const overlong = (lf < 0 ? this.pending.length : lf) > IDENT_MAX;
      if (lf < 0 && !overlong) return {};
      const end = overlong ? IDENT_MAX : lf;
      let line = this.pending.latin1(0, end);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.startsWith("SSH-") && !overlong) {
        if (!line.startsWith("SSH-2.0-") && !line.startsWith("SSH-1.99-")) return this.finish({ ...(this.t.majorDiffers ? { write: this.t.majorDiffers } : {}), close: true });
        // pending now starts at the identification (skipped lines are gone): ssh2 reads from here.
        this.clientIdent = line;
        this.identEnd = lf;
        this.phase = "kexinit";
        this.channel?.push({ opaque: "ssh key exchange" });
        this.cancelWait = this.channel?.later(KEXINIT_WAIT_MS, () => {
          if (this.phase === "kexinit") this.startLibrary();
        });
        return this.awaitKexinit();
      }
      // Not an identification: OpenSSH says so and hangs up; Dropbear reads on, up to its line limit.
      if (this.t.notSsh !== undefined) return this.finish({ write: this.t.notSsh, close: true });
      this.pending.skip(overlong ? end : lf + 1);
      if (++this.skippedLines >= DROPBEAR_MAX_LINES) return this.finish({ close: true });
    }
  }

  /** Waits for the client's KEXINIT (its HASSH, and which algorithms it will pick), then starts ssh2. */
  private awaitKexinit(): Reply {
    const after = this.pending.view().subarray(this.identEnd + 1);
    const { payloads, bad } = plainPackets(after, 1);
    if (payloads.length > 0) {
      this.clientLists = parseKexinit(payloads[0]!);
      this.startLibrary();
    } else if (bad || after.length > MAX_PLAIN_PACKET) this.startLibrary();
    return {};
  }

  private startLibrary(): void {
    this.cancelWait?.();
    this.cancelWait = undefined;
    this.phase = "library";
    const keys = this.prepared.keys;
    const socket = new LibrarySocket(
      this.ctx,
      (bytes) => this.fromLibrary(bytes),
      () => this.channel?.push({ close: true }),
    );
    this.socket = socket;
    const ident = this.t.versionLine.slice("SSH-2.0-".length);
    const conn = serverConnection(socket, keys.byAlgorithm, ident, offerFor(this.t, keys, this.clientLists), this.t.gexGroup, (c) => {
      c.on("authentication", (req: AuthRequest) => this.authenticate(req));
    });
    // OpenSSH from 7.2 tells a client that offers ext-info-c which signature algorithms it accepts, right
    // after the first key exchange; ssh2's own list is suppressed (ssh2-internals.ts), the version's goes out.
    const extInfo = this.t.extInfo;
    if (extInfo && this.clientLists?.kex.includes("ext-info-c")) conn.once("handshake", () => sendExtInfo(conn._protocol, extInfo));
    conn.on("error", () => {
      // A failed key exchange, a client's disconnect, recorded ciphertext in a replay: ssh2 hangs up itself.
    });
    this.conn = conn;
    const bytes = this.pending.take(this.pending.length);
    socket.feed(bytes);
  }

  private identStripped = false;

  /** What ssh2 writes, less its own identification line: ours went out in open(). */
  private fromLibrary(bytes: Uint8Array): void {
    if (!this.identStripped && bytes.length >= 4 && toLatin1(bytes.subarray(0, 4)) === "SSH-") {
      this.identStripped = true;
      const lf = bytes.indexOf(0x0a);
      bytes = lf < 0 ? new Uint8Array(0) : bytes.subarray(lf + 1);
    }
    // A copy (ssh2 may reuse its buffer); the typed-array constructor copies natively, Uint8Array.from iterates.
    if (bytes.length > 0) this.channel?.push({ write: new Uint8Array(bytes) });
  }

  private clientFacts(): Record<string, string> {
    const facts: Record<string, string> = { version: clip(this.clientIdent) };
    if (this.clientLists) {
      const h = hassh(this.clientLists);
      facts.hassh = h.hassh;
      facts.hassh_string = clip(h.hasshString);
    }
    return facts;
  }

  private authenticate(req: AuthRequest): void {
    const user = clip(req.username);
    const methods = this.t.authMethods;
    const offered = (m: string) => methods.includes(m);
    const log = (e: ProtocolEvent) => this.channel?.push({ events: [e] });
    switch (req.method) {
      case "none":
        if (this.t.noneCounts) this.fail(req, user, 0);
        else req.reject(methods);
        return;
      case "password":
        log({ action: "login", user, password: clip(req.password ?? ""), method: "password", client: this.clientFacts() });
        this.fail(req, user, offered("password") ? drawMs(this.t.failDelayMs, this.ctx.random) : 0);
        return;
      case "keyboard-interactive":
        if (!offered("keyboard-interactive") || !req.prompt) {
          log({ action: "login", user, method: "keyboard-interactive", client: this.clientFacts() });
          this.fail(req, user, 0);
          return;
        }
        req.prompt([{ prompt: this.t.passwordPrompt, echo: false }], "", "", (answers) => {
          if (answers instanceof Error || this.phase === "done") return;
          log({ action: "login", user, password: clip(answers[0] ?? ""), method: "keyboard-interactive", client: this.clientFacts() });
          this.fail(req, user, drawMs(this.t.failDelayMs, this.ctx.random));
        });
        return;
      case "publickey": {
        const client = this.clientFacts();
        if (req.key) {
          client.key_type = clip(req.key.algo);
          client.key_fingerprint = sha256Fingerprint(req.key.data);
        }
        log({ action: "login", user, method: "publickey", client });
        this.fail(req, user, 0);
        return;
      }
      default:
        this.fail(req, user, 0);
    }
  }

  /** One failed attempt: refused after `delayMs`, or the goodbye when it is the last one allowed. */
  private fail(req: AuthRequest, user: string, delayMs: number): void {
    const count = ++this.failures;
    const answer = () => {
      if (this.phase === "done") return;
      if (count < this.t.maxAuthTries) return req.reject(this.t.authMethods);
      const conn = this.conn;
      if (this.t.tooManyFailures !== undefined && conn) sendDisconnect(conn._protocol, 2, fill(this.t.tooManyFailures, { user: user.slice(0, 100) }));
      else req.reject(this.t.authMethods);
      this.channel?.push({ close: true });
    };
    if (delayMs > 0 && this.channel) this.channel.later(delayMs, answer);
    else answer();
  }
}

/**
 * The most an ssh session holds between reads: before ssh2 starts, an identification line and one
 * plaintext packet; after, ssh2's packet in progress (SSH2_MAX_PACKET and a MAC of up to 64 bytes).
 */
export const SSH_MAX_BUFFERED = Math.max(IDENT_MAX + 1 + 4 + MAX_PLAIN_PACKET, SSH2_MAX_PACKET + 64);

export function startSsh(ctx: SessionContext<SshTemplates>): ProtocolSession {
  const prepared = ctx.prepared as SshPrepared | undefined;
  if (!prepared) throw new Error("ssh: no host keys prepared for this session");
  return new SshSession(ctx, prepared);
}
