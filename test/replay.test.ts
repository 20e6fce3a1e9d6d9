// Recorded nmap sessions (fixtures/transcripts) replayed against today's code, on every run, no nmap needed.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allEntries, findEntry } from "../src/catalog/index.ts";
import { transcriptFiles } from "../src/commands/replay.ts";
import { DEFAULT_PROBES_FILE } from "../src/nmap/probes.ts";
import { parseTranscript } from "../src/transcripts/format.ts";
import { formatDiff, replayTranscript } from "../src/transcripts/replay.ts";
import { BUN, ROOT, connect, runCli, startProcess, tempDir, withTimeout } from "./helpers.ts";

const DIR = join(ROOT, "fixtures/transcripts");
const files = existsSync(DIR) ? transcriptFiles(DIR) : [];

describe("recorded transcripts", () => {
  test("every catalog entry has a transcript with nmap's sessions in it", () => {
    const have = new Set(files.map((f) => parseTranscript(readFileSync(f, "utf8"), f).entry));
    expect(allEntries().filter((e) => !have.has(e.id)).map((e) => e.id)).toEqual([]);
    for (const f of files) expect(parseTranscript(readFileSync(f, "utf8"), f).sessions.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    const name = file.slice(DIR.length + 1);
    test(`replays unchanged: ${name}`, async () => {
      const t = parseTranscript(readFileSync(file, "utf8"), file);
      const entry = findEntry(t.entry);
      expect(entry, `${name}: entry ${t.entry} is no longer in the catalog`).toBeDefined();
      const r = await replayTranscript(t, entry!);
      expect(r.diffs.map(formatDiff).join("\n")).toBe("");
    });
  }

  test("a changed answer is reported with the session, the request and both versions of the bytes", async () => {
    const file = files.find((f) => f.includes("/http/"))!;
    const t = parseTranscript(readFileSync(file, "utf8"), file);
    const session = t.sessions.find((s) => s.exchanges.some((x) => x.dir === "out" && x.probe === undefined))!;
    const out = session.exchanges.find((x) => x.dir === "out")!;
    const bytes = Buffer.from(out.base64, "base64");
    bytes[5] = bytes[5]! ^ 0x20; // what an earlier version would have said
    out.base64 = bytes.toString("base64");
    const r = await replayTranscript(t, findEntry(t.entry)!);
    expect(r.diffs).toHaveLength(1);
    const text = formatDiff(r.diffs[0]!);
    expect(text).toContain(`session ${session.id}`);
    expect(text).toContain("first difference at byte 5");
    expect(text).toMatch(/recorded: ".+"\n {4}today: {4}".+"/);
  });
});

describe("micetrap record and replay", () => {
  test("record keeps a session exchange by exchange, names nmap probes, and replay finds it unchanged", async () => {
    const dir = tempDir();
    const t = await startProcess([BUN, "src/cli.ts", "record", "http", "0", "--host", "127.0.0.1", "--out", dir, "--note", "test"]);
    const c = await connect(t.port);
    c.send("GET / HTTP/1.0\r\n\r\n");
    await withTimeout(c.closed, 3000, "HTTP/1.0 closes");
    expect(await t.stop()).toBe(0);
    const [file] = transcriptFiles(dir);
    const tr = parseTranscript(readFileSync(file!, "utf8"), file!);
    expect(tr.hostSeed).toBe("micetrap-record");
    expect(tr.sessions).toHaveLength(1);
    const [req, resp] = tr.sessions[0]!.exchanges;
    expect(req!.dir).toBe("in");
    expect(Buffer.from(req!.base64, "base64").toString()).toBe("GET / HTTP/1.0\r\n\r\n");
    if (existsSync(DEFAULT_PROBES_FILE)) expect(req!.probe).toBe("GetRequest");
    expect(Buffer.from(resp!.base64, "base64")).toEqual(Buffer.from(c.received()));
    const r = await runCli(["replay", file!]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("1/1 transcripts replay unchanged");
  });

  test("a plain request to a TLS face is recorded as such, and replay answers it the same way", async () => {
    const dir = tempDir();
    const t = await startProcess([BUN, "src/cli.ts", "record", "https", "0", "--host", "127.0.0.1", "--banner", "apache-2.4.10-debian-ssl", "--out", dir]);
    const c = await connect(t.port);
    c.send("GET / HTTP/1.0\r\n\r\n");
    await withTimeout(c.closed, 3000, "the 400 page and a close");
    expect(Buffer.from(c.received()).toString("latin1")).toContain("speaking plain HTTP");
    expect(await t.stop()).toBe(0);
    const [file] = transcriptFiles(dir);
    const tr = parseTranscript(readFileSync(file!, "utf8"), file!);
    const [req] = tr.sessions[0]!.exchanges;
    expect(req!.plainOnTls).toBe(true);
    expect((await replayTranscript(tr, findEntry(tr.entry)!)).diffs).toEqual([]);
    // Fed as decrypted bytes instead, the same request gets the page itself: the flag is what replay follows.
    delete req!.plainOnTls;
    expect((await replayTranscript(tr, findEntry(tr.entry)!)).diffs.length).toBe(1);
  });

  test("replay exits non-zero and shows the diff when an answer changed", async () => {
    const src = files.find((f) => f.includes("/ftp/"))!;
    const t = parseTranscript(readFileSync(src, "utf8"), src);
    const greeting = t.sessions[0]!.exchanges[0]!;
    greeting.base64 = Buffer.from("220 (vsFTPd 9.9.9)\r\n").toString("base64");
    const copy = join(tempDir(), "changed.json");
    writeFileSync(copy, JSON.stringify(t));
    const r = await runCli(["replay", copy]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("CHANGED");
    expect(r.stdout).toContain("greeting");
    expect(r.stdout).toContain("9.9.9");
  });

  test("replay and check give the same answers whatever the process's time zone", async () => {
    // Every service that shows a time (dates in banners, headers, INFO, SMB's FILETIME); ssh shows none,
    // and its key exchanges are most of a full replay's time, so it is left to the replay above.
    const dirs = readdirSync(join(ROOT, "fixtures/transcripts"))
      .filter((d) => d !== "ssh")
      .map((d) => join(ROOT, "fixtures/transcripts", d));
    for (const TZ of ["Asia/Tokyo", "America/New_York"]) {
      const replay = await runCli(["replay", ...dirs], { env: { TZ }, timeoutMs: 150_000 });
      expect(replay.stdout).toMatch(/(\d+)\/\1 transcripts replay unchanged/);
      expect(replay.code).toBe(0);
      const check = await runCli(["check", "--json"], { env: { TZ }, timeoutMs: 60_000 });
      expect(check.code).toBe(0);
      expect(JSON.parse(check.stdout).length).toBeGreaterThan(0);
    }
  }, 400_000);

  test("replay of something that is not a transcript is one clear line", async () => {
    const bad = join(tempDir(), "bad.json");
    writeFileSync(bad, "{nope");
    const r = await runCli(["replay", bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain("not JSON");
  });
});
