// nmap's version detection, played in memory against a protocol: the same probe order, connection reuse,
// fallback chain and soft/hard match rules as nmap 7.93's service_scan.cc, without sockets or waiting.
import { concatBytes, toLatin1 } from "../wire/bytes.ts";
import { firstMatch, type VersionInfo } from "./match.ts";
import type { MatchLine, Probe, ProbeFile } from "./probes.ts";

/** What one step of a connection produced: bytes, and whether the server closed. */
export interface StepResult {
  data: Uint8Array;
  closed: boolean;
}

/**
 * A connection to the service under test; each call returns what arrived within `waitMs` (nmap's wait).
 * In memory it answers at once; through a TLS library it answers once the library has done its work.
 */
export interface Connection {
  open(waitMs: number): StepResult | Promise<StepResult>;
  send(bytes: Uint8Array, waitMs: number): StepResult | Promise<StepResult>;
}

/** How nmap talks to the port: raw, or through its SSL layer once a probe's answer said "ssl". */
export type Tunnel = "none" | "ssl";

const tunnelMark = (tunnel: Tunnel): { tunnel?: "ssl" } => (tunnel === "ssl" ? { tunnel } : {});

export interface ProbeStep {
  probe: string;
  /** A fresh connection, or the NULL probe's connection reused (nmap sends the first probe on it). */
  reused: boolean;
  sent: Uint8Array;
  received: Uint8Array;
  closed: boolean;
  match?: { line: number; soft: boolean; service: string; probe: string };
  /** Milliseconds real nmap would wait on this step (its totalwaitms when the service stays silent). */
  waitMs: number;
  /** Sent through nmap's SSL tunnel (after an "ssl" match): the bytes are the plaintext. */
  tunnel?: "ssl";
}

export interface ScanResult extends VersionInfo {
  state: "matched" | "softmatched" | "tcpwrapped" | "nomatch" | "excluded";
  /** The probe whose response decided, and the line of the deciding match. */
  probe: string;
  line: number;
  steps: ProbeStep[];
  estimatedMs: number;
  /** "ssl" when the service was found behind nmap's SSL tunnel (nmap prints ssl/<service>). */
  tunnel?: "ssl";
}

export interface ScanOptions {
  port: number;
  intensity?: number;
  /** Safety bound: probes are at most the file's, but a broken protocol must not loop. */
  maxProbes?: number;
}

const DEFAULT_WAIT_MS = 5000;
const EMPTY: VersionInfo = { service: "", product: "", version: "", info: "", hostname: "", ostype: "", devicetype: "", cpe: [] };

export class Scanner {
  private readonly byName = new Map<string, Probe[]>();
  private readonly nullProbe: Probe;
  private readonly chains = new Map<Probe, MatchLine[]>();

  constructor(readonly file: ProbeFile) {
    for (const p of file.probes) {
      const list = this.byName.get(p.name) ?? [];
      list.push(p);
      this.byName.set(p.name, list);
    }
    const nul = file.probes.find((p) => p.name === "NULL" && p.protocol === "TCP");
    if (!nul) throw new Error(`${file.path}: no TCP NULL probe`);
    this.nullProbe = nul;
  }

  /** nmap's getProbeByName for fallbacks: NULL, then the same protocol, then any. */
  private probeByName(name: string, protocol: Probe["protocol"]): Probe | undefined {
    if (name === "NULL") return this.nullProbe;
    const list = this.byName.get(name) ?? [];
    return list.find((p) => p.protocol === protocol) ?? list[0];
  }

  /** The lines tried for a probe's response: its own, its fallbacks' in order, then NULL's (TCP). */
  matchChain(probe: Probe): MatchLine[] {
    let chain = this.chains.get(probe);
    if (chain) return chain;
    const parts: Probe[] = [probe];
    if (probe !== this.nullProbe) {
      for (const name of probe.fallback) {
        const fb = this.probeByName(name, probe.protocol);
        if (fb && !parts.includes(fb)) parts.push(fb);
      }
      if (probe.protocol === "TCP" && !parts.includes(this.nullProbe)) parts.push(this.nullProbe);
    }
    // Each probe's list is searched in order; the first probe with any matching line ends the chain,
    // which a flat list searched in order reproduces exactly.
    chain = parts.flatMap((p) => p.matches);
    this.chains.set(probe, chain);
    return chain;
  }

