// A small incremental HTTP/1.x request parser for the HTTP-shaped services that are not web servers of
// their own (a proxy, a JSON API): bounded head, Content-Length and chunked bodies read through with a
// bounded part kept, pipelined requests. It only splits bytes into requests; what a malformed request
// means is the service's business (each daemon words its own 400).
//
// Bounds: the head (request line and headers) is held until complete, at most `maxHead` bytes; a body
// is never held whole: the first `keepBody` bytes are kept for the log, the rest is counted and dropped,
// up to `maxBody` in all. So `buffered()` never passes maxHead + keepBody + a chunk-size line.
import type { ProtocolEvent, ProtocolSession, Reply } from "../types.ts";
import { ByteQueue } from "./queue.ts";

export interface Http1Limits {
  /** Longest request head (line and headers, with their line ends) held before it is refused. */
  maxHead: number;
  /** Longest request line. */
  maxLine: number;
  /** Most header lines. */
  maxHeaders: number;
  /** Body bytes kept with the request (the rest is read and dropped). */
  keepBody: number;
  /** Largest body read through; past it the parser stops with "body-too-large". */
  maxBody: number;
  /** Empty lines before a request line are skipped (RFC 9112 2.2; the default); false: an empty line is the request line (Go's net/http). */
  skipBlankLines?: boolean;
}

export const DEFAULT_HTTP1_LIMITS: Http1Limits = { maxHead: 16 * 1024, maxLine: 8 * 1024, maxHeaders: 100, keepBody: 8 * 1024, maxBody: 1024 * 1024 };

/** Longest chunk-size line (hex digits and extensions) before the body counts as malformed. */
const MAX_CHUNK_LINE = 1024;
/** Most trailer lines after the last chunk. */
const MAX_TRAILERS = 100;

export interface Http1Request {
  /** The request line as sent, without its line end (latin1). */
  line: string;
  method: string;
  /** The request target ("" when the line has a single word). */
  target: string;
  /** The protocol word ("HTTP/1.1", "RTSP/1.0"); "" for a line of one or two words (HTTP/0.9 style). */
  protocol: string;
  /** major * 10 + minor for HTTP/x.y; 9 for a two-word line; -1 for one word, or a protocol not HTTP/d.d. */
  version: number;
  /** More than three words, or words separated by other than single spaces. */
  oddSpacing: boolean;
  /** Header fields in order; names as sent. */
  headers: [string, string][];
  /** A header line without a colon, or with white space before it (the first such line). */
  badHeader?: string;
  /** The body bytes kept (at most keepBody). */
  body: Uint8Array;
  /** The body's full length as read. */
  bodyLength: number;
  /** The Content-Length or Transfer-Encoding could not be understood: no body was read. */
  badFraming: boolean;
}

export type Http1Error = "head-too-large" | "line-too-long" | "too-many-headers" | "bad-chunk" | "body-too-large";

/**
 * What the bytes made: "head" when a request's head is complete (its body not yet read: a daemon that
 * answers before the body, as a refusing proxy does, answers here), "request" when its body is read too
 * (the same object, with body and bodyLength), "line" when `stopAtLine` took a bare request line (the
 * parser then reads nothing more), "error" when a bound was passed (likewise the last event).
 */
export type Http1Event =
  | { kind: "head"; request: Http1Request }
  | { kind: "request"; request: Http1Request }
  | { kind: "line"; request: Http1Request }
  | { kind: "error"; error: Http1Error };

/** The first value of a header, by case-insensitive name. */
export function header(r: Http1Request, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of r.headers) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** Whether the connection stays open after this request, by HTTP/1.x's rules (and Proxy-Connection). */
export function wantsKeepAlive(r: Http1Request): boolean {
  const conn = `${header(r, "connection") ?? ""},${header(r, "proxy-connection") ?? ""}`.toLowerCase();
  if (/(^|[\s,])close([\s,]|$)/.test(conn)) return false;
  if (r.version === 11) return true;
  return r.version === 10 && /(^|[\s,])keep-alive([\s,]|$)/.test(conn);
}

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-end" | "trailers" | "failed";

export class Http1Parser {
  private readonly q = new ByteQueue();
  private state: State = "head";
  /** Where the search for the end of the head resumes (bytes already searched). */
  private scanned = 0;
  private current: Http1Request | undefined;
  private remaining = 0;
  private kept: Uint8Array[] = [];
  private keptLength = 0;
  private trailers = 0;
  private lineChecked = false;
  /** The "head" event of the request just parsed, sent before anything its step returns. */
  private headEvent: Http1Event | undefined;

  /**
   * `stopAtLine(line)`: called with each request line as soon as it is complete; true ends parsing there
   * with a "line" event (a daemon that answers a garbage or HTTP/0.9 line without waiting for headers).
   */
  constructor(
    private readonly limits: Http1Limits = DEFAULT_HTTP1_LIMITS,
    private stopAtLine?: (line: string) => boolean,
  ) {}

  /** Bytes of the peer's input held now. */
  buffered(): number {
    return this.q.length + this.keptLength;
  }

