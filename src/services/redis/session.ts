// redis-server before (and without) a login: RESP multibulk and inline commands, parsed as the claimed
// version's networking code does (its limits and its "Protocol error: …" words, after which it hangs
// up), then processCommand's order: unknown command, arity, the password check. A face with a password
// refuses everything but AUTH (always wrong) and QUIT; a face without one answers what an open server
// answers to a scanner (INFO, CONFIG GET, PING, keys of this session) and pretends to take what an
// attacker sends (CONFIG SET, SLAVEOF, SET, SAVE), refusing MODULE LOAD as the version does.
// Every command is logged; AUTH is a login (method "redis", plaintext password).
//
// INFO placeholders: pid runId replId port uptime uptimeDays lruClock lruClock21 now nowUsec startTime
//   clients connections commands netIn netOut usedMemory usedMemoryHuman usedMemoryRss usedMemoryRssHuman
//   usedMemoryPeak usedMemoryPeakHuman peakPerc fragRatio cpuSys cpuUser cpuSys2 cpuUser2 cpuSys6 cpuUser6
//   keyspace (a "db0:keys=…" line when this session stored keys; else the line is dropped)
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import type { CounterSpec } from "../../host/counters.ts";
import { bootTime, hostTime, hostUnit } from "../../host/facts.ts";
import { fill } from "../../util/template.ts";
import { concatBytes, toBytes, toLatin1 } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import type { RedisTemplates } from "./templates.ts";

/** PROTO_INLINE_MAX_SIZE: an inline line, or a count line, longer than this without its end is refused. */
const INLINE_MAX = 64 * 1024;
/** Bytes of one argument kept (the rest is read and counted, as the server would buffer it). */
const ARG_KEEP = 4096;
/** Arguments kept per command (the rest are counted for the arity check). */
const ARGS_KEEP = 16;
/** The most a session holds between reads: a line without its end, and the kept part of a multibulk command. */
export const REDIS_MAX_BUFFERED = INLINE_MAX + ARGS_KEEP * ARG_KEEP + 64;
/** 512 MB: proto-max-bulk-len, the largest bulk the server accepts. */
const BULK_MAX = 512 * 1024 * 1024;
/** Keys a session may store; values are kept up to ARG_KEEP bytes. */
const KEYS_MAX = 64;
/** A command as logged: at most this many characters. */
const LOG_MAX = 1024;

const CONNECTIONS: CounterSpec = { atBoot: 2, perHour: 6, spread: 40 };

function bulk(s: string | Uint8Array | null): string {
  if (s === null) return "$-1\r\n";
  const b = typeof s === "string" ? s : toLatin1(s);
  return `$${b.length}\r\n${b}\r\n`;
}

function array(items: (string | null)[]): string {
  return `*${items.length}\r\n${items.map(bulk).join("")}`;
}

/** An error line: the server maps CR and LF in it to spaces, so a reply is always one line. */
function err(text: string): string {
  return `-${text.replace(/[\r\n]/g, " ")}\r\n`;
}

