import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../src/catalog/index.ts";
import { toEcs, ecsLine } from "../src/events/ecs.ts";
import type { TrapEvent } from "../src/events/types.ts";
import { HOSTILE_CLASSES, rawHostile } from "./helpers.ts";

const entry = serviceEntries("ftp")[0]!;
const base = { time: new Date("2026-01-02T03:04:05.678Z"), service: "ftp" as const, entry, destination: { port: 2121 } };
const src = { ip: "203.0.113.9", port: 51234 };

function get(doc: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], doc);
}

describe("ECS documents", () => {
  test("every event carries the common fields under their ECS names", () => {
    const doc = toEcs({ ...base, action: "connection", sessionId: "s1", source: src } as TrapEvent);
    expect(doc["@timestamp"]).toBe("2026-01-02T03:04:05.678Z");
    expect(get(doc, "event.action")).toBe("connection");
    expect(get(doc, "event.kind")).toBe("event");
    expect(get(doc, "event.dataset")).toBe("micetrap.session");
    expect(get(doc, "observer.type")).toBe("honeypot");
    expect(get(doc, "source.ip")).toBe("203.0.113.9");
    expect(get(doc, "source.port")).toBe(51234);
    expect(get(doc, "destination.port")).toBe(2121);
    expect(get(doc, "network.type")).toBe("ipv4");
    expect(get(doc, "network.transport")).toBe("tcp");
    expect(get(doc, "service.name")).toBe("ftp");
    expect(get(doc, "micetrap.session.id")).toBe("s1");
    expect(get(doc, "micetrap.entry")).toBe(entry.id);
    expect(get(doc, "micetrap.product")).toBe(entry.product);
  });

  test("data keeps the exact bytes in base64 and an escaped text copy", () => {
    const bytes = new Uint8Array([0x47, 0x45, 0x54, 0x00, 0x1b, 0xff, 0x0d, 0x0a]);
    const doc = toEcs({ ...base, action: "data", sessionId: "s1", source: src, payload: bytes, truncated: 5 } as TrapEvent);
    expect(get(doc, "micetrap.payload.base64")).toBe("R0VUABv/DQo=");
    expect(get(doc, "micetrap.payload.text")).toBe("GET\\x00\\x1b\\xff\\r\\n");
    expect(get(doc, "micetrap.payload.truncated")).toBe(5);
    expect(get(doc, "micetrap.payload.direction")).toBe("inbound");
    const answer = toEcs({ ...base, action: "data", sessionId: "s1", source: src, direction: "out", payload: bytes } as TrapEvent);
    expect(get(answer, "micetrap.payload.direction")).toBe("outbound");
  });

  test("a login is a failed authentication; the password stays in micetrap's namespace", () => {
    const doc = toEcs({ ...base, action: "login", sessionId: "s1", source: { ip: "2001:db8::1", port: 1 }, user: "root", password: "toor" } as TrapEvent);
    expect(get(doc, "event.category")).toContain("authentication");
    expect(get(doc, "event.outcome")).toBe("failure");
    expect(get(doc, "user.name")).toBe("root");
    expect(get(doc, "micetrap.login.password")).toBe("toor");
    expect(JSON.stringify(get(doc, "user"))).not.toContain("toor");
    expect(get(doc, "network.type")).toBe("ipv6");
  });

  test("close carries byte totals and a duration in nanoseconds", () => {
    const doc = toEcs({ ...base, action: "close", sessionId: "s1", source: src, bytesIn: 10, bytesOut: 20, durationMs: 1.5, reason: "peer closed", truncated: 3 } as TrapEvent);
    expect(get(doc, "source.bytes")).toBe(10);
    expect(get(doc, "destination.bytes")).toBe(20);
    expect(get(doc, "event.duration")).toBe(1_500_000);
    expect(get(doc, "micetrap.reason")).toBe("peer closed");
    expect(get(doc, "micetrap.truncated")).toBe(3);
  });

  test("attacker strings in every field: the line holds no raw control, line breaker, bidi control or lone surrogate", () => {
    const cps = Object.entries(HOSTILE_CLASSES).filter(([cls]) => cls !== "loneSurrogates").flatMap(([, c]) => c);
    const hostile = "r" + String.fromCharCode(...cps) + "t";
    const e = {
      ...base,
      action: "login",
      sessionId: "s1",
      source: src,
      user: hostile,
      domain: hostile,
      password: hostile,
      hash: { value: hostile, type: "netntlmv2", hashcatMode: 5600 },
      command: hostile,
      client: { workstation: hostile, os: hostile },
      reason: hostile,
      message: hostile,
      tls: { established: true, serverName: hostile },
    } as TrapEvent;
    const doc = toEcs(e);
    const line = ecsLine(e);
    expect(rawHostile(Buffer.from(line, "utf8"))).toEqual([]);
    expect(line).not.toContain("\n");
    // The values are the attacker's text, unchanged: only their JSON form is escaped.
    const back = JSON.parse(line);
    for (const path of ["user.name", "user.domain", "micetrap.login.password", "micetrap.login.hash", "micetrap.command", "micetrap.client.workstation", "micetrap.client.os", "micetrap.reason", "error.message", "tls.client.server_name"]) {
      expect({ path, value: get(back, path) }).toEqual({ path, value: hostile });
      expect({ path, value: get(doc, path) }).toEqual({ path, value: hostile });
    }
    expect(get(back, "micetrap.original")).toBeUndefined();
  });

  test("lone surrogates become U+FFFD in the value; micetrap.original keeps the field's exact code units", () => {
    const user = "adm\\ud800" + "\ud800in\udc00"; // a backslash, text that looks like an escape, and two lone halves
    const line = ecsLine({ ...base, action: "login", sessionId: "s1", source: src, user, domain: "D\u2028\udfff", client: { workstation: "ok" } } as TrapEvent);
    expect(rawHostile(Buffer.from(line, "utf8"))).toEqual([]);
    const back = JSON.parse(line);
    expect(get(back, "user.name")).toBe("adm\\ud800\ufffdin\ufffd");
    expect(get(back, "user.domain")).toBe("D\u2028\ufffd");
    expect(get(back, "micetrap.original")).toEqual({ "user.name": "adm\\\\ud800\\ud800in\\udc00", "user.domain": "D\u2028\\udfff" });
  });

  test("a document without hostile text serialises as it always did", () => {
    const doc = toEcs({ ...base, action: "login", sessionId: "s1", source: src, user: "CORP\\admin", password: "pässwörd \u{1f600}" } as TrapEvent);
    expect(Object.keys(doc)).not.toContain("toJSON");
    expect(JSON.parse(JSON.stringify(doc))).toEqual(doc);
    expect(JSON.stringify(doc)).toContain('"name":"CORP\\\\admin"');
  });
});
