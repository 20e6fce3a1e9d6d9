// smtps: SMTP behind TLS from the first byte (465: Postfix's smtpd_tls_wrappermode, Exim's
// tls_on_connect_ports, Exchange's and IIS's SSL port). The trap's TLS layer does the handshake with the
// entry's per-host certificate; the session is the smtp service's, on the words of the smtp face it names.
import table from "../../../fixtures/services/smtps.json";
import type { ServiceModule } from "../../types.ts";
import { SMTP_MAX_BUFFERED, startSmtp } from "../smtp/session.ts";
import { smtpsTemplates, type SmtpsTemplates } from "./templates.ts";

export const smtps: ServiceModule<SmtpsTemplates> = {
  name: "smtps",
  aliases: [],
  transport: "tcp",
  defaultPorts: [465],
  templates: smtpsTemplates,
  table,
  start: startSmtp,
  maxBuffered: SMTP_MAX_BUFFERED,
  // One MTA answers on 25, 587 and 465: the face on 465 is the one on 25.
  follows: { service: "smtp", faceOf: (entry) => entry.templates.smtpFace },
  // The fuzzer feeds sessions directly (plaintext): these are the lines that arrive through TLS.
  fuzzPrefixes: ["EHLO x\r\nAUTH PLAIN ", "EHLO x\r\nAUTH LOGIN\r\n", "EHLO x\r\nAUTH NTLM TlRMTVNTUAAB", "EHLO x\r\nSTARTTLS\r\n"],
};
