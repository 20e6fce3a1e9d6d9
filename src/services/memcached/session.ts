// memcached's text protocol as the claimed version answers it (stats, stats settings, version, get/set/
// add/replace/append/prepend/cas with their data blocks, delete, incr/decr, touch, flush_all, verbosity,
// quit, shutdown), items kept for the session only; and, when the first byte is 0x80, a minimal binary
// protocol (noop, version, quit, get/set/delete/flush and "unknown command"). memcached has no login
// in either: every command is logged as a command event.
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import type { CounterSpec } from "../../host/counters.ts";
import { bootTime, hostTime, hostUnit } from "../../host/facts.ts";
import { fill } from "../../util/template.ts";
import { toBytes, toLatin1 } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import type { MemcachedTemplates } from "./templates.ts";

/** A multiget line may grow past lineMax; we keep it up to this, then hang up. */
const LINE_CAP = 64 * 1024;
/** A data block is kept up to this many bytes (the rest is read and dropped). */
const VALUE_KEEP = 4096;
/** item_size_max: a larger data block is refused with SERVER_ERROR and swallowed. */
const ITEM_MAX = 1024 * 1024;
/** Binary bodies are kept up to this many bytes; the rest is read and dropped. */
const BODY_KEEP = 1024;
export const MEMCACHED_MAX_BUFFERED = LINE_CAP + VALUE_KEEP + 64;
const KEYS_MAX = 64;
const KEY_MAX = 250;
const LOG_MAX = 1024;

const CONNECTIONS: CounterSpec = { atBoot: 10, perHour: 4, spread: 30 };

interface Item {
  flags: string;
  value: Uint8Array;
  cas: number;
}

/** A pending data block: the command that announced it and the bytes still to read. */
interface Pending {
  verb: string;
  key: string;
  flags: string;
  bytes: number;
  noreply: boolean;
  casUnique?: number;
  tooLarge: boolean;
  kept: Uint8Array[];
  keptLen: number;
  read: number;
  /** The block's last two bytes as read (CRLF when well formed). */
  tail: number[];
}

const isNum = (s: string | undefined) => s !== undefined && /^\d{1,20}$/.test(s);
const isSigned = (s: string | undefined) => s !== undefined && /^-?\d{1,20}$/.test(s);

