// RFB (VNC) up to a refused VNC authentication: the server's ProtocolVersion, the client's, the security
// types (3.7/3.8) or the one the server decides (3.3), a 16-byte challenge, the client's 16-byte DES
// response kept as John the Ripper's `$vnc$*challenge*response` line, and the failed SecurityResult with
// the product's words (3.8 only). Nothing past authentication exists here.
//
// The template keys are in templates.ts.
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { hex, toLatin1 } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { drawMs } from "../schema.ts";
import type { VncTemplates } from "./templates.ts";

/** The most the session reads ahead: a version line, a type byte, a response, with room to spare. */
const READ_MAX = 64;
export const VNC_MAX_BUFFERED = READ_MAX;

const VNC_AUTH = 2;

type Phase = "version" | "type" | "response" | "failing" | "closed";

function u32(n: number): string {
  return String.fromCharCode((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

/** The client's ProtocolVersion: the 3.x minor the server will speak, or undefined when it is not one. */
export function negotiatedMinor(line: string, highest: number): number | undefined {
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(line);
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  if (major !== 3) return major > 3 ? Math.min(8, highest) : undefined;
  // RFC 6143: 3.7 and 3.8 as asked, anything newer as 3.8 (Apple's 3.889), anything else as 3.3.
  const asked = minor >= 8 ? 8 : minor === 7 ? 7 : 3;
  const minorServed = Math.min(asked, highest);
  return minorServed >= 8 ? 8 : minorServed === 7 ? 7 : 3;
}

export function startVnc(ctx: SessionContext<VncTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const types = Uint8Array.from(Buffer.from(t.securityTypes, "hex"));
  const input = new ByteQueue();
  let phase: Phase = "version";
  let minor = 3;
  let clientVersion = "";
  let challenge: Uint8Array = new Uint8Array(0);

  function challengeOut(): string {
    challenge = ctx.random(16);
    phase = "response";
    return toLatin1(challenge);
  }

  function protocolError(message: string, events: ProtocolEvent[]): Reply {
    phase = "closed";
    input.clear();
    events.push({ action: "error", message });
    return { events, close: true };
  }

  function step(events: ProtocolEvent[]): Reply | string | undefined {
    if (phase === "version") {
      // The server reads exactly the 12 bytes of a ProtocolVersion message, whatever they hold.
      if (input.length < 12) return undefined;
      const line = input.latin1(0, 12);
      input.skip(12);
      const m = negotiatedMinor(line, t.highestMinor);
      if (m === undefined) return protocolError("not a valid RFB client version", events);
      minor = m;
      clientVersion = line.slice(0, 11);
      if (minor === 3) return u32(VNC_AUTH) + challengeOut();
      phase = "type";
      return String.fromCharCode(types.length) + toLatin1(types);
    }
    if (phase === "type") {
      if (input.length < 1) return undefined;
      const chosen = input.take(1)[0]!;
      if (!types.includes(chosen)) return protocolError("security type not offered", events);
      if (chosen !== VNC_AUTH) return protocolError("security type not supported", events);
      return challengeOut();
    }
    if (phase === "response") {
      if (input.length < 16) return undefined;
      const response = input.take(16);
      events.push({
        action: "login",
        method: "vnc",
        hash: { value: `$vnc$*${hex(challenge).toUpperCase()}*${hex(response).toUpperCase()}`, type: "vnc", hashcatMode: 14000 },
        client: { version: clientVersion },
      });
      phase = "failing";
      input.clear();
      return { events, timers: { fail: drawMs(t.failDelayMs, ctx.random), handshake: null } };
    }
    return undefined;
  }

  function serve(): Reply {
    const events: ProtocolEvent[] = [];
    let out = "";
    for (let i = 0; i < 4; i++) {
      const r = step(events);
      if (r === undefined) break;
      if (typeof r !== "string") return out === "" ? r : { ...r, write: out };
      out += r;
    }
    const reply: Reply = {};
    if (out !== "") reply.write = out;
    if (events.length > 0) reply.events = events;
    return reply;
  }

  return {
    buffered: () => input.length,
    open(): Reply {
      return { write: `${t.version}\n`, timers: { handshake: drawMs(t.handshakeTimeoutMs, ctx.random) } };
    },
    data(chunk: Uint8Array): Reply {
      if (phase === "closed" || phase === "failing") return {};
      const room = READ_MAX - input.length;
      input.push(chunk.length <= room ? chunk : chunk.subarray(0, room));
      return serve();
    },
    timer(name: string): Reply {
      if (phase === "closed") return {};
      if (name === "fail" && phase === "failing") {
        phase = "closed";
        // SecurityResult 1 (failed); 3.8 adds the reason.
        const reason = minor >= 8 ? u32(t.failReason.length) + t.failReason : "";
        return { write: u32(1) + reason, close: true };
      }
      if (name === "handshake" && phase !== "failing") {
        phase = "closed";
        return { close: true };
      }
      return {};
    },
  };
}
