// The release as an operator gets it: `scripts/release` builds every platform with checksums; the
// linux-x64 file runs in an empty root; the unit's command line runs as the unit runs it (a user that is
// not root, CAP_NET_BIND_SERVICE, no new privileges, /proc reduced to its own pid), logrotate rotates its
// log; the install script puts everything in place in a throwaway root and refuses a bad checksum.
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, closeSync, copyFileSync, openSync, readSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { connect, readLog, ROOT, startProcess, tempDir, until, withTimeout, type Running } from "./helpers.ts";

const isRoot = process.getuid?.() === 0;
const VERSION: string = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
/** The platforms, and the machine each file must be for: [ELF machine | Mach-O cpu | PE machine]. */
const PLATFORMS: Record<string, { format: "elf" | "macho" | "pe"; machine: number; musl?: boolean }> = {
  "linux-x64": { format: "elf", machine: 0x3e },
  "linux-x64-baseline": { format: "elf", machine: 0x3e },
  "linux-x64-musl": { format: "elf", machine: 0x3e, musl: true },
  "linux-arm64": { format: "elf", machine: 0xb7 },
  "linux-arm64-musl": { format: "elf", machine: 0xb7, musl: true },
  "darwin-x64": { format: "macho", machine: 0x01000007 },
  "darwin-arm64": { format: "macho", machine: 0x0100000c },
  "windows-x64": { format: "pe", machine: 0x8664 },
};
const fileName = (platform: string) => `micetrap-${VERSION}-${platform}${platform.startsWith("windows") ? ".exe" : ""}`;

