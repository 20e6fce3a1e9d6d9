// The service registry. Adding a service: a folder src/services/<name>/ (index.ts, templates.ts,
// session.ts), its banner table fixtures/services/<name>.json, and one line here.
import type { HostFacts } from "../host/facts.ts";
import type { CatalogEntry, ProtocolSession, ServiceModule, SessionContext } from "../types.ts";
import { docker } from "./docker/index.ts";
import { elasticsearch } from "./elasticsearch/index.ts";
import { ftp } from "./ftp/index.ts";
import { http } from "./http/index.ts";
import { httpProxy } from "./proxy/index.ts";
import { https } from "./https/index.ts";
import { imap } from "./imap/index.ts";
import { imaps } from "./imaps/index.ts";
import { ldap } from "./ldap/index.ts";
import { memcached } from "./memcached/index.ts";
import { mongodb } from "./mongodb/index.ts";
import { mssql } from "./mssql/index.ts";
import { mysql } from "./mysql/index.ts";
import { pop3 } from "./pop3/index.ts";
import { pop3s } from "./pop3s/index.ts";
import { postgresql } from "./postgresql/index.ts";
import { rdp } from "./rdp/index.ts";
import { redis } from "./redis/index.ts";
import { rsync } from "./rsync/index.ts";
import { samba } from "./samba/index.ts";
import { sip } from "./sip/index.ts";
import { smtp } from "./smtp/index.ts";
import { smtps } from "./smtps/index.ts";
import { ssh } from "./ssh/index.ts";
import { telnet } from "./telnet/index.ts";
import { torrent } from "./torrent/index.ts";
import { vnc } from "./vnc/index.ts";

export const SERVICE_MODULES: readonly ServiceModule[] = [docker, elasticsearch, ftp, http, httpProxy, https, imap, imaps, ldap, memcached, mongodb, mssql, mysql, pop3, pop3s, postgresql, rdp, redis, rsync, samba, sip, smtp, smtps, ssh, telnet, torrent, vnc];

/** Service names, in registry order. */
export const SERVICES: readonly string[] = SERVICE_MODULES.map((m) => m.name);

const BY_NAME = new Map(SERVICE_MODULES.map((m) => [m.name, m]));

export function serviceModule(name: string): ServiceModule {
  const m = BY_NAME.get(name);
  if (!m) throw new Error(`no service module "${name}"`);
  return m;
}

/** Canonical name for a service or alias ("SMB" → "samba"); undefined when nothing fits. */
export function resolveService(name: string): string | undefined {
  const lower = name.toLowerCase();
  return SERVICE_MODULES.find((m) => m.name === lower || m.aliases.includes(lower))?.name;
}

/** Every alias with its service: { smb: "samba", bittorrent: "torrent" }. */
export function serviceAliases(): Record<string, string> {
  return Object.fromEntries(SERVICE_MODULES.flatMap((m) => m.aliases.map((a) => [a, m.name])));
}

// One host's prepared material per entry (host keys): made once, shared by every session and caller.
const preparedCache = new Map<string, unknown>();

/** What the entry's service prepares once per host (ServiceModule.prepare), made on first use. */
export function preparedFor(entry: CatalogEntry, host: HostFacts): unknown {
  const m = serviceModule(entry.service);
  if (!m.prepare) return undefined;
  const key = `${entry.service}\u0000${entry.id}\u0000${host.seed}\u0000${host.release}`;
  if (!preparedCache.has(key)) preparedCache.set(key, m.prepare(entry, host));
  return preparedCache.get(key);
}

/** A new session of the entry's service: the one way the listener, replay, check and the fuzzer start one. */
export function startSession(ctx: SessionContext): ProtocolSession {
  const prepared = ctx.prepared ?? preparedFor(ctx.entry, ctx.host);
  return serviceModule(ctx.entry.service).start(prepared === undefined ? ctx : { ...ctx, prepared });
}
