// The parts of an HTTP request that ECS has fields for (http.request.method, http.version, url.original,
// url.path, url.query, user_agent.original, http.request.body.bytes), from the request line, the
// User-Agent header and the body's length. Every HTTP-shaped face (http, https, proxy, elasticsearch,
// docker, a tracker) attaches them to the command event of the request. Values stay the attacker's text;
// each is cut to a bound, and `cut` says which were.
import type { HttpRequestFields } from "../types.ts";
import { header, type Http1Request } from "./http1.ts";

/** url.original (and url.path, url.query): a few KiB, the longest URL worth reading in a log line. */
export const URL_MAX = 4096;
/** user_agent.original: long enough for any real browser's; a scanner's 64 KiB header is not. */
export const USER_AGENT_MAX = 1024;
/** http.request.method: the longest method any server accepts is far shorter. */
export const METHOD_MAX = 64;

function cutTo(value: string, max: number, name: string, cut: string[]): string {
  if (value.length <= max) return value;
  cut.push(name);
  return value.slice(0, max);
}

/**
 * The ECS fields of one request: `method`, `target` and `protocol` as the request line had them (the
 * protocol word "" for a two-word line), the User-Agent header's value when there was one, and the body's
 * length when it was read. Undefined for a line with no method.
 */
export function httpFields(method: string, target: string, protocol: string, userAgent?: string, bodyBytes?: number): HttpRequestFields | undefined {
  if (method === "") return undefined;
  const cut: string[] = [];
  const f: HttpRequestFields = { method: cutTo(method, METHOD_MAX, "http.request.method", cut), original: "" };
  const vm = /^HTTP\/(\d)\.(\d)$/.exec(protocol);
  if (vm) f.version = `${vm[1]}.${vm[2]}`;
  else if (protocol === "" && target !== "") f.version = "0.9";
  f.original = cutTo(target, URL_MAX, "url.original", cut);
  // The path of an absolute URL (a proxy request) starts after its authority; a CONNECT target has none.
  let rest = target;
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (abs) rest = target.slice(abs[0].length);
  else if (method.toUpperCase() === "CONNECT") rest = "";
  const hash = rest.indexOf("#");
  if (hash >= 0) rest = rest.slice(0, hash);
  const q = rest.indexOf("?");
  const path = q >= 0 ? rest.slice(0, q) : rest;
  if (path !== "") f.path = cutTo(path, URL_MAX, "url.path", cut);
  if (q >= 0) f.query = cutTo(rest.slice(q + 1), URL_MAX, "url.query", cut);
  if (userAgent !== undefined) f.userAgent = cutTo(userAgent, USER_AGENT_MAX, "user_agent.original", cut);
  if (bodyBytes !== undefined) f.bodyBytes = bodyBytes;
  if (cut.length > 0) f.cut = cut;
  return f;
}

/** The same from a whole request line ("GET /x HTTP/1.1"), split on spaces as servers do. */
export function httpFieldsOfLine(line: string, userAgent?: string, bodyBytes?: number): HttpRequestFields | undefined {
  const words = line.split(" ").filter((w) => w !== "");
  if (words.length < 1 || words.length > 3) return undefined;
  return httpFields(words[0]!, words[1] ?? "", words.length === 3 ? words[2]! : "", userAgent, bodyBytes);
}

/**
 * The same from a parsed request: its body's length when the body was read (`bodyRead`), else the
 * Content-Length it declared, when it declared a valid one.
 */
export function httpFieldsOf(r: Http1Request, bodyRead: boolean): HttpRequestFields | undefined {
  const cl = header(r, "content-length");
  const declared = cl !== undefined && /^\d{1,18}$/.test(cl) ? Number(cl) : undefined;
  return httpFields(r.method, r.target, r.protocol, header(r, "user-agent"), bodyRead ? r.bodyLength : declared);
}
