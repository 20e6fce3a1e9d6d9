// postgresql: a PostgreSQL backend's connection start (SSLRequest, startup packet, md5 or cleartext
// authentication request, FATAL 28P01).
import table from "../../../fixtures/services/postgresql.json";
import type { ServiceModule } from "../../types.ts";
import { POSTGRESQL_MAX_BUFFERED, startPostgresql } from "./session.ts";
import { postgresqlTemplates, type PostgresqlTemplates } from "./templates.ts";

export const postgresql: ServiceModule<PostgresqlTemplates> = {
  name: "postgresql",
  aliases: ["postgres", "pgsql"],
  transport: "tcp",
  defaultPorts: [5432],
  templates: postgresqlTemplates,
  table,
  start: startPostgresql,
  maxBuffered: POSTGRESQL_MAX_BUFFERED,
  fuzzPrefixes: [
    // SSLRequest, GSSENCRequest, CancelRequest
    "\x00\x00\x00\x08\x04\xd2\x16\x2f",
    "\x00\x00\x00\x08\x04\xd2\x16\x30",
    "\x00\x00\x00\x10\x04\xd2\x16\x2e",
    // a v3 startup packet (user postgres, database postgres), then a PasswordMessage
    "\x00\x00\x00\x29\x00\x03\x00\x00user\x00postgres\x00database\x00postgres\x00\x00p\x00\x00\x00\x28md5",
    "\x00\x00\x00\x11\x00\x03\x00\x00user\x00sa\x00\x00p\x00\x00",
    // a v2 startup packet
    "\x00\x00\x01\x28\x00\x02\x00\x00",
  ],
};
