// Translates nmap's PCRE patterns into JavaScript regular expressions with the same meaning on bytes.
// The subject is a latin1 string (one character per byte) and no `u` flag is used, so \xNN is one byte.
//
// Where PCRE (libpcre3 8.x, as nmap 7.93 links it, flags CASELESS/DOTALL only) and JavaScript differ:
//   .        PCRE: any byte but \n (also \r)        JS: not \n, \r            -> [^\n] (or [\s\S] with /s)
//   $        PCRE: end, or before a final \n        JS: end only              -> (?=\n?$)
//   \Z \z \A anchors JS lacks                                                 -> (?=\n?$)  $  ^
//   \s       PCRE: [\t\n\v\f\r ]                    JS: also \xa0 and Unicode -> the explicit class
//   \h \v \R PCRE: whitespace classes               JS: \v is one character  -> explicit classes
//   \xH      one hex digit is a byte in PCRE        JS: "x" then "H"         -> \x0H
//   \Q..\E   literal quoting                                                  -> escaped literals
//   []...]   a leading ] is literal in PCRE         JS: [] is an empty class -> [\]...]
//   [[:alpha:]] POSIX classes                                                 -> explicit ranges
//   (?>..)   atomic group                                                     -> (?=(..))\N
//   (?<n>..) (?P<n>..) named groups                                           -> plain groups
// Capture numbers can shift (atomic groups add one), so the translation returns the mapping.

export interface Translation {
  source: string;
  flags: string;
  /** groupMap[n] = the JavaScript group holding PCRE group n (index 0 unused). */
  groupMap: number[];
}

export class UntranslatablePattern extends Error {}

const POSIX: Record<string, string> = {
  alpha: "A-Za-z",
  digit: "0-9",
  alnum: "A-Za-z0-9",
  upper: "A-Z",
  lower: "a-z",
  space: "\\t\\n\\x0b\\f\\r ",
  blank: "\\t ",
  punct: "!-\\/:-@\\[-`{-~",
  print: " -~",
  graph: "!-~",
  cntrl: "\\x00-\\x1f\\x7f",
  xdigit: "0-9A-Fa-f",
  word: "A-Za-z0-9_",
  ascii: "\\x00-\\x7f",
};

const SPACE = "\\t\\n\\x0b\\f\\r ";
const HSPACE = "\\t \\xa0";
const VSPACE = "\\n\\x0b\\f\\r\\x85";

function hex2(code: number): string {
  return "\\x" + code.toString(16).padStart(2, "0");
}

function escapeLiteral(ch: string): string {
  const code = ch.charCodeAt(0);
  if (code < 0x20 || code >= 0x7f) return hex2(code);
  return /[\\^$.*+?()[\]{}|/-]/.test(ch) ? "\\" + ch : ch;
}

