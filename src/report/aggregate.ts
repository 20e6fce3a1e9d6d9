// The figures of `micetrap report`, computed in one pass over the events, in bounded memory: every map
// keyed by something an attacker chooses is a TopK (Space-Saving) or a Distinct (HyperLogLog), and every
// attacker string kept is cut to KEY_MAX characters. The result (Report) is plain data: `--json` prints
// it as it is, the terminal and HTML renderers only lay it out.
import { createHash } from "node:crypto";
import { Distinct, TopK, type TopItem } from "./sketch.ts";
import { escapeBytes } from "../util/escape.ts";

/** Slots of each top-K counter: counts are exact while a counter has seen fewer distinct keys. */
export const TOP_CAPACITY = 2000;
/** Attacker strings kept in the report are cut here (the log has them whole). */
export const KEY_MAX = 200;
/** Per-service, per-day and per-hour cells at most (a log of hostile service names cannot grow them). */
const MAX_SERVICES = 128;
const MAX_DAY_CELLS = 8192;
const MAX_HOUR_CELLS = 65536;
/** Sessions remembered at once to find each one's first inbound payload. */
const MAX_OPEN_SESSIONS = 65536;
/** Bytes of a session's first inbound payload that make its fingerprint. */
export const FINGERPRINT_BYTES = 32;
const EXAMPLE_BYTES = 160;
const HTTP_SERVICES = new Set(["http", "https", "proxy", "elasticsearch", "docker"]);
const OTHER = "(other)";

export interface Window {
  since?: string;
  until?: string;
}

export interface Counted {
  value: string;
  count: number;
  /** Upper bound of the overcount (0: exact). */
  error: number;
}

export interface Report {
  window: { since: string | null; until: string | null };
  input: {
    sources: string[];
    lines: number;
    events: number;
    skipped: { badJson: number; overlong: number; noTimestamp: number; outsideWindow: number };
    broken: { source: string; error: string }[];
  };
  first: string | null;
  last: string | null;
  totals: { connections: number; uniqueSources: number; logins: number; commands: number; payloads: number; byAction: Record<string, number> };
  services: { service: string; connections: number; uniqueSources: number; logins: number; commands: number; bytesIn: number; bytesOut: number }[];
  days: { day: string; service: string; connections: number; uniqueSources: number }[];
  timeline: { bucket: "hour" | "day"; points: { t: string; service: string; connections: number }[] };
  topSources: { ip: string; sessions: number; error: number; first: string; last: string; logins: number; services: Record<string, number> }[];
  users: Counted[];
  passwords: Counted[];
  pairs: { user: string; password: string; count: number; error: number }[];
  hashes: { type: string; count: number; unique: number; example: string }[];
  commands: Counted[];
  httpMethods: Counted[];
  httpPaths: Counted[];
  userAgents: Counted[];
  payloads: { fingerprint: string; count: number; error: number; bytes: number; services: string[]; example: string }[];
  /** How far the figures can be trusted: top lists exact unless `exact` is false (then within `error`). */
  accuracy: { topCapacity: number; exact: Record<string, boolean>; uniqueSourcesEstimated: boolean };
}

interface ServiceFigures {
  connections: number;
  sources: Distinct;
  logins: number;
  commands: number;
  bytesIn: number;
  bytesOut: number;
}

interface SourceData {
  first: string;
  last: string;
  logins: number;
  services: Map<string, number>;
}

interface PayloadData {
  bytes: number;
  example: string;
  services: Set<string>;
}

interface HashData {
  example: string;
  unique: Distinct;
}

const cut = (s: string): string => (s.length > KEY_MAX ? s.slice(0, KEY_MAX) + "…" : s);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const obj = (v: unknown): Record<string, any> | undefined => (v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, any>) : undefined);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0);

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/;

/** An event time as a sortable UTC ISO string (micetrap writes `2026-01-02T03:04:05.678Z`), or undefined. */
export function normaliseTime(v: unknown): string | undefined {
  if (typeof v !== "string" || v.length > 40) return undefined;
  if (ISO.test(v) && v.length === 24) return v;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}


