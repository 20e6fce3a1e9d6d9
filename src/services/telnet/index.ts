// telnet: option negotiation, the issue and login's prompts up to "Login incorrect"; embedded faces open a
// fake BusyBox shell that logs what is typed.
import table from "../../../fixtures/services/telnet.json";
import type { ServiceModule } from "../../types.ts";
import { TELNET_MAX_BUFFERED, startTelnet } from "./session.ts";
import { telnetTemplates, type TelnetTemplates } from "./templates.ts";

export const telnet: ServiceModule<TelnetTemplates> = {
  name: "telnet",
  aliases: [],
  transport: "tcp",
  defaultPorts: [23],
  templates: telnetTemplates,
  table,
  start: startTelnet,
  maxBuffered: TELNET_MAX_BUFFERED,
  fuzzPrefixes: [
    // The Linux telnet client's answers to netkit's opening, then a user name and a password.
    "\xff\xfb\x18\xff\xfb\x20\xff\xfc\x23\xff\xfb\x27\xff\xfa\x20\x0038400,38400\xff\xf0\xff\xfa\x27\x00\xff\xf0\xff\xfa\x18\x00XTERM\xff\xf0root\r\x00admin\r\x00",
    "root\r\nxc3511\r\n/bin/busybox MIRAI\r\n",
    "\xff\xfd\x01\xff\xfd\x03\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0",
    "\xff\xfa\x18\x00",
    // nmap's telnet-ntlm-info: an MS-TNAP NTLM NEGOTIATE before any answer to the opening.
    "\xff\xfa\x25\x00\x0f\x00\x00\x28\x00\x00\x00\x02\x00\x00\x00NTLMSSP\x00\x01\x00\x00\x00\x97\x82\x08\xe2",
  ],
};
