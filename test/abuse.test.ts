// A live abuse run against the compiled binary: everything a hostile internet does at once, to one
// process serving ProFTPD and Apache. Its log lives on a small tmpfs (in a mount namespace of its own,
// reached through /proc/PID/root) that the test fills up and frees again; its stdout goes to a `head`
// that exits early; the log is rotated with SIGHUP in the middle. Afterwards the process must be alive,
// its memory back near where it started, nmap must still name both faces, every log line must parse,
// and every connection the test made must be in the log, as a session or as a refusal.
import { describe, expect, test } from "bun:test";
import { chmodSync, existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, openSync, writeSync, closeSync } from "node:fs";
import type { Socket } from "node:net";
import { join } from "node:path";
import { buildBinary, readLogSafe, sleep, tempDir, until, withTimeout } from "./helpers.ts";

const isRoot = process.getuid?.() === 0;
const canUnshare = isRoot && Bun.spawnSync(["unshare", "-m", "true"]).exitCode === 0;
const hasNmap = Bun.spawnSync(["sh", "-c", "command -v nmap"]).exitCode === 0;

const FACES = {
  ftp: JSON.parse(readFileSync(join(import.meta.dir, "../fixtures/services/ftp.json"), "utf8")).entries.find((e: { id: string }) => e.id === "proftpd-1.3.5-debian"),
  http: JSON.parse(readFileSync(join(import.meta.dir, "../fixtures/services/http.json"), "utf8")).entries.find((e: { id: string }) => e.id === "apache-2.4.7-ubuntu"),
};

/** The kernel's count of connections dropped because a listen queue was full (this network namespace). */
function listenDrops(): number {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const names = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    const at = names.indexOf("ListenDrops");
    if (names[0] === "TcpExt:" && at > 0) return Number(values[at]);
  }
  return 0;
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

/** Connections the test made (completed handshakes), per source address. */
const made = new Map<string, number>();
const count = (ip: string) => made.set(ip, (made.get(ip) ?? 0) + 1);

interface Peer {
  socket: Socket;
  closed: Promise<void>;
  received: () => number;
}

/** A connection from `from` (a loopback address: each abuse its own source); resolves once connected. */
async function open(from: string, port: number, o: { read?: boolean } = {}): Promise<Peer | undefined> {
  const net = await import("node:net");
  return new Promise((resolve) => {
    let got = 0;
    let done!: () => void;
    const closed = new Promise<void>((r) => (done = r));
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
    // Made: the handshake completed. A refusal is a reset after it, which a client may see before "connect".
    let counted = false;
    const made = () => {
      if (!counted) count(from);
      counted = true;
    };
    let timedOut = false;
    let failure: string | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      socket.destroy();
      resolve(undefined);
    }, 10_000);
    socket.on("connect", () => {
      clearTimeout(timer);
      made();
      if (o.read === false) socket.pause();
      resolve({ socket, closed, received: () => got });
    });
    socket.on("data", (d) => (got += d.length));
    socket.on("error", (err: NodeJS.ErrnoException) => (failure = err.code));
    socket.on("close", () => {
      clearTimeout(timer);
      // Closed before "connect" without a connect failure: the handshake was done and the trap reset it.
      if (!timedOut && failure !== "ECONNREFUSED" && failure !== "ETIMEDOUT" && failure !== "EADDRNOTAVAIL") made();
      done();
      resolve(undefined);
    });
  });
}

/** Runs `n` jobs with at most `at` at once. */
async function pool(n: number, at: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: at }, async () => {
      while (next < n) await job(next++);
    }),
  );
}

/** A log's events; `whole`: the file must end with a complete line (else, being written, its tail is left for later). */
function parseLines(path: string, whole = true): any[] {
  if (!whole) return readLogSafe(path);
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  if (text.length > 0) expect(text.endsWith("\n")).toBe(true);
  return text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
}

