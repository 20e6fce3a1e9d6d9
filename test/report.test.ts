// `micetrap report`: figures checked against a log whose content the test builds (every expected count is
// counted here, as the events are made), read plain, gzip (named or not like it), from stdin, in a time
// window, and with hostile lines in it; then the same over a log written by real traps, and through the
// compiled binary.
import { describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, ROOT, buildBinary, connect, runCli, startProcess, tempDir, withTimeout } from "./helpers.ts";
import { Distinct, TopK } from "../src/report/sketch.ts";

type Doc = Record<string, unknown>;

/** One ECS document as micetrap writes it (nested objects); only the fields the report reads, plus a few. */
function ev(time: string, action: string, service: string, ip: string | undefined, extra: Doc = {}, session?: string): Doc {
  return {
    "@timestamp": time,
    ecs: { version: "8.11.0" },
    event: { kind: "event", action, dataset: "micetrap.session", module: "micetrap" },
    service: { name: service },
    ...(ip ? { source: { ip, port: 40000 } } : {}),
    destination: { port: 22 },
    micetrap: { ...(session ? { session: { id: session } } : {}), entry: "x", product: "p", version: "1", os: "Linux" },
    ...extra,
  };
}

const withMicetrap = (d: Doc, m: Doc): Doc => ({ ...d, micetrap: { ...(d.micetrap as Doc), ...m } });

interface Expected {
  connections: number;
  perService: Map<string, number>;
  perDay: Map<string, number>; // "day service" -> connections
  sourcesPerDay: Map<string, Set<string>>;
  logins: number;
  users: Map<string, number>;
  passwords: Map<string, number>;
  sessionsOf: Map<string, number>;
  firstOf: Map<string, string>;
  lastOf: Map<string, string>;
  paths: Map<string, number>;
}

const inc = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);

/**
 * The known log: 3 days, 5 sources (10.0.0.1-5), ssh, ftp and http. Source i opens (i + 1) ssh sessions a
 * day, each with one login; source 1 also opens 2 ftp sessions a day with two commands; source 5 opens
 * one http session a day with three requests. Counting happens here, while the events are made.
 */
