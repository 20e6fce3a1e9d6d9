// Drives a catalog entry's session as the engine's Connection: the same code a socket drives, on a virtual
// clock, so a reply delayed past nmap's wait is missed as real nmap would miss it.
import { makeContext } from "../services/context.ts";
import { SessionDriver, VirtualClock } from "../services/driver.ts";
import { startSession } from "../services/index.ts";
import type { CatalogEntry } from "../types.ts";
import { concatBytes } from "../wire/bytes.ts";
import type { Connection, StepResult } from "./engine.ts";

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
    const clock = new VirtualClock();
    let received: Uint8Array[] = [];
    let closed = false;
    const driver = new SessionDriver(
      startSession(
        makeContext({
          entry,
          hostSeed: o.hostSeed,
          sessionSeed: `check-${++n}`,
          ...(o.now ? { now: () => o.now! } : {}),
          localPort: o.port,
          remotePort: 40000 + n,
        }),
      ),
      clock,
      {
        write: (bytes) => void received.push(bytes),
        events: () => {},
        close: () => void (closed = true),
        error: () => void (closed = true),
      },
    );
    /** What arrived within the wait: nmap stops reading once its wait is over. */
    const collect = (waitMs: number): StepResult => {
      clock.advanceBy(waitMs);
      const data = concatBytes(received);
      received = [];
      return { data, closed };
    };
    return {
      open(waitMs) {
        driver.open();
        return collect(waitMs);
      },
      send(bytes, waitMs) {
        if (!closed) driver.data(bytes);
        return collect(waitMs);
      },
    };
  };
}
