// The protocol registry: one module per service, all pure logic over bytes.
import type { Protocol, ServiceName } from "../types.ts";
import { ftp } from "./ftp.ts";
import { http } from "./http.ts";
import { mysql } from "./mysql.ts";
import { samba } from "./samba.ts";
import { torrent } from "./torrent.ts";

const PROTOCOLS: Record<ServiceName, Protocol> = { ftp, http, mysql, samba, torrent };

export function protocolFor(service: ServiceName): Protocol {
  return PROTOCOLS[service];
}
