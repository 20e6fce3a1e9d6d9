// Drives a catalog entry's protocol as the engine's Connection: the same code a socket drives.
import { makeContext } from "../services/context.ts";
import { startSession } from "../services/index.ts";
import type { CatalogEntry, Reply } from "../types.ts";
import { toBytes } from "../wire/bytes.ts";
import type { Connection, StepResult } from "./engine.ts";

function result(reply: Reply): StepResult {
  return { data: reply.write === undefined ? new Uint8Array(0) : toBytes(reply.write), closed: reply.close === true };
}

export interface DriveOptions {
  hostSeed: string;
  port: number;
  /** Fixed clock, so two runs give the same bytes. */
  now?: Date;
}

/** A connection factory for the engine; each connection is a fresh protocol session, as on a socket. */
export function entryConnector(entry: CatalogEntry, o: DriveOptions): () => Connection {
  let n = 0;
  return () => {
    const session = startSession(
      makeContext({
        entry,
        hostSeed: o.hostSeed,
        sessionSeed: `check-${++n}`,
        ...(o.now ? { now: () => o.now! } : {}),
        localPort: o.port,
        remotePort: 40000 + n,
      }),
    );
    let closed = false;
    const step = (reply: Reply): StepResult => {
      if (closed) return { data: new Uint8Array(0), closed: true };
      const r = result(reply);
      closed = r.closed;
      return r;
    };
    return {
      open: () => step(session.open()),
      send: (bytes) => (closed ? { data: new Uint8Array(0), closed: true } : step(session.data(bytes))),
    };
  };
}
