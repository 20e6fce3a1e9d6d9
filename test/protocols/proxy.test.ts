// The refusing Squid over real TCP: what it answers to a proxy request, a CONNECT, a web request and
// garbage (words measured against Debian 12's squid 5.7 with http_access deny all), keep-alive and
// answering before a body, and what it logs: the request line as a command, Proxy-Authorization Basic
// as a login.
import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import { hostFacts } from "../../src/host/facts.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";

const entries = serviceEntries("proxy") as CatalogEntry[];
function entry(id: string): CatalogEntry {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

/** Splits answers: status line, headers as a map, body of Content-Length bytes; what is left. */
function parseResponses(text: string): { status: string; headers: Map<string, string>; body: string }[] {
  const out: { status: string; headers: Map<string, string>; body: string }[] = [];
  let rest = text;
  for (let i = 0; i < 10 && rest.length > 0; i++) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) break;
    const lines = rest.slice(0, end).split("\r\n");
    const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 2)] as [string, string]));
    const len = Number(headers.get("content-length") ?? "0");
    out.push({ status: lines[0]!, headers, body: rest.slice(end + 4, end + 4 + len) });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

const complete = (n: number) => (s: string) => {
  const r = parseResponses(s);
  return r.length >= n && r[n - 1]!.body.length === Number(r[n - 1]!.headers.get("content-length"));
};

