// The http templates: header lines and pages of the claimed server. {{name}} placeholders everywhere:
//   {{server}} {{hostname}} {{local_ip}} {{local_host}} {{date}} {{servername}} {{port}} {{length}}
//   {{connection}} {{lastmod}} {{etag}} {{allow}} {{method}} {{path}} (the last two HTML-escaped);
//   error bodies also {{code}} {{reason}} {{version}}; connectionKeepAlive {{kamax}}.
import { optional, schema, t, withDefault } from "../schema.ts";

const STATUS = /^[1-5]\d\d$/;
/** errorBodies keys: a status code, optionally with the kind of error that caused it. */
const BODY_KEY = /^[1-5]\d\d( (verb|url|version|header|host|length))?$/;
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
  errorBodies: withDefault(t.table("error page by \"code\" or \"code kind\" (kind: verb url version header host length)", BODY_KEY), {}),
  errorBody: t.text("fallback error page ({{code}}, {{reason}})"),
  allowLine: withDefault(t.text("filled into {{allow}} of 405/501 responses"), ""),
  connectionClose: withDefault(t.text("the Connection line when the server closes"), "Connection: close\r\n"),
  connectionKeepAlive: optional(t.text("the Connection lines when it keeps the connection (absent: always close)")),
  connectionKeepAlive10: optional(t.text("the same for an HTTP/1.0 client that asked for keep-alive")),
  versionStyle: t.oneOf("fixed: always HTTP/1.1; echo: answer in the request's version (lighttpd)", ["fixed", "echo"] as const),
  blankLines: t.oneOf("empty lines before a request line: skip (Apache, nginx) or reject (400 at once)", ["skip", "reject"] as const),
  methodChars: t.oneOf("method syntax: upper (nginx: A-Z and _) or token (any RFC 7230 token)", ["upper", "token"] as const),
  eager: t.bool("reject a bad method or URI byte as soon as it arrives"),
  lenientProtocol: t.bool("an unknown protocol token is taken as HTTP/1.0 (Apache before 2.4.25)"),
  http09: t.oneOf("a request line without a version: serve a bare body, or reject", ["serve", "reject"] as const),
  longLineStatus: t.int("status for an over-long request line (414 or 400)", 400, 599),
  ntlmHead: optional(t.text("header lines of the 401 that answers an NTLM or Negotiate Authorization ({{www_authenticate}}: the WWW-Authenticate lines); absent: the face ignores them")),
  ntlmBody: withDefault(t.text("body of that 401"), ""),
  ntlmVersion: withDefault(t.text("Windows version the NTLM challenge states (\"6.1.7601\")", /^\d+\.\d+\.\d+$/, '"major.minor.build"'), "6.1.7601"),
});

export type HttpTemplates = ReturnType<typeof httpTemplates.parse>;
