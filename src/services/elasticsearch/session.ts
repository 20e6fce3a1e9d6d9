// One Elasticsearch node's REST API (9200): the root document nmap reads the version from, _cat, _nodes,
// _cluster/health and searches of an almost empty node; requests that would change data are refused the
// way a node under a read-only block refuses them. Every request is a command event with its body (the
// query, the ransom note); with X-Pack security on, every request is a 401 and Basic credentials are
// logged as a login. Client-first: open() says nothing.
import type { ProtocolEvent, ProtocolSession, SessionContext } from "../../types.ts";
import { httpFieldsOf } from "../../wire/http-fields.ts";
import { fill } from "../../util/template.ts";
import { clip, toLatin1, utf8 } from "../../wire/bytes.ts";
import { decodeBasicCredentials } from "../../wire/http-auth.ts";
import { header, Http1Parser, wantsKeepAlive, type Http1Event, type Http1Request, decodeUriSafe, http1Session } from "../../wire/http1.ts";
import type { ElasticsearchTemplates } from "./templates.ts";

/** Netty's limits in Elasticsearch: http.max_initial_line_length 4kb, http.max_header_size 8kb. */
const MAX_LINE = 4096;
const MAX_HEAD = 4096 + 8192;
/** Body bytes kept for the command event; bodies are read through up to http.max_content_length (here 1 MiB). */
const KEEP_BODY = 8192;
export const ELASTICSEARCH_MAX_BUFFERED = MAX_HEAD + KEEP_BODY;
/** The most of a body a command event shows. */
const COMMAND_BODY_MAX = 4096;