/** redis's string2ll: optional "-", no "+", no leading zeros, no spaces; undefined when not a number. */
function toInt(s: string): number | undefined {
  if (!/^(0|-?[1-9][0-9]{0,18})$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : n > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
}

/** redis's bytesToHuman. */
function human(n: number): string {
  if (n < 1024) return `${n}B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(2)}K`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)}M`;
  return `${(n / 1024 ** 3).toFixed(2)}G`;
}

/** redis's stringmatch for CONFIG GET and KEYS: * ? and [..] (with ^ and ranges), case-insensitive for CONFIG. */
export function globMatch(pattern: string, text: string, nocase: boolean): boolean {
  let re = "";
  for (let i = 0; i < pattern.length && i < 256; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[\\s\\S]*";
    else if (c === "?") re += "[\\s\\S]";
    else if (c === "\\" && i + 1 < pattern.length) re += "\\" + pattern[++i]!.replace(/[^\w]/, (m) => m);
    else re += c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");
  }
  try {
    return new RegExp(`^${re}$`, nocase ? "i" : "").test(text);
  } catch {
    return false;
  }
}

/** sdssplitargs: words, "double quotes" with \n \r \t \b \a \\ \" \xHH, 'single quotes' with \'; undefined when unbalanced. */
export function splitArgs(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    while (i < n && /[ \n\r\t\v\f]/.test(line[i]!)) i++;
    if (i >= n) return out;
    let cur = "";
    let inq = false;
    let insq = false;
    for (;;) {
      const c = line[i];
      if (inq) {
        if (c === undefined) return undefined;
        if (c === "\\" && line[i + 1] === "x" && /^[0-9a-fA-F]{2}$/.test(line.slice(i + 2, i + 4))) {
          cur += String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === "\\" && i + 1 < n) {
          i++;
          const e = line[i]!;
          cur += e === "n" ? "\n" : e === "r" ? "\r" : e === "t" ? "\t" : e === "b" ? "\b" : e === "a" ? "\x07" : e;
        } else if (c === '"') {
          // A closing quote must be followed by a space or the end.
          if (i + 1 < n && !/[ \n\r\t\v\f]/.test(line[i + 1]!)) return undefined;
          inq = false;
          i++;
          break;
        } else cur += c;
      } else if (insq) {
        if (c === undefined) return undefined;
        if (c === "\\" && line[i + 1] === "'") {
          i++;
          cur += "'";
        } else if (c === "'") {
          if (i + 1 < n && !/[ \n\r\t\v\f]/.test(line[i + 1]!)) return undefined;
          insq = false;
          i++;
          break;
        } else cur += c;
      } else {
        if (c === undefined || /[ \n\r\t\v\f]/.test(c)) break;
        if (c === '"') inq = true;
        else if (c === "'") insq = true;
        else cur += c;
      }
      i++;
    }
    out.push(cur);
  }
}

interface Command {
  /** The arguments kept (each cut to ARG_KEEP bytes, at most ARGS_KEEP of them). */
  args: string[];
  /** How many arguments the command had. */
  argc: number;
}

export function startRedis(ctx: SessionContext<RedisTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const q = new ByteQueue();
  let closed = false;
  let authed = false;
  // Multibulk state: arguments still to read, the bulk length being read (-1: its header next).
  let mbLeft = 0;
  let bulkLen = -1;
  let bulkRead = 0;
  let cur: Command = { args: [], argc: 0 };
  let argBuf: Uint8Array[] = [];
  let argKept = 0;
  const store = new Map<string, string>();
  const configSet = new Map<string, string>();
  let clientName = "";

  const real = ctx.now();
  const boot = bootTime(ctx.host, real).getTime();
  // The server started a little after boot, and has run since.
  const startMs = boot + 4000 + Math.floor(hostUnit(ctx.host, "redis", "start") * 20_000);
  const pid = 300 + Math.floor(hostUnit(ctx.host, "redis", "pid") * 1400);
  const connections = ctx.counter("redis.connections", CONNECTIONS);
  const hex40 = (label: string) =>
    Array.from({ length: 5 }, (_, i) => Math.floor(hostUnit(ctx.host, "redis", label, String(i)) * 2 ** 32).toString(16).padStart(8, "0")).join("");
  const runId = hex40("run-id");
  const connectedAt = real.getTime();
  let commandsHere = 0;
  const lower = new Map(Object.entries(t.commands));

  function infoVars(): Record<string, string | number> {
    const now = ctx.now();
    const hostNow = hostTime(ctx.host, now).getTime();
    const uptime = Math.max(1, Math.floor((now.getTime() - startMs) / 1000));
    const unix = Math.floor(hostNow / 1000);
    // Memory as the allocator reports it: the version's start-up size, a per-host data set, this session's keys.
    const startup = t.memoryStartup;
    const dataset = 20_000 + Math.floor(hostUnit(ctx.host, "redis", "mem") * 1_500_000) + store.size * 96;
    const memClients = 20_496 * ctx.concurrent;
    const overhead = startup + memClients;
    const used = overhead + dataset;
    const active = Math.floor(used * (1.05 + hostUnit(ctx.host, "redis", "frag") * 0.1));
    const resident = active + 2_600_000 + Math.floor(hostUnit(ctx.host, "redis", "resident") * 1_000_000);
    const rss = resident + 1_500_000 + Math.floor(hostUnit(ctx.host, "redis", "rss") * 2_000_000);
    const peak = used + Math.floor(hostUnit(ctx.host, "redis", "peak") * 200_000);
    const systemMemory = [1, 2, 4, 8, 16][Math.floor(hostUnit(ctx.host, "ram") * 5)]! * 1024 ** 3 - 180_000_000 - Math.floor(hostUnit(ctx.host, "ram-used") * 60_000_000);
    const cpuRate = 0.0004 + hostUnit(ctx.host, "redis", "cpu") * 0.0012;
    const cpuSys = uptime * cpuRate;
    const cpuUser = uptime * cpuRate * (0.6 + hostUnit(ctx.host, "redis", "cpu-user") * 0.6);
    const commands = connections * 3 + commandsHere;
    const ratio = (a: number, b: number) => (b > 0 ? a / b : 0).toFixed(2);
    return {
      version: t.version,
      pid,
      runId,
      replId: hex40("repl-id"),
      port: ctx.localPort,
      uptime,
      uptimeDays: Math.floor(uptime / 86400),
      lruClock: unix % 2 ** 24,
      now: unix,
      nowUsec: `${hostNow}${String(Math.floor(hostUnit(ctx.host, "redis", "us", String(now.getTime())) * 1000)).padStart(3, "0")}`,
      startTime: Math.floor((startMs + (hostNow - now.getTime())) / 1000),
      clients: ctx.concurrent,
      connections,
      commands,
      netIn: commands * 31 + 14,
      netOut: commands * 220,
      reads: commands + connections,
      writes: commands,
      memStartup: startup,
      memOverhead: overhead,
      memDataset: dataset,
      memDatasetPerc: `${((dataset / Math.max(1, used - startup)) * 100).toFixed(2)}%`,
      memClients,
      allocAllocated: used + 800_000,
      allocActive: active + 900_000,
      allocResident: resident,
      allocFragRatio: ratio(active + 900_000, used + 800_000),
      allocFragBytes: active - used + 100_000,
      allocRssRatio: ratio(resident, active + 900_000),
      allocRssBytes: resident - active - 900_000,
      rssOverheadRatio: ratio(rss, resident),
      rssOverheadBytes: rss - resident,
      fragBytes: rss - used,
      systemMemory,
      systemMemoryHuman: human(systemMemory),
      lruClock21: Math.floor(unix / 10) % 2 ** 21,
      cpuSysMain6: (cpuSys * 0.97).toFixed(6),
      cpuUserMain6: (cpuUser * 0.97).toFixed(6),
      // libc malloc (FreeBSD) gives no allocator figures: the server fakes them from the RSS less Lua's 37 KB.
      libcResident: rss - 37_888,
      libcFragRatio: ratio(rss - 37_888, used),
      libcFragBytes: rss - 37_888 - used,
      libcRssRatio: ratio(rss, rss - 37_888),
      usedMemory: used,
      usedMemoryHuman: human(used),
      usedMemoryRss: rss,
      usedMemoryRssHuman: human(rss),
      usedMemoryPeak: peak,
      usedMemoryPeakHuman: human(peak),
      peakPerc: `${((used / peak) * 100).toFixed(2)}%`,
      fragRatio: (rss / used).toFixed(2),
      cpuSys: cpuSys.toFixed(2),
      cpuUser: cpuUser.toFixed(2),
      cpuSys6: cpuSys.toFixed(6),
      cpuUser6: cpuUser.toFixed(6),
    };
  }

  function info(section: string | undefined): string {
    const vars = infoVars();
    const lines = t.info
      .map((l) => (l === "{{keyspace}}" ? (store.size > 0 ? `db0:keys=${store.size},expires=0,avg_ttl=0` : null) : fill(l, vars)))
      .filter((l): l is string => l !== null);
    const wanted = section?.toLowerCase();
    let text: string;
    if (wanted === undefined || wanted === "all" || wanted === "default" || wanted === "everything") {
      text = lines.join("\r\n") + "\r\n";
    } else {
      // One section: its header and lines up to the next empty line.
      const start = lines.findIndex((l) => l.toLowerCase() === `# ${wanted}`);
      if (start < 0) return bulk("");
      let end = lines.indexOf("", start);
      if (end < 0) end = lines.length;
      text = lines.slice(start, end).join("\r\n") + "\r\n";
    }
    return bulk(text);
  }

  function unknown(cmd: Command): string {
    const name = cmd.args[0] ?? "";
    if (t.unknownCommand === "plain") return err(`ERR unknown command '${name}'`);
    let args = "";
    for (let i = 1; i < cmd.args.length && args.length < 128; i++) {
      const room = 128 - args.length;
      args += t.unknownCommand === "backtick" ? `\`${cmd.args[i]!.slice(0, room)}\`, ` : `'${cmd.args[i]!.slice(0, room)}' `;
    }
    return t.unknownCommand === "backtick"
      ? err(`ERR unknown command \`${name}\`, with args beginning with: ${args}`)
      : err(`ERR unknown command '${name.slice(0, 128)}', with args beginning with: ${args}`);
  }

  const wrongArgs = (name: string) => err(`ERR wrong number of arguments for '${name}' command`);

  function loginEvent(cmd: Command): ProtocolEvent {
    const acl = t.authAcl && cmd.argc === 3;
    return {
      action: "login",
      method: "redis",
      ...(acl ? { user: cmd.args[1] ?? "" } : t.authAcl ? { user: "default" } : {}),
      password: (acl ? cmd.args[2] : cmd.args[1]) ?? "",
    };
  }

  function auth(cmd: Command): string {
    if (!t.requirepass) {
      // No password: a one-argument AUTH says so; 6.0+ check a user's password against the default user.
      if (t.authAcl && cmd.argc === 3) return err(fill(t.authWrong, {}));
      return err(fill(t.authNoPassword, {}));
    }
    return err(t.authWrong);
  }

  /** A subcommand table: 7.0's arity and unknown-subcommand words, or the older command's own. */
  function config(cmd: Command): string {
    const sub = (cmd.args[1] ?? "").toLowerCase();
    const vars = { sub: cmd.args[1] ?? "", SUB: (cmd.args[1] ?? "").toUpperCase() };
    if (sub === "get") {
      if (t.subcommandNames ? cmd.argc < 3 : cmd.argc !== 3) return t.subcommandNames ? wrongArgs("config|get") : err(fill(t.configWrongArgs, vars));
      const out: string[] = [];
      const patterns = cmd.args.slice(2);
      for (const [name, value] of Object.entries(t.config)) {
        if (patterns.some((p) => globMatch(p, name, true))) out.push(name, configSet.get(name) ?? value);
      }
      return array(out);
    }
    if (sub === "set") {
      if (t.subcommandNames ? cmd.argc < 4 || cmd.argc % 2 !== 0 : cmd.argc !== 4) {
        return t.subcommandNames ? (cmd.argc < 4 ? wrongArgs("config|set") : err(fill(t.configSetUnknown, { param: cmd.args[2] ?? "" }))) : err(fill(t.configWrongArgs, vars));
      }
      const param = (cmd.args[2] ?? "").toLowerCase();
      if (!Object.hasOwn(t.config, param)) return err(fill(t.configSetUnknown, { param: cmd.args[2] ?? "" }));
      if (t.protectedConfigs.includes(param)) return err(fill(t.configSetProtected, { param }));
      if (configSet.size < KEYS_MAX || configSet.has(param)) configSet.set(param, cmd.args[3] ?? "");
      return "+OK\r\n";
    }
    if (sub === "resetstat" || sub === "rewrite") return "+OK\r\n";
    return err(fill(t.configUnknownSubcommand, vars));
  }

  function clientCmd(cmd: Command): string {
    const sub = (cmd.args[1] ?? "").toLowerCase();
    if (sub === "list") {
      const age = Math.floor((ctx.now().getTime() - connectedAt) / 1000);
      const line = fill(t.clientList, {
        id: connections,
        addr: `${ctx.remoteAddress.includes(":") ? `[${ctx.remoteAddress}]` : ctx.remoteAddress}:${ctx.remotePort}`,
        laddr: `${ctx.localAddress.includes(":") ? `[${ctx.localAddress}]` : ctx.localAddress}:${ctx.localPort}`,
        fd: 7 + ctx.concurrent,
        age,
        name: clientName,
        cmd: t.subcommandNames ? "client|list" : "client",
      });
      return bulk(line + "\n");
    }
    if (sub === "getname") return bulk(clientName === "" ? null : clientName);
    if (sub === "setname" && cmd.argc === 3) {
      clientName = (cmd.args[2] ?? "").slice(0, 64);
      return "+OK\r\n";
    }
    if (sub === "setinfo" || sub === "setname") return "+OK\r\n";
    if (sub === "id") return `:${connections}\r\n`;
    return t.subcommandNames ? err(`ERR unknown subcommand '${(cmd.args[1] ?? "").slice(0, 128)}'. Try CLIENT HELP.`) : err("ERR Syntax error, try CLIENT (LIST | KILL ip:port | GETNAME | SETNAME connection-name)");
  }

  /** What an open server answers (after the arity check). */
  function open(name: string, cmd: Command): string {
    const a = cmd.args;
    switch (name) {
      case "ping":
        return cmd.argc > 1 ? bulk(a[1] ?? "") : "+PONG\r\n";
      case "echo":
        return bulk(a[1] ?? "");
      case "info":
        return info(a[1]);
      case "config":
        return config(cmd);
      case "client":
        return clientCmd(cmd);
      case "select": {
        const db = toInt(a[1] ?? "");
        // 7.0 says which of the two is wrong; older versions say "invalid DB index" for both.
        if (db === undefined) return err(t.subcommandNames ? "ERR value is not an integer or out of range" : "ERR invalid DB index");
        return db < 0 || db >= 16 ? err(t.subcommandNames ? "ERR DB index is out of range" : "ERR invalid DB index") : "+OK\r\n";
      }
      case "set":
        if (store.size < KEYS_MAX || store.has(a[1] ?? "")) store.set(a[1] ?? "", a[2] ?? "");
        return "+OK\r\n";
      case "setnx":
        if (store.has(a[1] ?? "")) return ":0\r\n";
        if (store.size < KEYS_MAX) store.set(a[1] ?? "", a[2] ?? "");
        return ":1\r\n";
      case "get":
        return bulk(store.get(a[1] ?? "") ?? null);
      case "del":
      case "unlink": {
        let n = 0;
        for (const k of a.slice(1)) if (store.delete(k)) n++;
        return `:${n}\r\n`;
      }
      case "exists": {
        let n = 0;
        for (const k of a.slice(1)) if (store.has(k)) n++;
        return `:${n}\r\n`;
      }
      case "keys":
        return array([...store.keys()].filter((k) => globMatch(a[1] ?? "", k, false)));
      case "dbsize":
        return `:${store.size}\r\n`;
      case "flushall":
      case "flushdb":
        store.clear();
        return "+OK\r\n";
      case "save":
        return "+OK\r\n";
      case "bgsave":
        return "+Background saving started\r\n";
      case "bgrewriteaof":
        return "+Background append only file rewriting started\r\n";
      case "lastsave":
        return `:${infoVars().startTime}\r\n`;
      case "time": {
        const us = hostTime(ctx.host, ctx.now()).getTime() * 1000;
        return array([String(Math.floor(us / 1e6)), String(us % 1e6)]);
      }
      case "slaveof":
      case "replicaof":
        return "+OK\r\n";
      case "module": {
        const sub = (a[1] ?? "").toLowerCase();
        if (sub === "load") return err(t.moduleLoad);
        if (sub === "loadex" || sub === "unload") return err(t.moduleLoad);
        if (sub === "list") return "*0\r\n";
        return t.subcommandNames ? err(`ERR unknown subcommand '${(a[1] ?? "").slice(0, 128)}'. Try MODULE HELP.`) : err("ERR Unknown subcommand or wrong number of arguments for '" + (a[1] ?? "").slice(0, 128) + "'. Try MODULE HELP.");
      }
      case "pubsub":
        return (a[1] ?? "").toLowerCase() === "channels" ? "*0\r\n" : (a[1] ?? "").toLowerCase() === "numpat" ? ":0\r\n" : "*0\r\n";
      case "cluster":
        return err("ERR This instance has cluster support disabled");
      case "command":
        return (a[1] ?? "").toLowerCase() === "count" ? `:${lower.size}\r\n` : "*0\r\n";
      case "hello": {
        // HELLO [protover]: the server's facts, as a RESP2 array or a RESP3 map (later replies stay RESP2 here).
        const proto = a[1] === undefined ? 2 : toInt(a[1]);
        if (proto !== 2 && proto !== 3) return err("NOPROTO unsupported protocol version");
        const fields: [string, string][] = [
          ["server", bulk("redis")],
          ["version", bulk(t.version)],
          ["proto", `:${proto}\r\n`],
          ["id", `:${connections}\r\n`],
          ["mode", bulk("standalone")],
          ["role", bulk("master")],
          ["modules", "*0\r\n"],
        ];
        return (proto === 3 ? `%${fields.length}\r\n` : `*${fields.length * 2}\r\n`) + fields.map(([k, v]) => bulk(k) + v).join("");
      }
      case "randomkey":
        return bulk(store.keys().next().value ?? null);
      case "type":
        return store.has(a[1] ?? "") ? "+string\r\n" : "+none\r\n";
      case "ttl":
      case "pttl":
        return store.has(a[1] ?? "") ? ":-1\r\n" : ":-2\r\n";
      case "incr":
      case "decr":
        return ":1\r\n";
      case "sadd":
      case "lpush":
      case "rpush":
      case "hset":
      case "zadd":
      case "expire":
      case "publish":
      case "append":
      case "setrange":
        return name === "publish" ? ":0\r\n" : ":1\r\n";
      case "mset":
      case "hmset":
      case "setex":
      case "psetex":
      case "rename":
      case "multi":
      case "discard":
      case "watch":
      case "unwatch":
      case "readonly":
      case "readwrite":
      case "script":
        return name === "script" && (a[1] ?? "").toLowerCase() === "load" ? bulk("e0e1f9fabfc9d4800c877a703b823ac0578ff8db") : "+OK\r\n";
      case "scan":
        return `*2\r\n$1\r\n0\r\n${array([...store.keys()].slice(0, 10))}`;
      case "eval": {
        // A script that only returns a constant gets it; anything else ran and returned nothing.
        const m = /^\s*return\s+(?:(-?\d{1,15})|'([^'\\]{0,256})'|"([^"\\]{0,256})")\s*;?\s*$/.exec(a[1] ?? "");
        if (m?.[1] !== undefined) return `:${m[1]}\r\n`;
        if (m) return bulk(m[2] ?? m[3] ?? "");
        return "$-1\r\n";
      }
      case "evalsha":
        return err("NOSCRIPT No matching script. Please use EVAL.");
      case "exec":
      default:
        return name === "exec" ? err("ERR EXEC without MULTI") : "$-1\r\n";
    }
  }

  /** One whole command: processCommand's checks in the version's order, then the answer. */
  function run(cmd: Command, events: ProtocolEvent[]): { out: string; close: boolean } {
    if (cmd.argc === 0) return { out: "", close: false };
    const raw = cmd.args[0] ?? "";
    const name = raw.toLowerCase();
    commandsHere++;
    if (name === "auth") events.push(loginEvent(cmd));
    else events.push({ action: "command", command: cmd.args.join(" ").slice(0, LOG_MAX) + (cmd.argc > cmd.args.length ? ` …(${cmd.argc} arguments)` : "") });
    if (t.httpGuard === "early" && (name === "post" || name === "host:")) return { out: "", close: true };
    // QUIT comes before the command table in every version.
    if (name === "quit") return { out: "+OK\r\n", close: true };
    if (!lower.has(name)) return { out: unknown(cmd), close: false };
    const arity = Number(lower.get(name));
    if ((arity > 0 && arity !== cmd.argc) || cmd.argc < -arity) return { out: wrongArgs(name), close: false };
    if (t.requirepass && !authed && name !== "auth") {
      if (name === "hello" && t.authAcl)
        return {
          out: err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"),
          close: false,
        };
      return { out: err(t.noAuth), close: false };
    }
    if (name === "post" || name === "host:") return { out: "", close: true };
    if (name === "auth") {
      if (!t.authAcl && cmd.argc !== 2) return { out: wrongArgs("auth"), close: false };
      if (t.authAcl && cmd.argc > 3) return { out: err("ERR syntax error"), close: false };
      return { out: auth(cmd), close: false };
    }
    return { out: open(name, cmd), close: false };
  }

  /** A protocol error: the words, then the hang-up (an error event in the same words). */
  function protocolError(text: string, events: ProtocolEvent[]): { out: string; close: boolean } {
    events.push({ action: "error", message: `Protocol error: ${text}` });
    return { out: err(`ERR Protocol error: ${text}`), close: true };
  }

  function keepArg(bytes: Uint8Array): void {
    if (cur.args.length >= ARGS_KEEP) return;
    const room = ARG_KEEP - argKept;
    if (room <= 0) return;
    const piece = bytes.subarray(0, room);
    argBuf.push(piece.slice());
    argKept += piece.length;
  }

  function endArg(): void {
    if (cur.args.length < ARGS_KEEP) cur.args.push(toLatin1(concatBytes(argBuf)));
    argBuf = [];
    argKept = 0;
    cur.argc++;
  }

  /** Parses and runs what the queue holds; stops at a partial command or a hang-up. */
  function process(events: ProtocolEvent[]): { out: string[]; close: boolean } {
    const out: string[] = [];
    for (;;) {
      if (mbLeft === 0 && bulkLen < 0) {
        // Between commands: a multibulk header, or an inline line.
        if (q.length === 0) break;
        if (q.at(0) === 0x2a) {
          const nl = q.indexOf(0x0d);
          if (nl < 0 || nl + 1 >= q.length) {
            if (q.length > INLINE_MAX) return { out: [...out, protocolError("too big mbulk count string", events).out], close: true };
            break;
          }
          const n = toInt(q.latin1(1, nl));
          if (n === undefined || n > t.multibulkMax) return { out: [...out, protocolError("invalid multibulk length", events).out], close: true };
          if (n > 10 && t.unauthLimits && t.requirepass && !authed) return { out: [...out, protocolError("unauthenticated multibulk length", events).out], close: true };
          q.skip(nl + 2);
          if (n <= 0) continue;
          mbLeft = n;
          cur = { args: [], argc: 0 };
          continue;
        }
        const nl = q.indexOf(0x0a);
        if (nl < 0) {
          if (q.length > INLINE_MAX) return { out: [...out, protocolError("too big inline request", events).out], close: true };
          break;
        }
        let line = q.latin1(0, nl);
        q.skip(nl + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        let args: string[] | undefined;
        if (t.inlineArgs === "quotes") {
          args = splitArgs(line);
          if (args === undefined) return { out: [...out, protocolError("unbalanced quotes in request", events).out], close: true };
        } else args = line.split(" ").filter((a) => a !== "");
        const r = run({ args: args.slice(0, ARGS_KEEP).map((a) => a.slice(0, ARG_KEEP)), argc: args.length }, events);
        out.push(r.out);
        if (r.close) return { out, close: true };
        continue;
      }
      if (bulkLen < 0) {
        // A bulk header: $<len>\r\n
        if (q.length === 0) break;
        const nl = q.indexOf(0x0d);
        if (nl < 0 || nl + 1 >= q.length) {
          if (q.length > INLINE_MAX) return { out: [...out, protocolError("too big bulk count string", events).out], close: true };
          break;
        }
        const first = q.at(0)!;
        if (first !== 0x24) return { out: [...out, protocolError(`expected '$', got '${String.fromCharCode(first)}'`, events).out], close: true };
        const n = toInt(q.latin1(1, nl));
        if (n === undefined || n < 0 || n > BULK_MAX) return { out: [...out, protocolError("invalid bulk length", events).out], close: true };
        if (n > 16384 && t.unauthLimits && t.requirepass && !authed) return { out: [...out, protocolError("unauthenticated bulk length", events).out], close: true };
        q.skip(nl + 2);
        bulkLen = n;
        bulkRead = 0;
        continue;
      }
      // The bulk's bytes, then its CRLF (not checked, as the server skips two bytes).
      const want = bulkLen + 2 - bulkRead;
      const take = Math.min(want, q.length);
      if (take === 0) break;
      const dataLeft = Math.max(0, bulkLen - bulkRead);
      const view = q.view();
      keepArg(view.subarray(0, Math.min(take, dataLeft)));
      q.skip(take);
      bulkRead += take;
      if (bulkRead < bulkLen + 2) break;
      endArg();
      bulkLen = -1;
      mbLeft--;
      if (mbLeft === 0) {
        const r = run(cur, events);
        cur = { args: [], argc: 0 };
        out.push(r.out);
        if (r.close) return { out, close: true };
      }
    }
    return { out, close: false };
  }

  return {
    buffered: () => q.length + argKept + cur.args.reduce((n, a) => n + a.length, 0),
    open(): Reply {
      return {};
    },
    data(chunk: Uint8Array): Reply {
      if (closed) return {};
      q.push(chunk);
      const events: ProtocolEvent[] = [];
      const r = process(events);
      const reply: Reply = {};
      const text = r.out.join("");
      if (text !== "") reply.write = toBytes(text);
      if (events.length > 0) reply.events = events;
      if (r.close) {
        closed = true;
        // (measured on 7.0: an orderly close, even after a 70 KB inline line).
        reply.close = true;
        q.clear();
      }
      return reply;
    },
  };
}
