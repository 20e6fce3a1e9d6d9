// The tables are data, and data can be wrong: check their shape once, at start-up, with a clear message.
import { OS_FAMILIES, type CatalogEntry, type ServiceName, type ServiceTable } from "../types.ts";

function fail(where: string, what: string): never {
  throw new Error(`banner table ${where}: ${what}`);
}

function isPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

export function validateTable(raw: unknown, service: ServiceName): ServiceTable {
  const where = `fixtures/services/${service}.json`;
  if (typeof raw !== "object" || raw === null) fail(where, "not an object");
  const t = raw as Record<string, unknown>;
  if (t.service !== service) fail(where, `"service" must be "${service}"`);
  if (!Array.isArray(t.defaultPorts) || !t.defaultPorts.every(isPort)) fail(where, "bad defaultPorts");
  if (!Array.isArray(t.entries) || t.entries.length === 0) fail(where, "no entries");
  const seen = new Set<string>();
  const entries = t.entries.map((raw: unknown, i: number): CatalogEntry => {
    const e = raw as Record<string, unknown>;
    const at = `${where} entry ${i}`;
    if (typeof e.id !== "string" || !/^[a-z0-9][a-z0-9._-]*$/.test(e.id)) fail(at, "id must be lowercase [a-z0-9._-]");
    if (seen.has(e.id)) fail(at, `duplicate id ${e.id}`);
    seen.add(e.id);
    if (typeof e.product !== "string" || e.product === "") fail(at, "product missing");
    if (typeof e.version !== "string") fail(at, "version missing");
    if (!(OS_FAMILIES as readonly string[]).includes(e.os as string)) fail(at, `os must be one of ${OS_FAMILIES.join(", ")}`);
    if (!Array.isArray(e.cpe) || !e.cpe.every((c) => typeof c === "string")) fail(at, "cpe must be a list");
    if (!Array.isArray(e.ports) || !e.ports.every(isPort)) fail(at, "bad ports");
    if (typeof e.weight !== "number" || !(e.weight > 0)) fail(at, "weight must be > 0");
    if (typeof e.templates !== "object" || e.templates === null) fail(at, "templates missing");
    for (const [k, v] of Object.entries(e.templates)) if (typeof v !== "string") fail(at, `template ${k} is not a string`);
    for (const k of ["info", "ostype", "notes"] as const)
      if (e[k] !== undefined && typeof e[k] !== "string") fail(at, `${k} must be a string`);
    return { ...(e as unknown as CatalogEntry), service };
  });
  return { service, defaultPorts: t.defaultPorts as number[], entries };
}
