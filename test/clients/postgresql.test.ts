// The real psql (Debian's postgresql-client) against the real CLI: refused with the face's FATAL 28P01,
// and the JSON Lines log holds the md5 answer as hashcat's $postgres$ line, which must verify against
// the password psql was given. libpq's default sslmode=prefer first asks for TLS: a Debian face says 'S'
// and the login runs inside TLS; CentOS's says 'N' and it runs in plain.
import { describe, expect, test } from "bun:test";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { join } from "node:path";
import { serviceEntries } from "../../src/catalog/index.ts";
import { postgresqlTemplates } from "../../src/services/postgresql/templates.ts";
import { BUN, readLog, startProcess, startTestTrap, tempDir } from "../helpers.ts";
import { PG15_TEMPLATES } from "../postgresql-15.ts";

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


/** RFC 5802: the ClientProof a password gives for this exchange. */
function scramProof(password: string, clientFirst: string, serverFirst: string, clientFinal: string): string {
  const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv.slice(0, 1), kv.slice(2)]));
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  const storedKey = createHash("sha256").update(clientKey).digest();
  const bare = clientFirst.slice(clientFirst.indexOf("n="));
  const authMessage = `${bare},${serverFirst},${clientFinal.slice(0, clientFinal.lastIndexOf(",p="))}`;
  const signature = createHmac("sha256", storedKey).update(authMessage).digest();
  return Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString("base64");
}

describe("psql against a scram-sha-256 face", () => {
  test("SCRAM-SHA-256-PLUS inside TLS, then SCRAM-SHA-256 in plain: both refused, both exchanges logged and verifiable", async () => {
    const base = serviceEntries("postgresql").find((e) => e.id === "postgresql-13.8-debian11")!;
    const { trap, sink } = startTestTrap({ ...base, templates: postgresqlTemplates.parse(PG15_TEMPLATES, "15.18") });
    try {
      const r = await runPsql(trap.port, "s3cret");
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`failed: FATAL:  password authentication failed for user "root"`);
      await Bun.sleep(100);
    } finally {
      trap.stop();
    }
    const logins = sink.events.filter((e) => e.action === "login");
    expect(logins.map((l) => l.client?.sasl_mechanism)).toEqual(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]);
    for (const l of logins) {
      const c = l.client!;
      const proof = c.scram_client_final!.slice(c.scram_client_final!.lastIndexOf(",p=") + 3);
      expect(scramProof("s3cret", c.scram_client_first!, c.scram_server_first!, c.scram_client_final!)).toBe(proof);
      expect(scramProof("S3cret", c.scram_client_first!, c.scram_server_first!, c.scram_client_final!)).not.toBe(proof);
    }
    // The mock account's salt stays with the name.
    expect(/s=([^,]+)/.exec(logins[0]!.client!.scram_server_first!)![1]).toBe(/s=([^,]+)/.exec(logins[1]!.client!.scram_server_first!)![1]);
  }, 30000);
});
