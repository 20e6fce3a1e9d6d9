// The shipped file: built by the real build script, copied alone into an empty folder, run with an empty
// environment (no Node, no Bun on PATH), and deaf to bunfig.toml / .env files where it runs.
import { describe, expect, test } from "bun:test";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildBinary, connect, startProcess, tempDir, withTimeout } from "./helpers.ts";

describe("compiled binary", () => {
  test("runs alone with env -i and serves", async () => {
    const bin = await buildBinary();
    const dir = tempDir("micetrap-bin-");
    copyFileSync(bin, join(dir, "micetrap"));
    // A hostile working directory: a preload that would announce itself if the binary read bunfig.toml.
    writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./evil.ts"]\n');
    writeFileSync(join(dir, "evil.ts"), 'console.log("PRELOADED"); process.exit(42);\n');
    writeFileSync(join(dir, ".env"), "MICETRAP_INJECTED=1\n");
    const t = await startProcess(["env", "-i", "./micetrap", "ftp", "0", "--host", "127.0.0.1"], { cwd: dir, env: {} });
    expect(t.lines()[0]).toBe(`Fake ftp service listening on port ${t.port}...`);
    const c = await connect(t.port);
    await c.waitFor((s) => /^220[ -]/.test(s));
    c.send("QUIT\r\n");
    await withTimeout(c.closed, 3000, "QUIT");
    expect(await t.stop()).toBe(0);
    expect(t.lines().join("\n")).not.toContain("PRELOADED");
  });

  test("alone, it also speaks SSH (ssh2 bundled) and TLS (certificates minted inside)", async () => {
    const bin = await buildBinary();
    const dir = tempDir("micetrap-bin-");
    copyFileSync(bin, join(dir, "micetrap"));
    const ssh = await startProcess(["env", "-i", "./micetrap", "ssh", "0", "--host", "127.0.0.1", "--banner", "openssh-7.4p1-debian9", "--seed", "bin"], { cwd: dir, env: {}, timeoutMs: 30_000 });
    const https = await startProcess(["env", "-i", "./micetrap", "https", "0", "--host", "127.0.0.1", "--banner", "apache-2.4.10-debian-ssl", "--seed", "bin"], { cwd: dir, env: {}, timeoutMs: 30_000 });
    try {
      const scan = Bun.spawnSync(["ssh-keyscan", "-T", "5", "-p", String(ssh.port), "127.0.0.1"], { stdout: "pipe", stderr: "pipe" });
      const keys = scan.stdout.toString().trim().split("\n").map((l) => l.split(" ")[1]).sort();
      expect(keys).toEqual(["ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa"]);
      const page = Bun.spawnSync(["curl", "-sk", "--max-time", "10", `https://127.0.0.1:${https.port}/`], { stdout: "pipe" });
      expect(page.stdout.toString()).toContain("Apache2 Debian Default Page");
    } finally {
      expect(await ssh.stop()).toBe(0);
      expect(await https.stop()).toBe(0);
    }
  }, 60_000);
});
