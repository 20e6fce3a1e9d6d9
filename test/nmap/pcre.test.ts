// PCRE semantics that JavaScript does not share, each pinned by a case worked out from the PCRE manual.
import { describe, expect, test } from "bun:test";
import { translatePcre, UntranslatablePattern } from "../../src/nmap/pcre.ts";

function re(pattern: string, flags = ""): RegExp {
  const t = translatePcre(pattern, flags);
  return new RegExp(t.source, t.flags);
}

describe("PCRE to JavaScript", () => {
  test("$ also matches before a final newline (PCRE without MULTILINE)", () => {
    expect(re("^OK$").test("OK\n")).toBe(true);
    expect(re("^OK$").test("OK\n\n")).toBe(false);
    expect(re("^OK$").test("OK\r\n")).toBe(false);
  });
  test(". matches \\r but not \\n; with /s it matches both", () => {
    expect(re("^a.b").test("a\rb")).toBe(true);
    expect(re("^a.b").test("a\nb")).toBe(false);
    expect(re("^a.b", "s").test("a\nb")).toBe(true);
  });
  test("\\0 and \\xH are bytes; a one-digit \\x is a byte too", () => {
    expect(re("^\\0\\0\\x01").test("\x00\x00\x01")).toBe(true);
    expect(re("^\\x4$").test("\x04")).toBe(true);
    expect(re("^\\012").test("\n")).toBe(true);
  });
  test("\\s is ASCII whitespace only (no \\xa0), \\S its complement", () => {
    expect(re("^\\s$").test("\xa0")).toBe(false);
    expect(re("^\\s+$").test(" \t\r\n\x0b\x0c")).toBe(true);
    expect(re("^\\S$").test("\xa0")).toBe(true);
  });
  test("a leading ] in a class is literal; POSIX classes expand", () => {
    expect(re("^[]a]+$").test("]a]")).toBe(true);
    expect(re("^[^]]$").test("]")).toBe(false);
    expect(re("^[[:alpha:][:digit:]_]+$").test("ab_9")).toBe(true);
    expect(re("^[[:xdigit:]]+$").test("G")).toBe(false);
  });
  test("\\A \\Z \\z anchors", () => {
    expect(re("\\Aab\\Z").test("ab\n")).toBe(true);
    expect(re("\\Aab\\z").test("ab\n")).toBe(false);
  });
  test("atomic groups do not give back, and group numbers are remapped", () => {
    expect(re("^(?>a+)ab").test("aaab")).toBe(false); // a+ took every a; no backtracking into it
    expect(re("^(?:a+)ab").test("aaab")).toBe(true);
    const t = translatePcre("^(?>x)(\\d+)", "");
    expect(t.groupMap[1]).toBe(2);
    expect(new RegExp(t.source).exec("x42")![t.groupMap[1]!]).toBe("42");
  });
  test("named groups count as numbered groups; \\Q…\\E quotes", () => {
    const t = translatePcre("^(?<v>\\d+)\\.(?P<w>\\d+) \\Q(a.b)\\E", "");
    const m = new RegExp(t.source).exec("1.2 (a.b)")!;
    expect([m[t.groupMap[1]!], m[t.groupMap[2]!]]).toEqual(["1", "2"]);
    expect(new RegExp(t.source).test("1.2 (aXb)")).toBe(false);
  });
  test("inline (?i) and (?s) at the start become flags", () => {
    expect(re("(?i)^hello").test("HeLLo")).toBe(true);
    expect(re("(?s)^a.b").test("a\nb")).toBe(true);
  });
  test("what JavaScript cannot say is refused, with the reason", () => {
    expect(() => translatePcre("a++", "")).toThrow(UntranslatablePattern);
    expect(() => translatePcre("\\p{L}", "")).toThrow(/\\p/);
    expect(() => translatePcre("(?|a)", "")).toThrow(/group/);
  });
});
