// The http faces behave like the servers they claim, not only like their banners: byte ranges, conditional
// requests, gzip, keep-alive announcements, Expect: 100-continue, over-long headers and the paths the
// products ship. Every expectation here was measured on the real Debian 12 packages (apache2 2.4.71 and
// nginx 1.22.1, bound to loopback) with the same requests; the gzip bytes are checked against Python's
// zlib, the library mod_deflate and nginx call, with the settings each uses.
import { afterAll, describe, expect, test } from "bun:test";
import { BUN, connect, startProcess, withTimeout, type Running } from "../helpers.ts";

const CURL = "/usr/bin/curl";
const running: Running[] = [];
afterAll(async () => {
  for (const r of running) await r.stop();
});

const ports = new Map<string, Promise<number>>();
function face(banner: string): Promise<number> {
  if (!ports.has(banner)) {
    ports.set(
      banner,
      startProcess([BUN, "src/cli.ts", "http", "0", "--host", "127.0.0.1", "--banner", banner, "--max-rate-per-source", "0"]).then((r) => {
        running.push(r);
        return r.port;
      }),
    );
  }
  return ports.get(banner)!;
}
const APACHE = "apache-2.4.57-debian";
const NGINX = "nginx-1.22.1-debian";

/** One request over a fresh connection; the answer as latin1 text (head and body), after the close or `ms`. */
async function raw(port: number, request: string, ms = 1500): Promise<string> {
  const c = await connect(port);
  c.send(request);
  await Promise.race([c.closed, Bun.sleep(ms)]);
  c.end();
  return c.text();
}

function split(response: string): { status: string; headers: Map<string, string>; names: string[]; body: string } {
  const end = response.indexOf("\r\n\r\n");
  const lines = response.slice(0, end).split("\r\n");
  const headers = new Map<string, string>();
  const names: string[] = [];
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    names.push(l.slice(0, i));
    headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
  }
  return { status: lines[0]!, headers, names, body: response.slice(end + 4) };
}

