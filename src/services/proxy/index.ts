// proxy: a Squid forward proxy that refuses every client (3128, 8080), client-first.
import table from "../../../fixtures/services/proxy.json";
import type { ServiceModule } from "../../types.ts";
import { HTTP_PROXY_MAX_BUFFERED, startHttpProxy } from "./session.ts";
import { httpProxyTemplates, type HttpProxyTemplates } from "./templates.ts";

export const httpProxy: ServiceModule<HttpProxyTemplates> = {
  name: "proxy",
  aliases: ["squid", "http-proxy"],
  transport: "tcp",
  defaultPorts: [3128, 8080],
  templates: httpProxyTemplates,
  table,
  start: startHttpProxy,
  maxBuffered: HTTP_PROXY_MAX_BUFFERED,
  fuzzPrefixes: [
    "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nProxy-Authorization: Basic ",
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    "POST http://x/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
  ],
};
