import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import { makeContext } from "../../src/services/context.ts";
import { SessionDriver, VirtualClock } from "../../src/services/driver.ts";
import { torrent } from "../../src/services/torrent/index.ts";
import { seededInfoHashes } from "../../src/services/torrent/session.ts";
import type { TorrentTemplates } from "../../src/services/torrent/templates.ts";
import type { CatalogEntry, ProtocolSession, Reply } from "../../src/types.ts";
import { toBytes, toLatin1 } from "../../src/wire/bytes.ts";
import { connect, startTestTrap, withTimeout } from "../helpers.ts";

const catalog = { entries: serviceEntries("torrent") as CatalogEntry<TorrentTemplates>[], defaultPorts: torrent.defaultPorts };
const NOW = new Date("2024-03-05T07:08:09Z");

function entry(id: string): CatalogEntry<TorrentTemplates> {
  const e = catalog.entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

function start(id: string, seed = "s1", hostSeed = "test"): { s: ProtocolSession; greeting: Reply } {
  const s = torrent.start(makeContext({ entry: entry(id), hostSeed, sessionSeed: seed, now: () => NOW, localPort: 6881, remoteAddress: "203.0.113.7" }));
  return { s, greeting: s.open() };
}

function bytes(r: Reply): Uint8Array {
  return r.write === undefined ? new Uint8Array(0) : typeof r.write === "string" ? toBytes(r.write) : r.write;
}

// BEP 3 handshake, built from the spec.
const PSTR = "\x13BitTorrent protocol";
/** A torrent no face seeds. */
const INFO_HASH = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);
const CLIENT_ID = toBytes("-qB4250-abcdefghijkl");
/** The first torrent the face's client seeds on that host (a peer must ask for one it has). */
function seeded(id: string, hostSeed = "test"): Uint8Array {
  const ctx = makeContext({ entry: entry(id), hostSeed, sessionSeed: "x", now: () => NOW });
  return Uint8Array.from(Buffer.from(seededInfoHashes(ctx, entry(id).templates.torrents)[0]!, "hex"));
}
function handshake(reserved: number[] = [0, 0, 0, 0, 0, 0, 0, 0], id?: string, hostSeed = "test"): Uint8Array {
  return Uint8Array.from([...toBytes(PSTR), ...reserved, ...(id === undefined ? INFO_HASH : seeded(id, hostSeed)), ...CLIENT_ID]);
}
// BEP 10 (LTEP) is bit 0x10 of reserved byte 5; BEP 6 (fast) is 0x04 of byte 7; BEP 5 (DHT) is 0x01 of byte 7.
const LTEP_AND_FAST = [0, 0, 0, 0, 0, 0x10, 0, 0x05];

// nmap-service-probes hard matches: line 270 (NULL), 6399 and 7154 and 9059 (GetRequest).
const NMAP_NULL_BITTORRENT = /^\x13BitTorrent protocol\0\0\0\0\0\0\0\0/;
const NMAP_TRANSMISSION = /^Nice try\.\.\.\r\n$/;
const NMAP_AZUREUS = /^HTTP\/1\.1 \d\d\d (?:[^\r\n]*\r\n(?!\r\n))*?Server: Azureus ([\d.]+)\r\n/s;
const NMAP_UTORRENT = /^HTTP\/1\.1 400 ERROR\r\nConnection: keep-alive\r\nContent-Length: 15\r\nContent-Type: text\/html\r\n\r\ninvalid request$/;
const GET_REQUEST = "GET / HTTP/1.0\r\n\r\n";

const PEER_ID_STYLE: Record<string, RegExp> = {
  "bittorrent-3.4.2-debian": /^M3-4-2--[0-9a-f]{12}$/,
  "bittornado-0.3.18-freebsd": /^T03I-----[0-9A-Za-z.-]{11}$/,
  "transmission-0.72-macos": /^-TR0072-[0-9a-z]{12}$/,
  "transmission-0.72-freebsd": /^-TR0072-[0-9a-z]{12}$/,
  "azureus-2.5.0.4-windows": /^-AZ2504-[0-9A-Za-z]{12}$/,
  "azureus-3.0.5.2-debian": /^-AZ3052-[0-9A-Za-z]{12}$/,
  "vuze-4.3.0.6-macos": /^-AZ4306-[0-9A-Za-z]{12}$/,
  "utorrent-2.0.2-windows": /^-UT2020-[\s\S]{12}$/,
};

