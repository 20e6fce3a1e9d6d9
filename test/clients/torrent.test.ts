// A real BitTorrent client against the trap: aria2c announces a torrent to the Azureus tracker face and must
// read the tracker's bencoded refusal ("Torrent unauthorised", Azureus's words for a torrent it does not
// track), where an HTML page made it fail with "Bencode decoding failed"; the announce is logged with the
// torrent's info_hash as a field. The torrent file is built here, by BEP 3.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir, until, withTimeout, type Running } from "../helpers.ts";

const hasAria2 = Bun.spawnSync(["sh", "-c", "command -v aria2c"]).exitCode === 0;
const running: Running[] = [];
afterAll(async () => {
  for (const r of running) await r.stop();
});

function bencode(v: unknown): Buffer {
  if (typeof v === "number") return Buffer.from(`i${v}e`);
  if (typeof v === "string") return bencode(Buffer.from(v));
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`${v.length}:`), v]);
  const entries = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
  return Buffer.concat([Buffer.from("d"), ...entries.flatMap(([k, x]) => [bencode(k), bencode(x)]), Buffer.from("e")]);
}

describe.if(hasAria2)("aria2c against the Azureus tracker face", () => {
  test("the announce gets a bencoded failure reason that aria2c reads, and is logged with its info_hash", async () => {
    const dir = tempDir("micetrap-aria2-");
    const log = join(dir, "events.jsonl");
    const trap = await startProcess([BUN, "src/cli.ts", "torrent", "0", "--host", "127.0.0.1", "--banner", "azureus-3.0.5.2-debian", "--log", log]);
    running.push(trap);
    const info = { name: "notes.bin", length: 16384, "piece length": 16384, pieces: createHash("sha1").update(Buffer.alloc(16384)).digest() };
    const infoHash = createHash("sha1").update(bencode(info)).digest("hex");
    const file = join(dir, "notes.torrent");
    await Bun.write(file, bencode({ announce: `http://127.0.0.1:${trap.port}/announce`, info }));
    const aria = Bun.spawn(
      ["aria2c", "-d", dir, "--stop=5", "--bt-tracker-timeout=4", "--enable-dht=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--listen-port=16999", "--console-log-level=notice", file],
      { stdout: "pipe", stderr: "pipe" },
    );
    const [out, err] = await Promise.all([new Response(aria.stdout).text(), new Response(aria.stderr).text()]);
    await withTimeout(aria.exited, 20_000, "aria2c");
    const said = out + err;
    expect(said).toContain("Tracker returned failure reason: Torrent unauthorised");
    expect(said).not.toContain("Bencode decoding failed");
    const announce = await until(() => readLog(log).find((e) => e.event?.action === "command" && String(e.micetrap?.command ?? "").startsWith("GET /announce?")));
    expect(announce.micetrap.client.info_hash).toBe(infoHash);
  }, 40_000);
});
