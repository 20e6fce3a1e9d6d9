// The scan model's rules, each on a tiny hand-written probe file and a scripted server.
import { describe, expect, test } from "bun:test";
import { Scanner, type Connection } from "../../src/nmap/engine.ts";
import { parseProbeFile } from "../../src/nmap/probes.ts";
import { toBytes, toLatin1 } from "../../src/wire/bytes.ts";

const FILE = parseProbeFile(
  [
    "Exclude T:9100",
    "Probe TCP NULL q||",
    "totalwaitms 6000",
    "match ftp m|^220 FakeFTP (\\d+)\\r\\n| p/FakeFTP/ v/$1/",
    "softmatch ftp m|^220 |",
    "Probe TCP GenericLines q|\\r\\n\\r\\n|",
    "rarity 1",
    "match ftp m|^220 [^\\r]*\\r\\n500 What\\?| p/WhatFTP/",
    "Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|",
    "rarity 1",
    "ports 80",
    "match http m|^HTTP/1\\.0 200 OK\\r\\nServer: Fake/([\\d.]+)| p/Fake httpd/ v/$1/",
    "softmatch http m|^HTTP/1\\.[01] \\d\\d\\d|",
    "Probe TCP Rare q|RARE\\r\\n|",
    "rarity 8",
    "match rare m|^RARE OK| p/Rare/",
    "Probe TCP HTTPOptions q|OPTIONS / HTTP/1.0\\r\\n\\r\\n|",
    "rarity 4",
    "fallback GetRequest",
  ].join("\n"),
);

/** A scripted server: a banner, and answers by request prefix; `closeOn` hangs up without a word. */
function server(o: { banner?: string; answers?: Record<string, string>; closeSilently?: boolean }) {
  const log: string[] = [];
  const connect = (): Connection => {
    log.push("connect");
    return {
      open: () => (o.closeSilently ? { data: new Uint8Array(0), closed: true } : { data: toBytes(o.banner ?? ""), closed: false }),
      send: (bytes) => {
        const req = toLatin1(bytes);
        log.push(`send ${JSON.stringify(req)}`);
        const hit = Object.entries(o.answers ?? {}).find(([k]) => req.startsWith(k));
        return { data: toBytes(hit?.[1] ?? ""), closed: hit !== undefined };
      },
    };
  };
  return { connect, log };
}

