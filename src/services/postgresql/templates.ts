// The postgresql templates. Each error is "SQLSTATE|file|line|routine|message", the fields a v3
// ErrorResponse carries after its severity (C, F, L, R and M); messages fill {{user}}, {{database}},
// {{major}}, {{minor}}, {{type}} and {{host}} where the server's own text has them.
import { optional, schema, t } from "../schema.ts";

const ERROR = /^[0-9A-Z]{5}\|[^|]+\|\d+\|[^|]+\|./s;
const err = (doc: string) => t.text(doc, ERROR, '"SQLSTATE|file|line|routine|message"');

export const postgresqlTemplates = schema({
  severityField: t.bool("errors carry the untranslated severity field V as well as S (9.6+)"),
  earliestMajor: t.int("oldest protocol major the server accepts: 1 up to 13 (v2 startup packets taken), 3 from 14", 1, 3),
  negotiateMinor: t.bool(
    "a 3.x startup with a minor above 0 (or _pq_ options) gets NegotiateProtocolVersion (11+, and 9.3.20/9.4.15/9.5.10/9.6.6/10.1 on); false: it is an unsupported protocol",
  ),
  gssEncRequest: t.oneOf(
    "the GSSENCRequest: unknown (before 12: an unsupported protocol 1234.5680), N (12+ without GSSAPI), G (12+ built with GSSAPI, as Debian's: a GSSAPI token is expected next)",
    ["unknown", "N", "G"] as const,
  ),
  authMethod: t.oneOf("what pg_hba.conf asks of a TCP login: md5 (8.x-13 packages' default), password (cleartext), scram-sha-256 (14+ packages' default)", [
    "md5",
    "password",
    "scram-sha-256",
  ] as const),
  authTimeoutMs: t.ms("authentication_timeout: a client that has not finished its login by then is dropped without a word (60 s)"),
  maxPasswordMessage: t.int("the longest PasswordMessage the backend reads (1000 up to 9.6, 65535 from 10); a longer one ends the session without a word", 16, 65535),
  errUnsupported: err("a startup packet of a protocol the server does not speak (nmap's SMB probe reads as 65363.19778): fills {{major}}, {{minor}}"),
  errNoUser: err("a startup packet without a user"),
  errLayout: err("a v3 startup packet whose parameters do not end in a NUL"),
  errExpectedPassword: err("something other than a PasswordMessage where the password should be: fills {{type}} (the byte as a number)"),
  errPasswordSize: err("a PasswordMessage whose string does not fill it"),
  errEmptyPassword: optional(err("an empty password (10+: its own FATAL; absent: the refused login's)")),
  errPassword: err("the refused login: fills {{user}}"),
  errExpectedSasl: optional(err("scram-sha-256: something other than a SASL message where one should be: fills {{type}}")),
  errSaslMechanism: optional(err("scram-sha-256: a mechanism the server did not offer")),
  errScramMalformed: optional(err("scram-sha-256: a SCRAM message that does not parse (the detail, D, says where)")),
});

export type PostgresqlTemplates = ReturnType<typeof postgresqlTemplates.parse>;
