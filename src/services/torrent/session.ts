// Fake BitTorrent peer (BEP 3 peer wire protocol). A connection starts with the initiator's handshake:
// <19>"BitTorrent protocol"<8 reserved><20 info_hash><20 peer_id>. We answer in the claimed client's style
// (peer-id prefix, reserved bits, extension handshake) and log the info_hash. Some clients also speak HTTP on
// the peer port (Azureus' tracker/webseed, uTorrent's WebUI) or greet first (Python mainline); old
// Transmission tells anything else "Nice try...". All of that is per-entry data in the templates.
//
// Idle behaviour (timers): a silent peer, a peer stuck in its handshake, an idle peer after the handshake
// and an idle keep-alive HTTP connection are each dropped after the client's own delay, and an
// established peer gets a keep-alive at the client's interval. Each client's numbers and where they come
// from are in fixtures/services/torrent.json (notes).
import { httpFieldsOfLine } from "../../wire/http-fields.ts";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { hostTime } from "../../host/facts.ts";
import { drawMs, type MsRange } from "../schema.ts";
import { fill } from "../../util/template.ts";
import { clip, concatBytes, hex, toLatin1, utf8 } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { mergeReplies } from "../../wire/reply.ts";
import type { TorrentTemplates } from "./templates.ts";

const PSTR = "BitTorrent protocol";
const HEADER = Uint8Array.from([19, ...[...PSTR].map((c) => c.charCodeAt(0))]);
const HANDSHAKE_LEN = 68;
/** Largest peer message accepted: a 16 KiB block plus headroom, like clients' "message too large" checks. */
const MAX_MESSAGE = 128 * 1024 + 13;
/** An HTTP request head larger than this is not a real client's. */
const MAX_HTTP_HEAD = 8192;
/** Input held beyond a whole message (or request head) before the peer is dropped. */
const SLACK = 65536;
/** The most a session holds of its peer's input (the larger of the two states' limits). */
export const TORRENT_MAX_BUFFERED = Math.max(MAX_MESSAGE + 4 + SLACK, MAX_HTTP_HEAD + SLACK);

const MSG_EXTENDED = 20;
const MSG_HAVE_NONE = 0x0f;

const CHARSETS: Record<string, string> = {
  hex: "0123456789abcdef",
  alnum: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  base36: "abcdefghijklmnopqrstuvwxyz0123456789",
  shadow: "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz.-",
};

const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "OPTIONS", "DELETE", "TRACE", "CONNECT"];
const HTTP_METHOD = new RegExp(`^(?:${HTTP_METHODS.join("|")}) `);

