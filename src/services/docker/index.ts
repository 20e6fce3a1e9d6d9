// docker: a Docker Engine API open on tcp 2375 without TLS, client-first.
import table from "../../../fixtures/services/docker.json";
import type { ServiceModule } from "../../types.ts";
import { DOCKER_MAX_BUFFERED, startDocker } from "./session.ts";
import { dockerTemplates, type DockerTemplates } from "./templates.ts";

export const docker: ServiceModule<DockerTemplates> = {
  name: "docker",
  aliases: ["dockerd"],
  transport: "tcp",
  defaultPorts: [2375],
  templates: dockerTemplates,
  table,
  start: startDocker,
  maxBuffered: DOCKER_MAX_BUFFERED,
  fuzzPrefixes: [
    "POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ",
    "POST /containers/abc/exec HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET /v1.24/version HTTP/1.0\r\n\r\n",
    "OPTIONS / HTTP/1.0\r\n\r\n",
  ],
};
