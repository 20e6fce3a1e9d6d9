// src/wire/http1.ts, the shared HTTP/1.x request parser: the same requests however the bytes are cut,
// bodies read through (Content-Length, chunked) with a bounded part kept, and each bound ending parsing.
import { describe, expect, test } from "bun:test";
import { Http1Parser, type Http1Event, type Http1Limits } from "../src/wire/http1.ts";

const enc = (s: string) => new Uint8Array(Buffer.from(s, "latin1"));
const LIMITS: Http1Limits = { maxHead: 256, maxLine: 128, maxHeaders: 5, keepBody: 8, maxBody: 64 };

function summary(evs: Http1Event[]): string[] {
  return evs.map((e) =>
    e.kind === "error" ? `error ${e.error}` : `${e.kind} ${e.request.method} ${e.request.target} ${e.request.version} h=${e.request.headers.length}${e.kind === "request" ? ` body=${Buffer.from(e.request.body).toString("latin1")}/${e.request.bodyLength}` : ""}`,
  );
}

function feed(input: string, cut: number, limits = LIMITS, stop?: (l: string) => boolean): { events: string[]; maxBuffered: number } {
  const p = new Http1Parser(limits, stop);
  const out: Http1Event[] = [];
  let maxBuffered = 0;
  const b = enc(input);
  for (let i = 0; i < b.length; i += cut) {
    out.push(...p.push(b.subarray(i, i + cut)));
    maxBuffered = Math.max(maxBuffered, p.buffered());
  }
  return { events: summary(out), maxBuffered };
}

describe("Http1Parser", () => {
  const pipelined =
    "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n" +
    "POST /x HTTP/1.0\r\nContent-Length: 12\r\n\r\nhello world!" +
    "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n" +
    "GET /last HTTP/1.1\n\n";

  test("pipelined requests give the same events however the bytes are cut, a head before each body", () => {
    const whole = feed(pipelined, 1 << 20).events;
    expect(whole).toEqual([
      "head GET / 11 h=1",
      "request GET / 11 h=1 body=/0",
      "head POST /x 10 h=1",
      "request POST /x 10 h=1 body=hello wo/12",
      "head PUT /c 11 h=1",
      "request PUT /c 11 h=1 body=abc01234/13",
      "head GET /last 11 h=0",
      "request GET /last 11 h=0 body=/0",
    ]);
    for (const cut of [1, 2, 3, 7, 13]) expect(feed(pipelined, cut).events).toEqual(whole);
  });

  test("each bound ends parsing with one error, and what is held stays within the head and the kept body", () => {
    expect(feed(`GET /${"a".repeat(200)} HTTP/1.1\r\n\r\n`, 1).events).toEqual(["error line-too-long"]);
    expect(feed(`GET / HTTP/1.1\r\nX: ${"a".repeat(120)}\r\nY: ${"b".repeat(120)}\r\n\r\n`, 5).events).toEqual(["error head-too-large"]);
    expect(feed("GET / HTTP/1.1\r\n" + "A: b\r\n".repeat(6) + "\r\n", 4).events).toEqual(["error too-many-headers"]);
    expect(feed("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", 3).events).toEqual(["head POST / 11 h=1", "error body-too-large"]);
    expect(feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 3).events).toEqual(["head POST / 11 h=1", "error bad-chunk"]);
    const big = feed("POST / HTTP/1.1\r\nContent-Length: 60\r\n\r\n" + "x".repeat(60), 1);
    expect(big.events).toEqual(["head POST / 11 h=1", "request POST / 11 h=1 body=xxxxxxxx/60"]);
    expect(big.maxBuffered).toBeLessThanOrEqual(LIMITS.maxHead + LIMITS.keepBody);
    // Nothing is read after an error.
    const p = new Http1Parser(LIMITS);
    expect(summary(p.push(enc(`GET /${"a".repeat(200)}\r\n`)))).toEqual(["error line-too-long"]);
    expect(p.push(enc("GET / HTTP/1.1\r\n\r\n"))).toEqual([]);
  });

  test("stopAtLine takes a bare line at once, without its headers; other lines parse as usual", () => {
    const stop = (l: string) => l.split(" ").length < 3;
    expect(feed("HELP\r\nmore", 1, LIMITS, stop).events).toEqual(["line HELP  -1 h=0"]);
    expect(feed("GET /x\r\n", 1, LIMITS, stop).events).toEqual(["line GET /x 9 h=0"]);
    expect(feed("GET / HTTP/1.1\r\nA: b\r\n\r\nGET /y\r\n", 2, LIMITS, stop).events).toEqual(["head GET / 11 h=1", "request GET / 11 h=1 body=/0", "line GET /y 9 h=0"]);
  });

  test("header lines without a colon are reported, and bad framing reads no body", () => {
    const p = new Http1Parser(LIMITS);
    const evs = p.push(enc("GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\nContent-Length: x1\r\n\r\n"));
    expect(evs[0]!.kind).toBe("head");
    const r = (evs[1] as { request: { badHeader?: string; badFraming: boolean } }).request;
    expect(r.badHeader).toBe("nocolon");
    expect(r.badFraming).toBe(true);
  });
});
