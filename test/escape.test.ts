import { describe, expect, test } from "bun:test";
import { escapeBytes, escapeText, hasLoneSurrogate, jsonString, markLoneSurrogates, terminalSafe, wellFormed } from "../src/util/escape.ts";
import { toBytes, toLatin1 } from "../src/wire/bytes.ts";
import { LineSplitter } from "../src/wire/lines.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, HOSTILE_CLASSES, ROOT, connect, rawHostile, readLog, startProcess, tempDir, until, withTimeout } from "./helpers.ts";

describe("escaping attacker bytes", () => {
  test("control characters, escape sequences and high bytes never pass through", () => {
    const hostile = toBytes("ok\x1b[2J\x07\x00\r\n\xff\\");
    const out = escapeBytes(hostile);
    expect(out).toBe("ok\\x1b[2J\\x07\\x00\\r\\n\\xff\\\\");
    expect(/[\x00-\x1f\x7f-\uffff]/.test(out)).toBe(false);
  });
  test("a cap cuts the output", () => {
    expect(escapeBytes(toBytes("abcdef"), 3)).toBe("abc");
  });
  test("text from input (user names) is escaped the same way, non-Latin too", () => {
    expect(escapeText("root\x1b]0;pwned\x07")).toBe("root\\x1b]0;pwned\\x07");
    expect(escapeText("\u202euser")).toBe("\\u{202e}user");
    expect(escapeText("a".repeat(300), 10)).toBe("aaaaaaaaaa…(+290 chars)");
  });
});

describe("bounded buffers", () => {
  test("latin1 round trip keeps every byte value", () => {
    const all = new Uint8Array(256).map((_, i) => i);
    expect(toBytes(toLatin1(all))).toEqual(all);
  });
  test("lines split over chunks are joined; CRLF and LF both end a line", () => {
    const lines = new LineSplitter(100, "split");
    expect(lines.push(toBytes("US"))).toEqual([]);
    expect(lines.push(toBytes("ER a\r\nPA"))).toEqual([{ text: "USER a", tooLong: false }]);
    expect(lines.push(toBytes("SS b\n"))).toEqual([{ text: "PASS b", tooLong: false }]);
  });
  test("a line without end is cut at the cap instead of growing, and its rest is split, skipped or ends reading", () => {
    const split = new LineSplitter(16, "split");
    expect(split.push(toBytes("A".repeat(20) + "\n"))).toEqual([
      { text: "A".repeat(16), tooLong: true },
      { text: "AAAA", tooLong: false },
    ]);
    const skip = new LineSplitter(16, "skip");
    expect(skip.push(toBytes("A".repeat(1000)))).toEqual([{ text: "A".repeat(16), tooLong: true }]);
    expect(skip.push(toBytes("AAA\nB\n"))).toEqual([{ text: "B", tooLong: false }]);
    const close = new LineSplitter(16, "close");
    expect(close.push(toBytes("A".repeat(40) + "\nB\n"))).toEqual([{ text: "A".repeat(16), tooLong: true }]);
  });
});

