// A refusing Squid: every request is parsed as Squid parses it and answered with the error page Squid
// would send with "http_access deny all": 403 ERR_ACCESS_DENIED for proxy requests (absolute URLs and
// CONNECT, each logged as a command with its URL), 400 ERR_INVALID_URL for a plain web request, and
// Squid's words for garbage. Proxy-Authorization Basic is logged as a login (Squid without auth_param
// ignores it, so the answer is the same 403). Client-first: open() says nothing.
import { httpFieldsOf } from "../../wire/http-fields.ts";
import { hostTime } from "../../host/facts.ts";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { fill } from "../../util/template.ts";
import { clip, toLatin1, utf8 } from "../../wire/bytes.ts";
import { decodeBasicCredentials } from "../../wire/http-auth.ts";
import { header, Http1Parser, wantsKeepAlive, type Http1Event, type Http1Request } from "../../wire/http1.ts";
import { drawMs } from "../schema.ts";
import type { HttpProxyTemplates } from "./templates.ts";

/** Squid's request_header_max_size (64 KB): the request line and the head. */
const MAX_HEAD = 64 * 1024;
/** Body bytes kept for the log; bodies are read through (and dropped) up to 1 MiB. */
const KEEP_BODY = 4 * 1024;
export const HTTP_PROXY_MAX_BUFFERED = MAX_HEAD + KEEP_BODY;
/** The longest URL a command event or page shows. */
const URL_MAX = 2048;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Squid's html_quote. */
const HTML_ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

/** Squid's canonical form of an absolute URL (scheme and host lower case, no default port, no password); undefined when it has no host. */
export function canonicalUrl(target: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s.exec(target);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  let authority = m[2]!;
  const at = authority.lastIndexOf("@");
  if (at >= 0) authority = authority.slice(at + 1);
  const hp = /^(\[[0-9A-Fa-f:.]+\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (!hp || hp[1] === "") return undefined;
  const host = hp[1]!.toLowerCase();
  const port = hp[2];
  const defaultPort = scheme === "http" ? "80" : scheme === "https" ? "443" : scheme === "ftp" ? "21" : undefined;
  const portPart = port === undefined || port === "" || port === defaultPort ? "" : `:${port}`;
  return `${scheme}://${host}${portPart}${m[3] === "" ? "/" : m[3]}`;
}

/** The URL as an error page's %U shows it: strip_query_terms (on by default) cuts what follows "?". */
function shownUrl(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q + 1);
}

/** Squid's packed request for %R: the line with the path, the headers (Host last, no Content-Length), an empty line. */
function packedRequest(r: Http1Request, url: string): string {
  const path = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)$/s.exec(url)?.[1] ?? r.target;
  const host = r.headers.filter(([k]) => k.toLowerCase() === "host");
  const rest = r.headers.filter(([k]) => !["host", "content-length"].includes(k.toLowerCase()));
  return `${r.method} ${path} HTTP/1.1\r\n${[...rest, ...host].map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
}

/** What Squid shows for a CONNECT target: https://host/* on 443, host:port otherwise; undefined when malformed. */
export function connectUrl(target: string): string | undefined {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:/\s]+):(\d{1,5})$/.exec(target);
  if (!m || Number(m[2]) > 65535) return undefined;
  return m[2] === "443" ? `https://${m[1]!.toLowerCase()}/*` : `${m[1]!.toLowerCase()}:${m[2]}`;
}