const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A 22-character URL-safe base64 id (Elasticsearch's UUIDs), the same on every connection of the host. */
function hostId(ctx: SessionContext, label: string): string {
  let s = "";
  for (let i = 0; i < 22; i++) s += URL_SAFE[Math.floor(ctx.hostRandom(`${label}-${i}`) * 64)];
  return s;
}

/** Text from the peer inside a JSON string. */
function jsonText(s: string, max = 255): string {
  return JSON.stringify(clip(s, max)).slice(1, -1);
}

export function startElasticsearch(ctx: SessionContext<ElasticsearchTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const parser = new Http1Parser({ maxHead: MAX_HEAD, maxLine: MAX_LINE, maxHeaders: 200, keepBody: KEEP_BODY, maxBody: 1024 * 1024 }, (line) => !/^\S+ \S+ HTTP\/\d\.\d$/.test(line));
  const base = { name: t.nodeName, cluster_name: t.clusterName, cluster_uuid: hostId(ctx, "es-cluster-uuid"), node_id: hostId(ctx, "es-node-id"), ip: ctx.localAddress, hostname: ctx.hostname };
  const ct = t.headerCase === "title" ? "Content-Type" : "content-type";
  const cl = t.headerCase === "title" ? "Content-Length" : "content-length";

  function respond(r: Http1Request, name: string, vars: Record<string, string>): string {
    const spec = t.responses[name] ?? t.responses["notFound"] ?? "404 Not Found|text/plain; charset=UTF-8|";
    const a = spec.indexOf("|");
    const b = spec.indexOf("|", a + 1);
    const status = spec.slice(0, a);
    const body = toLatin1(utf8(fill(spec.slice(b + 1), { ...base, ...vars })));
    const proto = r.version === 10 ? "HTTP/1.0" : "HTTP/1.1";
    const auth = status.startsWith("401") && t.security ? `WWW-Authenticate: Basic realm="${t.security["realm"] ?? "security"}" charset="UTF-8"\r\n` : "";
    const head = `${proto} ${status}\r\n${auth}${ct}: ${spec.slice(a + 1, b)}\r\n${cl}: ${body.length}\r\n\r\n`;
    return r.method === "HEAD" ? head : head + body;
  }

  /** The response name for a path: the routes table, then missing index or missing handler. */
  function route(r: Http1Request, path: string): { name: string; vars: Record<string, string> } {
    const segs = path.split("/").filter((s) => s !== "");
    const isSearch = segs[segs.length - 1] === "_search" || segs[segs.length - 1] === "_count";
    const writes = r.method === "PUT" || r.method === "DELETE" || (r.method === "POST" && !isSearch);
    const vars = { uri: jsonText(r.target, 1024), method: jsonText(r.method, 32), index: jsonText(decodeUriSafe(segs[0] ?? ""), 255) };
    if (writes) return { name: t.writeResponse, vars };
    const norm = "/" + segs.join("/");
    const exact = t.routes[norm];
    if (exact !== undefined) return { name: exact, vars };
    for (const [k, v] of Object.entries(t.routes)) {
      if (k.endsWith("*") && k !== "*" && norm.startsWith(k.slice(0, -1))) return { name: v, vars };
      if (k.startsWith("/*/") && segs.length === k.split("/").length - 1 && norm.endsWith(k.slice(2)) && !segs[0]!.startsWith("_")) return { name: v, vars };
    }
    if (segs.length > 0 && segs[0]!.startsWith("_")) return { name: t.routes["_handler"] ?? "noHandler", vars };
    if (segs.length > 0) return { name: t.routes["_index"] ?? "notFound", vars };
    return { name: t.routes["*"] ?? "notFound", vars };
  }

  function answer(r: Http1Request, events: ProtocolEvent[]): { write: string; close: boolean } {
    const bodyText = r.bodyLength > 0 ? Buffer.from(r.body.subarray(0, COMMAND_BODY_MAX)).toString("utf8") : "";
    const http = httpFieldsOf(r, true);
    events.push({ action: "command", command: bodyText === "" ? clip(r.line, 2048) : `${clip(r.line, 2048)} ${bodyText}`, ...(http ? { http } : {}) });
    const keep = wantsKeepAlive(r);
    const path = r.target.split("?")[0] ?? "";
    if (t.security) {
      const cred = decodeBasicCredentials(header(r, "authorization") ?? "");
      if (cred) {
        events.push({ action: "login", method: "basic", user: cred.user, password: cred.password });
        return { write: respond(r, t.security["failed"] ?? "", { user: jsonText(cred.user), uri: jsonText(r.target, 1024) }), close: !keep };
      }
      return { write: respond(r, t.security["missing"] ?? "", { uri: jsonText(r.target, 1024) }), close: !keep };
    }
    const contentType = header(r, "content-type");
    if (r.bodyLength > 0 && t.responses["contentType"] !== undefined && !/^application\/(json|x-ndjson|smile|cbor|yaml)\b/i.test(contentType ?? "")) {
      return { write: respond(r, "contentType", { content_type: jsonText(contentType ?? "", 255) }), close: !keep };
    }
    const { name, vars } = route(r, path);
    return { write: respond(r, name, vars), close: !keep };
  }

  function onEvents(evs: Http1Event[]): { writes: string[]; events: ProtocolEvent[]; close: boolean } {
    const writes: string[] = [];
    const events: ProtocolEvent[] = [];
    let close = false;
    for (const ev of evs) {
      if (close) break;
      if (ev.kind === "request") {
        const a = answer(ev.request, events);
        writes.push(a.write);
        close = a.close;
      } else if (ev.kind === "line") {
        // Not an HTTP/1.x request line: Netty's decoder fails and the channel is closed without a word.
        events.push({ action: "command", command: clip(ev.request.line, 2048) }, { action: "error", message: "malformed HTTP request" });
        close = true;
      } else if (ev.kind === "error") {
        events.push({ action: "error", message: ev.error === "body-too-large" ? "request body too large" : ev.error === "bad-chunk" ? "malformed chunked body" : "request head too large" });
        close = true;
      }
    }
    return { writes, events, close };
  }

  return http1Session(parser, onEvents);
}

