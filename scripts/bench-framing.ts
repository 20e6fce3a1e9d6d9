// What partial frames cost: N sessions of samba and torrent each left holding part of a large frame, in
// memory (no sockets), measured as RSS and JS heap per session after a full GC, and the CPU time to feed
// them. Also one frame fed one byte at a time (the cost of framing that re-copies its buffer per chunk).
// A benchmark, not a test: numbers are printed, nothing is asserted.
//
//   bun scripts/bench-framing.ts [--sessions 400] [--body 65536] [--chunk 1460]
import { heapStats } from "bun:jsc";
import { parseArgs } from "node:util";
import { findEntry } from "../src/catalog/index.ts";
import { makeContext } from "../src/services/context.ts";
import { SessionDriver, VirtualClock } from "../src/services/driver.ts";
import { startSession } from "../src/services/index.ts";
import type { ProtocolSession } from "../src/types.ts";

const { values } = parseArgs({
  options: { sessions: { type: "string", default: "400" }, body: { type: "string", default: "65536" }, chunk: { type: "string", default: "1460" } },
});
const SESSIONS = Math.max(1, Math.min(5000, Number(values.sessions) || 400));
const BODY = Math.max(0, Math.min(120_000, Number(values.body) || 0));
const CHUNK = Math.max(1, Math.min(65536, Number(values.chunk) || 1460));

/** The bytes that open a frame of each service, declaring one as large as the protocol allows. */
const scenarios: Record<string, { entry: string; head: Uint8Array }> = {
  // A NetBIOS session message declaring 0x1ffff bytes (the 17-bit maximum), an SMB1 header starting it.
  samba: { entry: "samba-4.17-debian12", head: Uint8Array.from([0x00, 0x01, 0xff, 0xff, 0xff, 0x53, 0x4d, 0x42, 0x72]) },
  // A BEP 3 handshake, then a "piece" message declaring 128 KiB + 9 bytes.
  torrent: {
    entry: "transmission-0.72-freebsd",
    head: Uint8Array.from([19, ...Buffer.from("BitTorrent protocol"), ...new Uint8Array(8), ...new Uint8Array(20).fill(0xaa), ...new Uint8Array(20).fill(0x2d), 0, 2, 0, 9, 7]),
  },
};

function gcNow(): { rss: number; heap: number } {
  Bun.gc(true);
  return { rss: process.memoryUsage().rss, heap: heapStats().heapSize };
}

function open(entry: string, i: number): { driver: SessionDriver; session: ProtocolSession } {
  const e = findEntry(entry);
  if (!e) throw new Error(`no entry ${entry}`);
  const session = startSession(makeContext({ entry: e, hostSeed: "bench", sessionSeed: `b${i}`, now: () => new Date(0) }));
  const clock = new VirtualClock();
  const driver = new SessionDriver(session, clock, { write: () => {}, events: () => {}, close: () => console.error(`${entry} closed`), error: (err) => console.error(err) });
  driver.open();
  // Past smbd's fork: input sent during a daemon's pause waits in the driver, not in the session.
  clock.advanceBy(1000);
  return { driver, session };
}

function feed(driver: SessionDriver, bytes: Uint8Array, chunk: number): void {
  for (let at = 0; at < bytes.length; at += chunk) driver.data(bytes.subarray(at, Math.min(bytes.length, at + chunk)));
}

for (const [name, s] of Object.entries(scenarios)) {
  const body = new Uint8Array(BODY).fill(0x41);
  const frame = new Uint8Array(s.head.length + body.length);
  frame.set(s.head);
  frame.set(body, s.head.length);
  const kept: { driver: SessionDriver; session: ProtocolSession }[] = [];
  const before = gcNow();
  const t0 = performance.now();
  for (let i = 0; i < SESSIONS; i++) {
    const x = open(s.entry, i);
    feed(x.driver, frame, CHUNK);
    kept.push(x);
  }
  const ms = performance.now() - t0;
  const after = gcNow();
  const held = kept.reduce((n, x) => n + (x.session.buffered?.() ?? Number.NaN), 0);
  console.log(
    `${name}: ${SESSIONS} sessions, each ${frame.length} bytes of a partial frame in ${CHUNK}-byte chunks: ` +
      `RSS +${((after.rss - before.rss) / SESSIONS / 1024).toFixed(1)} KiB/session, heap +${((after.heap - before.heap) / SESSIONS / 1024).toFixed(1)} KiB/session, ` +
      `buffered() ${Number.isNaN(held) ? "n/a" : `${(held / SESSIONS / 1024).toFixed(1)} KiB/session`}, fed in ${ms.toFixed(0)} ms`,
  );
  for (const x of kept) x.driver.stop();
  kept.length = 0;

  // One frame of 128 KiB fed one byte at a time.
  const big = new Uint8Array(s.head.length + 120_000).fill(0x41);
  big.set(s.head);
  const one = open(s.entry, 0);
  const t1 = performance.now();
  feed(one.driver, big, 1);
  console.log(`${name}: ${big.length} bytes of one frame, one byte per data() call: ${(performance.now() - t1).toFixed(0)} ms`);
  one.driver.stop();
}
