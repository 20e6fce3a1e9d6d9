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

  test("a banner that hard-matches ends the scan at the NULL probe", () => {
    const s = server({ banner: "220 FakeFTP 42\r\n" });
    const r = scanner.scan(s.connect, { port: 21 });
    expect([r.state, r.product, r.version, r.probe]).toEqual(["matched", "FakeFTP", "42", "NULL"]);
    expect(s.log).toEqual(["connect"]);
    expect(r.estimatedMs).toBe(0);
  });

  test("after a silent NULL probe the first probe goes out on the same connection, the banner kept", () => {
    const s = server({ banner: "220 other\r\n", answers: { "\r\n\r\n": "500 What?\r\n" } });
    const r = scanner.scan(s.connect, { port: 2121 });
    expect(s.log.slice(0, 2)).toEqual(["connect", 'send "\\r\\n\\r\\n"']);
    // Matched on banner + answer together: GenericLines' line needs both.
    expect([r.product, r.probe]).toEqual(["WhatFTP", "GenericLines"]);
  });

  test("a softmatch narrows later probes to those that can name its service", () => {
    const s = server({ banner: "220 other\r\n" });
    const r = scanner.scan(s.connect, { port: 2121 });
    expect(r.state).toBe("softmatched");
    expect(r.service).toBe("ftp");
    // GetRequest and HTTPOptions cannot say ftp, so they are never sent.
    expect(s.log.some((l) => l.includes("GET /"))).toBe(false);
    expect(s.log.some((l) => l.includes("OPTIONS"))).toBe(false);
  });

  test("probes for the port go first regardless of rarity; others only up to the intensity", () => {
    const s = server({ answers: { "GET /": "HTTP/1.0 200 OK\r\nServer: Fake/1.2\r\n\r\n" } });
    const r = scanner.scan(s.connect, { port: 80 });
    expect([r.product, r.version, r.probe]).toEqual(["Fake httpd", "1.2", "GetRequest"]);
    expect(s.log[1]).toBe('send "GET / HTTP/1.0\\r\\n\\r\\n"');
    const quiet = server({});
    scanner.scan(quiet.connect, { port: 5555, intensity: 7 });
    expect(quiet.log.some((l) => l.includes("RARE"))).toBe(false);
    const all = server({});
    scanner.scan(all.connect, { port: 5555, intensity: 9 });
    expect(all.log.some((l) => l.includes("RARE"))).toBe(true);
  });

  test("a probe's response is also tried against its fallback's lines", () => {
    const s = server({ answers: { OPTIONS: "HTTP/1.0 200 OK\r\nServer: Fake/9\r\n\r\n" } });
    const r = scanner.scan(s.connect, { port: 5555 });
    expect([r.product, r.version, r.probe, r.line]).toEqual(["Fake httpd", "9", "HTTPOptions", 12]);
  });

  test("closing at once without a byte is tcpwrapped; excluded ports are not probed", () => {
    expect(scanner.scan(server({ closeSilently: true }).connect, { port: 2121 }).state).toBe("tcpwrapped");
    const ex = server({ banner: "220 FakeFTP 1\r\n" });
    expect(scanner.scan(ex.connect, { port: 9100 }).state).toBe("excluded");
    expect(ex.log).toEqual([]);
  });

  test("silent steps cost their wait in the estimate: NULL 6 s, then 5 s per probe", () => {
    const s = server({});
    const r = scanner.scan(s.connect, { port: 5555 });
    expect(r.state).toBe("nomatch");
    expect(r.estimatedMs).toBe(6000 + 5000 * 3); // GenericLines, GetRequest, HTTPOptions
  });
});
