// The pop3 templates: every reply text includes its CRLF; {{name}} placeholders are filled per reply.
// Placeholders: hostname fqdn localAddress localPort remoteAddress, apopStamp (the greeting's APOP
// timestamp <random.unixtime@hostname>, drawn per session when the banner shows it), and in command replies
// verb and arg.
//
// Time is the daemon's own: durations are milliseconds (a number, or [min, max] drawn per use).
import { optional, schema, t, withDefault } from "../schema.ts";

export const pop3Templates = schema({
  imapFace: optional(t.text("id of the imap entry of the same mail suite and release (fixtures/services/imap.json): a host that runs both shows them together")),
  banner: t.text("greeting sent on open"),
  capa: t.text("reply to CAPA in clear (before STLS)"),
  capaSecure: t.text("reply to CAPA once TLS is on (after STLS, and on 995)"),
  user: t.text("reply to USER <name>"),
  userNoArg: optional(t.text("reply to USER without a name (default: unknown)")),
  pass: t.text("reply to PASS after USER: the refused login"),
  passFirst: t.text("reply to PASS without a USER before it"),
  loginFailDelayMs: withDefault(t.ms("pause before a refused login is answered"), { min: 0, max: 0 }),
  privacyUser: optional(t.text("reply to USER and PASS in clear when the daemon wants TLS first: the password is logged all the same")),
  quit: t.text("reply to QUIT (the session then closes)"),
  stls: optional(t.text("reply to STLS on a face whose entry has tls (starttls): TLS starts right after it")),
  tlsActive: optional(t.text("reply to STLS once TLS is on")),
  authList: optional(t.text("reply to AUTH without a mechanism in clear (absent: AUTH is an unknown command)")),
  authListSecure: optional(t.text("reply to AUTH without a mechanism under TLS (default: authList)")),
  mechanisms: withDefault(t.list("SASL mechanisms AUTH takes (PLAIN, LOGIN, NTLM), upper case"), []),
  privacyAuth: optional(t.text("reply to AUTH with a plaintext mechanism in clear when the daemon wants TLS first")),
  authUnsupported: withDefault(t.text("reply to AUTH with a mechanism not in mechanisms"), "-ERR Unsupported authentication mechanism.\r\n"),
  authFail: optional(t.text("reply to a refused AUTH exchange (default: pass)")),
  authContinue: withDefault(t.text("continuation asking for the first response"), "+ \r\n"),
  authLoginUser: withDefault(t.text("AUTH LOGIN's first prompt"), "+ VXNlcm5hbWU6\r\n"),
  authLoginPass: withDefault(t.text("AUTH LOGIN's second prompt"), "+ UGFzc3dvcmQ6\r\n"),
  authAborted: withDefault(t.text("reply when the client answers '*' to a continuation"), "-ERR Authentication aborted.\r\n"),
  authBadBase64: withDefault(t.text("reply to a continuation that is not base64"), "-ERR Invalid base64 in response\r\n"),
  ntlmVersion: withDefault(t.text("Windows version in the NTLM CHALLENGE ('6.1.7601'; '' for none)"), ""),
  ntlmStyle: withDefault(t.oneOf("who answers NTLM: Windows (target info, domain names) or the Cyrus SASL ntlm plugin (the host name only)", ["windows", "sasl-plugin"] as const), "windows"),
  authErrorsPause: withDefault(t.bool("an unsupported mechanism and an undecodable response count as failed logins (the pause before the reply)"), false),
  apop: optional(t.text("reply to APOP <name> <digest> when the banner offers a timestamp: refused after the pause, the digest logged (absent: APOP goes to commands or unknown)")),
  commands: withDefault(t.table("other pre-login answers by verb (APOP, NOOP, …)"), {}),
  unknown: t.text("reply to an unknown command or an empty line"),
  maxBad: withDefault(t.int("unknown commands after which the daemon hangs up (0: never)"), 0),
  tooManyBad: withDefault(t.text("said after the unknown reply when maxBad is reached"), ""),
  lineMax: withDefault(t.int("longest accepted line in bytes, CRLF included", 64, 65536), 4096),
  lineTooLong: withDefault(t.text('last words for a longer line ("" for none)'), ""),
  lineTooLongClose: withDefault(t.oneOf("how the daemon hangs up after a too long line", ["fin", "reset"] as const), "reset"),
  lineSplit: withDefault(t.bool("a longer line is read in pieces of lineMax bytes, each taken as a command (Cyrus pop3d's fixed buffer), instead of lineTooLong"), false),
  timeoutMs: optional(t.ms("time after which the daemon says timeout and hangs up")),
  timeoutRestarts: withDefault(t.bool("every command restarts timeoutMs (an idle timer; false: a login deadline from connect)"), false),
  timeout: withDefault(t.text("last words when timeoutMs runs out"), ""),
});

export type Pop3Templates = ReturnType<typeof pop3Templates.parse>;
