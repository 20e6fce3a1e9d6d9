// The process-wide limits, over real TCP on the loopback: a source's connection rate, the bytes sent to
// one source a minute, the memory held for peers; a peer that sends but never reads; limits from a config.
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { serviceEntries } from "../src/catalog/index.ts";
import { Governor, sourceKey, type ProcessLimits } from "../src/net/governor.ts";
import { Trap, type Limits } from "../src/net/listener.ts";
import { MemorySink, connect, runCli, sleep, tempDir, until, withTimeout } from "./helpers.ts";

const vsftpd = serviceEntries("ftp").find((e) => e.id === "vsftpd-2.3.4")!;
const proftpd = serviceEntries("ftp").find((e) => e.id === "proftpd-1.3.5-debian")!;
const apache = serviceEntries("http").find((e) => e.id === "apache-2.4.7-ubuntu")!;

const running: Trap[] = [];
afterEach(() => {
  while (running.length) running.pop()!.stop();
});

function trap(entry = vsftpd, limits: Partial<Limits> = {}, process: Partial<ProcessLimits> = {}, governor = new Governor(process)) {
  const sink = new MemorySink();
  const t = new Trap({ entry, hostname: "127.0.0.1", port: 0, hostSeed: "limits-host", sink, limits, governor });
  t.start();
  running.push(t);
  return { trap: t, sink, governor };
}

/** A node:net socket from a chosen loopback address (another source), resolved on its first bytes. */
async function connectFrom(localAddress: string, port: number): Promise<import("node:net").Socket> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress });
    s.once("data", () => resolve(s));
    s.once("error", reject);
    s.once("close", () => reject(new Error("closed before any byte")));
  });
}

/** Sends a request from a chosen loopback address and returns all it got back (bounded: 3 s). */
async function askFrom(localAddress: string, port: number, request: string): Promise<string> {
  const net = await import("node:net");
  return withTimeout(
    new Promise<string>((resolve) => {
      const chunks: Buffer[] = [];
      const s = net.connect({ host: "127.0.0.1", port, localAddress }, () => s.write(request));
      s.on("data", (d: Buffer) => chunks.push(d));
      s.on("error", () => {});
      s.on("close", () => resolve(Buffer.concat(chunks).toString("latin1")));
    }),
    3000,
    `a request from ${localAddress}`,
  );
}

const refusedCount = (sink: MemorySink, reason: string) =>
  sink
    .of("refused")
    .filter((e) => e.reason === reason)
    .reduce((n, e) => n + (e.count ?? 0), 0);

