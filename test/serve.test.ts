// `micetrap serve`, `personas` and `validate`: a whole fake host in one process, configs with exact
// error lines, and the shipped personas.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { findRelease } from "../src/host/releases.ts";
import { planFromConfig } from "../src/runtime/plan.ts";
import { connect, runCli, startProcess, tempDir, unprivilegedCli, BUN, ROOT, readLog } from "./helpers.ts";

function configFile(text: string): string {
  const file = join(tempDir("micetrap-config-"), "host.yaml");
  writeFileSync(file, text);
  return file;
}

/** One line on stderr that names the file, the line and the field; exit 2; nothing started. */
async function expectConfigError(text: string, line: number, pattern: RegExp): Promise<void> {
  const file = configFile(text);
  for (const args of [["validate", file], ["serve", "--config", file, "--host", "127.0.0.1"]]) {
    const r = await runCli(args);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(`error: ${file}:${line}: `);
    expect(lines[0]).toMatch(pattern);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain("listening");
  }
}

describe("micetrap personas", () => {
  test("--json lists at least 8 personas, each a release with services, ports and a story", async () => {
    const r = await runCli(["personas", "--json"]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as { name: string; release: string; services: { service: string; ports: number[] }[]; story: string }[];
    expect(list.length).toBeGreaterThanOrEqual(8);
    for (const p of list) {
      expect(p.name).toMatch(/^[a-z0-9-]+$/);
      expect(findRelease(p.release)).toBeDefined();
      expect(p.services.length).toBeGreaterThan(0);
      for (const s of p.services) expect(s.ports.length).toBeGreaterThan(0);
      expect(p.story.length).toBeGreaterThan(20);
    }
    const names = list.map((p) => p.name);
    for (const want of ["debian-lamp", "ubuntu-web", "centos-db", "freebsd-files", "macos-server", "windows-server", "seedbox", "debian-12"]) expect(names).toContain(want);
    const families: string[] = list.map((p) => findRelease(p.release)!.family);
    for (const f of ["debian", "rhel", "freebsd", "macos", "windows"]) expect(families).toContain(f);
  });

  test("every Linux, BSD and Mac server persona has ssh; the web servers have https too", async () => {
    const r = await runCli(["personas", "--json"]);
    const list = JSON.parse(r.stdout) as { name: string; release: string; services: { service: string; ports: number[] }[] }[];
    for (const p of list) {
      const services = p.services.map((s) => s.service);
      if (findRelease(p.release)!.family !== "windows") expect(`${p.name}: ${services.join(",")}`).toContain("ssh");
      if (["debian-lamp", "ubuntu-web", "centos-db", "windows-server"].includes(p.name)) expect(`${p.name}: ${services.join(",")}`).toContain("https");
    }
  });

  test("a host's https shows the pages of its own http server, whichever the seed", () => {
    // Debian 7 has both Apache and nginx faces on 80 and on 443: drawn apart, half the hosts would mix them.
    let both = 0;
    for (let i = 0; i < 60; i++) {
      const plan = planFromConfig({ source: "test", os: "debian-7", services: [{ service: "http", line: 1 }, { service: "https", line: 2 }] }, { seed: `pair-${i}` }, () => "x");
      const http = plan.services.find((s) => s.service === "http")!.entry;
      const https = plan.services.find((s) => s.service === "https")!.entry;
      expect((https.templates as { httpFace?: string }).httpFace).toBe(http.id);
      both |= http.product === "nginx" ? 1 : 2;
    }
    expect(both).toBe(3); // both products were drawn
  });

  test("imap and pop3 on one host come from one mail suite (Cyrus with Cyrus, Dovecot with Dovecot), and pop3s follows pop3 (CentOS 7 has both suites on all three)", () => {
    const suite = (product: string) => product.split(" ")[0];
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const plan = planFromConfig(
        { source: "test", os: "rhel-7", services: [{ service: "imap", line: 1 }, { service: "pop3", line: 2 }, { service: "pop3s", line: 3 }] },
        { seed: `mail-${i}` },
        () => "x",
      );
      const [imap, pop3, pop3s] = ["imap", "pop3", "pop3s"].map((n) => plan.services.find((s) => s.service === n)!.entry);
      expect(suite(pop3!.product)).toBe(suite(imap!.product));
      expect(suite(pop3s!.product)).toBe(suite(imap!.product));
      seen.add(suite(imap!.product)!);
    }
    expect(seen.size).toBeGreaterThan(1); // more than one suite was drawn
  });

  test("every shipped persona validates without errors", async () => {
    for (const name of ["debian-lamp", "ubuntu-web", "centos-db", "freebsd-files", "macos-server", "windows-server", "seedbox", "debian-12"]) {
      const r = await runCli(["validate", join(ROOT, "fixtures/personas", `${name}.yaml`), "--seed", "ci"]);
      expect(r.stderr).not.toContain("error:");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/: ok/);
    }
  });
});