function knownLog(): { lines: string[]; x: Expected } {
  const x: Expected = {
    connections: 0,
    perService: new Map(),
    perDay: new Map(),
    sourcesPerDay: new Map(),
    logins: 0,
    users: new Map(),
    passwords: new Map(),
    sessionsOf: new Map(),
    firstOf: new Map(),
    lastOf: new Map(),
    paths: new Map(),
  };
  const docs: Doc[] = [];
  const users = ["root", "admin", "oracle"];
  const passwords = ["123456", "password", "toor", "admin"];
  let sid = 0;
  let login = 0;
  const days = ["2026-01-01", "2026-01-02", "2026-01-03"];
  for (const [d, day] of days.entries()) {
    let second = 0;
    const at = () => `${day}T10:${String(Math.floor(second / 60)).padStart(2, "0")}:${String(second++ % 60).padStart(2, "0")}.000Z`;
    const open = (service: string, ip: string) => {
      const t = at();
      const id = `s${sid++}`;
      docs.push(ev(t, "connection", service, ip, {}, id));
      x.connections++;
      inc(x.perService, service);
      inc(x.perDay, `${day} ${service}`);
      if (!x.sourcesPerDay.has(`${day} ${service}`)) x.sourcesPerDay.set(`${day} ${service}`, new Set());
      x.sourcesPerDay.get(`${day} ${service}`)!.add(ip);
      inc(x.sessionsOf, ip);
      if (!x.firstOf.has(ip)) x.firstOf.set(ip, t);
      return id;
    };
    const close = (service: string, ip: string, id: string) => {
      const t = at();
      docs.push(ev(t, "close", service, ip, {}, id));
      x.lastOf.set(ip, t);
    };
    for (let i = 1; i <= 5; i++) {
      const ip = `10.0.0.${i}`;
      for (let k = 0; k < i + 1; k++) {
        const id = open("ssh", ip);
        const user = users[login % users.length]!;
        const password = passwords[(login * 7 + d) % passwords.length]!;
        login++;
        docs.push(withMicetrap(ev(at(), "login", "ssh", ip, { user: { name: user } }, id), { login: { method: "password", password } }));
        x.logins++;
        inc(x.users, user);
        inc(x.passwords, password);
        // The same client banner first in every ssh session: one payload fingerprint.
        docs.push(withMicetrap(ev(at(), "data", "ssh", ip, {}, id), { payload: { direction: "inbound", base64: Buffer.from("SSH-2.0-libssh_0.9.6\r\n").toString("base64"), length: 22 } }));
        docs.push(withMicetrap(ev(at(), "data", "ssh", ip, {}, id), { payload: { direction: "inbound", base64: Buffer.from(`later ${k}`).toString("base64"), length: 7 } }));
        close("ssh", ip, id);
      }
    }
    for (let k = 0; k < 2; k++) {
      const id = open("ftp", "10.0.0.1");
      docs.push(withMicetrap(ev(at(), "command", "ftp", "10.0.0.1", {}, id), { command: "SYST" }));
      docs.push(withMicetrap(ev(at(), "command", "ftp", "10.0.0.1", {}, id), { command: "PASV" }));
      close("ftp", "10.0.0.1", id);
    }
    const id = open("http", "10.0.0.5");
    // Today's logs: the request line only. The ECS helper's fields: method, path and user agent.
    docs.push(withMicetrap(ev(at(), "command", "http", "10.0.0.5", {}, id), { command: "GET /wp-login.php?x=1 HTTP/1.1" }));
    inc(x.paths, "/wp-login.php");
    docs.push(withMicetrap(ev(at(), "command", "http", "10.0.0.5", {}, id), { command: "GET http://example.test/proxy/path HTTP/1.0" }));
    inc(x.paths, "/proxy/path");
    docs.push(
      withMicetrap(ev(at(), "command", "http", "10.0.0.5", { http: { request: { method: "POST" } }, url: { path: "/wp-login.php", original: "/wp-login.php" }, user_agent: { original: "Mozilla/5.0 zgrab" } }, id), {
        command: "POST /wp-login.php HTTP/1.1",
      }),
    );
    inc(x.paths, "/wp-login.php");
    close("http", "10.0.0.5", id);
  }
  // Two NetNTLMv2 captures, one of them twice.
  const hash = (c: string) => `bob::CORP:${c}:00112233445566778899aabbccddeeff:0101000000`;
  for (const c of ["1122334455667788", "1122334455667788", "99aabbccddeeff00"]) {
    docs.push(withMicetrap(ev("2026-01-03T12:00:00.000Z", "login", "smb", "10.0.0.2", { user: { name: "bob", domain: "CORP" } }), { login: { method: "smb2-ntlmssp", hash: hash(c), hash_type: "netntlmv2", hashcat_mode: 5600 } }));
    x.logins++;
    inc(x.users, "bob");
  }
  return { lines: docs.map((d) => JSON.stringify(d)), x };
}