describe("proxy (Squid refusing everyone) over TCP", () => {
  const e = entry("squid-5.7-debian12");
  const fqdn = hostFacts({ seed: "test-host", family: e.os, release: e.releases[0] }).fqdn;

  test("a proxy GET gets 403 ERR_ACCESS_DENIED with Squid's headers, the connection stays, and a second one is answered", async () => {
    const { trap, sink } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      c.send("GET http://Example.invalid:80/a/b?secret=1 HTTP/1.1\r\nHost: example.invalid\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n");
      await c.waitFor(complete(1));
      const [r] = parseResponses(c.text());
      expect(r!.status).toBe("HTTP/1.1 403 Forbidden");
      const names = [...r!.headers.keys()];
      expect(names).toEqual(["server", "mime-version", "date", "content-type", "content-length", "x-squid-error", "vary", "content-language", "x-cache", "x-cache-lookup", "via", "connection"]);
      expect(r!.headers.get("server")).toBe("squid/5.7");
      expect(r!.headers.get("x-squid-error")).toBe("ERR_ACCESS_DENIED 0");
      expect(r!.headers.get("via")).toBe(`1.1 ${fqdn} (squid/5.7)`);
      expect(r!.headers.get("x-cache")).toBe(`MISS from ${fqdn}`);
      expect(r!.headers.get("x-cache-lookup")).toBe(`NONE from ${fqdn}:${trap.port}`);
      expect(r!.headers.get("connection")).toBe("keep-alive");
      expect(r!.headers.get("date")).toMatch(/^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$/);
      // The URL as Squid shows it: host lower case, no default port, the query cut (strip_query_terms).
      expect(r!.body).toContain('<a href="http://example.invalid/a/b?">http://example.invalid/a/b?</a>');
      expect(r!.body).toContain("<title>ERROR: The requested URL could not be retrieved</title>");
      expect(r!.body).toContain("<p><b>Access Denied.</b></p>");
      expect(r!.body).toContain(`by ${fqdn} (squid/5.7)</p>\n<!-- ERR_ACCESS_DENIED -->`);
      expect(Buffer.byteLength(r!.body, "latin1")).toBe(Number(r!.headers.get("content-length")));

      c.send("HEAD http://example.org/ HTTP/1.1\r\nHost: example.org\r\n\r\n");
      await c.waitFor((s) => s.split("HTTP/1.1 403").length === 3 && s.endsWith("\r\n\r\n"));
      expect(c.isClosed()).toBe(false);
      c.end();
      const commands = sink.of("command").map((x) => x.command);
      expect(commands).toEqual(["GET http://Example.invalid:80/a/b?secret=1 HTTP/1.1", "HEAD http://example.org/ HTTP/1.1"]);
    } finally {
      trap.stop();
    }
  });

  test("CONNECT is refused as Squid refuses it: 403, https://host/* on 443, host:port elsewhere", async () => {
    const { trap, sink } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      c.send("CONNECT Mail.Example.invalid:443 HTTP/1.1\r\nHost: mail.example.invalid:443\r\n\r\nCONNECT example.invalid:25 HTTP/1.1\r\n\r\n");
      await c.waitFor(complete(2));
      const [a, b] = parseResponses(c.text());
      expect(a!.status).toBe("HTTP/1.1 403 Forbidden");
      expect(a!.body).toContain('<a href="https://mail.example.invalid/*">');
      expect(b!.status).toBe("HTTP/1.1 403 Forbidden");
      expect(b!.body).toContain('<a href="example.invalid:25">');
      c.end();
      expect(sink.of("command").map((x) => x.command)).toEqual(["CONNECT Mail.Example.invalid:443 HTTP/1.1", "CONNECT example.invalid:25 HTTP/1.1"]);
    } finally {
      trap.stop();
    }
  });

  test("Proxy-Authorization Basic is logged as a proxy-basic login, and the answer is the same 403", async () => {
    const { trap, sink } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      const cred = Buffer.from("alice:pä:ss").toString("base64");
      c.send(`GET http://example.invalid/ HTTP/1.0\r\nProxy-Authorization: Basic ${cred}\r\n\r\n`);
      await c.closed;
      const [r] = parseResponses(c.text());
      expect(r!.status).toBe("HTTP/1.1 403 Forbidden");
      expect(r!.headers.get("connection")).toBe("close");
      const logins = sink.of("login");
      expect(logins).toHaveLength(1);
      expect(logins[0]!.method).toBe("proxy-basic");
      expect(logins[0]!.user).toBe("alice");
      expect(logins[0]!.password).toBe("pä:ss");
    } finally {
      trap.stop();
    }
  });

  test("a web request is 400 ERR_INVALID_URL and closed; garbage and TLS hellos are ERR_PROTOCOL_UNKNOWN at once", async () => {
    const { trap, sink } = startTestTrap(e);
    try {
      const web = await connect(trap.port);
      web.send("GET / HTTP/1.0\r\n\r\n");
      await web.closed;
      const [r] = parseResponses(web.text());
      expect(r!.status).toBe("HTTP/1.1 400 Bad Request");
      expect(r!.headers.get("x-squid-error")).toBe("ERR_INVALID_URL 0");
      expect(r!.headers.get("connection")).toBe("close");
      expect(r!.body).toContain('<a href="/">/</a>');

      // One word and a line end: answered without waiting for the head's empty line.
      const junk = await connect(trap.port);
      junk.send("HELP\r\n");
      await junk.closed;
      const [j] = parseResponses(junk.text());
      expect(j!.status).toBe("HTTP/1.1 400 Bad Request");
      expect(j!.headers.get("x-squid-error")).toBe("ERR_PROTOCOL_UNKNOWN 0");
      expect(j!.body).toContain('<a href="error:invalid-request">error:invalid-request</a>');

      const v2 = await connect(trap.port);
      v2.send("GET http://x/ HTTP/2.0\r\n\r\n");
      await v2.closed;
      expect(parseResponses(v2.text())[0]!.status).toBe("HTTP/1.1 505 HTTP Version not supported");
      expect(sink.of("error").map((x) => x.message)).toEqual(["unknown protocol", "unsupported HTTP version"]);
    } finally {
      trap.stop();
    }
  });

  test("Squid answers a POST before its body, then reads the body through (Content-Length and chunked) to the next request", async () => {
    const { trap } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      c.send("POST http://example.invalid/upload HTTP/1.1\r\nHost: example.invalid\r\nContent-Length: 10\r\n\r\nabc");
      await c.waitFor(complete(1));
      c.send("defghij");
      c.send("POST http://example.invalid/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
      c.send("GET http://example.invalid/last HTTP/1.1\r\nHost: x\r\n\r\n");
      await c.waitFor(complete(3));
      const rs = parseResponses(c.text());
      expect(rs.map((r) => r.status)).toEqual(["HTTP/1.1 403 Forbidden", "HTTP/1.1 403 Forbidden", "HTTP/1.1 403 Forbidden"]);
      expect(rs[2]!.body).toContain("http://example.invalid/last");
      c.end();
    } finally {
      trap.stop();
    }
  });

  test("a request line past 64 KB is 414 ERR_TOO_BIG; a head past it 431", async () => {
    const { trap } = startTestTrap(e);
    try {
      const a = await connect(trap.port);
      a.send(`GET http://x/${"a".repeat(70_000)} HTTP/1.1\r\n\r\n`);
      await a.closed;
      expect(a.text()).toStartWith("HTTP/1.1 414 URI Too Long\r\n");
      const b = await connect(trap.port);
      b.send(`GET http://x/ HTTP/1.1\r\nHost: x\r\nX: ${"a".repeat(70_000)}\r\n\r\n`);
      await b.closed;
      expect(b.text()).toStartWith("HTTP/1.1 431 Request Header Fields Too Large\r\n");
      expect(b.text()).toContain("X-Squid-Error: ERR_TOO_BIG 0\r\n");
    } finally {
      trap.stop();
    }
  });

  test("every entry names its own version in Server and Via", async () => {
    for (const x of entries) {
      const { trap } = startTestTrap(x);
      try {
        const c = await connect(trap.port);
        c.send("GET http://example.invalid/ HTTP/1.0\r\n\r\n");
        await c.closed;
        const [r] = parseResponses(c.text());
        expect(r!.headers.get("server")).toBe(`squid/${x.version}`);
        expect(r!.headers.get("via")).toEndWith(`(squid/${x.version})`);
      } finally {
        trap.stop();
      }
    }
  });
});