describe("scan model", () => {
  const scanner = new Scanner(FILE);

  test("a banner that hard-matches ends the scan at the NULL probe", async () => {
    const s = server({ banner: "220 FakeFTP 42\r\n" });
    const r = await scanner.scan(s.connect, { port: 21 });
    expect([r.state, r.product, r.version, r.probe]).toEqual(["matched", "FakeFTP", "42", "NULL"]);
    expect(s.log).toEqual(["connect"]);
    expect(r.estimatedMs).toBe(0);
  });

  test("after a silent NULL probe the first probe goes out on the same connection, the banner kept", async () => {
    const s = server({ banner: "220 other\r\n", answers: { "\r\n\r\n": "500 What?\r\n" } });
    const r = await scanner.scan(s.connect, { port: 2121 });
    expect(s.log.slice(0, 2)).toEqual(["connect", 'send "\\r\\n\\r\\n"']);
    // Matched on banner + answer together: GenericLines' line needs both.
    expect([r.product, r.probe]).toEqual(["WhatFTP", "GenericLines"]);
  });

  test("a softmatch narrows later probes to those that can name its service", async () => {
    const s = server({ banner: "220 other\r\n" });
    const r = await scanner.scan(s.connect, { port: 2121 });
    expect(r.state).toBe("softmatched");
    expect(r.service).toBe("ftp");
    // GetRequest and HTTPOptions cannot say ftp, so they are never sent.
    expect(s.log.some((l) => l.includes("GET /"))).toBe(false);
    expect(s.log.some((l) => l.includes("OPTIONS"))).toBe(false);
  });

  test("probes for the port go first regardless of rarity; others only up to the intensity", async () => {
    const s = server({ answers: { "GET /": "HTTP/1.0 200 OK\r\nServer: Fake/1.2\r\n\r\n" } });
    const r = await scanner.scan(s.connect, { port: 80 });
    expect([r.product, r.version, r.probe]).toEqual(["Fake httpd", "1.2", "GetRequest"]);
    expect(s.log[1]).toBe('send "GET / HTTP/1.0\\r\\n\\r\\n"');
    const quiet = server({});
    await scanner.scan(quiet.connect, { port: 5555, intensity: 7 });
    expect(quiet.log.some((l) => l.includes("RARE"))).toBe(false);
    const all = server({});
    await scanner.scan(all.connect, { port: 5555, intensity: 9 });
    expect(all.log.some((l) => l.includes("RARE"))).toBe(true);
  });

  test("a probe's response is also tried against its fallback's lines", async () => {
    const s = server({ answers: { OPTIONS: "HTTP/1.0 200 OK\r\nServer: Fake/9\r\n\r\n" } });
    const r = await scanner.scan(s.connect, { port: 5555 });
    expect([r.product, r.version, r.probe, r.line]).toEqual(["Fake httpd", "9", "HTTPOptions", 12]);
  });

  test("closing at once without a byte is tcpwrapped; excluded ports are not probed", async () => {
    expect((await scanner.scan(server({ closeSilently: true }).connect, { port: 2121 })).state).toBe("tcpwrapped");
    const ex = server({ banner: "220 FakeFTP 1\r\n" });
    expect((await scanner.scan(ex.connect, { port: 9100 })).state).toBe("excluded");
    expect(ex.log).toEqual([]);
  });

  test("silent steps cost their wait in the estimate: NULL 6 s, then 5 s per probe", async () => {
    const s = server({});
    const r = await scanner.scan(s.connect, { port: 5555 });
    expect(r.state).toBe("nomatch");
    expect(r.estimatedMs).toBe(6000 + 5000 * 3); // GenericLines, GetRequest, HTTPOptions
  });

  test("an ssl match starts over through the tunnel, where sslports order the probes and the service is ssl/<name>", async () => {
    const file = parseProbeFile(
      [
        "Probe TCP NULL q||",
        "Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|",
        "rarity 1",
        "ports 80",
        "sslports 443",
        "match http m|^HTTP/1\\.0 200 OK\\r\\nServer: Fake/([\\d.]+)| p/Fake httpd/ v/$1/",
        "Probe TCP Hello q|HELLO\\r\\n|",
        "rarity 1",
        "ports 443",
        "match ssl m|^\\x15\\x03\\x01\\0\\x02\\x02F|",
      ].join("\n"),
    );
    const log: string[] = [];
    // Raw: an alert to anything; through the tunnel: an HTTP server.
    const connect = (tunnel: "none" | "ssl" = "none"): Connection => ({
      open: () => ({ data: new Uint8Array(0), closed: false }),
      send: async (bytes) => {
        log.push(`${tunnel} ${toLatin1(bytes).trim()}`);
        if (tunnel === "none") return { data: toBytes("\x15\x03\x01\x00\x02\x02F"), closed: true };
        return { data: toBytes(toLatin1(bytes).startsWith("GET") ? "HTTP/1.0 200 OK\r\nServer: Fake/2.1\r\n\r\n" : ""), closed: false };
      },
    });
    const r = await new Scanner(file).scan(connect, { port: 443 });
    expect([r.state, r.service, r.product, r.version, r.tunnel]).toEqual(["matched", "ssl/http", "Fake httpd", "2.1", "ssl"]);
    // Raw, the port's probe (Hello) goes first and its alert says ssl; through the tunnel GetRequest is the port's.
    expect(log).toEqual(["none HELLO", "ssl GET / HTTP/1.0"]);
    expect(r.steps.filter((s) => s.tunnel === "ssl").map((s) => s.probe)).toEqual(["NULL", "GetRequest"]);
  });
});