export function startHttpProxy(ctx: SessionContext<HttpProxyTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const hostname = ctx.host.fqdn;
  /** A first line Squid answers at once: not a request line it can use (garbage, a TLS hello, one word). */
  const unusable = (line: string): boolean => {
    const words = line.split(" ").filter((w) => w !== "");
    return words.length < 2 || !TOKEN.test(words[0]!) || (words.length >= 3 && !/^HTTP\/\d+\.\d+$/.test(words[words.length - 1]!)) || words.length === 2;
  };
  const parser = new Http1Parser({ maxHead: MAX_HEAD, maxLine: MAX_HEAD, maxHeaders: 1000, keepBody: KEEP_BODY, maxBody: 1024 * 1024 }, unusable);
  let done = false;
  let answered = 0;

  function page(code: number, error: string, url: string, keepAlive: boolean, isHead: boolean, extra: Record<string, string> = {}): string {
    const date = hostTime(ctx.host, ctx.now()).toUTCString();
    const vars = { url: escapeHtml(url), error, date, hostname, server: t.server, admin: t.admin, css: t.css, request: "[no request]", method: "[unknown method]", protocol: "[unknown protocol]", ...extra };
    const body = toLatin1(utf8(fill(t.pages[error] ?? "", vars)));
    const head = fill(t.head, { server: t.server, version: t.version, date, length: body.length, error, hostname, port: ctx.localPort, connection: keepAlive ? "keep-alive" : "close" });
    const status = t.statusLines[String(code)] ?? `${code} Error`;
    return `${t.statusVersion} ${status}\r\n${head}\r\n${isHead ? "" : body}`;
  }

  function login(r: Http1Request, events: ProtocolEvent[]): void {
    const v = header(r, "proxy-authorization");
    if (v === undefined) return;
    const cred = decodeBasicCredentials(v);
    if (cred) events.push({ action: "login", method: "proxy-basic", user: cred.user, password: cred.password });
  }

  /** One request whose head is complete: Squid's checks in its order. */
  function answer(r: Http1Request, events: ProtocolEvent[]): { write: string; close: boolean } {
    const isHead = r.method === "HEAD";
    const http = httpFieldsOf(r, false);
    events.push({ action: "command", command: clip(r.line, URL_MAX), ...(http ? { http } : {}) });
    login(r, events);
    if (r.version >= 20) {
      events.push({ action: "error", message: "unsupported HTTP version" });
      return { write: page(505, "ERR_UNSUP_HTTPVERSION", canonicalUrl(r.target) ?? r.target, false, isHead), close: true };
    }
    if (r.badHeader !== undefined) {
      events.push({ action: "error", message: "malformed request header" });
      return { write: page(400, "ERR_INVALID_REQ", canonicalUrl(r.target) ?? r.target, false, isHead), close: true };
    }
    if (r.badFraming) {
      events.push({ action: "error", message: "invalid Content-Length" });
      const url = canonicalUrl(r.target) ?? r.target;
      const extra = { request: escapeHtml(clip(packedRequest(r, url), 8192)), method: escapeHtml(r.method), protocol: escapeHtml(/^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? "[unknown protocol]") };
      return { write: page(411, "ERR_INVALID_REQ", url, false, isHead, extra), close: true };
    }
    const keep = r.version !== 9 && wantsKeepAlive(r);
    if (r.method === "CONNECT") {
      const url = connectUrl(r.target);
      if (url !== undefined) return { write: page(403, "ERR_ACCESS_DENIED", url, keep, false), close: !keep };
      events.push({ action: "error", message: "invalid CONNECT target" });
      return { write: page(400, "ERR_INVALID_URL", r.target, false, false), close: true };
    }
    const url = canonicalUrl(r.target);
    if (url !== undefined) return { write: page(403, "ERR_ACCESS_DENIED", shownUrl(url), keep, isHead), close: !keep };
    return { write: page(400, "ERR_INVALID_URL", r.target, false, isHead), close: true };
  }

  function onEvents(evs: Http1Event[]): Reply {
    const writes: string[] = [];
    const events: ProtocolEvent[] = [];
    let close = false;
    for (const ev of evs) {
      if (close) break;
      if (ev.kind === "head") {
        const a = answer(ev.request, events);
        writes.push(a.write);
        answered++;
        close = a.close;
      } else if (ev.kind === "line") {
        const r = ev.request;
        const http = r.version === 9 ? httpFieldsOf(r, false) : undefined;
        events.push({ action: "command", command: clip(r.line, URL_MAX), ...(http ? { http } : {}) });
        if (r.version === 9 && TOKEN.test(r.method)) {
          // HTTP/0.9: answered at once, with a full HTTP/1.1 head, and closed.
          const url = canonicalUrl(r.target);
          writes.push(url !== undefined ? page(403, "ERR_ACCESS_DENIED", shownUrl(url), false, false) : page(400, "ERR_INVALID_URL", r.target, false, false));
        } else {
          events.push({ action: "error", message: "unknown protocol" });
          writes.push(page(400, "ERR_PROTOCOL_UNKNOWN", "error:invalid-request", false, false));
        }
        close = true;
      } else if (ev.kind === "error") {
        if (ev.error === "line-too-long") {
          events.push({ action: "error", message: "request line too long" });
          writes.push(page(414, "ERR_TOO_BIG", "error:request-too-large", false, false));
        } else if (ev.error === "head-too-large" || ev.error === "too-many-headers") {
          events.push({ action: "error", message: "request headers too large" });
          writes.push(page(431, "ERR_TOO_BIG", "error:request-too-large", false, false));
        } else {
          // A chunked body Squid cannot read, or one past what it takes: it stops reading and hangs up.
          events.push({ action: "error", message: ev.error === "bad-chunk" ? "malformed chunked body" : "request body too large" });
        }
        close = true;
      }
    }
    const reply: Reply = {};
    if (writes.length > 0) reply.write = writes.join("");
    if (events.length > 0) reply.events = events;
    if (close) {
      done = true;
      reply.close = true;
      reply.timers = { request: null, idle: null };
    } else if (answered === 0) {
      // Still the first request: request_start_timeout keeps running from the accept.
    } else {
      reply.timers = parser.inRequest() ? { request: null, idle: null } : { request: null, idle: drawMs(t.idleTimeoutMs, ctx.random) };
    }
    return reply;
  }

  return {
    buffered: () => parser.buffered(),
    open(): Reply {
      return { timers: { request: drawMs(t.requestStartTimeoutMs, ctx.random) } };
    },
    data(chunk: Uint8Array): Reply {
      if (done) return {};
      return onEvents(parser.push(chunk));
    },
    timer(name: string): Reply {
      if (done) return {};
      if (name === "request" || name === "idle") {
        done = true;
        return { close: true };
      }
      return {};
    },
  };
}
