// redis faces over real TCP on 127.0.0.1: the answers nmap and attackers read (INFO, NOAUTH, the
// version's error words, protocol errors and the hang-up after them), and every AUTH in the log.
// Expected words come from the redis sources of each version and from Debian 12's redis-server 7.0.15
// run on this machine (docs/research/redis-memcached.md), not from the fixture.
import { afterAll, describe, expect, test } from "bun:test";
import { findEntry } from "../../src/catalog/index.ts";
import type { Trap } from "../../src/net/listener.ts";
import { connect, startTestTrap, type MemorySink } from "../helpers.ts";

const traps: Trap[] = [];
afterAll(() => {
  for (const t of traps) t.stop();
});

function trap(id: string): { port: number; sink: MemorySink } {
  const { trap, sink } = startTestTrap(findEntry(id)!);
  traps.push(trap);
  return { port: trap.port, sink };
}

/** Sends `request` on a fresh connection and returns what came back once `done` holds (or the peer closed). */
async function ask(port: number, request: string, done: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  const c = await connect(port);
  try {
    c.send(request);
    const text = await c.waitFor((t) => done(t) || c.isClosed(), 3000).catch(() => c.text());
    if (!c.isClosed()) await Promise.race([c.closed, Bun.sleep(150)]);
    return { text, closed: c.isClosed() };
  } finally {
    c.end();
  }
}

const line = (t: string) => t.endsWith("\r\n");

