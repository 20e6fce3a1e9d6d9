// SIP over TCP as Asterisk's chan_sip answers it, up to a refused registration. Requests are framed by
// their head (up to the empty line) and Content-Length; each is answered with the request's Via (plus
// ";received=" the peer's address, and ";rport=" when asked), From, To (with an "as%08x" tag of ours),
// Call-ID and CSeq, then the PBX's identity, Allow and Supported headers.
//
// - OPTIONS to an extension the PBX does not have (nmap's "sip:nm"): optionsStatus (chan_sip: 404);
//   OPTIONS to the PBX itself (no user part, its own address): 200 with Contact and Accept.
// - REGISTER and INVITE: 401 with `Digest algorithm=MD5, realm="…", nonce="%08x"`; the answer with an
//   Authorization header is logged as hashcat's SIP digest line (mode 11400) and refused with 403.
// - ACK is silent; BYE and CANCEL outside a dialog get 481; other methods of Allow 404; the rest 501.
// - A request without Via, From, To, Call-ID or CSeq is dropped without a word (chan_sip: "incomplete"),
//   a message past maxMessage ends the session, and tcpauthtimeout ends one that never authenticated.
import type { CapturedHash, ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { drawMs } from "../schema.ts";
import { ByteQueue } from "../../wire/queue.ts";
import type { SipTemplates } from "./templates.ts";

/** The most a session holds: one message at chan_sip's largest. */
export const SIP_MAX_BUFFERED = 65536;
const MAX_HEADERS = 128;
const FIELD_MAX = 256;
const AUTH_TIMER = "tcpauthtimeout";

const COMPACT: Record<string, string> = { v: "via", f: "from", t: "to", i: "call-id", m: "contact", l: "content-length", k: "supported", c: "content-type" };

interface Request {
  method: string;
  uri: string;
  headers: { name: string; value: string }[];
}

function header(r: Request, name: string): string | undefined {
  return r.headers.find((h) => h.name === name)?.value;
}

/** Digest parameters: name=value or name="value", comma-separated. */
export function digestParams(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  let m: RegExpExecArray | null;
  let n = 0;
  while ((m = re.exec(v)) !== null && n++ < 32) out[m[1]!.toLowerCase()] = (m[2] ?? m[3] ?? "").slice(0, FIELD_MAX);
  return out;
}

/** hashcat 11400's line: the digest URI split into prefix, resource and suffix at its first two colons. */
export function sipHashLine(server: string, client: string, method: string, p: Record<string, string>): string | undefined {
  const fields = [p.username ?? "", p.realm ?? "", method, p.uri ?? "", p.nonce ?? "", p.cnonce ?? "", p.nc ?? "", p.qop ?? ""];
  if (fields.some((f) => f.includes("*"))) return undefined;
  if (!/^[0-9a-fA-F]{32}$/.test(p.response ?? "") || (p.nonce ?? "") === "" || (p.uri ?? "") === "") return undefined;
  if (p.algorithm !== undefined && p.algorithm.toUpperCase() !== "MD5") return undefined;
  const parts = p.uri!.split(":");
  const [prefix, resource, suffix] = parts.length === 1 ? ["", parts[0]!, ""] : [parts[0]!, parts[1]!, parts.slice(2).join(":")];
  if (resource === "") return undefined;
  return ["$sip$", server, client, p.username ?? "", p.realm ?? "", method, prefix, resource, suffix, p.nonce, p.cnonce ?? "", p.nc ?? "", p.qop ?? "", "MD5", p.response!.toLowerCase()].join("*");
}

export function startSip(ctx: SessionContext<SipTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const queue = new ByteQueue();
  const allowed = new Set(t.allow.split(",").map((m) => m.trim().toUpperCase()));
  /** Nonces handed out on this connection, by Call-ID (chan_sip keeps one per dialog). */
  const nonces = new Map<string, string>();
  let done = false;
  /** How far the queue has been searched for the end of the head (so each byte is looked at once). */
  let scanned = 0;

  const hex8 = () => Array.from(ctx.random(4), (b) => b.toString(16).padStart(2, "0")).join("");

  function response(req: Request, status: string, extra: string[] = []): string {
    const lines = [`SIP/2.0 ${status}`];
    let first = true;
    for (const h of req.headers) {
      if (h.name !== "via") continue;
      let via = h.value;
      if (first) {
        // chan_sip always adds received= to the topmost Via; a bare rport is moved to the end with its value.
        if (/;rport(?=;|$)/.test(via)) via = `${via.replace(/;rport(?=;|$)/, "")};received=${ctx.remoteAddress};rport=${ctx.remotePort}`;
        else via += `;received=${ctx.remoteAddress}`;
        first = false;
      }
      lines.push(`Via: ${via}`);
    }
    lines.push(`From: ${header(req, "from")}`);
    const to = header(req, "to")!;
    lines.push(`To: ${/;\s*tag=/i.test(to) ? to : `${to};tag=as${hex8()}`}`);
    lines.push(`Call-ID: ${header(req, "call-id")}`, `CSeq: ${header(req, "cseq")}`, t.serverHeader, `Allow: ${t.allow}`, `Supported: ${t.supported}`);
    lines.push(...extra, "Content-Length: 0", "", "");
    return lines.join("\r\n");
  }

  function challenge(req: Request, stale = false): string {
    const nonce = hex8();
    const callId = header(req, "call-id")!;
    if (!nonces.has(callId) && nonces.size >= 16) nonces.delete(nonces.keys().next().value!);
    nonces.set(callId, nonce);
    return response(req, "401 Unauthorized", [`WWW-Authenticate: Digest algorithm=MD5, realm="${t.realm}", nonce="${nonce}"${stale ? ", stale=true" : ""}`]);
  }

  /** The R-URI's user part, or undefined when it names the host alone. */
  function uriUser(uri: string): string | undefined {
    const m = /^sips?:([^@;?]*)@/i.exec(uri);
    return m ? m[1] : undefined;
  }

  function uriHost(uri: string): string {
    return (/^sips?:(?:[^@;?]*@)?([^;?:>]*)/i.exec(uri)?.[1] ?? "").toLowerCase();
  }

  function onRequest(req: Request): { write?: string; events: ProtocolEvent[] } {
    const events: ProtocolEvent[] = [{ action: "command", command: `${req.method} ${req.uri}`.slice(0, 512) }];
    const method = req.method.toUpperCase();
    const cseq = header(req, "cseq") ?? "";
    if (["via", "from", "to", "call-id"].some((n) => header(req, n) === undefined) || !/^\s*\d+\s+\S+/.test(cseq)) {
      events.push({ action: "error", message: "incomplete SIP request" });
      return { events };
    }
    switch (method) {
      case "ACK":
        return { events };
      case "OPTIONS": {
        const self = uriUser(req.uri) === undefined && [ctx.localAddress, ctx.hostname.toLowerCase(), ctx.host.fqdn.toLowerCase()].includes(uriHost(req.uri));
        if (self) return { write: response(req, "200 OK", [`Contact: <sip:${ctx.localAddress}:${ctx.localPort};transport=tcp>`, "Accept: application/sdp"]), events };
        return { write: response(req, t.optionsStatus, ["Accept: application/sdp"]), events };
      }
      case "REGISTER":
      case "INVITE": {
        const auth = header(req, "authorization") ?? header(req, "proxy-authorization");
        if (auth === undefined || !/^\s*digest\s/i.test(auth)) return { write: challenge(req), events };
        const p = digestParams(auth.replace(/^\s*digest\s+/i, ""));
        const line = sipHashLine(ctx.localAddress, ctx.remoteAddress, method, p);
        const hash: CapturedHash | undefined = line ? { value: line, type: "sip-digest", hashcatMode: 11400 } : undefined;
        const client: Record<string, string> = {};
        const ua = header(req, "user-agent");
        if (ua !== undefined) client.user_agent = ua.slice(0, FIELD_MAX);
        if (!hash && p.response !== undefined) client.auth_response = p.response.slice(0, 128);
        events.push({
          action: "login",
          method: `sip-${method.toLowerCase()}`,
          user: (p.username ?? uriUser(header(req, "from") ?? "") ?? "").slice(0, FIELD_MAX),
          ...(p.realm !== undefined ? { domain: p.realm } : {}),
          ...(hash ? { hash } : {}),
          ...(Object.keys(client).length > 0 ? { client } : {}),
        });
        const issued = nonces.get(header(req, "call-id")!);
        if (issued === undefined || issued !== p.nonce) return { write: challenge(req, issued !== undefined), events };
        nonces.delete(header(req, "call-id")!);
        return { write: response(req, "403 Forbidden"), events };
      }
      case "BYE":
      case "CANCEL":
        return { write: response(req, "481 Call/Transaction Does Not Exist"), events };
      default:
        if (allowed.has(method)) return { write: response(req, "404 Not Found"), events };
        return { write: response(req, "501 Method Not Implemented"), events };
    }
  }

  /** Parses a head (request line and headers) as chan_sip reads it; undefined for a response or a non-request. */
  function parseHead(text: string): Request | "response" | undefined {
    const lines = text.split(/\r?\n/);
    const first = lines.shift() ?? "";
    if (/^SIP\/2\.0 /.test(first)) return "response";
    const m = /^([A-Za-z]+) (\S+) SIP\/2\.0$/.exec(first);
    if (!m) return undefined;
    const headers: Request["headers"] = [];
    for (const l of lines) {
      if (headers.length >= MAX_HEADERS) break;
      const i = l.indexOf(":");
      if (i <= 0) continue;
      const raw = l.slice(0, i).trim().toLowerCase();
      headers.push({ name: COMPACT[raw] ?? raw, value: l.slice(i + 1).trim().slice(0, 1024) });
    }
    return { method: m[1]!, uri: m[2]!.slice(0, 512), headers };
  }

  return {
    buffered: () => queue.length,
    open(): Reply {
      return { timers: { [AUTH_TIMER]: drawMs(t.authTimeoutMs, ctx.random) } };
    },
    timer(name: string): Reply {
      if (name !== AUTH_TIMER || done) return {};
      done = true;
      queue.clear();
      return { close: true };
    },
    data(chunk: Uint8Array): Reply {
      if (done) return {};
      const writes: string[] = [];
      const events: ProtocolEvent[] = [];
      let close = false;
      let at = 0;
      while (at < chunk.length || queue.length > 0) {
        // Take no more than one message's worth: what is past the cap waits in the chunk.
        const take = Math.min(chunk.length - at, t.maxMessage + 4 - queue.length);
        if (take > 0) queue.push(chunk.subarray(at, at + take));
        at += Math.max(0, take);
        // Keep-alive CRLFs between messages are skipped.
        let skip = 0;
        while (skip < queue.length && (queue.at(skip) === 0x0d || queue.at(skip) === 0x0a)) skip++;
        if (skip > 0) {
          queue.take(skip);
          scanned = 0;
        }
        const v = queue.view();
        let end = -1;
        let sep = 4;
        let i = Math.max(0, scanned - 3);
        for (; i + 1 < v.length; i++) {
          if (v[i] === 0x0a && v[i + 1] === 0x0a) {
            end = i;
            sep = 2;
            break;
          }
          if (i + 3 < v.length && v[i] === 0x0d && v[i + 1] === 0x0a && v[i + 2] === 0x0d && v[i + 3] === 0x0a) {
            end = i;
            break;
          }
        }
        if (end < 0) {
          scanned = v.length;
          if (queue.length > t.maxMessage) {
            events.push({ action: "error", message: "SIP message over the size limit" });
            close = true;
          }
          if (close || at >= chunk.length) break;
          continue;
        }
        const head = queue.latin1(0, end);
        const cl = /^(?:content-length|l)[ \t]*:[ \t]*(\d{1,9})[ \t]*$/im.exec(head);
        const body = cl ? Number.parseInt(cl[1]!, 10) : 0;
        if (end + sep + body > t.maxMessage) {
          events.push({ action: "error", message: "SIP message over the size limit" });
          close = true;
          break;
        }
        if (queue.length < end + sep + body) {
          scanned = end; // the head is whole: wait for the body without searching it again
          if (at >= chunk.length) break;
          continue;
        }
        queue.take(end + sep + body);
        scanned = 0;
        const req = parseHead(head);
        if (req === "response") continue;
        if (!req) {
          events.push({ action: "error", message: "malformed SIP request line" });
          continue;
        }
        const r = onRequest(req);
        if (r.write !== undefined) writes.push(r.write);
        events.push(...r.events);
      }
      const reply: Reply = {};
      if (writes.length > 0) reply.write = writes.join("");
      if (events.length > 0) reply.events = events;
      if (close) {
        done = true;
        queue.clear();
        reply.close = true;
      }
      return reply;
    },
  };
}