const made: string[] = [];
function scratch(prefix: string): string {
  const d = tempDir(prefix);
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  const r = Bun.spawnSync(cmd, { cwd: opts.cwd ?? ROOT, env: opts.env ?? { ...process.env }, stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** The commit the tree is at, as git itself says, and whether tracked files differ from it. */
function treeCommit(): string {
  const head = run(["git", "rev-parse", "--short=12", "HEAD"]).stdout.trim();
  const clean = run(["git", "diff", "--quiet", "HEAD", "--"]).code === 0;
  return clean ? head : `${head}-dirty`;
}

interface Release {
  dir: string;
  output: string;
  seconds: number;
}
let releasing: Promise<Release> | undefined;
/** One run of scripts/release for the whole file (every platform, into a scratch folder). */
function release(): Promise<Release> {
  releasing ??= (async () => {
    const dir = scratch("micetrap-release-");
    const t0 = performance.now();
    const proc = Bun.spawn(["bash", join(ROOT, "scripts/release"), "--out", dir], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 900_000);
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const code = await proc.exited;
    clearTimeout(timer);
    const seconds = (performance.now() - t0) / 1000;
    if (code !== 0) throw new Error(`scripts/release exited ${code}: ${err}${out}`);
    console.log(`scripts/release: every platform in ${seconds.toFixed(1)} s`);
    return { dir, output: out, seconds };
  })();
  return releasing;
}

/** What kind of executable a file is, from its header alone. */
function executableKind(path: string): { format: string; machine: number; interpreter: string } {
  const head = Buffer.alloc(8192);
  const fd = openSync(path, "r");
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.readUInt32BE(0) === 0x7f454c46) {
    const interp = /\/lib[^\0]*ld-[^\0]*\.so[.0-9]*/.exec(head.toString("latin1"))?.[0] ?? "";
    return { format: "elf", machine: head.readUInt16LE(18), interpreter: interp };
  }
  if (head.readUInt32LE(0) === 0xfeedfacf) return { format: "macho", machine: head.readUInt32LE(4), interpreter: "" };
  if (head.toString("latin1", 0, 2) === "MZ") {
    const pe = head.readUInt32LE(0x3c);
    if (head.toString("latin1", pe, pe + 4) === "PE\0\0") return { format: "pe", machine: head.readUInt16LE(pe + 4), interpreter: "" };
  }
  return { format: "unknown", machine: 0, interpreter: "" };
}

describe("scripts/release", () => {
  test(
    "builds every platform as micetrap-<version>-<os>-<arch>, each for its machine, and SHA256SUMS that sha256sum -c accepts",
    async () => {
      const r = await release();
      const names = readdirSync(r.dir).sort();
      for (const platform of Object.keys(PLATFORMS)) expect(names).toContain(fileName(platform));
      for (const [platform, want] of Object.entries(PLATFORMS)) {
        const path = join(r.dir, fileName(platform));
        const kind = executableKind(path);
        expect({ platform, format: kind.format, machine: kind.machine }).toEqual({ platform, format: want.format, machine: want.machine });
        if (want.format === "elf") expect({ platform, musl: kind.interpreter.includes("ld-musl-") }).toEqual({ platform, musl: want.musl === true });
        expect(statSync(path).size).toBeGreaterThan(40 * 1048576); // a whole runtime is inside
        if (want.format !== "pe") expect(statSync(path).mode & 0o111).not.toBe(0);
      }
      // The server files travel with the binaries, and everything is checksummed.
      for (const f of ["install.sh", "micetrap.service", "config.yaml", "micetrap.logrotate"]) expect(names).toContain(f);
      const sums = readFileSync(join(r.dir, "SHA256SUMS"), "utf8");
      const listed = sums.trimEnd().split("\n").map((l) => /^[0-9a-f]{64} {2}(\S+)$/.exec(l)?.[1]);
      expect(listed).not.toContain(undefined);
      expect(listed.sort()).toEqual(names.filter((n) => n !== "SHA256SUMS"));
      const check = run(["sha256sum", "-c", "--strict", "SHA256SUMS"], { cwd: r.dir });
      expect(check.code).toBe(0);
      expect(check.stdout.trim().split("\n").filter((l) => l.endsWith(": OK"))).toHaveLength(listed.length);
    },
    900_000,
  );

  test("micetrap --version of the linux builds names the version and the commit the tree is at", async () => {
    const r = await release();
    const expected = `micetrap ${VERSION} (commit ${treeCommit()})`;
    for (const platform of ["linux-x64", "linux-x64-baseline"]) {
      const v = run([join(r.dir, fileName(platform)), "--version"], { env: {} });
      expect({ platform, code: v.code, out: v.stdout.trim() }).toEqual({ platform, code: 0, out: expected });
      expect(run([join(r.dir, fileName(platform)), "-v"], { env: {} }).stdout.trim()).toBe(expected);
    }
    // From source there is no build: the version is marked as such, with no commit claimed.
    const src = run([process.execPath, join(ROOT, "src/cli.ts"), "--version"]);
    expect(src.stdout.trim()).toBe(`micetrap ${VERSION}-dev (from source)`);
  });
});

/** A root holding only the binary and the libraries ldd names, at the same paths, and /proc's mount point. */
function emptyRoot(binary: string): { dir: string; files: string[] } {
  const dir = scratch("micetrap-emptyroot-");
  chmodSync(dir, 0o755);
  copyFileSync(binary, join(dir, "micetrap"));
  chmodSync(join(dir, "micetrap"), 0o755);
  const ldd = run(["ldd", binary]);
  expect(ldd.code).toBe(0);
  const libs = [...ldd.stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
  expect(libs.length).toBeGreaterThan(0);
  for (const lib of libs) {
    mkdirSync(join(dir, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(dir, lib)); // follows the link: the file the loader would map
  }
  // Bun's runtime reads /proc/self/maps at start and aborts without /proc: the kernel's, mounted below.
  mkdirSync(join(dir, "proc"));
  const files = run(["find", ".", "-type", "f"], { cwd: dir }).stdout.trim().split("\n").map((f) => f.slice(1)).sort();
  return { dir, files: files.filter(Boolean) };
}

function procStatus(pid: number): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const m = /^(\w+):\s*(.*)$/.exec(line);
    if (m) fields[m[1]!] = m[2]!;
  }
  return fields;
}

describe("the linux-x64 binary in an empty root", () => {
  test.skipIf(!isRoot)(
    "holding only itself and what ldd names, it prints its version, serves a trap on 127.0.0.1, drops to nobody and writes its log",
    async () => {
      const r = await release();
      const binary = join(r.dir, fileName("linux-x64"));
      const root = emptyRoot(binary);
      const libs = [...run(["ldd", binary]).stdout.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)].map((m) => m[1]!);
      expect(root.files).toEqual(["/micetrap", ...libs].sort());
      expect(existsSync(join(root.dir, "etc"))).toBe(false); // no passwd, no machine-id, no os-release, no localtime

      // A private mount namespace: the root becomes /, with the kernel's /proc; the network is the host's loopback.
      const inRoot = ["unshare", "--mount", `--root=${root.dir}`, "--mount-proc", "/micetrap"];
      const v = run([...inRoot, "--version"], { env: {} });
      expect({ code: v.code, out: v.stdout.trim(), err: v.stderr.trim() }).toEqual({ code: 0, out: `micetrap ${VERSION} (commit ${treeCommit()})`, err: "" });

      let trap: Running | undefined;
      try {
        trap = await startProcess([...inRoot, "ftp", "0", "--host", "127.0.0.1", "--log", "/events.jsonl"], { env: {}, timeoutMs: 20_000 });
        const port = trap.port;
        const c = await connect(port);
        await c.waitFor((s) => /^220[ -].*\r\n/.test(s), 5000);
        c.send("QUIT\r\n");
        await withTimeout(c.closed, 5000, "QUIT");
        await trap.waitForOutput(/Running as nobody \(uid 65534\) after binding\./);
        // Started as root with no --user and no /etc/passwd: it still gave root up, to the kernel's nobody.
        const status = procStatus(trap.proc.pid);
        expect(status.Uid!.split(/\s+/)).toEqual(["65534", "65534", "65534", "65534"]);
        expect(status.Gid!.split(/\s+/)).toEqual(["65534", "65534", "65534", "65534"]);
        expect(status.CapEff).toBe("0000000000000000");
        expect(status.NoNewPrivs).toBe("1");
        expect(await trap.stop()).toBe(0);
        trap = undefined;
        const log = join(root.dir, "events.jsonl");
        const events = readLog(log);
        expect(events.map((e) => e.event.action)).toEqual(expect.arrayContaining(["listening", "connection", "close"]));
        const conn = events.find((e) => e.event.action === "connection");
        expect(conn.source.ip).toBe("127.0.0.1");
        expect(conn.destination.port).toBe(port);
        // The log holds what the client got, byte for byte (the greeting and the goodbye), and what it sent.
        const answered = events.filter((e) => e.event.action === "data" && e.micetrap.payload?.direction === "outbound");
        expect(answered.map((e) => Buffer.from(e.micetrap.payload.base64, "base64").toString("latin1")).join("")).toBe(c.text());
        expect(JSON.stringify(events.filter((e) => e.micetrap.payload?.direction !== "outbound"))).toContain("QUIT");
        const st = statSync(log);
        expect({ uid: st.uid, mode: (st.mode & 0o777).toString(8) }).toEqual({ uid: 65534, mode: "640" });
      } finally {
        if (trap) await trap.stop("SIGKILL");
      }
    },
    900_000,
  );
  if (!isRoot) test("empty root: needs root (chroot and mounts)", () => console.log("skipped: the empty-root test needs root for unshare --root and --mount-proc"));
});

/** The unit's ExecStart, its words split (it has no quoting). */
function unitDirectives(): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const raw of readFileSync(join(ROOT, "scripts/install/micetrap.service"), "utf8").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    map.set(key, [...(map.get(key) ?? []), line.slice(eq + 1)]);
  }
  return map;
}

