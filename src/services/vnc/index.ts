// vnc: RFB's handshake up to a refused VNC authentication, the challenge-response kept for John the Ripper.
import table from "../../../fixtures/services/vnc.json";
import type { ServiceModule } from "../../types.ts";
import { VNC_MAX_BUFFERED, startVnc } from "./session.ts";
import { vncTemplates, type VncTemplates } from "./templates.ts";

export const vnc: ServiceModule<VncTemplates> = {
  name: "vnc",
  aliases: ["rfb"],
  transport: "tcp",
  defaultPorts: [5900],
  templates: vncTemplates,
  table,
  start: startVnc,
  maxBuffered: VNC_MAX_BUFFERED,
  fuzzPrefixes: [
    "RFB 003.008\n\x02",
    "RFB 003.003\n",
    "RFB 003.007\n\x02\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff\x00",
    "RFB 003.889\n\x1e",
  ],
};
