// Renders a TrapEvent as one Elastic Common Schema document (nested objects, as ECS JSON is written).
// Field names are a contract with the pipelines that read the log: add fields, never rename them.
// Every string in it, attacker text above all, is made safe for any JSON reader on the way out (safeguard).
import { hostname } from "node:os";
import { escapeBytes, hasLoneSurrogate, jsonLine, jsonString, markLoneSurrogates, mayBeUnsafe, wellFormed } from "../util/escape.ts";
import { VERSION } from "../version.ts";
import type { TrapEvent } from "./types.ts";

export const ECS_VERSION = "8.11.0";

const CATEGORY: Record<TrapEvent["action"], string[]> = {
  listening: ["network"],
  connection: ["network"],
  refused: ["network"],
  aborted: ["network"],
  data: ["network", "intrusion_detection"],
  login: ["authentication", "intrusion_detection"],
  command: ["intrusion_detection"],
  tls: ["network"],
  close: ["network"],
  error: ["network"],
};

const TYPE: Record<TrapEvent["action"], string[]> = {
  listening: ["start"],
  connection: ["connection", "start"],
  refused: ["connection", "denied"],
  aborted: ["connection", "end"],
  data: ["info"],
  login: ["start"],
  command: ["info"],
  tls: ["protocol"],
  close: ["connection", "end"],
  error: ["error"],
};

const observerHost = hostname();

function ipType(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  return ip.includes(":") ? "ipv6" : "ipv4";
}

