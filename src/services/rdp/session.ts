// RDP up to a refused Network Level Authentication: the X.224 Connection Request (TPKT), the Connection
// Confirm with the release's RDP Negotiation Response (or a bare one, as XP/2003 answer), TLS started by
// the listener, then CredSSP: the client's TSRequest with an NTLM NEGOTIATE gets the CHALLENGE naming the
// host and its Windows version (what nmap's rdp-ntlm-info prints), and the AUTHENTICATE is a login whose
// NetNTLMv2 response is kept, refused with STATUS_LOGON_FAILURE. Standard RDP security (MCS, the
// proprietary certificate) is not spoken: such a client is dropped after its first PDU.
//
// The template keys are in templates.ts.
import { hostTime } from "../../host/facts.ts";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { clip, rd32 } from "../../wire/bytes.ts";
import { der } from "../../wire/der.ts";
import { ntlmLoginEvent, ntlmChallenge, ntlmFromBlob, parseNtlmAuth } from "../../wire/ntlmssp.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { drawMs } from "../schema.ts";
import type { RdpTemplates } from "./templates.ts";

/** The longest TPKT or TSRequest the session takes whole; a longer one ends the connection. */
const PDU_MAX = 16 * 1024;
export const RDP_MAX_BUFFERED = PDU_MAX + 8;

const PROTOCOL_SSL = 1;
const PROTOCOL_HYBRID = 2;

type Phase = "request" | "bare" | "ssl" | "nla" | "closed";

function bytes(a: number[]): string {
  return String.fromCharCode(...a);
}

/** X.224 Connection Confirm in a TPKT, with an RDP_NEG_RSP or RDP_NEG_FAILURE when given (type, flags, value). */
function connectionConfirm(srcRef: number, neg?: [number, number, number]): string {
  const x224 = [0xd0, 0, 0, (srcRef >> 8) & 0xff, srcRef & 0xff, 0];
  const body = neg === undefined ? x224 : [...x224, neg[0], neg[1], 8, 0, neg[2] & 0xff, (neg[2] >> 8) & 0xff, (neg[2] >> 16) & 0xff, neg[2] >>> 24];
  const len = 4 + 1 + body.length;
  return bytes([3, 0, len >> 8, len & 0xff, body.length, ...body]);
}

/** The requestedProtocols of an RDP_NEG_REQ after the X.224 header (and a cookie or routing token), if any. */
export function requestedProtocols(pdu: Uint8Array): number | undefined {
  let at = 11;
  // A cookie ("Cookie: mstshash=…") or a routing token ends with CR LF.
  for (let i = at; i + 1 < pdu.length; i++) {
    if (pdu[i] === 0x0d && pdu[i + 1] === 0x0a) {
      at = i + 2;
      break;
    }
  }
  if (pdu.length < at + 8 || pdu[at] !== 1) return undefined;
  return rd32(pdu, at + 4);
}

/** A DER length at `at`: [length, header bytes], or undefined when incomplete, or -1 when not one we take. */
function derLength(q: ByteQueue): [number, number] | undefined | -1 {
  if (q.length < 2) return undefined;
  const first = q.at(1)!;
  if (first < 0x80) return [first, 2];
  const n = first & 0x7f;
  if (n === 0 || n > 3) return -1;
  if (q.length < 2 + n) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + q.at(2 + i)!;
  return [len, 2 + n];
}

