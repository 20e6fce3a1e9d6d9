// memcached: the text protocol (stats, version, get/set/delete/flush_all logged as commands) and a minimal binary one.
import table from "../../../fixtures/services/memcached.json";
import type { ServiceModule } from "../../types.ts";
import { MEMCACHED_MAX_BUFFERED, startMemcached } from "./session.ts";
import { memcachedTemplates, type MemcachedTemplates } from "./templates.ts";

export const memcached: ServiceModule<MemcachedTemplates> = {
  name: "memcached",
  aliases: [],
  transport: "tcp",
  defaultPorts: [11211],
  templates: memcachedTemplates,
  table,
  start: startMemcached,
  maxBuffered: MEMCACHED_MAX_BUFFERED,
  fuzzPrefixes: ["stats\r\n", "set k 0 0 ", "get ", "flush_all\r\n", "\x80\x0b\x00\x00", "gets "],
};
