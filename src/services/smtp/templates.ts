// The smtp templates: every reply text includes its CRLF; {{name}} placeholders are filled per reply.
// Placeholders: hostname HOSTNAME fqdn domain localAddress localPort remoteAddress date, and in command
//   replies helo (the name the client gave, or "" before EHLO/HELO), verb arg addr (the address inside <>)
//   line, and in auth replies mech challenge.
//
// Time is the daemon's own: durations are milliseconds (a number, or [min, max] drawn per use).
import { optional, schema, t, withDefault } from "../schema.ts";

export const smtpTemplates = schema({
  banner: t.text("greeting sent on open; {{date}} is the host's local time in dateStyle"),
  dateStyle: withDefault(
    t.oneOf(
      "how {{date}} reads: exim (Tue, 01 Dec 2026 10:11:12 +0100, Exim's tod_full), arpa (Tue, 1 Dec 2026 10:11:12 +0100: Sendmail's arpadate, Exchange, IIS)",
      ["exim", "arpa"] as const,
    ),
    "arpa",
  ),
  ehlo: t.text("reply to EHLO <name>: the extension list"),
  ehloSecure: optional(t.text("reply to EHLO once TLS is on (default: ehlo)")),
  ehloNoArg: t.text("reply to EHLO without a name"),
  helo: t.text("reply to HELO <name>"),
  heloStrict: withDefault(t.bool("a name that is neither a domain nor an [address literal] gets ehloNoArg/heloNoArg (Exim's syntax check; Exim echoes the name)"), false),
  heloNoArg: t.text("reply to HELO without a name"),
  quit: t.text("reply to QUIT (the session then closes)"),
  unknown: t.text("reply to a verb the daemon does not know"),
  empty: t.text("reply to an empty line"),
  commands: withDefault(t.table("answers by 'VERB', 'VERB WORD' or 'VERB ARGS' (most specific wins): HELP, NOOP, RSET, VRFY, EXPN, MAIL, RCPT, DATA…"), {}),
  secureCommands: withDefault(t.table("answers by 'VERB' (or 'VERB WORD') once TLS is on, tried before commands (Exim's HELP no longer names STARTTLS)"), {}),
  noArg: withDefault(t.table("answers by 'VERB' when the verb comes without an argument (before commands)"), {}),
  beforeHelo: withDefault(t.table("answers by 'VERB' (or 'VERB WORD') before any EHLO/HELO, tried first (Postfix: MAIL needs HELO first)"), {}),
  afterMail: withDefault(t.table("answers by 'VERB' (or 'VERB WORD') once MAIL was accepted (a 250 to MAIL), tried before commands"), {}),
  afterRcpt: withDefault(t.table("answers by 'VERB' once a RCPT was answered, tried before afterMail (DATA without a valid recipient)"), {}),
  resetVerbs: withDefault(t.list("verbs that forget MAIL and RCPT (RSET, EHLO, HELO)"), ["RSET", "EHLO", "HELO"]),
  http: optional(t.text("reply to a verb in httpVerbs; the daemon then hangs up (Postfix's smtpd_forbidden_commands)")),
  httpVerbs: withDefault(t.list("verbs that mean an HTTP client or proxy is talking (GET, POST, CONNECT…)"), []),
  starttls: optional(t.text("reply to STARTTLS on a face whose entry has tls (starttls): TLS starts right after it")),
  starttlsArg: optional(t.text("reply to STARTTLS with an argument (default: starttls)")),
  starttlsAgain: optional(t.text("reply to STARTTLS once TLS is on (default: unknown)")),
  starttlsNotOffered: optional(t.text("reply to STARTTLS on a face without TLS (default: unknown)")),
  authMechanisms: withDefault(t.list("SASL mechanisms AUTH accepts in clear (PLAIN, LOGIN, CRAM-MD5, NTLM); empty: AUTH is not offered"), []),
  authMechanismsSecure: optional(t.list("SASL mechanisms AUTH accepts once TLS is on (default: authMechanisms)")),
  authNotEnabled: t.text("reply to AUTH where no mechanism is offered (in this state)"),
  authNeedHelo: optional(t.text("reply to AUTH before EHLO (absent: the daemon does not care)")),
  authNoMech: t.text("reply to AUTH without a mechanism"),
  authUnknownMech: t.text("reply to AUTH <mechanism> the daemon does not offer ({{mech}})"),
  authUserPrompt: withDefault(t.text("LOGIN's first prompt"), "334 VXNlcm5hbWU6\r\n"),
  authPassPrompt: withDefault(t.text("LOGIN's second prompt"), "334 UGFzc3dvcmQ6\r\n"),
  authPlainPrompt: withDefault(t.text("PLAIN's prompt when AUTH PLAIN comes without an initial response"), "334 \r\n"),
  authNtlmPrompt: withDefault(t.text("NTLM's first prompt when AUTH NTLM comes without an initial response (Exchange: 334 NTLM supported)"), "334 \r\n"),
  authCramPrompt: withDefault(t.text("CRAM-MD5's challenge line; {{challenge}} is the base64 challenge"), "334 {{challenge}}\r\n"),
  authCramChallenge: withDefault(t.text("CRAM-MD5's challenge before base64: {{pid}}, {{time}} (unix seconds), {{fqdn}}, {{random}} (a number)"), "<{{random}}.{{time}}@{{fqdn}}>"),
  authFail: t.text("reply to a refused credential"),
  authFailDelayMs: withDefault(t.ms("pause before authFail (the SASL server's failure delay)"), { min: 0, max: 0 }),
  authCancelled: t.text("reply to '*' instead of a response"),
  authBadBase64: t.text("reply to a response that is not base64"),
  authBadPlain: optional(t.text("reply to a PLAIN response that does not split in three parts (default: authFail, without delay)")),
  authNtlmBad: optional(t.text("reply to an NTLM response that is no NTLMSSP NEGOTIATE/AUTHENTICATE (default: authBadBase64)")),
  ntlmTimestamp: withDefault(t.bool("the NTLM CHALLENGE's target info carries a timestamp (Windows 2008 on; not Windows 2000/2003)"), true),
  ntlmVersion: withDefault(t.text("Windows version in the NTLM CHALLENGE (6.1.7601), \"\" for none"), ""),
  maxErrors: withDefault(t.int("errors after which the daemon says tooManyErrors and hangs up (0: never)"), 0),
  errorKeys: optional(
    t.list("template keys whose replies count towards maxErrors (Exim's syntax and protocol errors: unknown, empty, authNotEnabled…); absent: every 4xx/5xx reply (Postfix's hard_error_limit)"),
  ),
  tooManyErrors: optional(t.text("the daemon's last words at maxErrors, after the reply that reached it")),
  tooManyErrorsJoin: withDefault(t.bool("that reply's last line becomes a continuation line of tooManyErrors (Exim: 500-unrecognized command, 500 Too many…)"), false),
  errorSleepFrom: withDefault(t.int("from this many errors on, every reply waits errorSleepMs first (Postfix's smtpd_soft_error_limit; 0: never)"), 0),
  errorSleepMs: withDefault(t.ms("the pause of errorSleepFrom (Postfix's smtpd_error_sleep_time)"), { min: 0, max: 0 }),
  maxAuthFails: withDefault(t.int("refused logins after which the daemon hangs up, after authFail (0: never)"), 0),
  lineMax: withDefault(t.int("longest accepted command line in bytes, CRLF included", 16, 16384), 2048),
  lineTooLong: withDefault(t.text('reply to a longer line ("" for none); {{line}} is the cut piece'), ""),
  lineTooLongAction: withDefault(t.oneOf("what happens to the rest of an over-long line", ["split", "skip", "close"] as const), "skip"),
  idleTimeoutMs: optional(t.ms("silence after which the daemon says idleTimeout and hangs up; every command restarts it")),
  idleTimeout: optional(t.text("the daemon's last words when idleTimeoutMs runs out")),
});

export type SmtpTemplates = ReturnType<typeof smtpTemplates.parse>;
