// PostgreSQL's connection start, as a backend runs it (postmaster.c ProcessStartupPacket, then auth.c):
// the startup packet (SSLRequest and GSSENCRequest answered first), the authentication request the
// face's pg_hba.conf asks for (md5 with a 4-byte salt, or cleartext), the client's PasswordMessage
// (logged: the md5 answer as hashcat reads it, or the password), then FATAL 28P01 and a hang-up.
// No login ever works.
//
// What the server does with input it does not like, as the backend does it:
// - A startup packet whose length is below 8 or above 10000 bytes, an incomplete one, a CancelRequest:
//   nothing is sent (the complaint goes to the server log only), the connection is closed. Bytes the
//   peer sent beyond what was read are unread at the close, so the kernel answers with a reset.
// - An unsupported protocol (nmap's SMB probe reads as 65363.19778), a bad parameter layout, no user:
//   a FATAL ErrorResponse, then the close.
// - Protocol 2 (servers up to 13): the fixed 296-byte startup packet, errors as "E" and one text line.
// - authentication_timeout (60 s): the backend exits without a word.
// - scram-sha-256 (14+): AuthenticationSASL (SCRAM-SHA-256, and -PLUS inside TLS), the client-first message
//   answered with a nonce, the salt of the server's mock account for that name (the same on every
//   connection, as the backend derives it from the name) and 4096 iterations; the client-final message
//   is refused. The three messages are logged: with them a password guess can be checked offline.
import { createHash } from "node:crypto";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { drawMs } from "../schema.ts";
import { fill } from "../../util/template.ts";
import { clip, concatBytes, hex, toBytes, toLatin1 } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import type { PostgresqlTemplates } from "./templates.ts";

/** MAX_STARTUP_PACKET_LENGTH: a longer (or shorter than 8) startup packet is refused unread. */
const MAX_STARTUP = 10000;
/** The most a session holds: a startup packet, or the longest password message (65535) with its header. */
export const POSTGRESQL_MAX_BUFFERED = 65535 + 5;
/** NAMEDATALEN - 1: the backend cuts user and database names here. */
const NAME_MAX = 63;
/** The user name as logged. */
const USER_LOG_MAX = 256;

const CANCEL_REQUEST = 80877102;
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
/** sizeof(StartupPacket) of protocol 2: version, database[64], user[32], options[64], unused[64], tty[64]. */
const V2_PACKET = 4 + 64 + 32 + 64 + 64 + 64;

const TIMER = "authentication_timeout";
/** PQ_GSS_RECV_BUFFER_SIZE less the length word: the largest GSSAPI token the backend reads. */
const GSS_MAX_TOKEN = 16384 - 4;

interface ParsedError {
  code: string;
  file: string;
  line: string;
  routine: string;
  message: string;
}

function parseErr(text: string): ParsedError {
  const [code = "", file = "", line = "", routine = "", ...rest] = text.split("|");
  return { code, file, line, routine, message: rest.join("|") };
}