function u32be(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/** Bencoded string: <length>:<bytes>. */
function bstr(b: Uint8Array): Uint8Array {
  return concatBytes([utf8(`${b.length}:`), b]);
}

/** Finds the string value of a top-level key in a bencoded dictionary, without a full decoder. */
function bencodedString(d: Uint8Array, key: string): string | undefined {
  const text = toLatin1(d);
  const needle = `${key.length}:${key}`;
  const at = text.indexOf(needle);
  if (at < 0) return undefined;
  const m = /^(\d{1,5}):/.exec(text.slice(at + needle.length, at + needle.length + 7));
  if (!m) return undefined;
  const start = at + needle.length + m[0].length;
  const len = Number(m[1]);
  if (start + len > text.length) return undefined;
  return text.slice(start, start + len);
}

/** Index of the first CR LF CR LF in `b` at or after `from`, or -1. */
function headEnd(b: Uint8Array, from: number): number {
  for (let i = b.indexOf(13, from); i >= 0 && i + 3 < b.length; i = b.indexOf(13, i + 1)) {
    if (b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

export function startTorrent(ctx: SessionContext<TorrentTemplates>): ProtocolSession {
    const t = ctx.entry.templates;
    const reserved = t.reserved;
    const greetFirst = t.greetFirst;
    const garbageReply = t.garbageReply;
    const garbageCheck = t.garbageCheckBytes;
    const speaksHttp = t.httpResponse !== undefined;
    const httpKeepAlive = t.httpKeepAlive;

    // A client makes its peer id once per run: derive it from the host, not the session.
    const prefix = t.peerIdPrefix;
    const charset = t.peerIdCharset;
    const peerId = new Uint8Array(20);
    for (let i = 0; i < 20; i++) {
      if (i < prefix.length) peerId[i] = prefix.charCodeAt(i) & 0xff;
      else if (charset === "binary") peerId[i] = Math.floor(ctx.hostRandom(`peer-id-${i}`) * 256);
      else {
        const set = CHARSETS[charset] ?? CHARSETS.alnum!;
        peerId[i] = set.charCodeAt(Math.floor(ctx.hostRandom(`peer-id-${i}`) * set.length));
      }
    }

    // The torrents this client seeds: the same on every connection of the host, unknown to anyone else.
    const seeding = new Set(seededInfoHashes(ctx, t.torrents));

    /** What the peer sent and no step has consumed yet (read from the front, never re-copied whole). */
    const pending = new ByteQueue();
    /** How far into `pending` the search for the end of an HTTP request head has already looked. */
    let headScanned = 0;
    let state: "handshake" | "http" | "peer" | "closed" = "handshake";
    let sentHashAndId = false;
    let theirReserved = new Uint8Array(8);
    let httpRequests = 0;
    /** Whether any byte came from the peer: a silent peer is timed by silentMs, a started one by handshakeIdleMs. */
    let heardFrom = false;
    let keepaliveArmed = false;
    const wait = (range: MsRange) => drawMs(range, ctx.random);

    const supportsLtep = (r: Uint8Array) => (r[5]! & 0x10) !== 0;
    const supportsFast = (r: Uint8Array) => (r[7]! & 0x04) !== 0;

    const extendedHandshake = (): Uint8Array => {
      // Keys sorted, as bencoding requires.
      const parts: Uint8Array[] = [utf8("d1:md")];
      const msgs = Object.entries(t.extMessages).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      for (const [k, v] of msgs) parts.push(bstr(utf8(k)), utf8(`i${v}e`));
      parts.push(utf8(`e1:pi${ctx.localPort}e4:reqqi${t.extReqq}e`));
      if (t.extVersion) parts.push(utf8("1:v"), bstr(utf8(t.extVersion)));
      const ip = ctx.remoteAddress.split(".").map((x) => Number.parseInt(x, 10));
      if (ip.length === 4 && ip.every((x) => x >= 0 && x <= 255)) parts.push(utf8("6:yourip"), bstr(Uint8Array.from(ip)));
      parts.push(utf8("e"));
      const payload = concatBytes(parts);
      return Uint8Array.from([...u32be(payload.length + 2), MSG_EXTENDED, 0, ...payload]);
    };

    /** What follows our handshake: the LTEP handshake and HAVE_NONE when both sides support them. */
    const afterHandshake = (): Uint8Array[] => {
      const out: Uint8Array[] = [];
      if (supportsLtep(reserved) && supportsLtep(theirReserved)) out.push(extendedHandshake());
      if (supportsFast(reserved) && supportsFast(theirReserved)) out.push(Uint8Array.from([0, 0, 0, 1, MSG_HAVE_NONE]));
      return out;
    };

    /** The handshake as an event: the torrent asked for and the peer's id are fields, for pipelines to count swarms and clients. */
    const handshakeEvent = (buf: Uint8Array): ProtocolEvent => {
      const infoHash = hex(buf.subarray(28, 48));
      const theirId = buf.length >= HANDSHAKE_LEN ? toLatin1(buf.subarray(48, 68)) : undefined;
      return {
        action: "command",
        command: `handshake info_hash=${infoHash}${theirId === undefined ? "" : ` peer_id=${clip(theirId)}`}`,
        client: { info_hash: infoHash, ...(theirId === undefined ? {} : { peer_id: theirId }) },
      };
    };

    const handshakeReply = (buf: Uint8Array): Reply => {
      theirReserved = buf.slice(20, 28);
      const infoHash = buf.subarray(28, 48);
      const events: ProtocolEvent[] = [handshakeEvent(buf)];
      const parts: Uint8Array[] = [];
      if (!greetFirst) parts.push(HEADER, reserved);
      if (!sentHashAndId) parts.push(infoHash, peerId);
      sentHashAndId = true;
      parts.push(...afterHandshake());
      state = "peer";
      return { write: concatBytes(parts), events };
    };

    const httpReply = (head: string): Reply => {
      httpRequests++;
      const requestLine = head.split("\r\n", 1)[0] ?? "";
      const [method = "", path = ""] = requestLine.split(" ");
      const ua = /\r\nUser-Agent:[ \t]*([^\r\n]*)/i.exec(head)?.[1]?.trim();
      const http = httpFieldsOfLine(requestLine, ua);
      const events: ProtocolEvent[] = [{ action: "command", command: clip(requestLine, 512), ...(http ? { http } : {}) }];
      let status = t.httpResponse ?? "";
      let body = t.httpBody;
      if (t.announceFailure !== undefined && /^\/announce(\?|$)/.test(path)) {
        // The tracker knows no torrent of this host's: a bencoded failure, as its own clients expect.
        const hasHash = /[?&]info_hash=/.test(path);
        const reason = hasHash ? t.announceFailure : t.announceNoHash;
        body = `d14:failure reason${utf8(reason).length}:${reason}e`;
        const hash = /[?&]info_hash=([^&]{1,180})/.exec(path)?.[1];
        if (hash !== undefined) events[0] = { ...events[0]!, client: { info_hash: announcedHash(hash) } };
      }
      if (t.httpAuthPath && path.startsWith(t.httpAuthPath)) {
        // WebUI login attempts: log the Basic credentials, never accept them.
        const auth = /\r\nAuthorization:\s*Basic\s+([A-Za-z0-9+/=]{1,512})/i.exec(head);
        if (auth) {
          const decoded = Buffer.from(auth[1]!, "base64").toString("latin1");
          const colon = decoded.indexOf(":");
          events.push({
            action: "login",
            user: clip(colon >= 0 ? decoded.slice(0, colon) : decoded),
            password: clip(colon >= 0 ? decoded.slice(colon + 1) : ""),
          });
        }
        status = t.httpAuthResponse ?? status;
        body = t.httpAuthBody;
      }
      if (method === "HEAD") body = "";
      const bodyBytes = utf8(body);
      const values = { length: bodyBytes.length, date: hostTime(ctx.host, ctx.now()).toUTCString(), hostname: ctx.hostname };
      const write = concatBytes([utf8(fill(status, values)), bodyBytes]);
      const close = !httpKeepAlive || /\r\nConnection:\s*close/i.test(head) || httpRequests >= 20;
      return { write, events, ...(close ? { close: true } : {}) };
    };

    /** Consumes the handshake state; returns undefined when more bytes are needed. */
    const stepHandshake = (): Reply | undefined => {
      const b = pending.view();
      if (speaksHttp && b[0] !== 19) {
        // A client with an HTTP side (tracker, WebUI) routes by the first bytes: an HTTP method goes there.
        const head = toLatin1(b.subarray(0, 8));
        if (HTTP_METHOD.test(head)) {
          state = "http";
          return stepHttp();
        }
        if (/^[A-Z]{1,7}$/.test(head) && HTTP_METHODS.some((m) => m.startsWith(head))) return undefined;
      }
      if (garbageReply) {
        // Old Transmission judges the first four bytes at once: "\x13Bit" or "Nice try...".
        if (b.length < garbageCheck) return undefined;
        if (!HEADER.subarray(0, garbageCheck).every((v, i) => b[i] === v)) return { write: garbageReply, close: true, events: [{ action: "error", message: "not a BitTorrent handshake" }] };
      }
      const known = Math.min(b.length, HEADER.length);
      for (let i = 0; i < known; i++) if (b[i] !== HEADER[i]) return { close: true, events: [{ action: "error", message: "not a BitTorrent handshake" }] };
      if (b.length >= 48 && !seeding.has(hex(b.subarray(28, 48)))) {
        // Not a torrent this client has: it hangs up once it has read the info_hash, saying nothing more
        // (the peer's id is logged when it came in the same read).
        state = "closed";
        const event = handshakeEvent(b.subarray(0, Math.min(b.length, HANDSHAKE_LEN)));
        pending.clear();
        return { close: true, events: [event] };
      }
      if (greetFirst && !sentHashAndId && b.length >= 48) {
        // Python mainline answers with its info_hash and peer id as soon as it has read the peer's info_hash.
        sentHashAndId = true;
        const pre: Reply = { write: concatBytes([b.subarray(28, 48), peerId]) };
        if (b.length < HANDSHAKE_LEN) return pre;
        const rest = handshakeReply(b);
        pending.skip(HANDSHAKE_LEN);
        return mergeReplies(pre, rest);
      }
      if (b.length < HANDSHAKE_LEN) return undefined;
      const r = handshakeReply(b);
      pending.skip(HANDSHAKE_LEN);
      return r;
    };

    const stepHttp = (): Reply | undefined => {
      // The head ends at the first CR LF CR LF within MAX_HTTP_HEAD + 4 bytes; bytes already searched are
      // not searched again.
      const b = pending.view().subarray(0, MAX_HTTP_HEAD + 4);
      const end = headEnd(b, Math.max(0, headScanned - 3));
      if (end < 0) {
        headScanned = b.length;
        if (pending.length > MAX_HTTP_HEAD) return { close: true };
        return undefined;
      }
      const r = httpReply(toLatin1(b.subarray(0, end)));
      pending.skip(end + 4);
      headScanned = 0;
      return r;
    };

    const stepPeer = (): Reply | undefined => {
      if (pending.length < 4) return undefined;
      const len = ((pending.at(0)! << 24) | (pending.at(1)! << 16) | (pending.at(2)! << 8) | pending.at(3)!) >>> 0;
      if (len > MAX_MESSAGE) return { close: true, events: [{ action: "error", message: "peer message over the length limit" }] };
      if (pending.length < 4 + len) return undefined;
      pending.skip(4);
      const msg = pending.take(len);
      if (len === 0) return {}; // keep-alive
      const id = msg[0]!;
      if (id === MSG_EXTENDED && msg[1] === 0 && supportsLtep(reserved)) {
        const v = bencodedString(msg.subarray(2), "v");
        return v !== undefined ? { events: [{ action: "command", command: `extended handshake v=${clip(v, 100)}` }] } : {};
      }
      // Choke/unchoke/interested/have/bitfield/request/piece/cancel/port, and the fast-extension set: we stay
      // choking and silent, as a client does towards a peer it has nothing to give.
      if (id <= 9 || (supportsFast(reserved) && id >= 0x0d && id <= 0x11) || id === MSG_EXTENDED) return {};
      return { close: true };
    };

    /** The timers after a data() call: which idle rule applies now, the keep-alive, the deadline. */
    const timersNow = (): Record<string, number | null> => {
      const timers: Record<string, number | null> = {};
      if (state === "peer") {
        timers.idle = wait(t.peerIdleMs);
        timers.deadline = null;
        if (t.keepaliveMs && !keepaliveArmed) {
          keepaliveArmed = true;
          timers.keepalive = wait(t.keepaliveMs);
        }
      } else if (state === "http" && pending.length === 0 && httpRequests > 0 && t.httpIdleMs) {
        timers.idle = wait(t.httpIdleMs);
      } else {
        timers.idle = wait(heardFrom ? t.handshakeIdleMs : t.silentMs);
      }
      return timers;
    };

    return {
      buffered: () => pending.length,
      open(): Reply {
        const timers: Record<string, number> = { idle: wait(t.silentMs) };
        if (t.handshakeDeadlineMs) timers.deadline = wait(t.handshakeDeadlineMs);
        // Python mainline (and BitTornado) write their protocol header the moment a connection is accepted.
        return greetFirst ? { write: concatBytes([HEADER, reserved]), timers } : { timers };
      },
      data(chunk: Uint8Array): Reply {
        if (state === "closed") return {};
        if (chunk.length > 0) heardFrom = true;
        const limit = state === "peer" ? MAX_MESSAGE + 4 + SLACK : MAX_HTTP_HEAD + SLACK;
        if (pending.length + chunk.length > limit) {
          state = "closed";
          pending.clear();
          return { close: true };
        }
        pending.push(chunk);
        let out: Reply = {};
        // Every step consumes bytes or waits for more, so this ends; the count is only a second bound.
        for (let guard = 0; guard <= limit && pending.length > 0; guard++) {
          const step = state === "handshake" ? stepHandshake() : state === "http" ? stepHttp() : stepPeer();
          if (step === undefined) break;
          out = mergeReplies(out, step);
          if (out.close) {
            state = "closed";
            break;
          }
        }
        if (state === "closed") {
          pending.clear();
          return out;
        }
        return { ...out, timers: timersNow() };
      },
      timer(name: string): Reply {
        if (state === "closed") return {};
        if (name === "keepalive") {
          if (state !== "peer" || !t.keepaliveMs) return {};
          return { write: Uint8Array.of(0, 0, 0, 0), timers: { keepalive: wait(t.keepaliveMs) } };
        }
        // idle or deadline: the client gives up on this peer, without a word.
        state = "closed";
        return { close: true };
      },
    };
}

/** The info_hash of an announce URL (20 bytes, percent-encoded) as 40 hex digits; what was sent, escaped, when it is not 20 bytes. */
function announcedHash(encoded: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length && bytes.length <= 20; i++) {
    if (encoded[i] === "%" && /^[0-9A-Fa-f]{2}$/.test(encoded.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i) & 0xff);
  }
  return bytes.length === 20 ? hex(Uint8Array.from(bytes)) : clip(encoded, 180);
}

/** The info_hashes of the torrents a host's client seeds: 20 bytes each from the host's own random source. */
export function seededInfoHashes(ctx: Pick<SessionContext, "hostRandom">, count: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    const bytes = new Uint8Array(20);
    for (let i = 0; i < 20; i++) bytes[i] = Math.floor(ctx.hostRandom(`seeding-${k}-${i}`) * 256);
    out.push(hex(bytes));
  }
  return out;
}
