// Every ssh face refuses logins as its daemon does, checked in process on a virtual clock with a real SSH
// client (ssh2's Client): the key exchange is real, the daemon's pauses take no wall time. This is the part
// of a session a transcript cannot pin (it is encrypted past the opaque mark).
//
// Expectations come from the daemons, not from the templates:
// - OpenSSH from 5.x: the failure that reaches MaxAuthTries (6) gets SSH_MSG_DISCONNECT reason 2 instead of
//   USERAUTH_FAILURE (auth2.c; measured on Debian 12), "Too many authentication failures for <user>" up to
//   6.9 and without the user from 7.0 (auth.c).
// - OpenSSH 4.3: `if (failures++ > max_authtries)` before each failure reply, so seven failures are
//   answered and the eighth request gets the disconnect.
// - Dropbear: ten failures (MAX_AUTH_TRIES), then a close without a DISCONNECT (measured).
// - Pauses: PAM's fail delay on Linux, measured 1.87–4.63 s on Debian 12; Dropbear 250–350 ms (svr-auth.c).
import { describe, expect, test } from "bun:test";
import { Duplex } from "node:stream";
import { Client } from "ssh2";
import { serviceEntries } from "../../src/catalog/index.ts";
import { makeContext } from "../../src/services/context.ts";
import { SessionDriver, VirtualClock } from "../../src/services/driver.ts";
import { preparedFor } from "../../src/services/index.ts";
import { ssh } from "../../src/services/ssh/index.ts";
import type { SshTemplates } from "../../src/services/ssh/templates.ts";
import type { CatalogEntry, ProtocolEvent } from "../../src/types.ts";

const entries = serviceEntries("ssh") as CatalogEntry<SshTemplates>[];

interface Outcome {
  /** Virtual milliseconds from each attempt to its answer, and the methods each refusal named. */
  refusals: { ms: number; methods: string }[];
  disconnect?: { code: number; text: string; ms: number };
  closedWithoutWord: boolean;
  events: ProtocolEvent[];
}

const tick = () => new Promise<void>((r) => setImmediate(r));

/** One client connection trying `tries` passwords (or keyboard-interactive answers) as root. */
async function login(e: CatalogEntry<SshTemplates>, tries: number, method: "password" | "keyboard-interactive"): Promise<Outcome> {
  const ctx = makeContext({ entry: e, hostSeed: "login-test", sessionSeed: `login-${e.id}`, now: () => new Date("2024-03-05T07:08:09Z") });
  const session = ssh.start({ ...ctx, prepared: preparedFor(e, ctx.host) });
  const clock = new VirtualClock();
  const events: ProtocolEvent[] = [];
  let traffic = 0;
  let serverClosed = false;
  const wire = new Duplex({
    read() {},
    // Each side gets the other's bytes on a later tick, as over a socket (ssh2 is not re-entrant).
    write(chunk: Buffer, _enc, cb) {
      traffic++;
      const bytes = new Uint8Array(chunk);
      setImmediate(() => driver.data(bytes));
      cb();
    },
  });
  const driver = new SessionDriver(session, clock, {
    write: (b) => {
      traffic++;
      const bytes = Buffer.from(b);
      setImmediate(() => wire.push(bytes));
    },
    events: (ev) => void events.push(...ev),
    close: () => {
      serverClosed = true;
      setImmediate(() => wire.push(null));
    },
    error: (err) => wire.destroy(err),
  });
  const out: Outcome = { refusals: [], closedWithoutWord: false, events };
  let asked = 0;
  let askedAt = 0;
  let done = false;
  const client = new Client();
  client.on("error", (err: Error & { code?: number }) => {
    if (typeof err.code === "number") out.disconnect = { code: err.code, text: err.message, ms: clock.now() - askedAt };
  });
  client.on("close", () => void (done = true));
  client.connect({
    sock: wire as never,
    username: "root",
    hostVerifier: () => true,
    // What ssh2 can speak beyond its defaults, for the old faces (group1/14-sha1 only on CentOS 5 and Dropbear 2012).
    algorithms: {
      kex: { append: ["diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1", "diffie-hellman-group-exchange-sha1"] },
      cipher: { append: ["aes128-cbc", "3des-cbc"] },
      hmac: { append: ["hmac-md5", "hmac-sha1-96"] },
    },
    readyTimeout: 60_000,
    authHandler: (methodsLeft: string[] | null, _partial: boolean | null, next: (attempt: unknown) => void) => {
      if (asked > 0) out.refusals.push({ ms: clock.now() - askedAt, methods: (methodsLeft ?? []).join(",") });
      if (asked >= tries) return next(false);
      asked++;
      askedAt = clock.now();
      if (method === "password") return next({ type: "password", username: "root", password: `guess-${asked}` });
      return next({ type: "keyboard-interactive", username: "root", prompt: (_n: string, _i: string, _l: string, _p: unknown, answer: (a: string[]) => void) => answer([`guess-${asked}`]) });
    },
  } as never);
  driver.open();
  // The client works on ticks; the daemon's pauses are virtual: advance to the next one once the wire is quiet.
  for (let round = 0; round < 5000 && !done; round++) {
    const before = traffic;
    for (let i = 0; i < 20; i++) await tick();
    if (traffic !== before || done) continue;
    const due = clock.nextDue();
    if (due === undefined || serverClosed) break;
    clock.advanceTo(due);
  }
  out.closedWithoutWord = serverClosed && out.disconnect === undefined;
  client.end();
  driver.stop();
  return out;
}

