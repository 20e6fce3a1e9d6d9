// Keys derived from the host seed, so a host shows the same keys and certificates after every restart and
// another host shows others. The cryptography is the libraries': node:crypto tests primality, builds and
// signs with the keys; node-forge writes certificates. This file only feeds them numbers that depend on
// nothing but the seed and a label.
import { checkPrimeSync, createHmac, createPrivateKey, type KeyObject } from "node:crypto";

/** A deterministic byte stream: HMAC-SHA256(seed, label ‖ counter), block after block. */
export function seedStream(seed: string, label: string): (n: number) => Buffer {
  let counter = 0;
  let pool = Buffer.alloc(0);
  return (n: number) => {
    while (pool.length < n) {
      const block = createHmac("sha256", seed).update(`${label}\u0000${counter++}`).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = pool.subarray(0, n);
    pool = pool.subarray(n);
    return out;
  };
}

export interface SeededRsa {
  key: KeyObject;
  /** PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), as ssh2, node:tls and node-forge read it. */
  privatePem: string;
  bits: number;
}

const E = 65537n;

// Generation takes tens of milliseconds; one host asks for the same key from several places.
const rsaCache = new Map<string, SeededRsa>();

/**
 * An RSA key of `bits` from the seed. Candidates come from the seed stream (top two bits set, so p·q has
 * exactly `bits` bits, and odd); node:crypto's primality test decides. forge's own search did the same
 * in pure JS, but took 1–50 s per key.
 */
export function seededRsa(seed: string, label: string, bits: number): SeededRsa {
  const cacheKey = `${bits}\u0000${label}\u0000${seed}`;
  const cached = rsaCache.get(cacheKey);
  if (cached) return cached;
  const next = seedStream(seed, `rsa-${bits}:${label}`);
  const pBits = Math.ceil(bits / 2);
  const qBits = bits - pBits;
  let p = seededPrime(next, pBits);
  let q = seededPrime(next, qBits);
  while (p === q) q = seededPrime(next, qBits);
  if (p < q) [p, q] = [q, p];
  const n = p * q;
  const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
  const d = modInverse(E, lambda);
  const jwk = {
    kty: "RSA",
    n: b64u(n),
    e: b64u(E),
    d: b64u(d),
    p: b64u(p),
    q: b64u(q),
    dp: b64u(d % (p - 1n)),
    dq: b64u(d % (q - 1n)),
    qi: b64u(modInverse(q, p)),
  };
  const key = createPrivateKey({ key: jwk, format: "jwk" });
  const made: SeededRsa = { key, privatePem: key.export({ type: "pkcs1", format: "pem" }).toString(), bits };
  rsaCache.set(cacheKey, made);
  return made;
}

function seededPrime(next: (n: number) => Buffer, bits: number): bigint {
  for (let tries = 0; tries < 1_000_000; tries++) {
    let c = BigInt(`0x${next(Math.ceil(bits / 8)).toString("hex")}`) & ((1n << BigInt(bits)) - 1n);
    c |= (3n << BigInt(bits - 2)) | 1n;
    // e must be invertible mod p−1.
    if ((c - 1n) % E === 0n) continue;
    if (checkPrimeSync(c, { checks: 64 })) return c;
  }
  throw new Error("no prime found from the seed stream");
}

function gcd(a: bigint, b: bigint): bigint {
  while (b) [a, b] = [b, a % b];
  return a;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [a % m, m];
  let [s0, s1] = [1n, 0n];
  while (r1) {
    const qt = r0 / r1;
    [r0, r1] = [r1, r0 - qt * r1];
    [s0, s1] = [s1, s0 - qt * s1];
  }
  if (r0 !== 1n) throw new Error("not invertible");
  return ((s0 % m) + m) % m;
}

function b64u(x: bigint): string {
  let hex = x.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, "hex").toString("base64url");
}
