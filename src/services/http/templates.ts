// The http templates: header lines and pages of the claimed server. {{name}} placeholders everywhere:
//   {{server}} {{hostname}} {{local_ip}} {{local_host}} {{date}} {{date_ctime}} (the host's local time as
//   ctime writes it: embedded servers) {{servername}} {{port}} {{length}}
//   {{connection}} {{lastmod}} {{etag}} {{allow}} {{method}} {{path}} (the last two HTML-escaped);
//   error bodies also {{code}} {{reason}} {{version}}; connectionKeepAlive {{kamax}}.
import { optional, schema, t, withDefault } from "../schema.ts";

const STATUS = /^[1-5]\d\d$/;
/** errorBodies keys: a status code, optionally with the kind of error that caused it. */
const BODY_KEY = /^[1-5]\d\d( (verb|url|version|header|field|fields|host|length))?$/;
/** What a method does: serve the page (or 404), 405 on the page (or 404), options, trace, or a status code. */
const ACTION = /^(page|static405|options|trace|[1-5]\d\d)$/;

export const httpTemplates = schema({
  server: t.text("Server header value (\"Apache/2.2.22 (Debian)\")"),
  methods: t.table("what each method does: page | static405 | options | trace | a status code; \"*\" for the rest", /^([A-Z_]+|\*)$/, ACTION),
  indexPaths: withDefault(t.list("paths that serve the default page"), ["/"]),
  caseInsensitivePaths: withDefault(t.bool("paths compare case-insensitively (IIS)"), false),
  pageStatus: withDefault(t.text("status of the default page"), "200 OK"),
  pageHead: t.text("header lines of the default page"),
  pageBody: t.text("the default page"),
  pageMtime: optional(t.text("fixed Last-Modified of the page (ISO date)")),
  pageMtimeRange: optional(t.text("Last-Modified drawn per host between two dates", /^\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}$/, '"YYYY-MM-DD..YYYY-MM-DD"')),
  etag: withDefault(t.text("ETag format: {{inode_hex}} {{size_hex}} {{mtime_hex}} {{mtime_us_hex}} {{hash_dec}} {{iis_filetime}} {{iis_change}}"), ""),
  optionsHead: optional(t.text("header lines of the OPTIONS answer (absent: OPTIONS is not special)")),
  traceHead: optional(t.text("header lines of the TRACE answer (absent: TRACE is not special)")),
  errorHead: t.text("header lines of generated error pages"),
  errorHeads: withDefault(t.table("header lines by status code", STATUS), {}),
  statusLines: withDefault(t.table("status line text by status code (\"501 Method Not Implemented\")", STATUS), {}),
  errorBodies: withDefault(t.table("error page by \"code\" or \"code kind\" (kind: verb url version header host length; field: one header line over 8190 bytes, fields: more header lines than maxHeaderFields)", BODY_KEY), {}),
  errorBody: t.text("fallback error page ({{code}}, {{reason}})"),
  allowLine: withDefault(t.text("filled into {{allow}} of 405/501 responses"), ""),
  connectionClose: withDefault(t.text("the Connection line when the server closes"), "Connection: close\r\n"),
  connectionKeepAlive: optional(t.text("the Connection lines when it keeps the connection (absent: always close)")),
  connectionKeepAlive10: optional(t.text("the same for an HTTP/1.0 client that asked for keep-alive")),
  versionStyle: t.oneOf("fixed: always HTTP/1.1; echo: answer in the request's version (lighttpd); http10: always HTTP/1.0 (GoAhead 2.x)", ["fixed", "echo", "http10"] as const),
  blankLines: t.oneOf("empty lines before a request line: skip (Apache, nginx) or reject (400 at once)", ["skip", "reject"] as const),
  methodChars: t.oneOf("method syntax: upper (nginx: A-Z and _) or token (any RFC 7230 token)", ["upper", "token"] as const),
  eager: t.bool("reject a bad method or URI byte as soon as it arrives"),
  lenientProtocol: t.bool("an unknown protocol token is taken as HTTP/1.0 (Apache before 2.4.25)"),
  http09: t.oneOf("a request line without a version: serve (any such line is HTTP/0.9, errors as bare bodies: Apache before 2.4.25), servePath (HTTP/0.9 only with a path; a bad target is a 400 with headers: nginx 1.5.5+, which assumes HTTP/1.0 when a line fails to parse), serveGet (only GET with a path; any other such line is a 400 with headers: Apache 2.4.25+), or reject", ["serve", "servePath", "serveGet", "reject"] as const),
  strictRequestLine: withDefault(t.bool("HttpProtocolOptions Strict (Apache 2.4.25+): one space between the three parts, the version exactly HTTP/1.0 or HTTP/1.1, no control bytes; anything else is a 400"), false),
  longLineStatus: t.int("status for an over-long request line (414 or 400)", 400, 599),
  ntlmHead: optional(t.text("header lines of the 401 that answers an NTLM or Negotiate Authorization ({{www_authenticate}}: the WWW-Authenticate lines); absent: the face ignores them")),
  ntlmBody: withDefault(t.text("body of that 401"), ""),
  ntlmVersion: withDefault(t.text("Windows version the NTLM challenge states (\"6.1.7601\")", /^\d+\.\d+\.\d+$/, '"major.minor.build"'), "6.1.7601"),

  // Depth: what the product's static file handler does besides a plain 200 (measured on the real daemons).
  partialHead: optional(t.text("head of a 206 for one byte range ({{content_range}}: \"bytes 0-9/10701\", {{length}}); absent: Range is ignored and the page is a 200")),
  multipartHead: optional(t.text("head of a 206 for several ranges ({{boundary}}, {{length}})")),
  multipartStyle: withDefault(t.oneOf("how the parts of a multipart/byteranges body are named and bounded: apache (Content-type, 16 random hex digits) or nginx (Content-Type, a 20-digit counter)", ["apache", "nginx"] as const), "apache"),
  rangeErrorHead: optional(t.text("head of the 416 for ranges all past the end ({{size}}: the page's length); absent: the 416 error head")),
  notModifiedHead: optional(t.text("head of the 304 for If-None-Match or If-Modified-Since with the page's own values; absent: conditions are ignored")),
  gzipHead: optional(t.text("head of the page gzipped for a client that accepts gzip ({{etag_gzip}}: the ETag with -gzip inside its quotes, {{length}}); absent: never compressed")),
  gzipLevel: withDefault(t.int("zlib level of that compression (mod_deflate: 6; nginx gzip_comp_level: 1)", 1, 9), 6),
  gzipFraming: withDefault(t.oneOf("length (mod_deflate: Content-Length, window 15) or chunked (nginx: HTTP/1.1 clients only, one chunk, window shrunk to the length)", ["length", "chunked"] as const), "length"),
  keepAliveWhenAsked: withDefault(t.bool("the Keep-Alive and Connection lines go only to a client that sent a keep-alive token (Apache's ap_set_keepalive); otherwise to every kept connection"), false),
  expectContinue: withDefault(t.oneOf("Expect: 100-continue with a body: send (100 Continue, then the body is read: Apache), errorFirst (an error answer goes out at once, before any body: nginx's static handler), ignore", ["send", "errorFirst", "ignore"] as const), "ignore"),
  invalidHeaderLines: withDefault(t.oneOf("a header line without a colon or with a bad name: reject (400) or ignore (nginx's ignore_invalid_headers)", ["reject", "ignore"] as const), "reject"),
  maxHeaderFields: withDefault(t.int("header lines accepted before a 400 (Apache's LimitRequestFields: 100)", 1, 10_000), 100),
  asteriskOptions: withDefault(t.oneOf("OPTIONS *: answer (optionsStarHead, else optionsHead) or reject (a 400: nginx)", ["answer", "reject"] as const), "answer"),
  optionsStarHead: optional(t.text("head of the answer to OPTIONS * (Apache: no Allow, no Content-Type)")),
  files: withDefault(t.table("paths the product ships beside its page: \"403\" (a directory without an index, mod_status for others), or \"png WxH SIZE\" (an image: its type, size and dimensions); keys are exact paths", /^\/[^\s]*$/, /^(403|png \d{1,4}x\d{1,4} \d{2,7})$/), {}),
  fileHead: withDefault(t.text("head of a shipped file ({{content_type}}, {{length}}, {{lastmod}}, {{etag}})"), ""),
  deniedNames: optional(t.text("a final path segment matching this regular expression is a 403 (Apache's <Files \"^\\.ht\">)")),
  disabledMethods: withDefault(t.list("methods turned off by configuration (TraceEnable Off): a 405 whose Allow line is empty"), []),
  mergeSlashes: withDefault(t.bool("repeated slashes in a path count as one (Apache, nginx)"), true),

  // Applications with their own URL space (Transmission's web UI) and their own HTTP library.
  routes: optional(t.table("what a path answers, for methods whose action is page: \"page\" (the default page) or a name in responses; keys are a raw path, a prefix ending in *, or * alone for every other path; absent: indexPaths and 404", /^(\/[^\s]*|\*)$/)),
  responses: withDefault(t.table("whole responses by name: \"301 Moved Permanently\\r\\nhead lines\\r\\n\\r\\nbody\"; also {{session_id}} (stable per host), {{date_plus_day}}, {{target}} (the raw request target) and {{rest}} (the path after a prefix route), HTML-escaped"), {}),
  framing: withDefault(t.oneOf("who adds the framing headers: template (the head lines say it all) or evhttp (libevent appends Date, Connection, Content-Length and its default Content-Type after the handler's lines; its own error pages always say HTTP/1.1; HEAD still gets the body)", ["template", "evhttp"] as const), "template"),
  requireHost: withDefault(t.bool("an HTTP/1.1 request without Host is a 400"), true),

  // Time: how long the daemon waits for a peer, and what it says when it stops waiting.
  startDelayMs: withDefault(t.ms("a new connection that sends nothing reaches the daemon only after this (Linux TCP_DEFER_ACCEPT: Apache); its first byte ends the wait early"), { min: 0, max: 0 }),
  connectionTimeoutMs: optional(t.ms("a new connection that sends nothing is closed after this, and the request timer starts at its first byte (IIS ConnectionTimeout); absent: the request timer runs from the accept")),
  requestTimeoutMs: optional(t.ms("time for a request head: from its start (deadline) or from the last byte (idle); absent: the daemon never gives up (Transmission's evhttp), only the trap's idle limit ends the session")),
  requestTimeoutStyle: t.oneOf("deadline: counted from the accept or the request's first byte (nginx, mod_reqtimeout, HTTP.sys); idle: restarted by every byte (Apache's core Timeout, lighttpd)", ["deadline", "idle"] as const),
  requestTimeoutMaxMs: optional(t.ms("a deadline extended by requestMinRate never goes past this (mod_reqtimeout header=20-40)")),
  requestMinRate: optional(t.int("bytes per second that push a deadline one second further (mod_reqtimeout MinRate)", 1, 1_000_000)),
  readGraceMs: withDefault(t.ms("a read just before a deadline still leaves this long for the next one (mod_reqtimeout: 1 s)"), { min: 0, max: 0 }),
  requestTimeoutReply: t.oneOf("when the request head times out: close (silently), or 408AfterLine: a 408 page once the request line was complete (Apache), a silent close before", ["close", "408AfterLine"] as const),
  keepAliveTimeoutMs: optional(t.ms("a kept connection waiting for its next request is closed (silently) after this; absent: never")),
  nextRequestTimeoutMs: optional(t.ms("time for the head of a later request on a kept connection (lighttpd's keep-alive idle); absent: requestTimeoutMs")),
  keepAliveCoversNextRequest: withDefault(t.bool("the keep-alive timer keeps running once the next request has begun, instead of a fresh request timer (nginx before 1.3)"), false),
  bodyTimeoutMs: optional(t.ms("time for a request body, in the request timer's style (mod_reqtimeout body=10); absent: requestTimeoutMs")),
  bodyMinRate: optional(t.int("bytes per second that push the body deadline one second further (no cap)", 1, 1_000_000)),
  bodyTimeoutStatus: optional(t.int("the error page sent when the body times out (Apache 2.2 and 2.4 before 2.4.13: 400; later: 408); absent: a silent close", 400, 599)),
});

export type HttpTemplates = ReturnType<typeof httpTemplates.parse>;
