// The mysql templates. Errors are "errno:SQLSTATE:message"; the access-denied message fills {{user}},
// {{host}} and {{password}} (YES/NO) as mysqld does.
import { schema, t, withDefault } from "../schema.ts";

const ERROR = /^\d{4}:[0-9A-Z]{5}:./s;
const err = (doc: string) => t.text(doc, ERROR, '"errno:SQLSTATE:message"');

export const mysqlTemplates = schema({
  serverVersion: t.text("version string in the greeting (what nmap prints)"),
  layout: t.oneOf("greeting layout: 41 = 5.0/5.1 (13 zero bytes, no plugin name); plugin = 5.5+ (upper capabilities, plugin name)", ["41", "plugin"] as const),
  capabilities: t.flags("server capability flags (only the low 16 bits go out with layout 41)"),
  charset: t.int("the greeting's default collation id", 0, 255),
  status: t.int("the greeting's status flags", 0, 0xffff),
  authPlugin: withDefault(t.text("plugin named in the greeting (layout plugin)"), "mysql_native_password"),
  preAuthSqlstate: t.bool("errors sent before the client's flags are known carry #SQLSTATE (5.5+ keep the server flags then; 5.0/5.1 zero)"),
  maxAllowedPacket: t.int("a declared packet this large is refused", 1024),
  errOutOfOrder: err("error for a packet with the wrong sequence number"),
  errTooLarge: err("error for a packet over maxAllowedPacket"),
  errHandshake: err("error for a malformed HandshakeResponse"),
  errAccessDenied: err("error for every login"),
  userEchoMax: t.int("how much of the user name the access-denied message shows (%-.Ns)", 1, 512),
});

export type MysqlTemplates = ReturnType<typeof mysqlTemplates.parse>;
