// The sip templates: what a chan_sip-style PBX (Asterisk, FreePBX) says over TCP. The identity header
// ("Server: Asterisk PBX 1.8.13.1~dfsg1-3+deb7u3"), Allow and Supported as that release sends them, the
// digest realm, and what an out-of-dialog OPTIONS to an unknown extension gets (chan_sip: 404).
import { schema, t } from "../schema.ts";

export const sipTemplates = schema({
  serverHeader: t.text("the identity header as sent, name and value: 'Server: Asterisk PBX 11.13.1~dfsg-2+deb8u8' (chan_sip's useragent)", /^(Server|User-Agent): [\x21-\x7e][\x20-\x7e]*$/, "'Server: …' or 'User-Agent: …'"),
  allow: t.text("the Allow header's value (1.8: … INFO, PUBLISH; 11+: … PUBLISH, MESSAGE)"),
  supported: t.text("the Supported header's value ('replaces, timer')"),
  realm: t.text("the digest realm of the challenge (chan_sip's default: asterisk)", /^[\x20-\x21\x23-\x7e]{1,64}$/, "printable text without quotes"),
  optionsStatus: t.text("the status line's code and phrase for an OPTIONS to an unknown extension ('404 Not Found')", /^\d{3} [\x20-\x7e]+$/, "'NNN Reason'"),
  authTimeoutMs: t.ms("tcpauthtimeout: a TCP session that has not authenticated this long after it opened is closed (30 s)"),
  maxMessage: t.int("a message (head and body) larger than this ends the TCP session (chan_sip's SIP_MAX_PACKET_SIZE: 20480)", 1024, 65536),
});

export type SipTemplates = ReturnType<typeof sipTemplates.parse>;
