// A dockerd listening on tcp://0.0.0.0:2375 without TLS: /_ping, /version, /info and the empty lists of a
// host without containers or images, every route behind its /v1.NN/ prefix with dockerd's version checks,
// and what attackers send next (create a container from their image, exec into one, pull) refused the way
// such a host refuses it: the image is not there, the container does not exist, the registry cannot be
// reached. Every request is a command event with its body. Replies are written as Go's net/http writes
// them: the handler's headers sorted, then Date, then Content-Length while the body fits in 2048 bytes
// (otherwise chunked on HTTP/1.1, and until the close on HTTP/1.0). Client-first: open() says nothing.
import { httpFieldsOf } from "../../wire/http-fields.ts";
import { hostTime } from "../../host/facts.ts";
import type { ProtocolEvent, ProtocolSession, SessionContext } from "../../types.ts";
import { fill } from "../../util/template.ts";
import { clip, toLatin1, utf8 } from "../../wire/bytes.ts";
import { header, Http1Parser, wantsKeepAlive, type Http1Event, type Http1Request, decodeUriSafe, http1Session } from "../../wire/http1.ts";
import type { DockerTemplates } from "./templates.ts";

/** Go's http.Server: DefaultMaxHeaderBytes is 1 MB; we keep less and answer as Go does past it. */
const MAX_HEAD = 32 * 1024;
const KEEP_BODY = 16 * 1024;
export const DOCKER_MAX_BUFFERED = MAX_HEAD + KEEP_BODY;
/** net/http's bufferBeforeChunkingSize: a body this long or longer gets no Content-Length. */
const CHUNKING_SIZE = 2048;
/** How much of a body a command event shows (a container config is about 1-3 KB). */
const COMMAND_BODY_MAX = 8192;

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

function goTime(d: Date, nanos: string): string {
  return d.toISOString().replace(/\.\d{3}Z$/, `.${nanos}Z`);
}