describe("abuse", () => {
  test.skipIf(!canUnshare || !hasNmap)(
    "a flood, 2,000 idle peers, slowloris, junk, half-closes, resets, a peer that never reads, a broken stdout, a full disk and a rotation, all at once",
    async () => {
      const bin = await buildBinary();
      const dir = tempDir("micetrap-abuse-");
      const logDir = join(dir, "log");
      const config = join(dir, "host.yaml");
      writeFileSync(config, `os: debian-8\nservices:\n  - service: ftp\n    port: 0\n    banner: ${FACES.ftp.id}\n  - service: http\n    port: 0\n    banner: ${FACES.http.id}\n`);
      Bun.spawnSync(["mkdir", "-p", logDir]);
      // The user the trap drops to must reach its log directory to reopen the log (as /var/log/micetrap).
      chmodSync(dir, 0o755);
      // The log directory is a 256 MiB tmpfs seen only by the trap (its own mount namespace), owned by the
      // user the trap drops to, as a service's log directory is; stdout goes to a reader that leaves early.
      // The shell stays as the trap's parent: once the trap exits it copies the log out of the namespace.
      const out = join(dir, "out");
      Bun.spawnSync(["mkdir", "-p", out]);
      const script = `mount -t tmpfs -o size=256m,uid=65534,gid=65534,mode=0755 tmpfs "$1" || exit 97
"$2" serve --config "$3" --host 127.0.0.1 --seed abuse --log "$1/events.jsonl" > >(head -c 2000 > /dev/null) &
trap=$!; echo "$trap" > "$4/pid"; wait "$trap"; rc=$?; cp "$1"/events.jsonl* "$4"/; exit "$rc"`;
      const proc = Bun.spawn(["unshare", "-m", "--propagation", "private", "bash", "-c", script, "bash", logDir, bin, config, out], { stdout: "ignore", stderr: "pipe" });
      const seen = (p: string) => `/proc/${proc.pid}/root${p}`;
      const log = seen(join(logDir, "events.jsonl"));
      const rotated = seen(join(logDir, "events.jsonl.1"));
      const filler = seen(join(logDir, "filler"));
      const peers: Peer[] = [];
      let trapPid = 0;
      let nmapOut = "";
      try {
  trapPid = await until(() => (existsSync(join(out, "pid")) ? Number(readFileSync(join(out, "pid"), "utf8")) || undefined : undefined), 10_000);
        const ports = await until(() => {
          const listening = existsSync(log) ? parseLines(log, false).filter((e) => e.event.action === "listening") : [];
          return listening.length === 2 ? Object.fromEntries(listening.map((e) => [e.service.name, e.destination.port])) : undefined;
        }, 15_000);
        const ftpPort: number = ports.ftp;
        const httpPort: number = ports.http;
        expect(new Set([ftpPort, httpPort]).size).toBe(2);

        // Baseline: a few ordinary sessions, then the resting size.
        for (let i = 0; i < 20; i++) {
          const p = await open("127.0.0.1", i % 2 ? httpPort : ftpPort);
          p?.socket.end(i % 2 ? "GET / HTTP/1.0\r\n\r\n" : "QUIT\r\n");
          await p?.closed;
        }
        await sleep(1500);
        const baseline = rssKiB(trapPid);
        let peak = baseline;
        const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(trapPid))), 100);
        const started = Date.now();
        const dropsBefore = listenDrops();
        try {
          // 2,000 idle peers from four addresses, half on each port, held to the end.
          for (let i = 0; i < 2000; i++) {
            const p = await open(`127.0.0.${10 + (i % 4)}`, i % 2 ? httpPort : ftpPort);
            if (p) peers.push(p);
          }
          const fillDisk = () => {
            const fd = openSync(filler, "w");
            try {
              const block = Buffer.alloc(1024 * 1024, 1);
              for (let i = 0; i < 512; i++) writeSync(fd, block);
            } catch (err) {
              expect((err as NodeJS.ErrnoException).code).toBe("ENOSPC");
            } finally {
              closeSync(fd);
            }
          };
          let flooded!: () => void;
          const floodDone = new Promise<void>((r) => (flooded = r));
          const abuses = [
            // A flood: 5,000 connections 100 at a time, each waits for the greeting (or the refusal).
            pool(5000, 100, async () => {
              const p = await open("127.0.0.2", ftpPort);
              if (!p) return;
              setTimeout(() => p.socket.destroy(), 2000);
              await Promise.race([p.closed, until(() => (p.received() > 0 ? true : undefined), 2000).catch(() => {})]);
              p.socket.destroy();
            }).then(flooded),
            // Slowloris: 100 requests that never end, a header line every half second for 15 s.
            pool(100, 100, async () => {
              const p = await open("127.0.0.20", httpPort);
              if (!p) return;
              p.socket.write("GET / HTTP/1.1\r\nHost: victim\r\n");
              for (let i = 0; i < 30; i++) {
                await sleep(500);
                p.socket.write(`X-Slow-${i}: ${"z".repeat(20)}\r\n`);
              }
              p.socket.destroy();
            }),
            // 4 MiB of junk and a 1 MiB line to each port.
            (async () => {
              await floodDone;
              for (const port of [ftpPort, httpPort]) {
                const junk = await open("127.0.0.21", port);
                junk?.socket.write(crypto.getRandomValues(new Uint8Array(4 * 1024 * 1024 + 1)).subarray(0, 4 * 1024 * 1024));
                const line = await open("127.0.0.21", port);
                line?.socket.write("A".repeat(1024 * 1024));
                await Promise.all([junk?.closed, line?.closed].map((c) => (c ? withTimeout(c, 20_000, "junk closed").catch(() => {}) : undefined)));
                junk?.socket.destroy();
                line?.socket.destroy();
              }
            })(),
            // Half-closed sockets (a command, then FIN) and resets (a command, then RST).
            pool(100, 20, async (i) => {
              const p = await open("127.0.0.22", i % 2 ? httpPort : ftpPort);
              if (!p) return;
              if (i % 4 < 2) {
                p.socket.end(i % 2 ? "GET / HTTP/1.1\r\nHost: x\r\n\r\n" : "USER admin\r\n");
                await withTimeout(p.closed, 15_000, "half-closed").catch(() => p.socket.destroy());
              } else {
                p.socket.write(i % 2 ? "GET / HTTP/1.1\r\n" : "USER root\r\n");
                await sleep(20);
                p.socket.resetAndDestroy();
              }
            }),
            // Peers that never read, asking for ProFTPD's help page over and over.
            pool(5, 5, async () => {
              await floodDone;
              const p = await open("127.0.0.23", ftpPort, { read: false });
              if (!p) return;
              for (let i = 0; i < 20 && !p.socket.destroyed; i++) {
                p.socket.write("HELP\r\n".repeat(2000));
                await sleep(100);
              }
              await withTimeout(p.closed, 30_000, "never-reader dropped").catch(() => {});
              p.socket.destroy();
            }),
            // After the flood the disk fills up (the other abuses go on); then it is freed, and logrotate moves
            // the file and sends HUP.
            (async () => {
              await floodDone;
              fillDisk();
              await sleep(3000);
              rmSync(filler);
              await sleep(1500);
              renameSync(log, rotated);
              process.kill(trapPid, "SIGHUP");
            })(),
          ];
          await withTimeout(Promise.all(abuses), 90_000, "the abuse");
          for (const p of peers) p.socket.destroy();
          // Every session ends (the never-readers by their caps): as many closes as connections.
          await until(() => {
            const events = [...parseLines(rotated, false), ...parseLines(log, false)];
            const opened = events.filter((e) => e.event.action === "connection").length;
            const closed = events.filter((e) => e.event.action === "close").length;
            return opened > 0 && opened === closed ? true : undefined;
          }, 60_000);
          await sleep(3000);
        } finally {
          clearInterval(sampler);
        }
        const final = rssKiB(trapPid);
        const took = Date.now() - started;
        const kernelDrops = listenDrops() - dropsBefore;

        // Every connection made is in the log: as a session, or counted in a refusal from its source, or
        // (reset by the peer before the trap could read its address) in an aborted count.
        const live = [...parseLines(rotated), ...parseLines(log)];
        const liveOf = (a: string) => live.filter((e) => e.event.action === a);
        let unaccounted = 0;
        for (const [ip, n] of made) {
          const sessions = liveOf("connection").filter((e) => e.source.ip === ip).length;
          const refused = liveOf("refused")
            .filter((e) => e.source.ip === ip)
            .reduce((sum, e) => sum + e.micetrap.refused.count, 0);
          expect({ ip, logged: Math.min(n, sessions + refused) }).toEqual({ ip, logged: sessions + refused });
          unaccounted += n - sessions - refused;
        }
        const aborted = liveOf("aborted").reduce((sum, e) => sum + e.micetrap.aborted.count, 0);
        expect(aborted).toBe(unaccounted);
        const madeAll = [...made.values()].reduce((x, y) => x + y, 0);

        // Alive, and still itself to nmap.
        expect(proc.exitCode).toBeNull();
        const nmap = Bun.spawnSync(["nmap", "-sV", "-Pn", "-n", "-p", `${ftpPort},${httpPort}`, "127.0.0.1"], { timeout: 120_000 });
        nmapOut = nmap.stdout.toString();
        expect(nmapOut).toMatch(new RegExp(`${ftpPort}/tcp\\s+open\\s+ftp\\s+${FACES.ftp.product}\\s+${FACES.ftp.version.replace(/\./g, "\\.")}`));
        expect(nmapOut).toMatch(new RegExp(`${httpPort}/tcp\\s+open\\s+http\\s+${FACES.http.product}\\s+${FACES.http.version.replace(/\./g, "\\.")}`));
        process.kill(trapPid, "SIGTERM");
        expect(await withTimeout(proc.exited, 10_000, "exit on SIGTERM")).toBe(0);

        // Every line of both files parses (parseLines throws otherwise), each file ends with a whole line.
        const before = parseLines(join(out, "events.jsonl.1"));
        const after = parseLines(join(out, "events.jsonl"));
        expect(before.length).toBeGreaterThan(0);
        expect(after.length).toBeGreaterThan(0);
        const events = [...before, ...after];
        const actions = (a: string) => events.filter((e) => e.event.action === a);
        // Every session closed, each once.
        const ids = actions("close").map((e) => e.micetrap.session.id);
        expect(new Set(ids).size).toBe(actions("close").length);
        expect(actions("close").length).toBe(actions("connection").length);
        // What each abuse did, as the log tells it.
        const reasons = new Map<string, number>();
        for (const e of actions("close")) reasons.set(e.micetrap.reason, (reasons.get(e.micetrap.reason) ?? 0) + 1);
        const refusals = new Map<string, number>();
        for (const e of actions("refused")) refusals.set(e.micetrap.reason, (refusals.get(e.micetrap.reason) ?? 0) + e.micetrap.refused.count);
        expect(reasons.get("input cap reached") ?? 0).toBeGreaterThanOrEqual(1);
        expect((reasons.get("peer not reading") ?? 0) + (reasons.get("idle timeout") ?? 0)).toBeGreaterThanOrEqual(1);
        expect([...refusals.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
        // The broken stdout and the full disk were noticed and said so in the file.
        const errors = actions("error").map((e) => e.error?.message ?? "");
        expect(errors.some((m: string) => /console output to stdout failed \(EPIPE\)/.test(m))).toBe(true);
        expect(errors.some((m: string) => /writes to the log file failed for .*\(ENOSPC\)/.test(m))).toBe(true);
        // Memory came back.
        expect(final).toBeLessThanOrEqual(baseline * 1.5);
        console.log(
          `abuse: ${madeAll} connections made in ${(took / 1000).toFixed(1)} s, ${liveOf("connection").length} sessions, ${[...refusals.values()].reduce((a, b) => a + b, 0)} refusals and ${aborted} aborted logged` +
            ` (${JSON.stringify(Object.fromEntries(refusals))}); closes by reason ${JSON.stringify(Object.fromEntries(reasons))};` +
            ` RSS baseline ${baseline} KiB, peak ${peak} KiB, final ${final} KiB; kernel listen-queue drops ${kernelDrops}; log ${statSync(join(out, "events.jsonl.1")).size + statSync(join(out, "events.jsonl")).size} bytes in ${events.length} lines`,
        );
      } finally {
        for (const p of peers) p.socket.destroy();
        if (proc.exitCode === null) {
          try {
            process.kill(trapPid, "SIGKILL");
          } catch {}
          proc.kill("SIGKILL");
        }
        await proc.exited;
        if (process.env.ABUSE_DEBUG || (nmapOut === "" && proc.exitCode !== 0)) console.error(await new Response(proc.stderr).text());
        rmSync(dir, { recursive: true, force: true });
      }
    },
    240_000,
  );
});
