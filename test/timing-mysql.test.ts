// MySQL timing and hang-ups, against what real servers do: connect_timeout (measured on MariaDB 10.11.19 on
// this machine: 10.0 s of silence after the greeting, nothing written, then RST; each byte received restarts
// it), the close style after an error (RST when input is left unread), no pause before "Access denied", and
// thread ids that count connections. Virtual clock for exact times, real TCP for the wiring.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import net from "node:net";
import { serviceEntries } from "../src/catalog/index.ts";
import { Trap } from "../src/net/listener.ts";
import { makeContext } from "../src/services/context.ts";
import { mysql } from "../src/services/mysql/index.ts";
import type { MysqlTemplates } from "../src/services/mysql/templates.ts";
import type { CatalogEntry } from "../src/types.ts";
import { MemorySink, startTestTrap, driveVirtually, type VirtualRun } from "./helpers.ts";

const entries = serviceEntries("mysql") as CatalogEntry<MysqlTemplates>[];
function entry(id: string): CatalogEntry<MysqlTemplates> {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

/**
 * What each version does to a client that stays silent after the greeting. connect_timeout's default was 5 s
 * before MySQL 5.0.52/5.1.23 and 10 s since (MySQL reference manual, connect_timeout). MySQL's vio closes
 * with shutdown()+close() (FIN); MariaDB 10.11 sets SO_LINGER 0 on a timed-out read (measured: RST, and
 * strace shows setsockopt(SO_LINGER {1, 0}) then close); MariaDB 10.0's vio did not, so 5.5 is taken as FIN.
 */
const SILENT: Record<string, { ms: number; close: "fin" | "reset" }> = {
  "mysql-5.0.51a-debian5": { ms: 5000, close: "fin" },
  "mysql-5.1.73-rhel6": { ms: 10000, close: "fin" },
  "mysql-5.5.62-debian8": { ms: 10000, close: "fin" },
  "mysql-5.5.60-debian7": { ms: 10000, close: "fin" },
  "mysql-5.5.62-ubuntu14.04": { ms: 10000, close: "fin" },
  "mariadb-5.5.68-rhel7": { ms: 10000, close: "fin" },
  "mysql-5.6.51-freebsd": { ms: 10000, close: "fin" },
  "mysql-5.7.21-windows": { ms: 10000, close: "fin" },
  "mariadb-10.11-debian12": { ms: 10000, close: "reset" },
};

interface Run extends VirtualRun {
  greeting: Uint8Array;
}

function run(e: CatalogEntry<MysqlTemplates>): Run {
  const r = driveVirtually(mysql.start(makeContext({ entry: e, hostSeed: "timing", sessionSeed: "t1", now: () => new Date("2024-03-05T07:08:09Z") })));
  return Object.assign(r, {
    get greeting() {
      return r.writes[0] ?? new Uint8Array(0);
    },
  });
}

function saltOf(g: Uint8Array): Uint8Array {
  const nul = g.indexOf(0, 5);
  const salt1 = g.subarray(nul + 5, nul + 13);
  const at = nul + 13 + 1 + 2 + 1 + 2 + 13;
  const salt = new Uint8Array(20);
  salt.set(salt1);
  salt.set(g.subarray(at, at + 12), 8);
  return salt;
}

function nativeResponse(password: string, salt: Uint8Array): Uint8Array {
  const sha1 = (...parts: Uint8Array[]) => new Uint8Array(createHash("sha1").update(Buffer.concat(parts)).digest());
  const stage1 = sha1(Buffer.from(password));
  const mix = sha1(salt, sha1(stage1));
  return stage1.map((b, i) => b ^ mix[i]!);
}

/** A 4.1 HandshakeResponse packet (sequence 1) with mysql_native_password. */
function login(user: string, salt: Uint8Array, password = "secret"): Uint8Array {
  const caps = 0x1 | 0x200 | 0x8000 | 0x80000;
  const auth = nativeResponse(password, salt);
  const body = Buffer.concat([
    Buffer.from([caps & 0xff, (caps >> 8) & 0xff, (caps >> 16) & 0xff, caps >>> 24, 0, 0, 0, 1, 33]),
    Buffer.alloc(23),
    Buffer.from(`${user}\0`, "latin1"),
    Buffer.from([auth.length]),
    auth,
    Buffer.from("mysql_native_password\0", "latin1"),
  ]);
  return Uint8Array.from([body.length & 0xff, (body.length >> 8) & 0xff, body.length >> 16, 1, ...body]);
}

describe("mysql timing on the virtual clock", () => {
  test("every entry has its version's expectation", () => {
    expect(Object.keys(SILENT).sort()).toEqual(entries.map((e) => e.id).sort());
  });

  for (const e of entries) {
    test(`${e.id}: a silent client is dropped at connect_timeout without a word`, () => {
      const want = SILENT[e.id]!;
      const r = run(e);
      expect(r.log).toEqual([{ at: 0, what: `write ${r.greeting.length}` }]);
      r.clock.advanceTo(want.ms - 1);
      expect(r.driver.isClosed).toBe(false);
      r.clock.advanceTo(want.ms);
      expect(r.log.slice(1)).toEqual([{ at: want.ms, what: `close ${want.close}` }]);
    });
  }

  test("each read waits anew: a byte every 7 s keeps MariaDB 10.11 waiting, 10 s after the last it is dropped (measured: RST at 31.0 s)", () => {
    const r = run(entry("mariadb-10.11-debian12"));
    const p = login("root", saltOf(r.greeting));
    r.driver.data(p.subarray(0, 4));
    for (let i = 0; i < 3; i++) {
      r.clock.advanceBy(7000);
      expect(r.driver.isClosed).toBe(false);
      r.driver.data(p.subarray(4 + i, 5 + i));
    }
    expect(r.clock.now()).toBe(21000);
    r.clock.advanceTo(30999);
    expect(r.driver.isClosed).toBe(false);
    r.clock.advanceTo(31000);
    expect(r.log.at(-1)).toEqual({ at: 31000, what: "close reset" });
    expect(r.log.filter((l) => l.what.startsWith("write"))).toHaveLength(1);
  });

  test("Access denied comes at once, then FIN; nothing is left armed to fire later", () => {
    for (const e of entries) {
      const r = run(e);
      r.clock.advanceTo(1234);
      r.driver.data(login("root", saltOf(r.greeting)));
      expect(r.log.slice(1)).toEqual([
        { at: 1234, what: "event login" },
        { at: 1234, what: expect.stringMatching(/^write \d+$/) },
        { at: 1234, what: "close fin" },
      ]);
      expect(r.clock.nextDue()).toBeUndefined();
    }
  });

  test("a MySQL 8 client in the middle of the auth switch is still under connect_timeout", () => {
    const r = run(entry("mysql-5.7.21-windows"));
    const caps = 0x1 | 0x200 | 0x8000 | 0x80000;
    const body = Buffer.concat([
      Buffer.from([caps & 0xff, (caps >> 8) & 0xff, (caps >> 16) & 0xff, caps >>> 24, 0, 0, 0, 1, 33]),
      Buffer.alloc(23),
      Buffer.from("root\0", "latin1"),
      Buffer.from([20]),
      Buffer.alloc(20, 0x42),
      Buffer.from("caching_sha2_password\0", "latin1"),
    ]);
    r.driver.data(Uint8Array.from([body.length, 0, 0, 1, ...body]));
    expect(r.log.at(-1)?.what).toMatch(/^write /); // the AuthSwitchRequest
    r.clock.advanceBy(9999);
    expect(r.driver.isClosed).toBe(false);
    r.clock.advanceBy(1);
    expect(r.log.at(-1)).toEqual({ at: 10000, what: "close fin" });
  });
});

/** A raw client that tells an orderly close (FIN: "end") from a reset (ECONNRESET). */
function rawClient(port: number): {
  sock: net.Socket;
  received: () => Buffer;
  ended: Promise<{ how: "fin" | "reset" | "error"; atMs: number; bytes: number }>;
  waitBytes: (n: number, ms: number) => Promise<Buffer>;
} {
  const chunks: Buffer[] = [];
  const t0 = performance.now();
  const sock = net.connect(port, "127.0.0.1");
  const received = () => Buffer.concat(chunks);
  let wake: (() => void) | undefined;
  sock.on("data", (d: Buffer) => {
    chunks.push(d);
    wake?.();
  });
  const ended = new Promise<{ how: "fin" | "reset" | "error"; atMs: number; bytes: number }>((resolve) => {
    sock.on("end", () => resolve({ how: "fin", atMs: performance.now() - t0, bytes: received().length }));
    sock.on("error", (e: NodeJS.ErrnoException) => resolve({ how: e.code === "ECONNRESET" ? "reset" : "error", atMs: performance.now() - t0, bytes: received().length }));
  });
  const waitBytes = (n: number, ms: number) =>
    new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received().length} of ${n} bytes after ${ms} ms`)), ms);
      wake = () => {
        if (received().length >= n) {
          clearTimeout(timer);
          resolve(received());
        }
      };
      wake();
    });
  return { sock, received, ended, waitBytes };
}

function greetingLength(b: Buffer): number {
  return 4 + (b[0]! | (b[1]! << 8) | (b[2]! << 16));
}

describe("mysql timing over real TCP", () => {
  test("5.0.51a: a silent client is closed with FIN at 5 s, nothing written after the greeting", async () => {
    const { trap, sink } = startTestTrap(entry("mysql-5.0.51a-debian5"));
    try {
      const c = rawClient(trap.port);
      const g = await c.waitBytes(4, 3000);
      const end = await Promise.race([c.ended, Bun.sleep(8000).then(() => undefined)]);
      expect(end).toBeDefined();
      expect(end!.how).toBe("fin");
      expect(end!.bytes).toBe(greetingLength(g));
      expect(end!.atMs).toBeGreaterThan(4900);
      expect(end!.atMs).toBeLessThan(6500);
      c.sock.destroy();
      await Bun.sleep(50);
      expect(sink.of("close")[0]?.reason).toBe("closed by service");
    } finally {
      trap.stop();
    }
  }, 12000);

  test("a timed-out read ends with RST where the template says reset (MariaDB 10.11's close, at a test-short 1.5 s)", async () => {
    const e = entry("mariadb-10.11-debian12");
    const short = { ...e, templates: { ...e.templates, connectTimeoutMs: { min: 1500, max: 1500 } } };
    const { trap } = startTestTrap(short);
    try {
      const c = rawClient(trap.port);
      await c.waitBytes(4, 3000);
      c.sock.write(Buffer.from([0x50, 0, 0, 1])); // a header, then silence: the payload read times out
      const end = await Promise.race([c.ended, Bun.sleep(5000).then(() => undefined)]);
      expect(end?.how).toBe("reset");
      expect(end!.atMs).toBeGreaterThan(1400);
      expect(end!.atMs).toBeLessThan(3000);
    } finally {
      trap.stop();
    }
  }, 8000);

  test("an HTTP request gets 'Got packets out of order' and a reset, a login 'Access denied' (1698 for Debian's root) and a FIN", async () => {
    const { trap } = startTestTrap(entry("mariadb-10.11-debian12"));
    try {
      const http = rawClient(trap.port);
      const g = await http.waitBytes(4, 3000);
      http.sock.write("GET / HTTP/1.0\r\n\r\n");
      const e1 = await Promise.race([http.ended, Bun.sleep(3000).then(() => undefined)]);
      expect(e1?.how).toBe("reset");
      expect(http.received().subarray(greetingLength(g)).toString("latin1")).toBe("!\x00\x00\x01\xff\x84\x04#08S01Got packets out of order");

      const ok = rawClient(trap.port);
      const g2 = await ok.waitBytes(greetingLength(await ok.waitBytes(4, 3000)), 3000);
      ok.sock.write(login("root", saltOf(new Uint8Array(g2))));
      const e2 = await Promise.race([ok.ended, Bun.sleep(3000).then(() => undefined)]);
      expect(e2?.how).toBe("fin");
      expect(ok.received().subarray(greetingLength(g2)).toString("latin1")).toBe("2\x00\x00\x02\xff\xa2\x06#28000Access denied for user 'root'@'localhost'");
      ok.sock.destroy();
    } finally {
      trap.stop();
    }
  }, 10000);
});

describe("thread ids over real TCP", () => {
  async function threadIds(seed: string, n: number): Promise<number[]> {
    const trap = new Trap({ entry: entry("mysql-5.5.62-debian8"), hostname: "127.0.0.1", port: 0, hostSeed: seed, sink: new MemorySink() });
    trap.start();
    try {
      const ids: number[] = [];
      for (let i = 0; i < n; i++) {
        const c = rawClient(trap.port);
        const head = await c.waitBytes(4, 3000);
        const g = await c.waitBytes(greetingLength(head), 3000);
        const nul = g.indexOf(0, 5);
        ids.push(g.readUInt32LE(nul + 1));
        c.sock.destroy();
        await c.ended.catch(() => {});
      }
      return ids;
    } finally {
      trap.stop();
    }
  }

  test("consecutive connections to one trap get consecutive ids (as mysqld's: 5, 6, 7, 8, 9 measured); other hosts count elsewhere", async () => {
    const a = await threadIds("host-a", 5);
    expect(a.slice(1).map((v, i) => v - a[i]!)).toEqual([1, 1, 1, 1]);
    // A server that has been up for a while has served others: never 1, 2, 3 on a fresh trap.
    expect(a[0]!).toBeGreaterThan(1);
    const b = await threadIds("host-b", 2);
    expect(b[1]! - b[0]!).toBe(1);
    expect(b[0]).not.toBe(a[0]);
  }, 15000);
});
