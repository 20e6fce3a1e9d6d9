// Debian's rsync client against the real CLI: `rsync rsync://host:port/` lists the host's modules, and a
// login to a module with auth (RSYNC_PASSWORD) is refused with the daemon's words; the JSON Lines log holds
// it as a hashcat line that verifies against the password the client used.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const RSYNC = Bun.which("rsync");

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = Bun.spawn([RSYNC!, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("rsync-client-home-"), ...env },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("the rsync client against micetrap rsync", () => {
  test("the client is installed (scripts/test.sh installs rsync)", () => {
    expect(RSYNC).toBeDefined();
  });

  // 3.2.7's greeting offers sha512 first (the client's first choice); 3.1.2's none (md5 from protocol 30).
  const DIGEST: Record<string, { hash: string; mode: number }> = {
    "rsync-3.2.7-debian12": { hash: "sha512", mode: 1710 },
    "rsync-3.1.2-rhel7": { hash: "md5", mode: 10 },
  };
  for (const [banner, want] of Object.entries(DIGEST)) {
    test(`${banner}: modules listed; a login is refused and logged as a ${want.hash} hashcat line`, async () => {
      const dir = tempDir();
      const logFile = join(dir, "events.jsonl");
      const t = await startProcess([BUN, "src/cli.ts", "rsync", "0", "--host", "127.0.0.1", "--banner", banner, "--seed", "client-test", "--log", logFile]);
      let refusedOn = "";
      try {
        const list = await run([`rsync://127.0.0.1:${t.port}/`]);
        expect(list.code).toBe(0);
        const modules = list.stdout.split("\n").filter(Boolean).map((l) => l.split(/\s+/)[0]!);
        expect(modules.length).toBeGreaterThanOrEqual(2);
        for (const m of modules) {
          const r = await run([`rsync://alice@127.0.0.1:${t.port}/${m}/`], { RSYNC_PASSWORD: "correct horse" });
          expect(r.code).toBe(5);
          if (r.stderr.startsWith(`@ERROR: auth failed on module ${m}\n`)) {
            refusedOn = m;
            break;
          }
          expect(r.stderr.startsWith("@ERROR: chdir failed\n")).toBe(true);
        }
        expect(refusedOn).not.toBe("");
        await Bun.sleep(200); // the JSONL sink writes once per turn of the event loop
      } finally {
        expect(await t.stop("SIGTERM")).toBe(0);
      }
      const logins = readLog(logFile).filter((e) => e.event.action === "login");
      expect(logins).toHaveLength(1);
      const l = logins[0];
      expect(l.user.name).toBe("alice");
      expect(l.micetrap.login.method).toBe("rsync");
      expect(l.micetrap.login.hashcat_mode).toBe(want.mode);
      expect(l.micetrap.client.module).toBe(refusedOn);
      const [hexHash, challenge] = l.micetrap.login.hash.split(":");
      expect(hexHash).toBe(createHash(want.hash).update("correct horse" + challenge).digest("hex"));
    });
  }
});
