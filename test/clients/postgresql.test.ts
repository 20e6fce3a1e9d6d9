// The real psql (Debian's postgresql-client) against the real CLI: refused with the face's FATAL 28P01,
// and the JSON Lines log holds the md5 answer as hashcat's $postgres$ line, which must verify against
// the password psql was given. libpq's default sslmode=prefer first asks for TLS: a Debian face says 'S'
// and the login runs inside TLS; CentOS's says 'N' and it runs in plain.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const CLIENT = Bun.which("psql");

async function runPsql(port: number, password: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = Bun.spawn([CLIENT!, `host=127.0.0.1 port=${port} user=root dbname=prod connect_timeout=10`, "-c", "select 1"], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    // No ~/.pgpass or service file of the machine; the password comes from the environment.
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("psql-home-"), PGPASSWORD: password, LANG: "C" },
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

const md5 = (s: string | Buffer) => createHash("md5").update(s).digest("hex");

describe("psql against micetrap postgresql", () => {
  test("psql is installed (scripts/test.sh installs postgresql-client)", () => {
    expect(CLIENT).toBeDefined();
  });

  for (const [banner, tls] of [
    ["postgresql-13.8-debian11", true],
    ["postgresql-8.4.20-centos6", false],
  ] as const) {
    test(`${banner}: refused with FATAL 28P01; the logged hash is the password's (TLS: ${tls})`, async () => {
      const dir = tempDir();
      const logFile = join(dir, "events.jsonl");
      const t = await startProcess([BUN, "src/cli.ts", "postgresql", "0", "--host", "127.0.0.1", "--banner", banner, "--log", logFile]);
      try {
        const r = await runPsql(t.port, "s3cret");
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(`failed: FATAL:  password authentication failed for user "root"`);
        await Bun.sleep(200); // the JSONL sink writes as events come; give the last line time to land
      } finally {
        expect(await t.stop("SIGTERM")).toBe(0);
      }
      const events = readLog(logFile);
      const logins = events.filter((e) => e.event.action === "login");
      // sslmode=prefer: after a refusal over TLS libpq tries once more without it.
      expect(logins).toHaveLength(tls ? 2 : 1);
      expect(events.some((e) => e.event.action === "tls" && e.tls.established === true)).toBe(tls);
      for (const login of logins) {
        expect(login.user.name).toBe("root");
        expect(login.event.outcome).toBe("failure");
        expect(login.micetrap.login.method).toBe("postgresql");
        expect(login.micetrap.login.hash_type).toBe("postgres-md5");
        expect(login.micetrap.login.hashcat_mode).toBe(11100);
        expect(login.micetrap.client.database).toBe("prod");
        const m = /^\$postgres\$root\*([0-9a-f]{8})\*([0-9a-f]{32})$/.exec(login.micetrap.login.hash);
        expect(m).not.toBeNull();
        const salt = Buffer.from(m![1]!, "hex");
        expect(m![2]).toBe(md5(Buffer.concat([Buffer.from(md5("s3cretroot")), salt])));
        expect(m![2]).not.toBe(md5(Buffer.concat([Buffer.from(md5("S3cretroot")), salt])));
      }
    }, 30000);
  }
});