  /** True while part of a request has arrived and it is not complete. */
  inRequest(): boolean {
    return this.state !== "head" || this.q.length > 0;
  }

  /** Feeds bytes; returns the requests (and at most one error, after which the parser reads nothing more). */
  push(chunk: Uint8Array): Http1Event[] {
    if (this.state === "failed") return [];
    this.q.push(chunk);
    const out: Http1Event[] = [];
    for (let guard = 0; guard < 100_000; guard++) {
      const before = this.q.length;
      const stateBefore: State = this.state;
      const ev = this.step();
      if (ev) {
        if (this.headEvent) {
          out.push(this.headEvent);
          this.headEvent = undefined;
        }
        out.push(ev);
      } else if (this.headEvent) {
        out.push(this.headEvent);
        this.headEvent = undefined;
      }
      if ((this.state as State) === "failed") {
        this.q.clear();
        break;
      }
      if (!ev && this.q.length === before && (this.state as State) === stateBefore) break;
    }
    return out;
  }

  private fail(error: Http1Error): Http1Event {
    this.state = "failed";
    this.kept = [];
    this.keptLength = 0;
    return { kind: "error", error };
  }

  private step(): Http1Event | undefined {
    switch (this.state) {
      case "head":
        return this.readHead();
      case "length": {
        const n = Math.min(this.remaining, this.q.length);
        if (n === 0) return this.remaining === 0 ? this.finish() : undefined;
        this.keep(this.q.take(n));
        this.remaining -= n;
        return this.remaining === 0 ? this.finish() : undefined;
      }
      case "chunk-size": {
        const lf = this.q.indexOf(10, 0, MAX_CHUNK_LINE + 1);
        if (lf < 0) return this.q.length > MAX_CHUNK_LINE ? this.fail("bad-chunk") : undefined;
        const line = this.q.latin1(0, lf).replace(/\r$/, "");
        this.q.skip(lf + 1);
        const m = /^([0-9A-Fa-f]{1,8})[ \t]*(;.*)?$/.exec(line);
        if (!m) return this.fail("bad-chunk");
        const size = Number.parseInt(m[1]!, 16);
        if (this.current!.bodyLength + size > this.limits.maxBody) return this.fail("body-too-large");
        if (size === 0) {
          this.state = "trailers";
          this.trailers = 0;
        } else {
          this.remaining = size;
          this.state = "chunk-data";
        }
        return undefined;
      }
      case "chunk-data": {
        const n = Math.min(this.remaining, this.q.length);
        if (n === 0) return undefined;
        this.keep(this.q.take(n));
        this.remaining -= n;
        if (this.remaining === 0) this.state = "chunk-end";
        return undefined;
      }
      case "chunk-end": {
        const a = this.q.at(0);
        if (a === undefined) return undefined;
        if (a === 10) {
          this.q.skip(1);
          this.state = "chunk-size";
          return undefined;
        }
        if (a !== 13) return this.fail("bad-chunk");
        const b = this.q.at(1);
        if (b === undefined) return undefined;
        if (b !== 10) return this.fail("bad-chunk");
        this.q.skip(2);
        this.state = "chunk-size";
        return undefined;
      }
      case "trailers": {
        const lf = this.q.indexOf(10, 0, this.limits.maxLine + 1);
        if (lf < 0) return this.q.length > this.limits.maxLine ? this.fail("bad-chunk") : undefined;
        const empty = lf === 0 || (lf === 1 && this.q.at(0) === 13);
        this.q.skip(lf + 1);
        if (empty) return this.finish();
        if (++this.trailers > MAX_TRAILERS) return this.fail("too-many-headers");
        return undefined;
      }
      case "failed":
        return undefined;
    }
  }

  private keep(bytes: Uint8Array): void {
    const r = this.current!;
    r.bodyLength += bytes.length;
    const room = this.limits.keepBody - this.keptLength;
    if (room > 0) {
      const part = bytes.subarray(0, room);
      this.kept.push(part);
      this.keptLength += part.length;
    }
  }

  private finish(): Http1Event {
    const r = this.current!;
    if (this.kept.length > 0) {
      const body = new Uint8Array(this.keptLength);
      let at = 0;
      for (const k of this.kept) {
        body.set(k, at);
        at += k.length;
      }
      r.body = body;
    }
    this.kept = [];
    this.keptLength = 0;
    this.current = undefined;
    this.state = "head";
    return { kind: "request", request: r };
  }

