// The torrent templates: the peer's handshake style, and the HTTP face some clients show on the peer port.
import { optional, schema, t, withDefault } from "../schema.ts";

export const torrentTemplates = schema({
  greetFirst: withDefault(t.bool("write our protocol header the moment a peer connects (Python mainline)"), false),
  reserved: t.hexBytes("the 8 reserved bytes of our handshake (extension bits)", 8),
  peerIdPrefix: t.text("the client's peer-id prefix (Azureus style -XX1234-, or Shadow style)"),
  peerIdCharset: t.oneOf("characters of the rest of the peer id", ["hex", "alnum", "base36", "shadow", "binary"] as const),
  garbageReply: withDefault(t.text("what the client writes to a peer whose first bytes are not the protocol header"), ""),
  garbageCheckBytes: withDefault(t.int("how many first bytes are checked before garbageReply", 1, 20), 1),
  extVersion: optional(t.text("the v key of the extension handshake (LTEP)")),
  extMessages: withDefault(t.numbers("extension message ids (m dictionary)"), { ut_pex: 1 }),
  extReqq: withDefault(t.int("the reqq key of the extension handshake", 1, 100000), 255),
  torrents: withDefault(t.int("torrents the client seeds (their info_hashes drawn per host): a handshake for any other torrent is dropped once its info_hash is read, as every client drops one for a torrent it does not have", 0, 50), 3),
  announceFailure: optional(t.text("the tracker's bencoded failure reason for an announce of a torrent it does not track (Azureus: \"Torrent unauthorised\"); absent: /announce is an ordinary page")),
  announceNoHash: withDefault(t.text("the failure reason for an announce without info_hash"), "Hash missing from request "),
  httpResponse: optional(t.text("status line and headers for an HTTP request on the peer port ({{length}})")),
  httpBody: withDefault(t.text("body of that response"), ""),
  httpKeepAlive: withDefault(t.bool("the HTTP face keeps the connection open"), false),
  httpAuthPath: optional(t.text("path prefix that answers httpAuthResponse (uTorrent's /gui)")),
  httpAuthResponse: optional(t.text("response head under httpAuthPath")),
  httpAuthBody: withDefault(t.text("body under httpAuthPath"), ""),
  // How long the client keeps a quiet peer (every drop is an orderly close, FIN). Milliseconds; a range where
  // the client checks on a periodic timer, so the drop comes anywhere in that window.
  silentMs: t.ms("a peer that has sent nothing since it connected is dropped after this"),
  handshakeIdleMs: t.ms("a peer part-way through its handshake (or an HTTP request head) is dropped this long after its last byte"),
  handshakeDeadlineMs: optional(t.ms("the handshake must be complete this long after the connect, however the bytes trickle in (BitTornado's 30 s auto-close)")),
  peerIdleMs: t.ms("after the handshake, a peer that sends nothing (not even a keep-alive) is dropped after this"),
  keepaliveMs: optional(t.ms("after the handshake, a keep-alive (four zero bytes) goes out this long after the last thing we sent")),
  httpIdleMs: optional(t.ms("a keep-alive HTTP face (httpKeepAlive) drops a connection idle this long after its last answer")),
});

export type TorrentTemplates = ReturnType<typeof torrentTemplates.parse>;
