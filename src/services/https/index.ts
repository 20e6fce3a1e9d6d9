// https: an HTTP/1.x server behind TLS from the first byte (Apache mod_ssl, nginx, IIS on 443). The trap's
// TLS layer (src/net/tls.ts) does the handshake with the entry's per-host certificate; the session is the
// http service's, on the pages of the http face the entry names.
import table from "../../../fixtures/services/https.json";
import type { ServiceModule } from "../../types.ts";
import { HTTP_MAX_BUFFERED, startHttp } from "../http/session.ts";
import { httpsTemplates, type HttpsTemplates } from "./templates.ts";

export const https: ServiceModule<HttpsTemplates> = {
  name: "https",
  aliases: [],
  transport: "tcp",
  defaultPorts: [443],
  templates: httpsTemplates,
  table,
  start: startHttp,
  maxBuffered: HTTP_MAX_BUFFERED,
  // Apache on 80 and nginx on 443 of one host would be a story that does not fit together.
  follows: { service: "http", faceOf: (entry) => entry.templates.httpFace },
  // The fuzzer feeds sessions directly (plaintext), so these are the requests that arrive through TLS.
  fuzzPrefixes: ["GET / HTTP/1.1\r\nHost: x\r\nContent-Length: ", "POST /x HTTP/1.0\r\nAuthorization: Basic ", "OPTIONS * HTTP/1.1\r\n"],
};
