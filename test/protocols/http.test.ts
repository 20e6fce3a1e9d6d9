import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import { makeContext } from "../../src/services/context.ts";
import { SessionDriver, VirtualClock } from "../../src/services/driver.ts";
import { http } from "../../src/services/http/index.ts";
import type { HttpTemplates } from "../../src/services/http/templates.ts";
import type { CatalogEntry, ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../src/types.ts";
import { toBytes, toLatin1 } from "../../src/wire/bytes.ts";
import { NEGOTIATE, authenticate } from "../ntlm-client.ts";

const catalog = { entries: serviceEntries("http") as CatalogEntry<HttpTemplates>[], defaultPorts: http.defaultPorts };
const NOW = new Date("2024-03-05T07:08:09Z");
// RFC 7231 IMF-fixdate of NOW, written out by hand.
const NOW_HTTP = "Tue, 05 Mar 2024 07:08:09 GMT";

function entry(id: string): CatalogEntry<HttpTemplates> {
  const e = catalog.entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

function session(id: string, opts: { localPort?: number; localAddress?: string } = {}): ProtocolSession {
  const s = http.start(makeContext({ entry: entry(id), hostSeed: "test", sessionSeed: "s1", now: () => NOW, localPort: opts.localPort ?? 80, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }));
  const greeting = s.open();
  expect(greeting.write).toBeUndefined();
  return s;
}

function text(r: Reply): string {
  return r.write === undefined ? "" : typeof r.write === "string" ? r.write : toLatin1(r.write);
}

function send(s: ProtocolSession, data: string): Reply {
  return s.data(toBytes(data));
}

/** A reply without its timers: what went out and what was logged (timing has its own tests). */
function untimed(r: Reply): Reply {
  const { timers: _timers, ...rest } = r;
  return rest;
}

interface Parsed {
  statusLine: string;
  headers: [string, string][];
  body: string;
}

/** Splits one HTTP/1.x response the way a client would. */
function parse(raw: string): Parsed {
  const end = raw.indexOf("\r\n\r\n");
  expect(end).toBeGreaterThan(0);
  const lines = raw.slice(0, end).split("\r\n");
  const statusLine = lines.shift()!;
  const headers = lines.map((l): [string, string] => {
    const c = l.indexOf(": ");
    expect(c).toBeGreaterThan(0);
    return [l.slice(0, c), l.slice(c + 2)];
  });
  return { statusLine, headers, body: raw.slice(end + 4) };
}

function header(p: Parsed, name: string): string | undefined {
  return p.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
}

function names(p: Parsed): string[] {
  return p.headers.map(([k]) => k);
}

const GET = "GET / HTTP/1.0\r\n\r\n"; // nmap's GetRequest probe
const OPTIONS = "OPTIONS / HTTP/1.0\r\n\r\n"; // HTTPOptions
const RTSP = "OPTIONS / RTSP/1.0\r\n\r\n"; // RTSPRequest
const FOUR04 = "GET /nice%20ports%2C/Tri%6Eity.txt%2ebak HTTP/1.0\r\n\r\n"; // FourOhFourRequest
const GENERIC = "\r\n\r\n"; // GenericLines

describe("catalog", () => {
  test("at least 6 entries over at least 4 OS families, all http on port 80 by default", () => {
    expect(catalog.defaultPorts).toEqual([80]);
    expect(catalog.entries.length).toBeGreaterThanOrEqual(6);
    expect(new Set(catalog.entries.map((e) => e.os)).size).toBeGreaterThanOrEqual(4);
  });

  test("IIS entries claim Windows, and only Windows entries run IIS", () => {
    for (const e of catalog.entries) {
      const iis = e.product === "Microsoft IIS httpd";
      expect(e.os === "windows").toBe(iis);
      if (iis) expect(e.ostype).toBe("Windows");
    }
  });

  test("the Server header of every entry names the claimed version", () => {
    for (const e of catalog.entries) {
      expect(e.templates.server).toContain(e.version);
      if (e.product === "Apache httpd") expect(e.templates.server).toBe(`Apache/${e.version} ${e.info}`);
    }
  });
});

describe("every entry answers nmap's GetRequest like an HTTP server", () => {
  for (const e of catalog.entries) {
    test(e.id, () => {
      const s = session(e.id);
      const r = send(s, GET);
      const p = parse(text(r));
      expect(p.statusLine).toMatch(/^HTTP\/1\.[01] \d{3} [A-Za-z]/);
      expect(header(p, "Server")).toBe(e.templates.server!);
      if (e.templates.framing === "evhttp") {
        // libevent answers an HTTP/1.0 request that did not ask for keep-alive with neither Date nor
        // Content-Length: the close ends the body (real transmission-daemon 3.00 measured).
        expect(header(p, "Date")).toBeUndefined();
        expect(header(p, "Content-Length")).toBeUndefined();
      } else if (e.templates.pageHead.includes("{{date_ctime}}")) {
        // Embedded servers (GoAhead) print the host's local time as ctime() does.
        expect(header(p, "Date")).toMatch(/^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
      } else {
        expect(header(p, "Date")).toBe(NOW_HTTP);
        // Content-Length counts bytes of the body actually sent.
        expect(Number(header(p, "Content-Length"))).toBe(p.body.length);
      }
      expect(p.body.length).toBeGreaterThan(0);
      // HTTP/1.0 without keep-alive: the server closes after the response.
      expect(r.close).toBe(true);
      expect(r.events).toEqual([{ action: "command", command: "GET / HTTP/1.0", http: { method: "GET", version: "1.0", original: "/", path: "/" } }]);
      // Nothing after the close.
      expect(send(s, GET)).toEqual({});
    });
  }
});

describe("server-specific response shapes", () => {
  test("Apache 2.2 on Debian: header order of a static file", () => {
    const p = parse(text(send(session("apache-2.2.22-debian"), GET)));
    expect(p.statusLine).toBe("HTTP/1.1 200 OK");
    expect(names(p)).toEqual(["Date", "Server", "Last-Modified", "ETag", "Accept-Ranges", "Content-Length", "Vary", "Connection", "Content-Type"]);
    expect(header(p, "Connection")).toBe("close");
    expect(p.body).toContain("<h1>It works!</h1>");
    // Debian's default index.html is 177 bytes.
    expect(p.body.length).toBe(177);
    // Apache 2.2 ETag: "inode-size-mtime", size 177 = 0xb1.
    expect(header(p, "ETag")).toMatch(/^"[0-9a-f]+-b1-[0-9a-f]+"$/);
    expect(Date.parse(header(p, "Last-Modified")!)).toBeLessThan(NOW.getTime());
  });

  test("Apache 2.2: the stock It works! page keeps its 2004 date and ETag on Mac OS X", () => {
    const p = parse(text(send(session("apache-2.2.22-macos"), GET)));
    expect(header(p, "Last-Modified")).toBe("Sat, 20 Nov 2004 20:16:24 GMT");
    // 0x2c = 44 bytes, 0x3e9564c23b600 = 2004-11-20T20:16:24Z in microseconds.
    expect(header(p, "ETag")).toMatch(/^"[0-9a-f]+-2c-3e9564c23b600"$/);
    expect(header(p, "Content-Location")).toBe("index.html.en");
    expect(p.body).toBe("<html><body><h1>It works!</h1></body></html>");
  });

  test("Apache on CentOS 6 shows its welcome page with 403", () => {
    const p = parse(text(send(session("apache-2.2.15-centos"), GET)));
    expect(p.statusLine).toBe("HTTP/1.1 403 Forbidden");
    expect(p.body).toContain("<title>Apache HTTP Server Test Page powered by CentOS</title>");
  });

  test("nginx: Server comes before Date, and 1.4.6's ETag is mtime-size in hex", () => {
    const p = parse(text(send(session("nginx-1.4.6-ubuntu"), GET)));
    expect(names(p).slice(0, 2)).toEqual(["Server", "Date"]);
    expect(header(p, "Server")).toBe("nginx/1.4.6 (Ubuntu)");
    // The real Ubuntu 14.04 welcome page: 612 bytes, ETag "5315bd25-264".
    expect(header(p, "ETag")).toBe('"5315bd25-264"');
    expect(header(p, "Last-Modified")).toBe("Tue, 04 Mar 2014 11:46:45 GMT");
  });

  test("nginx 1.2.1 has no ETag yet (added in 1.3.3)", () => {
    const p = parse(text(send(session("nginx-1.2.1-debian"), GET)));
    expect(header(p, "ETag")).toBeUndefined();
    expect(p.body).toContain("Welcome to nginx!");
  });

  test("IIS 7.5: Content-Type first, X-Powered-By, Date late, iisstart.htm of 689 bytes", () => {
    const p = parse(text(send(session("iis-7.5-windows"), GET)));
    expect(p.statusLine).toBe("HTTP/1.1 200 OK");
    expect(names(p)).toEqual(["Content-Type", "Last-Modified", "Accept-Ranges", "ETag", "Server", "X-Powered-By", "Date", "Connection", "Content-Length"]);
    expect(header(p, "X-Powered-By")).toBe("ASP.NET");
    expect(p.body.length).toBe(689);
    expect(p.body).toContain("\r\n"); // a Windows file
    expect(header(p, "ETag")).toMatch(/^"[0-9a-f]+:0"$/);
  });

  test("IIS 6.0 leaks the internal address and prints the FILETIME ETag of the 2003 iisstart.htm", () => {
    const p = parse(text(send(session("iis-6.0-windows", { localAddress: "10.1.2.3" }), GET)));
    expect(header(p, "Content-Location")).toBe("http://10.1.2.3/iisstart.htm");
    expect(header(p, "Last-Modified")).toBe("Sat, 22 Feb 2003 01:48:30 GMT");
    // The ETag real Windows Server 2003 machines send for that file.
    expect(header(p, "ETag")).toMatch(/^"06be97f14dac21:[0-9a-f]{3}"$/);
  });

  test("IIS 6.0 OPTIONS advertises WebDAV", () => {
    const p = parse(text(send(session("iis-6.0-windows"), OPTIONS)));
    expect(header(p, "DAV")).toBe("1, 2");
    expect(header(p, "Public")).toContain("PROPFIND");
  });

  test("lighttpd answers in the request's HTTP version, Server last", () => {
    const p10 = parse(text(send(session("lighttpd-1.4.28-debian"), GET)));
    expect(p10.statusLine).toBe("HTTP/1.0 200 OK");
    expect(names(p10).slice(-2)).toEqual(["Date", "Server"]);
    const p11 = parse(text(send(session("lighttpd-1.4.28-debian"), "GET / HTTP/1.1\r\nHost: x\r\n\r\n")));
    expect(p11.statusLine).toBe("HTTP/1.1 200 OK");
  });
});

describe("nmap's other probes", () => {
  test("HTTPOptions on Apache: 200 with Allow and an empty body", () => {
    const p = parse(text(send(session("apache-2.2.22-debian"), OPTIONS)));
    expect(p.statusLine).toBe("HTTP/1.1 200 OK");
    expect(header(p, "Allow")).toBe("GET,HEAD,POST,OPTIONS");
    expect(header(p, "Content-Length")).toBe("0");
    expect(p.body).toBe("");
  });

  test("HTTPOptions on nginx: 405 Not Allowed with nginx's error page", () => {
    const p = parse(text(send(session("nginx-1.2.1-debian"), OPTIONS)));
    expect(p.statusLine).toBe("HTTP/1.1 405 Not Allowed");
    expect(p.body).toContain("<hr><center>nginx/1.2.1</center>\r\n");
  });

  test("FourOhFourRequest: Apache 404 names the decoded path and the Host-less server name", () => {
    const r = send(session("apache-2.2.22-debian", { localPort: 8080 }), FOUR04);
    const p = parse(text(r));
    expect(p.statusLine).toBe("HTTP/1.1 404 Not Found");
    expect(p.body).toContain("<p>The requested URL /nice ports,/Trinity.txt.bak was not found on this server.</p>");
    expect(p.body).toMatch(/<address>Apache\/2\.2\.22 \(Debian\) Server at [a-z0-9-]+ Port 8080<\/address>\n<\/body><\/html>\n$/);
    expect(header(p, "Content-Type")).toBe("text/html; charset=iso-8859-1");
  });

  test("FourOhFourRequest: IIS 7.5 404 page", () => {
    const p = parse(text(send(session("iis-7.5-windows"), FOUR04)));
    expect(p.statusLine).toBe("HTTP/1.1 404 Not Found");
    expect(p.body).toContain("<h2>404 - File or directory not found.</h2>");
  });

  test("RTSPRequest: Apache 2.2 takes the unknown protocol as HTTP/1.0 and answers OPTIONS", () => {
    const r = send(session("apache-2.2.22-debian"), RTSP);
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 200 OK");
    expect(r.close).toBe(true);
  });

  test("RTSPRequest: nginx and lighttpd refuse with 400 and close", () => {
    const n = send(session("nginx-1.2.1-debian"), RTSP);
    expect(parse(text(n)).statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(n.close).toBe(true);
    const l = send(session("lighttpd-1.4.28-debian"), RTSP);
    const p = parse(text(l));
    expect(p.statusLine).toBe("HTTP/1.0 400 Bad Request");
    expect(p.body).toContain("<title>400 - Bad Request</title>");
    expect(l.close).toBe(true);
  });

  test("GenericLines: Apache reads past empty lines and keeps waiting, lighttpd answers 400", () => {
    const a = session("apache-2.2.22-debian");
    expect(untimed(send(a, GENERIC))).toEqual({});
    // The request that follows the empty lines is still served.
    expect(parse(text(send(a, GET))).statusLine).toBe("HTTP/1.1 200 OK");
    const l = send(session("lighttpd-1.4.28-debian"), GENERIC);
    expect(parse(text(l)).statusLine).toBe("HTTP/1.0 400 Bad Request");
    expect(l.close).toBe(true);
  });

  test("empty lines are bounded: after 100 of them Apache gives up with 400", () => {
    const r = send(session("apache-2.2.22-debian"), "\r\n".repeat(101));
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(r.close).toBe(true);
  });

  test("Help probe (a bare word) is a 400 for Apache", () => {
    const r = send(session("apache-2.2.22-debian"), "HELP\r\n");
    const p = parse(text(r));
    expect(p.statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(p.body).toContain("Your browser sent a request that this server could not understand.");
    expect(r.close).toBe(true);
  });
});

describe("binary junk", () => {
  const TLS_HELLO = "\x16\x03\x00\x00S\x01\x00\x00O\x03\x00?G\xd7\xf7\xba,\xee";
  test("nginx rejects a TLS ClientHello at once", () => {
    const r = send(session("nginx-1.2.1-debian"), TLS_HELLO);
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(r.close).toBe(true);
  });

  test("IIS: HTTP.sys rejects it with its own Server header", () => {
    const r = send(session("iis-7.5-windows"), TLS_HELLO);
    const p = parse(text(r));
    expect(p.statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(header(p, "Server")).toBe("Microsoft-HTTPAPI/2.0");
    expect(p.body).toContain("Invalid Verb");
    expect(r.close).toBe(true);
  });

  test("Apache waits for the end of the line, then answers 400", () => {
    const s = session("apache-2.2.22-debian");
    expect(untimed(send(s, TLS_HELLO))).toEqual({});
    const r = send(s, "\n");
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(r.close).toBe(true);
  });

  test("nginx: a lowercase method is not a method", () => {
    const r = send(session("nginx-1.2.1-debian"), "get / HTTP/1.0\r\n\r\n");
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 400 Bad Request");
  });

  test("random bytes never throw and never produce unbounded output", () => {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (const e of catalog.entries) {
      for (let n = 0; n < 20; n++) {
        const s = session(e.id);
        let out = 0;
        for (let c = 0; c < 10; c++) {
          const chunk = new Uint8Array(1 + Math.floor(rnd() * 3000));
          for (let i = 0; i < chunk.length; i++) chunk[i] = rnd() < 0.1 ? 0x0a : Math.floor(rnd() * 256);
          const r = s.data(chunk);
          out += text(r).length;
          if (r.close) break;
        }
        expect(out).toBeLessThan(64 * 1024);
      }
    }
  });
});

describe("bounded buffering", () => {
  test("a 100 KB request line gets 414 and a close, without echoing it", () => {
    const r = send(session("apache-2.2.22-debian"), "GET /" + "A".repeat(100_000));
    const raw = text(r);
    expect(parse(raw).statusLine).toBe("HTTP/1.1 414 Request-URI Too Large");
    expect(raw.length).toBeLessThan(2048);
    expect(r.close).toBe(true);
  });

  test("an endless header block gets 400 and a close", () => {
    const s = session("nginx-1.2.1-debian");
    let r = send(s, "GET / HTTP/1.0\r\n");
    for (let i = 0; i < 2000 && !r.close; i++) r = send(s, `X-Filler-${i}: ${"z".repeat(20)}\r\n`);
    expect(r.close).toBe(true);
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 400 Bad Request");
  });

  test("a header line without a colon is a 400", () => {
    const r = send(session("apache-2.2.22-debian"), "GET / HTTP/1.0\r\nthis is not a header\r\n\r\n");
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(r.close).toBe(true);
  });

  test("a huge Content-Length is refused with 413 before any body arrives", () => {
    const r = send(session("apache-2.2.22-debian"), "POST / HTTP/1.0\r\nContent-Length: 10000000\r\n\r\n");
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 413 Request Entity Too Large");
    expect(r.close).toBe(true);
  });

  test("a non-numeric Content-Length is a 400", () => {
    const r = send(session("apache-2.2.22-debian"), "POST / HTTP/1.0\r\nContent-Length: -5\r\n\r\n");
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 400 Bad Request");
  });
});

describe("framing", () => {
  test("a request split into single bytes gives the same answer as one chunk", () => {
    const whole = text(send(session("apache-2.2.22-debian"), GET));
    const s = session("apache-2.2.22-debian");
    let out = "";
    let last: Reply = {};
    for (const ch of GET) {
      last = send(s, ch);
      out += text(last);
    }
    expect(out).toBe(whole);
    expect(last.close).toBe(true);
  });

  test("a POST body is read (across chunks) before the answer", () => {
    const s = session("apache-2.2.22-debian");
    expect(untimed(send(s, "POST / HTTP/1.0\r\nContent-Length: 11\r\n\r\nhello"))).toEqual({
      events: [{ action: "command", command: "POST / HTTP/1.0", http: { method: "POST", version: "1.0", original: "/", path: "/", bodyBytes: 11 } }],
    });
    const r = send(s, " world");
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 200 OK");
  });

  test("HTTP/1.1 keep-alive: Apache counts down max= and serves pipelined requests", () => {
    const s = session("apache-2.2.22-debian");
    const req = "GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: keep-alive\r\n\r\n";
    const r = send(s, req + req);
    expect(r.close).toBeUndefined();
    const raw = text(r);
    const first = raw.indexOf("HTTP/1.1 200 OK");
    const second = raw.indexOf("HTTP/1.1 200 OK", first + 1);
    expect(first).toBe(0);
    expect(second).toBeGreaterThan(0);
    expect(parse(raw.slice(0, second)).headers).toContainEqual(["Keep-Alive", "timeout=5, max=100"]);
    expect(parse(raw.slice(second)).headers).toContainEqual(["Keep-Alive", "timeout=5, max=99"]);
    expect(r.events?.length).toBe(2);
    const closing = send(s, "GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n");
    expect(closing.close).toBe(true);
    expect(header(parse(text(closing)), "Connection")).toBe("close");
  });

  test("CentOS 6 has KeepAlive Off: even HTTP/1.1 is closed", () => {
    const r = send(session("apache-2.2.15-centos"), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    expect(r.close).toBe(true);
    expect(header(parse(text(r)), "Connection")).toBe("close");
  });

  test("HTTP/1.1 without Host is a 400", () => {
    const r = send(session("nginx-1.4.6-ubuntu"), "GET / HTTP/1.1\r\n\r\n");
    expect(parse(text(r)).statusLine).toBe("HTTP/1.1 400 Bad Request");
  });

  test("HEAD sends the headers of GET and no body", () => {
    const get = parse(text(send(session("iis-8.5-windows"), GET)));
    const raw = text(send(session("iis-8.5-windows"), "HEAD / HTTP/1.0\r\n\r\n"));
    expect(raw.endsWith("\r\n\r\n")).toBe(true);
    expect(header(parse(raw), "Content-Length")).toBe(String(get.body.length));
  });

  test("HTTP/0.9: a bare body, then the close", () => {
    const r = send(session("nginx-1.2.1-debian"), "GET /\r\n");
    expect(text(r).startsWith("<html>")).toBe(true);
    expect(r.close).toBe(true);
  });
});

describe("methods", () => {
  test("Apache: unknown method 501, known but unsupported 405 with Allow", () => {
    const a = parse(text(send(session("apache-2.2.22-debian"), "FOO / HTTP/1.0\r\n\r\n")));
    expect(a.statusLine).toBe("HTTP/1.1 501 Method Not Implemented");
    expect(header(a, "Allow")).toBe("GET,HEAD,POST,OPTIONS");
    const d = parse(text(send(session("apache-2.2.22-debian"), "DELETE / HTTP/1.0\r\n\r\n")));
    expect(d.statusLine).toBe("HTTP/1.1 405 Method Not Allowed");
    expect(d.body).toContain("The requested method DELETE is not allowed");
  });

  test("TRACE echoes the request where it is enabled", () => {
    const req = "TRACE / HTTP/1.0\r\nX-Probe: xst\r\n\r\n";
    const r = send(session("apache-2.2.15-centos"), req);
    const p = parse(text(r));
    expect(p.statusLine).toBe("HTTP/1.1 200 OK");
    expect(header(p, "Content-Type")).toBe("message/http");
    expect(p.body).toBe(req);
    expect(r.close).toBe(true);
  });

  test("method names in error pages are HTML-escaped", () => {
    const p = parse(text(send(session("apache-2.2.22-debian"), "GET /<script>alert(1)</script> HTTP/1.0\r\n\r\n")));
    expect(p.body).not.toContain("<script>");
    expect(p.body).toContain("&lt;script&gt;");
  });

  test("a path that climbs above the root is a 400", () => {
    const p = parse(text(send(session("apache-2.2.22-debian"), "GET /../../etc/passwd HTTP/1.0\r\n\r\n")));
    expect(p.statusLine).toBe("HTTP/1.1 400 Bad Request");
  });

  test("IIS paths are case-insensitive", () => {
    const p = parse(text(send(session("iis-7.5-windows"), "GET /IISSTART.HTM HTTP/1.0\r\n\r\n")));
    expect(p.statusLine).toBe("HTTP/1.1 200 OK");
  });

  test("MS15-034 probe: an IIS 7.5 Range past 2^64-1 gets HTTP.sys's 416", () => {
    const r = send(session("iis-7.5-windows"), "GET / HTTP/1.1\r\nHost: x\r\nRange: bytes=0-18446744073709551615\r\n\r\n");
    const p = parse(text(r));
    expect(p.statusLine).toBe("HTTP/1.1 416 Requested Range Not Satisfiable");
    expect(header(p, "Server")).toBe("Microsoft-HTTPAPI/2.0");
    expect(r.close).toBe(true);
  });
});

describe("events", () => {
  test("each request line is a command; Basic credentials are a login", () => {
    const s = session("lighttpd-1.4.28-debian");
    // "cm9vdDp0b29yOjE=" is base64 of "root:toor:1": the password keeps its colon.
    const r = send(s, "GET /admin HTTP/1.1\r\nHost: h\r\nAuthorization: Basic cm9vdDp0b29yOjE=\r\n\r\n");
    expect(r.events).toEqual([
      { action: "command", command: "GET /admin HTTP/1.1", http: { method: "GET", version: "1.1", original: "/admin", path: "/admin" } },
      { action: "login", method: "basic", user: "root", password: "toor:1" },
    ]);
  });

  test("a form POST with user- and password-like fields is a login, whatever the path and however it arrives", () => {
    const body = "log=admin&pwd=p%40ss+word&wp-submit=Log+In&redirect_to=%2Fwp-admin%2F";
    const request = `POST /wp-login.php HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const whole = send(session("apache-2.2.22-debian"), request);
    const expected: ProtocolEvent = { action: "login", method: "form", user: "admin", password: "p@ss word", client: { user_field: "log", password_field: "pwd" } };
    expect(whole.events?.filter((e) => e.action === "login")).toEqual([expected]);
    // The same request one byte at a time (the body arrives after the head was parsed).
    const s = session("apache-2.2.22-debian");
    const logins = [...request].flatMap((c) => send(s, c).events ?? []).filter((e) => e.action === "login");
    expect(logins).toEqual([expected]);
    // JSON APIs too, with nested names like session[username].
    const json = JSON.stringify({ session: { username: "root", password: "hunter2" } });
    const r = send(session("nginx-1.4.6-ubuntu"), `POST /api/login HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`);
    expect(r.events?.filter((e) => e.action === "login")).toEqual([{ action: "login", method: "form", user: "root", password: "hunter2", client: { user_field: "username", password_field: "password" } }]);
    // A search form is not a login.
    const q = "q=password+reset&lang=en";
    const none = send(session("nginx-1.4.6-ubuntu"), `POST /search HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${q.length}\r\n\r\n${q}`);
    expect(none.events?.filter((e) => e.action === "login")).toEqual([]);
  });

  test("a rejected line is still logged", () => {
    const r = send(session("nginx-1.2.1-debian"), "\x16\x03junk");
    expect(r.events?.[0]?.action).toBe("command");
    expect(r.events?.[0]?.command).toBe("\x16\x03junk");
  });
});

describe("bytes", () => {
  test("a percent-encoded high byte in the path is echoed as that one byte", () => {
    const p = parse(text(send(session("apache-2.2.22-debian"), "GET /caf%E9 HTTP/1.0\r\n\r\n")));
    expect(p.body).toContain("/caf\xe9 was not found");
    expect(Number(header(p, "Content-Length"))).toBe(p.body.length);
  });
});

describe("NTLM over HTTP on the IIS faces", () => {
  const b64 = (b: number[]) => Buffer.from(b).toString("base64");

  for (const id of ["iis-7.5-windows", "iis-8.5-windows"]) {
    test(`${id}: NEGOTIATE gets a 401 with a CHALLENGE; the AUTHENTICATE is a login with a NetNTLMv2 hash`, () => {
      const s = session(id);
      const r1 = text(send(s, `GET / HTTP/1.1\r\nHost: h\r\nAuthorization: NTLM ${b64(NEGOTIATE)}\r\n\r\n`));
      expect(r1).toStartWith("HTTP/1.1 401 Unauthorized\r\n");
      expect(r1).toContain("HTTP Error 401. The requested resource requires user authentication.");
      const challengeMsg = Buffer.from(/\r\nWWW-Authenticate: NTLM ([A-Za-z0-9+/=]+)\r\n/.exec(r1)![1]!, "base64");
      expect(challengeMsg.subarray(0, 8).toString("latin1")).toBe("NTLMSSP\0");
      expect(challengeMsg.readUInt32LE(8)).toBe(2);
      const challenge = challengeMsg.subarray(24, 32).toString("hex");
      // The Content-Length is the body's.
      const [head, body] = r1.split("\r\n\r\n");
      expect(Number(/Content-Length: (\d+)/.exec(head!)![1])).toBe(body!.length);
      // Same connection: the AUTHENTICATE.
      const nt = Array.from({ length: 48 }, (_, i) => i);
      const r3 = send(s, `GET / HTTP/1.1\r\nHost: h\r\nAuthorization: NTLM ${b64(authenticate("alice", "CORP", "WS01", nt))}\r\n\r\n`);
      expect(text(r3)).toStartWith("HTTP/1.1 401 Unauthorized\r\n");
      expect(text(r3)).toContain("WWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\n");
      const proof = Buffer.from(nt.slice(0, 16)).toString("hex");
      const blob = Buffer.from(nt.slice(16)).toString("hex");
      expect(r3.events?.filter((e) => e.action === "login")).toEqual([
        { action: "login", method: "http-ntlm", user: "alice", domain: "CORP", hash: { value: `alice::CORP:${challenge}:${proof}:${blob}`, type: "netntlmv2", hashcatMode: 5600 }, client: { workstation: "WS01" } },
      ]);
    });
  }

  test("faces without Windows authentication serve the page whatever the Authorization says", () => {
    for (const id of ["iis-6.0-windows", "apache-2.2.22-debian"]) {
      const r = text(send(session(id), `GET / HTTP/1.1\r\nHost: h\r\nAuthorization: NTLM ${b64(NEGOTIATE)}\r\n\r\n`));
      expect(r).not.toContain("WWW-Authenticate");
    }
  });
});

// ---- time: the real servers' waits, measured on this machine's Debian 12 daemons (apache2 2.4.71 with
// Debian's reqtimeout.conf, nginx 1.22.1, lighttpd 1.4.69, transmission-daemon 3.00), and read in the sources
// of the older versions the faces claim. Each face runs on a virtual clock, as replay and check run it.

interface Timed {
  at: number;
  what: "in" | "out" | "close";
  text: string;
}

function driven(id: string, seed = "s1"): { clock: VirtualClock; log: Timed[]; send: (s: string) => void; closedAt: () => number | undefined; out: () => string; ctx: SessionContext<HttpTemplates> } {
  const clock = new VirtualClock();
  const log: Timed[] = [];
  const ctx = makeContext({ entry: entry(id), hostSeed: "test", sessionSeed: seed, now: () => NOW, localPort: 80 });
  const d = new SessionDriver(http.start(ctx), clock, {
    input: (b) => log.push({ at: clock.now(), what: "in", text: toLatin1(b) }),
    write: (b) => log.push({ at: clock.now(), what: "out", text: toLatin1(b) }),
    events: () => {},
    close: () => log.push({ at: clock.now(), what: "close", text: "" }),
    error: (err) => {
      throw err;
    },
  });
  d.open();
  return {
    clock,
    log,
    ctx,
    send: (s) => d.data(toBytes(s)),
    closedAt: () => log.find((l) => l.what === "close")?.at,
    out: () => log.filter((l) => l.what === "out").map((l) => l.text).join(""),
  };
}

/** The time of the close, which must fall in [from, to] (ms on the session's clock). */
function expectCloseBetween(s: ReturnType<typeof driven>, from: number, to: number): void {
  s.clock.advanceTo(from - 1);
  expect(s.closedAt()).toBeUndefined();
  s.clock.advanceTo(to);
  const at = s.closedAt();
  expect(at).toBeDefined();
  expect(at!).toBeGreaterThanOrEqual(from);
  expect(at!).toBeLessThanOrEqual(to);
}

const ONE_GET = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

describe("timing: Apache 2.4 on Debian (mod_reqtimeout header=20-40,MinRate=500 body=10, KeepAliveTimeout 5)", () => {
  test("a silent peer is dropped without a byte after 51.4-51.7 s: the kernel holds it 31 s (TCP_DEFER_ACCEPT 30), then 20 s of header timeout", () => {
    const s = driven("apache-2.4.57-debian");
    expectCloseBetween(s, 51_400, 51_700); // measured 51.44, 51.46, 51.50, 51.58 s
    expect(s.out()).toBe("");
  });

  test("an unfinished request line is dropped silently 20 s after its first byte", () => {
    const s = driven("apache-2.4.57-debian");
    s.send("GET / HT");
    expectCloseBetween(s, 20_000, 20_070); // measured 20.02 s
    expect(s.out()).toBe("");
  });

  test("a complete request line without the end of the headers gets 408 Request Timeout at 20 s, then the close", () => {
    const s = driven("apache-2.4.57-debian");
    s.send("GET / HTTP/1.1\r\nHost: x\r\n");
    expectCloseBetween(s, 20_000, 20_070); // measured 20.05-20.07 s
    const raw = s.out();
    const p = parse(raw);
    expect(p.statusLine).toBe("HTTP/1.1 408 Request Timeout");
    expect(names(p)).toEqual(["Date", "Server", "Content-Length", "Connection", "Content-Type"]);
    expect(header(p, "Connection")).toBe("close");
    expect(header(p, "Content-Type")).toBe("text/html; charset=iso-8859-1");
    // The head was never parsed, so Host: x does not apply: the page names the server itself.
    const host = s.ctx.hostname;
    expect(p.body).toBe(
      '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n<title>408 Request Timeout</title>\n</head><body>\n<h1>Request Timeout</h1>\n' +
        "<p>Server timeout waiting for the HTTP request from the client.</p>\n<hr>\n" +
        `<address>Apache/2.4.57 (Debian) Server at ${host} Port 80</address>\n</body></html>\n`,
    );
    expect(Number(header(p, "Content-Length"))).toBe(p.body.length);
    // The 408 and the close are one step: nothing comes between them.
    expect(s.log.at(-1)!.what).toBe("close");
    expect(s.log.at(-2)!.at).toBe(s.log.at(-1)!.at);
  });

  test("the timer counts from the accept: a first byte at 35 s still times out at 51.4-51.7 s", () => {
    const s = driven("apache-2.4.57-debian");
    s.clock.advanceTo(35_000);
    s.send("GET / HTTP/1.1\r\n");
    expectCloseBetween(s, 51_400, 51_700); // measured 51.45 s
    expect(parse(s.out()).statusLine).toBe("HTTP/1.1 408 Request Timeout");
  });

  test("MinRate: 5034 bytes of headers push the deadline ~10 s (500 bytes a second) to 30.1 s; 12000 bytes would give 44 s but stop at the 40 s cap", () => {
    const pad = (n: number) => `X-Pad${n}: ${"a".repeat(4000)}\r\n`;
    const a = driven("apache-2.4.57-debian");
    a.send("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + "a".repeat(5000) + "\r\n");
    expectCloseBetween(a, 30_000, 30_200); // measured 30.105 s
    const b = driven("apache-2.4.57-debian");
    b.send("GET / HTTP/1.1\r\nHost: x\r\n" + pad(0) + pad(1) + pad(2));
    expectCloseBetween(b, 40_000, 40_060); // measured 40.039 s (with 20065 bytes)
    expect(parse(b.out()).statusLine).toBe("HTTP/1.1 408 Request Timeout");
  });

  test("a slow drip does not help: a header line every 2 s still gets its 408 at ~21 s (the last read leaves 1 s)", () => {
    const s = driven("apache-2.4.57-debian");
    s.send("GET / HTTP/1.1\r\nHost: x\r\n");
    for (let i = 0; i < 10; i++) {
      s.clock.advanceBy(2_000);
      s.send(`X-a${i}: b\r\n`);
    }
    expectCloseBetween(s, 21_000, 21_070); // measured 21.03 s (last line at 20.03 s)
    expect(parse(s.out()).statusLine).toBe("HTTP/1.1 408 Request Timeout");
  });

  test("keep-alive: the idle connection is closed 5 s after the response, silently; each request restarts it", () => {
    const a = driven("apache-2.4.57-debian");
    a.send(ONE_GET);
    expect(parse(a.out()).statusLine).toBe("HTTP/1.1 200 OK");
    const sent = a.out().length;
    expectCloseBetween(a, 5_000, 5_015); // measured 5.003-5.005 s
    expect(a.out().length).toBe(sent);
    const b = driven("apache-2.4.57-debian");
    b.send(ONE_GET);
    b.clock.advanceTo(3_000);
    b.send(ONE_GET);
    expectCloseBetween(b, 8_000, 8_015); // measured 8.015 s
  });

  test("keep-alive then a partial request: the header timeout starts over at its first byte (408 at 3 + 20 s)", () => {
    const s = driven("apache-2.4.57-debian");
    s.send(ONE_GET);
    s.clock.advanceTo(3_000);
    s.send("GET / HTTP/1.1\r\n");
    expectCloseBetween(s, 23_000, 23_070); // measured 23.066 s
    expect(s.out()).toContain("HTTP/1.1 408 Request Timeout");
  });

  test("a body that stops coming gets 408 after 10 s (body=10); the page then names the Host the head gave", () => {
    const s = driven("apache-2.4.57-debian");
    s.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
    expectCloseBetween(s, 10_000, 10_030); // measured 10.011 s
    const p = parse(s.out());
    expect(p.statusLine).toBe("HTTP/1.1 408 Request Timeout");
    expect(p.body).toContain("<address>Apache/2.4.57 (Debian) Server at x Port 80</address>");
  });

  test("Apache 2.4.10 (before 2.4.13) answers the same body timeout with 400, as its ap_discard_request_body did", () => {
    const s = driven("apache-2.4.10-debian");
    s.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab");
    expectCloseBetween(s, 10_000, 10_030);
    expect(parse(s.out()).statusLine).toBe("HTTP/1.1 400 Bad Request");
  });

  test("Apache 2.2 (Debian 7): the same header timeout, its 408 says Request Time-out, and a silent peer goes after ~21 s (TCP_DEFER_ACCEPT 1 s)", () => {
    const a = driven("apache-2.2.22-debian");
    a.send("GET / HTTP/1.0\r\n");
    expectCloseBetween(a, 20_000, 20_070);
    const p = parse(a.out());
    expect(p.statusLine).toBe("HTTP/1.1 408 Request Time-out");
    expect(p.body).toContain("<title>408 Request Time-out</title>\n</head><body>\n<h1>Request Time-out</h1>\n<p>Server timeout waiting for the HTTP request from the client.</p>");
    const b = driven("apache-2.2.22-debian");
    expectCloseBetween(b, 21_000, 21_120);
    expect(b.out()).toBe("");
  });

  test("Apache 2.2 on CentOS 6 has no mod_reqtimeout: core Timeout 60 s per read, so a header line every 50 s keeps it open", () => {
    const s = driven("apache-2.2.15-centos");
    s.send("GET / HTTP/1.0\r\n");
    for (let i = 0; i < 4; i++) {
      s.clock.advanceBy(50_000);
      expect(s.closedAt()).toBeUndefined();
      s.send(`X-a${i}: b\r\n`);
    }
    const last = s.clock.now();
    expectCloseBetween(s, last + 60_000, last + 60_010);
    expect(parse(s.out()).statusLine).toBe("HTTP/1.1 408 Request Time-out");
  });
});

describe("timing: nginx (client_header_timeout 60, keepalive_timeout 65 or 75)", () => {
  test("1.22.1: silent peers, partial lines and partial heads are all closed without a byte at 60 s from the accept", () => {
    for (const first of ["", "GET / HT", "GET / HTTP/1.1\r\nHost: x\r\n"]) {
      const s = driven("nginx-1.22.1-debian");
      if (first) s.send(first);
      expectCloseBetween(s, 60_000, 60_070); // measured 59.99-60.06 s
      expect(s.out()).toBe("");
    }
    const late = driven("nginx-1.22.1-debian");
    late.clock.advanceTo(35_000);
    late.send("GET / HTTP/1.1\r\n");
    expectCloseBetween(late, 60_000, 60_070); // measured 60.001 s: the timer is not restarted by data
  });

  test("1.22.1 on Debian 12 keeps an idle connection 75 s (no keepalive_timeout in its nginx.conf); a request restarts it", () => {
    const s = driven("nginx-1.22.1-debian");
    s.send(ONE_GET);
    s.clock.advanceTo(3_000);
    s.send(ONE_GET);
    expectCloseBetween(s, 78_000, 78_015); // measured 78.01 s
  });

  test("1.4 and later: a partial request after keep-alive gets a fresh 60 s", () => {
    const s = driven("nginx-1.4.6-ubuntu");
    s.send(ONE_GET);
    s.clock.advanceTo(3_000);
    s.send("GET / HTTP/1.1\r\n");
    expectCloseBetween(s, 63_000, 63_070); // 1.22.1 measured 63.009 s
  });

  test("1.2.1: the keep-alive timer (65 s) keeps running into the next request (ngx_http_keepalive_handler deletes no timer before 1.3)", () => {
    const s = driven("nginx-1.2.1-debian");
    s.send(ONE_GET);
    s.clock.advanceTo(3_000);
    s.send("GET / HTTP/1.1\r\n");
    expectCloseBetween(s, 65_000, 65_015);
    expect(s.out()).not.toContain("408");
  });
});

describe("timing: lighttpd, IIS and Transmission", () => {
  test("lighttpd: 60 s of silence per read for the first request, so a drip every 2 s is never cut; the close comes 60-62 s after the last byte", () => {
    const s = driven("lighttpd-1.4.28-debian");
    s.send("GET / HTTP/1.1\r\nHost: x\r\n");
    for (let i = 0; i < 60; i++) {
      s.clock.advanceBy(2_000);
      s.send(`X-a${i}: b\r\n`);
    }
    expect(s.closedAt()).toBeUndefined();
    expectCloseBetween(s, 120_000 + 60_000, 120_000 + 62_000); // lighttpd 1.4.69 measured 60.97 s after the last byte
    expect(s.out()).toBe("");
  });

  test("lighttpd: a kept connection gets 5 s (checked once a second: 5-7 s), also for a partial second request", () => {
    const a = driven("lighttpd-1.4.28-debian");
    a.send(ONE_GET);
    expectCloseBetween(a, 5_000, 7_000); // measured 6.02 s
    const b = driven("lighttpd-1.4.28-debian");
    b.send(ONE_GET);
    b.clock.advanceTo(3_000);
    b.send("GET / HTTP/1.1\r\n");
    expectCloseBetween(b, 8_000, 10_000); // measured 9.03 s
  });

  test("IIS: HTTP.sys waits 120 s for a silent peer and for an idle kept connection, and sends nothing", () => {
    const a = driven("iis-7.5-windows");
    expectCloseBetween(a, 120_000, 121_000);
    expect(a.out()).toBe("");
    const b = driven("iis-7.5-windows");
    b.send(ONE_GET);
    const sent = b.out();
    expectCloseBetween(b, 120_000, 121_000);
    expect(b.out()).toBe(sent);
  });

  test("Transmission's evhttp sets no timeout: nothing is armed, only the trap's own idle limit ends the session", () => {
    const s = driven("transmission-webui");
    s.send("GET / HTTP/1.1\r\nHost: x\r\n");
    s.clock.advanceTo(3_600_000);
    expect(s.closedAt()).toBeUndefined();
    expect(s.clock.nextDue()).toBeUndefined();
  });
});

describe("timing is bounded", () => {
  test("every face but Transmission states a request and a keep-alive timeout, none longer than 5 minutes", () => {
    for (const e of catalog.entries) {
      const t = e.templates;
      if (t.framing === "evhttp") continue;
      expect(t.requestTimeoutMs).toBeDefined();
      // A face that never keeps a connection (GoAhead's HTTP/1.0) has no keep-alive wait to state.
      if (t.connectionKeepAlive !== undefined) expect(t.keepAliveTimeoutMs).toBeDefined();
      for (const r of [t.requestTimeoutMs!, t.keepAliveTimeoutMs!, t.requestTimeoutMaxMs, t.nextRequestTimeoutMs, t.bodyTimeoutMs, t.connectionTimeoutMs, t.startDelayMs]) {
        if (r) expect(r.max).toBeLessThanOrEqual(300_010);
      }
    }
  });

  test("a drip-feeding peer cannot keep a deadline-style face waiting: 1000 single bytes over 39 s still end by the 40 s cap", () => {
    const s = driven("apache-2.4.57-debian");
    s.send("GET / HTTP/1.1\r\n");
    for (let i = 0; i < 1000; i++) {
      s.clock.advanceBy(39);
      if (s.closedAt() !== undefined) break;
      s.send("X");
    }
    s.clock.advanceTo(41_100);
    expect(s.closedAt()).toBeDefined();
    expect(s.closedAt()!).toBeLessThanOrEqual(41_060);
  });
});
