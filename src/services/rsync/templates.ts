// The rsync templates: the daemon's greeting line and the checks its version makes on the client's, the
// digests it offers for module authentication, and the pool of modules a host's rsyncd.conf draws from.
// A module is "name|comment|auth" (auth: "auth" when it has `auth users`, else empty).
import { schema, t } from "../schema.ts";

export const rsyncTemplates = schema({
  greeting: t.text("the greeting line without its newline: '@RSYNCD: 29' (2.6.x), '@RSYNCD: 30.0' (3.0.x), '@RSYNCD: 31.0' (3.1.x-3.2.6), '@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4' (3.2.7), '@RSYNCD: 32.0 …' (3.4+)", /^@RSYNCD: \d+(\.\d+)?( [a-z0-9]+)*$/, "'@RSYNCD: N[.M][ digest …]'"),
  requireSubprotocol: t.bool("a client greeting of protocol 30 or more without '.sub' is refused (3.1+: '@ERROR: your client omitted the subprotocol value: …')"),
  requireDigestList: t.bool("a client greeting of protocol 32 or more without a digest list is refused (3.4+: '@ERROR: your client omitted the digest name list: …')"),
  lineMax: t.int("the daemon's line buffer: a longer line (or one with a NUL) ends the connection without a word", 64, 8192),
  modulePool: t.list("modules a host's rsyncd.conf may hold, 'name|comment|auth'; each host shows 2 to 4 of them, at least one with auth"),
});

export type RsyncTemplates = ReturnType<typeof rsyncTemplates.parse>;
