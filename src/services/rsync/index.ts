// rsync: the rsync daemon's text handshake (port 873) up to a refused module login.
import table from "../../../fixtures/services/rsync.json";
import type { ServiceModule } from "../../types.ts";
import { RSYNC_MAX_BUFFERED, startRsync } from "./session.ts";
import { rsyncTemplates, type RsyncTemplates } from "./templates.ts";

export const rsync: ServiceModule<RsyncTemplates> = {
  name: "rsync",
  aliases: ["rsyncd"],
  transport: "tcp",
  defaultPorts: [873],
  templates: rsyncTemplates,
  table,
  start: startRsync,
  maxBuffered: RSYNC_MAX_BUFFERED,
  // nmap's rsync-list-modules, a 3.2.7 client's listing, and a module login as rsync sends it.
  fuzzPrefixes: ["@RSYNCD: 29\n\n", "@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4\n#list\n", "@RSYNCD: 30.0\nbackup\nroot dGhpcyBpcyBub3QgYSBoYXNo\n"],
};
