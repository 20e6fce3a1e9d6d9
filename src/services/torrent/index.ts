// torrent: a BitTorrent peer (BEP 3 handshake), with the HTTP faces some clients show on the peer port.
import table from "../../../fixtures/services/torrent.json";
import type { ServiceModule } from "../../types.ts";
import { startTorrent, TORRENT_MAX_BUFFERED } from "./session.ts";
import { torrentTemplates, type TorrentTemplates } from "./templates.ts";

export const torrent: ServiceModule<TorrentTemplates> = {
  name: "torrent",
  aliases: ["bittorrent"],
  transport: "tcp",
  defaultPorts: [6881],
  templates: torrentTemplates,
  table,
  start: startTorrent,
  maxBuffered: TORRENT_MAX_BUFFERED,
  fuzzPrefixes: ["\x13BitTorrent protocol\x00\x00\x00\x00\x00\x10\x00\x05", "GET /announce?info_hash=", "\x13BitTorrent protocol"],
};
