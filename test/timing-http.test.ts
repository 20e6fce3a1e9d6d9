// The http faces' timers on the real clock, through the real listener and real TCP. The catalog's waits are
// the daemons' own (20 s, 51 s, 5 s…); these tests run a copy of the Debian 12 Apache face with short ones,
// so the whole file takes a few seconds. The long waits themselves are tested on a virtual clock in
// test/protocols/http.test.ts.
import { afterEach, describe, expect, test } from "bun:test";
import { serviceEntries } from "../src/catalog/index.ts";
import type { Trap } from "../src/net/listener.ts";
import type { HttpTemplates } from "../src/services/http/templates.ts";
import type { CatalogEntry } from "../src/types.ts";
import { connect, startTestTrap, withTimeout } from "./helpers.ts";

const ms = (n: number) => ({ min: n, max: n });

function shortApache(t: Partial<HttpTemplates>): CatalogEntry<HttpTemplates> {
  const e = serviceEntries("http").find((x) => x.id === "apache-2.4.57-debian") as CatalogEntry<HttpTemplates>;
  return { ...e, templates: { ...e.templates, ...t } };
}

/** How many complete responses (head and Content-Length body) the text holds. */
function responses(text: string): number {
  let n = 0;
  let at = 0;
  for (;;) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) return n;
    const m = /\r\nContent-Length: (\d+)\r\n/i.exec(text.slice(at, end + 2));
    const next = end + 4 + Number(m?.[1] ?? 0);
    if (next > text.length) return n;
    n++;
    at = next;
  }
}

let trap: Trap | undefined;
afterEach(() => {
  trap?.stop();
  trap = undefined;
});

describe("http timers over TCP", () => {
  test("an unfinished head gets Apache's 408 when its timer runs out, then an orderly close", async () => {
    const started = startTestTrap(shortApache({ startDelayMs: ms(0), requestTimeoutMs: ms(1500), requestTimeoutMaxMs: ms(3000), readGraceMs: ms(0) }));
    trap = started.trap;
    const c = await connect(trap.port);
    const t0 = performance.now();
    c.send("GET / HTTP/1.1\r\nHost: x\r\n");
    const text = await c.waitFor((s) => s.includes("</html>\n"), 4000);
    const answeredAfter = performance.now() - t0;
    await withTimeout(c.closed, 2000, "close after the 408");
    expect(answeredAfter).toBeGreaterThan(1400);
    expect(answeredAfter).toBeLessThan(2500);
    expect(text.startsWith("HTTP/1.1 408 Request Timeout\r\n")).toBe(true);
    expect(text).toContain("\r\nConnection: close\r\n");
    expect(text).toContain("<p>Server timeout waiting for the HTTP request from the client.</p>");
    await Bun.sleep(50);
    const close = started.sink.of("close");
    expect(close.length).toBe(1);
    expect(close[0]!.reason).toBe("closed by service");
  });

  test("a kept connection is closed silently when the keep-alive timer runs out, and a request restarts it", async () => {
    trap = startTestTrap(shortApache({ keepAliveTimeoutMs: ms(1000) })).trap;
    const c = await connect(trap.port);
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.waitFor((s) => responses(s) === 1, 3000);
    await Bun.sleep(600);
    expect(c.isClosed()).toBe(false);
    const second = performance.now();
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await c.waitFor((s) => responses(s) === 2, 3000);
    const bytes = c.received().length;
    await withTimeout(c.closed, 3000, "keep-alive close");
    const after = performance.now() - second;
    // The timer started again at the second response: not at 1 s from the first one.
    expect(after).toBeGreaterThan(900);
    expect(after).toBeLessThan(2000);
    expect(c.received().length).toBe(bytes);
  });

  test("a silent peer waits out the deferred accept and then the request timer, and hears nothing", async () => {
    trap = startTestTrap(shortApache({ startDelayMs: ms(700), requestTimeoutMs: ms(800) })).trap;
    const c = await connect(trap.port);
    const t0 = performance.now();
    await withTimeout(c.closed, 4000, "silent close");
    const after = performance.now() - t0;
    expect(after).toBeGreaterThan(1400);
    expect(after).toBeLessThan(2500);
    expect(c.received().length).toBe(0);
  });
});
