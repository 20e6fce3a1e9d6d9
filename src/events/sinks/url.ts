// Where events may be sent besides the file: `--syslog URL` and `--webhook URL` (or the config's `syslog:`
// and `webhook:`). Parsed once at start-up, before anything is bound or logged; a bad one is a one-line
// error. The messages never repeat a password given in a URL.
import { isIP } from "node:net";

/** Syslog facilities by name (RFC 5424, table 1). */
export const FACILITIES: Record<string, number> = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  security: 13,
  console: 14,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};

export const DEFAULT_FACILITY = "local0";
export const DEFAULT_SYSLOG_PORT = 514;
/** What a receiver accepts without being told otherwise: rsyslog's default maxMessageSize (8096 bytes; it cuts longer messages, and over TCP garbles the next). */
export const DEFAULT_SYSLOG_MAX = 8096;
/** The largest message one UDP datagram carries over IPv4 (65,535 less the IP and UDP headers). */
export const UDP_MAX = 65_507;
/** The largest message a stream transport is allowed to carry (a data event with 64 KiB of binary is ~350 KB). */
export const STREAM_MAX = 1024 * 1024;
/** sun_path holds 108 bytes on Linux, with the terminating NUL. */
const UNIX_PATH_MAX = 107;

export interface SyslogTarget {
  transport: "udp" | "tcp" | "unix";
  /** udp and tcp: a host name or an address (IPv6 without brackets). */
  host?: string;
  port?: number;
  /** unix: the socket's absolute path. */
  path?: string;
  facility: number;
  facilityName: string;
  /** The largest message sent, in bytes: a bigger event is shortened to fit (its payload first). */
  maxMessage: number;
  /** The URL as given, for messages (a syslog URL carries no password). */
  display: string;
}

export interface WebhookTarget {
  /** The URL requests go to, without any user:password. */
  url: string;
  /** `Basic …` when the URL carried user:password. */
  authorization?: string;
  /** The URL with the password replaced by ***, for messages. */
  display: string;
}

/** A bad sink URL; the caller words it as a command-line or config error. */
export class SinkUrlError extends Error {}

const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function checkHost(host: string, what: string): string {
  if (host === "") throw new SinkUrlError(`${what} has no host`);
  if (host.startsWith("[")) {
    const inner = host.slice(1, -1);
    if (!host.endsWith("]") || isIP(inner) !== 6) throw new SinkUrlError(`${what}: "${host}" is not an IPv6 address`);
    return inner;
  }
  if (isIP(host) === 4) return host;
  if (/^[\d.]+$/.test(host)) throw new SinkUrlError(`${what}: "${host}" is not an IPv4 address`);
  if (host.length > 253 || !host.split(".").every((l) => HOST_LABEL.test(l))) throw new SinkUrlError(`${what}: "${host}" is not a host name`);
  return host;
}

function checkPort(text: string | undefined, what: string, fallback: number | undefined): number | undefined {
  if (text === undefined || text === "") return fallback;
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw new SinkUrlError(`${what}: port "${text}" is not a number from 1 to 65535`);
  return Number(text);
}

/** No spaces or control characters anywhere in a URL (they would hide what it really says). */
function checkChars(text: string, what: string): void {
  if (/[\s\x00-\x1f\x7f-\x9f]/.test(text)) throw new SinkUrlError(`${what} contains spaces or control characters`);
}

/** Makes a URL safe to print: whatever it holds, printable ASCII only and at most 200 characters. */
function shown(text: string): string {
  const clean = text.replace(/[^\x21-\x7e]/g, "?");
  return clean.length > 200 ? clean.slice(0, 200) + "…" : clean;
}

/**
 * `udp://HOST[:PORT]`, `tcp://HOST[:PORT]` (port 514 by default) or `unix:///PATH`, each with optional
 * `?facility=NAME` (default local0) and `&max=BYTES` (the largest message; default 8096, as rsyslog takes by default).
 */
