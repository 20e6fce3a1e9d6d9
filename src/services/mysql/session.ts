// MySQL/MariaDB connection phase: the protocol-10 greeting as the claimed version builds it, then the
// client's HandshakeResponse (user name logged), then "Access denied" and a hang-up. No login ever works.
// The template keys and their meaning are in templates.ts.
//
// Timing and hang-ups, as mysqld does them (measured on MariaDB 10.11, read from the server's net code):
// - "Access denied" comes at once (no pause), then an orderly close.
// - mysqld reads exactly what it parses: the 4-byte header, then the payload. When it hangs up on an error,
//   whatever the client sent beyond that is still unread, and the kernel answers the close with a reset
//   (an HTTP request: "Got packets out of order" after its first 4 bytes, then RST).
// - connect_timeout: every read before the login is answered waits that long; a client that goes quiet is
//   dropped without a word (FIN, or RST on MariaDB 10.11, which sets SO_LINGER 0 on a timed-out read).
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import type { CounterSpec } from "../../host/counters.ts";
import { drawMs } from "../schema.ts";
import { fill } from "../../util/template.ts";
import { concatBytes, hex, toBytes, toLatin1 } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import type { MysqlTemplates } from "./templates.ts";

const CLIENT_CONNECT_WITH_DB = 0x8;
const CLIENT_PROTOCOL_41 = 0x200;
const CLIENT_SSL = 0x800;
const CLIENT_SECURE_CONNECTION = 0x8000;
const CLIENT_PLUGIN_AUTH = 0x80000;
const CLIENT_PLUGIN_AUTH_LENENC = 0x200000;

const MYSQLD_THREADS: CounterSpec = { atBoot: 1, perHour: 4, spread: 30 };

/** mysqld refuses a HandshakeResponse shorter than this (MIN_HANDSHAKE_SIZE). */
const MIN_HANDSHAKE_SIZE = 6;
/** Bytes of a client packet we keep; the rest is counted, as a real server would read it. */
const KEEP = 4096;
/** The most a session holds of its peer's input: a packet header and the kept part of its payload. */
export const MYSQL_MAX_BUFFERED = 4 + KEEP;
/** The user name as logged (the error message echoes less). */
const USER_LOG_MAX = 256;

function packet(seq: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  out[0] = payload.length & 0xff;
  out[1] = (payload.length >> 8) & 0xff;
  out[2] = (payload.length >> 16) & 0xff;
  out[3] = seq & 0xff;
  out.set(payload, 4);
  return out;
}

function le(n: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Math.floor(n / 2 ** (8 * i)) & 0xff;
  return out;
}

/** Scramble bytes the way mysqld's create_random_string makes them: printable, 33..126, never NUL. */
function scramble(ctx: SessionContext, n: number): Uint8Array {
  return ctx.random(n).map((b) => 33 + (b % 94));
}

/** Reads a NUL-terminated string; undefined when no NUL comes before the end. */
function cstring(p: Uint8Array, at: number): { text: Uint8Array; next: number } | undefined {
  const nul = p.indexOf(0, at);
  if (nul < 0) return undefined;
  return { text: p.subarray(at, nul), next: nul + 1 };
}

/** A length-encoded integer; undefined when truncated or absurd. */
function lenenc(p: Uint8Array, at: number): { value: number; next: number } | undefined {
  const first = p[at];
  if (first === undefined) return undefined;
  if (first < 0xfb) return { value: first, next: at + 1 };
  const size = first === 0xfc ? 2 : first === 0xfd ? 3 : first === 0xfe ? 8 : 0;
  if (size === 0 || at + 1 + size > p.length) return undefined;
  let v = 0;
  for (let i = 0; i < Math.min(size, 6); i++) v += (p[at + 1 + i] ?? 0) * 2 ** (8 * i);
  return { value: v, next: at + 1 + size };
}

const U64 = (1n << 64n) - 1n;