describe("redis 7.0.15 (Debian 12), no password", () => {
  const t = trap("redis-7.0.15-debian12");

  test("INFO is a bulk string holding the version, the port and the server's sections", async () => {
    const r = await ask(t.port, "*1\r\n$4\r\ninfo\r\n", (x) => /^\$(\d+)\r\n/.test(x) && x.length >= Number(/^\$(\d+)/.exec(x)![1]) + 8);
    const m = /^\$(\d+)\r\n([\s\S]*)\r\n$/.exec(r.text);
    expect(m).not.toBeNull();
    expect(Buffer.byteLength(m![2]!, "latin1")).toBe(Number(m![1]));
    const body = m![2]!;
    expect(body.startsWith("# Server\r\nredis_version:7.0.15\r\n")).toBe(true);
    expect(body).toContain(`\r\ntcp_port:${t.port}\r\n`);
    const sections = [...body.matchAll(/^# (\w+)\r$/gm)].map((x) => x[1]);
    expect(sections).toEqual(["Server", "Clients", "Memory", "Persistence", "Stats", "Replication", "CPU", "Modules", "Errorstats", "Cluster", "Keyspace"]);
    expect(body).toMatch(/\r\nprocess_id:\d+\r\n/);
    expect(body).toMatch(/\r\nrun_id:[0-9a-f]{40}\r\n/);
    expect(body).toMatch(/\r\nuptime_in_seconds:[1-9]\d*\r\n/);
    expect(body).not.toContain("{{");
    expect(r.closed).toBe(false);
  });

  test("one INFO section, and an unknown one is empty", async () => {
    const r = await ask(t.port, "INFO clients\r\n", (x) => x.includes("\r\n\r\n") || x.endsWith("tracking_clients:0\r\nclients_in_timeout_table:0\r\n\r\n"));
    expect(r.text).toMatch(/^\$\d+\r\n# Clients\r\nconnected_clients:\d+\r\n[\s\S]*clients_in_timeout_table:0\r\n\r\n$/);
    expect((await ask(t.port, "INFO nosuch\r\n", (x) => x === "$0\r\n\r\n")).text).toBe("$0\r\n\r\n");
  });

  test("the version's words for AUTH without a password, unknown commands and arity", async () => {
    expect((await ask(t.port, "AUTH hunter2\r\n", line)).text).toBe(
      "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
    expect((await ask(t.port, "AUTH admin hunter2\r\n", line)).text).toBe("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    expect((await ask(t.port, "FOO bar baz\r\n", line)).text).toBe("-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n");
    expect((await ask(t.port, "GET / HTTP/1.0\r\n\r\n", line)).text).toBe("-ERR wrong number of arguments for 'get' command\r\n");
    expect((await ask(t.port, "CONFIG GET\r\n", line)).text).toBe("-ERR wrong number of arguments for 'config|get' command\r\n");
    expect((await ask(t.port, "CONFIG SET dir /root/.ssh\r\n", line)).text).toBe("-ERR CONFIG SET failed (possibly related to argument 'dir') - can't set protected config\r\n");
  });

  test("keys live for the session; PING, ECHO, QUIT", async () => {
    expect((await ask(t.port, "SET k v1\r\nGET k\r\nEXISTS k nope\r\nDEL k\r\nGET k\r\n", (x) => x.endsWith("$-1\r\n"))).text).toBe("+OK\r\n$2\r\nv1\r\n:1\r\n:1\r\n$-1\r\n");
    expect((await ask(t.port, "*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n", line)).text).toBe("$5\r\nhello\r\n");
    const q = await ask(t.port, "PING\r\nQUIT\r\n", (x) => x === "+PONG\r\n+OK\r\n");
    expect(q.text).toBe("+PONG\r\n+OK\r\n");
    expect(q.closed).toBe(true);
  });

  test("a protocol error is answered, logged in the same words, and the server hangs up", async () => {
    const r = await ask(t.port, "*1\r\n$abc\r\n", line);
    expect(r.text).toBe("-ERR Protocol error: invalid bulk length\r\n");
    expect(r.closed).toBe(true);
    expect((await ask(t.port, 'SET "a\r\n', line)).text).toBe("-ERR Protocol error: unbalanced quotes in request\r\n");
    expect(t.sink.of("error").map((e) => e.message)).toContain("Protocol error: invalid bulk length");
  });

  test("an HTTP POST is dropped without a word (7.0 checks before anything else)", async () => {
    const r = await ask(t.port, "POST / HTTP/1.1\r\nHost: x\r\n\r\n", () => false);
    expect(r.text).toBe("");
    expect(r.closed).toBe(true);
  });

  test("AUTH is a login event with the plaintext password; other commands are command events", async () => {
    await ask(t.port, "*3\r\n$4\r\nAUTH\r\n$5\r\nadmin\r\n$7\r\nP4ss wd\r\n*2\r\n$7\r\nSLAVEOF\r\n$2\r\nNO\r\n", (x) => x.split("\r\n").length >= 3);
    const login = t.sink.of("login").find((e) => e.password === "P4ss wd");
    expect(login).toBeDefined();
    expect(login!.user).toBe("admin");
    expect(login!.method).toBe("redis");
    expect(t.sink.of("command").some((e) => e.command === "SLAVEOF NO")).toBe(true);
  });
});

describe("redis 6.0.16 (Debian 11), requirepass", () => {
  const t = trap("redis-6.0.16-debian11");

  test("NOAUTH before AUTH; the wrong password in 6.0's words; arity and unknown commands come first", async () => {
    expect((await ask(t.port, "*1\r\n$4\r\ninfo\r\n", line)).text).toBe("-NOAUTH Authentication required.\r\n");
    expect((await ask(t.port, "CONFIG SET dir /tmp\r\n", line)).text).toBe("-NOAUTH Authentication required.\r\n");
    expect((await ask(t.port, "AUTH letmein\r\n", line)).text).toBe("-WRONGPASS invalid username-password pair\r\n");
    expect((await ask(t.port, "AUTH root letmein\r\n", line)).text).toBe("-WRONGPASS invalid username-password pair\r\n");
    expect((await ask(t.port, "GET\r\n", line)).text).toBe("-ERR wrong number of arguments for 'get' command\r\n");
    expect((await ask(t.port, "FOO a\r\n", line)).text).toBe("-ERR unknown command `FOO`, with args beginning with: `a`, \r\n");
  });

  test("before AUTH, more than 10 arguments is refused and the connection closed", async () => {
    const r = await ask(t.port, "*11\r\n", line);
    expect(r.text).toBe("-ERR Protocol error: unauthenticated multibulk length\r\n");
    expect(r.closed).toBe(true);
  });

  test("both AUTH forms are logged with user and password", async () => {
    await ask(t.port, "AUTH letmein\r\nAUTH root toor\r\n", (x) => x.split("\r\n").length >= 3);
    const logins = t.sink.of("login").map((e) => [e.user, e.password, e.method]);
    expect(logins).toContainEqual(["default", "letmein", "redis"]);
    expect(logins).toContainEqual(["root", "toor", "redis"]);
  });
});

describe("redis 2.4.14 (Debian 7), requirepass", () => {
  const t = trap("redis-2.4.14-debian7");

  test("the old refusal words, and one-argument AUTH only", async () => {
    expect((await ask(t.port, "*1\r\n$4\r\ninfo\r\n", line)).text).toBe("-ERR operation not permitted\r\n");
    expect((await ask(t.port, "AUTH x\r\n", line)).text).toBe("-ERR invalid password\r\n");
    expect((await ask(t.port, "AUTH x y\r\n", line)).text).toBe("-ERR wrong number of arguments for 'auth' command\r\n");
    expect((await ask(t.port, "FOO a\r\n", line)).text).toBe("-ERR unknown command 'FOO'\r\n");
  });

  test("the AUTH is logged without a user name (2.4 has none)", async () => {
    await ask(t.port, "AUTH s3cret\r\n", line);
    const login = t.sink.of("login").find((e) => e.password === "s3cret");
    expect(login).toBeDefined();
    expect(login!.user).toBeUndefined();
  });
});

describe("redis 5.0.3 (Debian 10), no password", () => {
  const t = trap("redis-5.0.3-debian10");

  test("5.0's words: backticks, MODULE LOAD refused, AUTH without a password", async () => {
    expect((await ask(t.port, "FOO a b\r\n", line)).text).toBe("-ERR unknown command `FOO`, with args beginning with: `a`, `b`, \r\n");
    expect((await ask(t.port, "MODULE LOAD /tmp/exp.so\r\n", line)).text).toBe("-ERR Error loading the extension. Please check the server logs.\r\n");
    expect((await ask(t.port, "AUTH x\r\n", line)).text).toBe("-ERR Client sent AUTH, but no password is set\r\n");
    expect((await ask(t.port, "CONFIG SET dir /var/spool/cron\r\nCONFIG GET dir\r\n", (x) => x.includes("cron\r\n"))).text).toBe(
      "+OK\r\n*2\r\n$3\r\ndir\r\n$15\r\n/var/spool/cron\r\n",
    );
    expect((await ask(t.port, "*2\r\n$4\r\ninfo\r\n$6\r\nserver\r\n", (x) => x.includes("config_file:"))).text).toContain("\r\nredis_version:5.0.3\r\n");
  });
});
