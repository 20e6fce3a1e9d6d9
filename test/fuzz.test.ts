// Structured fuzzing, in memory: real request prefixes (SMB, MySQL, HTTP, FTP, BitTorrent) followed by
// random bytes, split at random places, with random pauses between the pieces, driven through the same
// SessionDriver as the listener on a virtual clock (so delayed replies and timers are fuzzed too). A
// session must answer or close; it must never throw, and it must never answer with more than a bounded
// amount.
import { describe, expect, test } from "bun:test";
import { allEntries } from "../src/catalog/index.ts";
import { makeContext } from "../src/services/context.ts";
import { SessionDriver, VirtualClock } from "../src/services/driver.ts";
import { serviceModule, startSession } from "../src/services/index.ts";
import { toBytes } from "../src/wire/bytes.ts";

let seed = 0x2545f491;
function rnd(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

describe("structured fuzzing of every entry", () => {
  test("2,000 hostile sessions per service: no throw, bounded answers", () => {
    const failures: string[] = [];
    for (const entry of allEntries()) {
      const prefixes = serviceModule(entry.service).fuzzPrefixes;
      for (let i = 0; i < 2000 / (allEntries().filter((e) => e.service === entry.service).length || 1); i++) {
        const prefix = toBytes(prefixes[rnd(prefixes.length)]!);
        const tail = new Uint8Array(rnd(600)).map(() => rnd(256));
        const whole = new Uint8Array([...prefix, ...tail]);
        const clock = new VirtualClock();
        let out = 0;
        let closed = false;
        const driver = new SessionDriver(startSession(makeContext({ entry, hostSeed: "fuzz", sessionSeed: `f${i}` })), clock, {
          write: (b) => void (out += b.length),
          events: () => {},
          close: () => void (closed = true),
          error: (err) => void failures.push(`${entry.id} #${i}: ${err.message}`),
        });
        driver.open();
        let at = 0;
        while (at < whole.length && !closed) {
          const cut = at + 1 + rnd(whole.length - at);
          driver.data(whole.subarray(at, cut));
          // Now and then a pause, long enough for a daemon's delay or timeout to run out.
          clock.advanceBy([0, 0, 0, 50, 3000, 30_000, 400_000][rnd(7)]!);
          at = cut;
        }
        clock.advanceBy(3_600_000);
        if (out > 256 * 1024) failures.push(`${entry.id} #${i}: answered ${out} bytes to ${whole.length}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
