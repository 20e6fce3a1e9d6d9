// The command line as users meet it: the real CLI in a child process, real sockets, real files.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allEntries, serviceEntries } from "../src/catalog/index.ts";
import { BUN, buildBinary, connect, ROOT, runCli, startProcess, tempDir, unprivilegedCli, withTimeout, readLog } from "./helpers.ts";

const isRoot = process.getuid?.() === 0;

function expectOneLineError(r: { code: number | null; stdout: string; stderr: string }, pattern: RegExp) {
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  const lines = r.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe("micetrap <service>", () => {
  test("--max-per-source: past its share a source is refused, and the log counts the refusals", async () => {
    const log = join(tempDir(), "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "ftp", "0", "--host", "127.0.0.1", "--max-per-source", "2", "--log", log]);
    try {
      const held = [await connect(t.port), await connect(t.port)];
      for (const c of held) await c.waitFor((x) => x.startsWith("220"));
      const extra = [await connect(t.port), await connect(t.port), await connect(t.port)];
      for (const c of extra) await withTimeout(c.closed, 3000, "refused");
      for (const c of held) c.end();
    } finally {
      expect(await t.stop()).toBe(0);
    }
    const refused = readLog(log).filter((e) => e.event.action === "refused");
    expect(refused.map((e) => [e.source.ip, e.micetrap.refused.count, e.micetrap.reason])).toEqual([["127.0.0.1", 3, "too many sessions from this source"]]);
    expect(readLog(log).filter((e) => e.event.action === "connection")).toHaveLength(2);
  });

  test("serves, prints the listening line and the persona, logs JSON Lines, exits 0 on SIGTERM", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "ftp", "0", "--host", "127.0.0.1", "--seed", "demo", "--log", logFile]);
    const c = await connect(t.port);
    await c.waitFor((s) => /^220[ -]/.test(s));
    c.send("USER admin\r\nPASS hunter2\r\n");
    // The face's daemon pauses before refusing, as the real one does (Pure-FTPd: 5-8 s).
    await c.waitFor((s) => /\r\n530[ -]/.test(s), 12_000);
    c.send("QUIT\r\n");
    await withTimeout(c.closed, 3000, "QUIT");
    const lines = t.lines();
    expect(lines[0]).toBe(`Fake ftp service listening on port ${t.port}...`);
    await t.waitForOutput(/Pretending to be/);
    expect(t.lines()[1]).toMatch(/^Pretending to be .+ \[entry [a-z0-9._-]+, os [a-z]+\]$/);
    const id = /\[entry ([^,]+),/.exec(t.lines()[1]!)![1]!;
    expect(serviceEntries("ftp").map((e) => e.id)).toContain(id);
    expect(await t.stop("SIGTERM")).toBe(0);

    const events = readLog(logFile);
    const actions = events.map((e) => e.event.action);
    expect(actions[0]).toBe("listening");
    for (const a of ["connection", "data", "login", "close"]) expect(actions).toContain(a);
    const login = events.find((e) => e.event.action === "login");
    expect(login.user.name).toBe("admin");
    expect(login.micetrap.login.password).toBe("hunter2");
    expect(login.event.outcome).toBe("failure");
    const data = events.filter((e) => e.event.action === "data" && e.micetrap.payload.direction === "inbound");
    const answered = events.filter((e) => e.event.action === "data" && e.micetrap.payload.direction === "outbound");
    expect(Buffer.from(answered[0].micetrap.payload.base64, "base64").toString()).toMatch(/^220[ -]/);
    const sent = Buffer.concat(data.map((e) => Buffer.from(e.micetrap.payload.base64, "base64"))).toString();
    expect(sent).toBe("USER admin\r\nPASS hunter2\r\nQUIT\r\n");
    for (const e of events) {
      expect(e["@timestamp"]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(e.service.name).toBe("ftp");
      expect(e.micetrap.entry).toBe(id);
      expect(e.destination.port).toBe(t.port);
      if (e.event.action !== "listening") {
        expect(e.source.ip).toBe("127.0.0.1");
        expect(typeof e.micetrap.session.id).toBe("string");
      }
    }
    const close = events.find((e) => e.event.action === "close");
    expect(close.source.bytes).toBe(sent.length);
    expect(close.event.duration).toBeGreaterThan(0);
  }, 30_000);

  test("the same seed gives the same face in another process; the console escapes attacker bytes", async () => {
    const a = await startProcess([BUN, "src/cli.ts", "http", "0", "--host", "127.0.0.1", "--seed", "same", "--os", "debian"]);
    const b = await startProcess([BUN, "src/cli.ts", "http", "0", "--host", "127.0.0.1", "--seed", "same", "--os", "debian"]);
    const c = await connect(a.port);
    c.send("GET /\x1b[2J\x07 HTTP/1.0\r\n\r\n");
    await c.waitFor((s) => s.includes("\r\n\r\n"));
    await withTimeout(c.closed, 3000, "HTTP/1.0 closes");
    await a.waitForOutput(/closed/);
    await b.waitForOutput(/Pretending to be/);
    expect(a.lines()[1]).toBe(b.lines()[1]!);
    const out = a.lines().join("\n");
    expect(out).toContain("Incoming connection from 127.0.0.1:");
    expect(out).toContain("\\x1b[2J\\x07");
    expect(out).not.toContain("\x1b");
    await a.stop();
    await b.stop();
  });

  test("smb and bittorrent are aliases", async () => {
    for (const [alias, service] of [["smb", "samba"], ["bittorrent", "torrent"]]) {
      const t = await startProcess([BUN, "src/cli.ts", alias!, "0", "--host", "127.0.0.1"]);
      expect(t.lines()[0]).toBe(`Fake ${service} service listening on port ${t.port}...`);
      await t.stop();
    }
  });

  test("no port and no privilege: a random free port, and it says why", async () => {
    const t = await startProcess([...(await unprivilegedCli()), "ftp", "--host", "127.0.0.1"], { cwd: "/tmp" });
    expect(t.port).toBeGreaterThan(1023);
    await t.waitForOutput(/usual port is not available: 21 \((needs root|in use)/);
    await t.stop();
  });

  test("not root, not dropping anything: NoNewPrivs is still set before the first byte is read", async () => {
    const t = await startProcess([...(await unprivilegedCli()), "ftp", "0", "--host", "127.0.0.1"], { cwd: "/tmp" });
    try {
      const status = readFileSync(`/proc/${t.proc.pid}/status`, "utf8");
      expect(/^NoNewPrivs:\s+(\d)/m.exec(status)?.[1]).toBe("1");
    } finally {
      await t.stop();
    }
  });

  test.if(isRoot)("no port, as root: the usual port, then the rights are dropped to nobody", async () => {
    const t = await startProcess([BUN, "src/cli.ts", "mysql", "--host", "127.0.0.2"]);
    try {
      expect(t.port).toBe(3306);
      await t.waitForOutput(/Running as nobody/);
      const status = readFileSync(`/proc/${t.proc.pid}/status`, "utf8");
      expect(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)?.slice(1)).toEqual(["65534", "65534"]);
      // And no execve can ever give them back: NoNewPrivs is set.
      expect(/^NoNewPrivs:\s+(\d)/m.exec(status)?.[1]).toBe("1");
    } finally {
      // A failed expectation must not leave the trap holding 3306 for the next run.
      expect(await t.stop()).toBe(0);
    }
  });
});

describe("bad input: one line, non-zero exit, no stack trace", () => {
  test("unknown service lists the valid ones", async () => {
    const r = await runCli(["gopher"]);
    expectOneLineError(r, /unknown service or command "gopher": expected one of /);
    for (const service of ["ftp", "http", "https", "mysql", "samba", "ssh", "torrent", "smb", "bittorrent"]) expect(r.stderr).toMatch(new RegExp(`[ ,]${service}[,]`));
  });
  test("bad limits", async () => {
    expectOneLineError(await runCli(["ftp", "0", "--host", "127.0.0.1", "--max-per-source", "lots"]), /invalid --max-per-source "lots": expected a whole number from 1 to 1000000/);
    expectOneLineError(await runCli(["ftp", "0", "--host", "127.0.0.1", "--max-sessions", "0"]), /invalid --max-sessions 0: expected a whole number/);
    expectOneLineError(await runCli(["serve", "--persona", "seedbox", "--idle-timeout", "1"]), /invalid --idle-timeout 1: expected a whole number from 5/);
  });
  test("bad ports", async () => {
    for (const p of ["abc", "70000", "-1", "21.5", "0x50"]) expectOneLineError(await runCli(["ftp", p, "--host", "127.0.0.1"]), /invalid port|unknown|expected/);
  });
  test("a port in use", async () => {
    const holder = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      expectOneLineError(await runCli(["ftp", String(holder.port), "--host", "127.0.0.1"]), new RegExp(`port ${holder.port} is already in use`));
    } finally {
      holder.stop(true);
    }
  });
  test("a start that fails leaves no log file behind (the ports it had bound are let go with it)", async () => {
    const holder = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const dir = tempDir();
    const config = join(dir, "host.yaml");
    // The first port binds, the second is taken: the listening line of the first would be all the file held.
    writeFileSync(config, `services:\n  - service: ftp\n    port: 0\n  - service: http\n    port: ${holder.port}\n`);
    try {
      const log = join(dir, "events.jsonl");
      const first = await runCli(["serve", "--config", config, "--host", "127.0.0.1", "--log", log]);
      expect(first.code).not.toBe(0);
      expect(first.stderr).toMatch(new RegExp(`error: port ${holder.port} is already in use`));
      expect(existsSync(log)).toBe(false);
      // A log that was there before is the operator's: it stays, and nothing in it is lost.
      writeFileSync(log, '{"earlier":true}\n');
      const second = await runCli(["serve", "--config", config, "--host", "127.0.0.1", "--log", log]);
      expect(second.code).not.toBe(0);
      expect(readFileSync(log, "utf8").startsWith('{"earlier":true}\n')).toBe(true);
    } finally {
      holder.stop(true);
    }
  });
  test("a privileged port without the right to bind it says how", async () => {
    const r = await (async () => {
      const proc = Bun.spawn([...(await unprivilegedCli()), "ftp", "21", "--host", "127.0.0.1"], { cwd: "/tmp", stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      return { code: await proc.exited, stdout, stderr };
    })();
    expectOneLineError(r, /port 21 needs privileges: run as root, or grant .*CAP_NET_BIND_SERVICE/);
  });
  test("unknown --os and --banner, and a banner of another service", async () => {
    expectOneLineError(await runCli(["ftp", "0", "--os", "beos"]), /unknown OS "beos": expected a family \(debian, rhel, freebsd, macos, windows, embedded, cisco\) or a release such as debian-7/);
    expectOneLineError(await runCli(["ftp", "0", "--banner", "nope"]), /unknown banner "nope"/);
    const httpId = serviceEntries("http")[0]!.id;
    expectOneLineError(await runCli(["ftp", "0", "--banner", httpId]), new RegExp(`is a http entry, not ftp`));
  });
  test("an unwritable log file", async () => {
    expectOneLineError(await runCli(["ftp", "0", "--host", "127.0.0.1", "--log", "/nonexistent-dir/x.jsonl"]), /cannot open log file/);
  });
  test.if(isRoot)("a bad --user makes no log file; a good one gets the log it will write, mode 0640", async () => {
    const dir = tempDir();
    const bad = join(dir, "bad.jsonl");
    expectOneLineError(await runCli(["ftp", "0", "--host", "127.0.0.1", "--log", bad, "--user", "no-such-user-here"]), /unknown user "no-such-user-here"/);
    expect(existsSync(bad)).toBe(false);
    const good = join(dir, "good.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "ftp", "0", "--host", "127.0.0.1", "--log", good]);
    try {
      await t.waitForOutput(/Running as nobody/);
      const st = statSync(good);
      expect([st.uid, st.gid, st.mode & 0o777]).toEqual([65534, 65534, 0o640]);
    } finally {
      expect(await t.stop()).toBe(0);
    }
  });
});

describe("help, version, list", () => {
  test("--version and -v print the version (from source: marked -dev, no commit; the binary's is in release.test.ts)", async () => {
    const version = JSON.parse(await Bun.file(`${ROOT}/package.json`).text()).version;
    for (const flag of ["--version", "-v"]) {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`micetrap ${version}-dev (from source)\n`);
    }
  });
  test("--help and <service> --help print usage and exit 0", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("ftp");
    expect(top.stdout).toContain("list");
    const sub = await runCli(["ftp", "--help"]);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain("--banner");
    expect(sub.stdout).toContain("--seed");
  });
  test("list --json prints every entry with the fields scripts rely on; filters work", async () => {
    const r = await runCli(["list", "--json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows.length).toBe(allEntries().length);
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const row of rows) for (const k of ["service", "id", "product", "version", "os", "ports"]) expect(row).toHaveProperty(k);
    const deb = JSON.parse((await runCli(["list", "--json", "--os", "debian", "--service", "smb"])).stdout);
    expect(deb.length).toBeGreaterThan(0);
    expect(deb.every((e: { os: string; service: string }) => e.os === "debian" && e.service === "samba")).toBe(true);
    expectOneLineError(await runCli(["list", "--service", "gopher"]), /unknown service "gopher"/);
  });
});
