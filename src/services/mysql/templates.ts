// The mysql templates. Errors are "errno:SQLSTATE:message"; the access-denied message fills {{user}},
// {{host}} and {{password}} (YES/NO) as mysqld does; the proxy-header message fills {{ip}}.
import { optional, schema, t, withDefault } from "../schema.ts";

const ERROR = /^\d{4}:[0-9A-Z]{5}:./s;
const err = (doc: string) => t.text(doc, ERROR, '"errno:SQLSTATE:message"');

export const mysqlTemplates = schema({
  serverVersion: t.text("version string in the greeting (what nmap prints)"),
  layout: t.oneOf("greeting layout: 41 = 5.0/5.1 (13 zero bytes, no plugin name); plugin = 5.5+ (upper capabilities, plugin name)", ["41", "plugin"] as const),
  capabilities: t.flags("server capability flags (only the low 16 bits go out with layout 41)"),
  mariadbCapabilities: withDefault(
    t.flags("MariaDB 10.2+ extended capabilities, the last 4 bytes of the greeting's 10-byte filler (layout plugin; 0 = MySQL's all-zero filler)"),
    0,
  ),
  charset: t.int("the greeting's default collation id", 0, 255),
  status: t.int("the greeting's status flags", 0, 0xffff),
  authPlugin: withDefault(t.text("plugin named in the greeting (layout plugin)"), "mysql_native_password"),
  preAuthSqlstate: t.bool("errors sent before the client's flags are known carry #SQLSTATE (5.5+ keep the server flags then; 5.0/5.1 zero)"),
  maxAllowedPacket: t.int("a declared packet this large is refused", 1024),
  connectTimeoutMs: t.ms(
    "connect_timeout: a client that sends nothing for this long before its login is answered is dropped without a word; each read waits anew (5 s before 5.0.52/5.1.23, 10 s since)",
  ),
  connectTimeoutClose: t.oneOf("how that drop ends: fin (MySQL, MariaDB up to 10.0: shutdown and close) or reset (MariaDB 10.11, measured: SO_LINGER 0 on a timed-out read; 10.0 had none)", [
    "fin",
    "reset",
  ] as const),
  errOutOfOrder: err("error for a packet with the wrong sequence number"),
  errTooLarge: err("error for a packet over maxAllowedPacket"),
  errHandshake: err("error for a malformed HandshakeResponse"),
  errProxyHeader: optional(err("MariaDB 10.3+: error for a first packet whose header starts like a PROXY protocol header (PROX or \\r\\n\\r\\n) from an address not in proxy_protocol_networks")),
  errOldAuth: optional(err("error for a client without 4.1 authentication (no CLIENT_SECURE_CONNECTION), when the server refuses the old scramble (MariaDB 10.x: 1251); absent: such a client gets errAccessDenied")),
  errAccessDenied: err("error for a login to a password account (and, without accounts, for every login)"),
  accounts: optional(
    t.table(
      "the server's accounts in its acl_users order (sorted by name), each 'password' or 'socket' (unix_socket OR an invalid password, as MariaDB 10.4+ creates root@localhost); an unknown user is answered as the account its name hashes to, as MariaDB 10.4+ fakes one",
      /^[^\0']{1,80}$/,
      /^(password|socket)$/,
    ),
  ),
  errSocketDenied: optional(err("error for a login to a 'socket' account over TCP (MariaDB 10.4+: 1698, without 'using password')")),
  userEchoMax: t.int("how much of the user name the access-denied message shows (%-.Ns)", 1, 512),
});

export type MysqlTemplates = ReturnType<typeof mysqlTemplates.parse>;
