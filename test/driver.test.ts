// The session driver: delayed replies, input that waits while the daemon is busy, named timers, on a
// virtual clock (as replay and check run them) and on the real one (as the listener does).
import { describe, expect, test } from "bun:test";
import { MAX_HELD_BYTES, realClock, SessionDriver, VirtualClock, type SessionOutput } from "../src/services/driver.ts";
import type { ProtocolSession, Reply } from "../src/types.ts";
import { toBytes, toLatin1 } from "../src/wire/bytes.ts";

interface Log {
  at: number;
  what: string;
}

function recorder(clock: { now(): number }): { out: SessionOutput; log: Log[] } {
  const log: Log[] = [];
  const at = () => Math.round(clock.now());
  return {
    log,
    out: {
      input: (b) => log.push({ at: at(), what: `in ${toLatin1(b)}` }),
      write: (b) => log.push({ at: at(), what: `out ${toLatin1(b)}` }),
      events: (e) => log.push({ at: at(), what: `event ${e.map((x) => x.action).join(",")}` }),
      close: (how) => log.push({ at: at(), what: `close ${how}` }),
      error: (err) => log.push({ at: at(), what: `error ${err.message}` }),
    },
  };
}

/** A tiny line daemon: "PASS x" fails after 3 s, "SLOW" answers after 3 s, "IDLE n" arms an idle timer of n ms, "BYE" resets. */
function daemon(): ProtocolSession {
  return {
    open: () => ({ write: "220 hi\n", timers: { idle: 10_000 } }),
    data(chunk): Reply {
      const line = toLatin1(chunk).trim();
      if (line.startsWith("PASS")) return { write: "530 no\n", delayMs: 3000, events: [{ action: "login", user: "u", password: line.slice(5) }], timers: { idle: 10_000 } };
      if (line.startsWith("IDLE")) return { timers: { idle: Number(line.slice(5)) } };
      if (line === "QUIET") return { timers: { idle: null } };
      if (line === "SLOW") return { write: "250 done\n", delayMs: 3000 };
      if (line === "BYE") return { write: "bye\n", close: "reset" };
      if (line === "BOOM") throw new Error("bad state");
      return { write: `200 ${line}\n`, timers: { idle: 10_000 } };
    },
    timer: (name) => ({ write: `421 ${name} timeout\n`, close: true }),
  };
}

