// redis: redis-server before a login (RESP and inline commands, AUTH always refused, an open server's answers).
import table from "../../../fixtures/services/redis.json";
import type { ServiceModule } from "../../types.ts";
import { REDIS_MAX_BUFFERED, startRedis } from "./session.ts";
import { redisTemplates, type RedisTemplates } from "./templates.ts";

export const redis: ServiceModule<RedisTemplates> = {
  name: "redis",
  aliases: [],
  transport: "tcp",
  defaultPorts: [6379],
  templates: redisTemplates,
  table,
  start: startRedis,
  maxBuffered: REDIS_MAX_BUFFERED,
  fuzzPrefixes: ["*2\r\n$4\r\nAUTH\r\n$", "*1\r\n$4\r\ninfo\r\n", "AUTH ", "CONFIG SET dir ", "*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$", "EVAL \"", "$"],
};