function be32(n: number): Uint8Array {
  return Uint8Array.of((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function rdBe32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** A v3 backend message: type byte, 32-bit length (itself included), body. */
function message(type: string, body: Uint8Array): Uint8Array {
  return concatBytes([toBytes(type), be32(body.length + 4), body]);
}

/** A C string out of a fixed or NUL-ended field; the part before the first NUL. */
function cField(b: Uint8Array, at: number, size: number): Uint8Array {
  const f = b.subarray(at, Math.min(b.length, at + size));
  const nul = f.indexOf(0);
  return nul < 0 ? f : f.subarray(0, nul);
}

const decoder = new TextDecoder("utf-8", { fatal: false });

export function startPostgresql(ctx: SessionContext<PostgresqlTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const errs = {
    unsupported: parseErr(t.errUnsupported),
    noUser: parseErr(t.errNoUser),
    layout: parseErr(t.errLayout),
    expected: parseErr(t.errExpectedPassword),
    size: parseErr(t.errPasswordSize),
    password: parseErr(t.errPassword),
    empty: t.errEmptyPassword !== undefined ? parseErr(t.errEmptyPassword) : undefined,
    expectedSasl: parseErr(t.errExpectedSasl ?? t.errExpectedPassword),
    mechanism: parseErr(t.errSaslMechanism ?? t.errPasswordSize),
    scram: parseErr(t.errScramMalformed ?? t.errPasswordSize),
  };
  const scram = t.authMethod === "scram-sha-256";
  /** Whether the session runs inside TLS (SCRAM-SHA-256-PLUS is offered only there). */
  let tlsOn = false;
  let scramStep: "first" | "final" = "first";
  let scramFirst = "";
  let scramServerFirst = "";
  let scramNonce = "";
  const MAX_PASSWORD = t.maxPasswordMessage;

  let state: "startup" | "password" | "gss" | "done" = "startup";
  /** The protocol of the startup packet once read: the errors' format follows its major. */
  let major = 3;
  let sslDone = false;
  let gssDone = false;
  const input = new ByteQueue();
  let salt: Uint8Array = new Uint8Array(0);
  /** Raw bytes of the user name (cut as the backend cuts it) and what the log shows. */
  let userRaw: Uint8Array = new Uint8Array(0);
  let userLog = "";
  let client: Record<string, string> = {};

  /** A FATAL error in the format the startup packet's protocol asks for. */
  function fatal(e: ParsedError, vars: Record<string, string> = {}, detail?: string): Uint8Array {
    const text = fill(e.message, vars);
    if (major < 3) return concatBytes([toBytes("E"), toBytes(`FATAL:  ${text}\n`), Uint8Array.of(0)]);
    const d = detail !== undefined ? `D${detail}\0` : "";
    const parts = [`SFATAL\0`, t.severityField ? `VFATAL\0` : "", `C${e.code}\0`, `M${text}\0`, d, `F${e.file}\0`, `L${e.line}\0`, `R${e.routine}\0`, "\0"];
    return message("E", toBytes(parts.join("")));
  }

  /** Ends the session: what was not read of the peer's input turns the close into a reset. */
  function end(write?: Uint8Array, events?: ProtocolEvent[]): Reply {
    state = "done";
    const r: Reply = { close: input.length > 0 ? "reset" : true, timers: { [TIMER]: null } };
    if (write) r.write = write;
    if (events && events.length > 0) r.events = events;
    input.clear();
    return r;
  }

  function authRequest(): Uint8Array {
    if (scram) {
      const mechs = tlsOn ? "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0" : "SCRAM-SHA-256\0\0";
      return message("R", concatBytes([be32(10), toBytes(mechs)]));
    }
    if (t.authMethod === "md5") {
      salt = ctx.random(4);
      const body = concatBytes([be32(5), salt]);
      return major < 3 ? concatBytes([toBytes("R"), body]) : message("R", body);
    }
    return major < 3 ? concatBytes([toBytes("R"), be32(3)]) : message("R", be32(3));
  }

  /** Sets who is logging in from the raw user and database fields. */
  function takeUser(user: Uint8Array, database: Uint8Array | undefined): void {
    userLog = decoder.decode(user.subarray(0, USER_LOG_MAX));
    userRaw = user.subarray(0, NAME_MAX).slice();
    const db = database && database.length > 0 ? database : user;
    client = { database: decoder.decode(db.subarray(0, NAME_MAX)) };
  }

  /** One complete startup packet (length word removed). */
  function onStartup(p: Uint8Array): Reply {
    const proto = rdBe32(p, 0);
    if (proto === CANCEL_REQUEST) return end(undefined, [{ action: "command", command: "CancelRequest" }]);
    if (proto === SSL_REQUEST && !sslDone) {
      sslDone = true;
      if (ctx.entry.tls) {
        // Whatever the client sent after the request would be read as its TLS handshake.
        input.clear();
        tlsOn = true;
        return { write: "S", startTls: true };
      }
      return { write: "N" };
    }
    if (proto === GSSENC_REQUEST && t.gssEncRequest !== "unknown" && !gssDone) {
      gssDone = true;
      // 'G': the backend now waits for a GSSAPI token; without a keytab, nothing comes of it.
      if (t.gssEncRequest === "G") state = "gss";
      return { write: t.gssEncRequest };
    }
    const maj = proto >>> 16;
    const min = proto & 0xffff;
    major = maj;
    const vars = { major: String(maj), minor: String(min) };
    if (maj < t.earliestMajor || maj > 3 || (maj === 3 && min > 0 && !t.negotiateMinor)) {
      return end(fatal(errs.unsupported, vars), [{ action: "error", message: "unsupported frontend protocol" }]);
    }
    const out: Uint8Array[] = [];
    if (maj < 3) {
      const packet = new Uint8Array(Math.max(V2_PACKET, p.length));
      packet.set(p);
      takeUser(cField(packet, 4 + 64, 32), cField(packet, 4, 64));
    } else {
      // name\0value\0 … \0: the last byte must be the terminator.
      if (p[p.length - 1] !== 0) return end(fatal(errs.layout), [{ action: "error", message: "invalid startup packet layout" }]);
      let at = 4;
      let user: Uint8Array | undefined;
      let database: Uint8Array | undefined;
      const unknownOptions: string[] = [];
      const params: string[] = [];
      while (at < p.length) {
        const name = cField(p, at, p.length - at);
        if (name.length === 0) break;
        const valueAt = at + name.length + 1;
        if (valueAt >= p.length) break;
        const value = cField(p, valueAt, p.length - valueAt);
        at = valueAt + value.length + 1;
        const key = toLatin1(name);
        if (key === "user") user = value;
        else if (key === "database") database = value;
        else if (key.startsWith("_pq_.")) unknownOptions.push(key);
        else if (params.length < 16) params.push(`${key.slice(0, 64)}=${decoder.decode(value.subarray(0, 128))}`);
      }
      if (!user || user.length === 0) return end(fatal(errs.noUser), [{ action: "error", message: "no user name in startup packet" }]);
      takeUser(user, database);
      if (params.length > 0) client.parameters = params.join(" ");
      if (t.negotiateMinor && (min > 0 || unknownOptions.length > 0)) {
        const body = [be32(0x30000), be32(unknownOptions.length), ...unknownOptions.map((o) => concatBytes([toBytes(o), Uint8Array.of(0)]))];
        out.push(message("v", concatBytes(body)));
      }
    }
    state = "password";
    out.push(authRequest());
    return { write: concatBytes(out) };
  }

  /** A SASLInitialResponse (mechanism, length, client-first) or, after it, a SASLResponse (client-final). */
  function onSasl(p: Uint8Array): Reply {
    const malformed = (detail: string) => end(fatal(errs.scram, {}, detail), [{ action: "error", message: "malformed SCRAM message" }]);
    if (scramStep === "first") {
      const nul = p.indexOf(0);
      const mech = nul < 0 ? "" : toLatin1(p.subarray(0, nul));
      const offered = tlsOn ? ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"] : ["SCRAM-SHA-256"];
      if (nul < 0 || !offered.includes(mech)) return end(fatal(errs.mechanism), [{ action: "error", message: "invalid SASL mechanism" }]);
      const len = nul + 5 <= p.length ? rdBe32(p, nul + 1) | 0 : -1;
      const data = len >= 0 && nul + 5 + len <= p.length ? toLatin1(p.subarray(nul + 5, nul + 5 + len)) : "";
      // gs2 header (n,, y,, or p=binding,,), then n=user,r=nonce
      const m = /^(n|y|p=[^,]*),[^,]*,(n=[^,]*),r=([\x21-\x2b\x2d-\x7e]+)(,.*)?$/s.exec(data);
      if (!m) {
        const flag = data.length > 0 ? data[0] : "";
        return malformed(flag === "n" || flag === "y" || flag === "p" ? "Expected attribute \"n\" but found end of string." : `Unexpected channel-binding flag "'${flag}'".`);
      }
      scramFirst = data.slice(data.indexOf(m[2]!));
      scramNonce = m[3]! + Buffer.from(ctx.random(18)).toString("base64");
      // The mock account's salt: derived from the name, so every connection for that name gets the same one.
      const salt = createHash("sha256").update(`${ctx.host.seed}\0postgresql-mock\0${toLatin1(userRaw)}`).digest().subarray(0, 16);
      scramServerFirst = `r=${scramNonce},s=${salt.toString("base64")},i=4096`;
      scramStep = "final";
      client = { ...client, sasl_mechanism: mech, scram_client_first: clip(data) };
      return { write: message("R", concatBytes([be32(11), toBytes(scramServerFirst)])) };
    }
    const data = toLatin1(p);
    const m = /^c=[^,]*,r=[^,]*(,[a-z]=[^,]*)*,p=([A-Za-z0-9+/=]*)$/s.exec(data);
    if (!data.startsWith("c=")) return malformed(`Expected attribute "c" but found "'${data.slice(0, 1)}'".`);
    if (!m) return malformed("Attribute expected, but found end of string.");
    if (Buffer.from(m[2]!, "base64").length !== 32) return malformed("Malformed proof in client-final-message.");
    const login: ProtocolEvent = {
      action: "login",
      method: "postgresql",
      user: userLog,
      client: { ...client, auth_method: "scram-sha-256", scram_server_first: scramServerFirst, scram_client_final: clip(data) },
    };
    return end(fatal(errs.password, { user: toLatin1(userRaw) }), [login]);
  }

  /** The client's answer to the authentication request: its password or md5 hash. */
  function onPassword(p: Uint8Array): Reply {
    const events: ProtocolEvent[] = [];
    const nul = p.indexOf(0);
    if (nul !== p.length - 1) return end(fatal(errs.size), [{ action: "error", message: "invalid password packet size" }]);
    const sent = p.subarray(0, nul);
    const text = toLatin1(sent);
    if (sent.length === 0) {
      const e = errs.empty ?? errs.password;
      events.push({ action: "login", method: "postgresql", user: userLog, password: "", client: { ...client, auth_method: t.authMethod } });
      return end(fatal(e, { user: toLatin1(userRaw) }), events);
    }
    const login: ProtocolEvent = { action: "login", method: "postgresql", user: userLog, client: { ...client, auth_method: t.authMethod } };
    if (t.authMethod === "md5" && /^md5[0-9a-f]{32}$/.test(text)) {
      login.hash = { value: `$postgres$${userLog}*${hex(salt)}*${text.slice(3)}`, type: "postgres-md5", hashcatMode: 11100 };
    } else {
      login.password = decoder.decode(sent);
    }
    events.push(login);
    return end(fatal(errs.password, { user: toLatin1(userRaw) }), events);
  }

  function feed(chunk: Uint8Array): Reply {
    input.push(chunk);
    const writes: Uint8Array[] = [];
    const events: ProtocolEvent[] = [];
    let startTls = false;
    const merge = (r: Reply): Reply | undefined => {
      if (r.write !== undefined) writes.push(toBytes(r.write));
      if (r.events) events.push(...r.events);
      if (r.startTls) startTls = true;
      if (r.close) return r;
      return undefined;
    };
    let closing: Reply | undefined;
    // Bounded: each turn consumes at least one whole frame header from the input or stops.
    while (!closing && !startTls && state !== "done") {
      if (state === "gss") {
        // A length-prefixed GSSAPI token; with no keytab to accept it the backend exits without a word
        // (measured on 15: a startup packet sent here instead is read as a token and waited for).
        if (input.length < 4) break;
        const len = rdBe32(input.view(), 0);
        if (len > GSS_MAX_TOKEN) {
          input.skip(4);
          closing = merge(end(undefined, [{ action: "error", message: "oversize GSSAPI packet" }]));
          break;
        }
        if (input.length < 4 + len) break;
        input.skip(4 + len);
        closing = merge(end(undefined, [{ action: "error", message: "GSSAPI context not accepted" }]));
        break;
      }
      if (state === "startup") {
        if (input.length < 4) break;
        const len = rdBe32(input.view(), 0);
        if (len < 8 || len > MAX_STARTUP) {
          input.skip(4);
          closing = merge(end(undefined, [{ action: "error", message: "invalid length of startup packet" }]));
          break;
        }
        if (input.length < len) break;
        input.skip(4);
        closing = merge(onStartup(input.take(len - 4)));
      } else {
        if (input.length < 1) break;
        const type = input.at(0)!;
        if (major < 3) {
          // Protocol 2: the password packet is a length word and the string, no type byte.
          if (input.length < 4) break;
          const len = rdBe32(input.view(), 0);
          if (len < 4 || len - 4 > MAX_PASSWORD) {
            input.skip(4);
            closing = merge(end());
            break;
          }
          if (input.length < len) break;
          input.skip(4);
          closing = merge(onPassword(input.take(len - 4)));
          break;
        }
        if (type !== 0x70) {
          input.skip(1);
          closing = merge(end(fatal(scram ? errs.expectedSasl : errs.expected, { type: String(type) }), [{ action: "error", message: "expected password response" }]));
          break;
        }
        if (input.length < 5) break;
        const len = rdBe32(input.view(), 1);
        if (len < 4 || len - 4 > MAX_PASSWORD) {
          // "invalid message length" goes to the server log; the backend gives up without a word.
          input.skip(5);
          closing = merge(end(undefined, [{ action: "error", message: "invalid message length" }]));
          break;
        }
        if (input.length < len + 1) break;
        input.skip(5);
        closing = merge(scram ? onSasl(input.take(len - 4)) : onPassword(input.take(len - 4)));
      }
    }
    const reply: Reply = closing ? { close: closing.close, timers: closing.timers } : {};
    if (writes.length > 0) reply.write = concatBytes(writes);
    if (events.length > 0) reply.events = events;
    if (startTls) reply.startTls = true;
    return reply;
  }

  return {
    buffered: () => input.length,
    open(): Reply {
      return { timers: { [TIMER]: drawMs(t.authTimeoutMs, ctx.random) } };
    },
    data(chunk: Uint8Array): Reply {
      if (state === "done") return {};
      return feed(chunk);
    },
    timer(name: string): Reply {
      if (name !== TIMER || state === "done") return {};
      // During authentication the backend sends nothing to the client: it just exits.
      return end();
    },
  };
}
