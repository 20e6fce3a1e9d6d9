// The elasticsearch templates: the REST API of one node as its version answers, unauthenticated (open to
// anyone, the state that gets clusters wiped and ransomed) or with X-Pack security on (every request 401).
// Bodies fill {{name}} {{cluster_name}} {{cluster_uuid}} {{node_id}} {{ip}} {{hostname}} {{index}}
// {{uri}} {{method}} {{user}} (JSON-escaped where they come from the peer).
import { optional, schema, t } from "../schema.ts";

/** A response: "status text|content type|body" (the body may hold further "|"). */
const RESPONSE = /^[1-5]\d\d [^|]+\|[^|]+\|/s;

export const elasticsearchTemplates = schema({
  nodeName: t.text("node.name as the root document shows it (1.x/2.x: a Marvel name drawn at start; 5.x/6.x: the node id's first 7 characters; 7.x: the host name, unless configured)"),
  clusterName: t.text("cluster.name (\"elasticsearch\" unless configured)"),
  headerCase: t.oneOf("how the framing headers are written: title (Netty 3 in 1.x/2.x: Content-Type) or lower (5.x+: content-type)", ["title", "lower"] as const),
  routes: t.table("what a path answers: a name in responses; keys \"/path\", \"/prefix*\", \"/*/_search\" (any one segment) or \"*\" for the rest; \"_index\" a name for index paths (a missing index), \"_handler\" for _ paths without a handler", /^(\/[^\s]*|\*|_index|_handler)$/),
  responses: t.table("responses by name: \"200 OK|application/json; charset=UTF-8|body\"", /^[a-zA-Z0-9_-]+$/, RESPONSE),
  writeResponse: t.text("the response name for a request that would change data (PUT, DELETE, POST other than a search): refused as the node refuses it"),
  security: optional(
    t.table("X-Pack security on: \"realm\" (the Basic realm), \"missing\" (the response without credentials) and \"failed\" (with wrong ones; {{user}}), both response names"),
  ),
});

export type ElasticsearchTemplates = ReturnType<typeof elasticsearchTemplates.parse>;
