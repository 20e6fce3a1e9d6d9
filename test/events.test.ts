import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../src/catalog/index.ts";
import { ECS_ACTIONS, toEcs, ecsLine, fastLine } from "../src/events/ecs.ts";
import { jsonLine } from "../src/util/escape.ts";
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

describe("ecsLine's direct writer", () => {
  // ecsLine writes most events directly and leaves the rest to jsonLine(toEcs(e)), the reference the tests
  // above check field by field. Both must give the same bytes (or both throw) for any event: seeded random
  // events mixing every optional field with plain, escaped, hostile, surrogate and wrong-typed values.
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const maybe = <T,>(v: () => T): T | undefined => (rand() < 0.5 ? v() : undefined);
  const hostile = Object.values(HOSTILE_CLASSES).flat();
  const strings = [
    "",
    "plain",
    "USER anonymous",
    'with "quotes" and a \\ backslash',
    "pässwörd \u{1f600}",
    "\u00e9t\u00e9",
    "tab\tnew\nline\r",
    "\u2028\u2029",
    "\u202e\u2066bidi",
    "\u0085\u009b",
    "\u007f",
    "lone \ud800 high",
    "lone \udc00 low",
    "pair \ud83d\ude00 ok",
    "\\ud800 looks like an escape",
  ];
  const str = () => (rand() < 0.04 ? (pick([42, null, {}]) as unknown as string) : rand() < 0.3 ? String.fromCharCode(...Array.from({ length: 1 + Math.floor(rand() * 6) }, () => pick(hostile))) : pick(strings));
  const num = () => (rand() < 0.04 ? (pick(["7", null]) as unknown as number) : pick([0, -0, 1, 20, 1.5, 65535, 1e21, 2 ** 53, NaN, Infinity, -Infinity, 123456789.123]));
  const payload = () => {
    const big = new Uint8Array(64).map(() => Math.floor(rand() * 256));
    const start = Math.floor(rand() * 8);
    return big.subarray(start, start + Math.floor(rand() * 40));
  };
  // Every action the ECS tables know, so one added later is covered without touching this test.
  const actions = ECS_ACTIONS;
  const entries = serviceEntries("ftp");

  /** Each key's value, or the key left out, at even odds. */
  const maybeKeys = (makers: Record<string, () => unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, make] of Object.entries(makers)) if (rand() < 0.5) out[k] = make();
    return out;
  };

  function randomEvent(): TrapEvent {
    const e: Record<string, unknown> = {
      action: pick(actions),
      time: new Date(1_700_000_000_000 + Math.floor(rand() * 1e10)),
      service: pick(["ftp", "ssh", "http"]),
      entry: pick(entries),
      destination: { ...(rand() < 0.5 ? { ip: pick(["127.0.0.1", "::1", "", "203.0.113.1"]) } : {}), port: rand() < 0.95 ? Math.floor(rand() * 65536) : undefined },
    };
    const fields: Record<string, () => unknown> = {
      host: () => ({ name: str(), release: pick(["debian-12", str()]) }),
      persona: str,
      sessionId: () => pick(["mx3b5xqv-1-a1bd501e", "", str()]),
      source: () => ({
        ip: pick(["192.0.2.1", "2001:db8::1", "", str()]),
        ...(rand() < 0.7 ? { port: num() } : {}),
        ...(rand() < 0.2 ? { geo: { ...maybeKeys({ countryIsoCode: str, countryName: str, cityName: str, continentCode: str }), ...(rand() < 0.5 ? { location: { lat: num(), lon: num() } } : {}) } } : {}),
        ...(rand() < 0.2 ? { as: maybeKeys({ number: num, organization: str }) } : {}),
      }),
      direction: () => pick(["in", "out"]),
      payload,
      truncated: () => pick([0, 5, num()]),
      bytesIn: num,
      bytesOut: num,
      durationMs: num,
      dropped: () => ({ commands: num(), logins: num() }),
      count: num,
      reason: str,
      user: str,
      domain: str,
      password: str,
      hash: () => ({ value: str(), type: str(), hashcatMode: num() }),
      method: str,
      command: str,
      message: str,
      client: () => (rand() < 0.5 ? {} : { workstation: str() }),
      tls: () => ({
        established: rand() < 0.5,
        ...maybeKeys({ version: () => pick(["TLSv1.2", "TLSv1", "TLSv1.3", "SSLv3", str()]), cipher: str, serverName: str, ja3: str, ja3String: str }),
      }),
      http: () => ({
        method: str(),
        original: str(),
        ...maybeKeys({ version: () => pick(["1.1", "1.0", "0.9", str()]), path: str, query: str, userAgent: str, bodyBytes: num, cut: () => (rand() < 0.9 ? [str(), str()] : str()) }),
      }),
    };
    for (const [k, make] of Object.entries(fields)) if (rand() < (k === "client" ? 0.05 : k === "tls" || k === "http" ? 0.15 : 0.35)) e[k] = make();
    return e as unknown as TrapEvent;
  }

  const outcome = (fn: () => string): string => {
    try {
      return fn();
    } catch (err) {
      return `threw ${(err as Error).name}`;
    }
  };

  test("20,000 random events: the same line as jsonLine(toEcs(e)), byte for byte", () => {
    let direct = 0;
    for (let i = 0; i < 20_000; i++) {
      const e = randomEvent();
      const reference = outcome(() => jsonLine(toEcs(e)));
      const line = outcome(() => ecsLine(e));
      if (line !== reference) expect({ i, event: e, line }).toEqual({ i, event: e, line: reference });
      if (outcome(() => fastLine(e) ?? "threw not direct") === reference) direct++;
    }
    // Most of them were written directly (the rest hold a lone surrogate, a wrong type, TLS or client details).
    expect(direct).toBeGreaterThan(6_000);
  });

  test("the events of a flood (connection, the greeting, close) are written directly and match", () => {
    const common = { ...base, host: { name: "phx-etl11", release: "debian-12" }, sessionId: "mx3b5xqv-1-a1bd501e", source: src, destination: { ip: "127.0.0.1", port: 21 } };
    const greeting = new TextEncoder().encode("220 (vsFTPd 3.0.3)\r\n");
    for (const e of [
      { ...common, action: "connection" },
      { ...common, action: "data", direction: "out", payload: greeting },
      { ...common, action: "close", bytesIn: 0, bytesOut: 20, durationMs: 1.234567, reason: "peer closed" },
    ] as TrapEvent[]) {
      expect(fastLine(e)).toBe(jsonLine(toEcs(e)));
      expect(ecsLine(e)).toBe(jsonLine(toEcs(e)));
    }
  });
});
