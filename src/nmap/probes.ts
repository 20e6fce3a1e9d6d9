// Reads nmap-service-probes as nmap installs it: every directive, every field. Never copied into the repo.
import { readFileSync } from "node:fs";
import { translatePcre, UntranslatablePattern } from "./pcre.ts";

export const DEFAULT_PROBES_FILE = "/usr/share/nmap/nmap-service-probes";

/** Port ranges from a `ports`/`sslports`/`Exclude` list: "21,80,8000-8010". */
export class PortSet {
  constructor(readonly ranges: [number, number][] = []) {}
  static parse(text: string): PortSet {
    const ranges: [number, number][] = [];
    for (const part of text.split(",")) {
      const p = part.trim().replace(/^[TU]:/, "");
      if (!p) continue;
      const [a, b] = p.split("-");
      const lo = Number(a);
      const hi = b === undefined ? lo : Number(b);
      if (Number.isInteger(lo) && Number.isInteger(hi)) ranges.push([lo, hi]);
    }
    return new PortSet(ranges);
  }
  has(port: number): boolean {
    return this.ranges.some(([lo, hi]) => port >= lo && port <= hi);
  }
}

export interface VersionTemplates {
  p?: string;
  v?: string;
  i?: string;
  h?: string;
  o?: string;
  d?: string;
  cpe: string[];
}

export interface MatchLine {
  soft: boolean;
  service: string;
  /** The pattern exactly as written in the file (PCRE syntax). */
  pattern: string;
  pcreFlags: string;
  regex: RegExp | undefined;
  groupMap: number[];
  /** Why the pattern could not be translated; undefined when it was. */
  untranslated: string | undefined;
  templates: VersionTemplates;
  /** 1-based line number in the probe file. */
  line: number;
  probe: string;
}

export interface Probe {
  protocol: "TCP" | "UDP";
  name: string;
  payload: Uint8Array;
  noPayload: boolean;
  line: number;
  ports: PortSet;
  sslports: PortSet;
  totalwaitms: number | undefined;
  tcpwrappedms: number | undefined;
  /** nmap's default when a probe states none. */
  rarity: number;
  fallback: string[];
  matches: MatchLine[];
  /** Services this probe's own match/softmatch lines can name (nmap's serviceIsPossible). */
  services: Set<string>;
}

export interface ProbeFile {
  path: string;
  probes: Probe[];
  exclude: PortSet;
  untranslated: MatchLine[];
  counts: { probes: number; matches: number; softmatches: number };
}

const C_ESCAPES: Record<string, number> = { "0": 0, a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };

/** Decodes a probe string (q|…|) the way nmap does: C escapes, \xHH, \0. */
export function unescapeProbeString(text: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (text[i] !== "\\") {
      out.push(c & 0xff);
      continue;
    }
    const e = text[++i];
    const simple = e === undefined ? undefined : C_ESCAPES[e];
    if (simple !== undefined) {
      out.push(simple);
      continue;
    }
    switch (e) {
      case "x": {
        const hex = text.slice(i + 1, i + 3);
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`bad \\x escape in probe string`);
        out.push(parseInt(hex, 16));
        i += 2;
        break;
      }
      case undefined:
        throw new Error("probe string ends with a backslash");
      default:
        out.push(e.charCodeAt(0) & 0xff);
    }
  }
  return new Uint8Array(out);
}

/** Parses the version fields after a match pattern: p/…/ v/…/ i/…/ h/…/ o/…/ d/…/ cpe:/…/a, any delimiter. */
export function parseVersionFields(text: string): VersionTemplates {
  const t: VersionTemplates = { cpe: [] };
  let i = 0;
  while (i < text.length) {
    while (text[i] === " " || text[i] === "\t") i++;
    if (i >= text.length) break;
    const m = /^([a-z]+:?)/.exec(text.slice(i));
    if (!m) throw new Error(`unexpected "${text.slice(i, i + 10)}" in version fields`);
    const name = m[1]!;
    i += name.length;
    const delim = text[i];
    if (delim === undefined) throw new Error(`field ${name} without a value`);
    const end = text.indexOf(delim, i + 1);
    if (end < 0) throw new Error(`field ${name} is not closed`);
    const value = text.slice(i + 1, end);
    i = end + 1;
    while (i < text.length && /[a-z]/.test(text[i]!)) i++; // flags after the value (cpe's "a")
    if (name === "cpe:") t.cpe.push(value);
    else if (name === "p" || name === "v" || name === "i" || name === "h" || name === "o" || name === "d") t[name] = value;
    else throw new Error(`unknown version field ${name}`);
  }
  return t;
}

