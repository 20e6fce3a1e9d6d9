// ECS fields of issue 11 from real traps over TCP: http.*, url.*, user_agent.* on the requests of the
// HTTP-shaped faces, tls.* on every event of a TLS session after its handshake, destination.ip on every
// session event, and source.geo.* / source.as.* from a MaxMind database made here (test/mmdb-writer.ts).
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, buildBinary, connect, readLogSafe, ROOT, runCli, startProcess, tempDir, until, withTimeout, type Running } from "./helpers.ts";
import { writeMmdb } from "./mmdb-writer.ts";

const CLI = [BUN, join(ROOT, "src/cli.ts")];
const dir = tempDir("micetrap-ecs-");
const running: Running[] = [];
afterAll(async () => {
  for (const r of running) await r.stop();
});

async function trap(args: string[], log: string, cmd = CLI): Promise<Running> {
  const t = await startProcess([...cmd, ...args, "--seed", "ecs", "--log", log], { timeoutMs: 20_000 });
  running.push(t);
  return t;
}

async function stop(t: Running): Promise<void> {
  running.splice(running.indexOf(t), 1);
  expect(await t.stop()).toBe(0);
}

function curl(args: string[]): string {
  const r = Bun.spawnSync(["curl", "-s", "--max-time", "10", ...args], { stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString();
}

/** Sends raw bytes and waits for the server to answer (or hang up), bounded. */
async function raw(port: number, bytes: string, host = "127.0.0.1", answer: RegExp = /HTTP\/1\.\d \d{3}/): Promise<void> {
  const c = await connect(port, host);
  c.send(bytes);
  await withTimeout(
    c.waitFor((s) => answer.test(s), 5000),
    6000,
    "an answer",
  ).catch(() => undefined);
  c.end();
  await withTimeout(c.closed, 5000, "the close").catch(() => undefined);
}

const commands = (log: string) => readLogSafe(log).filter((e) => e.event.action === "command");

// The database: 127.0.0.0/8 and ::1 in a city database, 127.0.0.0/8 in an ASN one.
const CITY = join(dir, "city.mmdb");
const ASN = join(dir, "asn.mmdb");
writeFileSync(
  CITY,
  writeMmdb(
    [
      ["127.0.0.0/8", { city: { names: { de: "Prüfstadt", en: "Testville" } }, country: { iso_code: "ZZ", names: { en: "Testland" } }, continent: { code: "EU" }, location: { latitude: 48.5, longitude: -2.25 } }],
      ["::1/128", { country: { iso_code: "YY", names: { en: "Loopland" } }, continent: { code: "AS" } }],
    ],
    "GeoLite2-City",
  ),
);
writeFileSync(ASN, writeMmdb([["127.0.0.0/8", { autonomous_system_number: 64512, autonomous_system_organization: "Loopback Networks" }]], "GeoLite2-ASN"));

describe("HTTP request fields", () => {
  test("http face (bound to 0.0.0.0): method, version, URL parts, user agent, body bytes; destination.ip on every session event", async () => {
    const log = join(dir, "http.jsonl");
    const t = await trap(["http", "0", "--host", "0.0.0.0", "--banner", "apache-2.4.10-debian"], log);
    curl(["-A", "Mozilla/5.0 (evil) \u00e9", `http://127.0.0.1:${t.port}/cgi-bin/a.cgi?x=1&y=%27#frag`]);
    curl(["-A", "poster", "--data-binary", "user=a&pw=b", `http://127.0.0.1:${t.port}/login.php`]);
    await raw(t.port, "GET /q? HTTP/1.0\r\n\r\n");
    const long = "/" + "A".repeat(5000) + "?k=v";
    await raw(t.port, `GET ${long} HTTP/1.1\r\nHost: x\r\nUser-Agent: ${"U".repeat(1500)}\r\n\r\n`);
    const cmds = await until(() => (commands(log).length >= 4 ? commands(log) : undefined));
    await stop(t);
    const [get, post, empty, big] = cmds;
    expect(get.http).toEqual({ version: "1.1", request: { method: "GET" } });
    // curl strips the fragment before sending; the query keeps its escapes as sent.
    expect(get.url).toEqual({ original: "/cgi-bin/a.cgi?x=1&y=%27", path: "/cgi-bin/a.cgi", query: "x=1&y=%27" });
    expect(get.user_agent).toEqual({ original: "Mozilla/5.0 (evil) \u00c3\u00a9" }); // the header's bytes, read as Latin-1 as the face reads them
    expect(post.http).toEqual({ version: "1.1", request: { method: "POST", body: { bytes: 11 } } });
    expect(post.url).toEqual({ original: "/login.php", path: "/login.php" });
    expect(post.user_agent.original).toBe("poster");
    // A "?" with nothing after it: url.query is there, empty (ECS).
    expect(empty.http.version).toBe("1.0");
    expect(empty.url).toEqual({ original: "/q?", path: "/q", query: "" });
    expect(empty.user_agent).toBeUndefined();
    // Cut to their bounds, and said so.
    expect(big.url.original).toBe(long.slice(0, 4096));
    expect(big.url.path).toBe(long.slice(0, 4096));
    expect(big.url.query).toBe("k=v");
    expect(big.user_agent.original).toBe("U".repeat(1024));
    expect(big.micetrap.http.cut).toEqual(["url.original", "url.path", "user_agent.original"]);
    // The request line is still in micetrap.command, whole.
    expect(big.micetrap.command).toBe(`GET ${long} HTTP/1.1`);
    const session = readLogSafe(log).filter((e) => e.micetrap.session);
    expect(session.length).toBeGreaterThan(8);
    for (const e of session) expect(`${e.event.action} ${e.destination.ip}`).toBe(`${e.event.action} 127.0.0.1`);
    const listening = readLogSafe(log).find((e) => e.event.action === "listening");
    expect(listening.destination.ip).toBe("0.0.0.0");
  }, 60_000);

  test("proxy: an absolute URL's path and query, a CONNECT's authority; no body bytes (Squid answers at the head)", async () => {
    const log = join(dir, "proxy.jsonl");
    const t = await trap(["proxy", "0", "--host", "127.0.0.1"], log);
    await raw(t.port, "GET http://example.com:8080/p/q.php?a=b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: openproxy-check\r\n\r\n");
    await raw(t.port, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    const cmds = await until(() => (commands(log).length >= 2 ? commands(log) : undefined));
    await stop(t);
    expect(cmds[0].http).toEqual({ version: "1.1", request: { method: "GET" } });
    expect(cmds[0].url).toEqual({ original: "http://example.com:8080/p/q.php?a=b", path: "/p/q.php", query: "a=b" });
    expect(cmds[0].user_agent.original).toBe("openproxy-check");
    expect(cmds[1].http.request.method).toBe("CONNECT");
    expect(cmds[1].url).toEqual({ original: "example.com:443" });
  }, 60_000);

  test("elasticsearch and docker: the body's length as read", async () => {
    const esLog = join(dir, "es.jsonl");
    const dockerLog = join(dir, "docker.jsonl");
    const es = await trap(["elasticsearch", "0", "--host", "127.0.0.1"], esLog);
    const docker = await trap(["docker", "0", "--host", "127.0.0.1"], dockerLog);
    const query = '{"query":{"match_all":{}}}';
    curl(["-A", "es-scan", "-H", "Content-Type: application/json", "-X", "POST", "--data-binary", query, `http://127.0.0.1:${es.port}/_search?pretty`]);
    const config = '{"Image":"alpine","Cmd":["sh","-c","id"]}';
    curl(["-A", "Docker-Client/19.03.12 (linux)", "-H", "Content-Type: application/json", "--data-binary", config, `http://127.0.0.1:${docker.port}/v1.40/containers/create?name=x`]);
    const esCmd = (await until(() => commands(esLog)[0]));
    const dockerCmd = (await until(() => commands(dockerLog)[0]));
    await stop(es);
    await stop(docker);
    expect(esCmd.http).toEqual({ version: "1.1", request: { method: "POST", body: { bytes: query.length } } });
    expect(esCmd.url).toEqual({ original: "/_search?pretty", path: "/_search", query: "pretty" });
    expect(esCmd.user_agent.original).toBe("es-scan");
    expect(dockerCmd.http).toEqual({ version: "1.1", request: { method: "POST", body: { bytes: config.length } } });
    expect(dockerCmd.url).toEqual({ original: "/v1.40/containers/create?name=x", path: "/v1.40/containers/create", query: "name=x" });
    expect(dockerCmd.user_agent.original).toBe("Docker-Client/19.03.12 (linux)");
  }, 60_000);
});

describe("tls.* on a TLS session", () => {
  test("https: every event after the handshake carries the session's tls fields; the ones before do not", async () => {
    const log = join(dir, "https.jsonl");
    const t = await trap(["https", "0", "--host", "127.0.0.1", "--banner", "apache-2.4.10-debian-ssl"], log);
    curl(["-k", "--tlsv1.2", "--tls-max", "1.2", "-A", "tls-ua", "-u", "admin:hunter2", `https://localhost:${t.port}/admin/`]);
    const events = await until(() => {
      const all = readLogSafe(log);
      return all.some((e) => e.event.action === "close") ? all : undefined;
    });
    await stop(t);
    const session = events.filter((e) => e.micetrap.session);
    const hs = session.findIndex((e) => e.event.action === "tls");
    expect(hs).toBeGreaterThan(0);
    const handshake = session[hs];
    expect(handshake.tls.established).toBe(true);
    expect(handshake.tls.version).toBe("1.2");
    expect(handshake.tls.client.server_name).toBe("localhost");
    expect(handshake.tls.client.ja3).toMatch(/^[0-9a-f]{32}$/);
    for (const e of session.slice(0, hs)) expect(e.tls).toBeUndefined();
    const after = session.slice(hs + 1);
    expect(after.map((e) => e.event.action)).toEqual(expect.arrayContaining(["data", "command", "close"]));
    for (const e of after) {
      expect(`${e.event.action}: ${JSON.stringify(e.tls)}`).toBe(
        `${e.event.action}: ${JSON.stringify({ established: true, version: "1.2", version_protocol: "tls", cipher: handshake.tls.cipher, client: { server_name: "localhost" } })}`,
      );
    }
    const cmd = after.find((e) => e.event.action === "command");
    expect(cmd.url.path).toBe("/admin/");
    expect(cmd.user_agent.original).toBe("tls-ua");
    const login = after.find((e) => e.event.action === "login");
    expect(login.user.name).toBe("admin");
    expect(login.tls.established).toBe(true);
  }, 60_000);
});

describe("tls.* after STARTTLS", () => {
  test("pop3 STLS: the login that follows the handshake carries tls.*; the commands before it do not", async () => {
    const log = join(dir, "pop3.jsonl");
    const t = await trap(["pop3", "0", "--host", "127.0.0.1", "--banner", "dovecot-2.1.7-debian-pop3"], log);
    Bun.spawnSync(["curl", "-s", "--max-time", "10", "--ssl-reqd", "-k", "-u", "bob:pw123", `pop3://127.0.0.1:${t.port}/`], { stdout: "pipe", stderr: "pipe" });
    const events = await until(() => {
      const all = readLogSafe(log);
      return all.some((e) => e.event.action === "close") ? all.filter((e) => e.micetrap.session && e.event.action !== "data") : undefined;
    });
    await stop(t);
    const shown = events.map((e) => `${e.event.action} ${e.micetrap.command ?? e.user?.name ?? ""} ${e.tls ? `tls ${e.tls.version}` : "plain"}`);
    expect(shown.slice(0, 4)).toEqual(["connection  plain", "command CAPA plain", "command STLS plain", "tls  tls 1.2"]);
    expect(shown).toContain("login bob tls 1.2");
    expect(shown[shown.length - 1]).toBe("close  tls 1.2");
  }, 60_000);
});

describe("source.geo.* from --geoip", () => {
  test("a city database: IPv4 and IPv6 loopback get their known places; every session event has them", async () => {
    const log = join(dir, "geo.jsonl");
    const t4 = await trap(["ftp", "0", "--host", "127.0.0.1", "--geoip", CITY], log);
    await raw(t4.port, "QUIT\r\n", "127.0.0.1", /^221/m);
    await until(() => (readLogSafe(log).some((e) => e.event.action === "close") ? true : undefined));
    await stop(t4);
    const session = readLogSafe(log).filter((e) => e.micetrap.session);
    expect(session.length).toBeGreaterThanOrEqual(3);
    for (const e of session) {
      expect(e.source.geo).toEqual({ country_iso_code: "ZZ", country_name: "Testland", city_name: "Testville", continent_code: "EU", location: { lat: 48.5, lon: -2.25 } });
      expect(e.source.as).toBeUndefined();
    }
    const log6 = join(dir, "geo6.jsonl");
    const t6 = await trap(["ftp", "0", "--host", "::1", "--geoip", CITY], log6);
    await raw(t6.port, "QUIT\r\n", "::1", /^221/m);
    await until(() => (readLogSafe(log6).some((e) => e.event.action === "close") ? true : undefined));
    await stop(t6);
    for (const e of readLogSafe(log6).filter((e) => e.micetrap.session)) {
      expect(e.source.ip).toBe("::1");
      expect(e.source.geo).toEqual({ country_iso_code: "YY", country_name: "Loopland", continent_code: "AS" });
    }
  }, 60_000);

  test("a refused connection (bound to one address): destination.ip and source.geo too", async () => {
    const log = join(dir, "refused.jsonl");
    const t = await trap(["ftp", "0", "--host", "127.0.0.1", "--geoip", CITY, "--max-per-source", "1"], log);
    const first = await connect(t.port);
    await first.waitFor((s) => /^220/m.test(s));
    const second = await connect(t.port);
    await withTimeout(second.closed, 5000, "the refusal");
    const refused = await until(() => readLogSafe(log).find((e) => e.event.action === "refused"), 5000);
    first.end();
    await stop(t);
    expect(refused.destination).toEqual({ ip: "127.0.0.1", port: t.port });
    expect(refused.source.ip).toBe("127.0.0.1");
    expect(refused.source.geo.country_iso_code).toBe("ZZ");
  }, 60_000);

  test("an ASN database gives source.as.*; serve takes the config key", async () => {
    const log = join(dir, "asn.jsonl");
    const config = join(dir, "host.yaml");
    writeFileSync(config, `os: debian-12\ngeoip: ${ASN}\nlisten: 127.0.0.1\nservices:\n  - service: http\n    port: 0\n`);
    const t = await trap(["serve", "--config", config], log);
    curl([`http://127.0.0.1:${t.port}/`]);
    await until(() => (readLogSafe(log).some((e) => e.event.action === "close") ? true : undefined));
    await stop(t);
    for (const e of readLogSafe(log).filter((e) => e.micetrap.session)) {
      expect(e.source.as).toEqual({ number: 64512, organization: { name: "Loopback Networks" } });
      expect(e.source.geo).toBeUndefined();
    }
  }, 60_000);

  test("a missing or damaged database: one line, non-zero exit, nothing listening", async () => {
    const junk = join(dir, "junk.mmdb");
    writeFileSync(junk, Buffer.from("this is not a MaxMind database at all".repeat(20)));
    const empty = join(dir, "empty.mmdb");
    writeFileSync(empty, "");
    for (const [file, re] of [
      [join(dir, "nowhere.mmdb"), /cannot read the GeoIP database .*nowhere\.mmdb: ENOENT/],
      [junk, /junk\.mmdb is not a readable MaxMind database/],
      [empty, /empty\.mmdb is not a readable MaxMind database/],
    ] as const) {
      const log = join(dir, "never.jsonl");
      const r = await runCli(["http", "0", "--host", "127.0.0.1", "--geoip", file, "--log", log]);
      expect(r.code).not.toBe(0);
      expect(r.stdout).not.toContain("listening");
      const lines = r.stderr.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]).toMatch(re);
      expect(readLogSafe(log)).toEqual([]);
    }
  }, 60_000);

  test("the compiled binary, alone, reads the database", async () => {
    const bin = await buildBinary();
    const bdir = tempDir("micetrap-bin-geo-");
    copyFileSync(bin, join(bdir, "micetrap"));
    copyFileSync(CITY, join(bdir, "city.mmdb"));
    const log = join(bdir, "bin.jsonl");
    const t = await startProcess(["env", "-i", "./micetrap", "http", "0", "--host", "127.0.0.1", "--geoip", "city.mmdb", "--log", log], { cwd: bdir, env: {}, timeoutMs: 30_000 });
    running.push(t);
    curl(["-A", "bin-ua", `http://127.0.0.1:${t.port}/x?y=z`]);
    const cmd = await until(() => commands(log)[0]);
    await stop(t);
    expect(cmd.source.geo.country_iso_code).toBe("ZZ");
    expect(cmd.url).toEqual({ original: "/x?y=z", path: "/x", query: "y=z" });
    expect(cmd.user_agent.original).toBe("bin-ua");
  }, 120_000);
});
