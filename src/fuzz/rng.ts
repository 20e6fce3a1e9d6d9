// A small, fast, seeded generator for the fuzzer (sfc32, seeded through splitmix32). Not for secrets: it
// only has to give every case of every run the same bytes, on every machine.

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** FNV-1a of a string: turns a service name into part of a seed. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for one case: the same (seed, stream, case) always gives the same numbers. */
  constructor(...parts: number[]) {
    let mix = 0x6a09e667;
    for (const p of parts) mix = splitmix32((mix ^ Math.imul(p >>> 0, 0x9e3779b1)) >>> 0)();
    const sm = splitmix32(mix);
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    for (let i = 0; i < 8; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 4294967296) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Picks by weight from a table made once (see `weights`). */
  weighted<T>(table: Weighted<T>): T {
    const r = (this.u32() / 4294967296) * table.total;
    const { cumulative, values } = table;
    for (let i = 0; i < cumulative.length; i++) if (r < cumulative[i]!) return values[i]!;
    return values[values.length - 1]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const x = this.u32();
      out[i] = x;
      if (i + 1 < n) out[i + 1] = x >>> 8;
      if (i + 2 < n) out[i + 2] = x >>> 16;
      if (i + 3 < n) out[i + 3] = x >>> 24;
    }
    return out;
  }
}

export interface Weighted<T> {
  total: number;
  cumulative: number[];
  values: T[];
}

/** A weighted choice, built once: `weights([[70, "a"], [30, "b"]])`. */
export function weights<T>(table: readonly (readonly [number, T])[]): Weighted<T> {
  let total = 0;
  const cumulative: number[] = [];
  for (const [w] of table) cumulative.push((total += w));
  return { total, cumulative, values: table.map(([, v]) => v) };
}