/** The ECS document of an event. A change here is a change to fastLine below too (test/events.test.ts holds them to the same bytes). */
export function toEcs(e: TrapEvent): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    "@timestamp": e.time.toISOString(),
    ecs: { version: ECS_VERSION },
    event: {
      kind: "event",
      category: CATEGORY[e.action],
      type: TYPE[e.action],
      action: e.action,
      dataset: "micetrap.session",
      module: "micetrap",
      ...(e.action === "login" ? { outcome: "failure" } : {}),
      ...(e.durationMs !== undefined ? { duration: Math.round(e.durationMs * 1e6) } : {}),
    },
    observer: { type: "honeypot", product: "micetrap", version: VERSION, hostname: observerHost },
    network: { transport: "tcp", protocol: e.service, ...(e.source ? { type: ipType(e.source.ip) } : {}) },
    service: { name: e.service },
    destination: {
      ...(e.destination.ip ? { ip: e.destination.ip } : {}),
      port: e.destination.port,
      ...(e.bytesOut !== undefined ? { bytes: e.bytesOut } : {}),
    },
    micetrap: {
      ...(e.sessionId ? { session: { id: e.sessionId } } : {}),
      entry: e.entry.id,
      product: e.entry.product,
      version: e.entry.version,
      os: e.entry.os,
      ...(e.host ? { host: { name: e.host.name, release: e.host.release } } : {}),
      ...(e.persona !== undefined ? { persona: e.persona } : {}),
    },
  };
  if (e.source) {
    const g = e.source.geo;
    const as = e.source.as;
    doc.source = {
      ip: e.source.ip,
      ...(e.source.port !== undefined ? { port: e.source.port } : {}),
      ...(e.bytesIn !== undefined ? { bytes: e.bytesIn } : {}),
      ...(g !== undefined
        ? {
            geo: {
              ...(g.countryIsoCode !== undefined ? { country_iso_code: g.countryIsoCode } : {}),
              ...(g.countryName !== undefined ? { country_name: g.countryName } : {}),
              ...(g.cityName !== undefined ? { city_name: g.cityName } : {}),
              ...(g.continentCode !== undefined ? { continent_code: g.continentCode } : {}),
              ...(g.location !== undefined ? { location: { lat: g.location.lat, lon: g.location.lon } } : {}),
            },
          }
        : {}),
      ...(as !== undefined
        ? { as: { ...(as.number !== undefined ? { number: as.number } : {}), ...(as.organization !== undefined ? { organization: { name: as.organization } } : {}) } }
        : {}),
    };
  }
  const m = doc.micetrap as Record<string, unknown>;
  if (e.payload) {
    m.payload = {
      direction: e.direction === "out" ? "outbound" : "inbound",
      base64: base64(e.payload),
      text: escapeBytes(e.payload),
      length: e.payload.length,
      ...(e.truncated ? { truncated: e.truncated } : {}),
    };
  }
  else if (e.truncated) m.truncated = e.truncated;
  if (e.user !== undefined || e.domain !== undefined) doc.user = { ...(e.user !== undefined ? { name: e.user } : {}), ...(e.domain ? { domain: e.domain } : {}) };
  if (e.action === "login") {
    m.login = {
      ...(e.method !== undefined ? { method: e.method } : {}),
      ...(e.password !== undefined ? { password: e.password } : {}),
      ...(e.hash !== undefined ? { hash: e.hash.value, hash_type: e.hash.type, hashcat_mode: e.hash.hashcatMode } : {}),
    };
  }
  if (e.client !== undefined && Object.keys(e.client).length > 0) m.client = { ...e.client };
  if (e.command !== undefined) m.command = e.command;
  if (e.reason !== undefined) m.reason = e.reason;
  if (e.count !== undefined) m[e.action === "aborted" ? "aborted" : "refused"] = { count: e.count };
  if (e.dropped !== undefined) m.dropped = { commands: e.dropped.commands, logins: e.dropped.logins };
  if (e.http !== undefined) {
    const h = e.http;
    if (h.cut !== undefined) m.http = { cut: [...h.cut] };
    doc.http = { ...(h.version !== undefined ? { version: h.version } : {}), request: { method: h.method, ...(h.bodyBytes !== undefined ? { body: { bytes: h.bodyBytes } } : {}) } };
    doc.url = { original: h.original, ...(h.path !== undefined ? { path: h.path } : {}), ...(h.query !== undefined ? { query: h.query } : {}) };
    if (h.userAgent !== undefined) doc.user_agent = { original: h.userAgent };
  }
  if (e.tls !== undefined) {
    // ECS writes "1.2" and "tls" apart; node:tls says "TLSv1.2".
    const v = /^TLSv(\d(?:\.\d)?)$/.exec(e.tls.version ?? "");
    doc.tls = {
      established: e.tls.established,
      ...(v ? { version: v[1]!.includes(".") ? v[1] : `${v[1]}.0`, version_protocol: "tls" } : {}),
      ...(e.tls.cipher ? { cipher: e.tls.cipher } : {}),
      ...(e.tls.serverName || e.tls.ja3 ? { client: { ...(e.tls.serverName ? { server_name: e.tls.serverName } : {}), ...(e.tls.ja3 ? { ja3: e.tls.ja3 } : {}) } } : {}),
    };
    if (e.tls.ja3String) m.tls = { ja3_string: e.tls.ja3String };
  }
  if (e.message !== undefined) doc.error = { message: e.message };
  return mayBeUnsafeEvent(e) ? safeguard(doc) : doc;
}

/**
 * Whether any string the event carries may need safeguard: every field but the catalog entry (the shipped
 * tables), the time and the payload (written as base64 and ASCII escapes). One scan per string, and the
 * common event has none that matches: walking the whole document instead cost about as much as writing it.
 */
function mayBeUnsafeEvent(e: TrapEvent): boolean {
  const scan = (v: unknown): boolean => {
    if (typeof v === "string") return mayBeUnsafe(v);
    if (v === null || typeof v !== "object") return false;
    for (const k in v) if (scan((v as Record<string, unknown>)[k])) return true;
    return false;
  };
  for (const k in e) {
    if (k === "entry" || k === "time" || k === "payload") continue;
    if (scan(e[k as keyof TrapEvent])) return true;
  }
  return false;
}

type Node = Record<string, unknown> | unknown[];

