// The docker templates: the Engine API of one dockerd with no containers and no images, its TCP socket
// open without TLS (-H tcp://0.0.0.0:2375). Bodies fill {{hostname}} {{id}} {{system_time}} {{ncpu}}
// {{mem_total}} {{nfd}} {{ngoroutines}}; replies are written as Go's net/http writes them.
import { schema, t } from "../schema.ts";

export const dockerTemplates = schema({
  version: t.text("the engine version as /version and the Server header say it (\"20.10.24+dfsg1\")"),
  apiVersion: t.text("the newest API version served (\"1.41\")", /^1\.\d+$/, '"1.NN"'),
  minApiVersion: t.text("the oldest API version served (\"1.12\")", /^1\.\d+$/, '"1.NN"'),
  ostype: t.oneOf("the Ostype header and the daemon's OS", ["linux", "windows"] as const),
  experimental: t.bool("the Docker-Experimental header"),
  versionBody: t.text("GET /version: the JSON document and its final newline"),
  infoBody: t.text("GET /info: the JSON document and its final newline"),
  ncpu: t.int("NCPU of /info", 1, 256),
  memTotalMiB: t.int("MemTotal of /info in MiB (a little below the RAM size)", 256, 4_194_304),
  pullError: t.text("the message of a refused image pull (the host cannot reach the registry)"),
});

export type DockerTemplates = ReturnType<typeof dockerTemplates.parse>;
