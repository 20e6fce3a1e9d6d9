import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../src/catalog/index.ts";
import { toEcs } from "../src/events/ecs.ts";
import type { TrapEvent } from "../src/events/types.ts";

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
});
