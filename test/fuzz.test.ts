// Structured fuzzing, in memory: real request prefixes (SMB, MySQL, HTTP, FTP, BitTorrent) followed by
// random bytes, split at random places. A protocol must answer or close; it must never throw, and it
// must never answer with more than a bounded amount.
import { describe, expect, test } from "bun:test";
import { allEntries } from "../src/catalog/index.ts";
import { makeContext } from "../src/protocols/context.ts";
import { protocolFor } from "../src/protocols/index.ts";
import { toBytes } from "../src/util/bytes.ts";

const PREFIXES: Record<string, string[]> = {
  samba: [
    "\x00\x00\x00\xa4\xffSMBr\x00\x00\x00\x00\x08\x01@\x00",
    "\x00\x00\x00\x90\xfeSMB@\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    "\x00\x00\x01\x00\xffSMBs\x00\x00\x00\x00\x18\x07\xc8\x00",
    "\x00\x00\x01\x00\xfeSMB@\x00\x01\x00\x00\x00\x00\x00\x01\x00",
    "\x81\x00\x00\x44 CKFDENECFDEFFCFGEFFCCACACACACACA\x00",
  ],
  mysql: ["\x20\x00\x00\x01\x85\xa6\x3f\x20\x00\x00\x00\x01\x21", "\x05\x00\x00\x00\x03SELE", "\xff\xff\xff\x01"],
  http: ["GET / HTTP/1.1\r\nHost: x\r\nContent-Length: ", "POST /x HTTP/1.0\r\nAuthorization: Basic ", "OPTIONS * HTTP/1.1\r\n"],
  ftp: ["USER ", "PASS ", "SITE ", "RETR ", "\xff\xf4\xff\xf2"],
  torrent: ["\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x05", "GET /announce?info_hash=", "\x13BitTorrent protocol"],
};

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
      const prefixes = PREFIXES[entry.service]!;
      for (let i = 0; i < 2000 / (allEntries().filter((e) => e.service === entry.service).length || 1); i++) {
        const session = protocolFor(entry.service).start(makeContext({ entry, hostSeed: "fuzz", sessionSeed: `f${i}` }));
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