export function parseSyslogUrl(text: string): SyslogTarget {
  const what = `syslog URL "${shown(text)}"`;
  checkChars(text, what);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(#.*)?$/.exec(text);
  if (!m) throw new SinkUrlError(`${what} is not a URL: expected udp://HOST:PORT, tcp://HOST:PORT or unix:///PATH`);
  const scheme = m[1]!.toLowerCase();
  const authority = m[2]!;
  const path = m[3]!;
  if (m[5] !== undefined) throw new SinkUrlError(`${what}: a syslog URL has no #fragment`);
  if (scheme !== "udp" && scheme !== "tcp" && scheme !== "unix") throw new SinkUrlError(`${what}: scheme must be udp, tcp or unix, not "${shown(scheme)}"`);
  const params = new Map<string, string>();
  for (const part of (m[4] ?? "").split("&").filter(Boolean)) {
    const [k, v = ""] = part.split("=", 2) as [string, string?];
    if (k !== "facility" && k !== "max") throw new SinkUrlError(`${what}: unknown parameter "${shown(k)}" (expected facility= or max=)`);
    if (params.has(k)) throw new SinkUrlError(`${what}: ${k}= given twice`);
    params.set(k, v);
  }
  const facilityName = (params.get("facility") ?? DEFAULT_FACILITY).toLowerCase();
  const facility = FACILITIES[facilityName];
  if (facility === undefined) throw new SinkUrlError(`${what}: unknown facility "${shown(facilityName)}" (expected one of ${Object.keys(FACILITIES).join(", ")})`);
  const ceiling = scheme === "udp" ? UDP_MAX : STREAM_MAX;
  let maxMessage = DEFAULT_SYSLOG_MAX;
  const max = params.get("max");
  if (max !== undefined) {
    if (!/^\d{1,7}$/.test(max) || Number(max) < 480 || Number(max) > ceiling)
      throw new SinkUrlError(`${what}: max=${shown(max)} is not a message size from 480 to ${ceiling} bytes`);
    maxMessage = Number(max);
  }
  const base = { facility, facilityName, maxMessage, display: shown(text) };
  if (scheme === "unix") {
    if (authority !== "") throw new SinkUrlError(`${what}: a unix socket URL has no host: write unix:///path/to/socket (three slashes)`);
    if (!path.startsWith("/") || path === "/") throw new SinkUrlError(`${what}: expected an absolute socket path, as in unix:///dev/log`);
    if (Buffer.byteLength(path) > UNIX_PATH_MAX) throw new SinkUrlError(`${what}: the socket path is longer than ${UNIX_PATH_MAX} bytes`);
    return { transport: "unix", path, ...base };
  }
  if (path !== "" && path !== "/") throw new SinkUrlError(`${what}: a ${scheme} syslog URL has no path`);
  if (authority.includes("@")) throw new SinkUrlError(`${what}: a syslog URL has no user or password`);
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(authority)!;
  const host = checkHost(hp[1]!, what);
  const port = checkPort(hp[2], what, DEFAULT_SYSLOG_PORT)!;
  return { transport: scheme, host, port, ...base };
}

/** `http://…` or `https://…`; user:password in it becomes a Basic Authorization header. */
export function parseWebhookUrl(text: string): WebhookTarget {
  const what = `webhook URL "${shown(text.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, "$1***@"))}"`;
  checkChars(text, what);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:([^@/?#]*)@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?([/?#].*)?$/.exec(text);
  if (!m) throw new SinkUrlError(`${what} is not a URL: expected http://HOST[:PORT]/PATH or https://…`);
  const scheme = m[1]!.toLowerCase();
  if (scheme !== "http" && scheme !== "https") throw new SinkUrlError(`${what}: scheme must be http or https, not "${shown(scheme)}"`);
  checkHost(m[3]!, what);
  checkPort(m[4], what, undefined);
  if (m[5]?.includes("#")) throw new SinkUrlError(`${what}: a webhook URL has no #fragment`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SinkUrlError(`${what} is not a URL`);
  }
  let authorization: string | undefined;
  let display = shown(url.href);
  if (url.username !== "" || url.password !== "") {
    authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
    if (url.password !== "") url.password = "***";
    display = shown(url.href);
    url.username = "";
    url.password = "";
  }
  url.hash = "";
  return { url: url.href, ...(authorization ? { authorization } : {}), display };
}