/** Parses one `match`/`softmatch` line body: "<service> m<d>pattern<d>[flags] [fields]". */
function parseMatch(body: string, soft: boolean, line: number, probe: string): MatchLine {
  const sp = body.indexOf(" ");
  const service = body.slice(0, sp);
  const rest = body.slice(sp + 1);
  if (rest[0] !== "m") throw new Error(`line ${line}: match pattern must start with m`);
  const delim = rest[1]!;
  const end = rest.indexOf(delim, 2);
  if (end < 0) throw new Error(`line ${line}: unterminated pattern`);
  const pattern = rest.slice(2, end);
  let j = end + 1;
  let pcreFlags = "";
  while (j < rest.length && (rest[j] === "i" || rest[j] === "s")) pcreFlags += rest[j++];
  const templates = parseVersionFields(rest.slice(j));
  let regex: RegExp | undefined;
  let groupMap: number[] = [0];
  let untranslated: string | undefined;
  try {
    const t = translatePcre(pattern, pcreFlags);
    regex = new RegExp(t.source, t.flags);
    groupMap = t.groupMap;
  } catch (err) {
    if (!(err instanceof UntranslatablePattern)) throw err;
    untranslated = err.message;
  }
  return { soft, service, pattern, pcreFlags, regex, groupMap, untranslated, templates, line, probe };
}

export function parseProbeFile(text: string, path = "(text)"): ProbeFile {
  const probes: Probe[] = [];
  let exclude = new PortSet();
  let current: Probe | undefined;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!.replace(/\r$/, "");
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const lineNo = n + 1;
    const sp = line.indexOf(" ");
    const directive = sp < 0 ? line : line.slice(0, sp);
    const body = sp < 0 ? "" : line.slice(sp + 1).trim();
    try {
      if (directive === "Exclude") {
        exclude = PortSet.parse(body);
        continue;
      }
      if (directive === "Probe") {
        const m = /^(TCP|UDP) (\S+) q(.)/.exec(body);
        if (!m) throw new Error("bad Probe line");
        const delim = m[3]!;
        const start = m[0].length;
        const end = body.indexOf(delim, start);
        if (end < 0) throw new Error("unterminated probe string");
        current = {
          protocol: m[1] as "TCP" | "UDP",
          name: m[2]!,
          payload: unescapeProbeString(body.slice(start, end)),
          noPayload: /\bno-payload\b/.test(body.slice(end + 1)),
          line: lineNo,
          ports: new PortSet(),
          sslports: new PortSet(),
          totalwaitms: undefined,
          tcpwrappedms: undefined,
          rarity: 5,
          fallback: [],
          matches: [],
          services: new Set(),
        };
        probes.push(current);
        continue;
      }
      if (!current) throw new Error(`${directive} before any Probe`);
      switch (directive) {
        case "match":
        case "softmatch": {
          const m = parseMatch(body, directive === "softmatch", lineNo, current.name);
          current.matches.push(m);
          current.services.add(m.service);
          break;
        }
        case "ports":
          current.ports = PortSet.parse(body);
          break;
        case "sslports":
          current.sslports = PortSet.parse(body);
          break;
        case "totalwaitms":
          current.totalwaitms = Number(body);
          break;
        case "tcpwrappedms":
          current.tcpwrappedms = Number(body);
          break;
        case "rarity":
          current.rarity = Number(body);
          break;
        case "fallback":
          current.fallback = body.split(",").map((s) => s.trim()).filter(Boolean);
          break;
        default:
          throw new Error(`unknown directive ${directive}`);
      }
    } catch (err) {
      throw new Error(`${path}:${lineNo}: ${(err as Error).message}`);
    }
  }
  const all = probes.flatMap((p) => p.matches);
  return {
    path,
    probes,
    exclude,
    untranslated: all.filter((m) => m.untranslated !== undefined),
    counts: { probes: probes.length, matches: all.filter((m) => !m.soft).length, softmatches: all.filter((m) => m.soft).length },
  };
}

const cache = new Map<string, ProbeFile>();

/** Loads and parses the probe file once per process. Throws a readable error when nmap is not installed. */
export function loadProbeFile(path = DEFAULT_PROBES_FILE): ProbeFile {
  const hit = cache.get(path);
  if (hit) return hit;
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? "error"}): install nmap, or give --probes FILE`);
  }
  const parsed = parseProbeFile(text, path);
  cache.set(path, parsed);
  return parsed;
}
