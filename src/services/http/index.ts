// http: an HTTP/1.x origin server (Apache, nginx, IIS, lighttpd), client-first.
import table from "../../../fixtures/services/http.json";
import type { ServiceModule } from "../../types.ts";
import { HTTP_MAX_BUFFERED, startHttp } from "./session.ts";
import { httpTemplates, type HttpTemplates } from "./templates.ts";

export const http: ServiceModule<HttpTemplates> = {
  name: "http",
  aliases: [],
  transport: "tcp",
  defaultPorts: [80],
  templates: httpTemplates,
  table,
  start: startHttp,
  maxBuffered: HTTP_MAX_BUFFERED,
  fuzzPrefixes: ["GET / HTTP/1.1\r\nHost: x\r\nContent-Length: ", "POST /x HTTP/1.0\r\nAuthorization: Basic ", "OPTIONS * HTTP/1.1\r\n"],
};
