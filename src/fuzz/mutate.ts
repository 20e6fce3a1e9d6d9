// Mutations of recorded client input: bit flips, bytes set, inserted and deleted, ranges repeated,
// length fields and integers set to boundary values (binary and in ASCII), splices from other recorded
// requests, truncation, huge runs (a line of 128 KiB, a field of NULs), whole messages repeated or dropped.
// Each case draws its own numbers from its own Rng, so a case is reproduced from its number alone.
import type { Corpus } from "./corpus.ts";
import { type Rng, weights } from "./rng.ts";

/** No case's input grows past this (the listener accepts 1 MiB per session; a third is plenty here). */
export const MAX_INPUT = 320 * 1024;
/** Most cases stay under this: big inputs are a few percent of cases, where they cost what they cost. */
export const SMALL_INPUT = 8 * 1024;

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x20, 0x09, 0x3a, 0x25, 0x2f, 0x3f, 0x5c, 0x22, 0x27, 0x3c, 0xfe, 0xc0, 0x13];

/** Boundary values for binary length fields and integers. */
const BOUNDARIES = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 0x7f, 0x80, 0xfe, 0xff, 0x100, 0x3ff, 0x400, 0x7fff, 0x8000, 0xfffe, 0xffff, 0x10000, 0x1ffff, 0x20000,
  0x20001, 0xffffff, 0x1000000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];

/** Boundary values for numbers written in ASCII (Content-Length, PORT arguments, sizes). */
const ASCII_NUMBERS = ["0", "-1", "1", "00000000000000000001", "65535", "65536", "2147483647", "2147483648", "4294967295", "4294967296", "18446744073709551615", "18446744073709551616", "99999999999999999999999999", "1e9", "0x10", "+5", " 5", "5 5", "NaN", ""];

/** Runs that stress line and field caps: lengths just under, at and over the usual limits. */
const RUN_LENGTHS = [255, 256, 512, 1023, 1024, 4095, 4096, 8190, 8191, 8192, 16383, 16384, 16385, 35000, 65535, 65536, 131072, 200000];
const RUN_BYTES = [0x41, 0x00, 0x0a, 0x20, 0xff, 0x0d, 0x25, 0x2c];

/** What a mutation may draw on: the corpus to splice from, and how large the input may grow. */
interface Room {
  corpus: Corpus;
  limit: number;
}

type Mutation = (rng: Rng, b: Uint8Array, room: Room) => Uint8Array;

/** The parts one after the other, cut at `limit` bytes. */
function join(limit: number, ...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(Math.min(n, limit));
  let at = 0;
  for (const p of parts) {
    if (at >= out.length) break;
    const take = Math.min(p.length, out.length - at);
    out.set(p.subarray(0, take), at);
    at += take;
  }
  return out;
}

const pos = (rng: Rng, b: Uint8Array): number => rng.int(b.length + 1);

const flipBits: Mutation = (rng, b, room) => {
  if (b.length === 0) return b;
  const out = b.slice();
  for (let k = rng.range(1, 8); k > 0; k--) out[rng.int(out.length)]! ^= 1 << rng.int(8);
  return out;
};