describe("the systemd unit", () => {
  test("asks for what the issue asks: a dynamic user, one capability, a read-only system but the log directory, restarts, HUP on reload", () => {
    const d = unitDirectives();
    const one = (k: string) => d.get(k)?.join(" ");
    expect(one("DynamicUser")).toBe("yes");
    expect(one("AmbientCapabilities")).toBe("CAP_NET_BIND_SERVICE");
    expect(one("CapabilityBoundingSet")).toBe("CAP_NET_BIND_SERVICE");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("LogsDirectory")).toBe("micetrap");
    expect(d.has("ReadWritePaths")).toBe(false);
    for (const k of ["ProtectHome", "PrivateTmp", "PrivateDevices"]) expect(one(k)).toBe("yes");
    expect(one("RestrictAddressFamilies")).toBe("AF_INET AF_INET6 AF_UNIX");
    expect(d.get("SystemCallFilter")).toContain("@system-service");
    expect(one("Restart")).toBe("on-failure");
    expect(one("RestartSec")).toMatch(/^\d+s?$/);
    expect(one("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
    expect(one("MemoryMax")).toMatch(/^\d+[KMG]$/);
    expect(Number(one("TasksMax"))).toBeGreaterThan(8);
    expect(one("ExecStart")).toBe("/usr/local/bin/micetrap serve --config /etc/micetrap/config.yaml --log /var/log/micetrap/events.jsonl");
  });

  test("systemd-analyze verify accepts it (where systemd-analyze is installed)", () => {
    if (!Bun.which("systemd-analyze")) {
      console.log("skipped: no systemd-analyze on this machine");
      return;
    }
    const dir = scratch("micetrap-unit-");
    // verify checks that ExecStart's program exists: point it at this checkout's entry point.
    const unit = readFileSync(join(ROOT, "scripts/install/micetrap.service"), "utf8").replace("/usr/local/bin/micetrap", join(ROOT, "scripts/release"));
    writeFileSync(join(dir, "micetrap.service"), unit);
    const v = run(["systemd-analyze", "verify", join(dir, "micetrap.service")]);
    expect({ code: v.code, out: (v.stdout + v.stderr).trim() }).toEqual({ code: 0, out: "" });
  });

  test.skipIf(!isRoot)(
    "its command line runs as the unit runs it: not root, only CAP_NET_BIND_SERVICE, no new privileges; usual ports bound; logrotate's rule rotates the log",
    async () => {
      const r = await release();
      // A folder the unprivileged user may enter: the binary, the sample config, a log directory it owns (LogsDirectory=).
      const dir = scratch("micetrap-unit-run-");
      chmodSync(dir, 0o755);
      const bin = join(dir, "micetrap");
      copyFileSync(join(r.dir, fileName("linux-x64")), bin);
      chmodSync(bin, 0o755);
      const config = join(dir, "config.yaml");
      copyFileSync(join(ROOT, "scripts/install/config.yaml"), config);
      chmodSync(config, 0o644);
      const logDir = join(dir, "log");
      mkdirSync(logDir, { mode: 0o750 });
      chownSync(logDir, 65534, 65534);
      const exec = unitDirectives()
        .get("ExecStart")![0]!.split(" ")
        .map((w) => (w === "/usr/local/bin/micetrap" ? bin : w === "/etc/micetrap/config.yaml" ? config : w === "/var/log/micetrap/events.jsonl" ? join(logDir, "events.jsonl") : w));
      // What DynamicUser=, AmbientCapabilities=, CapabilityBoundingSet=, NoNewPrivileges= and ProcSubset=pid
      // make of the process, in a network namespace of its own so the usual ports are free.
      const unitLike = [
        "unshare", "--net", "--mount", "sh", "-c",
        'ip link set lo up && mount -t proc -o subset=pid,hidepid=invisible proc /proc && exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service --bounding-set=-all,+net_bind_service --no-new-privs "$@"',
        "sh", ...exec,
      ];
      let trap: Running | undefined;
      try {
        trap = await startProcess(unitLike, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeoutMs: 30_000 });
        const out = await trap.waitForOutput(/Host .*persona debian-lamp/, 10_000);
        for (const port of [21, 22, 80, 443, 3306]) expect(out).toContain(`listening on port ${port}...`);
        expect(out).not.toContain("instead");
        expect(out).not.toContain("Running as");
        const status = procStatus(trap.proc.pid);
        expect(status.Uid!.split(/\s+/)[1]).toBe("65534");
        expect(BigInt(`0x${status.CapEff}`)).toBe(1n << 10n); // CAP_NET_BIND_SERVICE alone
        expect(status.NoNewPrivs).toBe("1");

        const inNs = ["nsenter", `--net=/proc/${trap.proc.pid}/ns/net`];
        const get = () => run([...inNs, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "http://127.0.0.1/"]).stdout;
        expect(get()).toMatch(/^[1-5]\d\d$/);
        const log = join(logDir, "events.jsonl");
        await until(() => (readLog(log).some((e) => e.event.action === "close") ? true : undefined), 10_000);
        const before = readLog(log).filter((e) => e.event.action === "connection").length;
        expect(before).toBe(1);

        // The shipped logrotate rule, pointed at this log and this process instead of systemctl.
        const rule = readFileSync(join(ROOT, "scripts/install/micetrap.logrotate"), "utf8")
          .replace("/var/log/micetrap", logDir)
          .replace(/systemctl reload micetrap\.service/, `kill -HUP ${trap.proc.pid}`);
        writeFileSync(join(dir, "logrotate.conf"), rule, { mode: 0o644 });
        const rot = run(["logrotate", "-f", "-s", join(dir, "logrotate.state"), join(dir, "logrotate.conf")]);
        expect({ code: rot.code, err: rot.stderr.trim() }).toEqual({ code: 0, err: "" });
        await trap.waitForOutput(/Received SIGHUP: reopened the log file/, 5000);
        expect(get()).toMatch(/^[1-5]\d\d$/);
        await until(() => (readLog(log).some((e) => e.event.action === "close") ? true : undefined), 10_000);
        const rotated = readFileSync(`${log}.1`, "utf8");
        expect(rotated.endsWith("\n")).toBe(true);
        expect(readLog(`${log}.1`).filter((e) => e.event.action === "connection")).toHaveLength(1);
        expect(readLog(log).filter((e) => e.event.action === "connection")).toHaveLength(1);
        const st = statSync(log);
        expect({ uid: st.uid, mode: (st.mode & 0o777).toString(8) }).toEqual({ uid: 65534, mode: "640" });
        expect(await trap.stop()).toBe(0);
        trap = undefined;
      } finally {
        if (trap) await trap.stop("SIGKILL");
      }
    },
    900_000,
  );

  test("the sample config is one micetrap validate accepts", async () => {
    const r = await release();
    const v = run([join(r.dir, fileName("linux-x64")), "validate", join(ROOT, "scripts/install/config.yaml")], { env: {} });
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/config\.yaml: ok\b/);
  });
});

