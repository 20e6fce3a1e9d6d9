// Matching a response against match lines, and filling the version fields the way nmap does.
import { toLatin1 } from "../wire/bytes.ts";
import { unescapeProbeString, type MatchLine } from "./probes.ts";

export interface VersionInfo {
  service: string;
  product: string;
  version: string;
  info: string;
  hostname: string;
  ostype: string;
  devicetype: string;
  cpe: string[];
}

// nmap's field buffers (service_scan.cc): a value that does not fit is dropped, not cut.
const FIELD_MAX = { p: 79, v: 79, i: 255, h: 79, o: 31, d: 31, cpe: 79 } as const;

const CPE_RESERVED = ":/?#[]@!$&'()*+,;=%<>\"";

/** nmap's transform_cpe, applied to substituted text only. */
function cpeSafe(text: string): string {
  let out = "";
  for (const ch of text) {
    if (CPE_RESERVED.includes(ch)) out += "%" + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0");
    else if (/\s/.test(ch)) out += "_";
    else out += ch.toLowerCase();
  }
  return out;
}

/**
 * A plain $N as nmap fills it: the capture up to its first NUL byte (nmap copies it as a C string), each
 * byte outside printable ASCII shown as '.'. Real nmap 7.93 prints "Domain: corp.lan0., Site: …" for an
 * Active Directory rootDSE whose dsServiceName is followed by dnsHostName (AD 2016 and later): line 14459's
 * greedy DC=([^,]+) runs on to the next "0\x84\0", and what nmap shows of it ends at the NUL after 0x84.
 */
function plain(s: string): string {
  const nul = s.indexOf("\0");
  return (nul < 0 ? s : s.slice(0, nul)).replace(/[^\x20-\x7e]/g, ".");
}

function printable(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if (c >= 0x20 && c <= 0x7e) out += ch;
  }
  return out;
}

/** Reads the quoted, C-escaped arguments of $SUBST/$I. */
function quotedArgs(text: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"/g;
  for (const m of text.matchAll(re)) args.push(toLatin1(unescapeProbeString(m[1]!)));
  return args;
}

/**
 * Fills one template. Returns undefined when nmap would drop the field (a missing group, an unknown
 * $-form, an $I capture over 8 bytes).
 */
export function substitute(template: string, groups: (string | undefined)[], forCpe = false): string | undefined {
  let out = "";
  let i = 0;
  const put = (value: string) => (out += forCpe ? cpeSafe(value) : value);
  while (i < template.length) {
    const ch = template[i]!;
    if (ch !== "$") {
      out += ch;
      i++;
      continue;
    }
    const rest = template.slice(i + 1);
    let m: RegExpExecArray | null;
    if ((m = /^(\d)/.exec(rest))) {
      const n = Number(m[1]);
      const g = n >= 1 ? groups[n] : undefined;
      if (g === undefined) return undefined;
      put(forCpe ? g : plain(g));
      i += 2;
    } else if ((m = /^P\((\d)\)/.exec(rest))) {
      const g = groups[Number(m[1])];
      if (g === undefined) return undefined;
      put(printable(g));
      i += 1 + m[0].length;
    } else if ((m = /^SUBST\((\d),((?:"(?:[^"\\]|\\.)*"\s*,?\s*){2})\)/.exec(rest))) {
      const g = groups[Number(m[1])];
      const [find, repl] = quotedArgs(m[2]!);
      if (g === undefined || find === undefined || repl === undefined) return undefined;
      put(find === "" ? g : g.split(find).join(repl));
      i += 1 + m[0].length;
    } else if ((m = /^I\((\d),"([<>])"\)/.exec(rest))) {
      const g = groups[Number(m[1])];
      if (g === undefined || g.length > 8) return undefined;
      let value = 0n;
      const bytes = [...g].map((c) => BigInt(c.charCodeAt(0) & 0xff));
      if (m[2] === "<") bytes.reverse();
      for (const b of bytes) value = (value << 8n) | b;
      put(value.toString());
      i += 1 + m[0].length;
    } else return undefined;
  }
  return out;
}

function field(template: string | undefined, groups: (string | undefined)[], max: number): string {
  if (template === undefined) return "";
  const v = substitute(template, groups);
  if (v === undefined) return "";
  const trimmed = v.replace(/[\s,]+$/, "");
  return trimmed.length > max ? "" : trimmed;
}

/** Runs one match line on a response (latin1 text); undefined when it does not match. */
export function tryMatch(line: MatchLine, subject: string): VersionInfo | undefined {
  if (!line.regex) return undefined;
  const m = line.regex.exec(subject);
  if (!m) return undefined;
  const groups: (string | undefined)[] = line.groupMap.map((js, n) => (n === 0 ? m[0] : m[js]));
  const t = line.templates;
  // The last cpe of each part (a, h, o) wins; nmap prints them in that order.
  const byPart = new Map<string, string>();
  for (const c of t.cpe) {
    const v = substitute(c, groups, true);
    if (v === undefined || v.length > FIELD_MAX.cpe) continue;
    byPart.set(c[0] ?? "a", "cpe:/" + v.replace(/[\s,]+$/, ""));
  }
  return {
    service: line.service,
    product: field(t.p, groups, FIELD_MAX.p),
    version: field(t.v, groups, FIELD_MAX.v),
    info: field(t.i, groups, FIELD_MAX.i),
    hostname: field(t.h, groups, FIELD_MAX.h),
    ostype: field(t.o, groups, FIELD_MAX.o),
    devicetype: field(t.d, groups, FIELD_MAX.d),
    cpe: ["a", "h", "o"].map((p) => byPart.get(p)).filter((c): c is string => c !== undefined),
  };
}

export interface LineHit {
  line: MatchLine;
  info: VersionInfo;
}

/** The first line, hard or soft, that matches: nmap stops at it within a probe's list. */
export function firstMatch(lines: MatchLine[], subject: string): LineHit | undefined {
  for (const line of lines) {
    const info = tryMatch(line, subject);
    if (info) return { line, info };
  }
  return undefined;
}
