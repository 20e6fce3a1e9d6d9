// One set of facts about the fake host, derived from its seed and shared by every service on it: names,
// time zone, clock error, boot time. Nothing here reads the process's time zone or clock: times come in
// as arguments (a live clock, or a replay's frozen one).
import type { OsFamily } from "../types.ts";
import { hashUnit } from "../util/random.ts";
import { drawFor, hostNames, netbiosNameOf, timeZoneFor, type Draw } from "./names.ts";
import { findRelease } from "./releases.ts";

export interface HostFacts {
  seed: string;
  family: OsFamily;
  /** The OS release the host runs ("debian-7"); its faces belong to it. */
  release: string;
  hostname: string;
  domain: string;
  fqdn: string;
  netbiosName: string;
  /** The NetBIOS workgroup Windows and Samba hosts show. */
  workgroup: string;
  /** IANA time zone of the host ("Europe/Berlin"). */
  timeZone: string;
  /** How far the host's clock is off real time, in milliseconds (old servers drift). */
  clockSkewMs: number;
  /** Days between the host's reboots; it last booted within that many days. */
  rebootDays: number;
  /** Where in the reboot cycle the host is (0..1), so hosts do not all reboot together. */
  rebootPhase: number;
}

export interface HostOptions {
  seed: string;
  family: OsFamily;
  release?: string;
  /** Pinned by a config (`hostname: files02`); otherwise drawn from the seed. */
  hostname?: string;
}

/** The host's clock error: most within a second or two, some a minute, a few far off. */
function skew(draw: Draw): number {
  const u = draw("skew");
  const size = draw("skew-size");
  const range = size < 0.7 ? 2_000 : size < 0.95 ? 60_000 : 600_000;
  return Math.round((u * 2 - 1) * range);
}

export function hostFacts(o: HostOptions): HostFacts {
  const draw = drawFor(o.seed);
  const names = hostNames(draw, o.family);
  const hostname = o.hostname ?? names.hostname;
  const fqdn = o.hostname !== undefined ? `${o.hostname.toLowerCase()}.${names.domain}` : names.fqdn;
  return {
    seed: o.seed,
    family: o.family,
    release: o.release ?? o.family,
    hostname,
    domain: names.domain,
    fqdn,
    netbiosName: netbiosNameOf(hostname),
    workgroup: "WORKGROUP",
    timeZone: timeZoneFor(draw),
    clockSkewMs: skew(draw),
    // Reboots every 3 weeks to 14 months: kernel updates on some hosts, nothing for a year on others.
    rebootDays: Math.round(21 + draw("reboot-days") ** 2 * 400),
    rebootPhase: draw("reboot-phase"),
  };
}

/** The host's own clock at a real instant: real time plus its error. */
export function hostTime(h: HostFacts, real: Date): Date {
  return new Date(real.getTime() + h.clockSkewMs);
}

/** The last boot before `real`: reboots come every rebootDays, at a per-host phase. */
export function bootTime(h: HostFacts, real: Date): Date {
  const period = h.rebootDays * 86_400_000;
  const phase = Math.floor(h.rebootPhase * period);
  const t = real.getTime();
  const since = (((t - phase) % period) + period) % period;
  // Never booted within the last ten minutes: a fresh boot is a rare sight, and a tell when it repeats.
  return new Date(t - Math.max(since, 600_000));
}

export function uptimeSeconds(h: HostFacts, real: Date): number {
  return Math.floor((real.getTime() - bootTime(h, real).getTime()) / 1000);
}

const offsetFormats = new Map<string, Intl.DateTimeFormat>();
/**
 * The last offset asked for per zone, with its minute: a zone's offset changes at whole minutes (the
 * transitions of any date a host clock shows), and asking Intl costs ~5 us, paid by every session that
 * shows a time (an ftp greeting) when this is not kept.
 */
const lastOffset = new Map<string, { minute: number; offset: number }>();

/** Minutes east of UTC in the host's zone at that instant (DST included), from the zone data, not the process. */
export function utcOffsetMinutes(h: HostFacts, at: Date): number {
  const minute = Math.floor(at.getTime() / 60_000);
  const last = lastOffset.get(h.timeZone);
  if (last !== undefined && last.minute === minute) return last.offset;
  let f = offsetFormats.get(h.timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", { timeZone: h.timeZone, timeZoneName: "longOffset" });
    offsetFormats.set(h.timeZone, f);
  }
  const name = f.formatToParts(at).find((p) => p.type === "timeZoneName")?.value ?? "GMT";
  const m = /GMT([+-])(\d{2}):?(\d{2})?/.exec(name);
  const offset = m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0)) : 0;
  lastOffset.set(h.timeZone, { minute, offset });
  return offset;
}

export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday. */
  weekday: number;
}

/** Wall-clock time on the host at a real instant: its clock error and its zone applied. */
export function localTime(h: HostFacts, real: Date): LocalTime {
  const t = hostTime(h, real);
  const shifted = new Date(t.getTime() + utcOffsetMinutes(h, t) * 60_000);
  return {
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    hour: shifted.getUTCHours(),
    minute: shifted.getUTCMinutes(),
    second: shifted.getUTCSeconds(),
    weekday: shifted.getUTCDay(),
  };
}

/** A number in [0, 1) stable for the host and a label (for details such as a page's inode). */
export function hostUnit(h: HostFacts, ...label: string[]): number {
  return hashUnit(h.seed, ...label);
}

/**
 * When the OS was installed: within two years after its release came out, at a per-host moment. Keys and
 * certificates a package made at install (Debian's snakeoil, sshd's host keys) carry this date, so they
 * look as old as the host and are the same after every restart.
 */
export function installTime(h: HostFacts): Date {
  const year = findRelease(h.release)?.year ?? 2012;
  const start = Date.UTC(year, 1, 1);
  return new Date(start + Math.floor(hostUnit(h, "install") * 2 * 365 * 86_400_000));
}
