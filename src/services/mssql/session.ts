// Microsoft SQL Server's login sequence over TDS (MS-TDS): PRELOGIN answered with the release's version,
// then LOGIN7. A SQL Server login's password (obfuscated, not encrypted) is decoded and logged, and refused
// with error 18456; a Windows login (fIntSecurity with an NTLMSSP NEGOTIATE) gets an NTLM CHALLENGE naming
// the host, its AUTHENTICATE is logged as NetNTLMv2 (or v1) and refused with 18452. No login ever works.
//
// Encryption: the PRELOGIN answer says ENCRYPT_NOT_SUP, so clients send LOGIN7 in the clear. (A real server
// with its self-signed certificate says ENCRYPT_OFF and runs TLS inside PRELOGIN packets for the login;
// that framing is not done here.)
//
// Input the server cannot use (a packet of another type, a bad length, a LOGIN7 whose fields point outside
// it) ends the connection without a word, as sqlservr does.
import type { CounterSpec } from "../../host/counters.ts";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { fill } from "../../util/template.ts";
import { ByteWriter, concatBytes, decodeUtf16, rd16, rd32, utf16 } from "../../wire/bytes.ts";
import { netNtlmHash, ntlmChallenge, ntlmFromBlob, parseNtlmAuth, type NtlmIdentity } from "../../wire/ntlmssp.ts";
import { ByteQueue } from "../../wire/queue.ts";
import type { MssqlTemplates } from "./templates.ts";

const PRELOGIN = 0x12;
const LOGIN7 = 0x10;
const SSPI = 0x11;
const TABULAR = 0x04;
/** The largest TDS packet (a packet size of 32767 is the most a client may ask for). */
const MAX_PACKET = 32767;
/** The most of one message (packets up to EOM) kept: a LOGIN7 with a large SSPI blob fits. */
const MAX_MESSAGE = 65536;
/** A packet header and the message being assembled, at most. */
export const MSSQL_MAX_BUFFERED = MAX_MESSAGE + MAX_PACKET + 8;
const FIELD_LOG_MAX = 256;

/** SQL Server numbers sessions from 51 and reuses numbers as sessions end. */
const SPIDS: CounterSpec = { atBoot: 51, perHour: 3, spread: 20, max: 120 };

interface ParsedError {
  number: number;
  state: number;
  cls: number;
  message: string;
}

function parseErr(text: string): ParsedError {
  const [n = "0", s = "1", c = "14", ...rest] = text.split("|");
  return { number: Number(n), state: Number(s), cls: Number(c), message: rest.join("|") };
}

/** The TDS version's protocol byte order: 7.0 < 7.1 < 7.2 < 7.3 < 7.4 (the top byte). */
function tdsRank(v: number): number {
  return (v >>> 24) & 0xff;
}

/** LOGIN7 password obfuscation undone: each byte XOR 0xA5, then its nibbles swapped. */
export function decodeLoginPassword(b: Uint8Array): Uint8Array {
  return b.map((x) => {
    const y = x ^ 0xa5;
    return ((y & 0x0f) << 4) | (y >> 4);
  });
}

