// mysql: the MySQL/MariaDB connection phase (greeting, HandshakeResponse, "Access denied").
import table from "../../../fixtures/services/mysql.json";
import type { ServiceModule } from "../../types.ts";
import { MYSQL_MAX_BUFFERED, startMysql } from "./session.ts";
import { mysqlTemplates, type MysqlTemplates } from "./templates.ts";

export const mysql: ServiceModule<MysqlTemplates> = {
  name: "mysql",
  aliases: [],
  transport: "tcp",
  defaultPorts: [3306],
  templates: mysqlTemplates,
  table,
  start: startMysql,
  maxBuffered: MYSQL_MAX_BUFFERED,
  fuzzPrefixes: ["\x20\x00\x00\x01\x85\xa6\x3f\x20\x00\x00\x00\x01\x21", "\x05\x00\x00\x00\x03SELE", "\xff\xff\xff\x01"],
};
