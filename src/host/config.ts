// Host configs and personas: YAML that says which services a fake host runs, on which ports, with which
// seed, name, OS release and log. Every error names the file, the line and the field, in one line.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from "yaml";
import { findEntry, resolveService } from "../catalog/index.ts";
import { UserError } from "../errors.ts";
import { LIMITS, parseLimit, type AllLimits, type LimitName } from "../runtime/limits.ts";
import { parseOsName } from "./releases.ts";
import { MetricsTargetError, parseMetricsTarget, type MetricsTarget } from "../runtime/metrics.ts";
import { parseSyslogUrl, parseWebhookUrl, SinkUrlError, type SyslogTarget, type WebhookTarget } from "../events/sinks/url.ts";

export interface ServiceConfig {
  service: string;
  /** Ports to bind; absent: the service's usual ports. */
  ports?: number[];
  /** Pinned catalog entry; absent: drawn from the seed within the host's release. */
  banner?: string;
  /** Line in its file, for messages. */
  line: number;
}

export interface HostConfig {
  /** Where it came from: a file path, or "persona NAME". */
  source: string;
  /** A persona's own name (persona files only). */
  name?: string;
  /** A persona's one-line story (persona files only). */
  story?: string;
  persona?: string;
  seed?: string;
  hostname?: string;
  os?: string;
  log?: string;
  /** Address to listen on (default: every interface). */
  listen?: string;
  user?: string;
  /** A MaxMind database for source.geo.* (as --geoip). */
  geoip?: string;
  services?: ServiceConfig[];
  /** limits: the same names as the flags (idle-timeout: 300, memory-budget: 64M …). */
  limits?: Partial<AllLimits>;
  /** Sinks besides the log file: ECS JSON on stdout, syslog, a webhook (src/events/sinks/). */
  json?: boolean;
  syslog?: SyslogTarget;
  webhook?: WebhookTarget;
  /** `metrics: 9108` or `metrics: ADDR:PORT`: Prometheus text on GET /metrics (src/runtime/metrics.ts). */
  metrics?: MetricsTarget;
}

/** A config problem with its place: "FILE:LINE: FIELD: problem". */
export class ConfigError extends UserError {
  constructor(file: string, line: number, field: string, problem: string) {
    super(`${file}:${line}: ${field ? `${field}: ` : ""}${problem}`);
  }
}

const SINK_KEYS = ["json", "syslog", "webhook", "metrics"] as const;
const TOP_KEYS = ["name", "story", "persona", "seed", "hostname", "os", "log", "listen", "user", "geoip", "services", "limits", ...SINK_KEYS] as const;
const SERVICE_KEYS = ["service", "port", "ports", "banner"] as const;

/** Host names as a resolver would accept them: letters, digits, hyphens, at most 63 characters a label. */
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * Parses one YAML config. `personaNames` are the personas a `persona:` key may name. Throws ConfigError
 * for the first problem, with its line.
 */
export function parseConfig(text: string, file: string, personaNames: readonly string[]): HostConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  const lineOf = (node: Node | Pair | null | undefined): number => {
    const range = (node as { range?: [number, number, number] } | null | undefined)?.range ?? ((node as Pair | undefined)?.key as Node | undefined)?.range;
    return range ? lines.linePos(range[0]).line : 1;
  };
  for (const err of doc.errors) {
    const line = err.linePos?.[0]?.line ?? 1;
    const what = err.code === "DUPLICATE_KEY" ? "a key appears twice" : err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new ConfigError(file, line, "", `YAML: ${what}`);
  }
  const root = doc.contents;
  if (root === null) throw new ConfigError(file, 1, "", "the file is empty: expected keys such as persona, os, services");
  if (!isMap(root)) throw new ConfigError(file, lineOf(root), "", "expected a mapping of keys (persona:, services:, …)");

  const config: HostConfig = { source: file };
  const text1 = (pair: Pair, field: string): string => {
    const v = pair.value;
    if (!isScalar(v) || (typeof v.value !== "string" && typeof v.value !== "number") || String(v.value).trim() === "")
      throw new ConfigError(file, lineOf(pair), field, "expected a text value");
    return String(v.value);
  };

  for (const pair of (root as YAMLMap).items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : "";
    const line = lineOf(pair);
    if (!(TOP_KEYS as readonly string[]).includes(key)) throw new ConfigError(file, line, key, `unknown key (expected one of ${TOP_KEYS.join(", ")})`);
    switch (key) {
      case "name":
      case "story":
      case "seed":
      case "log":
      case "listen":
      case "user":
      case "geoip":
        config[key] = text1(pair, key);
        break;
      case "persona": {
        const name = text1(pair, key);
        if (!personaNames.includes(name)) throw new ConfigError(file, line, key, `unknown persona "${name}" (micetrap personas lists them)`);
        config.persona = name;
        break;
      }
      case "hostname": {
        const name = text1(pair, key);
        if (!HOSTNAME.test(name)) throw new ConfigError(file, line, key, `"${name}" is not a host name (letters, digits and hyphens, at most 63)`);
        config.hostname = name;
        break;
      }
      case "os": {
        const os = text1(pair, key);
        if (!parseOsName(os)) throw new ConfigError(file, line, key, `unknown OS "${os}": a family (debian, rhel, freebsd, macos, windows) or a release such as debian-7 (micetrap list --releases)`);
        config.os = os.toLowerCase();
        break;
      }
      case "services":
        config.services = parseServices(pair, file, lineOf);
        break;
      case "limits":
        config.limits = parseLimits(pair, file, lineOf);
        break;
      case "json":
      case "syslog":
      case "webhook":
      case "metrics":
        parseSinkKey(config, key, pair, file, line, text1);
        break;
    }
  }
  return config;
}