export function startDocker(ctx: SessionContext<DockerTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const parser = new Http1Parser({ maxHead: MAX_HEAD, maxLine: MAX_HEAD, maxHeaders: 500, keepBody: KEEP_BODY, maxBody: 1024 * 1024, skipBlankLines: false }, (line) => !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ \S+ HTTP\/\d\.\d$/.test(line));
  const server = `Docker/${t.version} (${t.ostype})`;
  // The daemon's ID: 12 groups of 4 base32 characters, made once per host (its key's fingerprint).
  let id = "";
  for (let i = 0; i < 48; i++) id += (i > 0 && i % 4 === 0 ? ":" : "") + BASE32[Math.floor(ctx.hostRandom(`docker-id-${i}`) * 32)];

  /** A reply as net/http writes it. `headers` are the handler's (sorted here); `sniff` is net/http's own Content-Type, written last. */
  function reply(r: Http1Request, status: string, headers: Record<string, string>, body: string, sniff?: string): { text: string; close: boolean } {
    const proto = r.version === 10 ? "HTTP/1.0" : "HTTP/1.1";
    const keep = wantsKeepAlive(r);
    const isHead = r.method === "HEAD";
    const lines = Object.keys(headers)
      .sort()
      .map((k) => `${k}: ${headers[k]}`);
    lines.push(`Date: ${hostTime(ctx.host, ctx.now()).toUTCString()}`);
    let framed = body;
    let close = !keep;
    if (headers["Content-Length"] === undefined) {
      if (body.length < CHUNKING_SIZE || isHead) lines.push(`Content-Length: ${isHead ? 0 : body.length}`);
      else if (proto === "HTTP/1.1") {
        lines.push("Transfer-Encoding: chunked");
        framed = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
      } else close = true;
    }
    if (sniff !== undefined) lines.push(`Content-Type: ${sniff}`);
    if (close && proto === "HTTP/1.1") lines.push("Connection: close");
    return { text: `${proto} ${status}\r\n${lines.join("\r\n")}\r\n\r\n${isHead ? "" : framed}`, close };
  }

  /** The headers dockerd's middlewares add to every routed answer. */
  function dockerHeaders(extra: Record<string, string>, experimental = true): Record<string, string> {
    const h: Record<string, string> = { "Api-Version": t.apiVersion, Ostype: t.ostype, Server: server, ...extra };
    if (experimental) h["Docker-Experimental"] = String(t.experimental);
    return h;
  }

  const json = (r: Http1Request, status: string, body: string, experimental = true) => reply(r, status, dockerHeaders({ "Content-Type": "application/json" }, experimental), body);
  const message = (r: Http1Request, status: string, msg: string) => json(r, status, `${JSON.stringify({ message: msg })}\n`);

  function imageName(body: Uint8Array): string | undefined {
    try {
      const v = JSON.parse(Buffer.from(body).toString("utf8")) as { Image?: unknown };
      return typeof v.Image === "string" ? v.Image : undefined;
    } catch {
      return undefined;
    }
  }

  /** A reference as dockerd names a missing image: a tag of "latest" when none is given. */
  function withTag(full: string): string {
    const ref = full.replace(/^(docker\.io|index\.docker\.io)\//, "").replace(/^library\/(?=[^/]+$)/, "");
    const last = ref.slice(ref.lastIndexOf("/") + 1);
    return ref.includes("@") || last.includes(":") ? ref : `${ref}:latest`;
  }

  function answer(r: Http1Request, events: ProtocolEvent[]): { text: string; close: boolean } {
    const bodyText = r.bodyLength > 0 ? Buffer.from(r.body.subarray(0, COMMAND_BODY_MAX)).toString("utf8") : "";
    const http = httpFieldsOf(r, true);
    events.push({ action: "command", command: bodyText === "" ? clip(r.line, 2048) : `${clip(r.line, 2048)} ${bodyText}`, ...(http ? { http } : {}) });
    if (r.version === 11 && header(r, "host") === undefined) {
      return { text: "HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header", close: true };
    }
    const rawPath = r.target.split("?", 1)[0] ?? "";
    let path = rawPath;
    const vm = /^\/v([0-9.]+)(\/.*)$/.exec(path);
    if (r.method === "OPTIONS") return reply(r, "200 OK", dockerHeaders({}), "");
    if (vm) {
      path = vm[2]!;
      const asked = vm[1]!.split(".").map(Number);
      const cmp = (v: string) => {
        const b = v.split(".").map(Number);
        return (asked[0]! - b[0]!) * 1000 + ((asked[1] ?? 0) - (b[1] ?? 0));
      };
      if (cmp(t.apiVersion) > 0) return reply(r, "400 Bad Request", dockerHeaders({ "Content-Type": "application/json" }, false), `${JSON.stringify({ message: `client version ${vm[1]} is too new. Maximum supported API version is ${t.apiVersion}` })}\n`);
      if (cmp(t.minApiVersion) < 0)
        return reply(r, "400 Bad Request", dockerHeaders({ "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff" }, false), `client version ${vm[1]} is too old. Minimum supported API version is ${t.minApiVersion}, please upgrade your client to a newer version\n`);
    }
    const m = r.method;
    const get = m === "GET" || m === "HEAD";
    if (get && path === "/_ping") {
      const h = dockerHeaders({ "Cache-Control": "no-cache, no-store, must-revalidate", Pragma: "no-cache" });
      if (m === "HEAD") return reply(r, "200 OK", { ...h, "Content-Type": "text/plain; charset=utf-8", "Content-Length": "0" }, "");
      return reply(r, "200 OK", h, "OK", "text/plain; charset=utf-8");
    }
    if (get && path === "/version") return json(r, "200 OK", t.versionBody);
    if (get && path === "/info") {
      const now = hostTime(ctx.host, ctx.now());
      const nanos = String(Math.floor(ctx.hostRandom(`docker-ns-${now.getTime()}`) * 1e6)).padStart(6, "0");
      const body = fill(t.infoBody, {
        id,
        hostname: ctx.hostname,
        system_time: goTime(now, `${String(now.getUTCMilliseconds()).padStart(3, "0")}${nanos}`),
        ncpu: t.ncpu,
        mem_total: t.memTotalMiB * 1024 * 1024 + Math.floor(ctx.hostRandom("docker-mem") * 1024) * 4096,
        nfd: 22 + Math.floor(ctx.hostRandom("docker-nfd") * 12),
        ngoroutines: 33 + Math.floor(ctx.hostRandom("docker-gor") * 12),
      });
      return json(r, "200 OK", toLatin1(utf8(body)));
    }
    if (get && (path === "/containers/json" || path === "/images/json" || path === "/volumes" || path === "/networks")) {
      return json(r, "200 OK", path === "/volumes" ? '{"Volumes":[],"Warnings":null}\n' : "[]\n");
    }
    if (m === "POST" && path === "/containers/create") {
      const ct = header(r, "content-type") ?? "";
      if (!/^application\/json\b/i.test(ct)) return message(r, "400 Bad Request", `Content-Type specified (${clip(ct, 256)}) must be 'application/json'`);
      const image = imageName(r.body);
      if (r.bodyLength === 0) return message(r, "400 Bad Request", "Config cannot be empty in order to create a container");
      if (image === undefined || image === "") return message(r, "400 Bad Request", "No command specified");
      return message(r, "404 Not Found", `No such image: ${clip(withTag(image), 512)}`);
    }
    if (m === "POST" && path === "/images/create") return message(r, "500 Internal Server Error", t.pullError);
    const c = /^\/containers\/([^/]+)\/(exec|start|json|attach|logs|top|stop|kill|wait|archive|export)$/.exec(path);
    if (c) return message(r, "404 Not Found", `No such container: ${clip(decodeUriSafe(c[1]!), 256)}`);
    const e = /^\/exec\/([^/]+)\/(start|json|resize)$/.exec(path);
    if (e) return message(r, "404 Not Found", `No such exec instance: ${clip(decodeUriSafe(e[1]!), 256)}`);
    return reply(r, "404 Not Found", { "Content-Type": "application/json" }, '{"message":"page not found"}\n');
  }

  function onEvents(evs: Http1Event[]): { writes: string[]; events: ProtocolEvent[]; close: boolean } {
    const writes: string[] = [];
    const events: ProtocolEvent[] = [];
    let close = false;
    for (const ev of evs) {
      if (close) break;
      if (ev.kind === "request") {
        const a = answer(ev.request, events);
        writes.push(a.text);
        close = a.close;
      } else if (ev.kind === "line" || ev.kind === "error") {
        if (ev.kind === "line") events.push({ action: "command", command: clip(ev.request.line, 2048) });
        const tooLarge = ev.kind === "error" && (ev.error === "head-too-large" || ev.error === "line-too-long" || ev.error === "too-many-headers");
        events.push({ action: "error", message: tooLarge ? "request header too large" : ev.kind === "error" && ev.error === "body-too-large" ? "request body too large" : "malformed HTTP request" });
        // net/http's answer to a request it cannot parse, then the close.
        writes.push(
          tooLarge
            ? "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n431 Request Header Fields Too Large"
            : "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request",
        );
        close = true;
      }
    }
    return { writes, events, close };
  }

  return http1Session(parser, onEvents);
}

