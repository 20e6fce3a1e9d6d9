// Fake host names, domains and time zones, drawn with the host seed from fixtures/host/names.json, in the
// naming habits of real networks ("fra-web03", "files02", "WIN-4J7K2L9M3QP", "annas-imac").
import vocabulary from "../../fixtures/host/names.json";
import type { OsFamily } from "../types.ts";
import { hashUnit } from "../util/random.ts";

interface Weighted {
  form?: string;
  zone?: string;
  weight: number;
}

/** A stable draw for one label of the host: the same seed and label give the same number, always. */
export type Draw = (label: string) => number;

export function drawFor(seed: string): Draw {
  return (label) => hashUnit(seed, "host", label);
}

function pick<T>(list: readonly T[], u: number): T {
  return list[Math.min(list.length - 1, Math.floor(u * list.length))]!;
}

function pickWeighted<T extends Weighted>(list: readonly T[], u: number): T {
  const total = list.reduce((n, x) => n + x.weight, 0);
  let at = u * total;
  for (const x of list) {
    at -= x.weight;
    if (at < 0) return x;
  }
  return list[list.length - 1]!;
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** Fills {role} {role2} {site} {name} {first} {org} {n} {nn} {rand11} (and upper-case twins). */
function fillForm(form: string, draw: Draw, org: string): string {
  const role = pick(vocabulary.roles, draw("role"));
  let role2 = pick(vocabulary.roles, draw("role2"));
  if (role2 === role) role2 = pick(vocabulary.roles, draw("role2b"));
  const values: Record<string, string> = {
    role,
    role2,
    site: pick(vocabulary.sites, draw("site")),
    name: pick(vocabulary.names, draw("name")),
    first: pick(vocabulary.firstNames, draw("first")),
    org: org.split(/[.-]/)[0]!.slice(0, 8),
    // Small numbers are common, large ones rare: most networks have a few of each kind.
    n: String(1 + Math.floor(draw("n") ** 2 * 9)),
    nn: String(1 + Math.floor(draw("nn") ** 2 * 24)).padStart(2, "0"),
    rand11: Array.from({ length: 11 }, (_, i) => ALNUM[Math.floor(draw(`rand-${i}`) * ALNUM.length)]).join(""),
  };
  return form.replace(/\{(\w+)\}/g, (whole, key: string) => {
    const v = values[key.toLowerCase()];
    if (v === undefined) return whole;
    return key === key.toUpperCase() && key.length > 1 ? v.toUpperCase() : v;
  });
}

export interface HostNames {
  /** The host name as the OS shows it (no domain). */
  hostname: string;
  /** The DNS domain it belongs to. */
  domain: string;
  fqdn: string;
  /** NetBIOS name: upper case, at most 15 characters, no dots. */
  netbiosName: string;
}

/** The organisation the host belongs to ("bluefield-logistics"), its domain ("corp.bluefield-logistics.com"). */
function organisation(draw: Draw): { org: string; domain: string } {
  const word = pick(vocabulary.orgWords, draw("org-word"));
  const suffix = pick(vocabulary.orgSuffixes, draw("org-suffix"));
  const org = draw("org-dash") < 0.35 ? `${word}-${suffix}` : `${word}${suffix}`;
  const form = pick(vocabulary.domainForms, draw("domain-form"));
  return { org, domain: form.replace("{org}", org) };
}

export function netbiosNameOf(hostname: string): string {
  const name = hostname.split(".")[0]!.toUpperCase().replace(/[^A-Z0-9_-]/g, "-");
  return name.slice(0, 15) || "SERVER";
}

export function hostNames(draw: Draw, family: OsFamily): HostNames {
  const { org, domain } = organisation(draw);
  const forms = family === "windows" ? vocabulary.windowsForms : family === "macos" ? vocabulary.macForms : vocabulary.hostForms;
  const hostname = fillForm(pickWeighted(forms, draw("form")).form, draw, org).slice(0, 63);
  return { hostname, domain, fqdn: `${hostname.toLowerCase()}.${domain}`, netbiosName: netbiosNameOf(hostname) };
}

export function timeZoneFor(draw: Draw): string {
  return pickWeighted(vocabulary.timeZones, draw("time-zone")).zone!;
}
