// The banner catalog: fixtures/services/*.json (bundled into the executable at build time through the
// service modules), each entry parsed against its service's schema once, on first use.
import { SERVICE_MODULES, serviceModule } from "../services/index.ts";
import type { CatalogEntry, ServiceName } from "../types.ts";
import { validateTable } from "./validate.ts";

export { resolveService } from "../services/index.ts";

let tables: Map<ServiceName, CatalogEntry[]> | undefined;

function loaded(): Map<ServiceName, CatalogEntry[]> {
  tables ??= new Map(SERVICE_MODULES.map((m) => [m.name, validateTable(m.table, m)]));
  return tables;
}

/** The entries of one service. */
export function serviceEntries(service: ServiceName): CatalogEntry[] {
  const entries = loaded().get(service);
  if (!entries) throw new Error(`no banner table for service "${service}"`);
  return entries;
}

/** The usual ports of a service: bound when no port is given. */
export function defaultPorts(service: ServiceName): number[] {
  return serviceModule(service).defaultPorts;
}

export function allEntries(): CatalogEntry[] {
  return [...loaded().values()].flat();
}

export function findEntry(id: string): CatalogEntry | undefined {
  return allEntries().find((e) => e.id === id);
}
