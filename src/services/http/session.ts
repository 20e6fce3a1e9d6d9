// A fake HTTP/1.x origin server: Apache, nginx, IIS or lighttpd, whichever the catalog entry claims.
// HTTP is client-first: open() says nothing. Requests are parsed with hard caps; every response is
// assembled from the entry's templates, so the header order, wording and pages are data.
// The template keys and their meaning are in templates.ts.
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { hostTime, localTime, type LocalTime } from "../../host/facts.ts";
import { fill } from "../../util/template.ts";
import { clip, rd32, toLatin1, utf8 } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { httpFieldsOfLine } from "../../wire/http-fields.ts";
import { ntlmLoginEvent, ntlmChallenge, ntlmFromBlob, parseNtlmAuth } from "../../wire/ntlmssp.ts";
import { drawMs, type MsRange } from "../schema.ts";
import { formLogin, MAX_FORM_BYTES } from "./forms.ts";
import { RequestTimer, type TimerSpec, type Timers } from "./timing.ts";
import type { HttpTemplates } from "./templates.ts";
import type { PlainOnTls } from "../https/templates.ts";
import { gzipLikeDaemons, nginxWindow } from "../../wire/zlib.ts";
import { multipartBody, parseRanges, pngOfSize } from "./static.ts";

/** Longest request line kept (Apache's LimitRequestLine is 8190). */
export const MAX_LINE = 8190;
/** Longest request head (line + headers) kept before answering 400. */
export const MAX_HEAD = 16384;
/** Largest request body read and discarded; larger ones get 413 and the connection is closed. */
export const MAX_BODY = 64 * 1024;
/** Requests per connection before the server closes it (Apache's MaxKeepAliveRequests). */
export const MAX_REQUESTS = 100;
/** The most a session holds of its peer's input between reads: an unfinished head, and a login body. */
export const HTTP_MAX_BUFFERED = MAX_HEAD + MAX_FORM_BYTES;
/** Empty lines tolerated before a request line (Apache stops at limit_req_fields, 100). */
const MAX_BLANK_LINES = 100;

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  411: "Length Required",
  413: "Request Entity Too Large",
  414: "Request-URI Too Large",
  416: "Requested Range Not Satisfiable",
  500: "Internal Server Error",
  501: "Not Implemented",
  505: "HTTP Version Not Supported",
};

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const CR = 13;
const LF = 10;
const SP = 32;
/** Byte tables of the eager check (eagerStep): method characters, and what may start a target. */
const byteTable = (ok: (c: string) => boolean): boolean[] => Array.from({ length: 256 }, (_, i) => ok(String.fromCharCode(i)));
const TOKEN_CHAR_CODE = byteTable((c) => TOKEN_CHAR.test(c));
const UPPER_METHOD_CHAR = byteTable((c) => /[A-Z_]/.test(c));
const ALPHA_SLASH_STAR = byteTable((c) => /[\/*A-Za-z]/.test(c));
type EagerState = "start" | "method" | "spaces" | "ok" | "bad";
const UPPER = /^[A-Z_]+$/;

type ErrorKind = "verb" | "url" | "version" | "header" | "field" | "fields" | "host" | "length" | "generic";

interface Request {
  method: string;
  path: string;
  /** 9 for HTTP/0.9, 10 for 1.0, 11 for 1.1. */
  version: number;
  headers: Map<string, string>;
  head: string;
  line: string;
  /** The request target as sent (routes match it raw, as the application does). */
  target?: string;
}

/** Thrown inside parsing to answer an error page; caught in the session loop, never escapes. */
class HttpError {
  constructor(
    readonly code: number,
    readonly kind: ErrorKind = "generic",
    readonly version = 10,
  ) {}
}

export function httpDate(d: Date): string {
  // toUTCString is exactly the IMF-fixdate of RFC 7231: "Sun, 06 Nov 1994 08:49:37 GMT".
  return d.toUTCString();
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === "&" ? "&amp;" : c === "<" ? "&lt;" : c === ">" ? "&gt;" : "&quot;"));
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/** A time as C's ctime() prints it, without its newline: "Mon Nov 30 17:03:24 2026" (day padded with a space). */
function ctimeDate(t: LocalTime): string {
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${DAYS[t.weekday]} ${MONTHS[t.month - 1]} ${String(t.day).padStart(2, " ")} ${p2(t.hour)}:${p2(t.minute)}:${p2(t.second)} ${t.year}`;
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/** A one-char-per-byte string as bytes. */
function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Whether an Accept-Encoding value allows gzip (named with a q other than 0, or "*"). */
function acceptsGzip(value: string | undefined): boolean {
  if (value === undefined) return false;
  for (const part of value.toLowerCase().split(",")) {
    const [coding, ...params] = part.split(";").map((x) => x.trim());
    if (coding !== "gzip" && coding !== "x-gzip") continue;
    const q = params.find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/** Decodes %XX escapes byte-wise (latin1 result); undefined when an escape is malformed. */
function percentDecode(s: string): string | undefined {
  if (!s.includes("%")) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== "%") {
      out += c;
      continue;
    }
    const hex = s.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return undefined;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

/**
 * Removes dot segments (and, where the server merges slashes, empty ones); undefined when the path climbs
 * above the root (servers answer 400).
 */
function normalizePath(p: string, mergeSlashes = false): string | undefined {
  const out: string[] = [];
  const parts = p.split("/");
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    if (mergeSlashes && seg === "" && i < parts.length - 1) continue;
    if (seg === "..") {
      if (out.length === 0) return undefined;
      out.pop();
    } else if (seg !== ".") out.push(seg);
    else if (i === parts.length - 1) out.push("");
  }
  return "/" + out.join("/");
}

/** The path part of a request target: origin-form, absolute-form (proxy probes) or "*". */
function targetPath(target: string, mergeSlashes = false): string | undefined {
  let t = target;
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(t);
  if (abs) t = t.slice(abs[0].length) || "/";
  if (t === "*") return "*";
  if (!t.startsWith("/")) return undefined;
  const cut = t.search(/[?#]/);
  if (cut >= 0) t = t.slice(0, cut);
  const decoded = percentDecode(t);
  if (decoded === undefined) return undefined;
  return normalizePath(decoded, mergeSlashes);
}

function decodeBasic(value: string): ProtocolEvent | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=_-]{1,2048})\s*$/i.exec(value);
  if (!m) return undefined;
  const bytes = new Uint8Array(Buffer.from(m[1]!, "base64"));
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = toLatin1(bytes);
  }
  const colon = text.indexOf(":");
  return colon < 0
    ? { action: "login", method: "basic", user: text, password: "" }
    : { action: "login", method: "basic", user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Per-host stable page facts: modification time, inode, change counter. */
interface PageFacts {
  body: string;
  mtime: Date;
  etag: string;
}

function pageFacts(ctx: SessionContext, t: HttpTemplates, body: string, now: Date): PageFacts {
  let mtime: Date;
  const fixed = t.pageMtime ? Date.parse(t.pageMtime) : NaN;
  const range = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(t.pageMtimeRange ?? "");
  if (!Number.isNaN(fixed)) mtime = new Date(fixed);
  else if (range) {
    const from = Date.parse(range[1]! + "T00:00:00Z");
    const to = Date.parse(range[2]! + "T00:00:00Z");
    mtime = new Date(from + Math.floor(ctx.hostRandom("page-mtime") * Math.max(0, to - from)));
  } else mtime = new Date(Date.UTC(2013, 0, 1) + Math.floor(ctx.hostRandom("page-mtime") * 365 * 86400_000));
  // A file cannot be newer than the clock, and HTTP dates have whole seconds.
  if (mtime.getTime() > now.getTime()) mtime = new Date(now.getTime() - 86400_000);
  const seconds = Math.floor(mtime.getTime() / 1000);
  mtime = new Date(seconds * 1000);
  const usFraction = Math.floor(ctx.hostRandom("page-mtime-us") * 1_000_000);
  const mtimeUs = BigInt(seconds) * 1_000_000n + BigInt(t.pageMtime ? 0 : usFraction);
  // Windows FILETIME (100 ns since 1601); IIS prints its bytes little-endian, each in unpadded hex.
  const filetime = (BigInt(seconds) + 11_644_473_600n) * 10_000_000n;
  let iisFiletime = "";
  for (let i = 0n; i < 8n; i++) iisFiletime += ((filetime >> (8n * i)) & 0xffn).toString(16);
  const size = body.length;
  const etag = fill(t.etag, {
    inode_hex: (0x20000 + Math.floor(ctx.hostRandom("inode") * 0xfffff)).toString(16),
    size_hex: size.toString(16),
    mtime_hex: seconds.toString(16),
    mtime_us_hex: mtimeUs.toString(16),
    hash_dec: String(Math.floor(ctx.hostRandom("etag-hash") * 0xffffffff)),
    iis_filetime: iisFiletime,
    iis_change: (0x100 + Math.floor(ctx.hostRandom("iis-change") * 0xe00)).toString(16),
  });
  return { body, mtime, etag };
}

/** Templates are UTF-8 text; the wire is bytes, kept as one-char-per-byte strings. */
function wire(text: string): string {
  return /^[\x00-\x7f]*$/.test(text) ? text : toLatin1(utf8(text));
}

export function startHttp(ctx: SessionContext<HttpTemplates & { plainOnTls?: PlainOnTls }>): ProtocolSession {
    const t = ctx.entry.templates;
    const echoVersion = t.versionStyle === "echo";
    const skipBlank = t.blankLines !== "reject";
    const upperMethods = t.methodChars === "upper";
    const eager = t.eager;
    const lenient = t.lenientProtocol;
    const serve09 = t.http09 !== "reject";
    const caseless = t.caseInsensitivePaths;
    const longLineStatus = t.longLineStatus;
    const statusText = (code: number): string | undefined => t.statusLines[String(code)];
    const errorHeadFor = (code: number): string => t.errorHeads[String(code)] ?? t.errorHead;
    const methodTable = new Map(Object.entries(t.methods));
    const indexPaths = new Set(t.indexPaths.map((p) => (caseless ? p.toLowerCase() : p)));

    const local = {
      hostname: ctx.hostname,
      local_ip: ctx.localAddress,
      // The address as a URL host: IPv6 needs brackets.
      local_host: ctx.localAddress.includes(":") ? `[${ctx.localAddress}]` : ctx.localAddress,
      server: t.server,
    };
    const page = pageFacts(ctx, t, fill(wire(t.pageBody), local), ctx.now());
    const deniedNames = t.deniedNames === undefined ? undefined : new RegExp(t.deniedNames);
    const fileCache = new Map<string, { body: string; type: string; mtime: Date; etag: string }>();
    /** The page compressed, made on the first request that accepts gzip. */
    let gzipped: string | undefined;

    /** What the parser has seen and not consumed yet. */
    let buf = "";
    /**
     * Bytes that arrived while the parser could not have moved (part of a request line or head, with no
     * LF that could end it): held here and appended to `buf` once one comes, so an unfinished head is not
     * re-read (or re-copied) whole on every chunk.
     */
    const tail = new ByteQueue();
    /** Where the last step stopped for want of bytes: the request line, or the head after it. */
    let idle: "line" | "head" | undefined;
    /** For an eager server waiting on its request line: how far its check of the first bytes got. */
    let eagerIdle: EagerState = "start";
    let blankLines = 0;
    let requests = 0;
    let closed = false;
    /** Bytes of request body still to discard, and the request waiting for them. */
    let bodyLeft = 0;
    let waiting: Request | undefined;
    /** The body of the waiting request, kept when it may be a form or JSON login. */
    let form: string | undefined;
    /** The waiting request was answered before its body (nginx's early error): the body is only discarded. */
    let answeredEarly = false;
    /** Whether a kept connection says so in its head (Apache: only to a client that asked). */
    let announceKeepAlive = true;
    /** The name of the header field that was over the limit, for the page that says so. */
    let badField = "";

    function statusLine(code: number, version: number, status?: string): string {
      const v = t.versionStyle === "http10" ? "HTTP/1.0" : echoVersion && version !== 0 ? (version === 11 ? "HTTP/1.1" : "HTTP/1.0") : "HTTP/1.1";
      return `${v} ${status ?? statusText(code) ?? `${code} ${REASONS[code] ?? "Unknown"}`}\r\n`;
    }

    function vars(req: Request | undefined, extra: Record<string, string | number>): Record<string, string | number> {
      // Apache and friends name themselves after the Host header when there is a sane one.
      const host = req?.headers.get("host") ?? "";
      const hm = /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::(\d{1,5}))?$/.exec(host);
      return {
        ...local,
        date: httpDate(hostTime(ctx.host, ctx.now())),
        date_ctime: ctimeDate(localTime(ctx.host, ctx.now())),
        servername: hm ? hm[1]! : ctx.hostname,
        port: hm?.[2] ?? (ctx.localPort || 80),
        method: escapeHtml(req?.method ?? ""),
        path: escapeHtml(req?.path ?? "/"),
        lastmod: httpDate(page.mtime),
        etag: page.etag,
        allow: "",
        target: escapeHtml(req?.target ?? ""),
        ...extra,
      };
    }

    function connectionLines(keep: boolean, version: number): string {
      if (!keep) return t.connectionClose;
      if (!announceKeepAlive) return "";
      const ka = (version === 10 ? t.connectionKeepAlive10 : undefined) ?? t.connectionKeepAlive ?? "";
      return fill(ka, { kamax: MAX_REQUESTS - requests + 1 });
    }

    function wantsKeepAlive(req: Request): boolean {
      if (t.connectionKeepAlive === undefined || requests >= MAX_REQUESTS) return false;
      const conn = (req.headers.get("connection") ?? "").toLowerCase();
      announceKeepAlive = !t.keepAliveWhenAsked || /\bkeep-alive\b/.test(conn);
      if (req.version === 11) return !/\bclose\b/.test(conn);
      return req.version === 10 && /\bkeep-alive\b/.test(conn);
    }

    /** One complete response. `keep` false means the server closes after it. */
    function respond(code: number, head: string, body: string, req: Request | undefined, keep: boolean, headOnly: boolean, version: number, extra: Record<string, string | number> = {}): string {
      const v = vars(req, { ...extra, length: body.length, connection: connectionLines(keep, version) });
      return statusLine(code, version) + fill(head, v) + "\r\n" + (headOnly ? "" : body);
    }

    /** The application's own responses (routes): its head lines, then what its HTTP library adds. */
    function routed(name: string, req: Request, keep: boolean, rest: string): string {
      const raw = t.responses[name] ?? "";
      const crlf = raw.indexOf("\r\n");
      const split = raw.indexOf("\r\n\r\n");
      const status = crlf < 0 ? raw : raw.slice(0, crlf);
      const headTpl = crlf < 0 || split < crlf ? "" : raw.slice(crlf + 2, split + 2);
      const bodyTpl = split < 0 ? "" : raw.slice(split + 4);
      const extra = { session_id: sessionId(), date_plus_day: httpDate(new Date(hostTime(ctx.host, ctx.now()).getTime() + 86_400_000)), rest: escapeHtml(rest) };
      const body = fill(wire(bodyTpl), vars(req, extra));
      const v = vars(req, { ...extra, length: body.length, connection: connectionLines(keep, req.version) });
      const code = Number(status.slice(0, 3)) || 200;
      const head = framed(fill(headTpl, v), req, code, body.length);
      const headOnly = req.method === "HEAD" && t.framing !== "evhttp";
      return statusLine(code, req.version, status) + head + "\r\n" + (headOnly ? "" : body);
    }

    /**
     * libevent's evhttp adds its framing after the handler's header lines: Date for HTTP/1.1, Connection for a
     * 1.0 keep-alive, Content-Length when the connection may persist, its default Content-Type, and a close
     * when the client asked for one. Other faces write all of it in their templates.
     */
    function framed(head: string, req: Request, code: number, length: number): string {
      if (t.framing !== "evhttp") return head;
      const has = (name: string) => new RegExp(`^${name}:`, "im").test(head);
      const conn = (req.headers.get("connection") ?? "").trim().toLowerCase();
      const keepAsked = conn === "keep-alive";
      const needsBody = req.method !== "HEAD" && code >= 200 && code !== 204 && code !== 304;
      let out = head;
      if (req.version === 11 && !has("Date")) out += `Date: ${httpDate(hostTime(ctx.host, ctx.now()))}\r\n`;
      if (req.version === 10 && keepAsked) out += "Connection: keep-alive\r\n";
      if ((req.version === 11 || keepAsked) && needsBody && !has("Content-Length")) out += `Content-Length: ${length}\r\n`;
      if (needsBody && !has("Content-Type")) out += "Content-Type: text/html; charset=ISO-8859-1\r\n";
      // An absolute URI makes it a proxy request, whose close evhttp does not announce.
      if (conn === "close" && !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(req.target ?? "")) out += "Connection: close\r\n";
      return out;
    }

    /** Transmission's X-Transmission-Session-Id: 48 letters and digits, the same for an hour on the whole host. */
    function sessionId(): string {
      const pool = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
      const hour = String(Math.floor((hostTime(ctx.host, ctx.now()).getTime() + ctx.hostRandom("session-id-phase") * 3_600_000) / 3_600_000));
      let id = "";
      for (let i = 0; i < 48; i++) id += pool[Math.floor(ctx.hostRandom(`session-id-${hour}-${i}`) * pool.length)];
      return id;
    }

    function errorBody(code: number, kind: ErrorKind, req: Request | undefined, version: number): string {
      const bodyTpl = t.errorBodies[`${code} ${kind}`] ?? t.errorBodies[String(code)] ?? t.errorBody;
      const reason = (statusText(code) ?? `${code} ${REASONS[code] ?? ""}`).replace(/^\d+ /, "");
      // Template text becomes bytes first; the request's own bytes (a decoded path) go in as they came.
      return fill(wire(bodyTpl), vars(req, { code, reason, version: version === 11 ? "HTTP/1.1" : "HTTP/1.0", field: badField }));
    }

    function errorResponse(code: number, kind: ErrorKind, req: Request | undefined, keep: boolean, allowLine?: string): string {
      const version = req?.version ?? 10;
      const body = errorBody(code, kind, req, version);
      const head = errorHeadFor(code);
      const allow = allowLine ?? (code === 405 || code === 501 ? t.allowLine : "");
      if (version === 9) return body;
      // evhttp's own error pages always say HTTP/1.1, whatever the request's version.
      return respond(code, head, body, req, keep, req?.method === "HEAD", t.framing === "evhttp" ? 0 : version, { allow });
    }

    /**
     * The route for a raw target: an exact key (query cut off), else the longest prefix key, else "*".
     * `rest` is what follows the prefix (without the query), for {{rest}}.
     */
    function route(target: string): { name: string; rest: string } | undefined {
      const routes = t.routes ?? {};
      const path = target.split("?", 1)[0]!;
      if (Object.hasOwn(routes, path) && !path.endsWith("*")) return { name: routes[path]!, rest: "" };
      let best: string | undefined;
      for (const key of Object.keys(routes)) {
        if (key.length > 1 && key.endsWith("*") && path.startsWith(key.slice(0, -1)) && (best === undefined || key.length > best.length)) best = key;
      }
      if (best !== undefined) return { name: routes[best]!, rest: path.slice(best.length - 1) };
      return routes["*"] !== undefined ? { name: routes["*"], rest: path } : undefined;
    }

    function pathExists(path: string): boolean {
      return indexPaths.has(caseless ? path.toLowerCase() : path);
    }

    /** A file the product ships beside its page ("403" for one it refuses), or undefined. */
    function shippedFile(path: string): "403" | { body: string; type: string; mtime: Date; etag: string } | undefined {
      const last = path.slice(path.lastIndexOf("/") + 1);
      if (deniedNames !== undefined && last !== "" && deniedNames.test(last)) return "403";
      const spec = Object.hasOwn(t.files, path) ? t.files[path]! : undefined;
      if (spec === undefined) return undefined;
      if (spec === "403") return "403";
      const cached = fileCache.get(path);
      if (cached) return cached;
      const m = /^png (\d+)x(\d+) (\d+)$/.exec(spec)!;
      const body = pngOfSize(Number(m[1]), Number(m[2]), Number(m[3]), `${ctx.host.seed}${path}`) ?? "";
      // Installed with the package, before the page was last edited.
      const mtime = new Date(Math.floor((page.mtime.getTime() - (1 + ctx.hostRandom(`file-${path}`) * 30) * 86_400_000) / 1000) * 1000);
      const seconds = Math.floor(mtime.getTime() / 1000);
      const etag = fill(t.etag, {
        inode_hex: (0x20000 + Math.floor(ctx.hostRandom(`inode-${path}`) * 0xfffff)).toString(16),
        size_hex: body.length.toString(16),
        mtime_hex: seconds.toString(16),
        mtime_us_hex: (BigInt(seconds) * 1_000_000n + BigInt(Math.floor(ctx.hostRandom(`us-${path}`) * 1_000_000))).toString(16),
        hash_dec: String(Math.floor(ctx.hostRandom(`hash-${path}`) * 0xffffffff)),
        iis_filetime: "",
        iis_change: "",
      });
      const file = { body, type: "image/png", mtime, etag };
      fileCache.set(path, file);
      return file;
    }

    /** The page as a 304, a 206 (one range or several), a 416 or gzipped, when the request asks for one. */
    function pageVariant(req: Request, keep: boolean, headOnly: boolean): { out: string; keep: boolean } | undefined {
      if (req.version === 9 || (req.method !== "GET" && req.method !== "HEAD")) return undefined;
      const h = req.headers;
      if (t.notModifiedHead !== undefined) {
        const inm = h.get("if-none-match");
        const ims = h.get("if-modified-since");
        const matches = inm !== undefined ? inm.split(",").some((tag) => tag.trim() === page.etag || tag.trim() === "*") : ims !== undefined && Date.parse(ims) >= page.mtime.getTime();
        if (matches) {
          const v = vars(req, { connection: connectionLines(keep, req.version) });
          return { out: statusLine(304, req.version, "304 Not Modified") + fill(t.notModifiedHead, v) + "\r\n", keep };
        }
      }
      const size = page.body.length;
      if (t.partialHead !== undefined && req.method === "GET") {
        const ranges = parseRanges(h.get("range"), size);
        if (ranges.kind === "unsatisfiable") {
          // Apache sends this page without a length, so the close ends it; nginx closes too.
          if (t.rangeErrorHead === undefined) return { out: errorResponse(416, "generic", req, false), keep: false };
          const body = errorBody(416, "generic", req, req.version);
          const v = vars(req, { length: body.length, size, connection: connectionLines(false, req.version) });
          return { out: statusLine(416, req.version) + fill(t.rangeErrorHead, v) + "\r\n" + body, keep: false };
        }
        if (ranges.kind === "ranges" && ranges.parts.length === 1) {
          const [a, b] = ranges.parts[0]!;
          const v = vars(req, { length: b - a + 1, content_range: `bytes ${a}-${b}/${size}`, connection: connectionLines(keep, req.version) });
          return { out: statusLine(206, req.version, "206 Partial Content") + fill(t.partialHead, v) + "\r\n" + page.body.slice(a, b + 1), keep };
        }
        if (ranges.kind === "ranges" && t.multipartHead !== undefined) {
          const boundary = t.multipartStyle === "nginx" ? String(ctx.counter("nginx-temp-number", { atBoot: 1, perHour: 0.5, spread: 20 })).padStart(20, "0") : hex(ctx.random(8));
          const body = multipartBody(page.body, ranges.parts, boundary, "text/html", t.multipartStyle);
          const v = vars(req, { length: body.length, boundary, connection: connectionLines(keep, req.version) });
          return { out: statusLine(206, req.version, "206 Partial Content") + fill(t.multipartHead, v) + "\r\n" + body, keep };
        }
      }
      if (t.gzipHead !== undefined && acceptsGzip(h.get("accept-encoding")) && h.get("range") === undefined) {
        const chunked = t.gzipFraming === "chunked";
        if (chunked && req.version !== 11) return undefined;
        gzipped ??= toLatin1(gzipLikeDaemons(latin1Bytes(page.body), { level: t.gzipLevel, ...(chunked ? nginxWindow(size) : {}) }));
        const body = chunked ? `${gzipped.length.toString(16)}\r\n${gzipped}\r\n0\r\n\r\n` : gzipped;
        const etagGzip = page.etag.replace(/"$/, '-gzip"');
        const v = vars(req, { length: gzipped.length, etag_gzip: etagGzip, connection: connectionLines(keep, req.version) });
        return { out: statusLine(200, req.version, t.pageStatus) + fill(t.gzipHead, v) + "\r\n" + (headOnly ? "" : body), keep };
      }
      return undefined;
    }

    /** MS15-034 probe: a Range end beyond 2^64-1 crashes or trips a vulnerable HTTP.sys into 416. */
    function hugeRange(req: Request): boolean {
      const m = /^bytes=\d+-(\d{19,})$/.exec((req.headers.get("range") ?? "").trim());
      return !!m && BigInt(m[1]!) >= 18446744073709551615n;
    }

    /** Answers a fully read request. Returns the bytes and whether the connection stays open. */
    function answer(req: Request, mayKeep: boolean): { out: string; keep: boolean } {
      const action = methodTable.get(req.method) ?? methodTable.get("*") ?? "501";
      const keep = mayKeep && wantsKeepAlive(req);
      const headOnly = req.method === "HEAD";
      const exists = req.path !== "*" && pathExists(req.path);
      if (req.version !== 9 && t.disabledMethods.includes(req.method)) return { out: errorResponse(405, "generic", req, keep, "Allow: \r\n"), keep };
      if (req.version !== 9 && action === "page" && t.routes === undefined && req.path !== "*") {
        const shipped = shippedFile(req.path);
        if (shipped === "403") return { out: errorResponse(403, "generic", req, keep), keep };
        if (shipped !== undefined) {
          const v = vars(req, { length: shipped.body.length, connection: connectionLines(keep, req.version), content_type: shipped.type, lastmod: httpDate(shipped.mtime), etag: shipped.etag });
          return { out: statusLine(200, req.version) + fill(t.fileHead, v) + "\r\n" + (headOnly ? "" : shipped.body), keep };
        }
      }
      if (req.version === 9) {
        // HTTP/0.9: no status line, no headers, the body and then the connection closes.
        if (req.method !== "GET") return { out: errorBody(400, "generic", req, 9), keep: false };
        return { out: action === "page" && exists ? page.body : errorBody(404, "generic", req, 9), keep: false };
      }
      if (action === "page" && t.routes !== undefined) {
        const found = route(req.target ?? req.path);
        if (found !== undefined && found.name !== "page") return { out: routed(found.name, req, keep, found.rest), keep };
        if (found?.name === "page") {
          const v = vars(req, { length: page.body.length, connection: connectionLines(keep, req.version), date_plus_day: httpDate(new Date(hostTime(ctx.host, ctx.now()).getTime() + 86_400_000)) });
          const head = framed(fill(t.pageHead, v), req, 200, page.body.length);
          return { out: statusLine(200, req.version, t.pageStatus) + head + "\r\n" + (headOnly && t.framing !== "evhttp" ? "" : page.body), keep };
        }
        return { out: errorResponse(404, "generic", req, keep), keep };
      }
      if (action === "page" || action === "static405") {
        if (!exists) return { out: errorResponse(404, "generic", req, keep), keep };
        if (action === "static405") return { out: errorResponse(405, "generic", req, keep), keep };
        if (t.partialHead === undefined && t.errorBodies["416"] !== undefined && hugeRange(req)) return { out: errorResponse(416, "generic", req, false), keep: false };
        const special = pageVariant(req, keep, headOnly);
        if (special !== undefined) return special;
        const v = vars(req, { length: page.body.length, connection: connectionLines(keep, req.version) });
        const line = statusLine(200, req.version, t.pageStatus);
        return { out: line + fill(t.pageHead, v) + "\r\n" + (headOnly ? "" : page.body), keep };
      }
      if (action === "options" && t.optionsHead !== undefined) {
        return { out: respond(200, req.path === "*" ? (t.optionsStarHead ?? t.optionsHead) : t.optionsHead, "", req, keep, true, req.version), keep };
      }
      if (action === "trace" && t.traceHead !== undefined) {
        // The request echoed back as message/http; without framing, the end of the body is the close.
        const v = vars(req, { connection: connectionLines(false, req.version) });
        return { out: statusLine(200, req.version) + fill(t.traceHead, v) + "\r\n" + req.head, keep: false };
      }
      const code = Number(action) || 501;
      return { out: errorResponse(code, "generic", req, keep && code < 500), keep: keep && code < 500 };
    }

    /** The challenge this connection sent (NTLM authenticates a connection, not a request). */
    let ntlmChallengeSent: Uint8Array = new Uint8Array(0);

    /**
     * Windows authentication beside anonymous access, as IIS does it: an Authorization header carrying
     * NTLMSSP (raw, or inside Negotiate) gets a 401 with a CHALLENGE, and the AUTHENTICATE that follows is
     * a login whose NetNTLM response is kept; it is refused with a fresh 401. Undefined: not NTLM.
     */
    function ntlmExchange(req: Request, events: ProtocolEvent[]): string | undefined {
      const m = /^(NTLM|Negotiate)\s+([A-Za-z0-9+/=]{8,8192})\s*$/i.exec(req.headers.get("authorization") ?? "");
      if (!m) return undefined;
      const scheme = m[1]!.toLowerCase() === "ntlm" ? "NTLM" : "Negotiate";
      const token = ntlmFromBlob(new Uint8Array(Buffer.from(m[2]!, "base64")));
      if (!token) return undefined;
      let authenticate = "Negotiate\r\nWWW-Authenticate: NTLM";
      if (token.type === 1) {
        ntlmChallengeSent = ctx.random(8);
        // A standalone Windows server: its own name as the NetBIOS domain, its DNS suffix as the DNS domain.
        const h = ctx.host;
        const id = { netbiosName: h.netbiosName, netbiosDomain: h.netbiosName, dnsName: h.fqdn, dnsDomain: h.domain, version: t.ntlmVersion };
        const type2 = ntlmChallenge(id, rd32(token.msg, 12), ntlmChallengeSent, hostTime(h, ctx.now()));
        authenticate = `${scheme} ${Buffer.from(type2).toString("base64")}`;
      } else if (token.type === 3) {
        const a = parseNtlmAuth(token.msg);
        if (a) {
          events.push(ntlmLoginEvent("http-ntlm", a, ntlmChallengeSent));
        }
        ntlmChallengeSent = new Uint8Array(0);
      } else return undefined;
      const body = req.method === "HEAD" ? "" : t.ntlmBody;
      const v = vars(req, { length: t.ntlmBody.length, www_authenticate: `WWW-Authenticate: ${authenticate}\r\n` });
      return statusLine(401, req.version) + fill(t.ntlmHead!, v) + "\r\n" + body;
    }

    /** Parses the request line; throws HttpError for what the server would reject. */
    function parseLine(line: string): { method: string; target: string; version: number } {
      const parts = line.split(/[ \t]+/).filter(Boolean);
      const method = parts[0] ?? "";
      if (!TOKEN.test(method) || (upperMethods && !UPPER.test(method))) throw new HttpError(400, "verb");
      if (parts.length < 2) throw new HttpError(400, "url");
      // Strict parsing (Apache 2.4.25+): exactly single spaces and printable bytes, or a 400 with headers.
      if (t.strictRequestLine && (/[^\x21-\x7e ]/.test(line) || / {2}| $/.test(line))) throw new HttpError(400, "url");
      const target = parts[1]!;
      if (parts.length === 2) {
        if (!serve09) throw new HttpError(400, "version");
        // A path or an absolute URI; anything else cannot be HTTP/0.9 for nginx or a strict Apache.
        const pathy = target.startsWith("/") || /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target);
        if (t.http09 === "servePath" && !pathy) throw new HttpError(400, "url");
        if (t.http09 === "serveGet" && (method !== "GET" || !pathy)) throw new HttpError(400, "url");
        return { method, target, version: 9 };
      }
      const proto = parts.slice(2).join(" ");
      if (t.strictRequestLine && !/^HTTP\/1\.[01]$/.test(proto)) throw new HttpError(400, "version");
      const m = /^HTTP\/(\d)\.(\d)$/.exec(proto);
      if (m) {
        const major = Number(m[1]);
        if (major === 1) return { method, target, version: m[2] === "0" ? 10 : 11 };
        if (major !== 1 && t.framing === "evhttp") throw new HttpError(400, "version");
        if (major === 0 && !lenient) throw new HttpError(400, "version");
        if (major > 1 && !lenient) throw new HttpError(505, "version");
        return { method, target, version: major > 1 ? 11 : 10 };
      }
      if (lenient) return { method, target, version: 10 };
      throw new HttpError(400, "version");
    }

    function parseHeaders(lines: string[], version: number): Map<string, string> {
      const headers = new Map<string, string>();
      let last: string | undefined;
      if (lines.length > t.maxHeaderFields) throw new HttpError(400, "fields", version);
      for (const raw of lines) {
        // One field over the server's limit (Apache's LimitRequestFieldSize, nginx's 8k buffer).
        if (raw.length > MAX_LINE) {
          // Apache before 2.4.5x names the field in its page: up to the colon, at most 80 bytes.
          const colon = raw.indexOf(":");
          badField = escapeHtml(raw.slice(0, Math.min(colon < 0 ? raw.length : colon, 80)));
          throw new HttpError(400, "field", version);
        }
        if (/^[ \t]/.test(raw) && last !== undefined) {
          headers.set(last, `${headers.get(last) ?? ""} ${raw.trim()}`);
          continue;
        }
        const colon = raw.indexOf(":");
        const name = colon > 0 ? raw.slice(0, colon) : "";
        if (!TOKEN.test(name)) {
          if (t.invalidHeaderLines === "ignore") continue;
          throw new HttpError(400, "header", version);
        }
        last = name.toLowerCase();
        const value = raw.slice(colon + 1).trim();
        const prev = headers.get(last);
        headers.set(last, prev === undefined ? value : `${prev}, ${value}`);
      }
      return headers;
    }

    /**
     * Eager servers reject a request whose first bytes cannot be a method and a target: the check, one
     * byte at a time. "bad" and "ok" are final; "method" and "spaces" wait for more.
     */
    function eagerStep(state: EagerState, c: number): EagerState {
      if (state === "ok" || state === "bad") return state;
      if (c === CR || c === LF) return "ok"; // the line parser will judge it
      if (state === "spaces") return c === SP ? "spaces" : ALPHA_SLASH_STAR[c] ? "ok" : "bad";
      if (c === SP) return state === "start" ? "ok" : "spaces";
      return (upperMethods ? UPPER_METHOD_CHAR[c] : TOKEN_CHAR_CODE[c]) ? "method" : "bad";
    }

    function eagerState(text: string, from: EagerState = "start"): EagerState {
      let state = from;
      for (let i = 0; i < text.length && state !== "ok" && state !== "bad"; i++) state = eagerStep(state, text.charCodeAt(i));
      return state;
    }

    function step(): { out: string; close: boolean; events: ProtocolEvent[] } | undefined {
      // Empty lines before a request line: Apache and nginx read past them, lighttpd refuses.
      for (;;) {
        const m = /^\r?\n/.exec(buf);
        if (!m) break;
        if (!skipBlank) throw new HttpError(400, "generic");
        buf = buf.slice(m[0].length);
        if (++blankLines > MAX_BLANK_LINES) throw new HttpError(400, "generic");
      }
      if (buf === "" || buf === "\r") return undefined;
      const early = eager ? eagerState(buf) : "ok";
      if (early === "bad") throw new HttpError(400, "verb");
      const nl = buf.indexOf("\n");
      if (nl < 0) {
        if (buf.length > MAX_LINE) throw new HttpError(longLineStatus, "url");
        idle = "line";
        eagerIdle = early;
        return undefined;
      }
      const line = buf.slice(0, nl).replace(/\r$/, "");
      if (line.length > MAX_LINE) throw new HttpError(longLineStatus, "url");
      const events: ProtocolEvent[] = [{ action: "command", command: line }];
      let parsed: { method: string; target: string; version: number };
      try {
        parsed = parseLine(line);
      } catch (err) {
        if (err instanceof HttpError) throw Object.assign(err, { events });
        throw err;
      }
      // The request line's ECS fields now; the User-Agent and the body's length once the head is read.
      const lineFields = httpFieldsOfLine(line);
      if (lineFields) events[0]!.http = lineFields;
      let headEnd: number;
      let headerText: string;
      if (parsed.version === 9) {
        headEnd = nl + 1;
        headerText = "";
      } else {
        const m = /\r?\n\r?\n/.exec(buf.slice(nl));
        if (!m) {
          if (buf.length > MAX_HEAD) throw Object.assign(new HttpError(400, "header", parsed.version), { events });
          idle = "head";
          return undefined;
        }
        headerText = buf.slice(nl + 1, nl + m.index + 1);
        headEnd = nl + m.index + m[0].length;
      }
      if (headEnd > MAX_HEAD) throw Object.assign(new HttpError(400, "header", parsed.version), { events });
      const head = buf.slice(0, headEnd);
      buf = buf.slice(headEnd);
      blankLines = 0;
      requests++;
      const fail = (code: number, kind: ErrorKind, req?: Request): never => {
        throw Object.assign(new HttpError(code, kind, parsed.version), { events, req });
      };
      const headerLines = headerText === "" ? [] : headerText.split(/\r?\n/);
      let headers: Map<string, string>;
      try {
        headers = parseHeaders(headerLines, parsed.version);
      } catch (err) {
        if (err instanceof HttpError) throw Object.assign(err, { events });
        throw err;
      }
      {
        const ua = headers.get("user-agent");
        const cl = headers.get("content-length");
        const full = httpFieldsOfLine(line, ua, cl !== undefined && /^\d{1,18}$/.test(cl) ? Number(cl) : undefined);
        if (full) events[0]!.http = full;
      }
      for (const name of ["authorization", "proxy-authorization"]) {
        const value = headers.get(name);
        const login = value === undefined ? undefined : decodeBasic(value);
        if (login) events.push(login);
      }
      const path = targetPath(parsed.target, t.mergeSlashes && t.routes === undefined);
      const req: Request = { method: parsed.method, path: path ?? "/", version: parsed.version, headers, head, line, target: parsed.target };
      const ntlm = t.ntlmHead === undefined ? undefined : ntlmExchange(req, events);
      if (ntlm !== undefined) {
        const keep = wantsKeepAlive(req);
        return { out: ntlm, close: !keep, events };
      }
      if (path === undefined || (path === "*" && (parsed.method !== "OPTIONS" || t.asteriskOptions === "reject"))) fail(400, "url", req);
      if (parsed.version === 11 && t.requireHost && !headers.has("host")) fail(400, "host", req);
      const te = (headers.get("transfer-encoding") ?? "").toLowerCase();
      const cl = headers.get("content-length");
      let length = 0;
      if (cl !== undefined) {
        if (!/^\d{1,18}$/.test(cl)) fail(400, "length", req);
        length = Number(cl);
        if (length > MAX_BODY) fail(413, "length", req);
      }
      if (te !== "" && te !== "identity") {
        // A chunked body is not framed here: answer, then close rather than misread what follows.
        const { out } = answer(req, false);
        return { out, close: true, events };
      }
      if (length > 0) {
        bodyLeft = length;
        waiting = req;
        form = req.method === "POST" && length <= MAX_FORM_BYTES ? "" : undefined;
        const expects = parsed.version === 11 && /^100-continue$/i.test((headers.get("expect") ?? "").trim());
        if (expects && t.expectContinue === "send") return { out: "HTTP/1.1 100 Continue\r\n\r\n", close: false, events };
        if (expects && t.expectContinue === "errorFirst") {
          const action = methodTable.get(req.method) ?? methodTable.get("*") ?? "501";
          if (action !== "page" || !pathExists(req.path)) {
            // The error goes out now; the body that follows is read and dropped, then the connection closes.
            answeredEarly = true;
            form = undefined;
            return { out: answer(req, false).out, close: false, events };
          }
        }
        return { out: "", close: false, events };
      }
      const { out, keep } = answer(req, true);
      return { out, close: !keep, events };
    }

    function run(): Reply {
      idle = undefined;
      let out = "";
      const events: ProtocolEvent[] = [];
      let close = false;
      try {
        while (!close) {
          if (waiting) {
            const take = Math.min(bodyLeft, buf.length);
            if (form !== undefined) form += buf.slice(0, take);
            buf = buf.slice(take);
            bodyLeft -= take;
            if (bodyLeft > 0) break;
            if (form !== undefined) {
              const login = formLogin(waiting.headers.get("content-type") ?? "", form);
              if (login) events.push(login);
              form = undefined;
            }
            if (answeredEarly) {
              answeredEarly = false;
              waiting = undefined;
              close = true;
              continue;
            }
            const { out: o, keep } = answer(waiting, true);
            waiting = undefined;
            out += o;
            if (!keep) close = true;
            continue;
          }
          const r = step();
          if (!r) break;
          out += r.out;
          events.push(...r.events);
          if (r.close) close = true;
          else if (r.out === "" && !waiting) break;
        }
      } catch (err) {
        if (!(err instanceof HttpError)) throw err;
        const extra = err as HttpError & { events?: ProtocolEvent[]; req?: Request };
        if (extra.events) events.push(...extra.events);
        else {
          // Rejected before a full request line: log what there was of it.
          const partial = buf.split(/\r?\n/, 1)[0]!.slice(0, 1024);
          if (partial !== "") events.push({ action: "command", command: partial });
        }
        const req = extra.req ?? { method: "", path: "/", version: err.version === 9 ? 10 : err.version, headers: new Map(), head: "", line: "" };
        if (err.code === 400) events.push({ action: "error", message: `malformed request (${err.kind})` });
        out += errorResponse(err.code, err.kind, req, false);
        close = true;
      }
      if (close) {
        closed = true;
        buf = "";
        tail.clear();
      }
      return {
        ...(out !== "" ? { write: out } : {}),
        ...(close ? { close: true } : {}),
        ...(events.length > 0 ? { events } : {}),
      };
    }

    // ---- time: what the daemon waits for, how long, and how it stops waiting (timing.ts) ----
    type Phase = "start" | "idle" | "head" | "body" | "covered";
    let phase: Phase = "head";
    const timer = new RequestTimer();
    const draw = (r: MsRange): number => drawMs(r, ctx.random);
    const plain = (r: MsRange): TimerSpec => ({ style: "deadline", ms: draw(r), perByteMs: 0, graceMs: 0 });
    // A daemon that never gives up (Transmission's evhttp) arms nothing; the trap's idle limit still ends the session.
    const NEVER: MsRange = { min: -1, max: -1 };
    const requestSpec = (later: boolean): TimerSpec => ({
      style: t.requestTimeoutStyle,
      ms: draw((later ? t.nextRequestTimeoutMs : undefined) ?? t.requestTimeoutMs ?? NEVER),
      perByteMs: t.requestMinRate ? 1000 / t.requestMinRate : 0,
      ...(t.requestTimeoutMaxMs ? { capMs: draw(t.requestTimeoutMaxMs) } : {}),
      graceMs: draw(t.readGraceMs),
    });
    const bodySpec = (): TimerSpec => ({
      style: t.requestTimeoutStyle,
      ms: draw(t.bodyTimeoutMs ?? t.requestTimeoutMs ?? NEVER),
      perByteMs: t.bodyMinRate ? 1000 / t.bodyMinRate : 0,
      graceMs: draw(t.readGraceMs),
    });

    /** The daemon has the connection: the first request's timer, or IIS's wait for a first byte. */
    function accepted(): Timers {
      if (t.connectionTimeoutMs) {
        phase = "idle";
        return timer.start(plain(t.connectionTimeoutMs));
      }
      phase = "head";
      return timer.start(requestSpec(false));
    }

    /** Bytes arrived: leave a wait for a request's timer, and let the bytes count. */
    function arriving(n: number): Timers {
      let timers: Timers = {};
      if (phase === "start" || phase === "idle") {
        if (phase === "idle" && requests > 0 && t.keepAliveCoversNextRequest) phase = "covered";
        else {
          phase = "head";
          timers = timer.start(requestSpec(requests > 0));
        }
      }
      return phase === "head" || phase === "body" ? { ...timers, ...timer.bytes(n) } : timers;
    }

    /** After the bytes were handled: a body to wait for, a next request, or a kept connection's wait. */
    function settled(requestsBefore: number, wasWaiting: boolean): Timers {
      if (waiting) {
        if (phase === "body") return {};
        phase = "body";
        return timer.start(bodySpec());
      }
      const done = requests > requestsBefore || wasWaiting;
      if (!done) return {};
      if (buf !== "") {
        phase = "head";
        return timer.start(requestSpec(true));
      }
      phase = "idle";
      return timer.start(plain(t.keepAliveTimeoutMs ?? NEVER));
    }

    /** The request line, once complete, after any empty lines before it. */
    function completeLine(): string | undefined {
      const rest = buf.replace(/^(?:\r?\n)+/, "");
      const nl = rest.indexOf("\n");
      return nl < 0 ? undefined : rest.slice(0, nl).replace(/\r$/, "");
    }

    /** The daemon stops waiting: a 408 (or 400) page where it writes one, then the close. */
    function timedOut(): Reply {
      flushTail();
      let out = "";
      if (phase === "head" && t.requestTimeoutReply === "408AfterLine") {
        const line = completeLine();
        if (line !== undefined) {
          // The head was never parsed: no Host applies, so the page names the server itself.
          const parts = line.split(/[ \t]+/);
          const version = /^HTTP\/1\.1$/.test(parts[2] ?? "") ? 11 : 10;
          out = errorResponse(408, "generic", { method: parts[0] ?? "", path: "/", version, headers: new Map(), head: "", line }, false);
        }
      } else if (phase === "body" && waiting && t.bodyTimeoutStatus !== undefined) {
        out = errorResponse(t.bodyTimeoutStatus, "generic", waiting, false);
      }
      closed = true;
      buf = "";
      tail.clear();
      return { ...(out !== "" ? { write: out } : {}), close: true, timers: timer.stop() };
    }

    function withTimers(r: Reply, timers: Timers): Reply {
      return Object.keys(timers).length > 0 ? { ...r, timers: { ...timers, ...r.timers } } : r;
    }

    function consume(chunk: Uint8Array): Reply {
      if (waiting && chunk.length <= bodyLeft && buf === "") {
        // Discard body bytes without copying them into the buffer (unless they may hold a login).
        if (form !== undefined) form += toLatin1(chunk);
        bodyLeft -= chunk.length;
        if (bodyLeft > 0) return {};
        return run();
      }
      if (!waiting && quiet(chunk)) {
        tail.push(chunk);
        return {};
      }
      flushTail();
      buf += toLatin1(chunk);
      return run();
    }

    function flushTail(): void {
      if (tail.length === 0) return;
      buf += toLatin1(tail.view());
      tail.clear();
    }

    /**
     * Whether `chunk` cannot move the parser where it stopped, so that running it would answer nothing and
     * change nothing: no LF to end the request line (and, for an eager server, nothing its check of the
     * first bytes would refuse), or no blank line to end the head; and no limit passed.
     */
    function quiet(chunk: Uint8Array): boolean {
      const total = buf.length + tail.length + chunk.length;
      if (idle === "line") {
        if (total > MAX_LINE || chunk.indexOf(LF) >= 0) return false;
        if (!eager) return true;
        let state = eagerIdle;
        for (let i = 0; i < chunk.length && state !== "ok" && state !== "bad"; i++) state = eagerStep(state, chunk[i]!);
        if (state === "bad") return false;
        eagerIdle = state;
        return true;
      }
      if (idle === "head") {
        if (total > MAX_HEAD) return false;
        // The head ends at LF LF or LF CR LF; the two bytes before the chunk may begin one.
        const before = lastTwo();
        const at = (i: number): number | undefined => (i < 0 ? before[2 + i] : chunk[i]);
        for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) {
          if (at(i - 1) === LF || (at(i - 1) === CR && at(i - 2) === LF)) return false;
        }
        return true;
      }
      return false;
    }

    /** The last two bytes the parser holds (buf, then tail), oldest first; undefined where there are fewer. */
    function lastTwo(): [number | undefined, number | undefined] {
      const n = tail.length;
      const fromBuf = (k: number): number | undefined => (k >= 1 && k <= buf.length ? buf.charCodeAt(buf.length - k) : undefined);
      if (n >= 2) return [tail.at(n - 2), tail.at(n - 1)];
      if (n === 1) return [fromBuf(1), tail.at(0)];
      return [fromBuf(2), fromBuf(1)];
    }

    /** The product's answer to plain HTTP on its TLS port (https faces), then a close. */
    function plainOnTls(): Reply {
      const p = t.plainOnTls!;
      closed = true;
      const port = ctx.localPort || 443;
      const body = fill(wire(p.body), vars(undefined, { code: 400, reason: "Bad Request", port, https_port: port === 443 ? "" : `:${port}` }));
      if (p.request === "0.9") return { write: body, close: true };
      return { write: respond(400, errorHeadFor(400), body, undefined, false, false, p.request === "1.0" ? 10 : 11, { port, allow: "" }), close: true };
    }

    return {
      ...(t.plainOnTls ? { plainOnTls } : {}),
      buffered: () => buf.length + tail.length + (form?.length ?? 0),
      // Client speaks first; a web server greets nobody. Its timers start at once (or after the kernel's
      // deferred accept, for a peer that stays silent).
      open() {
        if (t.startDelayMs.max > 0) {
          phase = "start";
          return { timers: timer.start(plain(t.startDelayMs)) };
        }
        return { timers: accepted() };
      },
      data(chunk) {
        if (closed) return {};
        // The deadline passed while a read's grace ran: the next read finds the time up.
        if (timer.isExpired) return timedOut();
        const timers = arriving(chunk.length);
        const requestsBefore = requests;
        const wasWaiting = waiting !== undefined;
        const reply = consume(chunk);
        if (closed) return reply;
        return withTimers(reply, { ...timers, ...settled(requestsBefore, wasWaiting) });
      },
      timer(name) {
        if (closed) return {};
        const { outcome, timers } = timer.fired(name);
        if (outcome !== "timeout") return Object.keys(timers).length > 0 ? { timers } : {};
        if (phase === "start") return { timers: accepted() };
        return timedOut();
      },
    };
}
