// Attacker bytes must never reach a terminal or a log line raw. Two rules, one per reader:
// - humans (the console): nothing but printable ASCII, everything else escaped (escapeBytes, escapeText);
// - machines (the JSON Lines log): the exact text, valid UTF-8, with every code point a reader could take
//   for a line end or a terminal control written as a \uXXXX escape (jsonString), and lone surrogates,
//   which UTF-8 cannot carry, replaced by U+FFFD with the original kept (wellFormed, markLoneSurrogates).
// docs/EVENTS.md ("Attacker strings") states the rule for the people who read the log.

/** Escapes bytes for humans: printable ASCII stays, \r \n \t and \\ are named, the rest becomes \xNN. */
export function escapeBytes(bytes: Uint8Array, max = Infinity): string {
  let out = "";
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0x5c) out += "\\\\";
    else if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x09) out += "\\t";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += "\\x" + b.toString(16).padStart(2, "0");
  }
  return out;
}

/** One code point (or a lone surrogate) as escapeText writes it: \xNN below 0x100, \u{…} above. */
function escapeCodePoint(c: number): string {
  return c < 0x100 ? "\\x" + c.toString(16).padStart(2, "0") : "\\u{" + c.toString(16) + "}";
}

/**
 * Escapes a string that came from input (a user name, a path) for humans, by code point: printable ASCII
 * stays, \r \n \t and \\ are named, anything else (C0, DEL, C1, U+2028/2029, bidi controls, lone
 * surrogates, and every other non-ASCII character) becomes \xNN or \u{…}.
 */
export function escapeText(text: string, max = 256): string {
  let out = "";
  for (const ch of text.slice(0, max)) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else out += escapeCodePoint(c);
  }
  if (text.length > max) out += `…(+${text.length - max} chars)`;
  return out;
}

/**
 * Code points a reader of text may act on or split a line at: C0 controls, DEL, C1 controls (U+0085 is
 * NEL, U+009B is CSI), U+2028/U+2029 (line terminators to JavaScript and to Python's splitlines), and
 * Unicode's Bidi_Control set (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which reorders what
 * a terminal or an editor shows.
 */
const CONTROL = "\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069";
const CONTROLS = new RegExp(`[${CONTROL}]`, "g");
/** A high surrogate not followed by a low one, or a low one not preceded by a high one (code units). */
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
/** What jsonString escapes beyond JSON.stringify (which already escapes C0, `"` and `\`). */
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Any code point jsonString escapes beyond JSON.stringify, or any surrogate, paired or not: a quick first look. */
const MAYBE_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/;

/** False when the text surely needs neither needsJsonEscape's escapes nor wellFormed (most text). */
export function mayBeUnsafe(text: string): boolean {
  return MAYBE_UNSAFE.test(text);
}

const hex4 = (c: number) => c.toString(16).padStart(4, "0");

export function hasLoneSurrogate(text: string): boolean {
  LONE_SURROGATES.lastIndex = 0;
  return LONE_SURROGATES.test(text);
}

/** The text with each lone surrogate replaced by U+FFFD, as a UTF-8 encoder must (WHATWG "encode"). */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATES, "\ufffd");
}

/**
 * The text with nothing lost and nothing UTF-8 cannot carry: each backslash written `\\` and each lone
 * surrogate `\uXXXX` (four lowercase hex digits). Read back by turning `\\` into `\` and `\uXXXX` into
 * that code unit.
 */
export function markLoneSurrogates(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(LONE_SURROGATES, (u) => "\\u" + hex4(u.charCodeAt(0)));
}

/**
 * The JSON text of a string (quotes included) in which no code point of CONTROL and no lone surrogate
 * appears raw: JSON.stringify's own escapes (C0, `"`, `\`) plus \uXXXX for DEL, C1, U+2028/2029 and the
 * bidi controls. JSON.parse gives the string back exactly (lone surrogates aside: pass wellFormed text).
 */
export function jsonString(text: string): string {
  return jsonLine(text);
}

/**
 * A value as one line of JSON in which no code point of CONTROL appears raw: JSON.stringify, then \uXXXX
 * for what it leaves (DEL, C1, U+2028/2029, bidi controls). Those can only stand inside strings in its
 * output, where an escape means the same code point, so the value parses back unchanged.
 */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNSAFE, (c) => "\\u" + hex4(c.charCodeAt(0)));
}

/**
 * A line for a terminal: every code point of CONTROL and every lone surrogate still in it is escaped as
 * escapeText would. A last guard for the console, over lines whose attacker parts escapeText already made
 * printable ASCII (those pass unchanged).
 */
export function terminalSafe(line: string): string {
  return line
    .replace(LONE_SURROGATES, (u) => escapeCodePoint(u.charCodeAt(0)))
    .replace(CONTROLS, (c) => escapeCodePoint(c.charCodeAt(0)));
}
