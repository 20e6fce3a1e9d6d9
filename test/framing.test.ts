// Framing holds what a parser needs and no more: the byte queue's arithmetic, line splitting against a
// plain model of the same rules, and each service's buffered() held to its bound by hostile input.
import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { findEntry } from "../src/catalog/index.ts";
import { Rng } from "../src/fuzz/rng.ts";
import { makeContext } from "../src/services/context.ts";
import { SessionDriver, VirtualClock } from "../src/services/driver.ts";
import { serviceModule, startSession } from "../src/services/index.ts";
import { seededInfoHashes } from "../src/services/torrent/session.ts";
import type { ProtocolSession } from "../src/types.ts";
import { toBytes } from "../src/wire/bytes.ts";
import { type LineEvent, LineSplitter, type OverlongAction } from "../src/wire/lines.ts";
import { ByteQueue } from "../src/wire/queue.ts";

function drive(entryId: string): { session: ProtocolSession; driver: SessionDriver; clock: VirtualClock; written: string[]; closed: () => boolean } {
  const entry = findEntry(entryId);
  if (!entry) throw new Error(`no entry ${entryId}`);
  const session = startSession(makeContext({ entry, hostSeed: "framing", sessionSeed: "s1", now: () => new Date("2024-01-02T03:04:05Z") }));
  const clock = new VirtualClock();
  const written: string[] = [];
  let closed = false;
  const driver = new SessionDriver(session, clock, {
    write: (b) => void written.push(Buffer.from(b).toString("latin1")),
    events: () => {},
    close: () => void (closed = true),
    error: (err) => {
      throw err;
    },
  });
  driver.open();
  return { session, driver, clock, written, closed: () => closed };
}

describe("ByteQueue", () => {
  test("reads what was written, in order, across growth, sliding and shrinking", () => {
    const q = new ByteQueue(16);
    const rng = new Rng(7);
    const model: number[] = [];
    let next = 0;
    for (let round = 0; round < 3000; round++) {
      if (rng.chance(0.55)) {
        const n = rng.chance(0.05) ? rng.range(1000, 40_000) : rng.range(1, 300);
        const chunk = new Uint8Array(n).map(() => next++ & 0xff);
        q.push(chunk);
        model.push(...chunk);
      } else {
        const n = rng.range(0, Math.min(model.length, 5000));
        const got = rng.chance(0.5) ? Array.from(q.take(n)) : (q.skip(n), model.slice(0, n));
        expect(got).toEqual(model.slice(0, n));
        model.splice(0, n);
      }
      expect(q.length).toBe(model.length);
      if (model.length > 0) expect(q.at(model.length - 1)).toBe(model[model.length - 1]!);
    }
    expect(Array.from(q.view())).toEqual(model);
  });

  test("memory follows what is held: at most 1.5 times it after growth, and a drained burst is given back", () => {
    const q = new ByteQueue();
    for (let i = 0; i < 1000; i++) q.push(new Uint8Array(100));
    expect(q.length).toBe(100_000);
    expect(q.capacity).toBeLessThanOrEqual(1.5 * 100_000 + 256);
    q.skip(99_990);
    expect(q.capacity).toBeLessThan(1024);
    expect(q.length).toBe(10);
  });

  test("indexOf stays inside [from, to) and the unread bytes; latin1 is byte for byte", () => {
    const q = new ByteQueue(16);
    q.push(toBytes("xx\nab\ncd"));
    q.skip(3);
    expect(q.indexOf(0x0a)).toBe(2);
    expect(q.indexOf(0x0a, 3)).toBe(-1);
    expect(q.indexOf(0x0a, 0, 2)).toBe(-1);
    expect(q.latin1(0, 2)).toBe("ab");
    q.push(Uint8Array.from([0xff, 0x80, 0x00]));
    expect(q.latin1(5)).toBe("\xff\x80\x00");
  });
});

/** The rules of LineSplitter written the plain way (a string, searched from its start on every chunk). */
function modelSplitter(max: number, action: OverlongAction): (chunk: string) => LineEvent[] {
  let pending = "";
  let skipping = false;
  return (chunk) => {
    const out: LineEvent[] = [];
    pending += chunk;
    for (;;) {
      const nl = pending.indexOf("\n");
      if (skipping) {
        if (nl < 0) {
          pending = "";
          break;
        }
        pending = pending.slice(nl + 1);
        skipping = false;
        continue;
      }
      if (nl >= 0 && nl < max) {
        out.push({ text: pending.slice(0, nl).replace(/\r$/, ""), tooLong: false });
        pending = pending.slice(nl + 1);
        continue;
      }
      if (nl < 0 && pending.length < max) break;
      out.push({ text: pending.slice(0, max), tooLong: true });
      if (action === "split") pending = pending.slice(max);
      else if (action === "skip") {
        skipping = nl < 0;
        pending = nl < 0 ? "" : pending.slice(nl + 1);
      } else {
        pending = "";
        break;
      }
    }
    return out;
  };
}

