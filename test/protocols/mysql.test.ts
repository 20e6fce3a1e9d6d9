import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { serviceEntries } from "../../src/catalog/index.ts";
import { makeContext } from "../../src/services/context.ts";
import { mysql } from "../../src/services/mysql/index.ts";
import type { MysqlTemplates } from "../../src/services/mysql/templates.ts";
import type { CatalogEntry, ProtocolSession, Reply } from "../../src/types.ts";
import { toBytes, toLatin1 } from "../../src/wire/bytes.ts";

const catalog = { entries: serviceEntries("mysql") as CatalogEntry<MysqlTemplates>[], defaultPorts: mysql.defaultPorts };

// Capability flags, from the MySQL client/server protocol documentation.
const LONG_PASSWORD = 0x1;
const CONNECT_WITH_DB = 0x8;
const PROTOCOL_41 = 0x200;
const SSL = 0x800;
const SECURE_CONNECTION = 0x8000;
const PLUGIN_AUTH = 0x80000;
const PLUGIN_AUTH_LENENC = 0x200000;

function entry(id: string): CatalogEntry<MysqlTemplates> {
  const e = catalog.entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

function start(e: CatalogEntry<MysqlTemplates>, remoteAddress = "127.0.0.1", sessionSeed = "s1"): { s: ProtocolSession; greeting: Uint8Array } {
  const s = mysql.start(makeContext({ entry: e, hostSeed: "test", sessionSeed, now: () => new Date("2024-03-05T07:08:09Z"), remoteAddress }));
  const w = s.open().write;
  return { s, greeting: typeof w === "string" ? toBytes(w) : (w ?? new Uint8Array(0)) };
}

function bytes(r: Reply): Uint8Array {
  return r.write === undefined ? new Uint8Array(0) : typeof r.write === "string" ? toBytes(r.write) : r.write;
}

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

/** Wraps a payload in a MySQL packet header: 3-byte little-endian length, then the sequence id. */
function pkt(seq: number, payload: number[] | Uint8Array): Uint8Array {
  const p = Uint8Array.from(payload);
  return Uint8Array.from([p.length & 0xff, (p.length >> 8) & 0xff, p.length >> 16, seq, ...p]);
}

function str(s: string): number[] {
  return [...toBytes(s)];
}

function le32(n: number): number[] {
  return [n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff];
}

/** A 4.1 HandshakeResponse as the mysql command-line client sends it. */
function response41(user: string, auth: number[], opts: { plugin?: string; db?: string; lenenc?: boolean } = {}): number[] {
  let caps = LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION;
  if (opts.plugin !== undefined) caps |= PLUGIN_AUTH;
  if (opts.db !== undefined) caps |= CONNECT_WITH_DB;
  if (opts.lenenc) caps |= PLUGIN_AUTH_LENENC;
  const out = [...le32(caps), ...le32(16 * 1024 * 1024), 33, ...new Array(23).fill(0), ...str(user), 0, auth.length, ...auth];
  if (opts.db !== undefined) out.push(...str(opts.db), 0);
  if (opts.plugin !== undefined) out.push(...str(opts.plugin), 0);
  return out;
}

interface Greeting {
  length: number;
  seq: number;
  protocol: number;
  version: string;
  threadId: number;
  salt: Uint8Array;
  caps: number;
  plugin: string | undefined;
}

/** mysql_native_password: SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))), as a client computes it. */
function nativeResponse(password: string, salt: Uint8Array): Uint8Array {
  const sha1 = (...parts: Uint8Array[]) => new Uint8Array(createHash("sha1").update(Buffer.concat(parts)).digest());
  const stage1 = sha1(Buffer.from(password));
  const mix = sha1(salt, sha1(stage1));
  return stage1.map((b, i) => b ^ mix[i]!);
}

/** Decodes a protocol-10 greeting byte by byte, checking the fixed fields on the way. */
function parseGreeting(g: Uint8Array, layout: string): Greeting {
  const length = g[0]! | (g[1]! << 8) | (g[2]! << 16);
  const nul = g.indexOf(0, 5);
  const version = toLatin1(g.subarray(5, nul));
  let at = nul + 1;
  const threadId = g[at]! | (g[at + 1]! << 8) | (g[at + 2]! << 16) | (g[at + 3]! << 24);
  at += 4;
  const salt1 = g.subarray(at, at + 8);
  at += 8;
  expect(g[at]).toBe(0); // filler
  at += 1;
  let caps = u16(g, at);
  at += 2 + 1 + 2; // capabilities, charset, status
  let plugin: string | undefined;
  let salt2: Uint8Array;
  if (layout === "plugin") {
    caps |= u16(g, at) << 16;
    at += 2;
    expect(g[at]).toBe(21); // auth-plugin-data length: 8 + 12 + NUL
    at += 1;
    expect([...g.subarray(at, at + 10)]).toEqual(new Array(10).fill(0));
    at += 10;
    salt2 = g.subarray(at, at + 12);
    expect(g[at + 12]).toBe(0);
    at += 13;
    const end = g.indexOf(0, at);
    plugin = toLatin1(g.subarray(at, end));
    expect(end).toBe(g.length - 1);
  } else {
    expect([...g.subarray(at, at + 13)]).toEqual(new Array(13).fill(0));
    at += 13;
    salt2 = g.subarray(at, at + 12);
    expect(g[at + 12]).toBe(0);
    expect(at + 13).toBe(g.length);
  }
  const salt = new Uint8Array(20);
  salt.set(salt1);
  salt.set(salt2, 8);
  return { length, seq: g[3]!, protocol: g[4]!, version, threadId, salt, caps: caps >>> 0, plugin };
}

/** Decodes an ERR packet. */
function parseErr(b: Uint8Array): { seq: number; errno: number; state: string | undefined; message: string; length: number } {
  const length = b[0]! | (b[1]! << 8) | (b[2]! << 16);
  expect(length).toBe(b.length - 4);
  expect(b[4]).toBe(0xff);
  const hasState = b[7] === 0x23; // '#'
  return {
    seq: b[3]!,
    errno: u16(b, 5),
    state: hasState ? toLatin1(b.subarray(8, 13)) : undefined,
    message: toLatin1(b.subarray(hasState ? 13 : 7)),
    length,
  };
}

describe("every mysql entry", () => {
  test("at least 5 entries over at least 3 OS families, default port 3306", () => {
    expect(catalog.entries.length).toBeGreaterThanOrEqual(5);
    expect(new Set(catalog.entries.map((e) => e.os)).size).toBeGreaterThanOrEqual(3);
    expect(catalog.defaultPorts).toEqual([3306]);
  });

  for (const e of catalog.entries) {
    describe(e.id, () => {
      const layout = e.templates.layout;

      test("greets with a protocol-10 packet whose fields are well formed", () => {
        const { greeting } = start(e);
        const g = parseGreeting(greeting, layout);
        expect(g.length).toBe(greeting.length - 4);
        expect(g.seq).toBe(0);
        expect(g.protocol).toBe(10);
        expect(g.threadId).toBeGreaterThan(0);
        // mysqld's scramble: 20 printable bytes, never NUL.
        for (const b of g.salt) {
          expect(b).toBeGreaterThanOrEqual(33);
          expect(b).toBeLessThanOrEqual(126);
        }
        expect(g.caps & PROTOCOL_41).toBe(PROTOCOL_41);
        expect(g.caps & SECURE_CONNECTION).toBe(SECURE_CONNECTION);
        expect(g.caps & SSL).toBe(0); // no TLS is offered, so no client tries it
        if (layout === "plugin") {
          expect(g.caps & PLUGIN_AUTH).toBe(PLUGIN_AUTH);
          expect(g.plugin).toBe("mysql_native_password");
        } else {
          expect(g.plugin).toBeUndefined();
        }
      });

      test("nmap's hard match (line 2230 of nmap-service-probes) captures exactly the claimed version", () => {
        const { greeting } = start(e);
        const m = toLatin1(greeting).match(/^.\0\0\0\x0a(5\.[-_~.+\w]+)\0/s);
        expect(m?.[1]).toBe(e.version);
        expect(e.product).toBe("MySQL");
        // The MariaDB-specific lines (2223, 2224) and the "not allowed to connect" ones must not win.
        expect(toLatin1(greeting)).not.toMatch(/MariaDB-[-_~.+:\w]+\0/);
        expect(greeting[4]).not.toBe(0xff);
      });

      test("each session has a fresh scramble", () => {
        const a = parseGreeting(start(e, "127.0.0.1", "one").greeting, layout);
        const b = parseGreeting(start(e, "127.0.0.1", "two").greeting, layout);
        expect(toLatin1(a.salt)).not.toBe(toLatin1(b.salt));
      });

      test("a login with a password: login event, then ERR 1045 #28000 with sequence 2, then close", () => {
        const { s, greeting } = start(e);
        const salt = parseGreeting(greeting, layout).salt;
        const auth = nativeResponse("secret", salt);
        const r = s.data(pkt(1, response41("root", [...auth])));
        const err = parseErr(bytes(r));
        expect(err.seq).toBe(2);
        expect(err.errno).toBe(1045);
        expect(err.state).toBe("28000");
        expect(err.message).toBe("Access denied for user 'root'@'localhost' (using password: YES)");
        expect(r.close).toBe(true);
        // The scramble answer with the greeting's salt, as hashcat -m 11200 reads it; never as a "password".
        const hash = `$mysqlna$${Buffer.from(salt).toString("hex")}*${Buffer.from(auth).toString("hex")}`;
        expect(r.events).toEqual([{ action: "login", method: "mysql", user: "root", hash: { value: hash, type: "mysql-native", hashcatMode: 11200 } }]);
        expect(s.data(pkt(2, [3, ...str("select 1")]))).toEqual({});
      });

      test("no password: 'using password: NO'; a remote client is named by its address", () => {
        const { s } = start(e, "203.0.113.9");
        const r = s.data(pkt(1, response41("admin", [], { db: "mysql" })));
        const err = parseErr(bytes(r));
        expect(err.message).toBe("Access denied for user 'admin'@'203.0.113.9' (using password: NO)");
        expect(r.events?.[0]).toEqual({ action: "login", method: "mysql", user: "admin", client: { database: "mysql" } });
      });

      test("a response cut into single bytes gives the same answer as in one piece", () => {
        const whole = start(e).s.data(pkt(1, response41("root", [9, 9, 9], { plugin: "mysql_native_password" })));
        const { s } = start(e);
        const p = pkt(1, response41("root", [9, 9, 9], { plugin: "mysql_native_password" }));
        let last: Reply = {};
        for (let i = 0; i < p.length; i++) {
          last = s.data(p.subarray(i, i + 1));
          if (i < p.length - 1) expect(last).toEqual({});
        }
        expect(bytes(last)).toEqual(bytes(whole));
      });

      test("an old (pre-4.1) client gets the error without an SQLSTATE", () => {
        const { s } = start(e);
        const r = s.data(pkt(1, [LONG_PASSWORD, 0, 0, 0, 1, ...str("olduser"), 0, ...str("ABCDEFGH"), 0]));
        const err = parseErr(bytes(r));
        expect(err.state).toBeUndefined();
        expect(err.errno).toBe(1045);
        expect(err.message).toContain("'olduser'@'localhost'");
      });

      test("a short first packet is a 'Bad handshake' (1043) with sequence 2", () => {
        const { s } = start(e);
        const r = s.data(pkt(1, [0x61, 0x62, 0x0a]));
        const err = parseErr(bytes(r));
        expect(err.seq).toBe(2);
        expect(err.errno).toBe(1043);
        expect(err.message).toBe("Bad handshake");
        expect(r.close).toBe(true);
      });

      test("an SSL request is refused as a bad handshake: this server offered no TLS", () => {
        const { s } = start(e);
        const ssl = [...le32(LONG_PASSWORD | PROTOCOL_41 | SECURE_CONNECTION | SSL), ...le32(1 << 24), 33, ...new Array(23).fill(0)];
        const err = parseErr(bytes(s.data(pkt(1, ssl))));
        expect(err.errno).toBe(1043);
      });

      test("a long user name is echoed cut and logged bounded", () => {
        const { s } = start(e);
        const r = s.data(pkt(1, response41("x".repeat(1000), [1])));
        const err = parseErr(bytes(r));
        expect(err.message.length).toBeLessThan(150);
        expect(r.events?.[0]?.user?.length).toBeLessThanOrEqual(256);
      });

      test("a packet announcing 16 MB is refused at once, without waiting for it", () => {
        const { s } = start(e);
        const r = s.data(Uint8Array.from([0xff, 0xff, 0xff, 0x01, 0x00]));
        expect(r.close).toBe(true);
        expect([1043, 1153]).toContain(parseErr(bytes(r)).errno);
      });

      test("a big packet below the limit is read to its end without keeping it, then answered", () => {
        const { s } = start(e);
        const size = 200_000;
        const body = new Uint8Array(size).fill(0x41);
        const head = Uint8Array.from([size & 0xff, (size >> 8) & 0xff, size >> 16, 1]);
        expect(s.data(head)).toEqual({});
        let last: Reply = {};
        for (let at = 0; at < size; at += 65536) last = s.data(body.subarray(at, at + 65536));
        expect(last.close).toBe(true);
        expect(parseErr(bytes(last)).errno).toBe(1043); // all 'A': no NUL after the user name
      });

      test("fuzz: random garbage never throws; any answer is one ERR packet and a close", () => {
        let seed = 12345;
        const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
        for (let n = 0; n < 200; n++) {
          const { s } = start(e);
          const len = 1 + Math.floor(rnd() * 300);
          const junk = Uint8Array.from({ length: len }, () => Math.floor(rnd() * 256));
          const r = s.data(junk);
          if (r.write !== undefined) {
            expect(r.close).toBe(true);
            const b = bytes(r);
            expect(b[4] === 0xff || b[4] === 0xfe).toBe(true);
          }
        }
      });
    });
  }
});

describe("wire details per version", () => {
  test("an HTTP request: 5.5+ answer exactly as MariaDB 10.11 did (captured), 'Got packets out of order' #08S01", () => {
    const { s } = start(entry("mysql-5.5.62-debian8"));
    const r = s.data(toBytes("GET / HTTP/1.0\r\n\r\n"));
    expect(toLatin1(bytes(r))).toBe("!\x00\x00\x01\xff\x84\x04#08S01Got packets out of order");
    expect(r.close).toBe(true);
  });

  test("5.0 answers nmap's GenericLines with the exact packet of nmap's line 5459 (bare 'Bad handshake', sequence 1)", () => {
    const { s } = start(entry("mysql-5.0.51a-debian5"));
    const r = s.data(toBytes("\r\n\r\n"));
    expect(toLatin1(bytes(r))).toMatch(/^\x10\0\0\x01\xff\x13\x04Bad handshake$/);
  });

  test("5.1 reports the out-of-order packet, still without SQLSTATE (its session flags are zero then)", () => {
    const { s } = start(entry("mysql-5.1.73-rhel6"));
    const err = parseErr(bytes(s.data(toBytes("GET / HTTP/1.0\r\n\r\n"))));
    expect(err).toMatchObject({ seq: 1, errno: 1156, state: undefined, message: "Got packets out of order" });
  });

  test("5.0/5.1 greetings carry only 16 capability bits and the 5.0 access-denied message cuts the user at 32", () => {
    const g = start(entry("mysql-5.0.51a-debian5")).greeting;
    expect(u16(g, g.indexOf(0, 5) + 1 + 4 + 9)).toBe(0xa22c);
    const { s } = start(entry("mysql-5.0.51a-debian5"));
    const err = parseErr(bytes(s.data(pkt(1, response41("a".repeat(40), [1])))));
    expect(err.message).toBe(`Access denied for user '${"a".repeat(32)}'@'localhost' (using password: YES)`);
  });

  test("a MySQL 8 client (caching_sha2_password) is switched to mysql_native_password, then refused with sequence 4", () => {
    const { s } = start(entry("mysql-5.7.21-windows"));
    const first = s.data(pkt(1, response41("root", new Array(32).fill(0x42), { plugin: "caching_sha2_password", lenenc: true })));
    const sw = bytes(first);
    expect(sw[3]).toBe(2);
    expect(sw[4]).toBe(0xfe);
    const nul = sw.indexOf(0, 5);
    expect(toLatin1(sw.subarray(5, nul))).toBe("mysql_native_password");
    expect(sw.length - (nul + 1)).toBe(21); // 20-byte scramble + NUL
    expect(first.close).toBeUndefined();
    const r = s.data(pkt(3, new Array(20).fill(0x43)));
    const err = parseErr(bytes(r));
    expect(err.seq).toBe(4);
    expect(err.message).toBe("Access denied for user 'root'@'localhost' (using password: YES)");
    // The answer is computed from the switch request's scramble, so that is the salt the hash carries.
    const switchSalt = Buffer.from(sw.subarray(nul + 1, nul + 21)).toString("hex");
    expect(r.events).toEqual([
      {
        action: "login",
        method: "mysql",
        user: "root",
        hash: { value: `$mysqlna$${switchSalt}*${"43".repeat(20)}`, type: "mysql-native", hashcatMode: 11200 },
        client: { auth_plugin: "caching_sha2_password" },
      },
    ]);
  });

  test("5.0/5.1 have no plugin auth: a client naming a plugin is answered directly", () => {
    const { s } = start(entry("mysql-5.1.73-rhel6"));
    const r = s.data(pkt(1, response41("root", [1, 2], { plugin: "caching_sha2_password" })));
    expect(parseErr(bytes(r)).seq).toBe(2);
  });
});