describe("process-wide limits", () => {
  test("IPv6 sources are limited by their /64, IPv4 by the address", () => {
    expect(sourceKey("203.0.113.7")).toBe("203.0.113.7");
    expect(sourceKey("2001:db8:0:1:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:0:1::/64");
    expect(sourceKey("2001:db8:0:1::5")).toBe("2001:db8:0:1::/64");
    expect(sourceKey("2001:DB8::1")).toBe("2001:db8:0:0::/64");
    expect(sourceKey("::1")).toBe("0:0:0:0::/64");
    expect(sourceKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
  });

  test("a source over its connection rate is refused and counted; another source still gets in", async () => {
    // 2 a second, so a burst of 20: the first 20 of a 50-connection burst get in, the rest are refused.
    const { trap: t, sink } = trap(vsftpd, {}, { maxRatePerSource: 2 });
    const conns = [];
    for (let i = 0; i < 50; i++) conns.push(await connect(t.port));
    await until(() => (sink.of("connection").length + refusedCount(sink, "connection rate from this source") >= 50 ? true : undefined), 5000).catch(() => {});
    const other = await connectFrom("127.0.0.7", t.port);
    other.destroy();
    for (const c of conns) c.end();
    t.stop();
    const accepted = sink.of("connection").filter((e) => e.source?.ip === "127.0.0.1").length;
    // The bucket refills at 2 a second while the burst is made: a connection or two more may pass.
    expect(accepted).toBeGreaterThanOrEqual(20);
    expect(accepted).toBeLessThanOrEqual(23);
    expect(accepted + refusedCount(sink, "connection rate from this source")).toBe(50);
    expect(sink.of("connection").filter((e) => e.source?.ip === "127.0.0.7").length).toBe(1);
  });

  test("the bytes sent to one source a minute are bounded: its sessions end, new ones are refused, others are served", async () => {
    // Apache's 2.4.7 default page is ~11 KB: a 64 KiB budget holds five of them, not ten.
    const { trap: t, sink } = trap(apache, {}, { maxOutPerSource: 64 * 1024 });
    let answered = 0;
    for (let i = 0; i < 10; i++) {
      const c = await connect(t.port);
      c.send("GET / HTTP/1.0\r\n\r\n");
      await withTimeout(c.closed, 3000, `request ${i}`);
      if (c.text().startsWith("HTTP/1.1 200")) answered++;
    }
    const other = await askFrom("127.0.0.8", t.port, "GET / HTTP/1.0\r\n\r\n");
    t.stop();
    expect(other.startsWith("HTTP/1.1 200")).toBe(true);
    expect(answered).toBeGreaterThanOrEqual(4);
    expect(answered).toBeLessThanOrEqual(6);
    const closes = sink.of("close").filter((e) => e.source?.ip === "127.0.0.1");
    const sentToOne = closes.reduce((n, e) => n + (e.bytesOut ?? 0), 0);
    expect(sentToOne).toBeLessThanOrEqual(64 * 1024);
    expect(closes.some((e) => e.reason === "output budget for this source spent")).toBe(true);
    // Every one of the ten is accounted for: a session that ended on the budget, or a refusal.
    expect(closes.length + refusedCount(sink, "output budget for this source spent")).toBe(10);
    expect(sink.of("connection").filter((e) => e.source?.ip === "127.0.0.8").length).toBe(1);
  });

  test("one memory budget for the process: past it, the session that asks for more is dropped, the others live", async () => {
    // Input sent while vsftpd sleeps before "Login incorrect" is held for it: 200 KiB each, and a 1 MiB budget.
    const { trap: t, sink, governor } = trap(vsftpd, { maxPerSource: 100 }, { memoryBudget: 1024 * 1024, maxRatePerSource: 0 });
    const peers = [];
    for (let i = 0; i < 7; i++) {
      const c = await connect(t.port);
      await c.waitFor((s) => s.startsWith("220"));
      c.send("USER anonymous\r\nPASS x\r\n");
      peers.push(c);
    }
    await sleep(100);
    for (const c of peers) c.send(Buffer.alloc(200 * 1024, "A"));
    await until(() => (sink.of("close").some((e) => e.reason === "memory budget reached") ? true : undefined), 5000);
    expect(governor.held).toBeLessThanOrEqual(1024 * 1024);
    expect(governor.peakHeld).toBeLessThanOrEqual(1024 * 1024);
    expect(governor.peakHeld).toBeGreaterThan(700 * 1024);
    const dropped = sink.of("close").filter((e) => e.reason === "memory budget reached").length;
    // Five fit (1000 KiB of 1024), the sixth and seventh do not.
    expect(dropped).toBe(2);
    for (const c of peers) c.end();
    t.stop();
    // Everything held is given back when the sessions end.
    expect(governor.held).toBe(0);
  });

  test("a peer that keeps sending but never reads is dropped after the idle time", async () => {
    const { trap: t, sink } = trap(proftpd, { idleSeconds: 5, maxPendingOut: 64 * 1024 * 1024 }, { memoryBudget: 256 * 1024 * 1024 });
    const net = await import("node:net");
    const peer = net.connect({ host: "127.0.0.1", port: t.port });
    await new Promise((r) => peer.once("connect", r));
    peer.pause();
    peer.on("error", () => {});
    // HELP keeps coming (so the session is never silent), and nothing is read: the answers pile up.
    const started = Date.now();
    const drip = setInterval(() => peer.write("HELP\r\n".repeat(500)), 100);
    try {
      await withTimeout(until(() => sink.of("close")[0], 25_000), 26_000, "the close event");
    } finally {
      clearInterval(drip);
      peer.destroy();
    }
    expect(sink.of("close")[0]!.reason).toBe("peer not reading");
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);

  test("process-wide session cap: the other ports of the process refuse too", async () => {
    const governor = new Governor({ maxTotalSessions: 3, maxRatePerSource: 0 });
    const a = trap(vsftpd, {}, {}, governor);
    const b = trap(proftpd, {}, {}, governor);
    const held = [await connect(a.trap.port), await connect(a.trap.port), await connect(b.trap.port)];
    for (const c of held) await c.waitFor((s) => s.startsWith("220"));
    const extra = await connect(b.trap.port);
    await withTimeout(extra.closed, 3000, "refused");
    expect(extra.received().length).toBe(0);
    held[0]!.send("QUIT\r\n");
    await withTimeout(held[0]!.closed, 3000, "quit");
    const again = await connect(b.trap.port);
    await again.waitFor((s) => s.startsWith("220"));
    for (const c of [...held, again]) c.end();
    b.trap.stop();
    expect(refusedCount(b.sink, "too many sessions in the process")).toBe(1);
  });
});

describe("limits from the command line and the config", () => {
  test("a config's limits: are read with the flags' names; a bad one is a one-line error with its line", async () => {
    const dir = tempDir();
    const good = join(dir, "good.yaml");
    writeFileSync(good, "persona: seedbox\nlimits:\n  max-sessions: 64\n  memory-budget: 32M\n  max-out-per-source: 0\n  idle-timeout: 120\n");
    const ok = await runCli(["validate", good]);
    expect(ok.code).toBe(0);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "persona: seedbox\nlimits:\n  max-sessions: 64\n  memory-budget: lots\n");
    const r = await runCli(["validate", bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/bad\.yaml:4: invalid limits\.memory-budget "lots": expected a size/);
    const unknown = join(dir, "unknown.yaml");
    writeFileSync(unknown, "persona: seedbox\nlimits:\n  max-fun: 3\n");
    const u = await runCli(["validate", unknown]);
    expect(u.code).not.toBe(0);
    expect(u.stderr).toMatch(/unknown\.yaml:3: limits\.max-fun: unknown limit/);
  });

  test("byte sizes take K, M and G; out of range and junk are refused in one line", async () => {
    for (const [args, re] of [
      [["--memory-budget", "12X"], /invalid --memory-budget "12X": expected a size in bytes/],
      [["--memory-budget", "1K"], /invalid --memory-budget 1K: expected a size from 1M to 1024G/],
      [["--max-rate-per-source", "-1"], /invalid --max-rate-per-source "-1": expected a whole number from 0/],
      [["--keep-bytes", "1e6"], /invalid --keep-bytes "1e6"/],
    ] as const) {
      const r = await runCli(["ftp", "0", "--host", "127.0.0.1", ...args]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split("\n")).toHaveLength(1);
      expect(r.stderr).toMatch(re);
    }
  });
});
