// pop3: POP3 before login on 110 (greeting, CAPA, STLS, USER/PASS and AUTH always refused).
import table from "../../../fixtures/services/pop3.json";
import type { ServiceModule } from "../../types.ts";
import { POP3_MAX_BUFFERED, startPop3 } from "./session.ts";
import { pop3Templates, type Pop3Templates } from "./templates.ts";

export const pop3: ServiceModule<Pop3Templates> = {
  name: "pop3",
  aliases: [],
  transport: "tcp",
  defaultPorts: [110],
  templates: pop3Templates,
  table,
  start: startPop3,
  maxBuffered: POP3_MAX_BUFFERED,
  // One mail suite serves both on a real host: Dovecot's imap with Dovecot's pop3, Cyrus with Cyrus.
  follows: { service: "imap", faceOf: (entry) => entry.templates.imapFace },
  fuzzPrefixes: ["USER ", "USER a\r\nPASS ", "AUTH PLAIN ", "AUTH LOGIN\r\n", "AUTH NTLM\r\nTlRMTVNTUAAB", "CAPA\r\n", "APOP "],
};