/**
 * The lone-surrogate half of the rule of docs/EVENTS.md ("Attacker strings"), applied to every string of
 * the document, so a field added later is covered too: a lone surrogate (UTF-16 names from SMB and NTLM, a
 * surrogate pair cut by a length cap) becomes U+FFFD, and the field's exact text goes to
 * `micetrap.original["<field>"]` with markLoneSurrogates' escapes. The other half, the escapes for C1,
 * U+2028/2029 and bidi controls, is ecsLine's.
 */
function safeguard(doc: Record<string, unknown>): Record<string, unknown> {
  const originals: Record<string, string> = {};
  const visit = (node: Node, path: string): void => {
    const list = Array.isArray(node);
    for (const k in node) {
      const v = (node as Record<string, unknown>)[k];
      const at = list ? path : path === "" ? k : `${path}.${k}`;
      if (typeof v === "string") {
        if (!mayBeUnsafe(v) || !hasLoneSurrogate(v)) continue; // the common case: one scan, nothing else
        originals[at] = markLoneSurrogates(v);
        (node as Record<string, unknown>)[k] = wellFormed(v);
      } else if (v !== null && typeof v === "object") visit(v as Node, at);
    }
  };
  visit(doc, "");
  if (Object.keys(originals).length > 0) (doc.micetrap as Record<string, unknown>).original = originals;
  return doc;
}

/** The payload's base64, read in place (Buffer.from(Uint8Array) would copy it first). */
function base64(bytes: Uint8Array): string {
  return (bytes instanceof Uint8Array ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.from(bytes)).toString("base64");
}

/**
 * One event as one line of the JSONL log (newline not included): valid UTF-8, one line for every reader.
 * Exactly `jsonLine(toEcs(e))`, written directly (fastLine) for every event but the rare ones fastLine
 * leaves to that path; test/events.test.ts holds the two to the same bytes.
 */
export function ecsLine(e: TrapEvent): string {
  return fastLine(e) ?? jsonLine(toEcs(e));
}

// --- The direct writer. The document is toEcs's, key for key in toEcs's order; a value JSON.stringify would
// write differently from here (not a string where a string belongs, not a number where a number belongs) or
// a string safeguard would change (a lone surrogate) sends the event back to toEcs: `unusual` is set and
// fastLine returns undefined. Keys are constant ASCII; strings go through str, numbers through num.

let unusual = false;

/** Printable ASCII but `"` and `\`: JSON writes such a string as it is, between quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function str(v: unknown): string {
  if (typeof v !== "string") {
    unusual = true;
    return "";
  }
  if (PLAIN.test(v)) return `"${v}"`;
  if (mayBeUnsafe(v) && hasLoneSurrogate(v)) {
    unusual = true; // safeguard's business
    return "";
  }
  // What jsonLine makes of the whole document, it makes of each string in it (its escapes stand inside strings only).
  return jsonString(v);
}

function num(v: unknown): string {
  if (typeof v !== "number") {
    unusual = true;
    return "";
  }
  return Number.isFinite(v) ? String(v) : "null";
}

const ACTION_PARTS = Object.fromEntries(
  (Object.keys(CATEGORY) as TrapEvent["action"][]).map((a) => [a, `,"category":${JSON.stringify(CATEGORY[a])},"type":${JSON.stringify(TYPE[a])},"action":"${a}"`]),
) as Record<string, string>;
const ECS_AND_KIND = `","ecs":{"version":${JSON.stringify(ECS_VERSION)}},"event":{"kind":"event"`;
const DATASET = `,"dataset":"micetrap.session","module":"micetrap"`;
const OBSERVER = `,"observer":${jsonLine({ type: "honeypot", product: "micetrap", version: VERSION, hostname: observerHost })}`;
/**
 * The TrapEvent fields fastLine knows (writes, or leaves to toEcs): every one, or this does not compile, so a
 * field added to TrapEvent is a decision here too. An event carrying any other key goes to toEcs.
 */
const KNOWN: Record<keyof TrapEvent, true> = {
  action: true, time: true, service: true, entry: true, host: true, persona: true, sessionId: true, source: true, destination: true,
  direction: true, payload: true, truncated: true, bytesIn: true, bytesOut: true, durationMs: true, dropped: true, count: true,
  reason: true, user: true, domain: true, password: true, hash: true, method: true, command: true, client: true, http: true, tls: true, message: true,
};
const WRITTEN_FIELDS = new Set<string>(Object.keys(KNOWN));

