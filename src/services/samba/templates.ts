// The samba templates: what smbd's (or Windows') negprot and session setup say about the claimed release,
// and how the daemon treats bytes that are not SMB and clients that say nothing.
import { schema, t, withDefault } from "../schema.ts";

export const sambaTemplates = schema({
  implementation: withDefault(
    t.oneOf("whose SMB server this is: Samba's smbd, or Windows' srv/srv2 (Windows: NetBIOS session required on 139, its own negprot, session key and names)", ["samba", "windows"] as const),
    "samba",
  ),
  workgroup: t.text("the workgroup (smbd upper-cases it)"),
  nativeOs: t.text("NativeOS of SMB1 session setup"),
  nativeLanMan: t.text("NativeLanMan of SMB1 session setup (carries the version)"),
  ntlmVersion: withDefault(t.text("NTLMSSP version the challenge states (\"6.1.0\"), or \"\" for none", /^(|\d+\.\d+\.\d+)$/, '"major.minor.build" or ""'), ""),
  ntlmVersionOnRequest: withDefault(t.bool("the challenge states the version only when the client's NEGOTIATE asks for it (Windows, Samba 3.6); Samba 4 always does"), false),
  ntlmTimestamp: withDefault(t.bool("the challenge carries a timestamp AV pair (Samba 4, Windows Vista and later)"), true),
  smb1: withDefault(t.bool("SMB1 is enabled"), true),
  capabilities: withDefault(t.flags("SMB1 negprot capabilities"), 0x0080f3fd),
  securityMode: withDefault(t.flags("negprot security mode", 8), 0x03),
  maxMpx: withDefault(t.int("SMB1 MaxMpxCount", 1, 0xffff), 50),
  maxBuffer: withDefault(t.int("SMB1 MaxBufferSize", 1024, 0xffffffff), 16644),
  negprotServerName: withDefault(t.bool("the SMB1 negprot also names the server after the workgroup"), false),
  spnegoMechs: withDefault(
    t.oneOf("the mechanisms the negprot's SPNEGO token offers: Samba's NTLMSSP alone, Windows' NEGOEX/Kerberos/NTLMSSP list, or no token (GUID only)", ["ntlmssp", "windows", "none"] as const),
    "ntlmssp",
  ),
  spnegoHint: withDefault(t.text("the SPNEGO negTokenInit hint of SMB1 negprot (\"\" for none)"), ""),
  badUser: t.oneOf("an unknown user: guest under 'map to guest = bad user', else fail", ["guest", "fail"] as const),
  smb2Dialects: withDefault(t.list("SMB2 dialects offered, \"0x0202\" …; empty: SMB1 only"), []),
  smb2Capabilities: withDefault(t.flags("SMB2 negotiate capabilities"), 0x07),
  smb2MaxSize: withDefault(t.int("SMB2 max transact/read/write size", 65536, 0xffffffff), 8 * 1024 * 1024),
  smb2SpnegoHint: withDefault(t.text("the SPNEGO hint of the SMB2 negotiate"), "not_defined_in_RFC4178@please_ignore"),
  smb2SystemTime: withDefault(t.bool("the SMB2 negotiate states the system time (Samba 3.6 sends 0)"), true),
  smb2SigningContext: withDefault(t.bool("an SMB 3.1.1 negotiate answers the signing-capabilities context (Samba 4.15 and later)"), false),
  serverString: withDefault(
    t.text("Samba: smb.conf's 'server string' as the package ships it (%v the version NativeLanMan states, %h the host name); the IPC$ comment is 'IPC Service (<it>)'. Windows: ignored (its IPC$ says 'Remote IPC')"),
    "Samba %v",
  ),
  shares: withDefault(t.list("browseable shares of the package's default configuration, in its order, each 'name:comment' (Debian: print$:Printer Drivers); Windows: the administrative shares"), []),
  sharePool: withDefault(
    t.list("shares an administrator added, 'name:comment': each host lists one to three of them, drawn from its seed"),
    ["backup:Backups", "data:Data", "shared:Shared Files", "scans:Scanned Documents", "media:Media Files", "projects:Projects", "archive:Archive", "software:Software"],
  ),
  sharePaths: withDefault(
    t.list("where shares live, 'name:path' (NetShareGetInfo level 2 states it); a share not named here: /srv/samba/<name> (Windows: C:\\<name>)"),
    ["print$:/var/lib/samba/printers"],
  ),
  guestHome: withDefault(t.text("the guest account's home directory, the path of its [homes] share (Debian's nobody: /nonexistent)"), "/nonexistent"),
  homes: withDefault(t.bool("the default configuration has a [homes] section: smbd 4 lists the session user's home (a guest's: 'nobody', Home Directories)"), false),
  anonymousShareEnum: withDefault(t.bool("an anonymous session may open \\srvsvc and list shares (Windows Vista and later: no, the pipe is not in NullSessionPipes)"), true),
  smbd: withDefault(
    t.oneOf(
      "Samba only: the smbd series, for what differs in its reader and counters. 3.x answers keepalive requests and stray session responses and carries on, and numbers sessions from 100; 4.x ends the connection after any answer but a positive session response; 4.17-smb2-only (SMB1 off, 4.17 and later) ends it for anything but a session request or an SMB negotiate",
      ["3.x", "4.x", "4.17-smb2-only"] as const,
    ),
    "4.x",
  ),
  idleCheck: withDefault(
    t.oneOf(
      "how a connection with no share open is closed: timer (smbd 3.2+: a check every idleCheckMs from the start), select (smbd 3.0: on the second idleCheckMs of silence), none",
      ["timer", "select", "none"] as const,
    ),
    "timer",
  ),
  idleCheckMs: withDefault(t.ms("smbd's IDLE_CLOSED_TIMEOUT"), { min: 60_000, max: 60_000 }),
  forkMs: withDefault(t.ms("time before the first request is read: smbd forks a child per connection"), { min: 8, max: 24 }),
});

export type SambaTemplates = ReturnType<typeof sambaTemplates.parse>;
