// A scripted memcached client (python3's socket module, as attack scripts and monitoring checks are
// written) against the real CLI: stats, a set of a key, a get of it and flush_all, then quit; the
// answers must be memcached's, and every command must be a command event in the JSON Lines log.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const PY = Bun.which("python3");

const SCRIPT = `
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"stats\\r\\nset pwn 0 0 5\\r\\nhello\\r\\nget pwn\\r\\nflush_all\\r\\nquit\\r\\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("latin1"))
`;

describe("a python3 socket client against micetrap memcached", () => {
  test("python3 is installed", () => {
    expect(PY).toBeDefined();
  });

  test("memcached-1.4.21-debian8: stats, set, get, flush_all, quit; every command logged", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "memcached", "0", "--host", "127.0.0.1", "--banner", "memcached-1.4.21-debian8", "--log", logFile]);
    let out = "";
    try {
      const proc = Bun.spawn([PY!, "-c", SCRIPT, String(t.port)], { stdout: "pipe", stderr: "pipe" });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      out = await new Response(proc.stdout).text();
      const code = await proc.exited;
      clearTimeout(timer);
      expect(code).toBe(0); // it read to the server's close after quit
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    expect(out).toMatch(/^STAT pid \d+\r\nSTAT uptime \d+\r\nSTAT time \d+\r\nSTAT version 1\.4\.21\r\n/);
    expect(out.endsWith("END\r\nSTORED\r\nVALUE pwn 0 5\r\nhello\r\nEND\r\nOK\r\n")).toBe(true);
    const events = readLog(logFile);
    const commands = events.filter((e) => e.event.action === "command").map((e) => e.micetrap.command);
    expect(commands).toEqual(["stats", "set pwn 0 0 5", "get pwn", "flush_all", "quit"]);
    expect(events.filter((e) => e.event.action === "login")).toHaveLength(0);
    expect(events.find((e) => e.event.action === "command").micetrap.entry).toBe("memcached-1.4.21-debian8");
  });
});