describe("escaping attacker text, class by class", () => {
  const printableAscii = /^[\x20-\x7e]*$/;
  const all = Object.entries(HOSTILE_CLASSES).flatMap(([cls, cps]) => cps.map((c) => [cls, c] as const));
  const char = (c: number) => String.fromCharCode(c); // one UTF-16 code unit: every class is below U+10000

  test("escapeText and terminalSafe turn every hostile code point into printable ASCII", () => {
    for (const [cls, c] of all) {
      const s = `a${char(c)}b`;
      expect({ cls, c, out: escapeText(s) }).toEqual({ cls, c, out: expect.stringMatching(printableAscii) });
      expect({ cls, c, out: terminalSafe(s) }).toEqual({ cls, c, out: expect.stringMatching(printableAscii) });
    }
    expect(escapeText("\x9b31m\u2028\ud800")).toBe("\\x9b31m\\u{2028}\\u{d800}");
    expect(terminalSafe("\x1b]0;t\x07\x85\u202e\udc00")).toBe("\\x1b]0;t\\x07\\x85\\u{202e}\\u{dc00}");
  });

  test("terminalSafe leaves printable text, letters of other scripts and surrogate pairs alone", () => {
    const fine = 'user "root" é 日本 \u{1f600} \\ ok';
    expect(terminalSafe(fine)).toBe(fine);
  });

  test("jsonString writes every hostile code point except lone surrogates as an escape, and parses back exactly", () => {
    for (const [cls, c] of all.filter(([cls]) => cls !== "loneSurrogates")) {
      const s = `a${char(c)}b`;
      const json = jsonString(s);
      expect({ cls, c, json }).toEqual({ cls, c, json: expect.stringMatching(printableAscii) });
      // C0 may take JSON's short forms (\b, \n, …); the rest are \uXXXX.
      if (c >= 0x20) expect(json).toContain("\\u" + c.toString(16).padStart(4, "0"));
      expect(JSON.parse(json)).toBe(s);
    }
    expect(jsonString('é "q" \\ \u{1f600}')).toBe('"é \\"q\\" \\\\ \u{1f600}"');
  });

  test("lone surrogates become U+FFFD, and the marked original reads back to the exact code units", () => {
    const unmark = (s: string) => s.replace(/\\(\\|u([0-9a-f]{4}))/g, (_, e: string, h?: string) => (h ? String.fromCharCode(parseInt(h, 16)) : "\\"));
    for (const c of HOSTILE_CLASSES.loneSurrogates!) {
      const s = `x${char(c)}y`;
      expect(hasLoneSurrogate(s)).toBe(true);
      expect(wellFormed(s)).toBe("x\ufffdy");
      expect(markLoneSurrogates(s)).toBe(`x\\u${c.toString(16)}y`);
      expect(unmark(markLoneSurrogates(s))).toBe(s);
    }
    // A pair in the right order is one character; the wrong order is two lone halves.
    expect(hasLoneSurrogate("\u{1f600}")).toBe(false);
    expect(wellFormed("\ude00\ud83d")).toBe("\ufffd\ufffd");
    // A backslash and text that only looks like an escape survive the round trip.
    const tricky = "C:\\u\\ud800 \\\\ \ud800\\";
    expect(unmark(markLoneSurrogates(tricky))).toBe(tricky);
  });
});

