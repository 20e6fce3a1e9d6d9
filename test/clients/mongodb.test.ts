// The real MongoDB driver Debian packages (python3-pymongo 3.11) against the real CLI: on an open face it
// reads the server's version and lists the databases; on an --auth face its SCRAM-SHA-1 login is refused
// in mongod's words and lands in the JSON Lines log with its user and the exchange.
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const PYTHON = "/usr/bin/python3";
const HAVE_PYMONGO = existsSync(PYTHON) && Bun.spawnSync([PYTHON, "-c", "import pymongo"]).exitCode === 0;

// Prints one JSON line of what the driver saw; every failure is caught and reported as text.
const SCRIPT = `
import json, sys, pymongo
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out = {}
kw = dict(serverSelectionTimeoutMS=5000, connectTimeoutMS=5000, socketTimeoutMS=5000)
if user:
    kw.update(username=user, password=password, authSource="admin")
c = pymongo.MongoClient("127.0.0.1", port, **kw)
try:
    out["version"] = c.server_info()["version"]
    out["databases"] = c.list_database_names()
except pymongo.errors.OperationFailure as e:
    out["error"] = str(e.details.get("errmsg"))
    out["code"] = e.code
print(json.dumps(out))
`;

async function driver(port: number, user = "", password = ""): Promise<any> {
  const proc = Bun.spawn([PYTHON, "-c", SCRIPT, String(port), user, password], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  if (code !== 0) throw new Error(`pymongo exited ${code}: ${stderr}`);
  return JSON.parse(stdout);
}

describe("pymongo against micetrap mongodb", () => {
  test("the driver is installed (scripts/test.sh installs python3-pymongo)", () => {
    expect(HAVE_PYMONGO).toBe(true);
  });

  test("open 2.6 face: server_info and list_database_names answer; each command is logged", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "mongodb", "0", "--host", "127.0.0.1", "--banner", "mongodb-2.6.10-ubuntu16", "--log", logFile]);
    try {
      const r = await driver(t.port);
      expect(r).toEqual({ version: "2.6.10", databases: ["local", "admin"] });
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const commands = readLog(logFile).filter((e) => e.event.action === "command").map((e) => e.micetrap.command);
    expect(commands.some((c: string) => c.startsWith("admin { buildinfo: 1"))).toBe(true);
    expect(commands.some((c: string) => c.startsWith("admin { listDatabases: 1"))).toBe(true);
  });

  test("--auth 3.2 face: the SCRAM-SHA-1 login is refused and logged with its user and exchange", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "mongodb", "0", "--host", "127.0.0.1", "--banner", "mongodb-3.2.11-debian9", "--log", logFile]);
    try {
      const r = await driver(t.port, "siteAdmin", "Winter2024!");
      expect(r).toEqual({ error: "Authentication failed.", code: 18 });
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    const logins = readLog(logFile).filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0].user.name).toBe("siteAdmin");
    expect(logins[0].event.outcome).toBe("failure");
    expect(logins[0].micetrap.login.method).toBe("mongodb-scram-sha-1");
    expect(logins[0].micetrap.client.sasl_mechanism).toBe("SCRAM-SHA-1");
    expect(logins[0].micetrap.client.scram_client_first).toStartWith("n=siteAdmin,r=");
    expect(logins[0].micetrap.client.scram_client_final).toMatch(/^c=biws,r=[^,]+,p=[A-Za-z0-9+/=]{28}$/);
  });
});
