// Attacker bytes must never reach a terminal or a log line raw: escape everything that is not printable ASCII.

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

/** Escapes a string that came from input (a user name, a path) the same way, by its UTF-16 code units. */
export function escapeText(text: string, max = 256): string {
  let out = "";
  for (const ch of text.slice(0, max)) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c < 0x100) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += "\\u{" + c.toString(16) + "}";
  }
  if (text.length > max) out += `…(+${text.length - max} chars)`;
  return out;
}