const major = (e: CatalogEntry) => Number(/^(\d+)\.(\d+)/.exec(e.version)?.[1] ?? "0") + Number(/^\d+\.(\d+)/.exec(e.version)?.[1] ?? "0") / 10;

describe("refusing logins, face by face", () => {
  for (const e of entries) {
    const dropbear = e.product.startsWith("Dropbear");
    const noPassword = e.os === "freebsd" || e.os === "macos";
    test(`${e.id}: every try refused after the daemon's pause, then its goodbye`, async () => {
      const tries = dropbear ? 12 : 9;
      const r = await login(e, tries, noPassword ? "keyboard-interactive" : "password");
      const v = major(e);
      const answered = dropbear ? 10 : v < 5 ? 7 : 5;
      expect(r.refusals.length).toBe(answered);
      for (const refusal of r.refusals) {
        if (dropbear) {
          expect(refusal.ms).toBeGreaterThanOrEqual(250);
          expect(refusal.ms).toBeLessThanOrEqual(360);
        } else {
          expect(refusal.ms).toBeGreaterThanOrEqual(1800);
          expect(refusal.ms).toBeLessThanOrEqual(4700);
        }
        // Debian, Ubuntu and Dropbear measured; the others as their default configs read.
        if (e.os === "debian") expect(refusal.methods).toBe("publickey,password");
        if (e.os === "rhel") expect(refusal.methods).toBe("publickey,gssapi-keyex,gssapi-with-mic,password");
        if (noPassword) expect(refusal.methods).toBe("publickey,keyboard-interactive");
      }
      if (dropbear) {
        expect(r.disconnect).toBeUndefined();
        expect(r.closedWithoutWord).toBe(true);
      } else {
        expect(r.disconnect?.code).toBe(2);
        expect(r.disconnect?.text).toBe(v < 7 ? "Too many authentication failures for root" : "Too many authentication failures");
        // The last try waits its pause too before the goodbye.
        expect(r.disconnect!.ms).toBeGreaterThanOrEqual(1800);
      }
      // Every answer that was typed is in the log, with the client's identification.
      const logged = r.events.filter((x) => x.action === "login" && x.password !== undefined);
      expect(logged.map((x) => x.password)).toEqual(Array.from({ length: logged.length }, (_, i) => `guess-${i + 1}`));
      expect(logged.length).toBe(answered + (dropbear ? 0 : 1));
      for (const x of logged) expect(x.client?.version).toStartWith("SSH-2.0-ssh2js");
    }, 60_000);
  }
});
