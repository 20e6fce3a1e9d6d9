// pop3s: POP3 over TLS from the first byte (995). The trap's TLS layer does the handshake with the entry's
// per-host certificate; the session is the pop3 service's, on the words of the pop3 face the entry names.
import table from "../../../fixtures/services/pop3s.json";
import type { ServiceModule } from "../../types.ts";
import { POP3_MAX_BUFFERED, startPop3 } from "../pop3/session.ts";
import { pop3sTemplates, type Pop3sTemplates } from "./templates.ts";

export const pop3s: ServiceModule<Pop3sTemplates> = {
  name: "pop3s",
  aliases: [],
  transport: "tcp",
  defaultPorts: [995],
  templates: pop3sTemplates,
  table,
  start: startPop3,
  maxBuffered: POP3_MAX_BUFFERED,
  // Dovecot on 110 and Courier on 995 of one host would not fit together.
  follows: { service: "pop3", faceOf: (entry) => entry.templates.pop3Face },
  // The fuzzer feeds sessions directly (plaintext): the commands that arrive through TLS.
  fuzzPrefixes: ["USER a\r\nPASS ", "AUTH PLAIN ", "AUTH NTLM\r\n", "CAPA\r\n", "STLS\r\n"],
};
