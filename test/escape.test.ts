import { describe, expect, test } from "bun:test";
import { escapeBytes, escapeText } from "../src/util/escape.ts";
import { LineBuffer, ByteBuffer, toBytes, toLatin1 } from "../src/util/bytes.ts";

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
    const lb = new LineBuffer(100);
    expect(lb.push(toBytes("US"))).toEqual([]);
    expect(lb.push(toBytes("ER a\r\nPA"))).toEqual([{ line: "USER a", overlong: false }]);
    expect(lb.push(toBytes("SS b\n"))).toEqual([{ line: "PASS b", overlong: false }]);
  });
  test("a line without end is cut at the cap instead of growing", () => {
    const lb = new LineBuffer(16);
    const out = lb.push(toBytes("A".repeat(1000)));
    expect(out).toEqual([{ line: "A".repeat(16), overlong: true }]);
    expect(lb.push(toBytes("B\n"))).toEqual([{ line: "B", overlong: false }]);
  });
  test("ByteBuffer keeps at most its cap and counts the rest", () => {
    const bb = new ByteBuffer(10);
    bb.push(new Uint8Array(6));
    bb.push(new Uint8Array(6));
    expect(bb.length).toBe(10);
    expect(bb.dropped).toBe(2);
    bb.consume(4);
    expect(bb.length).toBe(6);
  });
});
