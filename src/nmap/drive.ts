// Drives a catalog entry's session as the engine's Connection: the same code a socket drives, on a virtual
// clock, so a reply delayed past nmap's wait is missed as real nmap would miss it. A face with TLS from the
// first byte answers nmap's raw probes through the trap's real TLS layer (node:tls, as on a socket: an
// SSLv3 hello gets the library's alert), except a plain HTTP request, which the face answers in plain
// where its product does (Apache's "speaking plain HTTP" page) and the layer fails on otherwise; through
// nmap's SSL tunnel the session gets the plaintext, as it does behind the TLS layer on a socket.
import { makeContext } from "../services/context.ts";
import { SessionDriver, VirtualClock } from "../services/driver.ts";
import { startSession } from "../services/index.ts";
import { isPlainHttpRequest, secureContextFor, TlsLayer } from "../net/tls.ts";
import type { CatalogEntry } from "../types.ts";
import { concatBytes } from "../wire/bytes.ts";
import type { Connection, StepResult, Tunnel } from "./engine.ts";

export interface DriveOptions {
  hostSeed: string;
  port: number;
  /** Fixed clock, so two runs give the same bytes. */
  now?: Date;
}

/** A connection factory for the engine; each connection is a fresh protocol session, as on a socket. */
export function entryConnector(entry: CatalogEntry, o: DriveOptions): (tunnel?: Tunnel) => Connection {
  let n = 0;
  return (tunnel = "none") => {
    const clock = new VirtualClock();
    let received: Uint8Array[] = [];
    let closed = false;
    const ctx = makeContext({
      entry,
      hostSeed: o.hostSeed,
      sessionSeed: `check-${++n}`,
      ...(o.now ? { now: () => o.now! } : {}),
      localPort: o.port,
      remotePort: 40000 + n,
    });
    // Raw bytes to a first-byte TLS face meet the TLS layer; through nmap's tunnel, the session itself.
    let tls =
      entry.tls?.mode === "first-byte" && tunnel === "none"
        ? new TlsLayer(secureContextFor(entry.tls, ctx.host), {
            plaintext: (bytes) => {
              if (!closed) driver.data(bytes);
            },
            ciphertext: (bytes) => void received.push(bytes),
            secure: () => {},
            failed: () => void (closed = true),
            ended: () => void (closed = true),
          })
        : undefined;
    let firstSent = false;
    const driver: SessionDriver = new SessionDriver(startSession(ctx), clock, {
      write: (bytes) => (tls ? tls.write(bytes) : void received.push(bytes)),
      events: () => {},
      close: () => {
        tls?.end();
        closed = true;
      },
      error: () => void (closed = true),
    });
    const take = (): StepResult => {
      const data = concatBytes(received);
      received = [];
      return { data, closed };
    };
    /** What arrived within the wait: nmap stops reading once its wait is over. */
    const collect = (waitMs: number): StepResult => {
      clock.advanceBy(waitMs);
      return take();
    };
    if (!tls) {
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
    }
    // The TLS library answers on later turns of the event loop: wait until it has had its say.
    const collectTls = async (waitMs: number): Promise<StepResult> => {
      await settled(() => received.length + (closed ? 1 : 0));
      clock.advanceBy(waitMs);
      await settled(() => received.length + (closed ? 1 : 0));
      return take();
    };
    return {
      open(waitMs) {
        driver.open();
        return collectTls(waitMs);
      },
      send(bytes, waitMs) {
        const first = !firstSent;
        firstSent = true;
        if (closed) return collectTls(waitMs);
        if (first && tls && bytes.length >= 5 && isPlainHttpRequest(bytes) && driver.answersPlainOnTls) {
          // As the listener does: the layer is dropped and the product answers the request in plain.
          tls.destroy();
          tls = undefined;
          driver.plainOnTls(bytes);
        } else if (tls) tls.fromPeer(bytes);
        else if (!closed) driver.data(bytes);
        return collectTls(waitMs);
      },
    };
  };
}

/** Lets the event loop turn until `progress` has not moved for a few turns (or a bound is reached). */
async function settled(progress: () => number): Promise<void> {
  let last = progress();
  let quiet = 0;
  for (let turn = 0; turn < 200 && quiet < 4; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const now = progress();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}