async function curl(args: string[]): Promise<{ out: string; err: string; code: number | null }> {
  const proc = Bun.spawn([CURL, "--silent", "--show-error", "--max-time", "10", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { out, err, code: await withTimeout(proc.exited, 15_000, "curl") };
}

/** Raw deflate by the system zlib through Python: what Apache (level 6, window 15) and nginx (level 1, shrunk window) produce. */
function pythonDeflate(data: Buffer, level: number, wbits: number, memLevel: number): Buffer {
  const code = `import sys,zlib\nd=sys.stdin.buffer.read()\nc=zlib.compressobj(${level},zlib.DEFLATED,-${wbits},${memLevel})\nsys.stdout.buffer.write(c.compress(d)+c.flush())`;
  const p = Bun.spawnSync(["python3", "-c", code], { stdin: data });
  return Buffer.from(p.stdout);
}

const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: www.example.com\r\n${extra}Connection: close\r\n\r\n`;

describe("HTTP depth, as the real Apache 2.4 on Debian answers", () => {
  test("Range gives 206 with Content-Range; several ranges a multipart body; past the end a 416", async () => {
    const port = await face(APACHE);
    const full = split(await raw(port, GET("/")));
    const size = full.body.length;
    const one = split(await raw(port, GET("/", "Range: bytes=0-9\r\n")));
    expect(one.status).toBe("HTTP/1.1 206 Partial Content");
    expect(one.headers.get("content-range")).toBe(`bytes 0-9/${size}`);
    expect(one.headers.get("content-length")).toBe("10");
    expect(one.body).toBe(full.body.slice(0, 10));
    expect(one.names).toEqual(["Date", "Server", "Last-Modified", "ETag", "Accept-Ranges", "Content-Length", "Vary", "Content-Range", "Connection", "Content-Type"]);
    const suffix = split(await raw(port, GET("/", "Range: bytes=-5\r\n")));
    expect(suffix.headers.get("content-range")).toBe(`bytes ${size - 5}-${size - 1}/${size}`);
    const two = split(await raw(port, GET("/", "Range: bytes=0-9,20-29\r\n")));
    const boundary = /^multipart\/byteranges; boundary=([0-9a-f]{16})$/.exec(two.headers.get("content-type") ?? "")?.[1];
    expect(boundary).toBeDefined();
    expect(two.body).toBe(
      `\r\n--${boundary}\r\nContent-type: text/html\r\nContent-range: bytes 0-9/${size}\r\n\r\n${full.body.slice(0, 10)}` +
        `\r\n--${boundary}\r\nContent-type: text/html\r\nContent-range: bytes 20-29/${size}\r\n\r\n${full.body.slice(20, 30)}\r\n--${boundary}--\r\n`,
    );
    expect(two.headers.get("content-length")).toBe(String(two.body.length));
    const past = split(await raw(port, GET("/", "Range: bytes=999999-\r\n")));
    expect(past.status).toBe("HTTP/1.1 416 Requested Range Not Satisfiable");
    expect(past.body).toContain("None of the range-specifier values in the Range");
    // A range that does not parse is ignored: the whole page.
    expect(split(await raw(port, GET("/", "Range: bytes=5-2\r\n"))).status).toBe("HTTP/1.1 200 OK");
  }, 30_000);

  test("the page's own ETag or date gives 304 Not Modified with Apache's headers", async () => {
    const port = await face(APACHE);
    const full = split(await raw(port, GET("/")));
    const etag = full.headers.get("etag")!;
    const byTag = split(await raw(port, GET("/", `If-None-Match: ${etag}\r\n`)));
    expect(byTag.status).toBe("HTTP/1.1 304 Not Modified");
    expect(byTag.names).toEqual(["Date", "Server", "Last-Modified", "ETag", "Accept-Ranges", "Connection"]);
    expect(byTag.body).toBe("");
    const byDate = split(await raw(port, GET("/", `If-Modified-Since: ${full.headers.get("last-modified")}\r\n`)));
    expect(byDate.status).toBe("HTTP/1.1 304 Not Modified");
    const older = split(await raw(port, GET("/", "If-Modified-Since: Thu, 01 Jan 2004 00:00:00 GMT\r\n")));
    expect(older.status).toBe("HTTP/1.1 200 OK");
    expect(split(await raw(port, GET("/", 'If-None-Match: "other"\r\n'))).status).toBe("HTTP/1.1 200 OK");
  }, 30_000);

  test("curl --compressed gets the page gzipped byte for byte as mod_deflate makes it, with -gzip in the ETag", async () => {
    const port = await face(APACHE);
    const full = split(await raw(port, GET("/")));
    const gz = split(await raw(port, GET("/", "Accept-Encoding: gzip, deflate\r\n")));
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(gz.headers.get("etag")).toBe(full.headers.get("etag")!.replace(/"$/, '-gzip"'));
    expect(gz.names).toEqual(["Date", "Server", "Last-Modified", "ETag", "Accept-Ranges", "Vary", "Content-Encoding", "Content-Length", "Connection", "Content-Type"]);
    const bytes = Buffer.from(gz.body, "latin1");
    expect(gz.headers.get("content-length")).toBe(String(bytes.length));
    expect(bytes.subarray(0, 10).toString("hex")).toBe("1f8b0800000000000003");
    expect(bytes.subarray(10, -8).equals(pythonDeflate(Buffer.from(full.body, "latin1"), 6, 15, 8))).toBe(true);
    const viaCurl = await curl(["--compressed", `http://127.0.0.1:${port}/`]);
    expect(viaCurl.out).toBe(Buffer.from(full.body, "latin1").toString("utf8"));
  }, 30_000);

  test("Keep-Alive and Connection go out only to a client that asked for keep-alive", async () => {
    const port = await face(APACHE);
    const plain = split(await raw(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 800));
    expect(plain.headers.has("keep-alive")).toBe(false);
    expect(plain.headers.has("connection")).toBe(false);
    const asked = split(await raw(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", 800));
    expect(asked.headers.get("keep-alive")).toBe("timeout=5, max=100");
    expect(asked.headers.get("connection")).toBe("Keep-Alive");
  }, 30_000);

  test("Expect: 100-continue gets 100 Continue before the body is sent", async () => {
    const port = await face(APACHE);
    const c = await connect(port);
    c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
    expect(await c.waitFor((t) => t.includes("\r\n\r\n"))).toBe("HTTP/1.1 100 Continue\r\n\r\n");
    c.send("hello");
    await c.waitFor((t) => t.includes("HTTP/1.1 200 OK"));
    c.end();
  }, 30_000);

  test("a header line over 8190 bytes and more than 100 header lines get Apache's own 400 pages", async () => {
    const port = await face(APACHE);
    const long = split(await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Long: ${"a".repeat(9000)}\r\n\r\n`));
    expect(long.status).toBe("HTTP/1.1 400 Bad Request");
    expect(long.body).toContain("<p>Your browser sent a request that this server could not understand.<br />\nSize of a request header field exceeds server limit.</p>\n");
    let many = "GET / HTTP/1.1\r\nHost: x\r\n";
    for (let i = 0; i < 120; i++) many += `X-${i}: y\r\n`;
    const fields = split(await raw(port, `${many}\r\n`));
    expect(fields.status).toBe("HTTP/1.1 400 Bad Request");
    expect(fields.body).toContain("The number of request header fields exceeds this server's limit.</p>");
  }, 30_000);

  test("the paths Debian's Apache ships: /icons/ and .ht* refused, the logo the page shows, server-status refused, //index.html served", async () => {
    const port = await face(APACHE);
    const page = split(await raw(port, GET("/")));
    expect(page.body).toContain('src="/icons/openlogo-75.png"');
    for (const path of ["/icons/", "/.htaccess", "/.htpasswd", "/.hta", "/server-status"]) {
      const r = split(await raw(port, GET(path)));
      expect(`${path} ${r.status}`).toBe(`${path} HTTP/1.1 403 Forbidden`);
      expect(r.body).toContain("You don't have permission to access this resource.");
    }
    const logo = await raw(port, GET("/icons/openlogo-75.png"));
    const l = split(logo);
    expect(l.status).toBe("HTTP/1.1 200 OK");
    expect(l.headers.get("content-type")).toBe("image/png");
    const png = Buffer.from(l.body, "latin1");
    expect(png.length).toBe(5754);
    expect(png.subarray(0, 8).toString("hex")).toBe("89504e470d0a1a0a");
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([75, 99]);
    expect(split(await raw(port, GET("//index.html"))).body).toBe(page.body);
    expect(split(await raw(port, GET("/icons/nothing-here.png"))).status).toBe("HTTP/1.1 404 Not Found");
  }, 30_000);

  test("TRACE is off as Debian configures it (405 with an empty Allow); OPTIONS * is a bare 200", async () => {
    const port = await face(APACHE);
    const trace = split(await raw(port, "TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    expect(trace.status).toBe("HTTP/1.1 405 Method Not Allowed");
    expect(trace.headers.get("allow")).toBe("");
    const star = split(await raw(port, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    expect(star.status).toBe("HTTP/1.1 200 OK");
    expect(star.names).toEqual(["Date", "Server", "Content-Length", "Connection"]);
  }, 30_000);

  // The real server gave server-status 200 to this machine itself (mod_status: Require local) and 403 to anyone else.
  test("dirb's common word list finds what it finds on the real server: index.html, the .ht files refused, server-status refused to a remote client", async () => {
    const port = await face(APACHE);
    const words = (await Bun.file("/usr/share/dirb/wordlists/common.txt").exists()) ? (await Bun.file("/usr/share/dirb/wordlists/common.txt").text()).split("\n") : [];
    expect(words.length).toBeGreaterThan(4000);
    const found: string[] = [];
    // The word list dirb ships, each word one GET on its own connection, 200 at a time.
    for (let i = 0; i < words.length; i += 200) {
      const batch = words.slice(i, i + 200).filter((w) => /^[\x21-\x7e]+$/.test(w));
      const results = await Promise.all(
        batch.map(async (w) => {
          const r = await raw(port, GET(`/${w}`), 3000);
          return [w, r.slice(9, 12)] as const;
        }),
      );
      for (const [w, code] of results) if (code !== "404") found.push(`${w} ${code}`);
    }
    expect(found.sort()).toEqual([".hta 403", ".htaccess 403", ".htpasswd 403", "index.html 200", "server-status 403"]);
  }, 120_000);
});

describe("HTTP depth, as the real nginx 1.22 on Debian answers", () => {
  test("Range: 206 without Accept-Ranges, a counter for the multipart boundary, 416 with Content-Range: bytes */size", async () => {
    const port = await face(NGINX);
    const full = split(await raw(port, GET("/")));
    const size = full.body.length;
    const one = split(await raw(port, GET("/", "Range: bytes=0-9\r\n")));
    expect(one.status).toBe("HTTP/1.1 206 Partial Content");
    expect(one.names).toEqual(["Server", "Date", "Content-Type", "Content-Length", "Last-Modified", "Connection", "ETag", "Content-Range"]);
    const two = split(await raw(port, GET("/", "Range: bytes=0-9,20-29\r\n")));
    const boundary = /^multipart\/byteranges; boundary=(\d{20})$/.exec(two.headers.get("content-type") ?? "")?.[1];
    expect(boundary).toBeDefined();
    expect(two.body).toContain(`\r\n--${boundary}\r\nContent-Type: text/html\r\nContent-Range: bytes 0-9/${size}\r\n\r\n`);
    const past = split(await raw(port, GET("/", "Range: bytes=999999-\r\n")));
    expect(past.status).toBe("HTTP/1.1 416 Requested Range Not Satisfiable");
    expect(past.headers.get("content-range")).toBe(`bytes */${size}`);
    const etag = full.headers.get("etag")!;
    const nm = split(await raw(port, GET("/", `If-None-Match: ${etag}\r\n`)));
    expect(nm.status).toBe("HTTP/1.1 304 Not Modified");
    expect(nm.names).toEqual(["Server", "Date", "Last-Modified", "Connection", "ETag"]);
  }, 30_000);

  test("gzip: HTTP/1.1 only, chunked, a weak ETag, the bytes nginx's zlib settings make", async () => {
    const port = await face(NGINX);
    const full = split(await raw(port, GET("/")));
    const gz = split(await raw(port, GET("/", "Accept-Encoding: gzip\r\n")));
    expect(gz.headers.get("transfer-encoding")).toBe("chunked");
    expect(gz.headers.get("etag")).toBe(`W/${full.headers.get("etag")}`);
    const m = /^([0-9a-f]+)\r\n/.exec(gz.body)!;
    const data = Buffer.from(gz.body.slice(m[0].length, m[0].length + parseInt(m[1]!, 16)), "latin1");
    expect(gz.body.endsWith("\r\n0\r\n\r\n")).toBe(true);
    expect(data.subarray(0, 10).toString("hex")).toBe("1f8b0800000000000403");
    // nginx shrinks the window to the length: 15 bits less one per halving above 512 bytes, memLevel likewise.
    let wbits = 15;
    let mem = 8;
    while (full.body.length < 1 << (wbits - 1) && wbits > 9) {
      wbits--;
      mem--;
    }
    expect(data.subarray(10, -8).equals(pythonDeflate(Buffer.from(full.body, "latin1"), 1, wbits, mem))).toBe(true);
    const old = split(await raw(port, "GET / HTTP/1.0\r\nAccept-Encoding: gzip\r\n\r\n"));
    expect(old.headers.has("content-encoding")).toBe(false);
  }, 30_000);

  test("OPTIONS * is a 400, a header line without a colon is ignored, TRACE is a 405, POST with Expect gets its 405 at once", async () => {
    const port = await face(NGINX);
    expect(split(await raw(port, "OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).status).toBe("HTTP/1.1 400 Bad Request");
    expect(split(await raw(port, "GET / HTTP/1.1\r\nHost: x\r\nBadHeader\r\nConnection: close\r\n\r\n")).status).toBe("HTTP/1.1 200 OK");
    expect(split(await raw(port, "TRACE / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).status).toBe("HTTP/1.1 405 Not Allowed");
    const c = await connect(port);
    c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
    expect((await c.waitFor((t) => t.includes("</html>"))).startsWith("HTTP/1.1 405 Not Allowed\r\n")).toBe(true);
    c.end();
    const long = split(await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Long: ${"a".repeat(9000)}\r\n\r\n`));
    expect(long.body).toContain("<title>400 Request Header Or Cookie Too Large</title>");
  }, 30_000);
});