/** Runs a full client handshake and returns everything the fake peer wrote, greeting included. */
function fullHandshake(id: string, reserved?: number[], hostSeed = "test"): { out: Uint8Array; reply: Reply; s: ProtocolSession } {
  const { s, greeting } = start(id, "s1", hostSeed);
  const reply = s.data(handshake(reserved, id, hostSeed));
  const out = Uint8Array.from([...bytes(greeting), ...bytes(reply)]);
  return { out, reply, s };
}

describe("torrent: the peer handshake", () => {
  test("every entry answers a valid handshake with the same info_hash and a peer id in its client's style", () => {
    for (const e of catalog.entries) {
      const { out, reply } = fullHandshake(e.id);
      expect(reply.close).toBeFalsy();
      expect(toLatin1(out.subarray(0, 20))).toBe(PSTR);
      expect([...out.subarray(28, 48)]).toEqual([...seeded(e.id)]);
      const peerId = toLatin1(out.subarray(48, 68));
      expect(PEER_ID_STYLE[e.id]).toBeDefined();
      expect(peerId).toMatch(PEER_ID_STYLE[e.id]!);
      expect(reply.events).toEqual([
        {
          action: "command",
          command: `handshake info_hash=${Buffer.from(seeded(e.id)).toString("hex")} peer_id=-qB4250-abcdefghijkl`,
          client: { info_hash: Buffer.from(seeded(e.id)).toString("hex"), peer_id: "-qB4250-abcdefghijkl" },
        },
      ]);
    }
  });

  test("a torrent the client does not have: it reads the info_hash, logs the handshake and hangs up without a word", () => {
    for (const e of catalog.entries) {
      const { s, greeting } = start(e.id);
      const r = s.data(handshake());
      expect(`${e.id} ${r.close}`).toBe(`${e.id} true`);
      expect(bytes(r).length).toBe(0);
      expect(r.events?.[0]?.client).toEqual({ info_hash: Buffer.from(INFO_HASH).toString("hex"), peer_id: "-qB4250-abcdefghijkl" });
      // Mainline and BitTornado had written their header on accept, and nothing after it.
      expect(bytes(greeting).length).toBe(e.templates.greetFirst ? 28 : 0);
    }
  });

  test("reserved bits are the claimed client's: none for mainline and old Transmission, Azureus messaging for Azureus, LTEP+fast+DHT for uTorrent", () => {
    const reservedOf = (id: string) => [...fullHandshake(id).out.subarray(20, 28)];
    expect(reservedOf("bittorrent-3.4.2-debian")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(reservedOf("transmission-0.72-macos")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(reservedOf("azureus-2.5.0.4-windows")[0]! & 0x80).toBe(0x80);
    const ut = reservedOf("utorrent-2.0.2-windows");
    expect(ut[5]! & 0x10).toBe(0x10);
    expect(ut[7]! & 0x05).toBe(0x05);
  });

  test("a client's peer id is stable across connections to the same host and differs between hosts", () => {
    const idOf = (host: string) => toLatin1(fullHandshake("azureus-2.5.0.4-windows", undefined, host).out.subarray(48, 68));
    expect(idOf("host-a")).toBe(idOf("host-a"));
    expect(idOf("host-a")).not.toBe(idOf("host-b"));
  });

  test("the handshake split into single bytes gives the same answer", () => {
    const whole = fullHandshake("azureus-3.0.5.2-debian", LTEP_AND_FAST).out;
    const { s } = start("azureus-3.0.5.2-debian");
    const parts: number[] = [];
    for (const b of handshake(LTEP_AND_FAST, "azureus-3.0.5.2-debian")) {
      const r = s.data(Uint8Array.of(b));
      expect(r.close).toBeFalsy();
      parts.push(...bytes(r));
    }
    expect(parts).toEqual([...whole]);
  });

  test("with LTEP on both sides an extended handshake follows, with the client's name; with fast, HAVE_NONE", () => {
    const { out } = fullHandshake("utorrent-2.0.2-windows", LTEP_AND_FAST);
    const rest = out.subarray(68);
    const len = (rest[0]! << 24) | (rest[1]! << 16) | (rest[2]! << 8) | rest[3]!;
    expect(rest[4]).toBe(20); // extended message
    expect(rest[5]).toBe(0); // extended handshake
    const dict = toLatin1(rest.subarray(6, 4 + len));
    expect(dict.startsWith("d") && dict.endsWith("e")).toBe(true);
    expect(dict).toContain("1:md");
    expect(dict).toContain("6:ut_pexi1e");
    expect(dict).toContain("1:pi6881e");
    // "µTorrent 2.0.2" is 15 bytes in UTF-8 (µ = C2 B5).
    expect(dict).toContain("1:v15:\xc2\xb5Torrent 2.0.2");
    expect(dict).toContain("6:yourip4:\xcb\x00\x71\x07"); // 203.0.113.7
    expect([...rest.subarray(4 + len)]).toEqual([0, 0, 0, 1, 0x0f]);
    // A peer without LTEP gets nothing after the handshake.
    expect(fullHandshake("utorrent-2.0.2-windows").out.length).toBe(68);
  });

  test("after the handshake, messages are length-prefixed; the peer's extended handshake names its client", () => {
    const { s } = fullHandshake("utorrent-2.0.2-windows", LTEP_AND_FAST);
    expect(s.data(Uint8Array.of(0, 0, 0, 0)).close).toBeFalsy(); // keep-alive
    expect(s.data(Uint8Array.of(0, 0, 0, 1, 2)).close).toBeFalsy(); // interested
    const dict = "d1:md11:ut_metadatai1ee1:v13:qBittorrent/4e";
    const msg = toBytes(`\0\0\0${String.fromCharCode(dict.length + 2)}\x14\0${dict}`);
    expect(s.data(msg).events).toEqual([{ action: "command", command: "extended handshake v=qBittorrent/4" }]);
    // A message claiming 2 GiB is not waited for.
    expect(s.data(Uint8Array.of(0x7f, 0xff, 0xff, 0xff)).close).toBe(true);
  });

  test("a wrong protocol string, or bytes that are no handshake, close the connection silently", () => {
    for (const id of ["azureus-2.5.0.4-windows", "utorrent-2.0.2-windows", "bittorrent-3.4.2-debian"]) {
      const bad = handshake();
      bad[19] = "X".charCodeAt(0);
      const r = start(id).s.data(bad);
      expect(r.close).toBe(true);
      expect(bytes(r).length).toBe(0);
      const junk = start(id).s.data(toBytes("\r\n\r\n"));
      expect(junk.close).toBe(true);
      expect(bytes(junk).length).toBe(0);
    }
  });

  test("random binary garbage never throws and answers stay small", () => {
    let state = 99;
    const rand = () => (state = (state * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 300; i++) {
      const { s } = start(catalog.entries[i % catalog.entries.length]!.id, `g${i}`);
      for (let k = 0; k < 5; k++) {
        const chunk = Uint8Array.from({ length: 1 + (rand() % 300) }, rand);
        if (k === 0 && i % 3 === 0) chunk.set(handshake().subarray(0, Math.min(68, chunk.length)));
        const r = s.data(chunk);
        expect(bytes(r).length).toBeLessThan(2048);
        if (r.close) break;
      }
    }
  });
});

describe("torrent: what nmap sees", () => {
  test("mainline and BitTornado write their header on connect, as nmap's NULL-probe rule expects", () => {
    for (const id of ["bittorrent-3.4.2-debian", "bittornado-0.3.18-freebsd"]) {
      const { greeting } = start(id);
      const g = toLatin1(bytes(greeting));
      expect(g.length).toBe(28);
      expect(NMAP_NULL_BITTORRENT.test(g)).toBe(true);
      expect(entry(id).product).toBe("Bittorrent P2P client");
      expect(entry(id).version).toBe("");
    }
  });

  test("mainline sends its info_hash and peer id as soon as it has read the peer's info_hash", () => {
    const { s } = start("bittorrent-3.4.2-debian");
    const hs = handshake(undefined, "bittorrent-3.4.2-debian");
    const first = s.data(hs.subarray(0, 48));
    expect([...bytes(first).subarray(0, 20)]).toEqual([...seeded("bittorrent-3.4.2-debian")]);
    expect(bytes(first).length).toBe(40);
    const rest = s.data(hs.subarray(48));
    expect(bytes(rest).length).toBe(0);
    expect(rest.events?.[0]?.command).toContain(`handshake info_hash=${Buffer.from(seeded("bittorrent-3.4.2-debian")).toString("hex")}`);
  });

  test("old Transmission answers nmap's GetRequest with 'Nice try...' and hangs up", () => {
    for (const id of ["transmission-0.72-macos", "transmission-0.72-freebsd"]) {
      const { s, greeting } = start(id);
      expect(greeting.write).toBeUndefined();
      expect(s.data(toBytes("GET")).write).toBeUndefined(); // it judges after four bytes
      const r = s.data(toBytes(GET_REQUEST.slice(3)));
      expect(NMAP_TRANSMISSION.test(toLatin1(bytes(r)))).toBe(true);
      expect(r.close).toBe(true);
      expect(entry(id).product).toBe("Transmission Bittorrent client");
    }
  });

  test("Azureus answers HTTP with its Server header; nmap reads the version the entry claims", () => {
    const azureus = catalog.entries.filter((e) => e.product === "Azureus Bittorrent tracker httpd");
    expect(azureus.length).toBeGreaterThanOrEqual(2);
    for (const e of azureus) {
      const { s } = start(e.id);
      const r = s.data(toBytes(GET_REQUEST));
      const text = toLatin1(bytes(r));
      const m = NMAP_AZUREUS.exec(text);
      expect(m?.[1]).toBe(e.version);
      const [head, body] = text.split("\r\n\r\n") as [string, string];
      expect(head).toContain(`\r\nContent-Length: ${body.length}`);
      expect(r.close).toBe(true);
      expect(r.events).toEqual([{ action: "command", command: "GET / HTTP/1.0", http: { method: "GET", version: "1.0", original: "/", path: "/" } }]);
    }
  });

  test("uTorrent's WebUI says 'invalid request' to GET / and keeps the connection open", () => {
    const { s } = start("utorrent-2.0.2-windows");
    const r = s.data(toBytes(GET_REQUEST));
    expect(NMAP_UTORRENT.test(toLatin1(bytes(r)))).toBe(true);
    expect(r.close).toBeFalsy();
    expect(entry("utorrent-2.0.2-windows").ostype).toBe("Windows");
  });

  test("uTorrent WebUI logins are logged with the Basic credentials and always refused", () => {
    const { s } = start("utorrent-2.0.2-windows");
    const auth = Buffer.from("admin:hunter2").toString("base64");
    const r = s.data(toBytes(`GET /gui/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${auth}\r\n\r\n`));
    const text = toLatin1(bytes(r));
    expect(text.startsWith("HTTP/1.1 401 ")).toBe(true);
    expect(text).toContain('WWW-Authenticate: Basic realm="uTorrent"');
    expect(r.events).toContainEqual({ action: "login", user: "admin", password: "hunter2" });
  });

  test("an endless HTTP head is cut off", () => {
    const { s } = start("azureus-2.5.0.4-windows");
    expect(s.data(toBytes("GET /")).close).toBeFalsy();
    const r = s.data(new Uint8Array(20000).fill(0x41));
    expect(r.close).toBe(true);
    expect(bytes(r).length).toBe(0);
  });
});

// Idle behaviour, per client, from each client's source (see the entries' notes): what happens to a peer that
// sends nothing, stops part-way through its handshake, or goes quiet after it; and the keep-alives we send.
describe("torrent: idle peers and keep-alives", () => {
  /** [earliest, latest] drop after the last byte (or the connect), in ms, as each client's code does it. */
  const EXPECTED: Record<string, { silent: [number, number]; stalled: [number, number]; peer: [number, number]; keepalive?: [number, number]; deadline?: number }> = {
    // RawServer: 'timeout' 300 s, scanned every 'timeout_check_interval' 60 s; 'keepalive_interval' 120 s.
    "bittorrent-3.4.2-debian": { silent: [300000, 360000], stalled: [300000, 360000], peer: [300000, 360000], keepalive: [120000, 120000] },
    // The same RawServer, plus Encrypter's _auto_close of an incomplete handshake 30 s after the connect.
    "bittornado-0.3.18-freebsd": { silent: [30000, 30000], stalled: [30000, 30000], peer: [300000, 360000], keepalive: [120000, 120000], deadline: 30000 },
    // transmission.c's accept loop: 10 s from the last byte (20 ms loop); checkPeer: 180 s read timeout, 120 s keep-alive.
    "transmission-0.72-macos": { silent: [10000, 10020], stalled: [10000, 10020], peer: [180000, 180020], keepalive: [120000, 120020] },
    "transmission-0.72-freebsd": { silent: [10000, 10020], stalled: [10000, 10020], peer: [180000, 180020], keepalive: [120000, 120020] },
    // IncomingConnectionManager (5 s checks): 60 s connect, 10 s read inactivity; peer: 5 min, keep-alive after 2 min unsent.
    "azureus-2.5.0.4-windows": { silent: [60000, 65000], stalled: [10000, 15000], peer: [300000, 305000], keepalive: [120000, 125000] },
    "azureus-3.0.5.2-debian": { silent: [60000, 65000], stalled: [10000, 15000], peer: [300000, 305000], keepalive: [120000, 125000] },
    "vuze-4.3.0.6-macos": { silent: [60000, 65000], stalled: [10000, 15000], peer: [300000, 305000], keepalive: [120000, 125000] },
    // Assumed (closed source): libtorrent-era defaults, handshake 10 s, peer 120 s, keep-alive at half of it.
    "utorrent-2.0.2-windows": { silent: [10000, 10000], stalled: [10000, 10000], peer: [120000, 120000], keepalive: [60000, 60000] },
  };

  function drive(id: string, seed = "idle-1") {
    const clock = new VirtualClock();
    const log: { at: number; what: string }[] = [];
    const driver = new SessionDriver(
      torrent.start(makeContext({ entry: entry(id), hostSeed: "test", sessionSeed: seed, now: () => NOW, localPort: 6881, remoteAddress: "203.0.113.7" })),
      clock,
      {
        write: (b) => log.push({ at: clock.now(), what: `write ${toLatin1(b.subarray(0, 4)) === "\0\0\0\0" && b.length === 4 ? "keepalive" : b.length}` }),
        events: () => {},
        close: (how) => log.push({ at: clock.now(), what: `close ${how}` }),
        error: (err) => log.push({ at: clock.now(), what: `error ${err.message}` }),
      },
    );
    driver.open();
    const closedAt = () => log.find((l) => l.what.startsWith("close"))?.at;
    return { clock, driver, log, closedAt };
  }

  test("every entry has its client's expectation", () => {
    expect(Object.keys(EXPECTED).sort()).toEqual(catalog.entries.map((e) => e.id).sort());
  });

  for (const [id, want] of Object.entries(EXPECTED)) {
    describe(id, () => {
      test("a peer that sends nothing is dropped (FIN) within the client's window, without a word", () => {
        for (const seed of ["a", "b", "c"]) {
          const r = drive(id, seed);
          r.clock.advanceTo(want.silent[0] - 1);
          expect(r.driver.isClosed).toBe(false);
          r.clock.advanceTo(want.silent[1]);
          expect(r.closedAt()).toBeGreaterThanOrEqual(want.silent[0]);
          expect(r.log.filter((l) => l.what.startsWith("close"))).toEqual([{ at: r.closedAt()!, what: "close fin" }]);
          expect(r.log.filter((l) => l.what.startsWith("write") && l.at > 0)).toEqual([]);
        }
      });

      test("a peer that stops part-way through the handshake is dropped within the client's window", () => {
        const r = drive(id);
        r.clock.advanceTo(1000);
        r.driver.data(handshake().subarray(0, 30));
        const from = want.deadline !== undefined ? 0 : 1000;
        r.clock.advanceTo(from + want.stalled[0] - 1);
        expect(r.driver.isClosed).toBe(false);
        r.clock.advanceTo(from + want.stalled[1]);
        expect(r.closedAt()).toBeGreaterThanOrEqual(from + want.stalled[0]);
      });

      test("after the handshake: keep-alives at the client's interval, and a quiet peer is dropped after its idle time", () => {
        const r = drive(id);
        r.driver.data(handshake(undefined, id));
        const start = r.log.length;
        r.clock.advanceTo(want.peer[1]);
        const after = r.log.slice(start);
        const close = after.find((l) => l.what.startsWith("close"));
        expect(close?.what).toBe("close fin");
        expect(close!.at).toBeGreaterThanOrEqual(want.peer[0]);
        const keepalives = after.filter((l) => l.what === "write keepalive").map((l) => l.at);
        if (want.keepalive) {
          expect(keepalives.length).toBeGreaterThanOrEqual(1);
          expect(keepalives[0]!).toBeGreaterThanOrEqual(want.keepalive[0]);
          expect(keepalives[0]!).toBeLessThanOrEqual(want.keepalive[1]);
          for (let i = 1; i < keepalives.length; i++) expect(keepalives[i]! - keepalives[i - 1]!).toBeGreaterThanOrEqual(want.keepalive[0]);
        } else {
          expect(keepalives).toEqual([]);
        }
      });

      test("a peer that sends keep-alives is kept", () => {
        const r = drive(id);
        r.driver.data(handshake(undefined, id));
        const step = Math.floor(want.peer[0] / 2);
        for (let t = step; t < 4 * want.peer[1]; t += step) {
          r.clock.advanceTo(t);
          r.driver.data(Uint8Array.of(0, 0, 0, 0));
        }
        expect(r.driver.isClosed).toBe(false);
      });
    });
  }

  test("BitTornado's 30 s limit holds however the handshake trickles in", () => {
    const r = drive("bittornado-0.3.18-freebsd");
    const hs = handshake();
    for (let i = 0; i < 10; i++) {
      r.clock.advanceTo(i * 3000);
      r.driver.data(hs.subarray(i, i + 1));
    }
    r.clock.advanceTo(29999);
    expect(r.driver.isClosed).toBe(false);
    r.clock.advanceTo(30000);
    expect(r.closedAt()).toBe(30000);
  });

  test("uTorrent's WebUI keeps an answered connection 10 s, then closes it", () => {
    const r = drive("utorrent-2.0.2-windows");
    r.clock.advanceTo(500);
    r.driver.data(toBytes(GET_REQUEST));
    r.clock.advanceTo(500 + 9999);
    expect(r.driver.isClosed).toBe(false);
    r.clock.advanceTo(500 + 10000);
    expect(r.closedAt()).toBe(10500);
  });
});

describe("torrent: idle timers over real TCP", () => {
  test("a silent peer is closed with FIN, and an established one gets keep-alives (test-short timers on Transmission's face)", async () => {
    const e = entry("transmission-0.72-macos");
    const short = { ...e, templates: { ...e.templates, silentMs: { min: 1200, max: 1200 }, keepaliveMs: { min: 400, max: 400 } } };
    const { trap } = startTestTrap(short);
    try {
      const silent = await connect(trap.port);
      const t0 = performance.now();
      await withTimeout(silent.closed, 4000, "silent peer");
      const took = performance.now() - t0;
      expect(took).toBeGreaterThan(1100);
      expect(took).toBeLessThan(3000);
      expect(silent.received().length).toBe(0);

      const peer = await connect(trap.port);
      peer.send(handshake(undefined, "transmission-0.72-macos", "test-host"));
      await peer.waitFor((s) => s.length >= 68 + 8, 3000); // handshake, then two keep-alives
      expect([...peer.received().subarray(68, 76)]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      expect(peer.isClosed()).toBe(false);
      peer.end();
    } finally {
      trap.stop();
    }
  }, 10000);
});
