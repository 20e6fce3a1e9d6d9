// The vnc templates: the RFB version the server announces, the security types it offers per protocol
// version, and its words when VNC authentication fails.
import { schema, t, withDefault } from "../schema.ts";

export const vncTemplates = schema({
  version: t.text('the ProtocolVersion line the server sends, without its newline ("RFB 003.008")', /^RFB \d{3}\.\d{3}$/, '"RFB xxx.yyy"'),
  securityTypes: t.text(
    "the security types offered to a 3.7 or 3.8 client, in order, as hex bytes (02 = VNC Authentication, 1e = Apple Remote Desktop, 10 = Tight)",
    /^(?:[0-9a-fA-F]{2}){1,16}$/,
    "1 to 16 types as hex bytes",
  ),
  highestMinor: t.int(
    "the newest 3.x the server speaks: a client asking for more is served this (8 for most; 3 for servers that speak only 3.3, such as WinVNC 3.3.7 and UltraVNC's 3.6 announcement)",
    3,
    8,
  ),
  failReason: withDefault(
    t.text("RFB 3.8: the reason sent after a failed VNC authentication (libvncserver: password check failed!; RealVNC/TigerVNC: Authentication failure); 3.3 and 3.7 get the result alone"),
    "Authentication failed",
  ),
  failDelayMs: withDefault(t.ms("the server's pause before the failed SecurityResult"), { min: 0, max: 0 }),
  handshakeTimeoutMs: withDefault(t.ms("a client that has not finished the handshake by then is dropped (libvncserver: none; RealVNC: 10 s idle)"), { min: 60000, max: 60000 }),
});

export type VncTemplates = ReturnType<typeof vncTemplates.parse>;
