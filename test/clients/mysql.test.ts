// The real mariadb command-line client against the real CLI: it must be refused with the face's own
// "Access denied" text, and the JSON Lines log must hold a login event whose mysql-native hash verifies
// against the password the client used.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { BUN, startProcess, tempDir, readLog } from "../helpers.ts";

const CLIENT = Bun.which("mariadb") ?? Bun.which("mysql");

/** What a mysql_native_password client sends: SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))). */
function nativeResponse(password: string, salt: Buffer): Buffer {
  const sha1 = (...parts: Buffer[]) => createHash("sha1").update(Buffer.concat(parts)).digest();
  const stage1 = sha1(Buffer.from(password));
  const mix = sha1(salt, sha1(stage1));
  return Buffer.from(stage1.map((b, i) => b ^ mix[i]!));
}

async function runClient(port: number, password: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const proc = Bun.spawn([CLIENT!, "-h", "127.0.0.1", "-P", String(port), "-u", "root", `-p${password}`, "--skip-ssl", "-e", "select 1"], {
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
    env: { ...process.env, HOME: tempDir("mysql-client-home-") }, // no ~/.my.cnf of the machine
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("the mariadb client against micetrap mysql", () => {
  test("the client is installed (scripts/test.sh installs mariadb-client)", () => {
    expect(CLIENT).toBeDefined();
  });

  // Both greeting layouts: MariaDB 10.11 (plugin name, extended capabilities) and MySQL 5.0 (no plugin name).
  // What each face says to root over TCP: Debian 12's root is a unix_socket account (1698, captured from
  // mariadbd); MySQL 5.0's root has a password (1045 with "using password").
  const REFUSAL: Record<string, string> = {
    "mariadb-10.11-debian12": "ERROR 1698 (28000): Access denied for user 'root'@'localhost'",
    "mysql-5.0.51a-debian5": "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)",
  };
  for (const banner of ["mariadb-10.11-debian12", "mysql-5.0.51a-debian5"]) {
    test(`${banner}: refused with Access denied; the logged hash is the password's`, async () => {
      const dir = tempDir();
      const logFile = join(dir, "events.jsonl");
      const t = await startProcess([BUN, "src/cli.ts", "mysql", "0", "--host", "127.0.0.1", "--banner", banner, "--log", logFile]);
      try {
        const r = await runClient(t.port, "secret");
        expect(r.code).not.toBe(0);
        expect(r.code).not.toBeNull(); // it ended by itself, not by the kill timer
        expect(r.stdout).toBe("");
        expect(r.stderr.trim()).toBe(REFUSAL[banner]!);
        await Bun.sleep(200); // the JSONL sink writes as events come; give the last line time to land
      } finally {
        expect(await t.stop("SIGTERM")).toBe(0);
      }
      const events = readLog(logFile);
      const logins = events.filter((e) => e.event.action === "login");
      expect(logins).toHaveLength(1);
      const login = logins[0];
      expect(login.user.name).toBe("root");
      expect(login.event.outcome).toBe("failure");
      expect(login.micetrap.entry).toBe(banner);
      expect(login.micetrap.login.hash_type).toBe("mysql-native");
      expect(login.micetrap.login.hashcat_mode).toBe(11200);
      expect(login.micetrap.login.password).toBeUndefined();
      const m = /^\$mysqlna\$([0-9a-f]{40})\*([0-9a-f]{40})$/.exec(login.micetrap.login.hash);
      expect(m).not.toBeNull();
      const salt = Buffer.from(m![1]!, "hex");
      // The salt is the scramble the greeting carried: printable, never NUL.
      for (const b of salt) expect(b >= 33 && b <= 126).toBe(true);
      expect(m![2]).toBe(nativeResponse("secret", salt).toString("hex"));
      expect(m![2]).not.toBe(nativeResponse("Secret", salt).toString("hex"));
      // The greeting that went out holds that same salt (the data event of the trap's first answer).
      const out = events.find((e) => e.event.action === "data" && e.micetrap.payload.direction === "outbound");
      const greeting = Buffer.from(out.micetrap.payload.base64, "base64");
      const nul = greeting.indexOf(0, 5);
      expect(greeting.subarray(nul + 5, nul + 13).equals(salt.subarray(0, 8))).toBe(true);
    }, 20000);
  }
});