/** The actions the ECS tables know, for the tests. */
export const ECS_ACTIONS = Object.keys(CATEGORY) as TrapEvent["action"][];

/** A catalog entry's constant part of micetrap.*; null when the entry itself needs toEcs. */
const entryParts = new WeakMap<TrapEvent["entry"], string | null>();

function entryPart(entry: TrapEvent["entry"]): string | null {
  let part = entryParts.get(entry);
  if (part === undefined) {
    unusual = false;
    part = `"entry":${str(entry.id)},"product":${str(entry.product)},"version":${str(entry.version)},"os":${str(entry.os)}`;
    if (unusual) part = null;
    entryParts.set(entry, part);
  }
  return part;
}

/** The direct writer alone: the line, or undefined for an event it leaves to toEcs (exported for the tests). */
export function fastLine(e: TrapEvent): string | undefined {
  // A field this writer does not know (one added to TrapEvent and toEcs later) goes to toEcs.
  for (const k in e) if (!WRITTEN_FIELDS.has(k)) return undefined;
  const action = ACTION_PARTS[e.action];
  // Client details are rare, and nested in ways not worth a second writer: toEcs writes them. TLS is not
  // rare (every event of a TLS session carries it), nor are HTTP requests and source.geo: written here.
  if (action === undefined || e.client !== undefined || typeof e.entry !== "object" || e.entry === null) return undefined;
  const entry = entryPart(e.entry);
  if (entry === null) return undefined;
  unusual = false;
  let out = `{"@timestamp":"${e.time.toISOString()}${ECS_AND_KIND}${action}${DATASET}`;
  if (e.action === "login") out += `,"outcome":"failure"`;
  if (e.durationMs !== undefined) out += `,"duration":${num(Math.round(e.durationMs * 1e6))}`;
  out += `}${OBSERVER},"network":{"transport":"tcp","protocol":${str(e.service)}`;
  const source = e.source;
  if (source) {
    if (typeof source.ip !== "string") return undefined;
    if (source.ip) out += source.ip.includes(":") ? `,"type":"ipv6"` : `,"type":"ipv4"`;
  }
  out += `},"service":{"name":${str(e.service)}},"destination":{`;
  if (e.destination.ip) out += `"ip":${str(e.destination.ip)},`;
  out += `"port":${num(e.destination.port)}`;
  if (e.bytesOut !== undefined) out += `,"bytes":${num(e.bytesOut)}`;
  out += `},"micetrap":{`;
  if (e.sessionId) out += `"session":{"id":${str(e.sessionId)}},`;
  out += entry;
  if (e.host) out += `,"host":{"name":${str(e.host.name)},"release":${str(e.host.release)}}`;
  if (e.persona !== undefined) out += `,"persona":${str(e.persona)}`;
  if (e.payload) {
    const p = e.payload;
    if (!(p instanceof Uint8Array)) return undefined;
    out += `,"payload":{"direction":"${e.direction === "out" ? "outbound" : "inbound"}","base64":"${base64(p)}","text":${str(escapeBytes(p))},"length":${p.length}`;
    if (e.truncated) out += `,"truncated":${num(e.truncated)}`;
    out += "}";
  } else if (e.truncated) out += `,"truncated":${num(e.truncated)}`;
  if (e.action === "login") {
    let login = "";
    if (e.method !== undefined) login += `,"method":${str(e.method)}`;
    if (e.password !== undefined) login += `,"password":${str(e.password)}`;
    if (e.hash !== undefined) login += `,"hash":${str(e.hash.value)},"hash_type":${str(e.hash.type)},"hashcat_mode":${num(e.hash.hashcatMode)}`;
    out += `,"login":{${login.slice(1)}}`;
  }
  if (e.command !== undefined) out += `,"command":${str(e.command)}`;
  if (e.reason !== undefined) out += `,"reason":${str(e.reason)}`;
  if (e.count !== undefined) out += `,"${e.action === "aborted" ? "aborted" : "refused"}":{"count":${num(e.count)}}`;
  if (e.dropped !== undefined) out += `,"dropped":{"commands":${num(e.dropped.commands)},"logins":${num(e.dropped.logins)}}`;
  const h = e.http;
  if (h !== undefined && h.cut !== undefined) {
    if (!Array.isArray(h.cut)) return undefined;
    out += `,"http":{"cut":[${h.cut.map(str).join(",")}]}`;
  }
  const tls = e.tls;
  const tlsVersion = tls === undefined ? null : /^TLSv(\d(?:\.\d)?)$/.exec(tls.version ?? "");
  if (tls !== undefined && tls.ja3String) out += `,"tls":{"ja3_string":${str(tls.ja3String)}}`;
  out += "}";
  if (source) {
    out += `,"source":{"ip":${str(source.ip)}`;
    if (source.port !== undefined) out += `,"port":${num(source.port)}`;
    if (e.bytesIn !== undefined) out += `,"bytes":${num(e.bytesIn)}`;
    const g = source.geo;
    if (g !== undefined) {
      let geo = "";
      if (g.countryIsoCode !== undefined) geo += `,"country_iso_code":${str(g.countryIsoCode)}`;
      if (g.countryName !== undefined) geo += `,"country_name":${str(g.countryName)}`;
      if (g.cityName !== undefined) geo += `,"city_name":${str(g.cityName)}`;
      if (g.continentCode !== undefined) geo += `,"continent_code":${str(g.continentCode)}`;
      if (g.location !== undefined) geo += `,"location":{"lat":${num(g.location.lat)},"lon":${num(g.location.lon)}}`;
      out += `,"geo":{${geo.slice(1)}}`;
    }
    const as = source.as;
    if (as !== undefined) {
      let a = "";
      if (as.number !== undefined) a += `,"number":${num(as.number)}`;
      if (as.organization !== undefined) a += `,"organization":{"name":${str(as.organization)}}`;
      out += `,"as":{${a.slice(1)}}`;
    }
    out += "}";
  }
  if (e.user !== undefined || e.domain !== undefined) {
    let user = "";
    if (e.user !== undefined) user += `,"name":${str(e.user)}`;
    if (e.domain) user += `,"domain":${str(e.domain)}`;
    out += `,"user":{${user.slice(1)}}`;
  }
  if (h !== undefined) {
    out += `,"http":{`;
    if (h.version !== undefined) out += `"version":${str(h.version)},`;
    out += `"request":{"method":${str(h.method)}`;
    if (h.bodyBytes !== undefined) out += `,"body":{"bytes":${num(h.bodyBytes)}}`;
    out += `}},"url":{"original":${str(h.original)}`;
    if (h.path !== undefined) out += `,"path":${str(h.path)}`;
    if (h.query !== undefined) out += `,"query":${str(h.query)}`;
    out += "}";
    if (h.userAgent !== undefined) out += `,"user_agent":{"original":${str(h.userAgent)}}`;
  }
  if (tls !== undefined) {
    out += `,"tls":{"established":${tls.established === true ? "true" : tls.established === false ? "false" : ((unusual = true), "")}`;
    if (tlsVersion) out += `,"version":"${tlsVersion[1]!.includes(".") ? tlsVersion[1] : `${tlsVersion[1]}.0`}","version_protocol":"tls"`;
    if (tls.cipher) out += `,"cipher":${str(tls.cipher)}`;
    if (tls.serverName || tls.ja3) {
      let c = "";
      if (tls.serverName) c += `,"server_name":${str(tls.serverName)}`;
      if (tls.ja3) c += `,"ja3":${str(tls.ja3)}`;
      out += `,"client":{${c.slice(1)}}`;
    }
    out += "}";
  }
  if (e.message !== undefined) out += `,"error":{"message":${str(e.message)}}`;
  out += "}";
  return unusual ? undefined : out;
}
