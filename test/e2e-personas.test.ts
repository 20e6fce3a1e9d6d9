// Every shipped persona as a whole host under real `nmap -sV -sC`, on its usual ports inside a private
// network namespace: every port exactly its claim, one host name in Service Info, no Windows beside a Unix.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, ROOT, buildBinary } from "./helpers.ts";

const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && Bun.spawnSync(["unshare", "-n", "true"]).exitCode === 0;

interface PersonaVerdict {
  persona: string;
  release: string;
  seconds: number;
  serviceInfo: string;
  hostnames: string[];
  ostypes: string[];
  ports: { port: number; entry: string; claimed: string; got: string; ok: boolean }[];
  uid: number;
  ok: boolean;
}

describe("personas under real nmap", () => {
  test.if(canUnshare)(
    "each persona: one nmap -sV -sC over all its usual ports; every port its claim, one host, one kind of OS",
    async () => {
      const bin = await buildBinary();
      const proc = Bun.spawn([BUN, join(ROOT, "scripts/scan-personas.ts"), "--json", "--binary", bin], { stdout: "pipe", stderr: "pipe" });
      const killer = setTimeout(() => proc.kill("SIGKILL"), 15 * 60 * 1000);
      const out = await new Response(proc.stdout).text();
      const err = await new Response(proc.stderr).text();
      await proc.exited;
      clearTimeout(killer);
      const results = JSON.parse(out.trim().split("\n").at(-1) ?? "[]") as PersonaVerdict[];
      expect(results.length, err).toBeGreaterThanOrEqual(8);
      for (const r of results) {
        for (const p of r.ports) expect(p.ok, `${r.persona}:${p.port} nmap said "${p.got}", the face claims "${p.claimed}"`).toBe(true);
        expect(r.hostnames.length).toBeLessThanOrEqual(1);
        expect(r.uid).toBe(65534); // bound the usual ports as root, then serves as nobody
        const windows = r.ostypes.filter((o) => /windows/i.test(o));
        expect(windows.length === 0 || windows.length === r.ostypes.length).toBe(true);
        expect(r.ok).toBe(true);
      }
    },
    20 * 60 * 1000,
  );
});