describe("LineSplitter", () => {
  test("gives the same lines as the plain model, however the stream is cut, and never holds max bytes", () => {
    const rng = new Rng(11);
    const alphabet = ["a", "b", "\r", "\n", "\r\n", " ", "\xff"];
    for (let run = 0; run < 400; run++) {
      const max = rng.pick([1, 2, 5, 16, 64]);
      const action = rng.pick(["split", "skip", "close"] as const);
      let text = "";
      const len = rng.range(0, 400);
      while (text.length < len) text += rng.chance(0.1) ? "x".repeat(rng.range(1, 3 * max)) : rng.pick(alphabet);
      const splitter = new LineSplitter(max, action);
      const model = modelSplitter(max, action);
      const got: LineEvent[] = [];
      const want: LineEvent[] = [];
      for (let at = 0; at < text.length; ) {
        const n = rng.range(1, 40);
        const piece = text.slice(at, at + n);
        got.push(...splitter.push(toBytes(piece)));
        want.push(...model(piece));
        expect(splitter.buffered).toBeLessThan(max);
        at += n;
      }
      expect({ max, action, text, got }).toEqual({ max, action, text, got: want });
    }
  });
});

describe("what each service holds of a partial frame", () => {
  // 400 sessions each stopped inside the largest frame its protocol allows, fed in 1460-byte reads: what
  // they hold is what arrived (bounded by the service's maxBuffered), not what the header announced.
  test("samba: a NetBIOS header announcing 128 KiB costs what has arrived, not 128 KiB", () => {
    const sessions: ReturnType<typeof drive>[] = [];
    Bun.gc(true);
    const before = heapStats().heapSize;
    for (let i = 0; i < 400; i++) {
      const s = drive("samba-4.17-debian12");
      s.clock.advanceBy(1000); // past smbd's fork
      const frame = new Uint8Array(4 + 3000);
      frame.set([0x00, 0x01, 0xff, 0xff, 0xff, 0x53, 0x4d, 0x42]);
      for (let at = 0; at < frame.length; at += 1460) s.driver.data(frame.subarray(at, at + 1460));
      expect(s.closed()).toBe(false);
      expect(s.session.buffered!()).toBe(frame.length);
      sessions.push(s);
    }
    Bun.gc(true);
    // Each session held a 128 KiB body buffer from the header on (136 KiB of heap per session measured);
    // now 3 KB of body and the session itself.
    const perSession = (heapStats().heapSize - before) / sessions.length;
    expect(perSession).toBeLessThan(48 * 1024);
    for (const s of sessions) s.driver.stop();
  });

  test("samba: a 16 MiB SMB2 frame is read to its end, held only up to the bound", () => {
    // Windows on 445 speaks Direct TCP: 24-bit lengths from the first frame.
    const s = drive("windows-smb-2008r2");
    const bound = serviceModule("samba").maxBuffered!;
    s.driver.data(Uint8Array.from([0x00, 0xff, 0xff, 0xff, 0xfe, 0x53, 0x4d, 0x42]));
    for (let i = 0; i < 8; i++) {
      s.driver.data(new Uint8Array(65536));
      expect(s.session.buffered!()).toBeLessThanOrEqual(bound);
    }
    // What a frame may hold: its 4-byte header and the first 128 KiB (the rest of the bound is for open pipes).
    expect(s.session.buffered!()).toBe(4 + 128 * 1024);
    expect(s.closed()).toBe(false);
    s.driver.stop();
  });

  test("torrent: a piece message of 128 KiB arriving slowly is held once, and a message over the limit closes", () => {
    // A torrent the face's client seeds on this host (any other is dropped once its info_hash is read).
    const face = findEntry("transmission-0.72-freebsd")!;
    const seededHash = seededInfoHashes(makeContext({ entry: face, hostSeed: "framing", sessionSeed: "x", now: () => new Date() }), 1)[0]!;
    const handshake = Uint8Array.from([19, ...toBytes("BitTorrent protocol"), ...new Uint8Array(8), ...Buffer.from(seededHash, "hex"), ...new Uint8Array(20).fill(0x2d)]);
    const s = drive("transmission-0.72-freebsd");
    s.driver.data(handshake);
    const len = 128 * 1024 + 9;
    s.driver.data(Uint8Array.from([len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, 7]));
    for (let i = 0; i < 40; i++) s.driver.data(new Uint8Array(1460));
    expect(s.session.buffered!()).toBe(5 + 40 * 1460);
    expect(s.closed()).toBe(false);
    s.driver.stop();

    const t = drive("transmission-0.72-freebsd");
    t.driver.data(handshake);
    t.driver.data(Uint8Array.from([0x00, 0x10, 0x00, 0x00, 7]));
    expect(t.closed()).toBe(true);
    expect(t.session.buffered!()).toBe(0);
  });
});

describe("regressions", () => {
  test("ftp: empty lines read ahead while the daemon pauses count against its 64 KiB queue (200,000 LFs after a PASS queued 200,000 lines)", () => {
    const s = drive("proftpd-1.3.5-debian");
    s.driver.data(toBytes("USER a\r\n"));
    s.driver.data(toBytes(`PASS b\r\n${"\n".repeat(200_000)}`));
    const held = s.session.buffered!();
    expect(held).toBeLessThanOrEqual(serviceModule("ftp").maxBuffered!);
    expect(held).toBeGreaterThan(60_000);
    s.clock.advanceBy(3_600_000);
    // ProFTPD answers each empty line; the lines past the queue's bound were dropped unread.
    const replies = s.written.join("").split("\r\n").length - 1;
    expect(replies).toBeGreaterThan(60_000);
    expect(replies).toBeLessThan(70_000);
    expect(s.closed()).toBe(true);
  });
});
