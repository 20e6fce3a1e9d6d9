// memcached faces over real TCP on 127.0.0.1: what nmap's Memcache probe and memcached-info read
// (stats in the version's order, version), the text protocol's words (ERROR, CLIENT_ERROR …, STORED,
// data blocks), the hang-ups (quit, an HTTP request line on 1.6, an over-long line), the binary
// protocol's version, and every command in the log. Expected words come from memcached's sources and
// from Debian 12's memcached 1.6.18 run on this machine, not from the fixture.
import { afterAll, describe, expect, test } from "bun:test";
import { findEntry } from "../../src/catalog/index.ts";
import type { Trap } from "../../src/net/listener.ts";
import { connect, startTestTrap, type MemorySink } from "../helpers.ts";

const traps: Trap[] = [];
afterAll(() => {
  for (const t of traps) t.stop();
});

function trap(id: string): { port: number; sink: MemorySink } {
  const { trap, sink } = startTestTrap(findEntry(id)!);
  traps.push(trap);
  return { port: trap.port, sink };
}

async function ask(port: number, request: string | Uint8Array, done: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  const c = await connect(port);
  try {
    c.send(request);
    const text = await c.waitFor((t) => done(t) || c.isClosed(), 3000).catch(() => c.text());
    if (!c.isClosed()) await Promise.race([c.closed, Bun.sleep(150)]);
    return { text, closed: c.isClosed() };
  } finally {
    c.end();
  }
}

const ends = (s: string) => (x: string) => x.endsWith(s);

describe("memcached 1.6.18 (Debian 12)", () => {
  const t = trap("memcached-1.6.18-debian12");

  test("stats: pid, uptime, time and version first, as nmap's Memcache probe reads them, then END", async () => {
    const r = await ask(t.port, "stats\r\n", ends("END\r\n"));
    expect(r.text).toMatch(/^STAT pid \d+\r\nSTAT uptime \d+\r\nSTAT time \d+\r\nSTAT version 1\.6\.18\r\nSTAT libevent 2\.1\.12-stable\r\nSTAT pointer_size 64\r\n/);
    const keys = [...r.text.matchAll(/^STAT (\S+) /gm)].map((m) => m[1]);
    expect(keys.length).toBe(92); // as the real 1.6.18 prints them
    expect(keys.slice(-3)).toEqual(["moves_within_lru", "direct_reclaims", "lru_bumps_dropped"]);
    expect(r.text).not.toContain("{{");
    // The clock is the host's: within a day of ours whatever its zone.
    const time = Number(/STAT time (\d+)/.exec(r.text)![1]);
    expect(Math.abs(time - Date.now() / 1000)).toBeLessThan(86_400);
  });

  test("version, stats settings with the port, unknown commands", async () => {
    expect((await ask(t.port, "version\r\n", ends("\r\n"))).text).toBe("VERSION 1.6.18\r\n");
    expect((await ask(t.port, "stats settings\r\n", ends("END\r\n"))).text).toContain(`STAT tcpport ${t.port}\r\n`);
    expect((await ask(t.port, "foo\r\n\r\n", ends("ERROR\r\nERROR\r\n"))).text).toBe("ERROR\r\nERROR\r\n");
    expect((await ask(t.port, "shutdown\r\n", ends("\r\n"))).text).toBe("ERROR: shutdown not enabled\r\n");
  });

  test("set and get within the session, a bad data chunk, numbers", async () => {
    expect((await ask(t.port, "set k 5 0 3\r\nabc\r\nget k\r\n", ends("END\r\n"))).text).toBe("STORED\r\nVALUE k 5 3\r\nabc\r\nEND\r\n");
    expect((await ask(t.port, "set k 0 0 1\r\nxyz\r\n", ends("chunk\r\nERROR\r\n"))).text).toBe("CLIENT_ERROR bad data chunk\r\nERROR\r\n");
    expect((await ask(t.port, "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 100\r\n", ends("0\r\n"))).text).toBe("STORED\r\n15\r\n0\r\n");
    expect((await ask(t.port, "set k 0 0 abc\r\n", ends("\r\n"))).text).toBe("CLIENT_ERROR bad command line format\r\n");
    expect((await ask(t.port, "flush_all x\r\n", ends("\r\n"))).text).toBe("CLIENT_ERROR invalid exptime argument\r\n");
  });

  test("hang-ups: quit, an HTTP request line, a 5000-byte line without its end", async () => {
    for (const req of ["quit\r\n", "GET / HTTP/1.0\r\n\r\n", "x".repeat(5000)]) {
      const r = await ask(t.port, req, () => false);
      expect(r.text).toBe("");
      expect(r.closed).toBe(true);
    }
  });

  test("binary protocol: version", async () => {
    const req = new Uint8Array(24);
    req[0] = 0x80;
    req[1] = 0x0b;
    const r = await ask(t.port, req, (x) => x.length >= 30);
    const b = Buffer.from(r.text, "latin1");
    expect(b[0]).toBe(0x81);
    expect(b[1]).toBe(0x0b);
    expect(b.readUInt16BE(6)).toBe(0);
    expect(b.readUInt32BE(8)).toBe(6);
    expect(b.subarray(24).toString()).toBe("1.6.18");
  });

  test("every command is a command event", async () => {
    await ask(t.port, "flush_all\r\nset evil 0 0 4\r\nhack\r\n", ends("STORED\r\n"));
    const commands = t.sink.of("command").map((e) => e.command);
    expect(commands).toContain("flush_all");
    expect(commands).toContain("set evil 0 0 4");
    expect(t.sink.of("login")).toHaveLength(0);
  });
});

describe("memcached 1.4.14 (Ubuntu 14.04)", () => {
  const t = trap("memcached-1.4.14-ubuntu14");

  test("Ubuntu's version string, 1.4.14's stats order, and HTTP answered with ERRORs", async () => {
    const r = await ask(t.port, "stats\r\n", ends("END\r\n"));
    expect(r.text).toMatch(/^STAT pid \d+\r\nSTAT uptime \d+\r\nSTAT time \d+\r\nSTAT version 1\.4\.14 \(Ubuntu\)\r\nSTAT libevent 2\.0\.21-stable\r\n/);
    const keys = [...r.text.matchAll(/^STAT (\S+) /gm)].map((m) => m[1]);
    expect(keys.slice(-7)).toEqual(["expired_unfetched", "evicted_unfetched", "bytes", "curr_items", "total_items", "evictions", "reclaimed"]);
    expect((await ask(t.port, "GET / HTTP/1.0\r\n\r\n", ends("ERROR\r\nERROR\r\n"))).text).toBe("ERROR\r\nERROR\r\n");
    expect((await ask(t.port, "shutdown\r\n", ends("\r\n"))).text).toBe("ERROR\r\n");
    expect((await ask(t.port, "flush_all x\r\n", ends("\r\n"))).text).toBe("OK\r\n");
  });
});
