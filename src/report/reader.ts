// Reads JSON Lines event logs for `micetrap report`: files (plain, or gzip as logrotate leaves them,
// recognised by gzip's magic bytes 1f 8b, never by the name) and stdin, as one stream of lines.
// Memory stays bounded whatever the input: a line longer than MAX_LINE characters is skipped up to its
// end (counted, never kept), and gzip is inflated as a stream.
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";

/** The longest line kept: a data event of 64 KiB escaped four times over fits with room to spare. */
export const MAX_LINE = 1024 * 1024;

export interface ReadStats {
  /** Lines longer than MAX_LINE, skipped whole. */
  overlong: number;
  /** Sources that failed part-way (a truncated gzip): what came before the failure is counted. */
  broken: { source: string; error: string }[];
}

async function* chunksOf(source: string): AsyncGenerator<Uint8Array> {
  const stream = source === "-" ? process.stdin : createReadStream(source, { highWaterMark: 1024 * 1024 });
  for await (const chunk of stream as AsyncIterable<Uint8Array | string>) yield typeof chunk === "string" ? Buffer.from(chunk) : chunk;
}

/** The bytes of one source, inflated when its first two bytes are gzip's magic. */
async function* decoded(source: string): AsyncGenerator<Uint8Array> {
  const raw = chunksOf(source);
  // The magic may straddle chunks in principle (stdin delivers what it has): gather two bytes first.
  let head = new Uint8Array(0);
  while (head.length < 2) {
    const next = await raw.next();
    if (next.done) break;
    const joined = new Uint8Array(head.length + next.value.length);
    joined.set(head);
    joined.set(next.value, head.length);
    head = joined;
  }
  const rest = async function* () {
    if (head.length > 0) yield head;
    yield* raw;
  };
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    const gunzip = Readable.from(rest()).pipe(createGunzip({ chunkSize: 256 * 1024 }));
    for await (const chunk of gunzip as AsyncIterable<Uint8Array>) yield chunk;
  } else yield* rest();
}

/**
 * Every complete line of every source, in order (stdin for "-"). A last line without its newline counts.
 * A source that cannot be opened throws (the caller names it); one that breaks part-way is noted in stats.
 */
export async function* readLines(sources: string[], stats: ReadStats): AsyncGenerator<string> {
  for (const source of sources) {
    const decoder = new TextDecoder("utf-8");
    let carry = "";
    let skipping = false;
    let started = false;
    try {
      for await (const chunk of decoded(source)) {
        started = true;
        const text = decoder.decode(chunk, { stream: true });
        let from = 0;
        for (;;) {
          const nl = text.indexOf("\n", from);
          if (nl < 0) break;
          if (skipping) skipping = false;
          else if (carry.length + (nl - from) > MAX_LINE) {
            stats.overlong++;
          } else {
            const line = carry.length > 0 ? carry + text.slice(from, nl) : text.slice(from, nl);
            if (line.length > 0) yield line;
          }
          carry = "";
          from = nl + 1;
        }
        if (!skipping) {
          if (carry.length + (text.length - from) > MAX_LINE) {
            stats.overlong++;
            skipping = true;
            carry = "";
          } else carry += text.slice(from);
        }
      }
      const tail = carry + decoder.decode();
      if (!skipping && tail.length > 0 && tail.length <= MAX_LINE) yield tail;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (!started && e.code !== undefined && e.code !== "Z_BUF_ERROR" && e.code !== "Z_DATA_ERROR") throw err;
      stats.broken.push({ source, error: e.message ?? String(err) });
    }
  }
}
