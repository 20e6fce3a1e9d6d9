import { describe, expect, test } from "bun:test";
import { escapeBytes, escapeText } from "../src/util/escape.ts";
import { toBytes, toLatin1 } from "../src/wire/bytes.ts";
import { LineSplitter } from "../src/wire/lines.ts";

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