describe("session driver on a virtual clock", () => {
  test("a delayed reply goes out after its delay; its events are logged at once", () => {
    const clock = new VirtualClock();
    const { out, log } = recorder(clock);
    const d = new SessionDriver(daemon(), clock, out);
    d.open();
    d.data(toBytes("PASS secret\n"));
    expect(log.map((l) => l.what)).toEqual(["out 220 hi\n", "in PASS secret\n", "event login"]);
    clock.advanceBy(2999);
    expect(log.length).toBe(3);
    clock.advanceBy(1);
    expect(log.at(-1)).toEqual({ at: 3000, what: "out 530 no\n" });
  });

  test("what the peer sends during the pause waits, then is answered in order", () => {
    const clock = new VirtualClock();
    const { out, log } = recorder(clock);
    const d = new SessionDriver(daemon(), clock, out);
    d.open();
    d.data(toBytes("PASS a\n"));
    clock.advanceBy(1000);
    d.data(toBytes("NOOP\n"));
    d.data(toBytes("PASS b\n"));
    expect(d.isBusy).toBe(true);
    clock.advanceBy(2000); // first 530, then NOOP answered, then the second PASS starts its own pause
    expect(log.slice(1).map((l) => `${l.at} ${l.what}`)).toEqual(["0 in PASS a\n", "0 event login", "3000 out 530 no\n", "3000 in NOOP\n", "3000 out 200 NOOP\n", "3000 in PASS b\n", "3000 event login"]);
    clock.advanceBy(3000);
    expect(log.at(-1)).toEqual({ at: 6000, what: "out 530 no\n" });
  });

  test("a timer fires with the daemon's words; re-arming replaces it and null cancels it", () => {
    const clock = new VirtualClock();
    const { out, log } = recorder(clock);
    const d = new SessionDriver(daemon(), clock, out);
    d.open();
    clock.advanceBy(9000);
    d.data(toBytes("NOOP\n")); // re-armed: due at 19000 now
    clock.advanceBy(9999);
    expect(log.some((l) => l.what.startsWith("out 421"))).toBe(false);
    clock.advanceBy(1);
    expect(log.slice(-2)).toEqual([
      { at: 19000, what: "out 421 idle timeout\n" },
      { at: 19000, what: "close fin" },
    ]);
    expect(d.isClosed).toBe(true);

    const clock2 = new VirtualClock();
    const r2 = recorder(clock2);
    const d2 = new SessionDriver(daemon(), clock2, r2.out);
    d2.open();
    d2.data(toBytes("QUIET\n"));
    clock2.advanceBy(3_600_000);
    expect(r2.log.some((l) => l.what.startsWith("out 421"))).toBe(false);
  });

  test("a timer that runs out during a pause fires after the paused reply", () => {
    const clock = new VirtualClock();
    const { out, log } = recorder(clock);
    const d = new SessionDriver(daemon(), clock, out);
    d.open();
    d.data(toBytes("IDLE 1000\n"));
    d.data(toBytes("SLOW\n")); // busy until 3000; the idle timer runs out at 1000 meanwhile
    clock.advanceBy(5000);
    expect(log.filter((l) => l.what.startsWith("out")).map((l) => `${l.at} ${l.what}`)).toEqual(["0 out 220 hi\n", "3000 out 250 done\n", "3000 out 421 idle timeout\n"]);
  });

  test("a reset close, a throwing protocol, and a stopped session", () => {
    const clock = new VirtualClock();
    const { out, log } = recorder(clock);
    const d = new SessionDriver(daemon(), clock, out);
    d.open();
    d.data(toBytes("BYE\n"));
    expect(log.slice(-2).map((l) => l.what)).toEqual(["out bye\n", "close reset"]);
    d.data(toBytes("NOOP\n"));
    expect(log.at(-1)!.what).toBe("close reset"); // nothing after a close

    const r2 = recorder(clock);
    const d2 = new SessionDriver(daemon(), clock, r2.out);
    d2.open();
    d2.data(toBytes("BOOM\n"));
    expect(r2.log.at(-1)!.what).toBe("error bad state");
    expect(d2.isClosed).toBe(true);

    const r3 = recorder(clock);
    const d3 = new SessionDriver(daemon(), clock, r3.out);
    d3.open();
    d3.stop();
    clock.advanceBy(60_000);
    expect(r3.log.map((l) => l.what)).toEqual(["out 220 hi\n"]); // the idle timer died with the session
  });

  test("input held during a pause is bounded", () => {
    const clock = new VirtualClock();
    const { out } = recorder(clock);
    const d = new SessionDriver(daemon(), clock, out);
    d.open();
    d.data(toBytes("PASS x\n"));
    const chunk = new Uint8Array(64 * 1024).fill(0x41);
    for (let i = 0; i < 10; i++) d.data(chunk);
    expect(d.dropped).toBe(10 * chunk.length - MAX_HELD_BYTES);
  });

  test("buffered is what waits in the driver and what the session's parsers hold; nothing once stopped", () => {
    const clock = new VirtualClock();
    const { out } = recorder(clock);
    let parserHolds = 0;
    const d = new SessionDriver(
      {
        open: () => ({}),
        data: (chunk) => {
          parserHolds += chunk.length;
          return chunk[0] === 0x50 ? { delayMs: 1000 } : {};
        },
        buffered: () => parserHolds,
      },
      clock,
      out,
    );
    d.open();
    d.data(toBytes("P12"));
    expect(d.buffered).toBe(3);
    d.data(toBytes("abcde"));
    expect(d.buffered).toBe(8);
    clock.advanceBy(1000);
    expect(d.buffered).toBe(8);
    d.stop();
    expect(d.buffered).toBe(0);
  });
});

describe("session driver on the real clock", () => {
  test("the pause is real time", async () => {
    const { out, log } = recorder(realClock);
    const slow: ProtocolSession = { open: () => ({ write: "x", delayMs: 150 }), data: () => ({}) };
    const started = performance.now();
    new SessionDriver(slow, realClock, out).open();
    expect(log.length).toBe(0);
    await Bun.sleep(400);
    expect(log.map((l) => l.what)).toEqual(["out x"]);
    expect(log[0]!.at - Math.round(started)).toBeGreaterThanOrEqual(149);
  });
});

