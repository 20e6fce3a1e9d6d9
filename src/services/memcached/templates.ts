// The memcached templates: one version's `stats` and `stats settings` lines ("name value", with
// {{placeholders}} filled per reply: pid uptime time version rusageUser rusageSystem currConnections
// totalConnections connectionStructures cmdGet cmdSet getHits getMisses bytesRead bytesWritten
// currItems totalItems bytes port), and the version's ways with odd input.
import { optional, schema, t } from "../schema.ts";

export const memcachedTemplates = schema({
  version: t.text("the version as `version` and `stats` print it (\"1.4.14 (Ubuntu)\" on Ubuntu's build)"),
  stats: t.list("`stats` lines without the STAT prefix, in the version's order"),
  settings: t.list("`stats settings` lines without the STAT prefix"),
  lineMax: t.int("a line without its end longer than this closes the connection unless it starts with get/gets (1024 up to 1.6.9, 2048 since)", 64, 65536),
  httpClose: t.bool("an unknown command whose last word starts with HTTP/ (an HTTP request line) closes the connection without a word (1.5+)"),
  flushBadArg: optional(t.text("flush_all with a delay that is not a number (1.6: CLIENT_ERROR invalid exptime argument); absent: taken as 0 (1.4's strtol)")),
  shutdownReply: t.text('the answer to `shutdown` when it is not enabled ("ERROR" up to 1.4.15, "ERROR: shutdown not enabled" since)'),
});

export type MemcachedTemplates = ReturnType<typeof memcachedTemplates.parse>;