describe("hostile strings through a running trap", () => {
  /** An NTLM AUTHENTICATE (type 3) with Unicode strings given as UTF-16 code units, no responses. */
  function ntlmAuthenticate(user: number[], domain: number[], workstation: number[]): string {
    const u16 = (units: number[]) => {
      const b = Buffer.alloc(units.length * 2);
      units.forEach((u, i) => b.writeUInt16LE(u, i * 2));
      return b;
    };
    const head = Buffer.alloc(64);
    head.write("NTLMSSP\0", 0, "latin1");
    head.writeUInt32LE(3, 8);
    const parts: Buffer[] = [];
    let offset = head.length;
    const field = (at: number, b: Buffer) => {
      head.writeUInt16LE(b.length, at);
      head.writeUInt16LE(b.length, at + 2);
      head.writeUInt32LE(offset, at + 4);
      parts.push(b);
      offset += b.length;
    };
    field(12, Buffer.alloc(0)); // LM response
    field(20, Buffer.alloc(0)); // NT response
    field(28, u16(domain));
    field(36, u16(user));
    field(44, u16(workstation));
    head.writeUInt32LE(0x1, 60); // NTLMSSP_NEGOTIATE_UNICODE
    return Buffer.concat([head, ...parts]).toString("base64");
  }

  async function exchange(port: number, request: Uint8Array): Promise<void> {
    const c = await connect(port);
    c.send(request);
    await withTimeout(c.closed, 10000, "the trap closing the connection");
  }

  test("the JSONL holds none raw and every reader reads every line; the console shows only escapes", async () => {
    const dir = tempDir();
    const log = join(dir, "events.jsonl");
    const trap = await startProcess([BUN, join(ROOT, "src/cli.ts"), "http", "0", "--host", "127.0.0.1", "--banner", "iis-7.5-windows", "--log", log, "--verbose"]);
    const everyClass = Object.entries(HOSTILE_CLASSES)
      .filter(([cls]) => cls !== "loneSurrogates")
      .flatMap(([, cps]) => cps);
    // UTF-8 in Basic credentials: every class but lone surrogates, ESC sequences (CSI, OSC title) among them.
    const name = "adm" + String.fromCharCode(...everyClass) + "\x1b[31mred\x1b]0;title\x07\u202eevil\x9b2J";
    const basic = Buffer.from(`${name}:${name}`, "utf8").toString("base64");
    // UTF-16 names over NTLM: lone high and low surrogates, a line separator, a C1 CSI.
    const lone = ntlmAuthenticate([0x61, 0xd800, 0x62, 0xdc00], [0x44, 0x2028, 0xdfff], [0x57, 0x9b, 0xdbff]);
    try {
      await exchange(trap.port, Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ${basic}\r\nConnection: close\r\n\r\n`, "latin1"));
      // Raw bytes in the request line (a command): C1 CSI and NEL, ESC sequences, NUL, DEL, a UTF-8 U+2028.
      await exchange(trap.port, Buffer.from(`GET /\x9b\x85\x1b[2J\x1b]0;t\x07\x00\x7f\xe2\x80\xa8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, "latin1"));
      await exchange(trap.port, Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\nAuthorization: NTLM ${lone}\r\nConnection: close\r\n\r\n`, "latin1"));
      await until(() => (readLog(log).filter((e) => e.event.action === "close").length === 3 ? true : undefined));
      // Login lines are warnings: on stderr.
      await until(() => (trap.stderr().includes("tried to log in (http-ntlm)") ? true : undefined));
    } finally {
      await trap.stop();
    }

    // The file's own bytes: nothing raw, and it is valid UTF-8.
    const bytes = new Uint8Array(readFileSync(log));
    expect(rawHostile(bytes)).toEqual([]);
    const lines = Buffer.from(bytes).toString("utf8").split("\n");
    expect(lines.pop()).toBe("");
    const events = lines.map((l) => JSON.parse(l));
    // jq reads every line (jq 1.6 stops at the first \ud800 escape).
    const jq = Bun.spawnSync(["jq", "-c", ".", log], { stdout: "pipe", stderr: "pipe" });
    expect(jq.stderr.toString()).toBe("");
    expect(jq.exitCode).toBe(0);
    expect(jq.stdout.toString().split("\n").filter(Boolean).length).toBe(lines.length);

    // The values are what was sent.
    const logins = events.filter((e) => e.event.action === "login");
    const basicLogin = logins.find((e) => e.micetrap.login.method === "basic");
    expect(basicLogin.user.name).toBe(name);
    expect(basicLogin.micetrap.login.password).toBe(name);
    const ntlm = logins.find((e) => e.micetrap.login.method === "http-ntlm");
    expect(ntlm.user.name).toBe("a\ufffdb\ufffd");
    expect(ntlm.user.domain).toBe("D\u2028\ufffd");
    expect(ntlm.micetrap.client.workstation).toBe("W\x9b\ufffd");
    expect(ntlm.micetrap.original).toEqual({ "user.name": "a\\ud800b\\udc00", "user.domain": "D\u2028\\udfff", "micetrap.client.workstation": "W\x9b\\udbff" });
    const commands = events.filter((e) => e.event.action === "command").map((e) => e.micetrap.command);
    expect(commands).toContain("GET /\x9b\x85\x1b[2J\x1b]0;t\x07\x00\x7f\xe2\x80\xa8 HTTP/1.1");

    // The console (stdout and stderr): nothing raw, no byte lost to U+FFFD, and the lines are there, escaped.
    const consoleText = trap.lines().join("\n") + "\n" + trap.stderr();
    expect(rawHostile(Buffer.from(consoleText, "utf8"))).toEqual([]);
    expect(consoleText).not.toContain("\ufffd");
    expect(consoleText).toContain('tried to log in (basic) as "adm\\x00\\x01');
    expect(consoleText).toContain("\\x9b2J");
    expect(consoleText).toContain("command: GET /\\x9b\\x85\\x1b[2J");
    expect(consoleText).toContain("tried to log in (http-ntlm)");
    expect(consoleText).toContain("\\u{d800}");
  }, 30000);
});
