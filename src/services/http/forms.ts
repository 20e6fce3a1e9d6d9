// HTML form and JSON logins: a POST whose body has a user-like and a password-like field is a login
// attempt, whatever the path (wp-login.php's log/pwd, phpMyAdmin's pma_username, a router's username/password).
import type { ProtocolEvent } from "../../types.ts";
import { clip, toBytes } from "../../wire/bytes.ts";

/** Bodies larger than this are not parsed for credentials (they are still logged as data). */
export const MAX_FORM_BYTES = 16 * 1024;

const PASSWORD = /(pass|pwd|secret|^pw$|^pin$|kennwort|senha|contrase)/i;
const USER = /(user|login|^log$|e-?mail|account|^acct$|uname|^usr$|^u$|^name$|^uid$|^id$|principal)/i;

/** Field names compare without bracket nesting: "session[username]" is "username". */
function bare(name: string): string {
  const inner = /\[([^\]]*)\]$/.exec(name);
  return (inner?.[1] || name).trim();
}

function decodeComponent(s: string): string {
  const bytes = toBytes(s.replace(/\+/g, " ").replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))));
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return s;
  }
}

function urlencoded(body: string): [string, string][] {
  return body
    .split("&")
    .slice(0, 200)
    .map((pair) => {
      const eq = pair.indexOf("=");
      return eq < 0 ? [decodeComponent(pair), ""] : [decodeComponent(pair.slice(0, eq)), decodeComponent(pair.slice(eq + 1))];
    });
}

function json(body: string): [string, string][] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(toBytes(body)));
  } catch {
    return [];
  }
  const out: [string, string][] = [];
  // One level of nesting covers {"user":{"login":…,"password":…}} without walking an attacker's deep tree.
  const visit = (o: unknown, depth: number) => {
    if (typeof o !== "object" || o === null || Array.isArray(o) || depth > 1) return;
    for (const [k, v] of Object.entries(o).slice(0, 200)) {
      if (typeof v === "string" || typeof v === "number") out.push([k, String(v)]);
      else visit(v, depth + 1);
    }
  };
  visit(parsed, 0);
  return out;
}

/** The login in a request body, or undefined when it is not one. `body` is latin1, one char per byte. */
export function formLogin(contentType: string, body: string): ProtocolEvent | undefined {
  if (body.length === 0 || body.length > MAX_FORM_BYTES) return undefined;
  const type = contentType.toLowerCase();
  const fields = type.includes("json") ? json(body) : type.includes("x-www-form-urlencoded") || type === "" ? urlencoded(body) : [];
  const password = fields.find(([k]) => PASSWORD.test(bare(k)));
  const user = fields.find(([k]) => USER.test(bare(k)) && !PASSWORD.test(bare(k)));
  if (!password || !user) return undefined;
  return { action: "login", method: "form", user: clip(user[1]), password: clip(password[1]), client: { user_field: clip(user[0], 64), password_field: clip(password[0], 64) } };
}
