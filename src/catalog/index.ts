// The banner catalog: fixtures/services/*.json (bundled into the executable at build time through the
// service modules), each entry parsed against its service's schema once, on first use.
import { SERVICE_MODULES, serviceModule } from "../services/index.ts";
import type { CatalogEntry, ServiceModule, ServiceName } from "../types.ts";
import { validateTable } from "./validate.ts";

export { resolveService } from "../services/index.ts";

/** Each service's table, parsed on first use: a process serving one face parses only that face's table. */
const tables = new Map<ServiceName, CatalogEntry[]>();

function tableOf(m: ServiceModule): CatalogEntry[] {
  let entries = tables.get(m.name);
  if (entries === undefined) {
    entries = validateTable(m.table, m);
    tables.set(m.name, entries);
  }
  return entries;
}

/** The entries of one service. */
export function serviceEntries(service: ServiceName): CatalogEntry[] {
  const m = SERVICE_MODULES.find((s) => s.name === service);
  if (!m) throw new Error(`no banner table for service "${service}"`);
  return tableOf(m);
}

/** The usual ports of a service: bound when no port is given. */
export function defaultPorts(service: ServiceName): number[] {
  return serviceModule(service).defaultPorts;
}

export function allEntries(): CatalogEntry[] {
  return SERVICE_MODULES.flatMap((m) => tableOf(m));
}

export function findEntry(id: string): CatalogEntry | undefined {
  for (const m of SERVICE_MODULES) {
    // A table whose raw entries do not name the id is not parsed for it.
    const raw = (m.table as { entries?: unknown } | null)?.entries;
    if (Array.isArray(raw) && !raw.some((e) => (e as { id?: unknown } | null)?.id === id)) continue;
    const found = tableOf(m).find((e) => e.id === id);
    if (found) return found;
  }
  return undefined;
}
