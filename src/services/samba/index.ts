// samba: smbd on 139/445 (NetBIOS session service, SMB1 and SMB2 negotiation, NTLMSSP session setup).
import table from "../../../fixtures/services/samba.json";
import type { ServiceModule } from "../../types.ts";
import { SAMBA_MAX_BUFFERED, startSamba } from "./session.ts";
import { sambaTemplates, type SambaTemplates } from "./templates.ts";

export const samba: ServiceModule<SambaTemplates> = {
  name: "samba",
  aliases: ["smb"],
  transport: "tcp",
  defaultPorts: [139, 445],
  templates: sambaTemplates,
  table,
  start: startSamba,
  maxBuffered: SAMBA_MAX_BUFFERED,
  fuzzPrefixes: [
    "\x00\x00\x00\xa4\xffSMBr\x00\x00\x00\x00\x08\x01@\x00",
    "\x00\x00\x00\x90\xfeSMB@\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    "\x00\x00\x01\x00\xffSMBs\x00\x00\x00\x00\x18\x07\xc8\x00",
    "\x00\x00\x01\x00\xfeSMB@\x00\x01\x00\x00\x00\x00\x00\x01\x00",
    "\x81\x00\x00\x44 CKFDENECFDEFFCFGEFFCCACACACACACA\x00",
  ],
};
