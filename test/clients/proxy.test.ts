// curl through the trap as a proxy, as an open-proxy hunter would: `curl -x` with and without `-U`. The
// real client must get Squid's 403 (and fail its CONNECT), and the event log must hold the URL it asked
// for as a command and the -U credentials as a proxy-basic login.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const CURL = Bun.which("curl");

async function curl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = Bun.spawn([CURL!, "-sS", "--max-time", "10", ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("curl-home-") } });
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  return { code: await proc.exited, stdout, stderr };
}

describe("curl through micetrap proxy", () => {
  test("curl is installed (scripts/test.sh installs it)", () => {
    expect(CURL).toBeDefined();
  });

  test("squid-3.5.20-centos7: a proxied GET with -U is refused with 403 and logged with its URL and credentials; a CONNECT fails", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "proxy", "0", "--host", "127.0.0.1", "--banner", "squid-3.5.20-centos7", "--log", logFile]);
    try {
      const get = await curl(["-x", `http://127.0.0.1:${t.port}`, "-U", "proxyuser:Winter2024!", "-o", "/dev/null", "-D", "-", "http://example.invalid/admin"]);
      expect(get.code).toBe(0);
      expect(get.stdout).toStartWith("HTTP/1.1 403 Forbidden\r\n");
      expect(get.stdout).toContain("\r\nServer: squid/3.5.20\r\n");
      expect(get.stdout).toContain("\r\nX-Squid-Error: ERR_ACCESS_DENIED 0\r\n");
      // An https URL through the proxy is a CONNECT; Squid's 403 ends it (curl exit 56: CONNECT refused).
      const tunnel = await curl(["-x", `http://127.0.0.1:${t.port}`, "-o", "/dev/null", "https://example.invalid/"]);
      expect(tunnel.code).toBe(56);
      expect(tunnel.stderr).toContain("403");
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const events = readLog(logFile);
    const commands = events.filter((e) => e.event.action === "command").map((e) => e.micetrap.command);
    expect(commands).toEqual(["GET http://example.invalid/admin HTTP/1.1", "CONNECT example.invalid:443 HTTP/1.1"]);
    const logins = events.filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0].user.name).toBe("proxyuser");
    expect(logins[0].micetrap.login.password).toBe("Winter2024!");
    expect(logins[0].micetrap.login.method).toBe("proxy-basic");
    expect(logins[0].event.outcome).toBe("failure");
  }, 30000);
});
