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
  httpResponse: optional(t.text("status line and headers for an HTTP request on the peer port ({{length}})")),
  httpBody: withDefault(t.text("body of that response"), ""),
  httpKeepAlive: withDefault(t.bool("the HTTP face keeps the connection open"), false),
  httpAuthPath: optional(t.text("path prefix that answers httpAuthResponse (uTorrent's /gui)")),
  httpAuthResponse: optional(t.text("response head under httpAuthPath")),
  httpAuthBody: withDefault(t.text("body under httpAuthPath"), ""),
});

export type TorrentTemplates = ReturnType<typeof torrentTemplates.parse>;