const setBytes: Mutation = (rng, b, room) => {
  if (b.length === 0) return b;
  const out = b.slice();
  for (let k = rng.range(1, 4); k > 0; k--) out[rng.int(out.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
  return out;
};

const insertBytes: Mutation = (rng, b, room) => {
  const at = pos(rng, b);
  const n = rng.range(1, 32);
  const ins = rng.chance(0.5) ? rng.bytes(n) : new Uint8Array(n).map(() => rng.pick(INTERESTING_BYTES));
  return join(room.limit, b.subarray(0, at), ins, b.subarray(at));
};

const deleteRange: Mutation = (rng, b, room) => {
  if (b.length === 0) return b;
  const at = rng.int(b.length);
  const n = rng.range(1, Math.min(64, b.length - at));
  return join(room.limit, b.subarray(0, at), b.subarray(at + n));
};

const repeatRange: Mutation = (rng, b, room) => {
  if (b.length === 0) return b;
  const from = rng.int(b.length);
  const piece = b.subarray(from, from + rng.range(1, Math.min(256, b.length - from)));
  const times = rng.weighted(REPEATS)(rng);
  const at = pos(rng, b);
  const reps: Uint8Array[] = [];
  let total = b.length;
  for (let i = 0; i < times && total + piece.length <= room.limit; i++, total += piece.length) reps.push(piece);
  return join(room.limit, b.subarray(0, at), ...reps, b.subarray(at));
};

/** A 1-4 byte integer at a random place set to a boundary value or nudged, big- or little-endian. */
const integerField: Mutation = (rng, b, room) => {
  if (b.length === 0) return b;
  const width = rng.pick([1, 2, 3, 4]);
  const at = rng.int(Math.max(1, b.length - width + 1));
  const out = b.slice();
  const le = rng.chance(0.5);
  let v: number;
  if (rng.chance(0.7)) v = rng.pick(BOUNDARIES);
  else {
    let cur = 0;
    for (let i = 0; i < width; i++) cur = cur * 256 + (out[le ? at + width - 1 - i : at + i] ?? 0);
    v = cur + rng.range(-16, 16);
  }
  v = v >>> 0;
  for (let i = 0; i < width && at + i < out.length; i++) {
    const shift = 8 * (le ? i : width - 1 - i);
    out[at + i] = shift >= 32 ? 0 : (v >>> shift) & 0xff;
  }
  return out;
};

/** A run of ASCII digits replaced by a boundary number (Content-Length: 18446744073709551616). */
const asciiNumber: Mutation = (rng, b, room) => {
  const runs: [number, number][] = [];
  for (let i = 0; i < b.length && runs.length < 64; i++) {
    if (b[i]! >= 0x30 && b[i]! <= 0x39) {
      const start = i;
      while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
      runs.push([start, i]);
    }
  }
  const num = Uint8Array.from(Buffer.from(rng.pick(ASCII_NUMBERS), "latin1"));
  if (runs.length === 0) {
    const at = pos(rng, b);
    return join(room.limit, b.subarray(0, at), num, b.subarray(at));
  }
  const [s, e] = rng.pick(runs);
  return join(room.limit, b.subarray(0, s), num, b.subarray(e));
};

/** Part of another recorded message, inserted or written over this one. */
const splice: Mutation = (rng, b, room) => {
  if (room.corpus.pieces.length === 0) return b;
  const other = rng.pick(room.corpus.pieces);
  const from = rng.int(other.length);
  const piece = other.subarray(from, from + rng.range(1, other.length - from));
  const at = pos(rng, b);
  return rng.chance(0.5) ? join(room.limit, b.subarray(0, at), piece, b.subarray(at)) : join(room.limit, b.subarray(0, at), piece, b.subarray(Math.min(b.length, at + piece.length)));
};

const truncate: Mutation = (rng, b, room) => b.subarray(0, rng.int(b.length + 1));

/** A run long enough to reach a line, field or frame limit: just under it, at it, or past it. */
const hugeRun: Mutation = (rng, b, room) => {
  const n = Math.min(rng.pick(RUN_LENGTHS) + rng.range(-2, 2), room.limit - b.length);
  if (n <= 0) return b;
  const at = pos(rng, b);
  return join(room.limit, b.subarray(0, at), new Uint8Array(n).fill(rng.pick(RUN_BYTES)), b.subarray(at));
};

const lineEnds: Mutation = (rng, b, room) => {
  const at = pos(rng, b);
  const end = rng.pick(["\r\n", "\n", "\r", "\r\n\r\n", "\n\n", "\0", "\r\r\n", " \r\n", "\t"]);
  return join(room.limit, b.subarray(0, at), Uint8Array.from(Buffer.from(end, "latin1")), b.subarray(at));
};

const REPEATS = weights([
  [6, (rng: Rng) => rng.range(1, 4)],
  [3, (rng: Rng) => rng.range(5, 100)],
  [1, (rng: Rng) => rng.range(100, 2000)],
]);

const BYTE_MUTATIONS = weights<Mutation>([
  [10, flipBits],
  [10, setBytes],
  [8, insertBytes],
  [8, deleteRange],
  [5, repeatRange],
  [10, integerField],
  [6, asciiNumber],
  [7, splice],
  [4, truncate],
  [2, hugeRun],
  [5, lineEnds],
]);

const ROUNDS = weights([
  [1, () => 0],
  [4, () => 1],
  [3, () => 2],
  [2, (rng: Rng) => rng.range(3, 6)],
  [1, (rng: Rng) => rng.range(7, 16)],
]);

const MESSAGE_OPS = weights([
  [20, "bytes"],
  [1, "repeat"],
  [1, "drop"],
  [1, "swap"],
  [1, "add"],
] as const);

/**
 * Mutates a message list: byte mutations inside one message, or whole messages repeated, dropped, swapped,
 * added; the whole stays within `limit` bytes.
 */
export function mutateMessages(rng: Rng, messages: Uint8Array[], corpus: Corpus, limit = MAX_INPUT): Uint8Array[] {
  const room: Room = { corpus, limit: Math.min(limit, MAX_INPUT) };
  let out = messages.slice();
  const rounds = rng.weighted(ROUNDS)(rng);
  for (let r = 0; r < rounds; r++) {
    const size = out.reduce((n, m) => n + m.length, 0);
    const kind = rng.weighted(MESSAGE_OPS);
    if (out.length === 0 || kind === "add") {
      if (corpus.pieces.length > 0 && size < room.limit) out.splice(rng.int(out.length + 1), 0, rng.pick(corpus.pieces));
      continue;
    }
    const i = rng.int(out.length);
    if (kind === "bytes") out[i] = rng.weighted(BYTE_MUTATIONS)(rng, out[i]!, room);
    else if (kind === "repeat") {
      const times = rng.chance(0.8) ? rng.range(1, 8) : rng.range(9, 200);
      const extra: Uint8Array[] = [];
      let total = size;
      for (let k = 0; k < times && total + out[i]!.length <= room.limit; k++, total += out[i]!.length) extra.push(out[i]!);
      out.splice(i + 1, 0, ...extra);
    } else if (kind === "drop") out.splice(i, 1);
    else {
      const j = rng.int(out.length);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    // Keep the whole input within the limit.
    let total = 0;
    out = out.filter((m) => (total += m.length) <= room.limit);
  }
  return out;
}
