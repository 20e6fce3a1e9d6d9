// mongodb: mongod's driver port (OP_QUERY/OP_REPLY, OP_MSG), open or --auth, SCRAM and MONGODB-CR refused.
import table from "../../../fixtures/services/mongodb.json";
import type { ServiceModule } from "../../types.ts";
import { MONGODB_MAX_BUFFERED, startMongodb } from "./session.ts";
import { mongodbTemplates, type MongodbTemplates } from "./templates.ts";

export const mongodb: ServiceModule<MongodbTemplates> = {
  name: "mongodb",
  aliases: ["mongo", "mongod"],
  transport: "tcp",
  defaultPorts: [27017],
  templates: mongodbTemplates,
  table,
  start: startMongodb,
  maxBuffered: MONGODB_MAX_BUFFERED,
  fuzzPrefixes: [
    // nmap's serverStatus probe (OP_QUERY on test.$cmd), cut after its header.
    "\x41\x00\x00\x00\x3a\x30\x00\x00\xff\xff\xff\xff\xd4\x07\x00\x00\x00\x00\x00\x00test.$cmd\x00",
    // an OP_MSG isMaster as a 3.6+ driver sends it, cut inside its body.
    "\x3b\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00\x00\x00\x00\x00\x00\x26\x00\x00\x00\x10isMaster\x00",
    "GET / HTTP/1.0\r\n",
  ],
};
