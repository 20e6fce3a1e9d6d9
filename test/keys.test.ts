// Keys from the host seed: the same seed gives the same key in a fresh process (a restart), another seed
// another key, and OpenSSL itself accepts each key as a sound RSA key of the size asked for.
import { describe, expect, test } from "bun:test";
import { createPublicKey, createSign, createVerify } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { seededRsa, seedStream } from "../src/keys/seeded.ts";
import { BUN, ROOT, tempDir } from "./helpers.ts";

const modulusBits = (pem: string) => createPublicKey(pem).asymmetricKeyDetails?.modulusLength;

describe("seed-derived keys", () => {
  test("a restart derives the same RSA key; another seed or label another", () => {
    const here = seededRsa("host-a", "ssh", 2048).privatePem;
    // A separate process: nothing cached, as after a restart.
    const script = `import { seededRsa } from "${ROOT}/src/keys/seeded.ts"; process.stdout.write(seededRsa("host-a", "ssh", 2048).privatePem);`;
    const child = Bun.spawnSync([BUN, "-e", script], { cwd: ROOT });
    expect(child.exitCode).toBe(0);
    expect(child.stdout.toString()).toBe(here);
    expect(seededRsa("host-b", "ssh", 2048).privatePem).not.toBe(here);
    expect(seededRsa("host-a", "tls", 2048).privatePem).not.toBe(here);
  });

  test("keys have exactly the size asked for, sign and verify, and pass openssl's check", () => {
    const dir = tempDir();
    for (const bits of [1024, 1040, 2048, 3072]) {
      const { privatePem, key } = seededRsa(`size-${bits}`, "ssh", bits);
      expect(modulusBits(privatePem)).toBe(bits);
      const sig = createSign("sha256").update("micetrap").sign(key);
      expect(createVerify("sha256").update("micetrap").verify(createPublicKey(key), sig)).toBe(true);
      const file = join(dir, `k${bits}.pem`);
      writeFileSync(file, privatePem);
      const check = Bun.spawnSync(["openssl", "rsa", "-check", "-noout", "-in", file]);
      expect(check.stdout.toString() + check.stderr.toString()).toContain("RSA key ok");
    }
  });

  test("the seed stream depends on seed and label only, and is not a repeating pattern", () => {
    const a = seedStream("s", "x");
    const first = Buffer.concat([a(10), a(50), a(4)]);
    expect(seedStream("s", "x")(64).equals(first)).toBe(true);
    expect(seedStream("s", "y")(64).equals(first)).toBe(false);
    expect(seedStream("t", "x")(64).equals(first)).toBe(false);
    expect(first.subarray(0, 32).equals(first.subarray(32, 64))).toBe(false);
  });
});
