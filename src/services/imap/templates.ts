// The imap templates: every reply text includes its CRLF; {{name}} placeholders are filled per reply.
// Placeholders: hostname fqdn localAddress localPort remoteAddress, capability (the list the daemon
// shows now: capability in clear, capabilitySecure once TLS is on), and in command replies tag and verb.
//
// Time is the daemon's own: durations are milliseconds (a number, or [min, max] drawn per use).
import { optional, schema, t, withDefault } from "../schema.ts";

export const imapTemplates = schema({
  banner: t.text("greeting sent on open ({{capability}} fills in the list)"),
  bannerSecure: optional(t.text("greeting when TLS is on from the first byte (993), for a daemon whose greeting lists fewer capabilities than CAPABILITY (default: banner)")),
  capability: t.text("capability list in clear (before STARTTLS), without '* CAPABILITY '"),
  capabilitySecure: t.text("capability list once TLS is on (after STARTTLS, and on 993)"),
  capabilityOk: t.text("tagged reply ending the CAPABILITY answer"),
  noop: t.text("reply to NOOP"),
  logout: t.text("reply to LOGOUT (the session then closes)"),
  starttls: optional(t.text("reply to STARTTLS on a face whose entry has tls (starttls): TLS starts right after it")),
  tlsActive: optional(t.text("reply to STARTTLS once TLS is on")),
  commands: withDefault(t.table("other pre-login answers by verb (ID, ENABLE, …)"), {}),
  loginFail: t.text("reply to a refused LOGIN"),
  authFail: optional(t.text("reply to a refused AUTHENTICATE (default: loginFail)")),
  loginFailDelayMs: withDefault(t.ms("pause before a refused login is answered (auth_failure_delay, PAM's delay)"), { min: 0, max: 0 }),
  privacyLogin: optional(t.text("reply to LOGIN in clear when the daemon wants TLS first (LOGINDISABLED): the password is logged all the same")),
  privacyAuth: optional(t.text("reply to AUTHENTICATE of a plaintext mechanism in clear when the daemon wants TLS first")),
  mechanisms: withDefault(t.list("SASL mechanisms AUTHENTICATE takes (PLAIN, LOGIN, NTLM), upper case"), ["PLAIN"]),
  authUnsupported: t.text("reply to AUTHENTICATE with a mechanism not in mechanisms"),
  authContinue: withDefault(t.text("continuation asking for the first response"), "+ \r\n"),
  authLoginUser: withDefault(t.text("AUTHENTICATE LOGIN's first prompt"), "+ VXNlcm5hbWU6\r\n"),
  authLoginPass: withDefault(t.text("AUTHENTICATE LOGIN's second prompt"), "+ UGFzc3dvcmQ6\r\n"),
  authAborted: t.text("reply when the client answers '*' to a continuation"),
  authBadBase64: t.text("reply to a continuation that is not base64"),
  ntlmVersion: withDefault(t.text("Windows version in the NTLM CHALLENGE ('6.1.7601'; '' for none)"), ""),
  ntlmStyle: withDefault(t.oneOf("who answers NTLM: Windows (target info, domain names) or the Cyrus SASL ntlm plugin (the host name only)", ["windows", "sasl-plugin"] as const), "windows"),
  authErrorsPause: withDefault(t.bool("an unsupported mechanism and an undecodable response count as failed logins (the pause before the reply)"), false),
  loginArgsMissing: optional(t.text("reply to LOGIN with fewer than two arguments (default: bad)")),
  loginArgsExtra: optional(t.text("reply to LOGIN with more than two arguments (default: bad)")),
  literalContinue: withDefault(t.text("continuation after a synchronizing literal's {n}"), "+ OK\r\n"),
  literalMax: withDefault(t.int("largest literal accepted before login", 0, 65536), 4096),
  literalTooLarge: t.text("reply to a larger literal (the session then closes)"),
  bad: t.text("reply to an unknown or malformed command"),
  noTag: t.text("reply to an empty line"),
  maxBad: withDefault(t.int("bad commands after which the daemon hangs up (0: never)"), 0),
  tooManyBad: withDefault(t.text("last words when maxBad is reached (replaces that bad reply)"), ""),
  lineMax: withDefault(t.int("longest accepted line in bytes, CRLF included", 64, 65536), 4096),
  lineTooLong: withDefault(t.text('last words for a longer line ("" for none)'), ""),
  lineTooLongClose: withDefault(t.oneOf("how the daemon hangs up after a too long line", ["fin", "reset"] as const), "reset"),
  timeoutMs: optional(t.ms("time after which the daemon says timeout and hangs up")),
  timeoutRestarts: withDefault(t.bool("every command restarts timeoutMs (an idle timer; false: a login deadline from connect)"), false),
  timeout: withDefault(t.text("last words when timeoutMs runs out"), ""),
});

export type ImapTemplates = ReturnType<typeof imapTemplates.parse>;
