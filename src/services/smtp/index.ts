// smtp: an MTA's SMTP and submission ports before delivery (greeting, EHLO, the envelope refused, STARTTLS,
// AUTH always refused and logged).
import table from "../../../fixtures/services/smtp.json";
import type { ServiceModule } from "../../types.ts";
import { SMTP_MAX_BUFFERED, startSmtp } from "./session.ts";
import { smtpTemplates, type SmtpTemplates } from "./templates.ts";

export const smtp: ServiceModule<SmtpTemplates> = {
  name: "smtp",
  aliases: ["submission"],
  transport: "tcp",
  defaultPorts: [25, 587],
  templates: smtpTemplates,
  table,
  start: startSmtp,
  maxBuffered: SMTP_MAX_BUFFERED,
  fuzzPrefixes: [
    "EHLO x\r\nAUTH PLAIN ",
    "EHLO x\r\nAUTH LOGIN\r\n",
    "EHLO x\r\nAUTH NTLM TlRMTVNTUAAB",
    "EHLO x\r\nAUTH CRAM-MD5\r\n",
    "EHLO x\r\nMAIL FROM:<",
    "HELO x\r\nRCPT TO:<",
    "EHLO x\r\nSTARTTLS\r\n",
    "VRFY ",
  ],
};
