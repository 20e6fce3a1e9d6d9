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
});
