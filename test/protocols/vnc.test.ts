// RFB over real TCP on 127.0.0.1 (RFC 6143 written out here): the ProtocolVersion each face announces,
// the security types (3.7/3.8) or the server's choice (3.3), the 16-byte challenge, the failed
// SecurityResult with the product's reason on 3.8 only, and the login event whose John the Ripper line
// is the DES response of the password the client used.
import { describe, expect, test } from "bun:test";
import { createCipheriv } from "node:crypto";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";

function entry(id: string): CatalogEntry {
  const e = serviceEntries("vnc").find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

/** VNC authentication as a viewer computes it: DES-ECB of the challenge, the key the password's 8 bytes with each byte's bits reversed. */
function vncResponse(password: string, challenge: Buffer): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, "latin1").copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) {
    let r = 0;
    for (let b = 0; b < 8; b++) r |= ((key[i]! >> b) & 1) << (7 - b);
    key[i] = r;
  }
  const c = createCipheriv("des-ecb", key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(challenge), c.final()]);
}

const bytes = (s: string) => Buffer.from(s, "latin1");

/** The reason a 3.8 client is given: LibVNCServer's, TigerVNC's (measured: Debian 12's Xtigervnc 1.12), Apple's. */
const REASON: Record<string, string | undefined> = {
  "vnc-x11vnc-0.9-debian": "password check failed!",
  "vnc-tigervnc-1.12-debian": "Authentication failure",
  "vnc-macos-screensharing": "Authentication failed",
};

describe("vnc faces", () => {
  const cases: [string, string, string, number[]][] = [
    // entry, what it announces, what the client answers, the types a 3.7+ client is offered
    ["vnc-x11vnc-0.9-debian", "RFB 003.008\n", "RFB 003.008\n", [2]],
    ["vnc-tigervnc-1.12-debian", "RFB 003.008\n", "RFB 003.008\n", [2]],
    ["vnc-vino-ubuntu14.04", "RFB 003.007\n", "RFB 003.007\n", [2]],
    ["vnc-macos-screensharing", "RFB 003.889\n", "RFB 003.889\n", [30, 2]],
  ];
  for (const [id, banner, answer, types] of cases) {
    test(`${id}: ${banner.trim()}, types ${types.join(",")}, a challenge, a refusal; the response is logged for John`, async () => {
      const { trap, sink } = startTestTrap(entry(id));
      let challenge = Buffer.alloc(0);
      let tail = "";
      try {
        const c = await connect(trap.port);
        await c.waitFor((s) => s.length >= 12);
        expect(c.text()).toBe(banner);
        c.send(answer);
        await c.waitFor((s) => s.length >= 12 + 1 + types.length);
        expect([...c.received().subarray(12)]).toEqual([types.length, ...types]);
        c.send(Uint8Array.of(2));
        await c.waitFor((s) => s.length >= 13 + types.length + 16);
        challenge = Buffer.from(c.received().subarray(13 + types.length));
        expect(challenge.length).toBe(16);
        c.send(vncResponse("secret", challenge));
        await c.closed;
        tail = Buffer.from(c.received().subarray(13 + types.length + 16)).toString("latin1");
      } finally {
        trap.stop();
      }
      // SecurityResult 1; a 3.8 client (and Apple's 3.889, served as 3.8) also gets the reason.
      const reason = REASON[id];
      if (reason === undefined) expect(tail).toBe("\0\0\0\x01");
      else expect(tail).toBe(`\0\0\0\x01\0\0\0${String.fromCharCode(reason.length)}${reason}`);
      const logins = sink.of("login") as any[];
      expect(logins).toHaveLength(1);
      expect(logins[0].method).toBe("vnc");
      expect(logins[0].hash.type).toBe("vnc");
      expect(logins[0].hash.value).toBe(`$vnc$*${challenge.toString("hex").toUpperCase()}*${vncResponse("secret", challenge).toString("hex").toUpperCase()}`);
      expect(logins[0].client).toEqual({ version: answer.trim() });
    });
  }

  for (const id of ["vnc-winvnc-3.3.7-windows", "vnc-ultravnc-1.0-windows"]) {
    test(`${id}: speaks 3.3 whatever the client asks; the server picks VNC authentication and sends the challenge with it`, async () => {
      const { trap, sink } = startTestTrap(entry(id));
      try {
        const c = await connect(trap.port);
        await c.waitFor((s) => s.length >= 12);
        c.send("RFB 003.008\n");
        await c.waitFor((s) => s.length >= 12 + 4 + 16);
        expect([...c.received().subarray(12, 16)]).toEqual([0, 0, 0, 2]);
        const challenge = Buffer.from(c.received().subarray(16, 32));
        c.send(vncResponse("pass1234", challenge));
        await c.closed;
        expect([...c.received().subarray(32)]).toEqual([0, 0, 0, 1]);
        expect((sink.of("login")[0] as any).hash.value).toBe(`$vnc$*${challenge.toString("hex").toUpperCase()}*${vncResponse("pass1234", challenge).toString("hex").toUpperCase()}`);
      } finally {
        trap.stop();
      }
    });
  }

  test("a 3.3 client of a 3.8 server gets the server's choice, not a list", async () => {
    const { trap } = startTestTrap(entry("vnc-x11vnc-0.9-debian"));
    try {
      const c = await connect(trap.port);
      await c.waitFor((s) => s.length >= 12);
      c.send("RFB 003.003\n");
      await c.waitFor((s) => s.length >= 32);
      expect([...c.received().subarray(12, 16)]).toEqual([0, 0, 0, 2]);
      c.end();
    } finally {
      trap.stop();
    }
  });

  test("what is not an RFB version ends the connection with an error event; a type not offered too", async () => {
    const { trap, sink } = startTestTrap(entry("vnc-x11vnc-0.9-debian"));
    try {
      const a = await connect(trap.port);
      await a.waitFor((s) => s.length >= 12);
      a.send(bytes("GET / HTTP/1.0\r\n\r\n"));
      await a.closed;
      expect(a.text()).toBe("RFB 003.008\n");
      const b = await connect(trap.port);
      await b.waitFor((s) => s.length >= 12);
      b.send("RFB 003.008\n");
      await b.waitFor((s) => s.length >= 14);
      b.send(Uint8Array.of(1));
      await b.closed;
    } finally {
      trap.stop();
    }
    expect(sink.of("error").map((e: any) => e.message)).toEqual(["not a valid RFB client version", "security type not offered"]);
    expect(sink.of("login")).toHaveLength(0);
  });
});
