// curl against the elasticsearch face as attackers use it: the root document, a search with a JSON
// query, and on the X-Pack face a login with -u that is refused (401) and appears in the log with its
// password.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const CURL = Bun.which("curl");

async function curl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = Bun.spawn([CURL!, "-sS", "--max-time", "10", ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("curl-home-") } });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, stdout, stderr };
}

describe("curl against micetrap elasticsearch", () => {
  test("curl is installed (scripts/test.sh installs it)", () => {
    expect(CURL).toBeDefined();
  });

  test("an open 7.10.2 node: the root document, and a search logged with its query", async () => {
    const logFile = join(tempDir(), "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "elasticsearch", "0", "--host", "127.0.0.1", "--banner", "elasticsearch-7.10.2-debian10", "--log", logFile]);
    try {
      const root = await curl([`http://127.0.0.1:${t.port}/`]);
      expect(root.code).toBe(0);
      expect(JSON.parse(root.stdout).version.number).toBe("7.10.2");
      const search = await curl(["-H", "Content-Type: application/json", "-d", '{"query":{"match":{"password":"*"}}}', `http://127.0.0.1:${t.port}/_search`]);
      expect(JSON.parse(search.stdout).hits.hits).toEqual([]);
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const commands = readLog(logFile).filter((e) => e.event.action === "command").map((e) => e.micetrap.command);
    expect(commands).toEqual(["GET / HTTP/1.1", 'POST /_search HTTP/1.1 {"query":{"match":{"password":"*"}}}']);
  }, 30000);

  test("the X-Pack face: curl -u is refused with 401 and the credentials are logged", async () => {
    const logFile = join(tempDir(), "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "elasticsearch", "0", "--host", "127.0.0.1", "--banner", "elasticsearch-6.8.23-xpack-centos7", "--log", logFile]);
    try {
      const r = await curl(["-u", "elastic:changeme", "-o", "/dev/null", "-w", "%{http_code}", `http://127.0.0.1:${t.port}/_cat/indices`]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe("401");
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const logins = readLog(logFile).filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0].user.name).toBe("elastic");
    expect(logins[0].micetrap.login.password).toBe("changeme");
    expect(logins[0].micetrap.login.method).toBe("basic");
    expect(logins[0].event.outcome).toBe("failure");
  }, 30000);
});
