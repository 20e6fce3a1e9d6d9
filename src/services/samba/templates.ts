// The samba templates: what smbd's negprot and session setup say about the claimed release.
import { schema, t, withDefault } from "../schema.ts";

export const sambaTemplates = schema({
  workgroup: t.text("the workgroup (smbd upper-cases it)"),
  nativeOs: t.text("NativeOS of SMB1 session setup"),
  nativeLanMan: t.text("NativeLanMan of SMB1 session setup (carries the version)"),
  ntlmVersion: withDefault(t.text("NTLMSSP version the challenge states (\"6.1.0\"), or \"\" for none", /^(|\d+\.\d+\.\d+)$/, '"major.minor.build" or ""'), ""),
  smb1: withDefault(t.bool("SMB1 is enabled"), true),
  capabilities: withDefault(t.flags("SMB1 negprot capabilities"), 0x0080f3fd),
  securityMode: withDefault(t.flags("negprot security mode", 8), 0x03),
  maxMpx: withDefault(t.int("SMB1 MaxMpxCount", 1, 0xffff), 50),
  maxBuffer: withDefault(t.int("SMB1 MaxBufferSize", 1024, 0xffffffff), 16644),
  negprotServerName: withDefault(t.bool("the SMB1 negprot also names the server after the workgroup"), false),
  spnegoHint: withDefault(t.text("the SPNEGO negTokenInit hint of SMB1 negprot (\"\" for none)"), ""),
  badUser: t.oneOf("an unknown user: guest under 'map to guest = bad user', else fail", ["guest", "fail"] as const),
  smb2Dialects: withDefault(t.list("SMB2 dialects offered, \"0x0202\" …; empty: SMB1 only"), []),
  smb2Capabilities: withDefault(t.flags("SMB2 negotiate capabilities"), 0x07),
  smb2MaxSize: withDefault(t.int("SMB2 max transact/read/write size", 65536, 0xffffffff), 8 * 1024 * 1024),
  smb2SpnegoHint: withDefault(t.text("the SPNEGO hint of the SMB2 negotiate"), "not_defined_in_RFC4178@please_ignore"),
});

export type SambaTemplates = ReturnType<typeof sambaTemplates.parse>;