export function startMemcached(ctx: SessionContext<MemcachedTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const q = new ByteQueue();
  let mode: "unknown" | "text" | "binary" = "unknown";
  let closed = false;
  let pending: Pending | undefined;
  const store = new Map<string, Item>();
  let casCounter = 1 + Math.floor(hostUnit(ctx.host, "memcached", "cas") * 50);
  let gets = 0;
  let sets = 0;
  let hits = 0;
  let bytesIn = 0;

  const real = ctx.now();
  const startMs = bootTime(ctx.host, real).getTime() + 3000 + Math.floor(hostUnit(ctx.host, "memcached", "start") * 15_000);
  const pid = 300 + Math.floor(hostUnit(ctx.host, "memcached", "pid") * 1400);
  const connections = ctx.counter("memcached.connections", CONNECTIONS);

  function vars(): Record<string, string | number> {
    const now = ctx.now();
    const uptime = Math.max(1, Math.floor((now.getTime() - startMs) / 1000));
    const rate = 0.00005 + hostUnit(ctx.host, "memcached", "cpu") * 0.0002;
    const six = (n: number) => n.toFixed(6);
    const itemBytes = [...store.values()].reduce((n, i) => n + i.value.length + 56, 0);
    return {
      pid,
      uptime,
      time: Math.floor(hostTime(ctx.host, now).getTime() / 1000),
      version: t.version,
      rusageUser: six(uptime * rate * 0.7),
      rusageSystem: six(uptime * rate),
      currConnections: ctx.concurrent,
      currConnectionsListen: ctx.concurrent + 4,
      totalConnections: connections,
      connectionStructures: ctx.concurrent + 5,
      connectionStructures16: ctx.concurrent + 1,
      // 1.6's LRU maintainer wakes about once a second while idle; its crawler ran once per boot hour.
      juggles: Math.floor(uptime * (0.9 + hostUnit(ctx.host, "memcached", "juggle") * 0.2)),
      crawlerStarts: 1 + Math.floor(uptime / 3600),
      cmdGet: connections + gets,
      cmdSet: sets,
      getHits: hits,
      getMisses: connections + gets - hits,
      bytesRead: connections * 7 + bytesIn,
      bytesWritten: connections * 1100,
      currItems: store.size,
      totalItems: sets,
      bytes: itemBytes,
      port: ctx.localPort,
    };
  }

  function statLines(lines: string[]): string {
    const v = vars();
    return lines.map((l) => `STAT ${fill(l, v)}\r\n`).join("") + "END\r\n";
  }

  function stats(tokens: string[]): string | "close" {
    const sub = tokens[1];
    if (sub === undefined) return statLines(t.stats);
    if (sub === "settings") return statLines(t.settings);
    if (sub === "reset") return "RESET\r\n";
    if (sub === "items" || sub === "sizes" || (sub === "detail" && tokens[2] === "dump")) return "END\r\n";
    if (sub === "slabs") return "STAT active_slabs 0\r\nSTAT total_malloced 0\r\nEND\r\n";
    if (sub === "detail") return tokens[2] === "on" || tokens[2] === "off" ? "OK\r\n" : "CLIENT_ERROR usage: stats detail on|off|dump\r\n";
    return "ERROR\r\n";
  }

  function get(tokens: string[], withCas: boolean): string {
    let out = "";
    for (const key of tokens.slice(1)) {
      if (key.length > KEY_MAX) return "CLIENT_ERROR bad command line format\r\n";
      gets++;
      const it = store.get(key);
      if (!it) continue;
      hits++;
      out += `VALUE ${key} ${it.flags} ${it.value.length}${withCas ? ` ${it.cas}` : ""}\r\n${toLatin1(it.value)}\r\n`;
    }
    return out + "END\r\n";
  }

  /** A storage command's line: starts a data block, or refuses the line. */
  function storage(tokens: string[], verb: string): string | undefined {
    const isCas = verb === "cas";
    const n = tokens.length;
    if (!(isCas ? n === 6 || n === 7 : n === 5 || n === 6)) return "ERROR\r\n";
    const [, key, flags, exptime, bytes] = tokens;
    const noreply = tokens[isCas ? 6 : 5] === "noreply";
    if (key!.length > KEY_MAX || !isNum(flags) || !isSigned(exptime) || !isSigned(bytes) || (isCas && !isNum(tokens[5])))
      return "CLIENT_ERROR bad command line format\r\n";
    const len = Number(bytes);
    if (len < 0) return "CLIENT_ERROR bad command line format\r\n";
    pending = { verb, key: key!, flags: flags!, bytes: len, noreply, casUnique: isCas ? Number(tokens[5]) : undefined, tooLarge: len + 2 > ITEM_MAX, kept: [], keptLen: 0, read: 0, tail: [] };
    return undefined;
  }

  function finishBlock(p: Pending): string {
    const out = (s: string) => (p.noreply ? "" : s);
    if (p.tooLarge) return out("SERVER_ERROR object too large for cache\r\n");
    if (p.tail[0] !== 0x0d || p.tail[1] !== 0x0a) return "CLIENT_ERROR bad data chunk\r\n";
    sets++;
    const value = new Uint8Array(p.keptLen);
    let at = 0;
    for (const k of p.kept) {
      value.set(k, at);
      at += k.length;
    }
    const body = value.subarray(0, Math.min(p.bytes, value.length));
    const old = store.get(p.key);
    const room = old !== undefined || store.size < KEYS_MAX;
    const put = (v: Uint8Array) => {
      if (room && p.bytes <= VALUE_KEEP) store.set(p.key, { flags: p.flags, value: v, cas: casCounter++ });
    };
    switch (p.verb) {
      case "add":
        if (old) return out("NOT_STORED\r\n");
        put(body);
        return out("STORED\r\n");
      case "replace":
        if (!old) return out("NOT_STORED\r\n");
        put(body);
        return out("STORED\r\n");
      case "append":
      case "prepend": {
        if (!old) return out("NOT_STORED\r\n");
        const joined = p.verb === "append" ? Buffer.concat([old.value, body]) : Buffer.concat([body, old.value]);
        if (joined.length <= VALUE_KEEP) store.set(p.key, { flags: old.flags, value: new Uint8Array(joined), cas: casCounter++ });
        return out("STORED\r\n");
      }
      case "cas":
        if (!old) return out("NOT_FOUND\r\n");
        if (old.cas !== p.casUnique) return out("EXISTS\r\n");
        put(body);
        return out("STORED\r\n");
      default:
        put(body);
        return out("STORED\r\n");
    }
  }

  function command(line: string, events: ProtocolEvent[]): string | "close" {
    // An empty line is answered (ERROR) but is no command worth a log line; the data events hold it.
    if (line.trim() !== "") events.push({ action: "command", command: line.slice(0, LOG_MAX) });
    // memcached splits at spaces only, and keeps at most 24 tokens (the last holds the rest).
    const tokens = line.split(" ").filter((x) => x !== "");
    const verb = tokens[0] ?? "";
    const noreply = tokens[tokens.length - 1] === "noreply";
    const quiet = (s: string) => (noreply ? "" : s);
    switch (verb) {
      case "get":
      case "gets":
        return tokens.length < 2 ? "ERROR\r\n" : get(tokens, verb === "gets");
      case "set":
      case "add":
      case "replace":
      case "append":
      case "prepend":
      case "cas":
        return storage(tokens, verb) ?? "";
      case "delete": {
        if (tokens.length < 2 || tokens.length > 4) return "ERROR\r\n";
        const key = tokens[1]!;
        if (key.length > KEY_MAX) return "CLIENT_ERROR bad command line format\r\n";
        return quiet(store.delete(key) ? "DELETED\r\n" : "NOT_FOUND\r\n");
      }
      case "incr":
      case "decr": {
        if (tokens.length !== 3 && tokens.length !== 4) return "ERROR\r\n";
        if (!isNum(tokens[2])) return "CLIENT_ERROR invalid numeric delta argument\r\n";
        const it = store.get(tokens[1]!);
        if (!it) return quiet("NOT_FOUND\r\n");
        const cur = toLatin1(it.value);
        if (!/^\d+$/.test(cur)) return "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n";
        let v = BigInt(cur) + (verb === "incr" ? BigInt(tokens[2]!) : -BigInt(tokens[2]!));
        if (v < 0n) v = 0n;
        v &= (1n << 64n) - 1n;
        it.value = toBytes(v.toString());
        return quiet(`${v}\r\n`);
      }
      case "touch":
        if (tokens.length !== 3 && tokens.length !== 4) return "ERROR\r\n";
        if (!isSigned(tokens[2])) return "CLIENT_ERROR invalid exptime argument\r\n";
        return quiet(store.has(tokens[1]!) ? "TOUCHED\r\n" : "NOT_FOUND\r\n");
      case "stats":
        return stats(tokens);
      case "version":
        return `VERSION ${t.version}\r\n`;
      case "flush_all":
        if (tokens.length > 3) return "ERROR\r\n";
        if (tokens[1] !== undefined && tokens[1] !== "noreply" && !isSigned(tokens[1]) && t.flushBadArg !== undefined) return `${t.flushBadArg}\r\n`;
        store.clear();
        return quiet("OK\r\n");
      case "verbosity":
        return tokens.length === 2 || tokens.length === 3 ? quiet("OK\r\n") : "ERROR\r\n";
      case "quit":
        return "close";
      case "shutdown":
        return `${t.shutdownReply}\r\n`;
    }
    // The last word of an HTTP request line (memcached's tokens[ntokens - 2], before its empty end token).
    if (t.httpClose && tokens.length >= 1 && (tokens[tokens.length - 1] ?? "").startsWith("HTTP/")) return "close";
    return "ERROR\r\n";
  }

  /** Reads a pending data block out of the queue; true once it is complete. */
  function readBlock(p: Pending): boolean {
    const want = p.bytes + 2 - p.read;
    const take = Math.min(want, q.length);
    if (take <= 0) return false;
    const view = q.view().subarray(0, take);
    const dataLeft = Math.max(0, p.bytes - p.read);
    const keep = Math.min(view.length, dataLeft, VALUE_KEEP - p.keptLen);
    if (keep > 0 && !p.tooLarge) {
      p.kept.push(view.slice(0, keep));
      p.keptLen += keep;
    }
    // The last two bytes of the block: its CRLF when well formed.
    for (let i = Math.max(0, p.bytes - p.read); i < take; i++) p.tail.push(view[i]!);
    q.skip(take);
    p.read += take;
    return p.read >= p.bytes + 2;
  }

  function text(events: ProtocolEvent[]): { out: string; close: boolean } {
    let out = "";
    for (;;) {
      if (pending) {
        if (!readBlock(pending)) break;
        out += finishBlock(pending);
        pending = undefined;
        continue;
      }
      if (q.length === 0) break;
      const nl = q.indexOf(0x0a, 0, LINE_CAP);
      if (nl < 0) {
        if (q.length > t.lineMax) {
          // Only a large multiget may be that long; anything else, or any line past our cap, is dropped.
          const head = q.latin1(0, 110).replace(/^ {0,100}/, "");
          if (q.length >= LINE_CAP || !(head.startsWith("get ") || head.startsWith("gets "))) {
            events.push({ action: "error", message: "line too long" });
            return { out, close: true };
          }
        }
        break;
      }
      let line = q.latin1(0, nl);
      q.skip(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      const r = command(line, events);
      if (r === "close") return { out, close: true };
      out += r;
    }
    return { out, close: false };
  }

  const BIN_NAMES: Record<number, string> = { 0: "get", 1: "set", 2: "add", 3: "replace", 4: "delete", 5: "increment", 6: "decrement", 7: "quit", 8: "flush", 9: "getq", 10: "noop", 11: "version", 12: "getk", 13: "getkq", 16: "stat", 0x20: "sasl_list_mechs", 0x21: "sasl_auth" };
  let binNeed = -1;
  let binHeader: Uint8Array | undefined;
  let binKept: Uint8Array[] = [];
  let binKeptLen = 0;

  function binReply(h: Uint8Array, status: number, body: Uint8Array = new Uint8Array(0), key: Uint8Array = new Uint8Array(0), extras: Uint8Array = new Uint8Array(0)): Uint8Array {
    const out = new Uint8Array(24 + extras.length + key.length + body.length);
    out[0] = 0x81;
    out[1] = h[1]!;
    out[2] = key.length >> 8;
    out[3] = key.length & 0xff;
    out[4] = extras.length;
    out[6] = status >> 8;
    out[7] = status & 0xff;
    const total = extras.length + key.length + body.length;
    out[8] = (total >>> 24) & 0xff;
    out[9] = (total >>> 16) & 0xff;
    out[10] = (total >>> 8) & 0xff;
    out[11] = total & 0xff;
    out.set(h.subarray(12, 16), 12);
    out.set(extras, 24);
    out.set(key, 24 + extras.length);
    out.set(body, 24 + extras.length + key.length);
    return out;
  }

  function binCommand(h: Uint8Array, body: Uint8Array, events: ProtocolEvent[]): { out: Uint8Array[]; close: boolean } {
    const op = h[1]!;
    const keyLen = (h[2]! << 8) | h[3]!;
    const extLen = h[4]!;
    const key = body.subarray(extLen, extLen + keyLen);
    const name = BIN_NAMES[op] ?? `0x${op.toString(16).padStart(2, "0")}`;
    events.push({ action: "command", command: `binary ${name}${key.length ? ` ${toLatin1(key).slice(0, 256)}` : ""}` });
    switch (op) {
      case 0x0a:
        return { out: [binReply(h, 0)], close: false };
      case 0x0b:
        return { out: [binReply(h, 0, toBytes(t.version))], close: false };
      case 0x07:
        return { out: [binReply(h, 0)], close: true };
      case 0x00:
      case 0x0c:
        return { out: [binReply(h, 1, toBytes("Not found"))], close: false };
      case 0x09:
      case 0x0d:
        return { out: [], close: false };
      case 0x01:
      case 0x02:
      case 0x03:
      case 0x08:
        return { out: [binReply(h, 0)], close: false };
      case 0x04:
        return { out: [binReply(h, 1, toBytes("Not found"))], close: false };
      case 0x10: {
        const v = vars();
        const parts = t.stats.map((l) => {
          const sp = l.indexOf(" ");
          return binReply(h, 0, toBytes(fill(l.slice(sp + 1), v)), toBytes(l.slice(0, sp)));
        });
        return { out: [...parts, binReply(h, 0)], close: false };
      }
      default:
        return { out: [binReply(h, 0x81, toBytes("Unknown command"))], close: false };
    }
  }

  function binary(events: ProtocolEvent[]): { out: Uint8Array[]; close: boolean } {
    const out: Uint8Array[] = [];
    for (;;) {
      if (!binHeader) {
        if (q.length < 24) break;
        const h = q.view().slice(0, 24);
        q.skip(24);
        if (h[0] !== 0x80) {
          events.push({ action: "error", message: "invalid binary magic" });
          return { out, close: true };
        }
        binHeader = h;
        binNeed = ((h[8]! << 24) | (h[9]! << 16) | (h[10]! << 8) | h[11]!) >>> 0;
        if (binNeed > ITEM_MAX + 1024) {
          events.push({ action: "error", message: "binary body too large" });
          return { out, close: true };
        }
        binKept = [];
        binKeptLen = 0;
      }
      const take = Math.min(binNeed, q.length);
      const keep = Math.min(take, BODY_KEEP - binKeptLen);
      if (keep > 0) {
        binKept.push(q.view().slice(0, keep));
        binKeptLen += keep;
      }
      q.skip(take);
      binNeed -= take;
      if (binNeed > 0) break;
      const body = new Uint8Array(binKeptLen);
      let at = 0;
      for (const k of binKept) {
        body.set(k, at);
        at += k.length;
      }
      const h = binHeader;
      binHeader = undefined;
      binKept = [];
      binKeptLen = 0;
      const r = binCommand(h, body, events);
      out.push(...r.out);
      if (r.close) return { out, close: true };
    }
    return { out, close: false };
  }

  return {
    buffered: () => q.length + (pending?.keptLen ?? 0) + binKeptLen,
    open(): Reply {
      return {};
    },
    data(chunk: Uint8Array): Reply {
      if (closed) return {};
      bytesIn += chunk.length;
      q.push(chunk);
      if (mode === "unknown") mode = q.at(0) === 0x80 ? "binary" : "text";
      const events: ProtocolEvent[] = [];
      const reply: Reply = {};
      let close: boolean;
      if (mode === "binary") {
        const r = binary(events);
        if (r.out.length > 0) reply.write = Buffer.concat(r.out);
        close = r.close;
      } else {
        const r = text(events);
        if (r.out !== "") reply.write = toBytes(r.out);
        close = r.close;
      }
      if (events.length > 0) reply.events = events;
      if (close) {
        closed = true;
        reply.close = true;
        q.clear();
      }
      return reply;
    },
  };
}
