// The contributors' guard: every catalog entry must be reported exactly as claimed by the nmap model,
// on its usual ports and on a high port, or this fails with what would help fix it.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { allEntries } from "../src/catalog/index.ts";
import { checkEntry, formatCheckRow } from "../src/nmap/check.ts";
import { Scanner } from "../src/nmap/engine.ts";
import { DEFAULT_PROBES_FILE, loadProbeFile } from "../src/nmap/probes.ts";
import { runCli } from "./helpers.ts";

describe.if(existsSync(DEFAULT_PROBES_FILE))("micetrap check", () => {
  const scanner = new Scanner(loadProbeFile());

  test("every entry is an exact hard match on its usual ports and on a high port", () => {
    const failures: string[] = [];
    for (const entry of allEntries()) {
      for (const port of [...entry.ports, 47123]) {
        const v = checkEntry(scanner, entry, { port, intensity: 7, hostSeed: "guard" });
        if (!v.ok) failures.push(formatCheckRow(v, true));
      }
    }
    expect(failures.join("\n\n")).toBe("");
  });

  test("a wrong claim fails with the probe, the response bytes and the nearest nmap line", () => {
    const real = allEntries().find((e) => e.id.startsWith("vsftpd-2.3.4"))!;
    const wrong = { ...real, version: "9.9.9" };
    const v = checkEntry(scanner, wrong, { port: 21, intensity: 7, hostSeed: "guard" });
    expect(v.ok).toBe(false);
    const text = formatCheckRow(v, false);
    expect(text).toContain("FAIL");
    expect(text).toContain("claimed: vsftpd 9.9.9");
    expect(text).toMatch(/NULL: sent "" got "220 \(vsFTPd 2\.3\.4\)\\r\\n"/);
    expect(text).toMatch(/nearest: line \d+ \(NULL\) match ftp m\|\^220 \\\(vsFTPd/);
  });

  test("the command exits 0 when all is well and prints one row per entry and port", async () => {
    const r = await runCli(["check", "--service", "mysql"]);
    expect(r.code).toBe(0);
    const rows = r.stdout.split("\n").filter((l) => l.startsWith("ok "));
    expect(rows.length).toBe(allEntries().filter((e) => e.service === "mysql").reduce((n, e) => n + e.ports.length, 0));
    const json = JSON.parse((await runCli(["check", "--json", "--banner", allEntries()[0]!.id, "--port", "40000"])).stdout);
    expect(json[0].port).toBe(40000);
    expect(json[0].ok).toBe(true);
  });

  test("a missing probe file is one clear line", async () => {
    const r = await runCli(["check", "--probes", "/nonexistent/nmap-service-probes"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toMatch(/^error: cannot read \/nonexistent\/nmap-service-probes \(ENOENT\): install nmap, or give --probes FILE$/);
  });
});
