// rdp: X.224 Connection Confirm with RDP's negotiation, TLS, and CredSSP with NTLM up to a refused
// AUTHENTICATE whose NetNTLMv2 response is kept.
import table from "../../../fixtures/services/rdp.json";
import type { ServiceModule } from "../../types.ts";
import { RDP_MAX_BUFFERED, startRdp } from "./session.ts";
import { rdpTemplates, type RdpTemplates } from "./templates.ts";

export const rdp: ServiceModule<RdpTemplates> = {
  name: "rdp",
  aliases: ["ms-wbt-server"],
  transport: "tcp",
  defaultPorts: [3389],
  templates: rdpTemplates,
  table,
  start: startRdp,
  maxBuffered: RDP_MAX_BUFFERED,
  fuzzPrefixes: [
    "\x03\x00\x00\x2a\x25\xe0\x00\x00\x00\x00\x00Cookie: mstshash=nmap\r\n\x01\x00\x08\x00\x03\x00\x00\x00",
    "\x03\x00\x00\x0b\x06\xe0\x00\x00\x00\x00\x00",
    "\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x0b\x00\x00\x00",
    // After the Confirm (and TLS): nmap's rdp-ntlm-info TSRequest with an NTLM NEGOTIATE.
    "\x03\x00\x00\x13\x0e\xe0\x00\x00\x00\x00\x00\x01\x00\x08\x00\x03\x00\x00\x00\x30\x37\xa0\x03\x02\x01\x60\xa1\x30\x30\x2e\x30\x2c\xa0\x2a\x04\x28NTLMSSP\x00\x01\x00\x00\x00\xb7\x82\x08\xe2",
  ],
};
