// Deterministic randomness: the same seed gives the same numbers in every process, on every platform.
import { createHash } from "node:crypto";

/** A number in [0, 1) from the SHA-256 of the parts: stable, well spread, no state. */
export function hashUnit(...parts: string[]): number {
  const digest = createHash("sha256").update(parts.join("\u0000")).digest();
  // 53 bits of the digest, the precision of a double.
  const hi = digest.readUInt32BE(0) >>> 5; // 27 bits
  const lo = digest.readUInt32BE(4) >>> 6; // 26 bits
  return (hi * 67108864 + lo) / 9007199254740992;
}

/** Pseudo-random bytes from a seed (SHA-256 in counter mode). For replays and tests, not for secrets. */
export function seededBytes(seed: string): (n: number) => Uint8Array {
  let counter = 0;
  let pool = new Uint8Array(0);
  return (n: number) => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (pool.length === 0) pool = new Uint8Array(createHash("sha256").update(`${seed}\u0000${counter++}`).digest());
      const take = Math.min(pool.length, n - filled);
      out.set(pool.subarray(0, take), filled);
      pool = pool.subarray(take);
      filled += take;
    }
    return out;
  };
}

/** Crypto-quality random bytes, for live sessions (a real server's salt is never predictable). */
export function cryptoBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