  /**
   * nmap's service scan of one port. A hard match of service "ssl" starts everything over through an SSL
   * tunnel (service_scan.cc's scanThroughTunnel): the NULL probe again, then the probes whose `sslports`
   * hold the port, then the rest by rarity; what matches there is reported as "ssl/<service>". A match
   * that already says "ssl/http" (Apache's "speaking plain HTTP" page) ends at once, as in nmap.
   * `connect(tunnel)` opens a raw connection, or one through nmap's SSL layer (the caller's plaintext).
   */
  async scan(connect: (tunnel: Tunnel) => Connection, o: ScanOptions): Promise<ScanResult> {
    const steps: ProbeStep[] = [];
    if (this.file.exclude.has(o.port)) return { ...EMPTY, state: "excluded", probe: "", line: 0, steps, estimatedMs: 0 };
    const raw = await this.pass(connect, o, "none", steps);
    if (raw.state !== "matched" || raw.service !== "ssl") return raw;
    const inner = await this.pass(connect, o, "ssl", steps);
    const estimatedMs = raw.estimatedMs + inner.estimatedMs;
    if (inner.state === "matched" || inner.state === "softmatched")
      return { ...inner, service: inner.service.startsWith("ssl/") ? inner.service : `ssl/${inner.service}`, tunnel: "ssl", estimatedMs };
    // Nothing behind the tunnel: nmap names it ssl/unknown and reports no product.
    return { ...EMPTY, service: "ssl/unknown", state: "nomatch", probe: "", line: 0, steps, estimatedMs, tunnel: "ssl" };
  }

