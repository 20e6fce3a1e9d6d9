// The proxy templates: a Squid that refuses every client (http_access deny all), as a fresh install
// answers anyone outside localnet. Pages are Squid's own error templates with its %-codes written as
// {{url}} {{error}} {{date}} {{hostname}} {{server}} {{admin}} {{css}}, and for ERR_INVALID_REQ
// {{request}} {{method}} {{protocol}}; the head lines fill {{server}} {{version}} {{date}} {{length}}
// {{error}} {{hostname}} {{port}} {{connection}}.
import { schema, t } from "../schema.ts";

const STATUS = /^[1-5]\d\d$/;

export const httpProxyTemplates = schema({
  server: t.text('the Server header and %s of the pages ("squid/5.7")'),
  version: t.text('the version in Via ("5.7")'),
  statusVersion: t.oneOf("the protocol of the status line (3.2+: HTTP/1.1)", ["HTTP/1.1", "HTTP/1.0"] as const),
  statusLines: t.table("status line text by code (\"403 Forbidden\")", STATUS),
  head: t.text("the header lines of every error answer, in Squid's order"),
  css: t.text("errorpage.css, filled into {{css}} (%l)"),
  admin: t.text("cache_mgr, the page's 'cache administrator' (webmaster)"),
  pages: t.table("error pages by Squid error name (ERR_ACCESS_DENIED, ERR_INVALID_URL, ERR_PROTOCOL_UNKNOWN, ERR_INVALID_REQ, ERR_UNSUP_HTTPVERSION, ERR_TOO_BIG)", /^ERR_[A-Z_]+$/),
  requestStartTimeoutMs: t.ms("request_start_timeout: a new connection without a complete first request is closed silently after this"),
  idleTimeoutMs: t.ms("client_idle_pconn_timeout: a kept connection waiting for its next request is closed silently after this"),
});

export type HttpProxyTemplates = ReturnType<typeof httpProxyTemplates.parse>;
