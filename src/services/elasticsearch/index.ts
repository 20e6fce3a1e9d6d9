// elasticsearch: one node's REST API on 9200 (open, or X-Pack security on), client-first.
import table from "../../../fixtures/services/elasticsearch.json";
import type { ServiceModule } from "../../types.ts";
import { ELASTICSEARCH_MAX_BUFFERED, startElasticsearch } from "./session.ts";
import { elasticsearchTemplates, type ElasticsearchTemplates } from "./templates.ts";

export const elasticsearch: ServiceModule<ElasticsearchTemplates> = {
  name: "elasticsearch",
  aliases: ["es"],
  transport: "tcp",
  defaultPorts: [9200],
  templates: elasticsearchTemplates,
  table,
  start: startElasticsearch,
  maxBuffered: ELASTICSEARCH_MAX_BUFFERED,
  fuzzPrefixes: [
    "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic ",
    "POST /_search HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: ",
    "PUT /read_me/_doc/1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET /_cat/indices?v HTTP/1.0\r\n\r\n",
  ],
};
