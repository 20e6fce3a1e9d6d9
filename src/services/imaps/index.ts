// imaps: IMAP over TLS from the first byte (993). The trap's TLS layer does the handshake with the entry's
// per-host certificate; the session is the imap service's, on the words of the imap face the entry names.
import table from "../../../fixtures/services/imaps.json";
import type { ServiceModule } from "../../types.ts";
import { IMAP_MAX_BUFFERED, startImap } from "../imap/session.ts";
import { imapsTemplates, type ImapsTemplates } from "./templates.ts";

export const imaps: ServiceModule<ImapsTemplates> = {
  name: "imaps",
  aliases: [],
  transport: "tcp",
  defaultPorts: [993],
  templates: imapsTemplates,
  table,
  start: startImap,
  maxBuffered: IMAP_MAX_BUFFERED,
  // Dovecot on 143 and Courier on 993 of one host would not fit together.
  follows: { service: "imap", faceOf: (entry) => entry.templates.imapFace },
  // The fuzzer feeds sessions directly (plaintext): the commands that arrive through TLS.
  fuzzPrefixes: ["a1 LOGIN ", "a2 AUTHENTICATE PLAIN ", "a3 AUTHENTICATE NTLM\r\n", "a4 LOGIN {", "a5 STARTTLS\r\n"],
};