describe("host configs: every error names the file, the line and the field", () => {
  test("YAML syntax, with its line", async () => {
    await expectConfigError("persona: debian-lamp\nservices:\n  - service: ftp\n    port: 21: 22\n", 4, /YAML: /);
    await expectConfigError("os: debian-7\nos: debian-8\nservices:\n  - service: ftp\n", 2, /a key appears twice/);
  });

  test("unknown keys, services, banners, personas and OS; bad ports; a banner of another service", async () => {
    await expectConfigError("os: debian-7\nsevices:\n  - service: ftp\n", 2, /sevices: unknown key/);
    await expectConfigError("services:\n  - service: ftp\n  - service: gopher\n", 3, /services\[2\]\.service: unknown service "gopher"/);
    await expectConfigError("services:\n  - service: ftp\n    port: 70000\n", 3, /services\[1\]\.port: expected a port/);
    await expectConfigError("services:\n  - service: ftp\n    port: twenty-one\n", 3, /services\[1\]\.port: expected a port/);
    await expectConfigError("services:\n  - service: ftp\n    banner: vsftpd-9.9\n", 3, /banner: unknown banner "vsftpd-9.9"/);
    await expectConfigError("services:\n  - service: ftp\n    banner: iis-7.5-windows\n", 2, /services\[1\]\.banner: "iis-7.5-windows" is a http face, not ftp/);
    await expectConfigError("persona: mainframe\n", 1, /persona: unknown persona "mainframe"/);
    await expectConfigError("os: beos-5\nservices:\n  - service: ftp\n", 1, /os: unknown OS "beos-5"/);
    await expectConfigError("hostname: not a name\nservices:\n  - service: ftp\n", 1, /hostname: "not a name" is not a host name/);
    await expectConfigError("services:\n  - port: 21\n", 2, /services\[1\]: missing service/);
  });

  test("two services on one port is an error; a face of another OS and a port that needs root are warnings", async () => {
    await expectConfigError("os: debian-7\nservices:\n  - service: ftp\n    port: 2121\n  - service: http\n    port: 2121\n", 5, /services\[2\]: port 2121 is already used by services\[1\] \(ftp\)/);
    const file = configFile("os: debian-7\nservices:\n  - service: http\n    banner: iis-7.5-windows\n    port: 8080\n  - service: ftp\n");
    const r = await runCli(["validate", file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${file}:3: services[1].banner: iis-7.5-windows is a windows face on a debian host`);
    expect(r.stderr).toContain(`${file}:6: services[2]: port 21 needs root or CAP_NET_BIND_SERVICE`);
    expect(r.stdout).toContain(`${file}: ok (2 warnings)`);
  });
});

describe("micetrap serve", () => {
  test("a persona in one process: one host, one seed, one log, shared counters, every port answering", async () => {
    const dir = tempDir("micetrap-serve-");
    const log = join(dir, "events.jsonl");
    // The persona's services on free high ports (a config over the persona), so the test needs no root.
    const file = configFile("persona: debian-lamp\nservices:\n  - service: ftp\n    port: 0\n  - service: http\n    port: 0\n  - service: mysql\n    port: 0\n  - service: samba\n    port: 0\n");
    const t = await startProcess([BUN, join(ROOT, "src/cli.ts"), "serve", "--config", file, "--seed", "serve-test", "--host", "127.0.0.1", "--log", log]);
    try {
      await t.waitForOutput(/Host [a-z0-9.-]+ \(Debian 8 \(jessie\)/);
      const ports = [...t.lines().join("\n").matchAll(/Fake (\w+) service listening on port (\d+)/g)].map((m) => ({ service: m[1]!, port: Number(m[2]) }));
      expect(ports.map((p) => p.service)).toEqual(["ftp", "http", "mysql", "samba"]);
      const ftp = await connect(ports[0]!.port);
      await ftp.waitFor((s) => s.includes("\r\n"));
      ftp.end();
      const http = await connect(ports[1]!.port);
      http.send("GET / HTTP/1.0\r\n\r\n");
      await http.waitFor((s) => /^HTTP\/1\.[01] \d{3}/.test(s));
      http.end();
      // Two MySQL connections: the greeting's thread id grows by one, as mysqld's does.
      const ids: number[] = [];
      for (let i = 0; i < 2; i++) {
        const c = await connect(ports[2]!.port);
        const g = await c.waitFor((s) => s.length > 10 && s.includes("\0", 6));
        const v = g.indexOf("\0", 5);
        ids.push(Buffer.from(g.slice(v + 1, v + 5), "latin1").readUInt32LE(0));
        c.end();
      }
      expect(ids[1]).toBe(ids[0]! + 1);
      await Bun.sleep(200);
    } finally {
      await t.stop();
    }
    const events = readLog(log);
    const hosts = new Set(events.map((e) => e.micetrap?.host?.name));
    expect(hosts.size).toBe(1);
    expect([...hosts][0]).toMatch(/^[a-z0-9-]+$/);
    expect(new Set(events.map((e) => e.micetrap?.host?.release))).toEqual(new Set(["debian-8"]));
    expect(new Set(events.map((e) => e.micetrap?.persona))).toEqual(new Set(["debian-lamp"]));
    expect(new Set(events.filter((e) => e.event.action === "listening").map((e) => e.service.name))).toEqual(new Set(["ftp", "http", "mysql", "samba"]));
  });

  test("the same seed gives the same host and faces on every start; another seed another host", async () => {
    const faces = async (seed: string) => {
      const r = await runCli(["validate", join(ROOT, "fixtures/personas/ubuntu-web.yaml"), "--seed", seed]);
      return r.stdout;
    };
    const a = await faces("one");
    expect(await faces("one")).toBe(a);
    expect(await faces("two")).not.toBe(a);
  });

  test("without root, each usual port that needs root falls back to a free port, and says so", async () => {
    // centos-db: mysql on 3306 binds as anyone; http (80) and ftp (21) need root or CAP_NET_BIND_SERVICE.
    const t = await startProcess([...(await unprivilegedCli()), "serve", "--persona", "centos-db", "--seed", "no-root", "--host", "127.0.0.1"], { cwd: "/tmp" });
    try {
      // The notes come after the Host line: wait for the last of them, not for the Host line.
      await t.waitForOutput(/Host [a-z0-9.-]+ \(CentOS 6/, 10_000);
      const out = await t.waitForOutput(/http: the usual port[^\n]*instead\.[\s\S]*ftp: the usual port[^\n]*instead\.|ftp: the usual port[^\n]*instead\.[\s\S]*http: the usual port[^\n]*instead\./, 10_000);
      for (const [service, port] of [["http", 80], ["ftp", 21]] as const) {
        const m = new RegExp(`${service}: the usual port is not available: ${port} \\(needs root or CAP_NET_BIND_SERVICE\\); using port (\\d+) instead\\.`).exec(out);
        expect(m, out).not.toBeNull();
        const c = await connect(Number(m![1]));
        if (service === "ftp") await c.waitFor((s) => s.startsWith("220"));
        c.end();
      }
      expect(out).toContain("Fake mysql service listening on port 3306...");
    } finally {
      await t.stop();
    }
  }, 30_000);
});