export function translatePcre(pattern: string, pcreFlags: string): Translation {
  let dotall = pcreFlags.includes("s");
  let caseless = pcreFlags.includes("i");
  let i = 0;
  // Leading inline options, e.g. (?i) or (?s): JavaScript has them only as regex flags.
  for (;;) {
    const m = /^\(\?([is]+)\)/.exec(pattern.slice(i));
    if (!m) break;
    if (m[1]!.includes("i")) caseless = true;
    if (m[1]!.includes("s")) dotall = true;
    i += m[0].length;
  }

  let out = "";
  let jsGroups = 0;
  let pcreGroups = 0;
  const groupMap: number[] = [0];
  // For each open parenthesis: what to emit at its close.
  const closers: string[] = [];
  const n = pattern.length;

  /** Reads an escape at pattern[i] === "\\"; returns [text for outside a class, text inside a class]. */
  const readEscape = (inClass: boolean): string => {
    const c = pattern[i + 1];
    if (c === undefined) throw new UntranslatablePattern("pattern ends with a backslash");
    i += 2;
    switch (c) {
      case "x": {
        if (pattern[i] === "{") {
          const end = pattern.indexOf("}", i);
          const code = parseInt(pattern.slice(i + 1, end), 16);
          if (end < 0 || !(code <= 0xff)) throw new UntranslatablePattern("\\x{…} beyond one byte");
          i = end + 1;
          return hex2(code);
        }
        const m = /^[0-9a-fA-F]{1,2}/.exec(pattern.slice(i));
        const digits = m ? m[0] : "";
        i += digits.length;
        return hex2(digits ? parseInt(digits, 16) : 0);
      }
      case "0": {
        // \0 plus up to two more octal digits: a byte.
        const m = /^[0-7]{0,2}/.exec(pattern.slice(i))!;
        i += m[0].length;
        return hex2(parseInt("0" + m[0], 8));
      }
      case "s":
        return inClass ? SPACE : `[${SPACE}]`;
      case "S":
        if (inClass) throw new UntranslatablePattern("\\S inside a character class");
        return `[^${SPACE}]`;
      case "h":
        return inClass ? HSPACE : `[${HSPACE}]`;
      case "H":
        if (inClass) throw new UntranslatablePattern("\\H inside a character class");
        return `[^${HSPACE}]`;
      case "v":
        return inClass ? VSPACE : `[${VSPACE}]`;
      case "V":
        if (inClass) throw new UntranslatablePattern("\\V inside a character class");
        return `[^${VSPACE}]`;
      case "R":
        if (inClass) throw new UntranslatablePattern("\\R inside a character class");
        return `(?:\\r\\n|[${VSPACE}])`;
      case "e":
        return "\\x1b";
      case "a":
        return "\\x07";
      case "d":
      case "D":
      case "w":
      case "W":
      case "n":
      case "r":
      case "t":
      case "f":
        return "\\" + c;
      case "b":
        return inClass ? "\\x08" : "\\b";
      case "B":
        if (inClass) throw new UntranslatablePattern("\\B inside a character class");
        return "\\B";
      case "A":
        if (inClass) throw new UntranslatablePattern("\\A inside a character class");
        return "^";
      case "Z":
        if (inClass) throw new UntranslatablePattern("\\Z inside a character class");
        return "(?=\\n?$)";
      case "z":
        if (inClass) throw new UntranslatablePattern("\\z inside a character class");
        return "$";
      case "c": {
        const ctl = pattern[i];
        if (ctl === undefined) throw new UntranslatablePattern("\\c at the end");
        i++;
        return hex2(ctl.toUpperCase().charCodeAt(0) ^ 0x40);
      }
      case "Q": {
        const end = pattern.indexOf("\\E", i);
        const lit = end < 0 ? pattern.slice(i) : pattern.slice(i, end);
        i = end < 0 ? n : end + 2;
        return [...lit].map(escapeLiteral).join("");
      }
      case "E":
        return "";
      case "G":
      case "K":
      case "X":
      case "C":
      case "p":
      case "P":
      case "g":
      case "k":
      case "N":
        throw new UntranslatablePattern(`\\${c} has no JavaScript equivalent here`);
    }
    if (c >= "1" && c <= "9") {
      if (inClass) return hex2(parseInt(c, 8) || c.charCodeAt(0)); // octal in a class
      const target = groupMap[Number(c)];
      if (target === undefined) throw new UntranslatablePattern(`backreference \\${c} before its group`);
      return `(?:\\${target})`;
    }
    // Any other escaped character stands for itself.
    return escapeLiteral(c);
  };

  while (i < n) {
    const ch = pattern[i]!;
    if (ch === "\\") {
      out += readEscape(false);
      continue;
    }
    if (ch === "[") {
      let cls = "[";
      i++;
      if (pattern[i] === "^") {
        cls += "^";
        i++;
      }
      if (pattern[i] === "]") {
        cls += "\\]";
        i++;
      }
      for (;;) {
        if (i >= n) throw new UntranslatablePattern("unterminated character class");
        const c = pattern[i]!;
        if (c === "]") {
          i++;
          break;
        }
        if (c === "[" && pattern[i + 1] === ":") {
          const end = pattern.indexOf(":]", i + 2);
          const name = end > 0 ? pattern.slice(i + 2, end) : "";
          const negated = name.startsWith("^");
          const set = POSIX[negated ? name.slice(1) : name];
          if (!set || negated) throw new UntranslatablePattern(`POSIX class [:${name}:]`);
          cls += set;
          i = end + 2;
          continue;
        }
        if (c === "\\") {
          cls += readEscape(true);
          continue;
        }
        cls += c === "[" ? "\\[" : c.charCodeAt(0) < 0x20 || c.charCodeAt(0) >= 0x7f ? hex2(c.charCodeAt(0)) : c;
        i++;
      }
      out += cls + "]";
      continue;
    }
    if (ch === "(") {
      if (pattern[i + 1] === "?") {
        const rest = pattern.slice(i + 2);
        if (rest.startsWith(":") || rest.startsWith("=") || rest.startsWith("!") || rest.startsWith("<=") || rest.startsWith("<!")) {
          const len = rest.startsWith("<") ? 2 : 1;
          out += "(?" + rest.slice(0, len);
          i += 2 + len;
          closers.push(")");
          continue;
        }
        if (rest.startsWith("#")) {
          const end = pattern.indexOf(")", i);
          i = end < 0 ? n : end + 1;
          continue;
        }
        if (rest.startsWith(">")) {
          jsGroups++;
          out += "(?=(";
          closers.push(`))\\${jsGroups}`);
          i += 3;
          continue;
        }
        const named = /^(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')/.exec(rest);
        if (named) {
          pcreGroups++;
          jsGroups++;
          groupMap[pcreGroups] = jsGroups;
          out += "(";
          closers.push(")");
          i += 2 + named[0].length;
          continue;
        }
        throw new UntranslatablePattern(`group (?${rest.slice(0, 3)}…`);
      }
      pcreGroups++;
      jsGroups++;
      groupMap[pcreGroups] = jsGroups;
      out += "(";
      closers.push(")");
      i++;
      continue;
    }
    if (ch === ")") {
      const closer = closers.pop();
      if (closer === undefined) throw new UntranslatablePattern("unbalanced )");
      out += closer;
      i++;
      continue;
    }
    if (ch === ".") {
      out += dotall ? "[\\s\\S]" : "[^\\n]";
      i++;
      continue;
    }
    if (ch === "$") {
      out += "(?=\\n?$)";
      i++;
      continue;
    }
    if (ch === "*" || ch === "+" || ch === "?" || ch === "}") {
      out += ch;
      i++;
      if (pattern[i] === "+") throw new UntranslatablePattern("possessive quantifier");
      continue;
    }
    const code = ch.charCodeAt(0);
    out += code < 0x20 || code >= 0x7f ? hex2(code) : ch === "/" ? "\\/" : ch;
    i++;
  }
  if (closers.length) throw new UntranslatablePattern("unbalanced (");
  const flags = caseless ? "i" : "";
  // Compile now, so a pattern JavaScript rejects is reported here with its reason.
  try {
    new RegExp(out, flags);
  } catch (err) {
    throw new UntranslatablePattern(`JavaScript rejects the translation: ${(err as Error).message}`);
  }
  return { source: out, flags, groupMap };
}