  /** One pass of probes, raw or through the tunnel. */
  private async pass(connect: (tunnel: Tunnel) => Connection, o: ScanOptions, tunnel: Tunnel, steps: ProbeStep[]): Promise<ScanResult> {
    const intensity = o.intensity ?? 7;
    let estimatedMs = 0;
    const open = (waitMs: number) => {
      const c = connect(tunnel);
      return { c, first: c.open(waitMs) };
    };

    let soft: { info: VersionInfo; line: MatchLine } | undefined;
    let tcpwrapPossible = true;

    /** Matches after each chunk, as nmap does after each read. Returns a hard hit if one ends the scan. */
    const judge = (probe: Probe, subject: Uint8Array, step: ProbeStep) => {
      if (subject.length === 0) return undefined;
      const hit = firstMatch(this.matchChain(probe), toLatin1(subject));
      if (!hit) return undefined;
      step.match = { line: hit.line.line, soft: hit.line.soft, service: hit.line.service, probe: hit.line.probe };
      if (hit.line.soft) {
        soft ??= { info: hit.info, line: hit.line };
        return undefined;
      }
      return hit;
    };

    const finish = (hit: { info: VersionInfo; line: MatchLine }, probe: Probe): ScanResult => {
      // A hard match after a softmatch keeps the softmatch's fields it does not set itself.
      const base = soft?.info ?? EMPTY;
      const merged: VersionInfo = {
        service: hit.info.service,
        product: hit.info.product || base.product,
        version: hit.info.version || base.version,
        info: hit.info.info || base.info,
        hostname: hit.info.hostname || base.hostname,
        ostype: hit.info.ostype || base.ostype,
        devicetype: hit.info.devicetype || base.devicetype,
        cpe: hit.info.cpe.length ? hit.info.cpe : base.cpe,
      };
      return { ...merged, state: "matched", probe: probe.name, line: hit.line.line, steps, estimatedMs };
    };

    // 1. The NULL probe: connect and wait for a banner.
    const first = open(this.nullProbe.totalwaitms ?? DEFAULT_WAIT_MS);
    let conn = first.c;
    const banner = await first.first;
    const nullStep: ProbeStep = { probe: "NULL", reused: false, sent: new Uint8Array(0), received: banner.data, closed: banner.closed, waitMs: 0, ...tunnelMark(tunnel) };
    steps.push(nullStep);
    if (banner.data.length > 0) tcpwrapPossible = false;
    if (banner.closed && banner.data.length === 0) {
      return { ...EMPTY, service: "tcpwrapped", state: "tcpwrapped", probe: "NULL", line: 0, steps, estimatedMs };
    }
    const nullHit = judge(this.nullProbe, banner.data, nullStep);
    if (nullHit) return finish(nullHit, this.nullProbe);
    // No hard match: nmap waits the whole NULL window, unless the server closed.
    if (!banner.closed) {
      nullStep.waitMs = this.nullProbe.totalwaitms ?? DEFAULT_WAIT_MS;
      estimatedMs += nullStep.waitMs;
      tcpwrapPossible = false; // a read timed out
    }
    // The first probe goes out on the NULL probe's connection when it is still open, after the banner.
    let reusable: { conn: Connection; buffered: Uint8Array } | undefined = banner.closed ? undefined : { conn, buffered: banner.data };

    // 2. Probes for this port first (any rarity), then the rest by rarity; a softmatch narrows both.
    const tcp = this.file.probes.filter((p) => p.protocol === "TCP" && p !== this.nullProbe);
    const allowed = (p: Probe, portProbable: boolean) => {
      if (soft) return intensity >= 9 || p.services.has(soft.line.service);
      return portProbable || p.rarity <= intensity;
    };
    const maxProbes = o.maxProbes ?? tcp.length;
    let sent = 0;
    for (const phase of [true, false]) {
      for (const probe of tcp) {
        const probable = (tunnel === "ssl" ? probe.sslports : probe.ports).has(o.port);
        if (probable !== phase || !allowed(probe, phase)) continue;
        if (++sent > maxProbes) break;
        const step: ProbeStep = { probe: probe.name, reused: reusable !== undefined, sent: probe.payload, received: new Uint8Array(0), closed: false, waitMs: 0, ...tunnelMark(tunnel) };
        steps.push(step);
        let hit;
        let closed: boolean;
        if (reusable) {
          conn = reusable.conn;
          const r = await conn.send(probe.payload, probe.totalwaitms ?? DEFAULT_WAIT_MS);
          step.received = r.data;
          closed = r.closed;
          hit = judge(probe, concatBytes([reusable.buffered, r.data]), step);
          reusable = undefined;
        } else {
          const fresh = open(0);
          conn = fresh.c;
          const greet = await fresh.first;
          // nmap sends at once after connecting; a banner arrives first and is matched on its own.
          hit = greet.data.length > 0 ? judge(probe, greet.data, step) : undefined;
          if (!hit && !greet.closed) {
            const r = await conn.send(probe.payload, probe.totalwaitms ?? DEFAULT_WAIT_MS);
            step.received = concatBytes([greet.data, r.data]);
            closed = r.closed;
            if (r.data.length > 0) hit = judge(probe, step.received, step);
          } else {
            step.received = greet.data;
            closed = greet.closed;
          }
        }
        step.closed = closed;
        if (step.received.length > 0) tcpwrapPossible = false;
        if (hit) return finish(hit, probe);
        if (!closed) {
          step.waitMs = probe.totalwaitms ?? DEFAULT_WAIT_MS;
          estimatedMs += step.waitMs;
          tcpwrapPossible = false;
        }
      }
    }
    if (soft) return { ...soft.info, state: "softmatched", probe: soft.line.probe, line: soft.line.line, steps, estimatedMs };
    if (tcpwrapPossible) return { ...EMPTY, service: "tcpwrapped", state: "tcpwrapped", probe: "", line: 0, steps, estimatedMs };
    return { ...EMPTY, state: "nomatch", probe: "", line: 0, steps, estimatedMs };
  }
}