async function reportJson(args: string[], stdin?: string): Promise<any> {
  if (stdin === undefined) {
    const r = await runCli(["report", ...args, "--json"], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`report failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout);
  }
  const proc = Bun.spawn([BUN, join(ROOT, "src/cli.ts"), "report", ...args, "--json"], { cwd: ROOT, stdin: Bun.file(stdin), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`report failed (${code}): ${err}`);
  return JSON.parse(out);
}

function checkKnown(r: any, x: Expected): void {
  expect(r.totals.connections).toBe(x.connections);
  expect(r.totals.logins).toBe(x.logins);
  expect(r.totals.uniqueSources).toBe(5);
  for (const [service, n] of x.perService) expect(r.services.find((s: any) => s.service === service)?.connections).toBe(n);
  expect(r.days.length).toBe(x.perDay.size);
  for (const d of r.days) {
    expect(d.connections).toBe(x.perDay.get(`${d.day} ${d.service}`));
    expect(d.uniqueSources).toBe(x.sourcesPerDay.get(`${d.day} ${d.service}`)!.size);
  }
  const bySessions = [...x.sessionsOf.entries()].sort((a, b) => b[1] - a[1]);
  expect(r.topSources.map((s: any) => [s.ip, s.sessions])).toEqual(bySessions);
  for (const s of r.topSources) {
    expect(s.first).toBe(x.firstOf.get(s.ip));
    expect(s.last >= x.lastOf.get(s.ip)!).toBe(true);
  }
  expect(r.topSources.find((s: any) => s.ip === "10.0.0.1").services).toEqual({ ssh: 6, ftp: 6 });
  expect(Object.fromEntries(r.users.map((u: any) => [u.value, u.count]))).toEqual(Object.fromEntries(x.users));
  expect(Object.fromEntries(r.passwords.map((u: any) => [u.value, u.count]))).toEqual(Object.fromEntries(x.passwords));
  expect(r.hashes).toEqual([{ type: "netntlmv2", count: 3, unique: 2, example: "bob::CORP:1122334455667788:00112233445566778899aabbccddeeff:0101000000" }]);
  expect(Object.fromEntries(r.commands.map((c: any) => [c.value, c.count]))).toEqual({ SYST: 6, PASV: 6 });
  expect(Object.fromEntries(r.httpPaths.map((c: any) => [c.value, c.count]))).toEqual(Object.fromEntries(x.paths));
  expect(Object.fromEntries(r.httpMethods.map((c: any) => [c.value, c.count]))).toEqual({ GET: 6, POST: 3 });
  expect(r.userAgents).toEqual([{ value: "Mozilla/5.0 zgrab", count: 3, error: 0 }]);
  // One fingerprint for the ssh banner (first payload of each ssh session); later chunks are not counted.
  expect(r.payloads.length).toBe(1);
  expect(r.payloads[0].count).toBe(x.perService.get("ssh"));
  expect(r.payloads[0].example).toBe("SSH-2.0-libssh_0.9.6\\r\\n");
}

describe("micetrap report", () => {
  const { lines, x } = knownLog();
  const dir = tempDir("micetrap-report-");
  const plain = join(dir, "events.jsonl");
  writeFileSync(plain, lines.join("\n") + "\n");

  test("the figures of a known log: plain file", async () => {
    // The construction itself, so the expectations below mean something: 3 days × (2+3+4+5+6) ssh sessions.
    expect(x.perService.get("ssh")).toBe(60);
    expect(x.connections).toBe(60 + 6 + 3);
    expect(x.logins).toBe(63);
    checkKnown(await reportJson([plain]), x);
  });

  test("gzip (by its magic, whatever the name), several files in one run, and stdin", async () => {
    const half = Math.floor(lines.length / 2);
    // logrotate's names: events.jsonl.2.gz (compressed), events.jsonl.1 (compressed with delaycompress off: no .gz)
    const older = join(dir, "events.jsonl.2.gz");
    const newer = join(dir, "events.jsonl.1");
    writeFileSync(older, gzipSync(lines.slice(0, half).join("\n") + "\n"));
    writeFileSync(newer, gzipSync(lines.slice(half).join("\n")));
    checkKnown(await reportJson([older, newer]), x);
    const whole = join(dir, "whole.gz");
    writeFileSync(whole, gzipSync(lines.join("\n") + "\n"));
    checkKnown(await reportJson([], whole), x);
    checkKnown(await reportJson(["-"], plain), x);
  });

  test("a truncated gzip (a rotation cut short) counts what it holds and says the file ended early", async () => {
    const whole = gzipSync(lines.join("\n") + "\n");
    const cut = join(dir, "events.jsonl.3.gz");
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const r = await reportJson([cut, plain]);
    expect(r.input.broken.length).toBe(1);
    expect(r.input.broken[0].source).toBe(cut);
    // The plain copy is read whole after it: at least every event once, fewer than twice.
    expect(r.totals.connections).toBeGreaterThanOrEqual(x.connections);
    expect(r.totals.connections).toBeLessThan(2 * x.connections);
    const text = await runCli(["report", cut]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain("read stopped early");
  });

  test("--since / --until select a window; a bad value is one line and exit code 2", async () => {
    const r = await reportJson([plain, "--since", "2026-01-02", "--until", "2026-01-03T00:00:00Z"]);
    let day2 = 0;
    for (const [k, n] of x.perDay) if (k.startsWith("2026-01-02 ")) day2 += n;
    expect(r.totals.connections).toBe(day2);
    expect(r.days.every((d: any) => d.day === "2026-01-02")).toBe(true);
    expect(r.input.skipped.outsideWindow).toBeGreaterThan(0);
    // A zone other than UTC moves the window: 2026-01-02T01:00+01:00 is midnight UTC.
    const z = await reportJson([plain, "--since", "2026-01-02T01:00+01:00", "--until", "2026-01-03T01:00:00+01:00"]);
    expect(z.totals.connections).toBe(day2);
    for (const bad of ["yesterday", "2026-02-30", "2026-13-01", "7y", "2026-01-01T25:00"]) {
      const b = await runCli(["report", plain, "--since", bad]);
      expect(b.code).toBe(2);
      expect(b.stderr.trim().split("\n").length).toBe(1);
      expect(b.stderr).toContain("invalid --since");
    }
    const empty = await runCli(["report", plain, "--since", "2026-01-03", "--until", "2026-01-02"]);
    expect(empty.code).toBe(2);
    const missing = await runCli(["report", join(dir, "nope.jsonl")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("ENOENT");
    expect(missing.stderr.trim().split("\n").length).toBe(1);
  });

  test("hostile lines: control characters and ANSI escapes are escaped, a 10 MB line and bad JSON are skipped", async () => {
    const evil = "root\x1b[2J\x1b]0;owned\x07\r\n\u009b31m\u202e<script>alert(1)</script>";
    const hostile = [
      lines[0]!,
      "{not json",
      "[1,2,3]",
      "x".repeat(10 * 1024 * 1024),
      JSON.stringify(withMicetrap(ev("2026-01-01T11:00:00.000Z", "login", "ssh", "10.9.9.9\x1b[31m", { user: { name: evil } }, "h1"), { login: { password: evil } })),
      JSON.stringify(ev("not a time", "connection", "ssh", "10.9.9.8")),
      JSON.stringify(withMicetrap(ev("2026-01-01T11:00:01.000Z", "command", "ftp\x1b[5m", "10.9.9.9", {}, "h1"), { command: "\x1b]2;title\x07RETR /etc/passwd" })),
      "\u0000\u0001\u0002",
      lines[1]!,
    ];
    const file = join(dir, "hostile.jsonl");
    writeFileSync(file, hostile.join("\n") + "\n");
    const r = await reportJson([file]);
    expect(r.input.skipped).toEqual({ badJson: 3, overlong: 1, noTimestamp: 1, outsideWindow: 0 });
    expect(r.input.events).toBe(4);
    expect(r.users.find((u: any) => u.value === evil)?.count).toBe(1);
    const text = await runCli(["report", file], { timeoutMs: 30_000 });
    expect(text.code).toBe(0);
    // Nothing but printable ASCII, newlines and the report's own "…"/"≤"/"×" reaches the terminal.
    expect(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/.test(text.stdout)).toBe(false);
    expect(text.stdout).toContain("root\\x1b[2J\\x1b]0;owned\\x07\\r\\n\\x9b31m\\u{202e}<script>");
    const html = join(dir, "hostile.html");
    const h = await runCli(["report", file, "--html", html], { timeoutMs: 30_000 });
    expect(h.code).toBe(0);
    const page = readFileSync(html, "utf8");
    expect(page).not.toContain("<script");
    expect(page).toContain("&#60;script&#62;alert(1)&#60;/script&#62;");
    expect(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/.test(page)).toBe(false);
  });

  test("a log of many distinct attacker strings keeps the top counts within the documented bound", async () => {
    // 30,000 distinct passwords once each, and one password 5,000 times: more keys than the counter has slots.
    const docs: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      docs.push(JSON.stringify(withMicetrap(ev("2026-01-01T00:00:00.000Z", "login", "ssh", `10.1.${i >> 8}.${i & 255}`, { user: { name: "u" } }), { login: { password: `p${i}` } })));
      if (i % 6 === 0) docs.push(JSON.stringify(withMicetrap(ev("2026-01-01T00:00:00.000Z", "login", "ssh", "10.2.0.1", { user: { name: "u" } }), { login: { password: "hunter2" } })));
    }
    const file = join(dir, "many.jsonl");
    writeFileSync(file, docs.join("\n") + "\n");
    const r = await reportJson([file]);
    expect(r.totals.logins).toBe(35_000);
    expect(r.accuracy.exact.passwords).toBe(false);
    const top = r.passwords[0];
    expect(top.value).toBe("hunter2");
    expect(top.count).toBeGreaterThanOrEqual(5000);
    expect(top.count - top.error).toBeLessThanOrEqual(5000);
    expect(top.error).toBeLessThanOrEqual(35_000 / r.accuracy.topCapacity);
  });

  test("sketches: TopK is exact below capacity and bounded above; Distinct within a few percent", () => {
    const k = new TopK(100, () => undefined);
    for (let i = 0; i < 50; i++) for (let j = 0; j <= i; j++) k.add(`k${i}`);
    expect(k.exact).toBe(true);
    expect(k.top(3).map((t) => [t.key, t.count])).toEqual([["k49", 50], ["k48", 49], ["k47", 48]]);
    for (let i = 0; i < 10_000; i++) k.add(`noise${i}`);
    expect(k.size).toBe(100);
    expect(k.exact).toBe(false);
    const d = new Distinct(14, 4096);
    for (let i = 0; i < 200_000; i++) d.add(`192.0.${i >> 8}.${i & 255}:${i}`);
    expect(Math.abs(d.count() - 200_000) / 200_000).toBeLessThan(0.05);
    const small = new Distinct(10, 256);
    for (let i = 0; i < 300; i++) small.add(String(i % 200));
    expect(small.count()).toBe(200);
  });

  test("over a log written by real traps: terminal, JSON and HTML", async () => {
    const log = join(dir, "traps.jsonl");
    const ftp = await startProcess([BUN, join(ROOT, "src/cli.ts"), "ftp", "0", "--host", "127.0.0.1", "--seed", "report-test", "--banner", "vsftpd-3.0.3-debian", "--log", log]);
    const http = await startProcess([BUN, join(ROOT, "src/cli.ts"), "http", "0", "--host", "127.0.0.1", "--seed", "report-test", "--log", log]);
    try {
      for (const user of ["root", "admin"]) {
        const c = await connect(ftp.port);
        await c.waitFor((s) => /^220[ -]/m.test(s), 5000);
        c.send(`USER ${user}\r\n`);
        await c.waitFor((s) => /^331/m.test(s), 5000);
        c.send("PASS hunter2\r\n");
        await c.waitFor((s) => /^530/m.test(s), 15_000);
        c.send("QUIT\r\n");
        await withTimeout(c.closed, 5000, "ftp QUIT");
      }
      for (const path of ["/admin/", "/.env", "/.env"]) {
        const r = Bun.spawnSync(["curl", "-s", "-o", "/dev/null", "--max-time", "10", "-A", "report-test-agent", `http://127.0.0.1:${http.port}${path}`]);
        expect(r.exitCode).toBe(0);
      }
    } finally {
      expect(await ftp.stop()).toBe(0);
      expect(await http.stop()).toBe(0);
    }
    const r = await reportJson([log]);
    expect(r.services.find((s: any) => s.service === "ftp").connections).toBe(2);
    expect(r.services.find((s: any) => s.service === "http").connections).toBe(3);
    expect(r.topSources[0]).toMatchObject({ ip: "127.0.0.1", sessions: 5 });
    expect(Object.fromEntries(r.users.map((u: any) => [u.value, u.count]))).toEqual({ root: 1, admin: 1 });
    expect(r.passwords).toEqual([{ value: "hunter2", count: 2, error: 0 }]);
    expect(Object.fromEntries(r.httpPaths.map((u: any) => [u.value, u.count]))).toEqual({ "/admin/": 1, "/.env": 2 });
    expect(r.input.skipped).toEqual({ badJson: 0, overlong: 0, noTimestamp: 0, outsideWindow: 0 });
    const text = await runCli(["report", log]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^\s+2\s+hunter2$/m);
    expect(text.stdout).toMatch(/^\s+2\s+\/\.env$/m);
    const html = join(dir, "traps.html");
    const h = await runCli(["report", log, "--html", html]);
    expect(h.code).toBe(0);
    const page = readFileSync(html, "utf8");
    expect(page).toContain("<svg");
    expect(page).toContain("hunter2");
  }, 90_000);

  test("the compiled binary runs report with the same figures", async () => {
    const bin = await buildBinary();
    const proc = Bun.spawn(["env", "-i", bin, "report", plain, "--json"], { stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
    const out = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    clearTimeout(timer);
    checkKnown(JSON.parse(out), x);
    const bad = Bun.spawnSync(["env", "-i", bin, "report", plain, "--until", "soon"], { stdout: "pipe", stderr: "pipe" });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr.toString()).toContain("invalid --until");
  }, 120_000);
});
