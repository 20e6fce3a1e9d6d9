// The mongodb face over real TCP on 127.0.0.1: requests built here byte by byte from the wire protocol's
// layout (not with the face's own writer), answers read as nmap and the drivers read them.
import { describe, expect, test } from "bun:test";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { serviceEntries } from "../../src/catalog/index.ts";
import { decodeDoc } from "../../src/services/mongodb/bson.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";

const entries = serviceEntries("mongodb") as CatalogEntry[];
function entry(id: string): CatalogEntry {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

// A minimal BSON writer of the test's own: doubles, int32 (as {i: n}), strings, binary (Buffer), booleans.
type V = number | string | boolean | Buffer | { i: number };
function bson(fields: [string, V][]): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of fields) {
    const key = Buffer.from(`${k}\0`);
    if (typeof v === "number") {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v);
      parts.push(Buffer.from([0x01]), key, b);
    } else if (typeof v === "string") {
      const s = Buffer.from(`${v}\0`);
      const n = Buffer.alloc(4);
      n.writeInt32LE(s.length);
      parts.push(Buffer.from([0x02]), key, n, s);
    } else if (typeof v === "boolean") {
      parts.push(Buffer.from([0x08]), key, Buffer.from([v ? 1 : 0]));
    } else if (Buffer.isBuffer(v)) {
      const n = Buffer.alloc(4);
      n.writeInt32LE(v.length);
      parts.push(Buffer.from([0x05]), key, n, Buffer.from([0]), v);
    } else {
      const b = Buffer.alloc(4);
      b.writeInt32LE(v.i);
      parts.push(Buffer.from([0x10]), key, b);
    }
  }
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeInt32LE(body.length + 5);
  return Buffer.concat([len, body, Buffer.from([0])]);
}

function header(len: number, id: number, op: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(len, 0);
  h.writeInt32LE(id, 4);
  h.writeInt32LE(0, 8);
  h.writeInt32LE(op, 12);
  return h;
}

function opQuery(id: number, ns: string, doc: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.alloc(4), Buffer.from(`${ns}\0`), Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), doc]);
  return Buffer.concat([header(16 + rest.length, id, 2004), rest]);
}

function opMsg(id: number, doc: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.alloc(4), Buffer.from([0]), doc]);
  return Buffer.concat([header(16 + rest.length, id, 2013), rest]);
}

/** Sends one message and reads one whole reply: its header fields and its first document. */
async function ask(port: number, msg: Buffer): Promise<{ raw: Buffer; responseTo: number; opCode: number; flags: number; doc: any }> {
  const c = await connect(port);
  try {
    c.send(msg);
    await c.waitFor((s) => s.length >= 4 && s.length >= Buffer.from(s, "latin1").readInt32LE(0));
    const raw = Buffer.from(c.received());
    const opCode = raw.readInt32LE(12);
    const at = opCode === 1 ? 36 : 21;
    return { raw, responseTo: raw.readInt32LE(8), opCode, flags: raw.readInt32LE(16), doc: decodeDoc(new Uint8Array(raw.subarray(at)))?.[0] };
  } finally {
    c.end();
  }
}

// nmap's mongodb probe, as nmap-service-probes writes it.
const NMAP_PROBE = Buffer.from("\x41\0\0\0\x3a\x30\0\0\xff\xff\xff\xff\xd4\x07\0\0\0\0\0\0test.$cmd\0\0\0\0\0\xff\xff\xff\xff\x1b\0\0\0\x01serverStatus\0\0\0\0\0\0\0\xf0\x3f\0", "latin1");

