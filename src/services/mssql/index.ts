// mssql: Microsoft SQL Server's TDS login (PRELOGIN, LOGIN7 with its password decoded, NTLM via SSPI,
// "Login failed").
import table from "../../../fixtures/services/mssql.json";
import type { ServiceModule } from "../../types.ts";
import { MSSQL_MAX_BUFFERED, startMssql } from "./session.ts";
import { mssqlTemplates, type MssqlTemplates } from "./templates.ts";

export const mssql: ServiceModule<MssqlTemplates> = {
  name: "mssql",
  aliases: ["ms-sql", "sqlserver"],
  transport: "tcp",
  defaultPorts: [1433],
  templates: mssqlTemplates,
  table,
  start: startMssql,
  maxBuffered: MSSQL_MAX_BUFFERED,
  fuzzPrefixes: [
    // nmap's PRELOGIN probe
    "\x12\x01\x00\x34\x00\x00\x00\x00\x00\x00\x15\x00\x06\x01\x00\x1b\x00\x01\x02\x00\x1c\x00\x0c\x03\x00\x28\x00\x04\xff\x08\x00\x01\x55\x00\x00\x00MSSQLServer\x00\x48\x0f\x00\x00",
    // a LOGIN7 packet header and the start of its fixed part (TDS 7.4)
    "\x10\x01\x00\x90\x00\x00\x01\x00\x88\x00\x00\x00\x04\x00\x00\x74\x00\x10\x00\x00",
    // an SSPI packet carrying an NTLMSSP AUTHENTICATE
    "\x11\x01\x00\x60\x00\x00\x01\x00NTLMSSP\x00\x03\x00\x00\x00",
  ],
};