export function startRdp(ctx: SessionContext<RdpTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const input = new ByteQueue();
  let phase: Phase = "request";
  let challenge: Uint8Array = new Uint8Array(0);

  function fail(message: string, events: ProtocolEvent[]): Reply {
    const first = phase === "request";
    phase = "closed";
    input.clear();
    events.push({ action: "error", message });
    const r: Reply = { events, close: true };
    if (first && t.badRequest !== "") r.write = Buffer.from(t.badRequest, "hex").toString("latin1");
    return r;
  }

  function tsRequest(inner: number[]): string {
    return bytes(der(0x30, [...der(0xa0, der(0x02, [t.credsspVersion])), ...inner]));
  }

  /** The X.224 Connection Request: the Confirm the release gives, and what comes next. */
  function request(events: ProtocolEvent[]): Reply | undefined {
    if (input.length < 4) return undefined;
    if (input.at(0) !== 3) return fail("not a TPKT header", events);
    const len = (input.at(2)! << 8) | input.at(3)!;
    if (len < 11 || len > PDU_MAX) return fail("bad TPKT length", events);
    if (input.length < len) return undefined;
    const pdu = input.take(len);
    if ((pdu[5]! & 0xf0) !== 0xe0) return fail("not an X.224 Connection Request", events);
    const requested = t.negotiation ? requestedProtocols(pdu) : undefined;
    if (requested === undefined) {
      phase = "bare";
      return { write: connectionConfirm(t.srcRef) };
    }
    const usable = requested & t.protocols;
    const selected = usable & PROTOCOL_HYBRID ? PROTOCOL_HYBRID : usable & PROTOCOL_SSL ? PROTOCOL_SSL : 0;
    if (selected === 0 && t.standardSecurity) {
      phase = "bare";
      return { write: connectionConfirm(t.srcRef, [2, t.negFlags, 0]) };
    }
    if (selected === 0) {
      phase = "closed";
      return { write: connectionConfirm(t.srcRef, [3, 0, t.failureCode]), close: true };
    }
    phase = selected === PROTOCOL_HYBRID ? "nla" : "ssl";
    return { write: connectionConfirm(t.srcRef, [2, t.negFlags, selected]), startTls: true };
  }

  /** One TSRequest of CredSSP: NEGOTIATE gets the CHALLENGE, AUTHENTICATE is logged and refused. */
  function credssp(events: ProtocolEvent[]): Reply | undefined {
    if (input.length < 1) return undefined;
    if (input.at(0) !== 0x30) return fail("not a TSRequest", events);
    const l = derLength(input);
    if (l === undefined) return undefined;
    if (l === -1 || l[0] + l[1] > PDU_MAX) return fail("bad TSRequest length", events);
    if (input.length < l[0] + l[1]) return undefined;
    const msg = input.take(l[0] + l[1]);
    const token = ntlmFromBlob(msg);
    if (token?.type === 1) {
      challenge = ctx.random(8);
      const h = ctx.host;
      const id = { netbiosName: h.netbiosName, netbiosDomain: h.netbiosName, dnsName: h.fqdn, dnsDomain: h.domain, version: t.ntlmVersion };
      const flags = token.msg.length >= 16 ? rd32(token.msg, 12) : 0;
      const type2 = ntlmChallenge(id, flags, challenge, hostTime(h, ctx.now()));
      return { write: tsRequest(der(0xa1, der(0x30, der(0x30, der(0xa0, der(0x04, [...type2])))))) };
    }
    if (token?.type === 3) {
      const a = parseNtlmAuth(token.msg);
      if (a) {
        events.push(ntlmLoginEvent("rdp-ntlm", a, challenge));
      }
      phase = "closed";
      input.clear();
      const code = t.logonFailure >>> 0;
      const out = t.credsspVersion >= 3 ? tsRequest(der(0xa4, der(0x02, [code >>> 24, (code >> 16) & 0xff, (code >> 8) & 0xff, code & 0xff]))) : "";
      return { write: out, events, close: true };
    }
    return fail("no NTLM message in the TSRequest", events);
  }

  function serve(): Reply {
    const events: ProtocolEvent[] = [];
    const writes: string[] = [];
    for (let i = 0; i < 4 && phase !== "closed"; i++) {
      let r: Reply | undefined;
      if (phase === "request") r = request(events);
      else if (phase === "nla") r = credssp(events);
      else {
        // Standard RDP security or TLS without NLA: MCS is not spoken here; the client is dropped.
        phase = "closed";
        input.clear();
        r = { close: true };
      }
      if (r === undefined) break;
      if (r.write !== undefined) writes.push(String(r.write));
      if (r.close || r.startTls) {
        const out: Reply = { ...r, write: writes.join("") };
        if (events.length > 0) out.events = events;
        // What follows a switch to TLS is the client's handshake: the listener takes it, not this parser.
        if (r.startTls) input.clear();
        return out;
      }
    }
    const reply: Reply = {};
    if (writes.length > 0) reply.write = writes.join("");
    if (events.length > 0) reply.events = events;
    return reply;
  }

  return {
    buffered: () => input.length,
    open(): Reply {
      return { timers: { handshake: drawMs(t.handshakeTimeoutMs, ctx.random) } };
    },
    data(chunk: Uint8Array): Reply {
      if (phase === "closed") return {};
      // Never more than a whole PDU and a header ahead.
      const room = RDP_MAX_BUFFERED - input.length;
      input.push(chunk.length <= room ? chunk : chunk.subarray(0, Math.max(0, room)));
      return serve();
    },
    timer(name: string): Reply {
      if (phase === "closed" || name !== "handshake") return {};
      phase = "closed";
      return { close: true };
    },
  };
}