export function startMssql(ctx: SessionContext<MssqlTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const errFailed = parseErr(t.errLoginFailed);
  const errUntrusted = parseErr(t.errUntrusted);
  const [vMaj = 0, vMin = 0, vBuild = 0, vSub = 0] = t.version.split(".").map((x) => Number(x));
  const host = ctx.host;
  const serverName = host.netbiosName.toUpperCase();
  const ntlmId: NtlmIdentity = {
    netbiosName: host.netbiosName,
    netbiosDomain: host.netbiosName, // a standalone server names itself as the NetBIOS domain
    dnsName: host.fqdn,
    dnsDomain: host.domain,
    version: t.ntlmVersion,
    timestamp: t.ntlmVersion !== "" && t.ntlmTimestamp,
    versionOnRequest: true,
  };
  const spid = ctx.counter("mssql.spid", SPIDS);

  let state: "prelogin" | "login" | "sspi" | "done" = "prelogin";
  let tds = t.tdsVersion;
  const input = new ByteQueue();
  let message: Uint8Array[] = [];
  let messageLength = 0;
  let messageType = -1;
  let challenge: Uint8Array = new Uint8Array(0);
  let client: Record<string, string> = {};

  function packet(type: number, payload: Uint8Array, withSpid: boolean): Uint8Array {
    const head = Uint8Array.of(type, 0x01, ((payload.length + 8) >> 8) & 0xff, (payload.length + 8) & 0xff, withSpid ? (spid >> 8) & 0xff : 0, withSpid ? spid & 0xff : 0, 0x01, 0x00);
    return concatBytes([head, payload]);
  }

  function preloginReply(p: Uint8Array): Uint8Array {
    // The client's options, up to the terminator; the answer carries the ones the server knows, in order.
    const asked = new Set<number>();
    for (let at = 0; at + 5 <= p.length && p[at] !== 0xff && asked.size < 32; at += 5) asked.add(p[at]!);
    const options: [number, number[]][] = [
      [0, [vMaj, vMin, (vBuild >> 8) & 0xff, vBuild & 0xff, (vSub >> 8) & 0xff, vSub & 0xff]],
      [1, [0x02]], // ENCRYPT_NOT_SUP
    ];
    if (asked.has(2)) options.push([2, [0x00]]); // INSTOPT: the default instance
    if (asked.has(3)) options.push([3, []]); // THREADID: empty from the server
    if (asked.has(4) && t.mars) options.push([4, [0x00]]); // MARS off
    const headLen = options.length * 5 + 1;
    const w = new ByteWriter();
    let off = headLen;
    for (const [token, data] of options) {
      w.u8(token).u8((off >> 8) & 0xff).u8(off & 0xff).u8((data.length >> 8) & 0xff).u8(data.length & 0xff);
      off += data.length;
    }
    w.u8(0xff);
    for (const [, data] of options) w.bytes(data);
    return packet(TABULAR, w.done(), false);
  }

  /** An ERROR token and the DONE that closes the reply, in the negotiated TDS version's layout. */
  function errorReply(e: ParsedError, vars: Record<string, string>): Uint8Array {
    const modern = tdsRank(tds) >= 0x72;
    const text = fill(e.message, vars);
    const body = new ByteWriter();
    body.u32(e.number).u8(e.state).u8(e.cls);
    body.u16(text.length).bytes(utf16(text));
    body.u8(serverName.length).bytes(utf16(serverName));
    body.u8(0); // ProcName
    if (modern) body.u32(1);
    else body.u16(1);
    const b = body.done();
    const w = new ByteWriter().u8(0xaa).u16(b.length).bytes(b);
    w.u8(0xfd).u16(0x0002).u16(0);
    if (modern) w.u64(0n);
    else w.u32(0);
    return packet(TABULAR, w.done(), true);
  }

  function end(write?: Uint8Array, events?: ProtocolEvent[]): Reply {
    state = "done";
    const r: Reply = { close: input.length > 0 ? "reset" : true };
    if (write) r.write = write;
    if (events && events.length > 0) r.events = events;
    input.clear();
    message = [];
    return r;
  }

  /** A UTF-16 field of LOGIN7 by its offset/length pair at `at` (offsets from the message start). */
  function field(p: Uint8Array, at: number, bytesPerUnit = 2): Uint8Array | undefined {
    const off = rd16(p, at);
    const n = rd16(p, at + 2) * bytesPerUnit;
    if (n === 0) return new Uint8Array(0);
    if (off + n > p.length) return undefined;
    return p.subarray(off, off + n);
  }

  function onLogin(p: Uint8Array): Reply {
    if (p.length < 94 || rd32(p, 0) > p.length + 0 || rd32(p, 0) < 94) return end(undefined, [{ action: "error", message: "malformed LOGIN7" }]);
    const clientTds = rd32(p, 4);
    if (tdsRank(clientTds) < tdsRank(t.tdsVersion)) tds = clientTds;
    const optionFlags2 = p[25]!;
    const parts = {
      host: field(p, 36),
      user: field(p, 40),
      password: field(p, 44),
      app: field(p, 48),
      server: field(p, 52),
      library: field(p, 60),
      database: field(p, 68),
      sspi: field(p, 78, 1),
    };
    if (Object.values(parts).some((x) => x === undefined)) return end(undefined, [{ action: "error", message: "malformed LOGIN7" }]);
    const text = (b: Uint8Array | undefined) => decodeUtf16((b ?? new Uint8Array(0)).subarray(0, FIELD_LOG_MAX * 2));
    client = {};
    const add = (k: string, b: Uint8Array | undefined) => {
      const v = text(b);
      if (v !== "") client[k] = v;
    };
    add("workstation", parts.host);
    add("application", parts.app);
    add("server_name", parts.server);
    add("library", parts.library);
    add("database", parts.database);
    client.tds_version = `0x${clientTds.toString(16).padStart(8, "0")}`;
    if (optionFlags2 & 0x80 && parts.sspi!.length > 0) {
      const ntlm = ntlmFromBlob(parts.sspi!);
      if (!ntlm || ntlm.type !== 1) return end(undefined, [{ action: "error", message: "unsupported SSPI token" }]);
      challenge = ctx.random(8);
      const flags = rd32(ntlm.msg, 12);
      const msg = ntlmChallenge(ntlmId, flags, challenge, ctx.now());
      const token = new ByteWriter().u8(0xed).u16(msg.length).bytes(msg).done();
      state = "sspi";
      return { write: packet(TABULAR, token, true) };
    }
    const user = text(parts.user);
    const password = new TextDecoder("utf-16le").decode(decodeLoginPassword(parts.password!.subarray(0, FIELD_LOG_MAX * 2)));
    const events: ProtocolEvent[] = [{ action: "login", method: "mssql", user, password, client }];
    return end(errorReply(errFailed, { user: text(parts.user!.subarray(0, 128 * 2)) }), events);
  }

  function onSspi(p: Uint8Array): Reply {
    const ntlm = ntlmFromBlob(p);
    const auth = ntlm && ntlm.type === 3 ? parseNtlmAuth(ntlm.msg) : undefined;
    if (!auth) return end(undefined, [{ action: "error", message: "malformed NTLM AUTHENTICATE" }]);
    const h = netNtlmHash(auth, challenge);
    const c = { ...client };
    if (auth.workstation !== "") c.workstation = auth.workstation;
    const login: ProtocolEvent = { action: "login", method: "mssql-ntlm", user: auth.user, domain: auth.domain, client: c };
    if (h) login.hash = { value: h.hash, type: h.type, hashcatMode: h.hashcatMode };
    return end(errorReply(errUntrusted, {}), [login]);
  }

  function onMessage(type: number, p: Uint8Array): Reply {
    if (state === "prelogin" && type === PRELOGIN) {
      state = "login";
      return { write: preloginReply(p) };
    }
    if ((state === "prelogin" || state === "login") && type === LOGIN7) return onLogin(p);
    if (state === "sspi" && type === SSPI) return onSspi(p);
    return end(undefined, [{ action: "error", message: "unexpected TDS packet type" }]);
  }

  function feed(chunk: Uint8Array): Reply {
    input.push(chunk);
    const writes: Uint8Array[] = [];
    const events: ProtocolEvent[] = [];
    let close: Reply["close"];
    // Bounded: each turn takes one whole packet from the input or stops.
    while (state !== "done" && input.length >= 8) {
      const v = input.view();
      const type = v[0]!;
      const status = v[1]!;
      const len = (v[2]! << 8) | v[3]!;
      // The header alone decides: a type this state does not take, or a length out of range, ends the session.
      const expected = state === "prelogin" ? type === PRELOGIN || type === LOGIN7 : state === "login" ? type === LOGIN7 : type === SSPI;
      if (!expected || len < 8 || len > MAX_PACKET || (messageType >= 0 && type !== messageType)) {
        input.skip(Math.min(8, input.length));
        const r = end(undefined, [{ action: "error", message: "malformed TDS packet" }]);
        events.push(...(r.events ?? []));
        close = r.close;
        break;
      }
      if (input.length < len) break;
      input.skip(8);
      const body = input.take(len - 8);
      messageType = type;
      if (messageLength + body.length > MAX_MESSAGE) {
        const r = end(undefined, [{ action: "error", message: "TDS message over the length limit" }]);
        events.push(...(r.events ?? []));
        close = r.close;
        break;
      }
      message.push(body);
      messageLength += body.length;
      if ((status & 0x01) === 0) continue;
      const whole = concatBytes(message);
      message = [];
      messageLength = 0;
      messageType = -1;
      const r = onMessage(type, whole);
      if (r.write !== undefined) writes.push(typeof r.write === "string" ? new TextEncoder().encode(r.write) : r.write);
      if (r.events) events.push(...r.events);
      if (r.close) {
        close = r.close;
        break;
      }
    }
    const reply: Reply = {};
    if (writes.length > 0) reply.write = concatBytes(writes);
    if (events.length > 0) reply.events = events;
    if (close) reply.close = close;
    return reply;
  }

  return {
    buffered: () => input.length + messageLength,
    open: () => ({}),
    data(chunk: Uint8Array): Reply {
      if (state === "done") return {};
      return feed(chunk);
    },
  };
}
