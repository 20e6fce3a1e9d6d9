// mssql over real TCP: the PRELOGIN answer to nmap's probe, a LOGIN7 whose obfuscated password is decoded
// and refused with 18456, NTLM through SSPI (the CHALLENGE names the host; the AUTHENTICATE is logged as
// hashcat's NetNTLMv2 line), and the silent end of input the server cannot use. Layouts are MS-TDS's and
// MS-NLMP's; the expected bytes are built here from those documents, not from the code under test.
import { afterEach, describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { Trap } from "../../src/net/listener.ts";
import type { MssqlTemplates } from "../../src/services/mssql/templates.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap, type MemorySink } from "../helpers.ts";

const entries = serviceEntries("mssql") as CatalogEntry<MssqlTemplates>[];

function entry(id: string): CatalogEntry<MssqlTemplates> {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

let traps: Trap[] = [];
afterEach(() => {
  for (const t of traps) t.stop();
  traps = [];
});

function serve(id: string): { port: number; sink: MemorySink; trap: Trap } {
  const { trap, sink } = startTestTrap(entry(id));
  traps.push(trap);
  return { port: trap.port, sink, trap };
}

/** nmap's ms-sql-s probe (nmap-service-probes): a PRELOGIN with VERSION, ENCRYPTION, INSTOPT, THREADID. */
const NMAP_PRELOGIN = Buffer.from(
  "1201003400000000000015000601001b000102001c000c0300280004ff080001550000004d5353514c53657276657200480f0000",
  "hex",
);

function tdsPacket(type: number, payload: Buffer): Buffer {
  const h = Buffer.from([type, 0x01, 0, 0, 0, 0, 1, 0]);
  h.writeUInt16BE(payload.length + 8, 2);
  return Buffer.concat([h, payload]);
}

const ucs2 = (s: string) => Buffer.from(s, "utf16le");

/** The LOGIN7 password obfuscation (MS-TDS 2.2.6.4): nibbles swapped, then XOR 0xA5. */
function obfuscate(pw: string): Buffer {
  return Buffer.from([...ucs2(pw)].map((b) => (((b & 0x0f) << 4) | (b >> 4)) ^ 0xa5));
}

/** A LOGIN7 message as MS-TDS lays it out (TDS 7.4): fixed part, offset/length table, then the data. */
function login7(o: { user?: string; password?: string; sspi?: Buffer; host?: string; app?: string; database?: string }): Buffer {
  const fields: [string, Buffer, boolean][] = [
    ["host", ucs2(o.host ?? "ATTACKER"), true],
    ["user", ucs2(o.user ?? ""), true],
    ["password", o.password !== undefined ? obfuscate(o.password) : Buffer.alloc(0), true],
    ["app", ucs2(o.app ?? "sqlcmd"), true],
    ["server", ucs2("127.0.0.1"), true],
    ["extension", Buffer.alloc(0), true],
    ["library", ucs2("ODBC"), true],
    ["language", Buffer.alloc(0), true],
    ["database", ucs2(o.database ?? ""), true],
  ];
  const fixed = Buffer.alloc(94);
  fixed.writeUInt32LE(0x74000004, 4);
  fixed.writeUInt32LE(4096, 8);
  fixed[25] = o.sspi ? 0x80 : 0x00; // OptionFlags2: fIntSecurity
  let off = 94;
  const data: Buffer[] = [];
  fields.forEach(([, b], i) => {
    fixed.writeUInt16LE(off, 36 + i * 4);
    fixed.writeUInt16LE(b.length / 2, 38 + i * 4);
    data.push(b);
    off += b.length;
  });
  const sspi = o.sspi ?? Buffer.alloc(0);
  fixed.writeUInt16LE(off, 78);
  fixed.writeUInt16LE(sspi.length, 80);
  data.push(sspi);
  off += sspi.length;
  for (const at of [82, 86]) fixed.writeUInt16LE(off, at);
  const all = Buffer.concat([fixed, ...data]);
  all.writeUInt32LE(all.length, 0);
  return all;
}

/** Reads one ERROR token (0xAA) and the DONE after it from a tabular reply (TDS 7.2+ layout). */
function readError(reply: Buffer): { number: number; state: number; cls: number; text: string; server: string; done: number } {
  expect(reply[0]).toBe(0x04);
  expect(reply.readUInt16BE(2)).toBe(reply.length);
  const p = reply.subarray(8);
  expect(p[0]).toBe(0xaa);
  const len = p.readUInt16LE(1);
  const number = p.readUInt32LE(3);
  const state = p[7]!;
  const cls = p[8]!;
  const n = p.readUInt16LE(9);
  const text = p.subarray(11, 11 + 2 * n).toString("utf16le");
  let at = 11 + 2 * n;
  const sn = p[at]!;
  const server = p.subarray(at + 1, at + 1 + 2 * sn).toString("utf16le");
  at += 1 + 2 * sn;
  expect(p[at]).toBe(0); // no procedure name
  expect(p.readUInt32LE(at + 1)).toBe(1); // line 1
  expect(3 + len).toBe(at + 5);
  const done = p.subarray(3 + len);
  expect(done[0]).toBe(0xfd);
  expect(done.length).toBe(13);
  return { number, state, cls, text, server, done: done.readUInt16LE(1) };
}

describe("mssql over TCP", () => {
  test("nmap's PRELOGIN: a 37-byte answer with the options asked, the release's version, ENCRYPT_NOT_SUP", async () => {
    expect(NMAP_PRELOGIN.length).toBe(0x34);
    const { port } = serve("mssql-2008r2-sp3-win2008r2");
    const c = await connect(port);
    c.send(NMAP_PRELOGIN);
    const got = Buffer.from(await c.waitFor((s) => s.length >= 37), "latin1");
    // Header (tabular result, EOM, length 37, SPID 0, packet 1), four options and the terminator, then data:
    // version 10.50 build 6000 (0x1770) sub 0, encryption 2, instance 0, thread id empty.
    expect(got.toString("hex")).toBe("0401002500000100" + "0000150006" + "01001b0001" + "02001c0001" + "03001d0000" + "ff" + "0a321770" + "0000" + "02" + "00");
    c.end();
  });

  test("LOGIN7: the password is decoded and logged; refused with 18456 naming the host, then a close", async () => {
    const { port, sink } = serve("mssql-2012-sp3-win2012r2");
    const c = await connect(port);
    c.send(tdsPacket(0x12, NMAP_PRELOGIN.subarray(8)));
    await c.waitFor((s) => s.length >= 37);
    c.send(tdsPacket(0x10, login7({ user: "sa", password: "P@ssw0rd!", database: "master", app: "sqlmap" })));
    await c.closed;
    const e = readError(Buffer.from(c.received()).subarray(37));
    expect(e).toMatchObject({ number: 18456, state: 1, cls: 14, text: "Login failed for user 'sa'.", done: 0x0002 });
    const logins = sink.events.filter((x) => x.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0]).toMatchObject({ user: "sa", password: "P@ssw0rd!", method: "mssql" });
    expect(logins[0]!.client).toMatchObject({ application: "sqlmap", database: "master", workstation: "ATTACKER" });
    // The server name in the error is the host's NetBIOS name, upper case, as its NTLM CHALLENGE says it.
    expect(e.server).toMatch(/^[A-Z0-9-]{1,15}$/);
  });

  test("NTLM through SSPI: a CHALLENGE naming the host, then the AUTHENTICATE logged as NetNTLMv2 and refused with 18452", async () => {
    const { port, sink } = serve("mssql-2008r2-sp3-win2008r2");
    const c = await connect(port);
    // NEGOTIATE: unicode, NTLM, always sign, extended session security, version requested.
    const negotiate = Buffer.concat([Buffer.from("NTLMSSP\0", "latin1"), Buffer.from([1, 0, 0, 0]), Buffer.from([0x07, 0x82, 0x08, 0xa2]), Buffer.alloc(16)]);
    c.send(tdsPacket(0x10, login7({ sspi: negotiate })));
    const reply = Buffer.from(await c.waitFor((s) => s.length >= 8 && s.length >= Buffer.from(s, "latin1").readUInt16BE(2)), "latin1");
    expect(reply[8]).toBe(0xed);
    const msg = reply.subarray(11, 11 + reply.readUInt16LE(9));
    expect(msg.subarray(0, 8).toString("latin1")).toBe("NTLMSSP\0");
    expect(msg.readUInt32LE(8)).toBe(2);
    const challenge = msg.subarray(24, 32);
    // Target info AV pairs: NetBIOS domain (2), NetBIOS computer (1), DNS domain (4), DNS computer (3), timestamp (7).
    const infoLen = msg.readUInt16LE(40);
    const infoOff = msg.readUInt32LE(44);
    const av = new Map<number, string>();
    for (let at = infoOff; at < infoOff + infoLen; ) {
      const id = msg.readUInt16LE(at);
      const len = msg.readUInt16LE(at + 2);
      if (id === 0) break;
      av.set(id, msg.subarray(at + 4, at + 4 + len).toString("utf16le"));
      at += 4 + len;
    }
    const computer = av.get(1)!;
    expect(av.get(2)).toBe(computer);
    expect(av.get(3)!.toLowerCase().startsWith(`${computer.toLowerCase()}.`)).toBe(true);
    expect(av.has(7)).toBe(true);
    // The version field: Windows Server 2008 R2 SP1, 6.1 build 7601.
    expect([msg[48], msg[49], msg.readUInt16LE(50)]).toEqual([6, 1, 7601]);
    // AUTHENTICATE with a 16-byte proof and a blob (an NTLMv2 response's shape), user bob, domain CORP.
    const nt = Buffer.concat([Buffer.alloc(16, 0xab), Buffer.from("0101000000000000", "hex"), Buffer.alloc(24, 0xcd)]);
    const dom = ucs2("CORP");
    const user = ucs2("bob");
    const ws = ucs2("KALI");
    const head = Buffer.alloc(64);
    head.write("NTLMSSP\0", 0, "latin1");
    head.writeUInt32LE(3, 8);
    let off = 64;
    const put = (at: number, b: Buffer) => {
      head.writeUInt16LE(b.length, at);
      head.writeUInt16LE(b.length, at + 2);
      head.writeUInt32LE(off, at + 4);
      off += b.length;
    };
    const lm = Buffer.alloc(24);
    put(12, lm);
    put(20, nt);
    put(28, dom);
    put(36, user);
    put(44, ws);
    head.writeUInt32LE(0xa2888205, 60);
    c.send(tdsPacket(0x11, Buffer.concat([head, lm, nt, dom, user, ws])));
    await c.closed;
    const after = Buffer.from(c.received()).subarray(reply.length);
    const e = readError(after);
    expect(e.number).toBe(18452);
    expect(e.text).toBe("Login failed. The login is from an untrusted domain and cannot be used with Windows authentication.");
    expect(e.server).toBe(computer.toUpperCase());
    const login = sink.events.find((x) => x.action === "login");
    expect(login).toMatchObject({ method: "mssql-ntlm", user: "bob", domain: "CORP" });
    expect(login!.hash).toEqual({
      value: `bob::CORP:${challenge.toString("hex")}:${"ab".repeat(16)}:0101000000000000${"cd".repeat(24)}`,
      type: "netntlmv2",
      hashcatMode: 5600,
    });
  });

  test("input the server cannot use ends the connection without a word", async () => {
    const { port, sink } = serve("mssql-2005-sp4-win2003");
    for (const junk of ["GET / HTTP/1.0\r\n\r\n", "\x12\x01\x00\x04\x00\x00\x00\x00"]) {
      const c = await connect(port);
      c.send(junk);
      await c.closed;
      expect(c.received().length).toBe(0);
    }
    expect(sink.events.filter((e) => e.action === "error").length).toBe(2);
  });

  test("TDS 7.1 (SQL Server 2000): the error's line number is 2 bytes and DONE's row count 4", async () => {
    const { port } = serve("mssql-2000-sp4-win2000");
    const c = await connect(port);
    c.send(tdsPacket(0x10, login7({ user: "sa", password: "x" })));
    await c.closed;
    const r = Buffer.from(c.received());
    const p = r.subarray(8);
    const len = p.readUInt16LE(1);
    const done = p.subarray(3 + len);
    expect(done.length).toBe(9);
    expect(p.readUInt16LE(3 + len - 2)).toBe(1);
  });
});
