// mongod on its driver port (27017): the wire protocol's OP_QUERY (opcode 2004, what nmap's probe, the
// old drivers and every driver's first isMaster use) answered with OP_REPLY (1), and OP_MSG (2013, the
// drivers' commands from 3.6 on) answered with OP_MSG. Commands on `<db>.$cmd`: isMaster/hello,
// buildInfo, serverStatus, listDatabases, ping, getLog, whatsmyuri, getnonce + authenticate
// (MONGODB-CR), saslStart/saslContinue (SCRAM-SHA-1, SCRAM-SHA-256 on 4.0 on). No login ever works.
//
// Two kinds of face: open (no --auth: every read answers, on an empty data set) and --auth (everything
// but the handshake and login commands is "not authorized", code 13).
//
// Framing, as mongod does it: the first 4 bytes are the message length; "GET " there is an HTTP request
// on the driver port (answered with mongod's one-line text, then closed); a length under 16 or over
// 48,000,000 closes the connection without a word. mongod would then read up to 48 MB; this face keeps
// at most KEEP bytes of one message and closes on a longer one (an `error` event says so).
import { createHash } from "node:crypto";
import type { CounterSpec } from "../../host/counters.ts";
import { bootTime, hostTime, hostUnit } from "../../host/facts.ts";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { clip, concatBytes } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { type BsonDoc, decodeDoc, encodeDoc, Int32, RawDoc } from "./bson.ts";
import { renderDoc } from "./render.ts";
import type { MongodbSeries, MongodbTemplates } from "./templates.ts";

const OP_REPLY = 1;
const OP_UPDATE = 2001;
const OP_INSERT = 2002;
const OP_QUERY = 2004;
const OP_GET_MORE = 2005;
const OP_DELETE = 2006;
const OP_KILL_CURSORS = 2007;
const OP_MSG = 2013;

/** mongod's bounds on one message (MaxMessageSizeBytes is 48,000,000). */
const MIN_MESSAGE = 16;
const MONGOD_MAX_MESSAGE = 48_000_000;
/** The most of one message this face reads; a longer one ends the session. */
export const KEEP = 64 * 1024;
export const MONGODB_MAX_BUFFERED = KEEP;
/** User names and SCRAM messages as logged. */
const LOG_MAX = 256;

const CONNECTIONS: CounterSpec = { atBoot: 2, perHour: 6, spread: 40 };
const MESSAGE_IDS: CounterSpec = { atBoot: 20, perHour: 400, spread: 300 };

/** The HTTP answer on the driver port: mongod before 2.5.1 pointed at its web console, later ones do not. */
const HTTP_OLD = "You are trying to access MongoDB on the native driver port. For http diagnostic access, add 1000 to the port number\n";
const HTTP_NEW = "It looks like you are trying to access MongoDB over HTTP on the native driver port.\n";

/** Commands an --auth mongod answers before any login. */
const PRE_AUTH = new Set(["isMaster", "ismaster", "hello", "buildInfo", "buildinfo", "ping", "saslStart", "saslContinue", "getnonce", "authenticate", "logout", "whatsmyuri", "getLastError", "getlasterror", "getPrevError", "resetError", "endSessions"]);

type Rec = { [key: string]: unknown };

const SERIES_ORDER: readonly MongodbSeries[] = ["2.4", "2.6", "3.0", "3.2", "3.4", "3.6", "4.0", "4.2", "4.4"];
function atLeast(s: MongodbSeries, min: MongodbSeries): boolean {
  return SERIES_ORDER.indexOf(s) >= SERIES_ORDER.indexOf(min);
}

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, n | 0, true);
  return b;
}

function rdI32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getInt32(at, true);
}

function cstring(b: Uint8Array, at: number, end: number): { text: string; next: number } | undefined {
  const nul = b.indexOf(0, at);
  if (nul < 0 || nul >= end) return undefined;
  return { text: new TextDecoder().decode(b.subarray(at, nul)), next: nul + 1 };
}

/** The length of the BSON document at `at`, if one fits before `end`. */
function docLength(b: Uint8Array, at: number, end: number): number | undefined {
  if (at + 5 > end) return undefined;
  const n = rdI32(b, at);
  return n >= 5 && at + n <= end ? n : undefined;
}

