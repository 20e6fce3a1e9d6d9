// Bounded counters for keys an attacker chooses (passwords, commands, paths, source addresses): a log
// written by a hostile peer must not make the report's memory grow with it.
//
// TopK is the Space-Saving algorithm (Metwally, Agrawal, El Abbadi, 2005): `capacity` slots; a key
// already held is counted; a new key takes a free slot, or, when none is free, the slot of the key with
// the smallest count, inheriting that count (as `error`). Guarantees, with N the total weight counted:
// every key whose true count exceeds N / capacity is held; a held key's count is never below its true
// count and at most `error` (≤ N / capacity) above it. While no slot was ever taken over, every count is
// exact (`exact` stays true). A min-heap keyed by count finds the slot to take over in O(log capacity).
//
// Distinct is HyperLogLog (Flajolet et al., 2007) with 2^p registers, exact (a Set) while it has seen
// at most `exactUpTo` distinct keys: standard error 1.04 / sqrt(2^p), 3.3 % at p = 10, 0.8 % at p = 14.

export interface TopItem<T> {
  key: string;
  count: number;
  /** How much `count` may exceed the true count (0 while the counter is exact). */
  error: number;
  data: T;
}

export class TopK<T = undefined> {
  private readonly heap: TopItem<T>[] = [];
  private readonly index = new Map<string, number>();
  /** Total weight counted. */
  total = 0;
  /** False once a key was evicted to make room: counts may then be over by at most `error`. */
  exact = true;

  constructor(
    readonly capacity: number,
    private readonly fresh: (key: string) => T,
  ) {}

  /** Counts `key` by `weight` and returns its slot's data, to update alongside. */
  add(key: string, weight = 1): T {
    this.total += weight;
    const at = this.index.get(key);
    if (at !== undefined) {
      const item = this.heap[at]!;
      item.count += weight;
      this.down(at);
      return item.data;
    }
    if (this.heap.length < this.capacity) {
      const item: TopItem<T> = { key, count: weight, error: 0, data: this.fresh(key) };
      this.heap.push(item);
      this.index.set(key, this.heap.length - 1);
      this.up(this.heap.length - 1);
      return item.data;
    }
    this.exact = false;
    const min = this.heap[0]!;
    this.index.delete(min.key);
    const item: TopItem<T> = { key, count: min.count + weight, error: min.count, data: this.fresh(key) };
    this.heap[0] = item;
    this.index.set(key, 0);
    this.down(0);
    return item.data;
  }

  /** The data of a key held now, without counting it. */
  peek(key: string): T | undefined {
    const at = this.index.get(key);
    return at === undefined ? undefined : this.heap[at]!.data;
  }

  get size(): number {
    return this.heap.length;
  }

  /** The `n` largest counts, largest first (ties by key, for a stable report). */
  top(n: number): TopItem<T>[] {
    return [...this.heap].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(0, n);
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i]!;
    const b = this.heap[j]!;
    this.heap[i] = b;
    this.heap[j] = a;
    this.index.set(b.key, i);
    this.index.set(a.key, j);
  }

  private up(i: number): void {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.heap[p]!.count <= this.heap[i]!.count) return;
      this.swap(i, p);
      i = p;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.heap[l]!.count < this.heap[m]!.count) m = l;
      if (r < n && this.heap[r]!.count < this.heap[m]!.count) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

/** FNV-1a over UTF-16 code units, then murmur3's finaliser: a well-spread 32-bit hash of a string. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class Distinct {
  private exactSet: Set<string> | undefined = new Set();
  private registers: Uint8Array | undefined;

  constructor(
    private readonly p = 10,
    private readonly exactUpTo = 256,
  ) {}

  add(key: string): void {
    if (this.exactSet) {
      this.exactSet.add(key);
      if (this.exactSet.size <= this.exactUpTo) return;
      this.registers = new Uint8Array(1 << this.p);
      for (const k of this.exactSet) this.addHashed(k);
      this.exactSet = undefined;
      return;
    }
    this.addHashed(key);
  }

  /** Whether the count is exact (no estimate yet). */
  get exact(): boolean {
    return this.exactSet !== undefined;
  }

  private addHashed(key: string): void {
    const h = hash32(key);
    const idx = h >>> (32 - this.p);
    const w = (h << this.p) >>> 0;
    // Rank: position of the first 1 bit in the remaining 32 - p bits (1-based).
    const rank = w === 0 ? 32 - this.p + 1 : Math.clz32(w) + 1;
    const regs = this.registers!;
    if (rank > regs[idx]!) regs[idx] = rank;
  }

  count(): number {
    if (this.exactSet) return this.exactSet.size;
    const regs = this.registers!;
    const m = regs.length;
    let sum = 0;
    let zeros = 0;
    for (let i = 0; i < m; i++) {
      sum += 2 ** -regs[i]!;
      if (regs[i] === 0) zeros++;
    }
    const alpha = 0.7213 / (1 + 1.079 / m);
    const raw = (alpha * m * m) / sum;
    // Small range: linear counting is more accurate while registers are still empty.
    if (raw <= 2.5 * m && zeros > 0) return Math.round(m * Math.log(m / zeros));
    return Math.round(raw);
  }
}
