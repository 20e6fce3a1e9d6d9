// imap: IMAP4rev1 before login on 143 (greeting, capabilities, STARTTLS, LOGIN and AUTHENTICATE always refused).
import table from "../../../fixtures/services/imap.json";
import type { ServiceModule } from "../../types.ts";
import { IMAP_MAX_BUFFERED, startImap } from "./session.ts";
import { imapTemplates, type ImapTemplates } from "./templates.ts";

export const imap: ServiceModule<ImapTemplates> = {
  name: "imap",
  aliases: [],
  transport: "tcp",
  defaultPorts: [143],
  templates: imapTemplates,
  table,
  start: startImap,
  maxBuffered: IMAP_MAX_BUFFERED,
  fuzzPrefixes: ["a1 LOGIN ", "a2 AUTHENTICATE PLAIN ", "a3 AUTHENTICATE LOGIN\r\n", "a4 AUTHENTICATE NTLM\r\nTlRMTVNTUAAB", "a5 LOGIN {", "a6 ID (", "a7 CAPABILITY\r\n"],
};
