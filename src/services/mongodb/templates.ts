// The mongodb face's templates: what one mongod build says of itself (buildInfo, isMaster, the HTTP
// text on the driver port) and whether it runs with --auth. Document layouts that change between
// release series (which fields serverStatus has, whether errors carry codeName) follow `series`.
import { optional, schema, t } from "../schema.ts";

export const MONGODB_SERIES = ["2.4", "2.6", "3.0", "3.2", "3.4", "3.6", "4.0", "4.2", "4.4"] as const;
export type MongodbSeries = (typeof MONGODB_SERIES)[number];

export const mongodbTemplates = schema({
  series: t.oneOf("the release series: decides document layouts and error texts", MONGODB_SERIES),
  version: t.text("buildInfo's version and serverStatus's version", /^\d+\.\d+\.\d+(-[\w.]+)?$/, "a version like 3.2.11"),
  gitVersion: t.text("buildInfo's gitVersion: 40 hex digits, or nogitversion on distribution builds", /^([0-9a-f]{40}|nogitversion)$/, "40 hex digits or nogitversion"),
  targetMinOS: optional(t.text("buildInfo's targetMinOS on Windows builds (\"Windows 7/Windows Server 2008 R2\")")),
  sysInfo: t.text("buildInfo's sysInfo (the build host's uname and Boost; 'deprecated' from 3.2 on)"),
  buildEnvironment: optional(t.table("how it was built: before 3.2 buildInfo's loaderFlags and compilerFlags (top level, after sysInfo); from 3.2 its buildEnvironment document (distmod, distarch, cc, ccflags, cxx, cxxflags, linkflags, target_arch, target_os)")),
  allocator: t.text("buildInfo's allocator: tcmalloc or system"),
  javascriptEngine: t.text("buildInfo's javascriptEngine: V8 (2.4-3.0) or mozjs (3.2 on)"),
  opensslRunning: t.text("buildInfo's openssl.running ('' when built without SSL)"),
  opensslCompiled: t.text("buildInfo's openssl.compiled ('' when built without SSL)"),
  storageEngine: t.oneOf("serverStatus's storageEngine.name (3.0 on)", ["mmapv1", "wiredTiger"] as const),
  maxWireVersion: t.int("isMaster's maxWireVersion (2.6: 2, 3.0: 3, 3.2: 4, 3.4: 5, 3.6: 6, 4.0: 7, 4.2: 8, 4.4: 9; absent before 2.6)", 0, 30),
  auth: t.bool("started with --auth: every command but the handshake and login ones is refused with code 13"),
  databases: t.list("listDatabases: name:sizeOnDisk for each database, in mongod's order (alphabetical)"),
  scramIterations: t.int("SCRAM-SHA-1 iteration count (mongod's default 10000)", 4096, 1_000_000),
  scramSha256Iterations: t.int("SCRAM-SHA-256 iteration count (4.0 on; mongod's default 15000)", 4096, 1_000_000),
});

export type MongodbTemplates = ReturnType<typeof mongodbTemplates.parse>;