/**
 * MySQL's hash_sort for latin1_swedish_ci (nr1 = 1, nr2 = 4, 64-bit ulong): trailing spaces ignored, ASCII
 * letters folded to upper case. Bytes above 0x7f are taken as they are (the collation's own weights for
 * accented letters are not reproduced; such user names are rare).
 */
export function latin1CiHash(key: Uint8Array): bigint {
  let end = key.length;
  while (end > 0 && key[end - 1] === 0x20) end--;
  let nr1 = 1n;
  let nr2 = 4n;
  for (let i = 0; i < end; i++) {
    const c = key[i]!;
    const v = BigInt(c >= 0x61 && c <= 0x7a ? c - 32 : c);
    nr1 = (nr1 ^ ((((nr1 & 63n) + nr2) * v + (nr1 << 8n)) & U64)) & U64;
    nr2 = (nr2 + 3n) & U64;
  }
  return nr1;
}

interface ParsedError {
  errno: number;
  state: string;
  message: string;
}

function parseErr(text: string): ParsedError {
  const a = text.indexOf(":");
  const b = text.indexOf(":", a + 1);
  return { errno: Number.parseInt(text.slice(0, a), 10) || 0, state: text.slice(a + 1, b), message: text.slice(b + 1) };
}

interface HandshakeResponse {
  caps: number;
  user: Uint8Array;
  auth: Uint8Array;
  plugin: string | undefined;
  database: string | undefined;
}

/** Parses a HandshakeResponse (4.1 or the older 3.23 form); undefined where mysqld says "Bad handshake". */
function parseResponse(p: Uint8Array, pluginServer: boolean): HandshakeResponse | undefined {
  if (p.length < MIN_HANDSHAKE_SIZE) return undefined;
  let caps = (p[0] ?? 0) | ((p[1] ?? 0) << 8);
  let at: number;
  if (caps & CLIENT_PROTOCOL_41) {
    if (p.length < 32) return undefined;
    caps = (caps | ((p[2] ?? 0) << 16) | ((p[3] ?? 0) << 24)) >>> 0;
    at = 32;
  } else {
    at = 5;
  }
  // We never offer TLS; a client asking for it gets what a server without SSL says.
  if (caps & CLIENT_SSL) return undefined;
  const user = cstring(p, at);
  if (!user) return undefined;
  at = user.next;
  let auth: Uint8Array;
  if (caps & CLIENT_PLUGIN_AUTH_LENENC && pluginServer) {
    const n = lenenc(p, at);
    if (!n || n.next + n.value > p.length) return undefined;
    auth = p.subarray(n.next, n.next + n.value);
    at = n.next + n.value;
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    const n = p[at];
    if (n === undefined) {
      auth = new Uint8Array(0);
    } else {
      if (at + 1 + n > p.length) return undefined;
      auth = p.subarray(at + 1, at + 1 + n);
      at += 1 + n;
    }
  } else {
    // 3.23 scramble: NUL-terminated, or simply the rest of the packet.
    const s = cstring(p, at);
    auth = s ? s.text : p.subarray(at);
    at = s ? s.next : p.length;
  }
  let database: string | undefined;
  if (caps & CLIENT_CONNECT_WITH_DB) {
    const db = cstring(p, at);
    if (db) database = toLatin1(db.text.subarray(0, 64));
    at = db ? db.next : p.length;
  }
  let plugin: string | undefined;
  if (caps & CLIENT_PLUGIN_AUTH && pluginServer && at < p.length) {
    const s = cstring(p, at);
    plugin = toLatin1(s ? s.text : p.subarray(at));
  }
  return { caps, user: user.text, auth, plugin, database };
}