/** `json: true`, `syslog: URL`, `webhook: URL`, `metrics: [ADDR:]PORT`: a bad value is a config error on its line. */
function parseSinkKey(config: HostConfig, key: (typeof SINK_KEYS)[number], pair: Pair, file: string, line: number, text1: (pair: Pair, field: string) => string): void {
  if (key === "json") {
    const v = isScalar(pair.value) ? pair.value.value : undefined;
    if (typeof v !== "boolean") throw new ConfigError(file, line, key, "expected true or false");
    config.json = v;
    return;
  }
  if (key === "metrics") {
    try {
      config.metrics = parseMetricsTarget(text1(pair, key));
    } catch (err) {
      if (err instanceof MetricsTargetError) throw new ConfigError(file, line, key, err.message);
      throw err;
    }
    return;
  }
  const url = text1(pair, key);
  try {
    if (key === "syslog") config.syslog = parseSyslogUrl(url);
    else config.webhook = parseWebhookUrl(url);
  } catch (err) {
    if (err instanceof SinkUrlError) throw new ConfigError(file, line, key, err.message);
    throw err;
  }
}

function parsePortValue(node: unknown, file: string, line: number, field: string): number {
  const v = isScalar(node) ? node.value : node;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 65535) throw new ConfigError(file, line, field, `expected a port from 0 (any free port) to 65535, got ${JSON.stringify(isScalar(node) ? node.value : "a list or mapping")}`);
  return v;
}

function parseServices(pair: Pair, file: string, lineOf: (n: Node | Pair | null | undefined) => number): ServiceConfig[] {
  const seq = pair.value;
  if (!isSeq(seq)) throw new ConfigError(file, lineOf(pair), "services", "expected a list (- service: ftp …)");
  if (seq.items.length === 0) throw new ConfigError(file, lineOf(pair), "services", "the list is empty");
  return seq.items.map((item, i) => {
    const at = `services[${i + 1}]`;
    const itemLine = lineOf(item as Node);
    if (!isMap(item)) throw new ConfigError(file, itemLine, at, "expected a mapping (service: NAME, port: N, banner: ID)");
    const s: Partial<ServiceConfig> = { line: itemLine };
    for (const p of item.items) {
      const key = isScalar(p.key) ? String(p.key.value) : "";
      const line = lineOf(p);
      const field = `${at}.${key}`;
      if (!(SERVICE_KEYS as readonly string[]).includes(key)) throw new ConfigError(file, line, field, `unknown key (expected one of ${SERVICE_KEYS.join(", ")})`);
      const v = p.value;
      if (key === "service") {
        const name = isScalar(v) ? String(v.value) : "";
        const service = resolveService(name);
        if (!service) throw new ConfigError(file, line, field, `unknown service "${name}"`);
        s.service = service;
      } else if (key === "port") {
        s.ports = [parsePortValue(v, file, line, field)];
      } else if (key === "ports") {
        if (!isSeq(v) || v.items.length === 0) throw new ConfigError(file, line, field, "expected a list of ports");
        s.ports = v.items.map((x) => parsePortValue(x, file, line, field));
      } else if (key === "banner") {
        const id = isScalar(v) ? String(v.value) : "";
        if (!findEntry(id)) throw new ConfigError(file, line, field, `unknown banner "${id}" (micetrap list shows the ids)`);
        s.banner = id;
      }
    }
    if (s.service === undefined) throw new ConfigError(file, itemLine, at, "missing service: (ftp, http, mysql, samba, torrent)");
    if (s.banner !== undefined && findEntry(s.banner)!.service !== s.service)
      throw new ConfigError(file, itemLine, `${at}.banner`, `"${s.banner}" is a ${findEntry(s.banner)!.service} face, not ${s.service}`);
    return s as ServiceConfig;
  });
}

function parseLimits(pair: Pair, file: string, lineOf: (n: Node | Pair | null | undefined) => number): Partial<AllLimits> {
  const map = pair.value;
  if (!isMap(map)) throw new ConfigError(file, lineOf(pair), "limits", "expected a mapping (max-sessions: 1024, idle-timeout: 300, …)");
  const out: Partial<AllLimits> = {};
  for (const p of map.items) {
    const name = isScalar(p.key) ? String(p.key.value) : "";
    const field = `limits.${name}`;
    if (!(name in LIMITS)) throw new ConfigError(file, lineOf(p), field, `unknown limit (expected one of ${Object.keys(LIMITS).join(", ")})`);
    const v = p.value;
    if (!isScalar(v) || (typeof v.value !== "string" && typeof v.value !== "number")) throw new ConfigError(file, lineOf(p), field, "expected a number or a size such as 16M");
    try {
      (out as Record<string, number>)[LIMITS[name as LimitName].key] = parseLimit(name as LimitName, String(v.value), field);
    } catch (err) {
      // The message names the key already; the place goes in front, as for every other config error.
      throw new ConfigError(file, lineOf(p), "", (err as Error).message);
    }
  }
  return out;
}

/** A persona as the base, the config's keys over it (a config's services list replaces the persona's). */
export function mergeConfigs(base: HostConfig | undefined, over: HostConfig): HostConfig {
  if (!base) return over;
  const merged: HostConfig = { ...base, source: over.source };
  for (const key of ["seed", "hostname", "os", "log", "listen", "user", "geoip", "services", "limits", ...SINK_KEYS] as const) {
    if (over[key] !== undefined) (merged as unknown as Record<string, unknown>)[key] = over[key];
  }
  merged.persona = base.name ?? over.persona;
  return merged;
}