describe("mongodb over TCP", () => {
  test("open 2.4: nmap's serverStatus probe gets OP_REPLY with the version where nmap's line reads it", async () => {
    const { trap } = startTestTrap(entry("mongodb-2.4.10-debian8"));
    try {
      const r = await ask(trap.port, NMAP_PROBE);
      expect(r.opCode).toBe(1);
      expect(r.responseTo).toBe(0x303a);
      expect(r.raw.toString("latin1")).toMatch(/^.*version.....([.\d]+)/s);
      expect(/^.*version.....([.\d]+)/s.exec(r.raw.toString("latin1"))?.[1]).toBe("2.4.10");
      expect(r.doc.process).toBe("mongod");
      expect(r.doc.ok).toBe(1);
      const bi = await ask(trap.port, opQuery(7, "admin.$cmd", bson([["buildinfo", 1]])));
      expect(bi.responseTo).toBe(7);
      expect([bi.doc.version, bi.doc.javascriptEngine, bi.doc.bits]).toEqual(["2.4.10", "V8", 64]);
      const im = await ask(trap.port, opQuery(8, "admin.$cmd", bson([["isMaster", 1]])));
      expect(im.doc.ismaster).toBe(true);
      expect(im.doc.maxWireVersion).toBeUndefined(); // 2.4 predates wire versions
    } finally {
      trap.stop();
    }
  });

  test("--auth 3.2: serverStatus is 'not authorized' with code 13 in nmap's byte layout; buildInfo still answers", async () => {
    const { trap } = startTestTrap(entry("mongodb-3.2.11-debian9"));
    try {
      const r = await ask(trap.port, NMAP_PROBE);
      // nmap-service-probes' line for an --auth mongod (responseFlags 8, ok 0.0 first, then errmsg, code 13).
      expect(r.raw.toString("latin1")).toMatch(/^.\0\0\0....:0\0\0\x01\0\0\0\x08\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01\0\0\0.\0\0\0\x01ok\0\0\0\0\0\0\0\0\0\x02errmsg\0.\0\0\0not authorized on (\S+) to execute command \{ serverStatus: 1\.0 \}\0\x10code\0\r\0\0\0/s);
      expect(r.doc.codeName).toBeUndefined(); // codeName came with 3.4
      const bi = await ask(trap.port, opQuery(3, "admin.$cmd", bson([["buildInfo", 1]])));
      expect(bi.doc.version).toBe("3.2.11");
      const ld = await ask(trap.port, opQuery(4, "admin.$cmd", bson([["listDatabases", { i: 1 }]])));
      expect(ld.doc.errmsg).toBe("not authorized on admin to execute command { listDatabases: 1 }");
      const unknown = await ask(trap.port, opQuery(5, "admin.$cmd", bson([["frobnicate", 1]])));
      expect([unknown.doc.ok, unknown.doc.code, unknown.doc.errmsg]).toEqual([0, 59, "no such cmd: frobnicate"]);
      const im = await ask(trap.port, opQuery(6, "admin.$cmd", bson([["isMaster", 1]])));
      expect(im.doc.maxWireVersion).toBe(4);
    } finally {
      trap.stop();
    }
  });

  test("an HTTP GET on the driver port: mongod's text for its series, then the close", async () => {
    for (const [id, text] of [
      ["mongodb-2.4.10-debian8", "You are trying to access MongoDB on the native driver port. For http diagnostic access, add 1000 to the port number\n"],
      ["mongodb-4.0.28-rhel7", "It looks like you are trying to access MongoDB over HTTP on the native driver port.\n"],
    ] as const) {
      const { trap } = startTestTrap(entry(id));
      try {
        const c = await connect(trap.port);
        c.send("GET / HTTP/1.0\r\n\r\n");
        await c.closed;
        expect(c.text()).toBe(`HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
      } finally {
        trap.stop();
      }
    }
  });

  test("a length under 16 or over 48,000,000 closes without a word, and is logged as an error", async () => {
    const { trap, sink } = startTestTrap(entry("mongodb-4.0.28-rhel7"));
    try {
      for (const bad of [Buffer.from([8, 0, 0, 0, 1, 2, 3, 4]), Buffer.from("HELP me\r\n")]) {
        const c = await connect(trap.port);
        c.send(bad);
        await c.closed;
        expect(c.received().length).toBe(0);
      }
      await Bun.sleep(50);
      expect(sink.of("error").map((e) => e.message)).toEqual(["invalid message length", "invalid message length"]);
    } finally {
      trap.stop();
    }
  });

  test("OP_MSG on 4.0: isMaster with maxWireVersion 7; the unknown command in 4.0's words", async () => {
    const { trap } = startTestTrap(entry("mongodb-4.0.28-rhel7"));
    try {
      const im = await ask(trap.port, opMsg(11, bson([["isMaster", { i: 1 }], ["$db", "admin"]])));
      expect(im.opCode).toBe(2013);
      expect(im.responseTo).toBe(11);
      expect([im.doc.ismaster, im.doc.maxWireVersion, im.doc.minWireVersion]).toEqual([true, 7, 0]);
      const ld = await ask(trap.port, opMsg(12, bson([["listDatabases", { i: 1 }], ["$db", "admin"]])));
      expect(ld.doc.databases.map((d: any) => d.name)).toEqual(["admin", "config", "local"]);
      const unknown = await ask(trap.port, opMsg(13, bson([["frobnicate", { i: 1 }], ["$db", "admin"]])));
      expect([unknown.doc.errmsg, unknown.doc.code, unknown.doc.codeName]).toEqual(["no such command: 'frobnicate'", 59, "CommandNotFound"]);
    } finally {
      trap.stop();
    }
  });

  test("SCRAM-SHA-256: server-first with a per-host salt; the refused client-final is logged so a guess can be checked offline", async () => {
    const { trap, sink } = startTestTrap(entry("mongodb-4.0.28-rhel7"));
    const password = "Summer2024!";
    try {
      const c = await connect(trap.port);
      const clientNonce = "fyko+d2lbbFgONRv9qkxdawL";
      const clientFirstBare = `n=admin,r=${clientNonce}`;
      c.send(opMsg(1, bson([["saslStart", { i: 1 }], ["mechanism", "SCRAM-SHA-256"], ["payload", Buffer.from(`n,,${clientFirstBare}`)], ["$db", "admin"]])));
      await c.waitFor((s) => s.length >= 4 && s.length >= Buffer.from(s, "latin1").readInt32LE(0));
      const first = decodeDoc(new Uint8Array(Buffer.from(c.received()).subarray(21)))![0] as any;
      const serverFirst = Buffer.from(first.payload).toString();
      const m = /^r=([^,]+),s=([^,]+),i=(\d+)$/.exec(serverFirst)!;
      expect(m[1]!.startsWith(clientNonce)).toBe(true);
      expect(Buffer.from(m[2]!, "base64").length).toBe(28);
      expect(m[3]).toBe("15000");
      const salted = pbkdf2Sync(password, Buffer.from(m[2]!, "base64"), 15000, 32, "sha256");
      const clientKey = createHmac("sha256", salted).update("Client Key").digest();
      const storedKey = createHash("sha256").update(clientKey).digest();
      const withoutProof = `c=biws,r=${m[1]}`;
      const sig = createHmac("sha256", storedKey).update(`${clientFirstBare},${serverFirst},${withoutProof}`).digest();
      const proof = Buffer.from(clientKey.map((b, i) => b ^ sig[i]!)).toString("base64");
      const before = c.received().length;
      c.send(opMsg(2, bson([["saslContinue", { i: 1 }], ["conversationId", { i: 1 }], ["payload", Buffer.from(`${withoutProof},p=${proof}`)], ["$db", "admin"]])));
      await c.waitFor((s) => s.length > before + 4);
      await Bun.sleep(50);
      const second = decodeDoc(new Uint8Array(Buffer.from(c.received()).subarray(before + 21)))![0] as any;
      expect([second.ok, second.errmsg, second.code, second.codeName]).toEqual([0, "Authentication failed.", 18, "AuthenticationFailed"]);
      c.end();
      const login = sink.of("login")[0]!;
      expect(login.user).toBe("admin");
      expect(login.method).toBe("mongodb-scram-sha-256");
      // The logged exchange alone decides whether a guess is right: recompute the proof from it.
      const cf = login.client!.scram_client_first!;
      const sf = login.client!.scram_server_first!;
      const fin = login.client!.scram_client_final!;
      const [, salt, iters] = /,s=([^,]+),i=(\d+)$/.exec(sf)!;
      const check = (guess: string) => {
        const k = createHmac("sha256", pbkdf2Sync(guess, Buffer.from(salt!, "base64"), Number(iters), 32, "sha256")).update("Client Key").digest();
        const s = createHmac("sha256", createHash("sha256").update(k).digest()).update(`${cf},${sf},${fin.slice(0, fin.lastIndexOf(",p="))}`).digest();
        return Buffer.from(k.map((b, i) => b ^ s[i]!)).toString("base64") === fin.slice(fin.lastIndexOf(",p=") + 3);
      };
      expect(check(password)).toBe(true);
      expect(check("wrong")).toBe(false);
    } finally {
      trap.stop();
    }
  });

  test("MONGODB-CR on 2.6: getnonce, then authenticate refused and logged as John's mongodb line", async () => {
    const { trap, sink } = startTestTrap(entry("mongodb-2.6.10-ubuntu16"));
    try {
      const n = await ask(trap.port, opQuery(1, "admin.$cmd", bson([["getnonce", 1]])));
      expect(n.doc.nonce).toMatch(/^[0-9a-f]{16}$/);
      const nonce = n.doc.nonce as string;
      const md5 = (s: string) => createHash("md5").update(s).digest("hex");
      const key = md5(nonce + "root" + md5("root:mongo:toor"));
      const r = await ask(trap.port, opQuery(2, "admin.$cmd", bson([["authenticate", 1], ["user", "root"], ["nonce", nonce], ["key", key]])));
      expect([r.doc.ok, r.doc.errmsg, r.doc.code]).toEqual([0, "auth failed", 18]);
      await Bun.sleep(50);
      const login = sink.of("login")[0]!;
      expect(login.user).toBe("root");
      expect(login.hash?.value).toBe(`$mongodb$1$root$${nonce}$${key}`);
      expect(login.hash?.type).toBe("mongodb-cr");
    } finally {
      trap.stop();
    }
  });

  test("an open face takes an insert: its documents (OP_MSG's kind-1 sequence) are counted and logged", async () => {
    const { trap, sink } = startTestTrap(entry("mongodb-4.0.28-rhel7"));
    try {
      const note = bson([["content", "All your data is backed up. Send 0.1 BTC to 1Abc to restore."]]);
      const seqBody = Buffer.concat([Buffer.from("documents\0"), note, bson([["x", { i: 2 }]])]);
      const seqLen = Buffer.alloc(4);
      seqLen.writeInt32LE(4 + seqBody.length);
      const body = bson([["insert", "README"], ["ordered", true], ["$db", "shop"]]);
      const rest = Buffer.concat([Buffer.alloc(4), Buffer.from([0]), body, Buffer.from([1]), seqLen, seqBody]);
      const r = await ask(trap.port, Buffer.concat([header(16 + rest.length, 21, 2013), rest]));
      expect([r.doc.n, r.doc.ok]).toEqual([2, 1]);
      await Bun.sleep(50);
      expect(sink.of("command").map((e) => e.command)).toEqual(['shop { insert: "README", ordered: true, $db: "shop" } documents: [ { content: "All your data is backed up. Send 0.1 BTC to 1Abc to restore." }, { x: 2 } ]']);
    } finally {
      trap.stop();
    }
  });
});