export function startMysql(ctx: SessionContext<MysqlTemplates>): ProtocolSession {
    const t = ctx.entry.templates;
    const pluginLayout = t.layout === "plugin";
    const serverCaps = t.capabilities;
    const authPlugin = t.authPlugin;
    const maxPacket = t.maxAllowedPacket;
    const preAuthSqlstate = t.preAuthSqlstate;
    const errOutOfOrder = parseErr(t.errOutOfOrder);
    const errTooLarge = parseErr(t.errTooLarge);
    const errHandshake = parseErr(t.errHandshake);
    const errDenied = parseErr(t.errAccessDenied);
    const errProxy = t.errProxyHeader !== undefined ? parseErr(t.errProxyHeader) : undefined;
    const errOldAuth = t.errOldAuth !== undefined ? parseErr(t.errOldAuth) : undefined;
    const errSocket = t.errSocketDenied !== undefined ? parseErr(t.errSocketDenied) : undefined;
    const accounts = t.accounts;
    const userEchoMax = t.userEchoMax;
    const CONNECT_TIMER = "connect_timeout";
    /** One read's wait; drawn per read, so a range varies as the scheduler does. */
    const connectWait = () => drawMs(t.connectTimeoutMs, ctx.random);

    // mysqld numbers connections from 1 at start: one more for each connection, ours and the host's other
    // clients' since it booted (a few an hour).
    const threadId = ctx.counter("mysqld.thread", MYSQLD_THREADS);

    let expectSeq = 1;
    let state: "handshake" | "switch" | "done" = "handshake";
    let header: Uint8Array = new Uint8Array(0);
    let need = -1; // payload bytes still to come for the current packet; -1 while reading a header
    /** The kept part of the packet being read (one buffer, however small the chunks it came in). */
    const body = new ByteQueue();
    let pendingUser = new Uint8Array(0);
    let pendingClient: Record<string, string> = {};
    let clientCaps = 0;
    let haveClientCaps = false;
    /** Whether any packet header has been read yet (MariaDB's proxy-header check looks at the first). */
    let readAny = false;

    function greeting(): Uint8Array {
      salt = scramble(ctx, 20);
      const parts = [
        Uint8Array.of(10),
        toBytes(t.serverVersion),
        Uint8Array.of(0),
        le(threadId, 4),
        salt.subarray(0, 8),
        Uint8Array.of(0),
        le(serverCaps & 0xffff, 2),
        Uint8Array.of(t.charset),
        le(t.status, 2),
      ];
      if (pluginLayout) {
        // Filler: 6 zero bytes, then MariaDB's extended capabilities (zero on MySQL).
        parts.push(le((serverCaps >>> 16) & 0xffff, 2), Uint8Array.of(21), new Uint8Array(6), le(t.mariadbCapabilities, 4));
        parts.push(salt.subarray(8), Uint8Array.of(0), toBytes(authPlugin), Uint8Array.of(0));
      } else {
        parts.push(new Uint8Array(13), salt.subarray(8), Uint8Array.of(0));
      }
      return packet(0, concatBytes(parts));
    }

    function errPacket(seq: number, e: ParsedError, withState: boolean, vars: Record<string, string> = {}): Uint8Array {
      const msg = toBytes(fill(e.message, vars));
      const head = withState ? toBytes(`#${e.state}`) : new Uint8Array(0);
      return packet(seq, concatBytes([Uint8Array.of(0xff), le(e.errno, 2), head, msg]));
    }

    /** An error before any login: #SQLSTATE only if the session's flags at that point carry 4.1. */
    function fail(seq: number, e: ParsedError, vars: Record<string, string> = {}): Reply {
      const withState = haveClientCaps ? (clientCaps & CLIENT_PROTOCOL_41) !== 0 : preAuthSqlstate;
      state = "done";
      return { write: errPacket(seq, e, withState, vars), close: true };
    }

    /** MariaDB 10.3+ looks at the first header for a PROXY protocol signature (v1 "PROXY ", v2 "\r\n\r\n\0\r\nQUIT\n"). */
    function proxyHeader(h: Uint8Array): boolean {
      const text = toLatin1(h);
      return text === "PROX" || text === "\r\n\r\n";
    }

    /** The scramble the client's answer is computed from: the greeting's, or the AuthSwitchRequest's. */
    let salt: Uint8Array = new Uint8Array(0);

    function denied(seq: number, user: Uint8Array, auth: Uint8Array, events: ProtocolEvent[], client: Record<string, string> = {}): Reply {
      // mysql_native_password answers SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))): 20 bytes, crackable with its salt.
      const hash = auth.length === 20 && salt.length === 20 ? { value: `$mysqlna$${hex(salt)}*${hex(auth)}`, type: "mysql-native", hashcatMode: 11200 } : undefined;
      if (!hash && auth.length > 0) client.auth_response = hex(auth.subarray(0, 64));
      events.push({
        action: "login",
        method: "mysql",
        user: toLatin1(user.subarray(0, USER_LOG_MAX)),
        ...(hash ? { hash } : {}),
        ...(Object.keys(client).length > 0 ? { client } : {}),
      });
      const remote = ctx.remoteAddress;
      const host = remote === "127.0.0.1" || remote === "::1" ? "localhost" : remote;
      const name = user.subarray(0, userEchoMax);
      const vars = { user: toLatin1(name), host, password: auth.length > 0 ? "YES" : "NO" };
      const error = accountKind(name) === "socket" && errSocket ? errSocket : errDenied;
      state = "done";
      return { write: errPacket(seq, error, (clientCaps & CLIENT_PROTOCOL_41) !== 0, vars), close: true, events };
    }

    /**
     * Which account answers this login. Unknown names: MariaDB 10.4+ authenticates them against a stand-in,
     * acl_users[hash % count], the hash being latin1_swedish_ci's hash_sort of the name (so "Root" and "ROOT"
     * fall on the same account); measured on 10.11 with Debian's three accounts, 27 names of 27.
     */
    function accountKind(name: Uint8Array): string | undefined {
      if (!accounts) return undefined;
      const own = accounts[toLatin1(name)];
      if (own !== undefined) return own;
      const list = Object.values(accounts);
      return list.length > 0 ? list[Number(latin1CiHash(name) % BigInt(list.length))] : undefined;
    }

    /** One complete client packet (payload cut to KEEP bytes). */
    function onPacket(payload: Uint8Array): Reply {
      const events: ProtocolEvent[] = [];
      if (state === "switch") {
        // The client's answer to our AuthSwitchRequest: whatever it is, the password is wrong.
        return denied(expectSeq + 1, pendingUser, payload, events, { ...pendingClient });
      }
      const r = parseResponse(payload, pluginLayout);
      if (!r) {
        // mysqld takes the client's flags from any packet of MIN_HANDSHAKE_SIZE bytes before it finds the
        // rest malformed: the error then has #SQLSTATE only if those flags ask for 4.1 (MariaDB 10.11, measured).
        if (payload.length >= MIN_HANDSHAKE_SIZE) {
          clientCaps = ((payload[0] ?? 0) | ((payload[1] ?? 0) << 8)) >>> 0;
          haveClientCaps = true;
        }
        return { ...fail(expectSeq + 1, errHandshake), events: [{ action: "error", message: "malformed handshake response" }] };
      }
      clientCaps = r.caps;
      haveClientCaps = true;
      if (pluginLayout && r.caps & CLIENT_PLUGIN_AUTH && r.plugin !== undefined && r.plugin !== authPlugin) {
        // A client of another default plugin (MySQL 8's caching_sha2_password) is asked to switch,
        // as mysqld does, so that it sends a scramble and gets the usual "Access denied".
        pendingUser = r.user.slice();
        pendingClient = clientFacts(r);
        state = "switch";
        expectSeq += 2;
        salt = scramble(ctx, 20);
        const req = concatBytes([Uint8Array.of(0xfe), toBytes(authPlugin), Uint8Array.of(0), salt, Uint8Array.of(0)]);
        return { write: packet(expectSeq - 1, req), events };
      }
      if (errOldAuth && !(r.caps & CLIENT_SECURE_CONNECTION)) {
        // The server will not check a 3.23 scramble: the attempt is logged, the client told to upgrade.
        const client = clientFacts(r);
        if (r.auth.length > 0) client.auth_response = hex(r.auth.subarray(0, 64));
        events.push({ action: "login", method: "mysql", user: toLatin1(r.user.subarray(0, USER_LOG_MAX)), client });
        state = "done";
        return { write: errPacket(expectSeq + 1, errOldAuth, (r.caps & CLIENT_PROTOCOL_41) !== 0), close: true, events };
      }
      return denied(expectSeq + 1, r.user, r.auth, events, clientFacts(r));
    }

    function clientFacts(r: HandshakeResponse): Record<string, string> {
      return { ...(r.plugin !== undefined ? { auth_plugin: r.plugin.slice(0, 64) } : {}), ...(r.database !== undefined ? { database: r.database } : {}) };
    }

    /** Reads packets out of a chunk; several may arrive together (a switch answer right behind). */
    function feed(chunk: Uint8Array): Reply {
      let at = 0;
      const writes: Uint8Array[] = [];
      const events: ProtocolEvent[] = [];
      let close = false;
      while (at < chunk.length && state !== "done") {
        if (need < 0) {
          const take = Math.min(4 - header.length, chunk.length - at);
          header = concatBytes([header, chunk.subarray(at, at + take)]);
          at += take;
          if (header.length < 4) break;
          const len = (header[0] ?? 0) | ((header[1] ?? 0) << 8) | ((header[2] ?? 0) << 16);
          const seq = header[3] ?? 0;
          const first = !readAny;
          readAny = true;
          if (first && errProxy && proxyHeader(header)) {
            // Proxy protocol not allowed from this address: refused on the header alone, nothing more read.
            header = new Uint8Array(0);
            const r = fail(expectSeq, errProxy, { ip: ctx.remoteAddress });
            writes.push(toBytes(r.write ?? ""));
            close = true;
            break;
          }
          header = new Uint8Array(0);
          // mysqld checks the sequence number before anything else, then the size.
          const bad = seq !== expectSeq ? errOutOfOrder : len >= maxPacket ? errTooLarge : undefined;
          if (bad) {
            const r = fail(expectSeq, bad);
            writes.push(toBytes(r.write ?? ""));
            close = true;
            break;
          }
          need = len;
          body.clear();
        }
        const take = Math.min(need, chunk.length - at);
        const keep = Math.min(take, KEEP - body.length);
        if (keep > 0) body.push(chunk.subarray(at, at + keep));
        at += take;
        need -= take;
        if (need > 0) break;
        need = -1;
        const r = onPacket(body.take(body.length));
        if (r.write !== undefined) writes.push(toBytes(r.write));
        events.push(...(r.events ?? []));
        if (r.close) close = true;
      }
      const reply: Reply = {};
      if (writes.length > 0) reply.write = concatBytes(writes);
      // mysqld never read what follows the packet it hung up on: closing over unread input is a reset.
      if (close) reply.close = at < chunk.length ? "reset" : true;
      // Still waiting for the login: the next read waits connect_timeout anew.
      else reply.timers = { [CONNECT_TIMER]: connectWait() };
      if (events.length > 0) reply.events = events;
      return reply;
    }

    return {
      buffered: () => header.length + body.length,
      open(): Reply {
        return { write: greeting(), timers: { [CONNECT_TIMER]: connectWait() } };
      },
      data(chunk: Uint8Array): Reply {
        return state === "done" ? {} : feed(chunk);
      },
      timer(name: string): Reply {
        if (name !== CONNECT_TIMER || state === "done") return {};
        // The read timed out: nothing is written (the connection is marked unusable), the socket is closed.
        state = "done";
        return { close: t.connectTimeoutClose === "reset" ? "reset" : true };
      },
    };
}
