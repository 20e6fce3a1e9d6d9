// The ftp templates: every reply text includes its CRLF; {{name}} placeholders are filled per reply.
// Placeholders: hostname HOSTNAME fqdn localAddress localAddressMapped localPort remoteAddress time
//   userNumber idleSeconds loginSeconds, and in command replies user verb verbLower verbRaw arg word wordUpper line
//
// Time is the daemon's own: durations are milliseconds (a number, or [min, max] drawn per use).
import { optional, schema, t, withDefault } from "../schema.ts";

export const ftpTemplates = schema({
  banner: t.text("greeting sent on open"),
  user: t.text("reply to USER <name> (331 asks for the password)"),
  userNoArg: optional(t.text("reply to USER without a name (default: user); never starts a login")),
  userAnon: optional(t.text("reply to USER anonymous / USER ftp (default: user)")),
  userDenied: optional(t.text("reply to USER for a name in deniedUsers")),
  deniedUsers: withDefault(t.list("user names refused at USER (RHEL's user_list)"), []),
  userDeniedDelayMs: withDefault(t.ms("pause before the userDenied reply (vsftpd sleeps delay_failed_login)"), { min: 0, max: 0 }),
  userDeniedIsFailure: withDefault(t.bool("a userDenied refusal counts towards maxLoginFails (vsftpd)"), false),
  pass: t.text("reply to PASS after USER: the login failure"),
  passFirst: t.text("reply to PASS without a pending USER"),
  loginFailDelayMs: withDefault(t.ms("pause before the reply to a failed PASS (PAM's delay, vsftpd's delay_failed_login, Pure-FTPd's sleep)"), { min: 0, max: 0 }),
  loginFailDelayStepMs: withDefault(t.ms("added to loginFailDelayMs for each earlier failed PASS of the session (Pure-FTPd: 3 s more each time)"), { min: 0, max: 0 }),
  userPauseStepMs: withDefault(
    t.ms("after its reply to USER the daemon sleeps this long per failed PASS so far before it reads on (BSD ftpd, lukemftpd, wu-ftpd: sleep(login_attempts))"),
    { min: 0, max: 0 },
  ),
  needLogin: t.text("reply to a known command that needs a login"),
  unknown: optional(t.text("reply to a verb the daemon does not know (default: needLogin)")),
  knownVerbs: optional(t.list("verbs answered with needLogin rather than unknown (absent: every verb)")),
  unimplemented: optional(t.text("reply to a verb in unimplementedVerbs")),
  unimplementedVerbs: withDefault(t.list("verbs the daemon knows but does not implement"), []),
  empty: optional(t.text("reply to an empty line (absent: the daemon ignores it)")),
  quit: t.text("reply to QUIT (the session then closes)"),
  http: optional(t.text("reply to a verb in httpVerbs")),
  httpVerbs: withDefault(t.list("verbs that mean an HTTP client is talking (GET, POST…)"), []),
  commands: withDefault(t.table("pre-login answers by 'VERB', 'VERB WORD' or 'VERB ARGS' (most specific wins)"), {}),
  noArg: withDefault(t.table("answers by 'VERB' when the verb comes without an argument (before commands)"), {}),
  authTls: optional(t.text("reply to AUTH <arg> for an arg in tlsAuthArgs, on a face whose entry has tls (starttls): TLS starts right after it")),
  tlsAuthArgs: withDefault(t.list("AUTH arguments (upper case) that start TLS: vsftpd and IIS take TLS, TLS-C, SSL, TLS-P; Pure-FTPd only TLS"), ["TLS"]),
  secureCommands: withDefault(t.table("answers once TLS is on, tried before commands: same keys as commands (PBSZ, PROT P, a second AUTH)"), {}),
  secureNoArg: withDefault(t.table("answers by 'VERB' without an argument once TLS is on, tried before noArg"), {}),
  userClear: optional(t.text("reply to USER <name> (not anonymous) before TLS, when the daemon wants logins encrypted (vsftpd's force_local_logins_ssl, IIS's Require SSL)")),
  userClearAnonymous: withDefault(t.bool("userClear refuses anonymous names too (IIS's Require SSL covers every login; vsftpd's force_local_logins_ssl only local users)"), false),
  userAnonSecure: optional(t.text("reply to USER anonymous / ftp under TLS, when the daemon refuses anonymous sessions over TLS (vsftpd's allow_anon_ssl=NO)")),
  // ProFTPD's mod_copy as 1.3.5 shipped it: SITE CPFR and CPTO answered before any login (CVE-2015-3306).
  copyFrom: optional(t.text("reply to SITE CPFR <path> for a path that exists ({{path}}: the path made absolute); absent: SITE CPFR is only a table entry")),
  copyFromMissing: withDefault(t.text("reply to SITE CPFR <path> for a path that does not exist"), "550 {{path}}: No such file or directory\r\n"),
  copyTo: withDefault(t.text("reply to SITE CPTO <path> after a CPFR, into a directory the daemon's user may write"), "250 Copy successful\r\n"),
  copyToDenied: withDefault(t.text("reply to SITE CPTO <path> into a directory it may not write"), "550 {{path}}: Permission denied\r\n"),
  copyToFirst: withDefault(t.text("reply to SITE CPTO without a CPFR before it"), "503 Bad sequence of commands\r\n"),
  copyPaths: withDefault(t.list("files and directories that exist on the host for SITE CPFR (every parent directory exists too)"), []),
  copyWritable: withDefault(t.list("directories the daemon's unprivileged user may write, where SITE CPTO succeeds"), ["/tmp"]),
  maxLoginFails: withDefault(t.int("failed PASS count after which the daemon hangs up (0: never)"), 0),
  lineMax: withDefault(t.int("longest accepted line in bytes, CRLF included", 16, 16384), 4096),
  lineTooLong: withDefault(t.text('reply to a longer line ("" for none); {{line}} is the cut piece'), ""),
  lineTooLongAction: withDefault(t.oneOf("what happens to the rest of an over-long line", ["split", "skip", "close"] as const), "split"),
  closeOn: withDefault(t.list("template keys after whose reply the daemon hangs up"), []),
  idleTimeoutMs: optional(t.ms("silence after which the daemon says idleTimeout and hangs up; every command restarts it")),
  idleTimeout: optional(t.text("the daemon's last words when idleTimeoutMs runs out ({{idleSeconds}}: the timeout in seconds)")),
  loginTimeoutMs: optional(t.ms("time from connect to a login, never restarted (ProFTPD's TimeoutLogin)")),
  loginTimeout: optional(t.text("the daemon's last words when loginTimeoutMs runs out ({{loginSeconds}})")),
  idleClose: withDefault(t.oneOf("how the daemon hangs up after a timeout: fin (orderly) or reset", ["fin", "reset"] as const), "fin"),
});

export type FtpTemplates = ReturnType<typeof ftpTemplates.parse>;
