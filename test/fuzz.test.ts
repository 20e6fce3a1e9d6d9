// Structured fuzzing, in memory: real request prefixes (SMB, MySQL, HTTP, FTP, BitTorrent) followed by
// random bytes, split at random places. A protocol must answer or close; it must never throw, and it
// must never answer with more than a bounded amount.
import { describe, expect, test } from "bun:test";
import { allEntries } from "../src/catalog/index.ts";
import { makeContext } from "../src/services/context.ts";
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
        const session = startSession(makeContext({ entry, hostSeed: "fuzz", sessionSeed: `f${i}` }));
        const prefix = toBytes(prefixes[rnd(prefixes.length)]!);
        const tail = new Uint8Array(rnd(600)).map(() => rnd(256));
        const whole = new Uint8Array([...prefix, ...tail]);
        let out = 0;
        try {
          out += String(session.open().write ?? "").length;
          let at = 0;
          while (at < whole.length) {
            const cut = at + 1 + rnd(whole.length - at);
            const r = session.data(whole.subarray(at, cut));
            out += typeof r.write === "string" ? r.write.length : (r.write?.length ?? 0);
            if (r.close) break;
            at = cut;
          }
        } catch (err) {
          failures.push(`${entry.id} #${i}: ${(err as Error).message}`);
        }
        if (out > 256 * 1024) failures.push(`${entry.id} #${i}: answered ${out} bytes to ${whole.length}`);
      }
    }
    expect(failures.slice(0, 10)).toEqual([]);
  });
});
