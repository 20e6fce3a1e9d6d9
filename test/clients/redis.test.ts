// The real redis-cli (Debian's redis-tools) against the real CLI: `-a` sends AUTH before the command;
// it must be refused in the face's words, and the JSON Lines log must hold that AUTH as a login event
// with the plaintext password (and, on an ACL version, the user).
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const CLIENT = Bun.which("redis-cli");

async function runClient(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = Bun.spawn([CLIENT!, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, HOME: tempDir("redis-cli-home-"), REDISCLI_AUTH: "" } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("redis-cli against micetrap redis", () => {
  test("the client is installed (scripts/test.sh installs redis-tools)", () => {
    expect(CLIENT).toBeDefined();
  });

  // What redis-cli prints for each face (its own "AUTH failed: " prefix, then the server's words), and
  // what the command after the refused AUTH gets.
  const CASES = [
    {
      banner: "redis-6.0.16-debian11",
      args: ["--user", "admin", "--pass", "Winter2024!"],
      auth: "AUTH failed: WRONGPASS invalid username-password pair",
      after: "NOAUTH Authentication required.",
      user: "admin",
    },
    {
      banner: "redis-2.4.14-debian7",
      args: ["-a", "Winter2024!"],
      auth: "AUTH failed: ERR invalid password",
      after: "ERR operation not permitted",
      user: undefined,
    },
    {
      banner: "redis-7.0.15-debian12",
      args: ["-a", "Winter2024!"],
      auth: "AUTH failed: ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
      after: "dump.rdb",
      user: "default",
    },
  ];
  for (const c of CASES) {
    test(`${c.banner}: AUTH refused in the face's words, and logged with its password`, async () => {
      const dir = tempDir();
      const logFile = join(dir, "events.jsonl");
      const t = await startProcess([BUN, "src/cli.ts", "redis", "0", "--host", "127.0.0.1", "--banner", c.banner, "--log", logFile]);
      try {
        const r = await runClient(["-h", "127.0.0.1", "-p", String(t.port), ...c.args, "--no-auth-warning", "CONFIG", "GET", "dbfilename"]);
        expect(r.code).not.toBeNull(); // it ended by itself, not by the kill timer
        expect(r.stderr).toContain(c.auth);
        expect(r.stdout + r.stderr).toContain(c.after);
        await Bun.sleep(200); // the JSONL sink writes as events come
      } finally {
        expect(await t.stop("SIGTERM")).toBe(0);
      }
      const events = readLog(logFile);
      const logins = events.filter((e) => e.event.action === "login");
      expect(logins).toHaveLength(1);
      expect(logins[0].micetrap.login.password).toBe("Winter2024!");
      expect(logins[0].micetrap.login.method).toBe("redis");
      expect(logins[0].event.outcome).toBe("failure");
      expect(logins[0].user?.name).toBe(c.user);
      expect(logins[0].micetrap.entry).toBe(c.banner);
      const commands = events.filter((e) => e.event.action === "command").map((e) => e.micetrap.command);
      expect(commands).toContain("CONFIG GET dbfilename");
    });
  }
});