  private readHead(): Http1Event | undefined {
    const q = this.q;
    // Empty lines before a request line are skipped (RFC 9112 2.2), and never held.
    while (this.limits.skipBlankLines !== false && this.scanned === 0 && q.length > 0) {
      const c = q.at(0);
      if (c === 10) q.skip(1);
      else if (c === 13 && q.at(1) === 10) q.skip(2);
      else if (c === 13 && q.length === 1) return undefined;
      else break;
    }
    if (q.length === 0) return undefined;
    if (this.stopAtLine && !this.lineChecked) {
      const lf = q.indexOf(10, 0, this.limits.maxLine + 2);
      if (lf >= 0) {
        this.lineChecked = true;
        const first = q.latin1(0, lf).replace(/\r$/, "");
        if (first.length <= this.limits.maxLine && this.stopAtLine(first)) {
          q.skip(lf + 1);
          this.state = "failed";
          return { kind: "line", request: parseRequest(first, []) };
        }
      }
    }
    // The end of the head: an empty line (LF LF or LF CR LF).
    let end = -1;
    let from = Math.max(0, this.scanned - 2);
    for (;;) {
      const lf = q.indexOf(10, from);
      if (lf < 0) break;
      const n1 = q.at(lf + 1);
      if (n1 === 10) {
        end = lf + 2;
        break;
      }
      if (n1 === 13 && q.at(lf + 2) === 10) {
        end = lf + 3;
        break;
      }
      if (n1 === undefined || (n1 === 13 && q.at(lf + 2) === undefined)) break;
      from = lf + 1;
    }
    if (end < 0) {
      this.scanned = q.length;
      const firstLf = q.indexOf(10, 0, this.limits.maxLine + 2);
      if ((firstLf < 0 && q.length > this.limits.maxLine) || firstLf > this.limits.maxLine) return this.fail("line-too-long");
      if (q.length > this.limits.maxHead) return this.fail("head-too-large");
      return undefined;
    }
    if (end > this.limits.maxHead) return this.fail(q.indexOf(10, 0, this.limits.maxLine + 2) < 0 ? "line-too-long" : "head-too-large");
    const text = q.latin1(0, end);
    q.skip(end);
    this.scanned = 0;
    this.lineChecked = false;
    const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    const line = lines[0] ?? "";
    if (line.length > this.limits.maxLine) return this.fail("line-too-long");
    if (lines.length - 1 > this.limits.maxHeaders) return this.fail("too-many-headers");
    const r = parseRequest(line, lines.slice(1));
    this.headEvent = { kind: "head", request: r };
    // The body: chunked wins over Content-Length (RFC 9112 6.3); anything else unreadable reads none.
    const te = header(r, "transfer-encoding");
    const cl = header(r, "content-length");
    this.current = r;
    if (te !== undefined) {
      if (/(^|,)\s*chunked\s*$/i.test(te)) {
        this.state = "chunk-size";
        return undefined;
      }
      r.badFraming = true;
      return this.finish();
    }
    if (cl !== undefined) {
      if (!/^\d{1,15}$/.test(cl)) {
        r.badFraming = true;
        return this.finish();
      }
      const n = Number(cl);
      if (n > this.limits.maxBody) return this.fail("body-too-large");
      this.remaining = n;
      this.state = "length";
      return n === 0 ? this.finish() : undefined;
    }
    return this.finish();
  }
}

/** A request line and its header lines (line ends removed) as a request without a body. */
export function parseRequest(line: string, headerLines: string[]): Http1Request {
  const words = line.split(" ");
  const nonEmpty = words.filter((w) => w !== "");
  const oddSpacing = nonEmpty.length !== words.length || nonEmpty.length > 3 || /[\t\v\f]/.test(line);
  const method = nonEmpty[0] ?? "";
  const target = nonEmpty[1] ?? "";
  const protocol = nonEmpty.length >= 3 ? nonEmpty[nonEmpty.length - 1]! : "";
  const vm = /^HTTP\/(\d)\.(\d)$/.exec(protocol);
  const version = protocol === "" ? (nonEmpty.length === 2 ? 9 : -1) : vm ? Number(vm[1]) * 10 + Number(vm[2]) : -1;
  const headers: [string, string][] = [];
  let badHeader: string | undefined;
  for (const h of headerLines) {
    const colon = h.indexOf(":");
    if (colon <= 0 || /[ \t]/.test(h.slice(0, colon))) {
      badHeader ??= h;
      continue;
    }
    headers.push([h.slice(0, colon), h.slice(colon + 1).trim()]);
  }
  const r: Http1Request = { line, method, target, protocol, version, oddSpacing, headers, body: new Uint8Array(0), bodyLength: 0, badFraming: false };
  if (badHeader !== undefined) r.badHeader = badHeader;
  return r;
}

/** A percent-encoded path segment decoded, or left as sent when its escapes are broken (never a throw). */
export function decodeUriSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * A session of an HTTP-shaped service around an Http1Parser: each chunk's parser events go to `answer`,
 * which returns what to write and log and whether the server hangs up; after a hang-up nothing more is
 * read.
 */
export function http1Session(parser: Http1Parser, answer: (events: Http1Event[]) => { writes: string[]; events: ProtocolEvent[]; close: boolean }): ProtocolSession {
  let done = false;
  return {
    buffered: () => parser.buffered(),
    open: () => ({}),
    data(chunk: Uint8Array): Reply {
      if (done) return {};
      const a = answer(parser.push(chunk));
      const reply: Reply = {};
      if (a.writes.length > 0) reply.write = a.writes.join("");
      if (a.events.length > 0) reply.events = a.events;
      if (a.close) {
        done = true;
        reply.close = true;
      }
      return reply;
    },
  };
}
