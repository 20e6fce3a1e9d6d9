import { describe, expect, test } from "bun:test";
import { escapeBytes, escapeText, hasLoneSurrogate, jsonString, markLoneSurrogates, terminalSafe, wellFormed } from "../src/util/escape.ts";
import { toBytes, toLatin1 } from "../src/wire/bytes.ts";
import { LineSplitter } from "../src/wire/lines.ts";
import { HOSTILE_CLASSES } from "./helpers.ts";

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