/** An HTTP request line's method and path (`GET /a?b HTTP/1.1`), or undefined. */
export function parseRequestLine(line: string): { method: string; path: string } | undefined {
  const m = /^([A-Z][A-Z_-]{0,19}) (\S+) HTTP\/\d(?:\.\d)?(?: |$)/.exec(line);
  if (!m) return undefined;
  let target = m[2]!;
  // An absolute URL (proxy requests): its path. CONNECT's host:port stays as it is.
  const abs = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (abs) target = target.slice(abs[0].length) || "/";
  const q = target.search(/[?#]/);
  return { method: m[1]!, path: q >= 0 ? target.slice(0, q) || "/" : target };
}

class Cells {
  readonly map = new Map<string, { connections: number; sources: Distinct }>();
  overflow = 0;
  constructor(private readonly max: number) {}
  get(key: string): { connections: number; sources: Distinct } | undefined {
    let c = this.map.get(key);
    if (!c) {
      if (this.map.size >= this.max) {
        this.overflow++;
        return undefined;
      }
      c = { connections: 0, sources: new Distinct(10, 128) };
      this.map.set(key, c);
    }
    return c;
  }
}

export class Aggregator {
  lines = 0;
  events = 0;
  badJson = 0;
  noTimestamp = 0;
  outsideWindow = 0;
  private first: string | undefined;
  private last: string | undefined;
  private readonly byAction = new Map<string, number>();
  private readonly services = new Map<string, ServiceFigures>();
  private readonly allSources = new Distinct(14, 4096);
  private connections = 0;
  private logins = 0;
  private commandCount = 0;
  private payloadCount = 0;
  private readonly days = new Cells(MAX_DAY_CELLS);
  private readonly hours = new Map<string, number>();
  private readonly sources = new TopK<SourceData>(TOP_CAPACITY, () => ({ first: "", last: "", logins: 0, services: new Map() }));
  private readonly users = new TopK(TOP_CAPACITY, () => undefined);
  private readonly passwords = new TopK(TOP_CAPACITY, () => undefined);
  private readonly pairs = new TopK(TOP_CAPACITY, () => undefined);
  private readonly hashes = new TopK<HashData>(64, () => ({ example: "", unique: new Distinct(12, 1024) }));
  private readonly commands = new TopK(TOP_CAPACITY, () => undefined);
  private readonly methods = new TopK(64, () => undefined);
  private readonly paths = new TopK(TOP_CAPACITY, () => undefined);
  private readonly agents = new TopK(TOP_CAPACITY, () => undefined);
  private readonly payloads = new TopK<PayloadData>(TOP_CAPACITY, () => ({ bytes: 0, example: "", services: new Set() }));
  /** Sessions whose first inbound payload was seen (insertion order: the oldest go first when full). */
  private readonly sessionsSeen = new Map<string, true>();

  constructor(private readonly window: Window = {}) {}

  /** One line of the log: counted, or skipped as bad JSON, timeless or outside the window. */
  addLine(line: string): void {
    this.lines++;
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      this.badJson++;
      return;
    }
    const d = obj(doc);
    if (!d) {
      this.badJson++;
      return;
    }
    const ts = normaliseTime(d["@timestamp"]);
    if (ts === undefined) {
      this.noTimestamp++;
      return;
    }
    if ((this.window.since !== undefined && ts < this.window.since) || (this.window.until !== undefined && ts >= this.window.until)) {
      this.outsideWindow++;
      return;
    }
    this.addEvent(d, ts);
  }

  private serviceOf(name: string): ServiceFigures {
    let s = this.services.get(name);
    if (!s) {
      if (this.services.size >= MAX_SERVICES && name !== OTHER) return this.serviceOf(OTHER);
      s = { connections: 0, sources: new Distinct(12, 512), logins: 0, commands: 0, bytesIn: 0, bytesOut: 0 };
      this.services.set(name, s);
    }
    return s;
  }

  private addEvent(d: Record<string, any>, ts: string): void {
    this.events++;
    if (this.first === undefined || ts < this.first) this.first = ts;
    if (this.last === undefined || ts > this.last) this.last = ts;
    const event = obj(d.event);
    const action = cut(str(event?.action) ?? "(none)");
    if (this.byAction.has(action) || this.byAction.size < 64) this.byAction.set(action, (this.byAction.get(action) ?? 0) + 1);
    else this.byAction.set(OTHER, (this.byAction.get(OTHER) ?? 0) + 1);
    let serviceName = cut(str(obj(d.service)?.name) ?? "(none)");
    if (!this.services.has(serviceName) && this.services.size >= MAX_SERVICES) serviceName = OTHER;
    const service = this.serviceOf(serviceName);
    const source = obj(d.source);
    const ip = str(source?.ip) !== undefined ? cut(source!.ip) : undefined;
    const m = obj(d.micetrap);
    const sessionId = str(obj(m?.session)?.id);
    const day = ts.slice(0, 10);

    if (ip !== undefined) {
      const held = this.sources.peek(ip);
      if (held) held.last = ts > held.last ? ts : held.last;
    }

    switch (action) {
      case "connection": {
        this.connections++;
        service.connections++;
        if (ip !== undefined) {
          this.allSources.add(ip);
          service.sources.add(ip);
          const s = this.sources.add(ip);
          if (s.first === "" || ts < s.first) s.first = ts;
          if (ts > s.last) s.last = ts;
          if (s.services.has(serviceName) || s.services.size < 32) s.services.set(serviceName, (s.services.get(serviceName) ?? 0) + 1);
        }
        const cell = this.days.get(`${serviceName}\t${day}`);
        if (cell) {
          cell.connections++;
          if (ip !== undefined) cell.sources.add(ip);
        }
        const hourKey = `${serviceName}\t${ts.slice(0, 13)}`;
        if (this.hours.has(hourKey) || this.hours.size < MAX_HOUR_CELLS) this.hours.set(hourKey, (this.hours.get(hourKey) ?? 0) + 1);
        break;
      }
      case "login": {
        this.logins++;
        service.logins++;
        if (ip !== undefined) {
          const s = this.sources.peek(ip);
          if (s) s.logins++;
        }
        const user = str(obj(d.user)?.name);
        const login = obj(m?.login);
        const password = str(login?.password);
        if (user !== undefined) this.users.add(cut(user));
        if (password !== undefined) this.passwords.add(cut(password));
        if (user !== undefined && password !== undefined) this.pairs.add(JSON.stringify([cut(user), cut(password)]));
        const hash = str(login?.hash);
        if (hash !== undefined) {
          const h = this.hashes.add(cut(str(login?.hash_type) ?? "(unknown)"));
          if (h.example === "") h.example = hash.length > 4 * KEY_MAX ? hash.slice(0, 4 * KEY_MAX) + "…" : hash;
          h.unique.add(hash.length > 4096 ? hash.slice(0, 4096) : hash);
        }
        break;
      }
      case "command": {
        const command = str(m?.command);
        const http = obj(d.http);
        const method = str(obj(http?.request)?.method);
        const path = str(obj(d.url)?.path);
        const agent = str(obj(d.user_agent)?.original);
        let asHttp = method !== undefined || path !== undefined;
        if (method !== undefined) this.methods.add(cut(method));
        if (path !== undefined) this.paths.add(cut(path));
        if (!asHttp && command !== undefined && HTTP_SERVICES.has(serviceName)) {
          const r = parseRequestLine(command.slice(0, 8192));
          if (r) {
            asHttp = true;
            this.methods.add(cut(r.method));
            this.paths.add(cut(r.path));
          }
        }
        if (agent !== undefined) this.agents.add(cut(agent));
        if (command !== undefined && !asHttp) {
          this.commandCount++;
          service.commands++;
          this.commands.add(cut(command));
        } else if (command !== undefined) {
          this.commandCount++;
          service.commands++;
        }
        break;
      }
      case "data": {
        const payload = obj(m?.payload);
        if (str(payload?.direction) !== "inbound" || sessionId === undefined) break;
        const id = cut(sessionId);
        // Only a session's first inbound payload: what a peer sends first is what tells tools apart.
        if (this.sessionsSeen.has(id)) break;
        this.remember(this.sessionsSeen, id);
        const b64 = str(payload?.base64);
        if (b64 === undefined) break;
        // Enough base64 for the example's bytes, no more: a whole 64 KiB chunk is never decoded.
        const head = Buffer.from(b64.slice(0, Math.ceil(EXAMPLE_BYTES / 3) * 4), "base64");
        if (head.length === 0) break;
        this.payloadCount++;
        const fingerprint = createHash("sha256").update(head.subarray(0, FINGERPRINT_BYTES)).digest("hex").slice(0, 16);
        const p = this.payloads.add(fingerprint);
        p.bytes += num(payload?.length) || head.length;
        if (p.example === "") p.example = escapeBytes(head) + (num(payload?.length) > head.length ? "…" : "");
        if (p.services.size < 16) p.services.add(serviceName);
        break;
      }
      case "close": {
        service.bytesIn += num(source?.bytes);
        service.bytesOut += num(obj(d.destination)?.bytes);
        if (sessionId !== undefined) this.sessionsSeen.delete(cut(sessionId));
        break;
      }
    }
  }

  /** Adds to a bounded set of session ids; the oldest go first when it is full. */
  private remember(set: Map<string, true>, id: string): void {
    if (set.size >= MAX_OPEN_SESSIONS) {
      const oldest = set.keys().next().value;
      if (oldest !== undefined) set.delete(oldest);
    }
    set.set(id, true);
  }

  result(input: { sources: string[]; overlong: number; broken: { source: string; error: string }[] }, top: number): Report {
    const counted = (k: TopK<any>): Counted[] => k.top(top).map((i: TopItem<unknown>) => ({ value: i.key, count: i.count, error: i.error }));
    const services = [...this.services.entries()]
      .map(([service, s]) => ({ service, connections: s.connections, uniqueSources: s.sources.count(), logins: s.logins, commands: s.commands, bytesIn: s.bytesIn, bytesOut: s.bytesOut }))
      .sort((a, b) => b.connections - a.connections || b.logins - a.logins || (a.service < b.service ? -1 : 1));
    const days = [...this.days.map.entries()]
      .map(([k, c]) => {
        const [service, day] = k.split("\t") as [string, string];
        return { day, service, connections: c.connections, uniqueSources: c.sources.count() };
      })
      .sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.service < b.service ? -1 : 1));
    // Hours while the log spans at most three days, days beyond.
    const spanMs = this.first && this.last ? Date.parse(this.last) - Date.parse(this.first) : 0;
    const bucket: "hour" | "day" = spanMs <= 3 * 86400_000 ? "hour" : "day";
    const points =
      bucket === "hour"
        ? [...this.hours.entries()].map(([k, n]) => {
            const [service, hour] = k.split("\t") as [string, string];
            return { t: `${hour}:00Z`, service, connections: n };
          })
        : days.map((d) => ({ t: d.day, service: d.service, connections: d.connections }));
    points.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.service < b.service ? -1 : 1));
    return {
      window: { since: this.window.since ?? null, until: this.window.until ?? null },
      input: {
        sources: input.sources,
        lines: this.lines + input.overlong,
        events: this.events,
        skipped: { badJson: this.badJson, overlong: input.overlong, noTimestamp: this.noTimestamp, outsideWindow: this.outsideWindow },
        broken: input.broken,
      },
      first: this.first ?? null,
      last: this.last ?? null,
      totals: {
        connections: this.connections,
        uniqueSources: this.allSources.count(),
        logins: this.logins,
        commands: this.commandCount,
        payloads: this.payloadCount,
        byAction: Object.fromEntries([...this.byAction.entries()].sort((a, b) => b[1] - a[1])),
      },
      services,
      days,
      timeline: { bucket, points },
      topSources: this.sources.top(top).map((i) => ({
        ip: i.key,
        sessions: i.count,
        error: i.error,
        first: i.data.first,
        last: i.data.last,
        logins: i.data.logins,
        services: Object.fromEntries([...i.data.services.entries()].sort((a, b) => b[1] - a[1])),
      })),
      users: counted(this.users),
      passwords: counted(this.passwords),
      pairs: this.pairs.top(top).map((i) => {
        const [user, password] = JSON.parse(i.key) as [string, string];
        return { user, password, count: i.count, error: i.error };
      }),
      hashes: this.hashes.top(top).map((i) => ({ type: i.key, count: i.count, unique: i.data.unique.count(), example: i.data.example })),
      commands: counted(this.commands),
      httpMethods: counted(this.methods),
      httpPaths: counted(this.paths),
      userAgents: counted(this.agents),
      payloads: this.payloads.top(top).map((i) => ({ fingerprint: i.key, count: i.count, error: i.error, bytes: i.data.bytes, services: [...i.data.services].sort(), example: i.data.example })),
      accuracy: {
        topCapacity: TOP_CAPACITY,
        exact: {
          sources: this.sources.exact,
          users: this.users.exact,
          passwords: this.passwords.exact,
          pairs: this.pairs.exact,
          hashes: this.hashes.exact,
          commands: this.commands.exact,
          httpPaths: this.paths.exact,
          userAgents: this.agents.exact,
          payloads: this.payloads.exact,
        },
        uniqueSourcesEstimated: !this.allSources.exact,
      },
    };
  }
}
