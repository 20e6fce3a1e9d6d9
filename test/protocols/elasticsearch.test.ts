// One Elasticsearch node over real TCP: the root document as each major version writes it (what nmap
// reads), the _cat, _cluster and search answers of an empty node, writes refused by a read-only block,
// every request logged with its body, and the X-Pack face's 401s with the Basic credentials logged.
import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";

const entries = serviceEntries("elasticsearch") as CatalogEntry[];
function entry(id: string): CatalogEntry {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

interface Resp {
  status: string;
  head: string[];
  body: string;
}

function parse(text: string): Resp[] {
  const out: Resp[] = [];
  let rest = text;
  for (let i = 0; i < 10 && rest.length > 0; i++) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) break;
    const lines = rest.slice(0, end).split("\r\n");
    const len = Number(/^content-length: (\d+)$/im.exec(lines.join("\n"))?.[1] ?? "0");
    out.push({ status: lines[0]!, head: lines.slice(1), body: Buffer.from(rest.slice(end + 4, end + 4 + len), "latin1").toString("utf8") });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

async function ask(port: number, request: string, n = 1): Promise<{ rs: Resp[]; closed: boolean }> {
  const c = await connect(port);
  c.send(request);
  await c.waitFor((s) => {
    const r = parse(s);
    return r.length >= n && Buffer.byteLength(r[n - 1]!.body) === Number(/^content-length: (\d+)$/im.exec(r[n - 1]!.head.join("\n"))?.[1]);
  });
  await Bun.sleep(50);
  const closed = c.isClosed();
  c.end();
  return { rs: parse(c.text()), closed };
}

describe("elasticsearch over TCP", () => {
  test("the root document: HTTP/1.0 in, HTTP/1.0 out and closed; each major version's fields; the cluster uuid stable per host", async () => {
    const { trap } = startTestTrap(entry("elasticsearch-6.8.23-ubuntu16.04"));
    try {
      const a = await ask(trap.port, "GET / HTTP/1.0\r\n\r\n");
      expect(a.rs[0]!.status).toBe("HTTP/1.0 200 OK");
      expect(a.rs[0]!.head).toEqual(["content-type: application/json; charset=UTF-8", `content-length: ${Buffer.byteLength(a.rs[0]!.body)}`]);
      expect(a.closed).toBe(true);
      const doc = JSON.parse(a.rs[0]!.body);
      expect(doc.name).toBe("kQ3vX9a");
      expect(doc.cluster_name).toBe("elasticsearch");
      expect(doc.cluster_uuid).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(doc.version).toEqual({
        number: "6.8.23",
        build_flavor: "default",
        build_type: "deb",
        build_hash: "4f67856",
        build_date: "2022-01-06T21:30:50.087716Z",
        build_snapshot: false,
        lucene_version: "7.7.3",
        minimum_wire_compatibility_version: "5.6.0",
        minimum_index_compatibility_version: "5.0.0",
      });
      expect(doc.tagline).toBe("You Know, for Search");
      // Jackson's pretty printer: two-space indent, " : " between name and value, a final newline.
      expect(a.rs[0]!.body).toStartWith('{\n  "name" : "kQ3vX9a",\n  "cluster_name" : "elasticsearch",\n');
      expect(a.rs[0]!.body).toEndWith('  "tagline" : "You Know, for Search"\n}\n');
      const b = await ask(trap.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      expect(b.closed).toBe(false);
      expect(JSON.parse(b.rs[0]!.body).cluster_uuid).toBe(doc.cluster_uuid);
    } finally {
      trap.stop();
    }

    const old = startTestTrap(entry("elasticsearch-1.7.6-ubuntu14.04"));
    try {
      const r = (await ask(old.trap.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")).rs[0]!;
      expect(r.head[0]).toBe("Content-Type: application/json; charset=UTF-8");
      const doc = JSON.parse(r.body);
      expect(Object.keys(doc)).toEqual(["status", "name", "cluster_name", "version", "tagline"]);
      expect(doc.version.build_timestamp).toBe("2016-11-18T15:21:16Z");
    } finally {
      old.trap.stop();
    }
  });

  test("an empty node: _cat/indices, _cat/nodes, _cluster/health, a search (logged with its query), a missing index, a missing handler", async () => {
    const { trap, sink } = startTestTrap(entry("elasticsearch-7.10.2-debian10"));
    try {
      const query = '{"query":{"match_all":{}}}';
      const { rs } = await ask(
        trap.port,
        "GET /_cat/indices HTTP/1.1\r\nHost: x\r\n\r\n" +
          "GET /_cat/nodes HTTP/1.1\r\nHost: x\r\n\r\n" +
          "GET /_cluster/health HTTP/1.1\r\nHost: x\r\n\r\n" +
          `POST /logs-*/_search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${query.length}\r\n\r\n${query}` +
          "GET /customers HTTP/1.1\r\nHost: x\r\n\r\n" +
          "GET /_foo?pretty HTTP/1.1\r\nHost: x\r\n\r\n",
        6,
      );
      expect(rs.map((r) => r.status)).toEqual(["HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found", "HTTP/1.1 400 Bad Request"]);
      expect(rs[0]!.body).toBe("");
      expect(rs[1]!.body).toMatch(/^127\.0\.0\.1 \d+ \d+ \d+ [\d.]+ [\d.]+ [\d.]+ cdhilmrstw \* graylog\n$/);
      expect(JSON.parse(rs[2]!.body).status).toBe("green");
      expect(JSON.parse(rs[3]!.body).hits.total).toEqual({ value: 0, relation: "eq" });
      const missing = JSON.parse(rs[4]!.body);
      expect(missing.status).toBe(404);
      expect(missing.error.type).toBe("index_not_found_exception");
      expect(missing.error.reason).toBe("no such index [customers]");
      expect(JSON.parse(rs[5]!.body)).toEqual({ error: "no handler found for uri [/_foo?pretty] and method [GET]" });
      expect(sink.of("command").map((e) => e.command)).toContain(`POST /logs-*/_search HTTP/1.1 ${query}`);
    } finally {
      trap.stop();
    }
  });

  test("writes are refused by the read-only block and logged with their body; a form-encoded body is 406 on 6.x", async () => {
    const { trap, sink } = startTestTrap(entry("elasticsearch-6.8.23-ubuntu16.04"));
    try {
      const note = '{"message":"All your data is backed up. Send 0.01 BTC"}';
      const { rs } = await ask(trap.port, `PUT /read_me/_doc/1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${note.length}\r\n\r\n${note}DELETE /_all HTTP/1.1\r\nHost: x\r\n\r\n`, 2);
      expect(rs.map((r) => r.status)).toEqual(["HTTP/1.1 403 Forbidden", "HTTP/1.1 403 Forbidden"]);
      expect(JSON.parse(rs[0]!.body).error.reason).toBe("blocked by: [FORBIDDEN/6/cluster read-only (api)];");
      expect(sink.of("command").map((e) => e.command)).toEqual([`PUT /read_me/_doc/1 HTTP/1.1 ${note}`, "DELETE /_all HTTP/1.1"]);
      const form = await ask(trap.port, "POST /_search HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 2\r\n\r\n{}");
      expect(form.rs[0]!.status).toBe("HTTP/1.1 406 Not Acceptable");
      expect(JSON.parse(form.rs[0]!.body)).toEqual({ error: "Content-Type header [application/x-www-form-urlencoded] is not supported", status: 406 });
    } finally {
      trap.stop();
    }
  });

  test("X-Pack security: 401 with the Basic challenge; credentials are logged and refused", async () => {
    const { trap, sink } = startTestTrap(entry("elasticsearch-6.8.23-xpack-centos7"));
    try {
      const cred = Buffer.from("elastic:changeme").toString("base64");
      const { rs } = await ask(trap.port, `GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /_cat/indices HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${cred}\r\n\r\n`, 2);
      expect(rs[0]!.status).toBe("HTTP/1.1 401 Unauthorized");
      expect(rs[0]!.head[0]).toBe('WWW-Authenticate: Basic realm="security" charset="UTF-8"');
      expect(JSON.parse(rs[0]!.body).error.reason).toBe("missing authentication token for REST request [/]");
      expect(JSON.parse(rs[1]!.body).error.reason).toBe("failed to authenticate user [elastic]");
      const logins = sink.of("login");
      expect(logins.map((l) => [l.method, l.user, l.password])).toEqual([["basic", "elastic", "changeme"]]);
    } finally {
      trap.stop();
    }
  });

  test("a line that is not HTTP/1.x is dropped without a word, and logged", async () => {
    const { trap, sink } = startTestTrap(entry("elasticsearch-5.6.16-debian9"));
    try {
      const c = await connect(trap.port);
      c.send("HELP\r\n");
      await c.closed;
      expect(c.received().length).toBe(0);
      expect(sink.of("error").map((e) => e.message)).toEqual(["malformed HTTP request"]);
    } finally {
      trap.stop();
    }
  });
});