describe("merging replies", () => {
  test("writes in order, a reset wins over a close, timers in order, pauses add up", async () => {
    const { mergeReplies } = await import("../src/wire/reply.ts");
    const m = mergeReplies({ write: "a", timers: { idle: 1000 }, delayMs: 100 }, { write: new Uint8Array([0x62]), close: true, timers: { idle: 5000, other: null } }, { close: "reset", delayMs: 50 });
    expect(toLatin1(m.write as Uint8Array)).toBe("ab");
    expect(m.close).toBe("reset");
    expect(m.timers).toEqual({ idle: 5000, other: null });
    expect(m.delayMs).toBe(150);
    expect(mergeReplies({ close: "reset" }, { close: true }).close).toBe("reset");
  });
});

describe("library-driven sessions", () => {
  /** A session whose "library" answers on its own schedule: each line is echoed 500 ms later, by push. */
  function libraryDaemon(stopped: string[]): ProtocolSession {
    let channel: import("../src/types.ts").SessionChannel | undefined;
    return {
      attach: (c) => void (channel = c),
      open: () => ({ write: "hello\n" }),
      data(chunk): Reply {
        const line = toLatin1(chunk).trim();
        if (line === "TLS") return { write: "234 go\n", startTls: true };
        if (line === "KEX") return { write: "kexinit\n", opaque: "key exchange" };
        channel!.later(500, () => channel!.push({ write: `late ${line}\n`, events: [{ action: "command", command: line }] }));
        return {};
      },
      stop: () => void stopped.push("stopped"),
    };
  }

  test("a pushed reply goes out when the library says so, on the session's clock", () => {
    const clock = new VirtualClock();
    const { out, log } = recorder(clock);
    const stopped: string[] = [];
    const d = new SessionDriver(libraryDaemon(stopped), clock, out);
    d.open();
    d.data(toBytes("one\n"));
    clock.advanceBy(499);
    expect(log.map((l) => l.what)).toEqual(["out hello\n", "in one\n"]);
    clock.advanceBy(1);
    expect(log.slice(2)).toEqual([
      { at: 500, what: "event command" },
      { at: 500, what: "out late one\n" },
    ]);
    d.stop();
    expect(stopped).toEqual(["stopped"]);
  });

  test("a push while a delayed reply is pending waits its turn; nothing runs after stop", () => {
    const clock = new VirtualClock();
    const { out, log } = recorder(clock);
    let channel: import("../src/types.ts").SessionChannel | undefined;
    const d = new SessionDriver(
      {
        attach: (c) => void (channel = c),
        open: () => ({}),
        data: () => ({ write: "slow\n", delayMs: 1000 }),
      },
      clock,
      out,
    );
    d.open();
    d.data(toBytes("x"));
    channel!.push({ write: "pushed\n" });
    clock.advanceBy(1000);
    expect(log.filter((l) => l.what.startsWith("out"))).toEqual([
      { at: 1000, what: "out slow\n" },
      { at: 1000, what: "out pushed\n" },
    ]);
    let ran = false;
    channel!.later(10, () => void (ran = true));
    d.stop();
    channel!.push({ write: "after stop\n" });
    clock.advanceBy(100);
    expect(ran).toBe(false);
    expect(log.at(-1)!.what).toBe("out pushed\n");
  });

  test("work a library scheduled that throws ends the session with an error; the throw never reaches the clock", () => {
    const clock = new VirtualClock();
    const { out, log } = recorder(clock);
    const stopped: string[] = [];
    let channel: import("../src/types.ts").SessionChannel | undefined;
    const d = new SessionDriver(
      {
        attach: (c) => void (channel = c),
        open: () => ({ write: "hello\n" }),
        data: () => {
          channel!.later(200, () => {
            throw new Error("library state");
          });
          return {};
        },
        stop: () => void stopped.push("stopped"),
      },
      clock,
      out,
    );
    d.open();
    d.data(toBytes("x"));
    expect(() => clock.advanceBy(1000)).not.toThrow();
    expect(log.at(-1)).toEqual({ at: 200, what: "error library state" });
    expect(stopped).toEqual(["stopped"]);
    expect(d.isClosed).toBe(true);
  });

  test("startTls comes after its write; the opaque mark before the reply that carries it", () => {
    const clock = new VirtualClock();
    const order: string[] = [];
    const d = new SessionDriver(libraryDaemon([]), clock, {
      write: (b) => void order.push(`write ${toLatin1(b).trim()}`),
      events: () => {},
      close: () => {},
      error: () => {},
      startTls: () => void order.push("tls"),
      opaque: (what) => void order.push(`opaque ${what}`),
    });
    d.open();
    d.data(toBytes("TLS\n"));
    d.data(toBytes("KEX\n"));
    expect(order).toEqual(["write hello", "write 234 go", "tls", "opaque key exchange", "write kexinit"]);
  });
});