/** SCRAM's saslname unescaping: =2C is a comma, =3D an equals sign. */
function saslName(s: string): string {
  return s.replace(/=2C/g, ",").replace(/=3D/g, "=");
}

interface Scram {
  mechanism: "SCRAM-SHA-1" | "SCRAM-SHA-256";
  user: string;
  db: string;
  clientFirst: string;
  serverFirst: string;
}

export function startMongodb(ctx: SessionContext<MongodbTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const series = t.series;
  const codeNames = atLeast(series, "3.4");
  const queue = new ByteQueue();
  let msgLen = -1;
  let closed = false;
  let nextId = ctx.counter("mongod.messages", MESSAGE_IDS) * 7;
  const connectionId = ctx.counter("mongod.connections", CONNECTIONS);
  const real = ctx.now();
  const startMs = bootTime(ctx.host, real).getTime() + 5000 + Math.floor(hostUnit(ctx.host, "mongod", "start") * 30_000);
  // A service started at boot: a low PID on Linux; Windows numbers processes in fours, and higher.
  const pid = ctx.entry.os === "windows" ? 4 * (300 + Math.floor(hostUnit(ctx.host, "mongod", "pid") * 1500)) : 400 + Math.floor(hostUnit(ctx.host, "mongod", "pid") * 2400);
  let scram: Scram | undefined;
  let requests = 0;

  const hostNow = () => hostTime(ctx.host, ctx.now());

  function error(code: number, codeName: string, errmsg: string): Rec {
    if (series === "2.4") return { ok: 0, errmsg, code: new Int32(code) };
    return { ok: 0, errmsg, code: new Int32(code), ...(codeNames ? { codeName } : {}) };
  }

  function unknownCommand(name: string, raw: Uint8Array): Rec {
    const shown = renderDoc(raw);
    if (series === "2.4") return { errmsg: `no such cmd: ${name}`, "bad cmd": new RawDoc(raw), ok: 0 };
    if (!codeNames) return { ok: 0, errmsg: `no such cmd: ${name}`, code: new Int32(59), "bad cmd": new RawDoc(raw) };
    if (!atLeast(series, "4.0")) return { ok: 0, errmsg: `no such command: '${name}', bad cmd: '${shown}'`, code: new Int32(59), codeName: "CommandNotFound" };
    return { ok: 0, errmsg: `no such command: '${name}'`, code: new Int32(59), codeName: "CommandNotFound" };
  }

  function unauthorized(db: string, name: string, raw: Uint8Array, viaQuery: boolean): Rec {
    if (atLeast(series, "4.0")) return error(13, "Unauthorized", `command ${name} requires authentication`);
    let shown = renderDoc(raw);
    // From 3.6 the command is upconverted with its database before the check, and shown so.
    if (atLeast(series, "3.6") && viaQuery) shown = shown === "{}" ? `{ $db: "${db}" }` : `${shown.slice(0, -2)}, $db: "${db}" }`;
    return error(13, "Unauthorized", `not authorized on ${db} to execute command ${shown}`);
  }

  function isMaster(name: string): Rec {
    const doc: Rec = { [name === "hello" ? "isWritablePrimary" : "ismaster"]: true, maxBsonObjectSize: new Int32(16777216), maxMessageSizeBytes: new Int32(48000000) };
    if (series !== "2.4") doc.maxWriteBatchSize = new Int32(atLeast(series, "3.6") ? 100000 : 1000);
    doc.localTime = hostNow();
    if (atLeast(series, "3.6")) doc.logicalSessionTimeoutMinutes = new Int32(30);
    if (atLeast(series, "4.2")) doc.connectionId = new Int32(connectionId);
    if (series !== "2.4") {
      doc.minWireVersion = new Int32(0);
      doc.maxWireVersion = new Int32(t.maxWireVersion);
    }
    if (atLeast(series, "3.4")) doc.readOnly = false;
    doc.ok = 1;
    return doc;
  }

  function versionArray(): Int32[] {
    const parts = t.version.split(/[.-]/).slice(0, 3).map((x) => new Int32(Number.parseInt(x, 10) || 0));
    return [...parts, new Int32(0)];
  }

  function buildInfo(): Rec {
    if (!atLeast(series, "3.2")) {
      const doc: Rec = { version: t.version, gitVersion: t.gitVersion };
      if (series !== "2.4" && t.opensslRunning !== "") doc.OpenSSLVersion = t.opensslRunning;
      doc.sysInfo = t.sysInfo;
      if (t.buildEnvironment) Object.assign(doc, t.buildEnvironment);
      Object.assign(doc, { allocator: t.allocator, versionArray: versionArray(), javascriptEngine: t.javascriptEngine, bits: new Int32(64), debug: false, maxBsonObjectSize: new Int32(16777216), ok: 1 });
      return doc;
    }
    return {
      version: t.version,
      gitVersion: t.gitVersion,
      ...(t.targetMinOS !== undefined ? { targetMinOS: t.targetMinOS } : {}),
      modules: [],
      allocator: t.allocator,
      javascriptEngine: t.javascriptEngine,
      sysInfo: t.sysInfo,
      versionArray: versionArray(),
      openssl: t.opensslRunning === "" ? { running: "disabled", compiled: "disabled" } : { running: t.opensslRunning, compiled: t.opensslCompiled },
      ...(t.buildEnvironment ? { buildEnvironment: t.buildEnvironment } : {}),
      bits: new Int32(64),
      debug: false,
      maxBsonObjectSize: new Int32(16777216),
      storageEngines: t.storageEngine === "wiredTiger" ? ["devnull", "ephemeralForTest", "mmapv1", "wiredTiger"].filter((e) => e !== "mmapv1" || !atLeast(series, "4.2")) : ["devnull", "ephemeralForTest", "mmapv1", "wiredTiger"],
      ok: 1,
    };
  }

  function serverStatus(): Rec {
    const now = ctx.now();
    const uptimeMs = Math.max(60_000, now.getTime() - startMs);
    const hours = uptimeMs / 3_600_000;
    const unit = (label: string) => hostUnit(ctx.host, "mongod", label);
    const modern = atLeast(series, "3.0");
    const int = (n: number) => (modern ? BigInt(Math.floor(n)) : new Int32(Math.floor(n)));
    const current = Math.max(1, ctx.concurrent);
    const commands = Math.floor(connectionId * 3 + hours * 20 * unit("cmd-rate")) + requests;
    const queries = Math.floor(hours * 2 * unit("query-rate"));
    const resident = Math.floor(40 + unit("resident") * 120);
    const doc: Rec = {
      // mongod's prettyHostName: the host name, and the port when it is not the default.
      host: ctx.localPort > 0 && ctx.localPort !== 27017 ? `${ctx.hostname}:${ctx.localPort}` : ctx.hostname,
      version: t.version,
      process: "mongod",
      pid: modern ? BigInt(pid) : new Int32(pid),
      uptime: Math.floor(uptimeMs / 1000),
      uptimeMillis: BigInt(uptimeMs),
      uptimeEstimate: modern ? BigInt(Math.floor(uptimeMs / 1000)) : Math.floor(uptimeMs / 1000) - 1,
      localTime: hostTime(ctx.host, now),
      asserts: { regular: new Int32(0), warning: new Int32(0), msg: new Int32(0), user: new Int32(Math.floor(hours * unit("asserts"))), rollovers: new Int32(0) },
    };
    if (!atLeast(series, "3.0") || t.storageEngine === "mmapv1") {
      const flushes = Math.floor(uptimeMs / 60_000);
      const total = Math.floor(flushes * (2 + unit("flush") * 10));
      doc.backgroundFlushing = { flushes: new Int32(flushes), total_ms: new Int32(total), average_ms: flushes > 0 ? total / flushes : 0, last_ms: new Int32(Math.floor(1 + unit("flush-last") * 9)), last_finished: new Date(hostTime(ctx.host, now).getTime() - Math.floor(unit("flush-at") * 60_000)) };
    }
    doc.connections = { current: new Int32(current), available: new Int32(atLeast(series, "2.6") ? 819 - current : 51200 - current), ...(modern ? { totalCreated: BigInt(connectionId) } : {}) };
    // extra_info is the platform's: heap use and page faults on Linux, page file and RAM on Windows.
    if (ctx.entry.os === "windows") {
      const ramMB = [2048, 4096, 8192, 16384][Math.floor(unit("ram") * 4)]!;
      const pageFile = ramMB + 1024 * (1 + Math.floor(unit("pagefile") * 3));
      doc.extra_info = { note: "fields vary by platform", page_faults: new Int32(Math.floor(9000 + unit("faults") * 40_000)), usagePageFileMB: new Int32(Math.floor(60 + unit("usage") * 90)), totalPageFileMB: new Int32(pageFile), availPageFileMB: new Int32(Math.floor(pageFile * (0.4 + unit("avail") * 0.4))), ramMB: new Int32(ramMB) };
    } else {
      doc.extra_info = { note: "fields vary by platform", heap_usage_bytes: new Int32(Math.floor(60_000_000 + unit("heap") * 30_000_000)), page_faults: new Int32(Math.floor(20 + unit("faults") * 300)) };
    }
    doc.globalLock = {
      totalTime: modern ? BigInt(uptimeMs) * 1000n : uptimeMs * 1000,
      ...(modern ? {} : { lockTime: Math.floor(uptimeMs * (0.5 + unit("lock") * 2)), ratio: 0.00002 + unit("lock") * 0.00005 }),
      currentQueue: { total: new Int32(0), readers: new Int32(0), writers: new Int32(0) },
      activeClients: { total: new Int32(modern ? 10 + current : 0), readers: new Int32(0), writers: new Int32(0) },
    };
    doc.mem = { bits: new Int32(64), resident: new Int32(resident), virtual: new Int32(resident + (t.storageEngine === "mmapv1" ? 520 : 260)), supported: true, ...(t.storageEngine === "mmapv1" ? { mapped: new Int32(160), mappedWithJournal: new Int32(320) } : {}) };
    doc.network = { bytesIn: int(commands * 230), bytesOut: int(commands * 2100), numRequests: int(commands) };
    doc.opcounters = { insert: new Int32(0), query: new Int32(queries), update: new Int32(0), delete: new Int32(0), getmore: new Int32(0), command: new Int32(commands) };
    doc.opcountersRepl = { insert: new Int32(0), query: new Int32(0), update: new Int32(0), delete: new Int32(0), getmore: new Int32(0), command: new Int32(0) };
    if (modern) doc.storageEngine = { name: t.storageEngine, supportsCommittedReads: t.storageEngine === "wiredTiger", ...(atLeast(series, "3.2") ? { persistent: true } : {}) };
    doc.ok = 1;
    return doc;
  }

  function listDatabases(): Rec {
    let total = 0;
    const databases = t.databases.map((d) => {
      const [name = "", size = "0"] = d.split(":");
      const bytes = Number.parseInt(size, 10) || 0;
      total += bytes;
      return { name, sizeOnDisk: bytes, empty: bytes <= 1 };
    });
    return { databases, totalSize: total, ...(atLeast(series, "3.6") ? { totalSizeMb: Math.floor(total / 1048576) } : {}), ok: 1 };
  }

  function saslStart(db: string, cmd: BsonDoc, events: ProtocolEvent[]): Rec {
    const mechanism = typeof cmd.mechanism === "string" ? cmd.mechanism : "";
    const enabled = mechanism === "SCRAM-SHA-1" ? atLeast(series, "3.0") : mechanism === "SCRAM-SHA-256" ? atLeast(series, "4.0") : false;
    if (!enabled) {
      if (!atLeast(series, "3.0")) return error(2, "BadValue", `Unsupported mechanism ${mechanism}`);
      return error(334, "MechanismUnavailable", `Received authentication for mechanism ${mechanism} which is not enabled`);
    }
    const payload = cmd.payload instanceof Uint8Array ? new TextDecoder().decode(cmd.payload) : typeof cmd.payload === "string" ? cmd.payload : "";
    const m = /^[nyp](?:=[^,]*)?,(?:a=[^,]*)?,(n=([^,]*),r=([^,]+)(?:,.*)?)$/s.exec(payload);
    if (!m) {
      events.push({ action: "error", message: "malformed SCRAM message" });
      return error(17, "ProtocolError", `Incorrect number of arguments for first ${mechanism} client message, got 1 expected at least 3`);
    }
    const user = saslName(m[2]!).slice(0, LOG_MAX);
    const sha256 = mechanism === "SCRAM-SHA-256";
    // The same user on the same host always gets the same salt, as a stored credential would.
    const salt = createHash("sha256").update(`${ctx.host.seed}\0mongodb-salt\0${mechanism}\0${db}\0${user}`).digest().subarray(0, sha256 ? 28 : 16);
    const nonce = m[3]! + Buffer.from(ctx.random(24)).toString("base64");
    const iterations = sha256 ? t.scramSha256Iterations : t.scramIterations;
    const serverFirst = `r=${nonce},s=${salt.toString("base64")},i=${iterations}`;
    scram = { mechanism: sha256 ? "SCRAM-SHA-256" : "SCRAM-SHA-1", user, db, clientFirst: m[1]!, serverFirst };
    return { conversationId: new Int32(1), done: false, payload: new TextEncoder().encode(serverFirst), ok: 1 };
  }

  function saslContinue(cmd: BsonDoc, events: ProtocolEvent[]): Rec {
    const s = scram;
    scram = undefined;
    if (!s) return error(17, "ProtocolError", "No SASL session state found");
    const payload = cmd.payload instanceof Uint8Array ? new TextDecoder().decode(cmd.payload) : typeof cmd.payload === "string" ? cmd.payload : "";
    events.push({
      action: "login",
      method: s.mechanism === "SCRAM-SHA-1" ? "mongodb-scram-sha-1" : "mongodb-scram-sha-256",
      user: s.user,
      client: { sasl_mechanism: s.mechanism, database: clip(s.db, 64), scram_client_first: clip(s.clientFirst, LOG_MAX), scram_server_first: s.serverFirst, scram_client_final: clip(payload, LOG_MAX) },
    });
    return error(18, "AuthenticationFailed", "Authentication failed.");
  }

  function authenticate(db: string, cmd: BsonDoc, events: ProtocolEvent[]): Rec {
    const user = typeof cmd.user === "string" ? cmd.user.slice(0, LOG_MAX) : "";
    const nonce = typeof cmd.nonce === "string" ? cmd.nonce : "";
    const key = typeof cmd.key === "string" ? cmd.key : "";
    const mech = typeof cmd.mechanism === "string" ? cmd.mechanism : "MONGODB-CR";
    const crackable = /^[0-9a-f]{16}$/.test(nonce) && /^[0-9a-f]{32}$/.test(key) && !/[$\n]/.test(user);
    events.push({
      action: "login",
      method: "mongodb-cr",
      user,
      // key = MD5(nonce + user + hex MD5(user + ":mongo:" + password)): John's `mongodb` format as it is.
      ...(crackable ? { hash: { value: `$mongodb$1$${user}$${nonce}$${key}`, type: "mongodb-cr", hashcatMode: 3710 } } : {}),
      client: { database: clip(db, 64), auth_mechanism: clip(mech, 64), ...(crackable ? {} : { nonce: clip(nonce, 64), key: clip(key, 64) }) },
    });
    if (series === "2.4") return { ok: 0, errmsg: "auth fails" };
    return error(18, "AuthenticationFailed", "auth failed");
  }

  /** One command; `raw` is its document as sent. */
  /**
   * One command; `raw` is its document as sent. `sequences` are OP_MSG's kind-1 sections (an insert's
   * documents: the ransom note), shown in the logged command after the body and counted as mongod counts them.
   */
  function command(db: string, raw: Uint8Array, viaQuery: boolean, events: ProtocolEvent[], sequences: { id: string; docs: Uint8Array[] }[] = []): Rec {
    const decoded = decodeDoc(raw);
    let cmd: BsonDoc = decoded ? decoded[0] : {};
    let body = raw;
    // mongos-style wrapping: { $query: { cmd }, $readPreference: … } (old drivers, nmap does not).
    const first = Object.keys(cmd)[0];
    if (viaQuery && (first === "$query" || first === "query") && typeof cmd[first] === "object" && cmd[first] !== null && !Array.isArray(cmd[first]) && !(cmd[first] instanceof Uint8Array) && !(cmd[first] instanceof Date)) {
      cmd = cmd[first] as BsonDoc;
      const at = raw.indexOf(0, 5) + 1;
      const len = docLength(raw, at, raw.length);
      if (len !== undefined) body = raw.subarray(at, at + len);
    }
    const name = Object.keys(cmd)[0] ?? "";
    requests++;
    const shownSeqs = sequences.map((q) => ` ${q.id}: [ ${q.docs.slice(0, 4).map((d) => renderDoc(d, 0, 512)).join(", ")}${q.docs.length > 4 ? ", …" : ""} ]`).join("");
    events.push({ action: "command", command: clip(`${db} ${renderDoc(body)}${shownSeqs}`, 1024) });
    if (!decoded) return error(22, "InvalidBSON", "invalid bson");
    if (name === "") return series === "2.4" ? { errmsg: "no such cmd: ", "bad cmd": {}, ok: 0 } : error(59, "CommandNotFound", "no such command: ''");
    const known = new Set(["isMaster", "ismaster", "buildInfo", "buildinfo", "serverStatus", "listDatabases", "ping", "getLog", "whatsmyuri", "getnonce", "authenticate", "logout", "getLastError", "getlasterror", "listCollections", "find", "insert", "count", "hostInfo", "getCmdLineOpts", "saslStart", "saslContinue", "endSessions", "dbStats", "connectionStatus"]);
    if (atLeast(series, "4.4") && /^4\.4\.([2-9]|\d\d)/.test(t.version)) known.add("hello");
    if (!atLeast(series, "3.0")) {
      known.delete("listCollections");
      known.delete("find");
      known.delete("insert");
    }
    if (!atLeast(series, "3.6")) known.delete("endSessions");
    if (atLeast(series, "4.0")) known.delete("getnonce");
    if (series === "2.4") {
      known.delete("saslStart");
      known.delete("saslContinue");
    }
    if (!known.has(name)) return unknownCommand(name, body);
    if (t.auth && !PRE_AUTH.has(name)) return unauthorized(db, name, body, viaQuery);
    switch (name) {
      case "isMaster":
      case "ismaster":
      case "hello":
        return isMaster(name);
      case "buildInfo":
      case "buildinfo":
        return buildInfo();
      case "serverStatus":
        return serverStatus();
      case "listDatabases":
        return db === "admin" ? listDatabases() : error(13, "Unauthorized", "listDatabases may only be run against the admin database.");
      case "ping":
      case "logout":
      case "endSessions":
        return { ok: 1 };
      case "whatsmyuri":
        return { you: `${ctx.remoteAddress.includes(":") ? `[${ctx.remoteAddress}]` : ctx.remoteAddress}:${ctx.remotePort}`, ok: 1 };
      case "getnonce":
        return { nonce: Buffer.from(ctx.random(8)).toString("hex"), ok: 1 };
      case "authenticate":
        return authenticate(db, cmd, events);
      case "saslStart":
        return saslStart(db, cmd, events);
      case "saslContinue":
        return saslContinue(cmd, events);
      case "getLastError":
      case "getlasterror":
        return { ...(atLeast(series, "2.6") ? { connectionId: new Int32(connectionId) } : {}), n: new Int32(0), syncMillis: new Int32(0), writtenTo: null, err: null, ok: 1 };
      case "getLog":
        if (cmd.getLog === "*") return { names: ["global", "startupWarnings"], ok: 1 };
        return { totalLinesWritten: new Int32(0), log: [], ok: 1 };
      case "find":
      case "listCollections": {
        const coll = typeof cmd[name] === "string" ? (cmd[name] as string) : "$cmd.listCollections";
        return { cursor: { firstBatch: [], id: 0n, ns: `${db}.${name === "find" ? coll : "$cmd.listCollections"}` }, ok: 1 };
      }
      case "insert": {
        const inSeq = sequences.find((q) => q.id === "documents");
        const docs = inSeq ? inSeq.docs.length : Array.isArray(cmd.documents) ? cmd.documents.length : 1;
        return { n: new Int32(docs), ok: 1 };
      }
      case "count":
        return { n: new Int32(0), ok: 1 };
      case "connectionStatus":
        return { authInfo: { authenticatedUsers: [], authenticatedUserRoles: [] }, ok: 1 };
      case "dbStats":
        return { db, collections: new Int32(0), objects: new Int32(0), avgObjSize: 0, dataSize: 0, storageSize: 0, numExtents: new Int32(0), indexes: new Int32(0), indexSize: 0, fileSize: 0, ok: 1 };
      case "hostInfo":
        return { system: { currentTime: hostNow(), hostname: ctx.hostname, cpuAddrSize: new Int32(64), memSizeMB: new Int32(2000), numCores: new Int32(2), cpuArch: "x86_64", numaEnabled: false }, os: { type: "Linux" }, extra: {}, ok: 1 };
      default:
        return { argv: ["/usr/bin/mongod", "--config", "/etc/mongodb.conf"], parsed: { config: "/etc/mongodb.conf" }, ok: 1 };
    }
  }

  function header(len: number, responseTo: number, opCode: number): Uint8Array {
    nextId++;
    return concatBytes([le32(len), le32(nextId), le32(responseTo), le32(opCode)]);
  }

  function opReply(responseTo: number, docs: Uint8Array[], flags = 8): Uint8Array {
    const body = concatBytes(docs);
    const len = 16 + 20 + body.length;
    return concatBytes([header(len, responseTo, OP_REPLY), le32(flags), new Uint8Array(8), le32(0), le32(docs.length), body]);
  }

  function opMsg(responseTo: number, doc: Uint8Array): Uint8Array {
    return concatBytes([header(16 + 5 + doc.length, responseTo, OP_MSG), le32(0), Uint8Array.of(0), doc]);
  }

  /** One whole message. */
  function onMessage(m: Uint8Array, events: ProtocolEvent[]): { write?: Uint8Array; close?: boolean } {
    const requestId = rdI32(m, 4);
    const opCode = rdI32(m, 12);
    const end = m.length;
    if (opCode === OP_QUERY) {
      const ns = end > 20 ? cstring(m, 20, end) : undefined;
      const at = ns ? ns.next + 8 : -1;
      const len = ns ? docLength(m, at, end) : undefined;
      if (!ns || len === undefined) {
        events.push({ action: "error", message: "malformed OP_QUERY" });
        return { close: true };
      }
      const raw = m.subarray(at, at + len);
      const dot = ns.text.indexOf(".");
      const db = dot > 0 ? ns.text.slice(0, dot) : ns.text;
      const coll = dot > 0 ? ns.text.slice(dot + 1) : "";
      if (coll === "$cmd") return { write: opReply(requestId, [encodeDoc(command(db, raw, true, events) as never)]) };
      events.push({ action: "command", command: clip(`query ${ns.text} ${renderDoc(raw)}`, 1024) });
      if (t.auth) {
        const err = atLeast(series, "3.6") ? { $err: `command find requires authentication`, code: new Int32(13) } : { $err: `not authorized for query on ${ns.text}`, code: new Int32(13) };
        return { write: opReply(requestId, [encodeDoc(err as never)], 2 | 8) };
      }
      return { write: opReply(requestId, []) };
    }
    if (opCode === OP_MSG && atLeast(series, "3.6")) {
      if (end < 21) {
        events.push({ action: "error", message: "malformed OP_MSG" });
        return { close: true };
      }
      const flags = rdI32(m, 16);
      const bodyEnd = flags & 1 ? end - 4 : end;
      let p = 20;
      let body: Uint8Array | undefined;
      const sequences: { id: string; docs: Uint8Array[] }[] = [];
      // Sections: kind 0 (the body), kind 1 (a sequence of documents, sized); bounded by the message.
      for (let i = 0; i < 64 && p < bodyEnd; i++) {
        const kind = m[p++];
        if (kind === 0) {
          const len = docLength(m, p, bodyEnd);
          if (len === undefined || body) break;
          body = m.subarray(p, p + len);
          p += len;
        } else if (kind === 1) {
          if (p + 4 > bodyEnd) break;
          const size = rdI32(m, p);
          if (size < 5 || p + size > bodyEnd) break;
          const id = cstring(m, p + 4, p + size);
          if (!id) break;
          const docs: Uint8Array[] = [];
          // Each document of the sequence, up to the section's end (bounded by the section and by count).
          for (let q = id.next, n = 0; q < p + size && n < 1000; n++) {
            const len = docLength(m, q, p + size);
            if (len === undefined) break;
            docs.push(m.subarray(q, q + len));
            q += len;
          }
          sequences.push({ id: id.text, docs });
          p += size;
        } else break;
      }
      if (!body || p !== bodyEnd) {
        events.push({ action: "error", message: "malformed OP_MSG" });
        return { close: true };
      }
      const decoded = decodeDoc(body);
      const db = decoded && typeof decoded[0].$db === "string" ? decoded[0].$db : "admin";
      const reply = encodeDoc(command(db, body, false, events, sequences) as never);
      // moreToCome: the client wants no answer.
      return flags & 2 ? {} : { write: opMsg(requestId, reply) };
    }
    if (opCode === OP_GET_MORE) return { write: opReply(requestId, [], 1 | 8) };
    if (opCode === OP_INSERT || opCode === OP_UPDATE || opCode === OP_DELETE || opCode === OP_KILL_CURSORS) {
      const ns = opCode === OP_KILL_CURSORS || end <= 20 ? undefined : cstring(m, 20, end);
      // The legacy write's first document (OP_INSERT's document, OP_UPDATE's selector): what was written.
      const at = ns ? ns.next + (opCode === OP_INSERT ? 0 : 4) : -1;
      const len = ns ? docLength(m, at, end) : undefined;
      const shown = len !== undefined ? ` ${renderDoc(m.subarray(at, at + len), 0, 768)}` : "";
      events.push({ action: "command", command: clip(`${{ [OP_INSERT]: "insert", [OP_UPDATE]: "update", [OP_DELETE]: "delete", [OP_KILL_CURSORS]: "killCursors" }[opCode]}${ns ? ` ${clip(ns.text, 256)}` : ""}${shown}`, 1024) });
      return {};
    }
    events.push({ action: "error", message: `unsupported opcode ${opCode}` });
    return { close: true };
  }

  function data(chunk: Uint8Array): Reply {
    if (closed) return {};
    const writes: Uint8Array[] = [];
    const events: ProtocolEvent[] = [];
    let close = false;
    let off = 0;
    // Each turn takes at least one byte of the chunk or ends the session: bounded by the chunk's length.
    while (off < chunk.length && !close) {
      const want = msgLen < 0 ? 4 - queue.length : msgLen - queue.length;
      const take = Math.min(want, chunk.length - off);
      queue.push(chunk.subarray(off, off + take));
      off += take;
      if (msgLen < 0) {
        if (queue.length < 4) break;
        const head = queue.view();
        if (head[0] === 0x47 && head[1] === 0x45 && head[2] === 0x54 && head[3] === 0x20) {
          const text = atLeast(series, "2.6") ? HTTP_NEW : HTTP_OLD;
          writes.push(new TextEncoder().encode(`HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`));
          events.push({ action: "command", command: "HTTP request on the driver port" });
          close = true;
          break;
        }
        const len = rdI32(head, 0);
        if (len < MIN_MESSAGE || len > MONGOD_MAX_MESSAGE) {
          events.push({ action: "error", message: "invalid message length" });
          close = true;
          break;
        }
        if (len > KEEP) {
          events.push({ action: "error", message: "peer message over the length limit" });
          close = true;
          break;
        }
        msgLen = len;
        continue;
      }
      if (queue.length < msgLen) break;
      const m = queue.take(msgLen);
      msgLen = -1;
      const r = onMessage(m, events);
      if (r.write) writes.push(r.write);
      if (r.close) close = true;
    }
    if (close) {
      closed = true;
      queue.clear();
    }
    return { ...(writes.length > 0 ? { write: concatBytes(writes) } : {}), ...(close ? { close: true } : {}), ...(events.length > 0 ? { events } : {}) };
  }

  return {
    open: () => ({}),
    data,
    buffered: () => queue.length,
  };
}
