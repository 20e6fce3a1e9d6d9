// The imaps service over real TCP and TLS on 127.0.0.1: TLS from the first byte with the face's
// certificate, then the imap face it names, already secure (Dovecot's 993 greeting as measured on
// Debian 12's 2.3.19.1: AUTH=PLAIN, no STARTTLS), and the refused login in the event log.
import { afterEach, describe, expect, test } from "bun:test";
import { connect as tlsConnect } from "node:tls";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { startTestTrap } from "../helpers.ts";

let stop: (() => void) | undefined;
afterEach(() => {
  stop?.();
  stop = undefined;
});

function tlsTalk(port: number): Promise<{ send: (s: string) => void; read: (until: string) => Promise<string>; end: () => void }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, rejectUnauthorized: false });
    let buf = "";
    s.on("data", (d) => (buf += d.toString("latin1")));
    s.once("error", reject);
    s.once("secureConnect", () =>
      resolve({
        send: (x) => void s.write(x),
        read: (until) =>
          new Promise((res, rej) => {
            const t0 = Date.now();
            const poll = () => {
              if (buf.includes(until)) return res(buf);
              if (Date.now() - t0 > 15000) return rej(new Error(`waited for ${until}; got ${JSON.stringify(buf)}`));
              setTimeout(poll, 20);
            };
            poll();
          }),
        end: () => s.destroy(),
      }),
    );
  });
}

describe("imaps", () => {
  test("every imaps face names an imap face and starts TLS at the first byte", () => {
    const imapIds = new Set(serviceEntries("imap").map((e) => e.id));
    const faces = serviceEntries("imaps") as CatalogEntry<{ imapFace: string }>[];
    expect(faces.length).toBeGreaterThanOrEqual(4);
    for (const e of faces) {
      expect(imapIds.has(e.templates.imapFace)).toBe(true);
      expect(e.tls?.mode).toBe("first-byte");
    }
  });

  test("dovecot 2.3: the secure greeting, STARTTLS refused, LOGIN refused with AUTHENTICATIONFAILED and logged", async () => {
    const entry = serviceEntries("imaps").find((e) => e.id === "dovecot-2.3-debian-ssl")!;
    const { trap, sink } = startTestTrap(entry);
    stop = () => trap.stop();
    const c = await tlsTalk(trap.port);
    try {
      const hello = await c.read("\r\n");
      expect(hello).toBe("* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN] Dovecot (Debian) ready.\r\n");
      c.send("a1 STARTTLS\r\na2 LOGIN root toor\r\n");
      const out = await c.read("a2 NO");
      expect(out.slice(hello.length)).toBe("a1 BAD TLS is already active.\r\na2 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
      for (let i = 0; i < 100 && sink.of("login").length === 0; i++) await Bun.sleep(20);
      const logins = sink.of("login");
      expect(logins.map((e) => [e.method, e.user, e.password])).toEqual([["imap", "root", "toor"]]);
      const tls = sink.of("tls")[0] as any;
      expect(tls).toBeDefined();
    } finally {
      c.end();
    }
  });
});