/** Runs the install script; its stderr must be one line whenever it fails. */
function install(args: string[], script = join(ROOT, "scripts/install/install.sh")) {
  return run(["bash", script, ...args], { env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
}

/** The same without blocking this process, which serves the downloads meanwhile. */
async function installAsync(args: string[], script: string) {
  const proc = Bun.spawn(["bash", script, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 120_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

function modeOf(path: string): string {
  return (statSync(path).mode & 0o7777).toString(8);
}

describe("install.sh", () => {
  test("puts the binary, the unit, the sample config, the logrotate rule and the log directory in place under --root", async () => {
    const r = await release();
    const root = scratch("micetrap-install-");
    const binary = join(r.dir, fileName("linux-x64"));
    const first = install(["--root", root, binary]);
    expect({ code: first.code, err: first.stderr }).toEqual({ code: 0, err: "" });
    expect(first.stdout).toContain("systemctl daemon-reload");
    expect(first.stdout).toContain("systemctl enable --now micetrap");
    const bin = join(root, "usr/local/bin/micetrap");
    expect(modeOf(bin)).toBe("755");
    expect(Bun.hash(readFileSync(bin))).toBe(Bun.hash(readFileSync(binary)));
    expect(modeOf(join(root, "etc/systemd/system/micetrap.service"))).toBe("644");
    expect(readFileSync(join(root, "etc/systemd/system/micetrap.service"), "utf8")).toBe(readFileSync(join(ROOT, "scripts/install/micetrap.service"), "utf8"));
    expect(modeOf(join(root, "etc/micetrap/config.yaml"))).toBe("644");
    expect(readFileSync(join(root, "etc/micetrap/config.yaml"), "utf8")).toBe(readFileSync(join(ROOT, "scripts/install/config.yaml"), "utf8"));
    expect(modeOf(join(root, "etc/logrotate.d/micetrap"))).toBe("644");
    expect(statSync(join(root, "var/log/micetrap")).isDirectory()).toBe(true);
    expect(modeOf(join(root, "var/log/micetrap"))).toBe("750");
    const tree = () => run(["find", ".", "-printf", "%p %m %s\n"], { cwd: root }).stdout.split("\n").sort().join("\n");
    const after1 = tree();
    // The installed binary validates the installed config.
    const v = run([bin, "validate", join(root, "etc/micetrap/config.yaml")], { env: {} });
    expect(v.code).toBe(0);

    // Again, with the operator's config edited: nothing else moves, the edit stays.
    const edited = readFileSync(join(root, "etc/micetrap/config.yaml"), "utf8").replace("persona: debian-lamp", "persona: centos-db");
    writeFileSync(join(root, "etc/micetrap/config.yaml"), edited);
    const afterEdit = tree();
    expect(afterEdit).not.toBe(after1);
    const second = install(["--root", root, binary]);
    expect({ code: second.code, err: second.stderr }).toEqual({ code: 0, err: "" });
    expect(second.stdout).toMatch(/unchanged +\/usr\/local\/bin\/micetrap/);
    expect(second.stdout).toMatch(/unchanged +\/etc\/systemd\/system\/micetrap\.service/);
    expect(second.stdout).toMatch(/kept +\/etc\/micetrap\/config\.yaml/);
    expect(readFileSync(join(root, "etc/micetrap/config.yaml"), "utf8")).toBe(edited);
    expect(tree()).toBe(afterEdit);
  });

  test("a bad checksum, a missing file, a missing SHA256SUMS or a binary not listed: one line, non-zero, nothing installed", async () => {
    const r = await release();
    const dl = scratch("micetrap-download-");
    const name = fileName("linux-x64");
    copyFileSync(join(r.dir, name), join(dl, name));
    const sums = readFileSync(join(r.dir, "SHA256SUMS"), "utf8");
    // One hex digit of the binary's line changed: what a tampered download looks like against the list.
    const line = sums.split("\n").find((l) => l.endsWith(`  ${name}`))!;
    const flipped = (line[0] === "0" ? "1" : "0") + line.slice(1);
    writeFileSync(join(dl, "SHA256SUMS"), sums.replace(line, flipped));
    const cases: [string, string[], RegExp][] = [
      ["bad checksum", [join(dl, name)], /checksum mismatch for micetrap-/],
      ["missing file", [join(dl, "micetrap-9.9.9-linux-x64")], /no such file/],
      ["missing SHA256SUMS", ["--sums", join(dl, "nope"), join(dl, name)], /no .*nope to check/],
      ["unknown option", ["--frobnicate", join(dl, name)], /unknown option --frobnicate/],
    ];
    for (const [what, args, message] of cases) {
      const root = scratch("micetrap-install-bad-");
      const res = install(["--root", root, ...args]);
      expect({ what, code: res.code }).toEqual({ what, code: 1 });
      expect({ what, lines: res.stderr.trimEnd().split("\n").length }).toEqual({ what, lines: 1 });
      expect(res.stderr).toMatch(message);
      expect(readdirSync(root)).toEqual([]);
    }
    // A renamed file is not in the list under its new name.
    renameSync(join(dl, name), join(dl, "micetrap"));
    writeFileSync(join(dl, "SHA256SUMS"), sums);
    const renamed = install(["--root", scratch("micetrap-install-bad-"), join(dl, "micetrap")]);
    expect(renamed.code).toBe(1);
    expect(renamed.stderr.trim()).toMatch(/^install\.sh: .*SHA256SUMS does not list micetrap$/);
  });

  test("--url downloads this machine's binary and the server files, checks each against SHA256SUMS, installs", async () => {
    const r = await release();
    // The release folder served on loopback as a download site; the script alone in another folder.
    let tamper = false;
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch(req) {
        const name = new URL(req.url).pathname.slice(1);
        if (!/^[\w.+-]+$/.test(name) || !existsSync(join(r.dir, name))) return new Response("not found", { status: 404 });
        if (tamper && name === "micetrap.service") return new Response("[Service]\nExecStart=/bin/sh -c evil\n");
        return new Response(Bun.file(join(r.dir, name)));
      },
    });
    try {
      const alone = scratch("micetrap-script-");
      copyFileSync(join(r.dir, "install.sh"), join(alone, "install.sh"));
      const root = scratch("micetrap-install-url-");
      const ok = await installAsync(["--root", root, "--url", `http://127.0.0.1:${server.port}/`], join(alone, "install.sh"));
      expect({ code: ok.code, err: ok.stderr }).toEqual({ code: 0, err: "" });
      const installed = readFileSync(join(root, "usr/local/bin/micetrap"));
      const listed = readFileSync(join(r.dir, "SHA256SUMS"), "utf8");
      const hash = new Bun.CryptoHasher("sha256").update(installed).digest("hex");
      expect(listed).toMatch(new RegExp(`^${hash}  micetrap-${VERSION.replace(/\./g, "\\.")}-linux-x64(-baseline)?$`, "m"));
      expect(readFileSync(join(root, "etc/systemd/system/micetrap.service"), "utf8")).toBe(readFileSync(join(ROOT, "scripts/install/micetrap.service"), "utf8"));
      expect(existsSync(join(root, "etc/micetrap/config.yaml"))).toBe(true);

      tamper = true;
      const bad = await installAsync(["--root", scratch("micetrap-install-url-"), "--url", `http://127.0.0.1:${server.port}`], join(alone, "install.sh"));
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim()).toMatch(/^install\.sh: checksum mismatch for micetrap\.service: /);
    } finally {
      server.stop(true);
    }
  });
});
