// The telnet templates: the daemon's option negotiation (as hex bytes: IAC DO TTYPE is "fffd18"), then what
// /bin/login (or BusyBox's login, or a Cisco line) says, and on embedded faces a small fake shell.
// Placeholders in texts: hostname HOSTNAME fqdn kernel (the entry's kernel text) tries (maxTries)
// loginSeconds; in shell replies also command word arg.
import { optional, schema, t, withDefault } from "../schema.ts";

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const hexText = (doc: string) => t.text(doc, HEX, "an even number of hex digits");

export const telnetTemplates = schema({
  negotiation: hexText("option requests sent at once on connect (netkit: IAC DO TTYPE, TSPEED, XDISPLOC, NEW-ENVIRON)"),
  awaitReplies: t.bool(
    "the daemon waits for the client's answer to every request of the opening before it goes on (netkit and inetutils telnetd: yes, a peer that never answers sees nothing more; BusyBox, Cisco: no)",
  ),
  subRequests: withDefault(
    hexText("options whose value the daemon asks for (IAC SB opt SEND IAC SE), in this order, once the client said WILL; it waits for each answer"),
    "",
  ),
  afterNegotiation: withDefault(hexText("option requests sent once the opening is settled, before the issue (netkit: WILL ECHO and the like)"), ""),
  willOptions: withDefault(hexText("options the daemon agrees to perform when the client says DO (the rest get WONT)"), "0103"),
  doOptions: withDefault(hexText("options the daemon lets the client perform when it says WILL (the rest get DONT)"), "1f"),
  issue: t.text("text before the first prompt (/etc/issue.net as the daemon prints it)"),
  userPrompt: t.text("the user-name prompt ({{hostname}} login: , Username: )"),
  passwordPrompt: t.text("the password prompt (typed characters are never echoed)"),
  echoUser: withDefault(t.bool("the characters of the user name are echoed back as typed (the pty's echo)"), true),
  emptyUserReprompt: optional(t.text("an empty user line: this is written and the user prompt comes again (absent: the password prompt follows, as shadow's login does)")),
  passwordEnd: withDefault(t.text("written at once when the password line ends (the newline login prints after a silent read)"), "\r\n"),
  loginIncorrect: t.text("written after a wrong password, after the daemon's delay (Login incorrect), before the user prompt"),
  failDelayMs: t.ms("the daemon's pause before loginIncorrect (PAM's pam_faildelay, BusyBox's sleep)"),
  maxTries: t.int("wrong passwords after which the daemon hangs up", 1, 100),
  tooMany: optional(t.text("written instead of loginIncorrect after the last wrong password, before the hang-up (absent: loginIncorrect)")),
  loginTimeoutMs: optional(t.ms("time from the first prompt to a login, never restarted (login's LOGIN_TIMEOUT)")),
  loginTimeout: withDefault(t.text("the last words when loginTimeoutMs runs out ({{loginSeconds}})"), ""),
  iacParsing: withDefault(
    t.oneOf("how IAC sequences are read: rfc (RFC 854/855), busybox (BusyBox telnetd: options ignored unanswered, a subnegotiation other than NAWS reaches login as typed input)", ["rfc", "busybox"] as const),
    "rfc",
  ),
  lineDiscipline: withDefault(
    t.oneOf("how a typed login line is echoed and edited: plain (printable keys only), n_tty (Linux pty: ^X echoes, ^W ^U ^R ^V, tab stops; login ignores ^C)", ["plain", "n_tty"] as const),
    "plain",
  ),
  interruptEndsLogin: withDefault(
    t.bool("with n_tty: ^C, ^\\ or ^Z kills login after the tty echoed it (netkit and inetutils telnetd; BusyBox telnetd's login ignores them)"),
    true,
  ),
  lineMax: withDefault(t.int("characters kept of a typed line; the rest are dropped as the tty drops them", 16, 4096), 255),
  ntlmVersion: optional(
    t.text("Windows: the daemon speaks NTLM in the AUTHENTICATION option (MS-TNAP); the OS version its CHALLENGE carries (\"5.2.3790\"; \"\" for none, as Windows 2000)"),
  ),
  ntlmTimestamp: withDefault(t.bool("the CHALLENGE's target info carries a timestamp (Vista on; not Windows 2000/2003)"), false),
  kernel: withDefault(t.text("what {{kernel}} says in the issue (uname -r)"), ""),
  // Embedded faces: a fake BusyBox shell that runs nothing and logs every line.
  openShell: withDefault(t.bool("no login at all: the shell starts at once (telnetd -l /bin/sh)"), false),
  shellOnTry: withDefault(t.int("the login attempt of a session that 'succeeds' and opens the shell (0: never)", 0, 100), 0),
  shellPasswords: withDefault(t.list("passwords that open the shell at any attempt (the device's default credentials)"), []),
  shellBanner: withDefault(t.text("written when the shell starts (BusyBox's ash banner)"), ""),
  shellPrompt: withDefault(t.text("the shell's prompt"), "# "),
  shellCommands: withDefault(t.table("canned output by whole command line, then by its first word"), {}),
  shellNotFound: withDefault(t.text("reply to any other command ({{word}}: its first word)"), "-sh: {{word}}: not found\r\n"),
  shellAppletNotFound: withDefault(t.text("reply to busybox APPLET for an applet not in shellApplets ({{arg}})"), "{{arg}}: applet not found\r\n"),
  shellApplets: withDefault(t.list("applets `busybox NAME` knows (the rest are 'applet not found')"), []),
  shellMaxCommands: withDefault(t.int("commands after which the shell hangs up", 1, 1000), 200),
  shellIdleTimeoutMs: withDefault(t.ms("silence after which the shell hangs up"), { min: 300000, max: 300000 }),
});

export type TelnetTemplates = ReturnType<typeof telnetTemplates.parse>;
