// `--metrics [ADDR:]PORT` (and a config's `metrics:`): Prometheus text on GET /metrics. Off by default; a
// bare port binds 127.0.0.1, and any other address must be written out (and is warned about). The value
// is checked with the other flags, before anything is bound; the server is bound before the traps, so a
// port in use fails the start with nothing listening. The counts come from `MetricsSink`
// (src/events/metrics.ts) in the records' fan-out; the server only renders them.
import { isIP } from "node:net";
import { UserError } from "../errors.ts";
import { exposition, type MetricsSink, type ScrapeState } from "../events/metrics.ts";

export interface MetricsTarget {
  /** An IP address (IPv6 without brackets). */
  host: string;
  /** 0: any free port (said on the console once bound). */
  port: number;
  /** 127.0.0.0/8 or ::1. */
  loopback: boolean;
}

/** A bad --metrics value or metrics: key; the caller words it as a flag or config error. */
export class MetricsTargetError extends Error {}

const EXPECTED = "expected PORT, ADDR:PORT or [IPv6]:PORT, e.g. 9108 or 127.0.0.1:9108";

function portOf(text: string, whole: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new MetricsTargetError(`"${whole}": the port must be a number from 0 to 65535 (${EXPECTED})`);
  return Number(text);
}

export function isLoopback(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith("127.");
  if (isIP(ip) !== 6) return false;
  // The URL parser writes an IPv6 address in its one canonical form (0:0:0:0:0:0:0:1 is [::1]).
  const canonical = new URL(`http://[${ip}]/`).hostname;
  return canonical === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:/.test(canonical);
}

/** `9108` → 127.0.0.1:9108; `ADDR:PORT` with an IPv4 address (or `localhost`); `[ADDR]:PORT` with an IPv6 one. */
export function parseMetricsTarget(value: string | number): MetricsTarget {
  const text = String(value).trim();
  if (text === "") throw new MetricsTargetError(`empty value (${EXPECTED})`);
  // Quoted back in messages: shown escaped and short, whatever it holds.
  const shown = JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text).slice(1, -1);
  if (/^\d+$/.test(text)) return { host: "127.0.0.1", port: portOf(text, shown), loopback: true };
  const v6 = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  const v4 = /^([^:[\]]*):([^:]*)$/.exec(text);
  const m = v6 ?? v4;
  if (!m) throw new MetricsTargetError(`"${shown}": ${EXPECTED}`);
  let host = m[1]!;
  if (host === "") throw new MetricsTargetError(`"${shown}": no address before the port (a bare port binds 127.0.0.1)`);
  if (!v6 && host.toLowerCase() === "localhost") host = "127.0.0.1";
  if (isIP(host) !== (v6 ? 6 : 4)) throw new MetricsTargetError(`"${shown}": "${JSON.stringify(m[1]).slice(1, -1)}" is not an ${v6 ? "IPv6" : "IPv4"} address (${EXPECTED})`);
  return { host, port: portOf(m[2]!, shown), loopback: isLoopback(host) };
}

/** The flag's value as a one-line command-line error. */
export function metricsFromFlag(value: string): MetricsTarget {
  try {
    return parseMetricsTarget(value);
  } catch (err) {
    if (err instanceof MetricsTargetError) throw new UserError(`invalid --metrics ${err.message}`);
    throw err;
  }
}

export function showTarget(t: { host: string; port: number }): string {
  return isIP(t.host) === 6 ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

/** Requests never carry a body worth reading: anything longer is refused by the server before it is read. */
const MAX_BODY = 1024;
/** A scraper that goes quiet is cut off (Prometheus's own scrape timeout is 10 s by default). */
const IDLE_SECONDS = 10;
const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface MetricsServer {
  readonly port: number;
  stop(): void;
}

/**
 * Serves GET and HEAD /metrics (anything else: 404, or 405 for another method); each scrape renders the
 * counters and reads `state()`. Throws a UserError when the address cannot be bound.
 */
export function serveMetrics(target: MetricsTarget, counts: MetricsSink, state: () => ScrapeState): MetricsServer {
  let server: ReturnType<typeof Bun.serve>;
  try {
    server = Bun.serve({
      hostname: target.host,
      port: target.port,
      reusePort: false,
      development: false,
      maxRequestBodySize: MAX_BODY,
      idleTimeout: IDLE_SECONDS,
      fetch(req) {
        const path = pathOf(req.url);
        if (path !== "/metrics") return new Response("not found\n", { status: 404, headers: { "content-type": "text/plain; charset=utf-8" } });
        if (req.method !== "GET" && req.method !== "HEAD")
          return new Response("only GET and HEAD\n", { status: 405, headers: { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" } });
        const body = exposition(counts, state());
        return new Response(req.method === "HEAD" ? null : body, {
          headers: { "content-type": CONTENT_TYPE, "cache-control": "no-store", ...(req.method === "HEAD" ? { "content-length": String(Buffer.byteLength(body)) } : {}) },
        });
      },
      error() {
        return new Response("error\n", { status: 500 });
      },
    });
  } catch (err) {
    const code = (err as { code?: string }).code;
    const where = showTarget(target);
    if (code === "EADDRINUSE") throw new UserError(`cannot serve metrics on ${where}: the port is already in use`);
    if (code === "EACCES" || code === "EPERM") throw new UserError(`cannot serve metrics on ${where}: the port needs privileges (use one above 1023)`);
    if (code === "EADDRNOTAVAIL") throw new UserError(`cannot serve metrics on ${where}: no such address on this host`);
    throw new UserError(`cannot serve metrics on ${where}: ${(err as Error).message}`);
  }
  return {
    port: server.port ?? target.port,
    stop: () => void server.stop(true),
  };
}

/** The path of a request URL (Bun hands the server an absolute one), without its query. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}
