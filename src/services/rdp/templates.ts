// The rdp templates: how the server answers an X.224 Connection Request (with or without an RDP
// Negotiation Response), which security protocols it selects, and its CredSSP/NTLM identity.
import { schema, t, withDefault } from "../schema.ts";

export const rdpTemplates = schema({
  negotiation: t.bool(
    "the server answers an RDP_NEG_REQ with an RDP_NEG_RSP (Vista/2008 on, xrdp); false: a bare Connection Confirm, standard RDP security (XP/2003)",
  ),
  negFlags: withDefault(t.int("flags of the RDP_NEG_RSP (2012 on: 0x1f)", 0, 255), 0),
  protocols: withDefault(
    t.int("the security protocols the server accepts, as RDP's bit mask: 1 TLS, 2 CredSSP (NLA); it selects CredSSP when both are asked", 0, 15),
    3,
  ),
  standardSecurity: withDefault(
    t.bool("a client asking for none of the server's protocols gets standard RDP security (an RDP_NEG_RSP selecting 0, as xrdp) rather than an RDP_NEG_FAILURE"),
    false,
  ),
  badRequest: withDefault(
    t.text("bytes (hex) sent before hanging up on a first PDU that is not an X.224 Connection Request (xrdp: an MCS Disconnect Provider Ultimatum in an X.224 Data TPDU, 0300000902f0802180; Windows: none)", /^(?:[0-9a-fA-F]{2})*$/, "hex bytes"),
    "",
  ),
  srcRef: withDefault(t.int("the Connection Confirm's source reference (Windows: 0x1234; xrdp: 0)", 0, 0xffff), 0x1234),
  failureCode: withDefault(
    t.int("RDP_NEG_FAILURE code for a client asking only for what the server refuses (5: HYBRID_REQUIRED_BY_SERVER, 2: SSL_NOT_ALLOWED_BY_SERVER)", 1, 6),
    5,
  ),
  credsspVersion: withDefault(t.int("the TSRequest version the server answers with (2008 R2: 2, 2012 R2: 3, 2016 on: 6)", 1, 6), 3),
  ntlmVersion: withDefault(t.text('the OS version in the NTLM CHALLENGE ("6.3.9600")'), "6.3.9600"),
  logonFailure: withDefault(
    t.flags("the NTSTATUS sent in the TSRequest errorCode after a refused AUTHENTICATE (CredSSP 3 on; STATUS_LOGON_FAILURE 0xc000006d)"),
    0xc000006d,
  ),
  handshakeTimeoutMs: withDefault(t.ms("a client that has not authenticated by then is dropped"), { min: 30000, max: 30000 }),
});

export type RdpTemplates = ReturnType<typeof rdpTemplates.parse>;
