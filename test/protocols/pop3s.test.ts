// The pop3s service over real TCP and TLS on 127.0.0.1: TLS from the first byte, then the pop3 face it
// names, already secure (Dovecot's 995 answers as measured on Debian 12's 2.3.19.1), and the refused
// login in the event log.
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

describe("pop3s", () => {
  test("every pop3s face names a pop3 face and starts TLS at the first byte", () => {
    const ids = new Set(serviceEntries("pop3").map((e) => e.id));
    const faces = serviceEntries("pop3s") as CatalogEntry<{ pop3Face: string }>[];
    expect(faces.length).toBeGreaterThanOrEqual(4);
    for (const e of faces) {
      expect(ids.has(e.templates.pop3Face)).toBe(true);
      expect(e.tls?.mode).toBe("first-byte");
    }
  });

  test("dovecot 2.3: CAPA under TLS, STLS refused, USER/PASS refused with [AUTH] and logged", async () => {
    const entry = serviceEntries("pop3s").find((e) => e.id === "dovecot-2.3-debian-pop3s")!;
    const { trap, sink } = startTestTrap(entry);
    stop = () => trap.stop();
    const s = await new Promise<ReturnType<typeof tlsConnect>>((resolve, reject) => {
      const c = tlsConnect({ host: "127.0.0.1", port: trap.port, rejectUnauthorized: false });
      c.once("secureConnect", () => resolve(c));
      c.once("error", reject);
    });
    let buf = "";
    s.on("data", (d) => (buf += d.toString("latin1")));
    const read = async (until: string) => {
      for (let i = 0; i < 750 && !buf.includes(until); i++) await Bun.sleep(20);
      return buf;
    };
    try {
      expect(await read("\r\n")).toBe("+OK Dovecot (Debian) ready.\r\n");
      s.write("CAPA\r\nSTLS\r\nUSER root\r\nPASS toor\r\n");
      expect(await read("Authentication failed.")).toBe(
        "+OK Dovecot (Debian) ready.\r\n+OK\r\nCAPA\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\nSASL PLAIN\r\n.\r\n-ERR TLS is already active.\r\n+OK\r\n-ERR [AUTH] Authentication failed.\r\n",
      );
      for (let i = 0; i < 100 && sink.of("login").length === 0; i++) await Bun.sleep(20);
      expect(sink.of("login").map((e) => [e.method, e.user, e.password])).toEqual([["pop3", "root", "toor"]]);
    } finally {
      s.destroy();
    }
  });
});
