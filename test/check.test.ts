// The contributors' guard: every catalog entry must be reported exactly as claimed by the nmap model,
// on its usual ports and on a high port, or this fails with what would help fix it.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { allEntries } from "../src/catalog/index.ts";
import { checkEntry, claimHolds, claimOn, formatCheckRow } from "../src/nmap/check.ts";
import { Scanner } from "../src/nmap/engine.ts";
import { DEFAULT_PROBES_FILE, loadProbeFile } from "../src/nmap/probes.ts";
import { transcriptFiles } from "../src/commands/replay.ts";
import { entryConnector } from "../src/nmap/drive.ts";
import { parseTranscript } from "../src/transcripts/format.ts";
import { ROOT, runCli } from "./helpers.ts";

describe.if(existsSync(DEFAULT_PROBES_FILE))("micetrap check", () => {
  const scanner = new Scanner(loadProbeFile());

  test("every entry is an exact hard match on its usual ports and on a high port", async () => {
    const failures: string[] = [];
    for (const entry of allEntries()) {
      // A TLS face's high port is one nmap probes with SSL first (SSLSessionReq's ports list 44443).
      for (const port of [...entry.ports, entry.tls?.mode === "first-byte" ? 44443 : 47123]) {
        const v = await checkEntry(scanner, entry, { port, intensity: 7, hostSeed: "guard" });
        if (!v.ok) failures.push(formatCheckRow(v, true));
      }
    }
    expect(failures.join("\n\n")).toBe("");
  });

  test("on a port nmap does not probe with SSL first, it reads the plain-HTTP page as it would the real server's", async () => {
    // What nmap-service-probes says of these pages: Apache 2.2's bare page is "SSL-only mode" (ssl/http),
    // Apache 2.4's headered 400 plain http with no extra info, nginx's its 497 page under ssl/http.
    const said = async (id: string) => {
      const v = await checkEntry(scanner, allEntries().find((e) => e.id === id)!, { port: 47123, intensity: 7, hostSeed: "guard" });
      return `${v.nmap.service} ${v.nmap.product} ${v.nmap.version} ${v.nmap.info ?? ""}`.trim();
    };
    expect(await said("apache-2.2.22-debian-ssl")).toBe("ssl/http Apache httpd 2.2.22 (Debian); SSL-only mode");
    expect(await said("apache-2.4.10-debian-ssl")).toBe("http Apache httpd 2.4.10");
    expect(await said("nginx-1.2.1-debian-ssl")).toBe("ssl/http nginx 1.2.1");
  });

  test("a wrong claim fails with the probe, the response bytes and the nearest nmap line", async () => {
    const real = allEntries().find((e) => e.id.startsWith("vsftpd-2.3.4"))!;
    const wrong = { ...real, version: "9.9.9" };
    const v = await checkEntry(scanner, wrong, { port: 21, intensity: 7, hostSeed: "guard" });
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

describe.if(existsSync(DEFAULT_PROBES_FILE))("no answer of ours is one of nmap's honeypot fingerprints", () => {
  const file = loadProbeFile();
  const HONEYPOT = /honeypot|honeyd|dionaea|cowrie|kojoney|kippo|nepenthes|sshtroll|honeytrap/i;
  const honeyLines = file.probes.flatMap((p) => p.matches).filter((m) => m.service === "honeypot" || HONEYPOT.test(m.templates.p ?? ""));

  test("nmap's file names honeypots (the guard has something to guard against)", () => {
    expect(honeyLines.length).toBeGreaterThan(10);
  });

  test("every answer to every probe, at --version-all, on usual and high ports, and every recorded session", async () => {
    const scanner = new Scanner(file);
    const hits: string[] = [];
    const screen = (where: string, bytes: Uint8Array) => {
      const text = Buffer.from(bytes).toString("latin1");
      for (const m of honeyLines) if (m.regex?.test(text)) hits.push(`${where} looks like line ${m.line} (${m.templates.p})`);
    };
    for (const entry of allEntries()) {
      for (const port of [...entry.ports, 47123]) {
        const r = await scanner.scan(entryConnector(entry, { hostSeed: "guard", port }), { port, intensity: 9 });
        for (const s of r.steps) screen(`${entry.id} port ${port} ${s.probe}`, s.received);
      }
    }
    for (const f of transcriptFiles(join(ROOT, "fixtures/transcripts"))) {
      const t = parseTranscript(readFileSync(f, "utf8"), f);
      for (const s of t.sessions) {
        // A library's key exchange (past the opaque mark) answers the client's own identification, as the
        // real daemon's does (sshd sends its KEXINIT only then): it is screened apart from the banner.
        const mark = s.exchanges.findIndex((x) => x.dir === "opaque");
        const parts = mark < 0 ? [s.exchanges] : [s.exchanges.slice(0, mark), s.exchanges.slice(mark + 1)];
        parts.forEach((part, i) => {
          const out = Buffer.concat(part.filter((x) => x.dir === "out").map((x) => Buffer.from(x.base64, "base64")));
          screen(`${t.entry} recorded session ${s.id}${i > 0 ? " past its opaque mark" : ""}`, out);
        });
      }
    }
    expect(hits).toEqual([]);
  });
});

describe("claims that depend on the port or change per scan", () => {
  const claim = { product: "Memcached", version: "1.6.18", info: "uptime {{n}} seconds", ostype: "" };
  test("{{n}} stands for a number, and only there", () => {
    expect(claimHolds(claim, { ...claim, info: "uptime 753556 seconds" })).toBe(true);
    expect(claimHolds(claim, { ...claim, info: "uptime seconds" })).toBe(false);
    expect(claimHolds(claim, { ...claim, info: "uptime 12 seconds; Ubuntu" })).toBe(false);
    expect(claimHolds(claim, { ...claim, info: "uptime 12 seconds", version: "1.6.9" })).toBe(false);
    expect(claimHolds({ ...claim, info: "a.b" }, { ...claim, info: "axb" })).toBe(false);
  });

  test("otherPortClaim applies off the entry's usual ports only", () => {
    const entry = allEntries().find((e) => e.id === "redis-7.0.15-debian12")!;
    expect(claimOn(entry, 6379).version).toBe("7.0.15");
    expect(claimOn(entry, 47123)).toEqual({ product: "Redis key-value store", version: "", info: "", ostype: "" });
  });
});
