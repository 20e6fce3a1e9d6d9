// Real clients against the docker face: the docker CLI (Debian's docker.io) as an attacker runs it with
// -H tcp://, reading the engine's version and then trying `docker run -v /:/mnt`, which must fail the
// way it fails on a host that cannot pull; and curl posting a container config, logged with its body.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const DOCKER = Bun.which("docker");
const CURL = Bun.which("curl");

async function run(cmd: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tempDir("docker-home-") } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("real clients against micetrap docker", () => {
  test("the docker CLI and curl are installed (scripts/test.sh installs docker.io and curl)", () => {
    expect(DOCKER).toBeDefined();
    expect(CURL).toBeDefined();
  });

  test("docker -H tcp:// version reads the face's engine; docker run is refused (no image, no registry); curl's create is logged", async () => {
    const logFile = join(tempDir(), "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "docker", "0", "--host", "127.0.0.1", "--banner", "docker-ce-19.03.15-centos7", "--log", logFile]);
    const host = `tcp://127.0.0.1:${t.port}`;
    const config = '{"Image":"alpine","Cmd":["chroot","/mnt","sh"],"HostConfig":{"Binds":["/:/mnt"]}}';
    try {
      const v = await run([DOCKER!, "-H", host, "version", "--format", "{{.Server.Version}} {{.Server.APIVersion}} {{.Server.Os}}"]);
      expect(v.code).toBe(0);
      expect(v.stdout.trim()).toBe("19.03.15 1.40 linux");
      const r = await run([DOCKER!, "-H", host, "run", "--rm", "-v", "/:/mnt", "alpine", "chroot", "/mnt", "id"]);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain("Unable to find image 'alpine:latest' locally");
      expect(r.stderr).toContain('Error response from daemon: Get "https://registry-1.docker.io/v2/"');
      const c = await run([CURL!, "-sS", "--max-time", "10", "-H", "Content-Type: application/json", "-d", config, `http://127.0.0.1:${t.port}/v1.40/containers/create`]);
      expect(c.stdout).toBe('{"message":"No such image: alpine:latest"}\n');
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const commands = readLog(logFile)
      .filter((e) => e.event.action === "command")
      .map((e) => e.micetrap.command as string);
    expect(commands.some((x) => x.startsWith("POST /v1.40/containers/create HTTP/1.1 {") && x.includes('"Image":"alpine"') && x.includes('"/:/mnt"'))).toBe(true);
    // The pull the CLI tries when the image is missing.
    expect(commands.some((x) => x.startsWith("POST /v1.40/images/create?fromImage=") && x.includes("alpine"))).toBe(true);
    expect(commands).toContain(`POST /v1.40/containers/create HTTP/1.1 ${config}`);
  }, 60000);
});
