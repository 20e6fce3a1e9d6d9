// The rsync face over real TCP on 127.0.0.1: greetings per release, the module list, the auth challenge
// sized by the negotiated digest, the refused login logged as a hashcat line that verifies, and the
// daemon's words for bad greetings (compared with Debian 12's rsync 3.5.0 daemon, docs/research/ldap-rsync-sip.md).
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { findEntry } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";

function entry(id: string): CatalogEntry {
  const e = findEntry(id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

/** One connection: waits for the greeting, sends the lines, returns everything until the close. */
async function session(e: CatalogEntry, lines: string[]) {
  const { trap, sink } = startTestTrap(e);
  try {
    const c = await connect(trap.port);
    const greeting = await c.waitFor((s) => s.endsWith("\n"), 5000);
    for (const l of lines) c.send(l);
    if (lines.length > 0) await Promise.race([c.closed, Bun.sleep(5000)]);
    return { greeting, text: c.text(), closed: c.isClosed(), sink };
  } finally {
    trap.stop();
  }
}

describe("rsync face", () => {
  test("the greeting per release: 29 bare, 30.0, 31.0, 3.2.7's digest list", async () => {
    expect((await session(entry("rsync-2.6.9-debian4"), [])).greeting).toBe("@RSYNCD: 29\n");
    expect((await session(entry("rsync-3.0.9-debian7"), [])).greeting).toBe("@RSYNCD: 30.0\n");
    expect((await session(entry("rsync-3.1.2-rhel7"), [])).greeting).toBe("@RSYNCD: 31.0\n");
    expect((await session(entry("rsync-3.2.7-debian12"), [])).greeting).toBe("@RSYNCD: 31.0 sha512 sha256 sha1 md5 md4\n");
  });

  test("nmap's listing (protocol 29, empty line): modules padded to 15 and a tab, then EXIT and a close", async () => {
    const r = await session(entry("rsync-3.1.2-rhel7"), ["@RSYNCD: 29\n", "\n"]);
    const body = r.text.slice(r.greeting.length);
    const lines = body.split("\n").filter(Boolean);
    expect(lines.at(-1)).toBe("@RSYNCD: EXIT");
    expect(lines.length).toBeGreaterThanOrEqual(3); // 2 to 4 modules
    for (const l of lines.slice(0, -1)) expect(l).toMatch(/^[a-z]+ {1,14}\t[A-Z][a-z A-Z]+$/);
    expect(r.closed).toBe(true);
  });

  test("a module with auth: the challenge has the negotiated digest's size; the answer is logged and refused", async () => {
    const e = entry("rsync-3.5.0-debian12");
    const list = await session(e, ["@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n", "#list\n"]);
    const names = list.text.slice(list.greeting.length).split("\n").filter((l) => l.includes("\t")).map((l) => l.split(/\s/)[0]!);
    // Find a module that asks for a password (every host has one).
    let found = false;
    for (const name of names) {
      const { trap, sink } = startTestTrap(e);
      try {
        const c = await connect(trap.port);
        await c.waitFor((s) => s.endsWith("\n"), 5000);
        c.send(`@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n${name}\n`);
        const got = await c.waitFor((s) => s.split("\n").length > 2, 5000);
        const m = /@RSYNCD: AUTHREQD (\S+)\n$/.exec(got);
        if (!m) continue;
        found = true;
        const challenge = m[1]!;
        expect(Buffer.from(challenge, "base64").length).toBe(64); // sha512, the client's first choice
        const response = createHash("sha512").update("hunter2").update(challenge).digest("base64").replace(/=+$/, "");
        c.send(`backup ${response}\n`);
        await c.waitFor((s) => s.includes("@ERROR"), 5000);
        await c.closed;
        expect(c.text().endsWith(`@ERROR: auth failed on module ${name}\n`)).toBe(true);
        const login = sink.of("login")[0]!;
        expect(login.user).toBe("backup");
        expect(login.method).toBe("rsync");
        expect(login.hash!.hashcatMode).toBe(1710);
        const [hexHash, salt] = login.hash!.value.split(":");
        expect(salt).toBe(challenge);
        expect(hexHash).toBe(createHash("sha512").update("hunter2" + salt).digest("hex"));
      } finally {
        trap.stop();
      }
      break;
    }
    expect(found).toBe(true);
  });

  test("bad greetings: a non-greeting, and (3.1+) a protocol-30 greeting without its subprotocol", async () => {
    const bad = await session(entry("rsync-3.5.0-debian12"), ["\n"]);
    expect(bad.text.slice(bad.greeting.length)).toBe("@ERROR: protocol startup error\n");
    expect(bad.sink.of("error")[0]!.message).toBe("not an rsync greeting");
    const nosub = await session(entry("rsync-3.1.1-debian8"), ["@RSYNCD: 30\n"]);
    expect(nosub.text.slice(nosub.greeting.length)).toBe("@ERROR: your client omitted the subprotocol value: @RSYNCD: 30\n");
    const old = await session(entry("rsync-3.0.9-debian7"), ["@RSYNCD: 30\n", "nosuch\n"]);
    expect(old.text.slice(old.greeting.length)).toBe("@ERROR: Unknown module 'nosuch'\n");
  });

  test("a line longer than the daemon's 1024-byte buffer ends the connection without a word", async () => {
    const r = await session(entry("rsync-3.1.2-rhel7"), ["@RSYNCD: 31.0\n", "x".repeat(1100)]);
    expect(r.text).toBe(r.greeting);
    expect(r.closed).toBe(true);
  });
});
