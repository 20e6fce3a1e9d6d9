// The banner catalog: fixtures/services/*.json, bundled into the executable at build time.
import ftpTable from "../../fixtures/services/ftp.json";
import httpTable from "../../fixtures/services/http.json";
import mysqlTable from "../../fixtures/services/mysql.json";
import sambaTable from "../../fixtures/services/samba.json";
import torrentTable from "../../fixtures/services/torrent.json";
import { OS_FAMILIES, SERVICES, type CatalogEntry, type OsFamily, type ServiceName, type ServiceTable } from "../types.ts";
import { validateTable } from "./validate.ts";

export const SERVICE_ALIASES: Record<string, ServiceName> = { smb: "samba", bittorrent: "torrent" };

const TABLES: Record<ServiceName, ServiceTable> = {
  ftp: validateTable(ftpTable, "ftp"),
  http: validateTable(httpTable, "http"),
  mysql: validateTable(mysqlTable, "mysql"),
  samba: validateTable(sambaTable, "samba"),
  torrent: validateTable(torrentTable, "torrent"),
};

export function serviceTable(service: ServiceName): ServiceTable {
  return TABLES[service];
}

export function allEntries(): CatalogEntry[] {
  return SERVICES.flatMap((s) => TABLES[s].entries);
}

export function resolveService(name: string): ServiceName | undefined {
  const lower = name.toLowerCase();
  if ((SERVICES as readonly string[]).includes(lower)) return lower as ServiceName;
  return SERVICE_ALIASES[lower];
}

export function findEntry(id: string): CatalogEntry | undefined {
  return allEntries().find((e) => e.id === id);
}

export function isOsFamily(name: string): name is OsFamily {
  return (OS_FAMILIES as readonly string[]).includes(name);
}
