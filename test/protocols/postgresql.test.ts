// postgresql over real TCP: the startup packet, the SSL and GSSAPI requests, the md5 authentication
// request and the refused login, the errors for malformed input. Byte layouts are the frontend/backend
// protocol's (PostgreSQL documentation, "Message Formats"); the texts and field order are what Debian 12's
// PostgreSQL 15.18 sent on this machine (measured with a socket, see docs/research/postgresql-mssql.md).
import { afterEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { Trap } from "../../src/net/listener.ts";
import { postgresqlTemplates, type PostgresqlTemplates } from "../../src/services/postgresql/templates.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap, type MemorySink } from "../helpers.ts";
import { PG15_TEMPLATES } from "../postgresql-15.ts";

const entries = serviceEntries("postgresql") as CatalogEntry<PostgresqlTemplates>[];

function entry(id: string): CatalogEntry<PostgresqlTemplates> {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

let traps: Trap[] = [];
afterEach(() => {
  for (const t of traps) t.stop();
  traps = [];
});

function serve(id: string): { port: number; sink: MemorySink } {
  const { trap, sink } = startTestTrap(entry(id));
  traps.push(trap);
  return { port: trap.port, sink };
}

function be32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A v3 StartupMessage: length, protocol, name/value pairs, a final NUL. */
function startup(params: [string, string][], proto = 0x30000): Buffer {
  const body = Buffer.concat([be32(proto), ...params.map(([k, v]) => Buffer.from(`${k}\0${v}\0`)), Buffer.from([0])]);
  return Buffer.concat([be32(body.length + 4), body]);
}

function passwordMessage(text: string): Buffer {
  const body = Buffer.from(`${text}\0`, "latin1");
  return Buffer.concat([Buffer.from("p"), be32(body.length + 4), body]);
}

/** nmap's SMBProgNeg probe (nmap-service-probes), which a backend reads as protocol 65363.19778. */
const SMB_PROBE = Buffer.from(
  "000000a4ff534d4272000000000801400000000000000000000000000000400600000100008100025043204e4554574f524b2050524f4752414d20312e3000024d4943524f534f4654204e4554574f524b5320312e303300024d4943524f534f4654204e4554574f524b5320332e3000024c414e4d414e312e3000024c4d312e3258303032000253616d626100024e54204c414e4d414e20312e3000024e54204c4d20302e313200",
  "hex",
);

/** Splits a v3 ErrorResponse into its fields, in order: [["S","FATAL"], …]. */
function errorFields(b: Buffer): [string, string][] {
  expect(String.fromCharCode(b[0]!)).toBe("E");
  const len = b.readUInt32BE(1);
  expect(b.length).toBe(len + 1);
  const out: [string, string][] = [];
  let at = 5;
  while (b[at] !== 0) {
    const end = b.indexOf(0, at + 1);
    out.push([String.fromCharCode(b[at]!), b.subarray(at + 1, end).toString("latin1")]);
    at = end + 1;
  }
  expect(at).toBe(b.length - 1);
  return out;
}

const md5 = (s: string | Buffer) => createHash("md5").update(s).digest("hex");

describe("postgresql over TCP", () => {
  test("nmap's SMB probe: FATAL 0A000 with postmaster.c and the version's line (9.6.24: V field, line 2063), then a close", async () => {
    expect(SMB_PROBE.length).toBe(168);
    const { port } = serve("postgresql-9.6.24-debian9");
    const c = await connect(port);
    c.send(SMB_PROBE);
    await c.closed;
    expect(errorFields(Buffer.from(c.received()))).toEqual([
      ["S", "FATAL"],
      ["V", "FATAL"],
      ["C", "0A000"],
      ["M", "unsupported frontend protocol 65363.19778: server supports 1.0 to 3.0"],
      ["F", "postmaster.c"],
      ["L", "2063"],
      ["R", "ProcessStartupPacket"],
    ]);
  });

  test("8.4 has no V field (line 1622)", async () => {
    const { port } = serve("postgresql-8.4.20-centos6");
    const c = await connect(port);
    c.send(SMB_PROBE);
    await c.closed;
    const f = errorFields(Buffer.from(c.received()));
    expect(f.map(([k]) => k)).toEqual(["S", "C", "M", "F", "L", "R"]);
    expect(f[4]).toEqual(["L", "1622"]);
  });

  test("SSLRequest: 'N' where the package leaves ssl off (CentOS), 'S' and a TLS handshake where Debian turns it on", async () => {
    const ssl = Buffer.concat([be32(8), be32(80877103)]);
    const off = await connect(serve("postgresql-8.4.20-centos6").port);
    off.send(ssl);
    expect(await off.waitFor((s) => s.length >= 1)).toBe("N");
    // Still waiting for the startup packet after the 'N'.
    off.send(startup([["user", "alice"]]));
    await off.waitFor((s) => s.length >= 14);
    expect(Buffer.from(off.received()).subarray(1, 6).toString("hex")).toBe("520000000c");
    off.end();
    const on = await connect(serve("postgresql-9.6.24-debian9").port);
    on.send(ssl);
    expect(await on.waitFor((s) => s.length >= 1)).toBe("S");
    // A TLS ClientHello would follow; plain bytes instead fail the handshake and end the session.
    on.send(startup([["user", "alice"]]));
    await on.closed;
  });

  test("md5: AuthenticationMD5Password with a 4-byte salt; the answer is refused with 28P01 and logged as hashcat's $postgres$", async () => {
    const { port, sink } = serve("postgresql-13.8-debian11");
    const c = await connect(port);
    c.send(startup([["user", "root"], ["database", "prod"], ["application_name", "psql"]]));
    const got = Buffer.from(await c.waitFor((s) => s.length >= 13), "latin1");
    expect(got.length).toBe(13);
    expect(got.subarray(0, 9).toString("hex")).toBe("520000000c00000005");
    const salt = got.subarray(9, 13);
    const answer = "md5" + md5(Buffer.concat([Buffer.from(md5("hunter2root")), salt]));
    c.send(passwordMessage(answer));
    await c.closed;
    const f = errorFields(Buffer.from(c.received()).subarray(13));
    expect(f.slice(0, 4)).toEqual([
      ["S", "FATAL"],
      ["V", "FATAL"],
      ["C", "28P01"],
      ["M", 'password authentication failed for user "root"'],
    ]);
    expect(f[4]).toEqual(["F", "auth.c"]);
    expect(f[6]).toEqual(["R", "auth_failed"]);
    const logins = sink.events.filter((e) => e.action === "login");
    expect(logins).toHaveLength(1);
    expect(logins[0]!.user).toBe("root");
    expect(logins[0]!.method).toBe("postgresql");
    expect(logins[0]!.password).toBeUndefined();
    expect(logins[0]!.hash).toEqual({ value: `$postgres$root*${salt.toString("hex")}*${answer.slice(3)}`, type: "postgres-md5", hashcatMode: 11100 });
    expect(logins[0]!.client?.database).toBe("prod");
  });

  test("a cleartext password sent to an md5 request is logged as the password", async () => {
    const { port, sink } = serve("postgresql-9.4.26-debian8");
    const c = await connect(port);
    c.send(startup([["user", "postgres"]]));
    await c.waitFor((s) => s.length >= 13);
    c.send(passwordMessage("letmein"));
    await c.closed;
    const login = sink.events.find((e) => e.action === "login");
    expect(login?.password).toBe("letmein");
    expect(login?.user).toBe("postgres");
  });

  test("protocol errors: no user (28000), a message other than 'p' (08P01, the type as a number), a bad length (silent close)", async () => {
    const { port } = serve("postgresql-9.6.24-debian9");
    const a = await connect(port);
    a.send(startup([["database", "x"]]));
    await a.closed;
    const fa = errorFields(Buffer.from(a.received()));
    expect(fa[2]).toEqual(["C", "28000"]);
    expect(fa[3]).toEqual(["M", "no PostgreSQL user name specified in startup packet"]);
    const b = await connect(port);
    b.send(startup([["user", "root"]]));
    await b.waitFor((s) => s.length >= 13);
    b.send(Buffer.concat([Buffer.from("Q"), be32(11), Buffer.from("secret\0")]));
    await b.closed;
    const fb = errorFields(Buffer.from(b.received()).subarray(13));
    expect(fb[3]).toEqual(["M", "expected password response, got message type 81"]);
    const g = await connect(port);
    g.send("GET / HTTP/1.0\r\n\r\n");
    await g.closed;
    expect(g.received().length).toBe(0);
  });

  test("protocol 2 (8.4): the fixed startup packet, an md5 request without a length word, errors as one text line", async () => {
    const { port, sink } = serve("postgresql-8.4.20-centos6");
    const c = await connect(port);
    const packet = Buffer.alloc(296);
    packet.writeUInt32BE(296, 0);
    packet.writeUInt32BE(0x20000, 4);
    packet.write("appdb", 8);
    packet.write("bob", 8 + 64);
    c.send(packet);
    const got = Buffer.from(await c.waitFor((s) => s.length >= 9), "latin1");
    expect(got.subarray(0, 5).toString("hex")).toBe("5200000005");
    c.send(Buffer.concat([be32(4 + 4), Buffer.from("pw1\0")]));
    await c.closed;
    expect(Buffer.from(c.received()).subarray(9).toString("latin1")).toBe('EFATAL:  password authentication failed for user "bob"\n\0');
    expect(sink.events.find((e) => e.action === "login")?.password).toBe("pw1");
  });

  test("3.1 with a _pq_ option: NegotiateProtocolVersion (3.0, the option named), then the md5 request", async () => {
    const { port } = serve("postgresql-9.6.24-debian9");
    const c = await connect(port);
    c.send(startup([["user", "root"], ["_pq_.foo", "1"]], 0x30001));
    const got = Buffer.from(await c.waitFor((s) => s.length >= 22 + 13), "latin1");
    // As PostgreSQL 15.18 sent it to the same packet.
    expect(got.subarray(0, 22).toString("latin1")).toBe("v\0\0\0\x15\0\x03\0\0\0\0\0\x01_pq_.foo\0");
    expect(got.subarray(22, 31).toString("hex")).toBe("520000000c00000005");
    c.end();
  });

  test("GSSENCRequest: 'G' on 13 (Debian builds GSSAPI in), an unsupported protocol 1234.5680 on 9.6", async () => {
    const gss = Buffer.concat([be32(8), be32(80877104)]);
    const a = await connect(serve("postgresql-13.8-debian11").port);
    a.send(gss);
    expect(await a.waitFor((s) => s.length >= 1)).toBe("G");
    a.send(Buffer.concat([be32(20), Buffer.alloc(20, 0x78)]));
    await a.closed;
    expect(a.text()).toBe("G");
    const b = await connect(serve("postgresql-9.6.24-debian9").port);
    b.send(gss);
    await b.closed;
    expect(errorFields(Buffer.from(b.received()))[3]).toEqual(["M", "unsupported frontend protocol 1234.5680: server supports 1.0 to 3.0"]);
  });
});


function serveScram(): { port: number; sink: MemorySink } {
  const base = entry("postgresql-13.8-debian11");
  const { trap, sink } = startTestTrap({ ...base, id: "pg15-scram-test", tls: undefined, templates: postgresqlTemplates.parse(PG15_TEMPLATES, "15.18") });
  traps.push(trap);
  return { port: trap.port, sink };
}

function saslInitial(mech: string, data: string): Buffer {
  const body = Buffer.concat([Buffer.from(`${mech}\0`), be32(data.length), Buffer.from(data, "latin1")]);
  return Buffer.concat([Buffer.from("p"), be32(body.length + 4), body]);
}

function saslResponse(data: string): Buffer {
  return Buffer.concat([Buffer.from("p"), be32(data.length + 4), Buffer.from(data, "latin1")]);
}

describe("postgresql scram-sha-256 (15.18's answers)", () => {
  async function first(port: number, user: string): Promise<{ c: Awaited<ReturnType<typeof connect>>; serverFirst: string }> {
    const c = await connect(port);
    c.send(startup([["user", user]]));
    const r = await c.waitFor((s) => s.length >= 24);
    // As 15.18 sent it over plain TCP: AuthenticationSASL, one mechanism.
    expect(r).toBe("R\0\0\0\x17\0\0\0\x0aSCRAM-SHA-256\0\0");
    c.send(saslInitial("SCRAM-SHA-256", "n,,n=,r=abcdefghijklmnopqrstuvwx"));
    const got = Buffer.from(await c.waitFor((s) => s.length >= 24 + 9 && s.length >= 24 + 1 + Buffer.from(s, "latin1").readUInt32BE(25)), "latin1").subarray(24);
    expect(got.subarray(0, 1).toString()).toBe("R");
    expect(got.readUInt32BE(5)).toBe(11);
    return { c, serverFirst: got.subarray(9).toString("latin1") };
  }

  test("the server-first message: the client's nonce and 24 more characters, a 16-byte salt that stays with the name, 4096 iterations", async () => {
    const { port } = serveScram();
    const a = await first(port, "root");
    const b = await first(port, "root");
    const o = await first(port, "admin");
    const shape = /^r=abcdefghijklmnopqrstuvwx([A-Za-z0-9+/]{24}),s=([A-Za-z0-9+/]{22}==),i=4096$/;
    for (const x of [a, b, o]) expect(x.serverFirst).toMatch(shape);
    const [, na, sa] = shape.exec(a.serverFirst)!;
    const [, nb, sb] = shape.exec(b.serverFirst)!;
    const [, , so] = shape.exec(o.serverFirst)!;
    expect(na).not.toBe(nb);
    expect(sa).toBe(sb);
    expect(so).not.toBe(sa);
    for (const x of [a, b, o]) x.c.end();
  });

  test("the client-final message is refused with 28P01, and the exchange is logged", async () => {
    const { port, sink } = serveScram();
    const { c, serverFirst } = await first(port, "root");
    const nonce = /^r=([^,]+)/.exec(serverFirst)![1];
    const final = `c=biws,r=${nonce},p=${Buffer.alloc(32, 7).toString("base64")}`;
    c.send(saslResponse(final));
    await c.closed;
    const all = Buffer.from(c.received());
    const tail = all.subarray(all.indexOf(Buffer.from("E\0\0\0")));
    // 15.18's bytes for this refusal.
    expect(tail.toString("latin1")).toBe('E\0\0\0dSFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "root"\0Fauth.c\0L334\0Rauth_failed\0\0');
    const login = sink.events.find((e) => e.action === "login");
    expect(login?.user).toBe("root");
    expect(login?.client).toMatchObject({ auth_method: "scram-sha-256", sasl_mechanism: "SCRAM-SHA-256", scram_client_first: "n,,n=,r=abcdefghijklmnopqrstuvwx", scram_server_first: serverFirst, scram_client_final: final });
  });

  test("a password where the SASL message should be names an invalid mechanism; a bad client-first is malformed, with 15.18's detail", async () => {
    const { port } = serveScram();
    const a = await connect(port);
    a.send(startup([["user", "root"]]));
    await a.waitFor((s) => s.length >= 24);
    a.send(passwordMessage("secret"));
    await a.closed;
    expect(errorFields(Buffer.from(a.received()).subarray(24))[3]).toEqual(["M", "client selected an invalid SASL authentication mechanism"]);
    const b = await connect(port);
    b.send(startup([["user", "root"]]));
    await b.waitFor((s) => s.length >= 24);
    b.send(saslInitial("SCRAM-SHA-256", "garbage"));
    await b.closed;
    const f = errorFields(Buffer.from(b.received()).subarray(24));
    expect(f[3]).toEqual(["M", "malformed SCRAM message"]);
    expect(f[4]).toEqual(["D", `Unexpected channel-binding flag "'g'".`]);
  });
});
