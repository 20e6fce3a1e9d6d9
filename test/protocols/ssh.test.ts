// The ssh session in process, on a virtual clock: the version line's exact bytes, what each face says to a
// first line that is not SSH, and the key exchange as summarized for replay. Packets are built here from
// RFC 4253, not with the code under test.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { serviceEntries } from "../../src/catalog/index.ts";
import { preparedFor } from "../../src/services/index.ts";
import { makeContext } from "../../src/services/context.ts";
import { SessionDriver, VirtualClock } from "../../src/services/driver.ts";
import { ssh } from "../../src/services/ssh/index.ts";
import type { SshTemplates } from "../../src/services/ssh/templates.ts";
import type { CatalogEntry, ProtocolEvent } from "../../src/types.ts";

const entries = serviceEntries("ssh") as CatalogEntry<SshTemplates>[];

function entry(id: string): CatalogEntry<SshTemplates> {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function str(s: string | Buffer): Buffer {
  const b = typeof s === "string" ? Buffer.from(s, "latin1") : s;
  return Buffer.concat([u32(b.length), b]);
}

/** An unencrypted binary packet: length, padding length, payload, at least 4 bytes of padding to a multiple of 8. */
function packet(payload: Buffer): Buffer {
  let pad = 8 - ((5 + payload.length) % 8);
  if (pad < 4) pad += 8;
  return Buffer.concat([u32(1 + payload.length + pad), Buffer.from([pad]), payload, Buffer.alloc(pad, 0x5a)]);
}

function kexinit(lists: string[][], cookie = Buffer.alloc(16, 7)): Buffer {
  return packet(Buffer.concat([Buffer.from([20]), cookie, ...lists.map((l) => str(l.join(","))), Buffer.from([0]), u32(0)]));
}

/** An OpenSSH 9.2 client's KEXINIT lists, as it sends them by default. */
const CLIENT_92 = [
  ["sntrup761x25519-sha512@openssh.com", "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "diffie-hellman-group-exchange-sha256", "diffie-hellman-group14-sha256", "ext-info-c", "kex-strict-c-v00@openssh.com"],
  ["ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512", "rsa-sha2-256"],
  ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-gcm@openssh.com"],
  ["chacha20-poly1305@openssh.com", "aes128-ctr", "aes256-gcm@openssh.com"],
  ["umac-64-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha1"],
  ["umac-64-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "hmac-sha1"],
  ["none", "zlib@openssh.com"],
  ["none", "zlib@openssh.com"],
  [],
  [],
];

interface Run {
  out: () => Buffer;
  opaque: () => Buffer;
  mark: () => string | undefined;
  closed: () => boolean;
  events: ProtocolEvent[];
  send: (b: string | Buffer) => Promise<void>;
  clock: VirtualClock;
  driver: SessionDriver;
}

const tick = () => new Promise<void>((r) => setImmediate(r));

async function run(e: CatalogEntry<SshTemplates>, hostSeed = "proto-test"): Promise<Run> {
  const ctx = makeContext({ entry: e, hostSeed, sessionSeed: "s1", now: () => new Date("2024-03-05T07:08:09Z") });
  const session = ssh.start({ ...ctx, prepared: preparedFor(e, ctx.host) });
  const clock = new VirtualClock();
  const before: Buffer[] = [];
  const after: Buffer[] = [];
  let mark: string | undefined;
  let closed = false;
  const events: ProtocolEvent[] = [];
  const driver = new SessionDriver(session, clock, {
    write: (b) => void (mark === undefined ? before : after).push(Buffer.from(b)),
    opaque: (what) => void (mark ??= what),
    events: (ev) => void events.push(...ev),
    close: () => void (closed = true),
    error: (err) => {
      throw err;
    },
  });
  driver.open();
  await tick();
  return {
    out: () => Buffer.concat(before),
    opaque: () => Buffer.concat(after),
    mark: () => mark,
    closed: () => closed,
    events,
    clock,
    driver,
    send: async (b) => {
      driver.data(typeof b === "string" ? Buffer.from(b, "latin1") : b);
      await tick();
      await tick();
    },
  };
}

describe("ssh version line", () => {
  const EXACT: Record<string, string> = {
    "openssh-5.5p1-debian6": "SSH-2.0-OpenSSH_5.5p1 Debian-6+squeeze8\r\n",
    "openssh-7.4p1-debian9": "SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7\n",
    "openssh-4.3-rhel5": "SSH-2.0-OpenSSH_4.3\n",
    "openssh-9.2p1-debian12": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\r\n",
    "dropbear-2012.55": "SSH-2.0-dropbear_2012.55\r\n",
  };
  for (const [id, line] of Object.entries(EXACT)) {
    test(`${id} greets with ${JSON.stringify(line)} and nothing else`, async () => {
      const r = await run(entry(id));
      expect(r.out().toString("latin1")).toBe(line);
      expect(r.closed()).toBe(false);
    });
  }

  test("every entry's line is what nmap prints, as SSH-2.0-<product>_<version>", () => {
    for (const e of entries) {
      const v = e.templates.versionLine;
      expect(v.startsWith("SSH-2.0-")).toBe(true);
      if (e.product === "OpenSSH") expect(v.replace("SSH-2.0-OpenSSH_", "")).toContain(e.version.split(" ")[0]!);
      else expect(v).toBe(`SSH-2.0-dropbear_${e.version}`);
    }
  });
});

describe("a first line that is not SSH", () => {
  test("OpenSSH 9.2: Invalid SSH identification string, then a close", async () => {
    const r = await run(entry("openssh-9.2p1-debian12"));
    await r.send("GET / HTTP/1.0\r\n\r\n");
    expect(r.out().toString("latin1")).toBe("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u1\r\nInvalid SSH identification string.\r\n");
    expect(r.closed()).toBe(true);
  });

  test("OpenSSH 5.5: Protocol mismatch with LF only, then a close", async () => {
    const r = await run(entry("openssh-5.5p1-debian6"));
    await r.send("hello\n");
    expect(r.out().toString("latin1")).toBe("SSH-2.0-OpenSSH_5.5p1 Debian-6+squeeze8\r\nProtocol mismatch.\n");
    expect(r.closed()).toBe(true);
  });

  test("an SSH-1.5 client: Protocol major versions differ", async () => {
    const r = await run(entry("openssh-6.0p1-debian7"));
    await r.send("SSH-1.5-Nmap-SSH1-Hostkey\r\n");
    expect(r.out().toString("latin1")).toBe("SSH-2.0-OpenSSH_6.0p1 Debian-4+deb7u7\r\nProtocol major versions differ.\n");
    expect(r.closed()).toBe(true);
  });

  test("an over-long line (256 bytes, no newline) is not an identification", async () => {
    const r = await run(entry("openssh-9.2p1-debian12"));
    await r.send(`SSH-2.0-${"A".repeat(248)}`);
    expect(r.out().toString("latin1")).toEndWith("Invalid SSH identification string.\r\n");
    expect(r.closed()).toBe(true);
  });

  test("Dropbear skips such lines and keeps waiting; after 50 it hangs up without a word", async () => {
    const r = await run(entry("dropbear-2014.63"));
    await r.send("GET / HTTP/1.0\r\n\r\n");
    expect(r.out().toString("latin1")).toBe("SSH-2.0-dropbear_2014.63\r\n");
    expect(r.closed()).toBe(false);
    await r.send("x\n".repeat(47));
    expect(r.closed()).toBe(false);
    await r.send("x\n");
    expect(r.closed()).toBe(true);
    expect(r.out().toString("latin1")).toBe("SSH-2.0-dropbear_2014.63\r\n");
  });

  test("LoginGraceTime: 120 s of silence, then a close without a word", async () => {
    const r = await run(entry("openssh-6.7p1-debian8"));
    r.clock.advanceBy(119_000);
    expect(r.closed()).toBe(false);
    r.clock.advanceBy(1_000);
    expect(r.closed()).toBe(true);
    expect(r.out().toString("latin1")).toBe("SSH-2.0-OpenSSH_6.7p1 Debian-5+deb8u8\r\n");
  });
});

describe("the key exchange, past the opaque mark", () => {
  test("a hand-made KEXINIT and NEWKEYS summarize without the cookie", () => {
    const lists = [["curve25519-sha256"], ["ssh-ed25519"], ["aes128-ctr"], ["aes256-ctr"], ["hmac-sha1"], ["hmac-sha1"], ["none"], ["none", "zlib"], [], []];
    const a = ssh.summarizeOpaque!(Buffer.concat([kexinit(lists, Buffer.alloc(16, 1)), packet(Buffer.from([21]))]));
    const b = ssh.summarizeOpaque!(Buffer.concat([kexinit(lists, Buffer.alloc(16, 2)), packet(Buffer.from([21])), Buffer.from("ciphertext!")]));
    expect(a).toEqual(b);
    expect(a).toContain("kex: curve25519-sha256");
    expect(a).toContain("ciphers: aes128-ctr | aes256-ctr");
    expect(a).toContain("compression: none | none,zlib");
    expect(a.at(-1)).toBe("newkeys");
  });

  test("the host key in a KEX reply is summarized by its SHA256 fingerprint", () => {
    const blob = Buffer.concat([str("ssh-ed25519"), str(Buffer.alloc(32, 9))]);
    const reply = packet(Buffer.concat([Buffer.from([31]), str(blob), str(Buffer.alloc(32, 3)), str(Buffer.from("sig"))]));
    const fp = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
    expect(ssh.summarizeOpaque!(reply)).toEqual([`host key (message 31): ssh-ed25519 ${fp}`]);
  });

  test("Debian 9 face and an OpenSSH 9.2 client: the exact lists, less what this client would pick and ssh2 cannot run", async () => {
    const e = entry("openssh-7.4p1-debian9");
    const r = await run(e);
    await r.send(Buffer.concat([Buffer.from("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n"), kexinit(CLIENT_92)]));
    expect(r.mark()).toBe("ssh key exchange");
    const summary = ssh.summarizeOpaque!(r.opaque());
    expect(summary[0]).toBe(`kex: ${e.templates.kex.join(",")}`);
    expect(summary[1]).toBe("host key algorithms: ssh-rsa,rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519");
    // chacha20-poly1305 (no chacha20 in Bun's BoringSSL) and umac-64-etm (not in ssh2) would be this client's picks.
    expect(summary[2]).toBe("ciphers: aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com | aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com");
    expect(summary[3]).toStartWith("macs: umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com");
    expect(summary[4]).toBe("compression: none,zlib@openssh.com | none,zlib@openssh.com");
    // The client's KEX_ECDH_INIT is not sent, so the exchange stops here; no ssh2 ident line went out.
    expect(r.out().toString("latin1")).toBe("SSH-2.0-OpenSSH_7.4p1 Debian-10+deb9u7\n");
  });

  test("a client whose picks are all runnable sees the version's exact lists", async () => {
    const e = entry("openssh-5.5p1-debian6");
    const r = await run(e);
    const lists = [["diffie-hellman-group1-sha1"], ["ssh-rsa"], ["aes128-cbc"], ["aes128-cbc"], ["hmac-md5"], ["hmac-md5"], ["none"], ["none"], [], []];
    await r.send(Buffer.concat([Buffer.from("SSH-2.0-Nmap-SSH2-Hostkey\r\n"), kexinit(lists)]));
    const summary = ssh.summarizeOpaque!(r.opaque());
    expect(summary.slice(0, 5)).toEqual([
      `kex: ${e.templates.kex.join(",")}`,
      "host key algorithms: ssh-rsa,ssh-dss",
      `ciphers: ${e.templates.ciphers.join(",")} | ${e.templates.ciphers.join(",")}`,
      `macs: ${e.templates.macs.join(",")} | ${e.templates.macs.join(",")}`,
      "compression: none,zlib@openssh.com | none,zlib@openssh.com",
    ]);
  });
});
