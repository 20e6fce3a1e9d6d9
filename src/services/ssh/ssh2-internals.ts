// The one file that reaches into ssh2's internals (pinned at exactly 1.17.0 in package.json): the server
// side of one connection with an exact KEXINIT (IncomingClient + KexInit, without ssh2's forced
// kex-strict-s marker), a DISCONNECT with a description, and server-side DH group exchange, which ssh2
// leaves unimplemented. A version bump of ssh2 must re-check every line here.
import { createDiffieHellman, getDiffieHellman } from "node:crypto";
import { EventEmitter } from "node:events";
import kexModule from "ssh2/lib/protocol/kex.js";
import constants from "ssh2/lib/protocol/constants.js";
import protocolUtils from "ssh2/lib/protocol/utils.js";
import serverModule from "ssh2/lib/server.js";
import { sshString } from "./wire.ts";

/** A host key as ssh2's parseKey returns it. */
export interface ParsedHostKey {
  type: string;
  getPublicSSH(): Buffer;
}

interface PacketWriter {
  allocStart: number;
  allocStartKEX: number;
  alloc(size: number, force?: boolean): Buffer;
  finalize(packet: Buffer, force?: boolean): Buffer;
}

/** The parts of ssh2's Protocol object used here. */
interface Protocol {
  _strictMode: boolean | undefined;
  _handlers: Record<string, ((proto: Protocol, ...args: unknown[]) => unknown) | undefined>;
  serviceAccept(name: string): void;
  _packetRW: { write: PacketWriter };
  _cipher: { encrypt(packet: Buffer): void };
  _kex: unknown;
}

/** A key exchange in progress (ssh2's KeyExchange subclasses). */
interface KeyExchange {
  type: string;
  _step: number;
  _protocol: Protocol;
  _minBits: number;
  _prefBits: number;
  _maxBits: number;
  parse(payload: Buffer): unknown;
  setDHParams(prime: Buffer, generator: Buffer): void;
  generateKeys(): void;
}

/** ssh2's fixed-group DH exchange (diffie-hellman-group1-sha1 and the like). */
interface DhGroupExchange {
  groupName: string;
  _dh: unknown;
  _public: Buffer;
  generateKeys(): void;
}

/**
 * RFC 2409's 1024-bit MODP group (Oakley group 2), the group of diffie-hellman-group1-sha1. Bun's BoringSSL
 * has no "modp2" by name, so ssh2 failed every group1 exchange (nmap's ssh-hostkey asks for it first).
 */
const OAKLEY_GROUP_2 = Buffer.from(
  "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381FFFFFFFFFFFFFFFF",
  "hex",
);

function useOakleyGroup2(kex: DhGroupExchange): void {
  kex.generateKeys = function (this: DhGroupExchange): void {
    if (this._dh) return;
    const dh = createDiffieHellman(OAKLEY_GROUP_2, Buffer.from([2]));
    this._public = dh.generateKeys();
    this._dh = dh;
  };
}

/** What a key exchange holds of its own ephemeral key (ssh2: _dh and _public, or _keys for x25519). */
interface EphemeralHolder {
  type: string;
  groupName?: string;
  curveName?: string;
  _prime?: Buffer;
  _dh?: unknown;
  _public?: unknown;
  _keys?: unknown;
  generateKeys(): void;
}

let ephemeralCache: Map<string, Partial<EphemeralHolder>> | undefined;

/**
 * For the fuzzer only: each kind of key exchange generates its ephemeral key pair once and reuses it in
 * every later connection (a 2048-bit DH key costs milliseconds, and nearly every recorded ssh session
 * reaches one). Key generation reads nothing the peer sent: parsing, the peer's public value, the shared
 * secret and the host key's signature still run per connection. Never on in a live trap.
 */
export function reuseEphemeralKeys(on: boolean): void {
  ephemeralCache = on ? new Map() : undefined;
}

function reuseKeys(kex: EphemeralHolder): void {
  const generate = kex.generateKeys;
  kex.generateKeys = function (this: EphemeralHolder): void {
    const cache = ephemeralCache;
    if (!cache || this._dh || this._keys) return generate.call(this);
    const id = `${this.type}:${this.groupName ?? this.curveName ?? ""}:${this._prime ? this._prime.toString("hex") : ""}`;
    const hit = cache.get(id);
    if (hit) {
      Object.assign(this, hit);
      return;
    }
    generate.call(this);
    const made: Partial<EphemeralHolder> = {};
    if (this._dh !== undefined) made._dh = this._dh;
    if (this._public !== undefined) made._public = this._public;
    if (this._keys !== undefined && this._keys !== null) made._keys = this._keys;
    cache.set(id, made);
  };
}

export interface AuthRequest {
  method: string;
  username: string;
  password?: string;
  key?: { algo: string; data: Buffer };
  signature?: Buffer;
  reject(methods?: string[], partial?: boolean): void;
  prompt?(prompts: { prompt: string; echo: boolean }[], title: string, instructions: string, cb: (answers: string[] | Error) => void): void;
}

export interface ServerConnection extends EventEmitter {
  _protocol: Protocol;
}

export interface Offer {
  kex: string[];
  hostKey: string[];
  ciphers: string[];
  macs: string[];
  compression: string[];
}

/** Algorithm names ssh2 can run as a server in this runtime (Bun: no chacha20-poly1305, ssh-dss signing fails). */
export const SUPPORTED = {
  kex: new Set(constants.SUPPORTED_KEX),
  cipher: new Set(constants.SUPPORTED_CIPHER),
  mac: new Set(constants.SUPPORTED_MAC),
  compression: new Set(constants.SUPPORTED_COMPRESSION),
};

const MESSAGE_DISCONNECT = 1;
const MESSAGE_EXT_INFO = 7;
const MESSAGE_KEXDH_INIT = 30;
const MESSAGE_KEXDH_REPLY = 31;
const MESSAGE_KEX_DH_GEX_GROUP = 31;
const MESSAGE_KEX_DH_GEX_INIT = 32;
const MESSAGE_KEX_DH_GEX_REPLY = 33;
const MESSAGE_KEX_DH_GEX_REQUEST = 34;
const KEY_EXCHANGE_FAILED = 3;

/**
 * ssh2's server side of one connection over `socket`, sending exactly `offer` as its KEXINIT. ssh2 emits
 * the connection on `server` once it read the client's identification.
 */
export function serverConnection(socket: EventEmitter, hostKeys: Record<string, ParsedHostKey>, ident: string, offer: Offer, gexGroup: "group14" | "by-max", onConnection: (c: ServerConnection) => void): ServerConnection {
  const kexInit = new kexModule.KexInit({
    kex: offer.kex,
    serverHostKey: offer.hostKey,
    cs: { cipher: offer.ciphers, mac: offer.macs, compress: offer.compression, lang: [] },
    sc: { cipher: offer.ciphers, mac: offer.macs, compress: offer.compression, lang: [] },
  });
  const server = new EventEmitter();
  server.on("connection", (c: ServerConnection) => onConnection(c));
  const client = new serverModule.IncomingClient(socket, hostKeys, Buffer.from(ident, "latin1"), kexInit, undefined, server, {}) as ServerConnection;
  const proto = client._protocol;
  // ssh2 turns strict KEX on whenever the client offers kex-strict-c, assuming its own offer always has
  // kex-strict-s; when the face's offer lacks it, both sides must keep counting sequence numbers.
  if (!offer.kex.includes("kex-strict-s-v00@openssh.com")) proto._strictMode = false;
  watchKeyExchanges(proto, gexGroup);
  acceptRepeatedUserauth(proto);
  return client;
}

/**
 * sshd and Dropbear answer every SERVICE_REQUEST for ssh-userauth until a login succeeds; ssh2 disconnects
 * on the second. paramiko asks again before each password, so without this it got one try per connection.
 */
function acceptRepeatedUserauth(proto: Protocol): void {
  const first = proto._handlers.SERVICE_REQUEST;
  let accepted = false;
  proto._handlers.SERVICE_REQUEST = (p: Protocol, service: unknown) => {
    if (accepted && service === "ssh-userauth") return proto.serviceAccept(service);
    if (service === "ssh-userauth") accepted = true;
    return first?.(p, service);
  };
}

/** SSH_MSG_DISCONNECT with a reason and a description (ssh2's own disconnect() sends no text). */
/** SSH_MSG_EXT_INFO (RFC 8308) with the face's own extensions, in order. */
export function sendExtInfo(proto: Protocol, extensions: Record<string, string>): void {
  const count = Buffer.alloc(4);
  count.writeUInt32BE(Object.keys(extensions).length);
  const parts: Buffer[] = [Buffer.from([MESSAGE_EXT_INFO]), count];
  for (const [name, value] of Object.entries(extensions)) parts.push(sshString(name), sshString(value));
  const body = Buffer.concat(parts);
  const w = proto._packetRW.write;
  const p = w.allocStart;
  const packet = w.alloc(body.length);
  packet.set(body, p);
  protocolUtils.sendPacket(proto, w.finalize(packet));
}

export function sendDisconnect(proto: Protocol, reason: number, text: string): void {
  const desc = Buffer.from(text, "utf8");
  const w = proto._packetRW.write;
  let p = w.allocStartKEX;
  const packet = w.alloc(1 + 4 + 4 + desc.length + 4, true);
  packet[p++] = MESSAGE_DISCONNECT;
  packet.writeUInt32BE(reason, p);
  p += 4;
  packet.writeUInt32BE(desc.length, p);
  p += 4;
  packet.set(desc, p);
  p += desc.length;
  packet.writeUInt32BE(0, p); // empty language tag
  protocolUtils.sendPacket(proto, w.finalize(packet, true), true);
}

function mpint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const body = b.subarray(i);
  return (body[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), body]) : Buffer.from(body);
}

/** The RFC 3526 group sshd falls back on without a moduli file (dh.c: group 14; from 7.x by the client's max). */
function fallbackGroup(rule: "group14" | "by-max", max: number): string {
  if (rule === "group14" || max < 3072) return "modp14";
  return max < 6144 ? "modp16" : "modp18";
}

/**
 * Every key exchange ssh2 starts on this connection passes here. Server-side
 * diffie-hellman-group-exchange-*: ssh2 creates the exchange but refuses the client's
 * KEX_DH_GEX_REQUEST. Each new exchange of this connection is given a parse() that answers the request
 * with a fixed group (KEX_DH_GEX_GROUP), then hands KEX_DH_GEX_INIT to ssh2's plain DH server code as a
 * KEXDH_INIT: its exchange hash already covers min, n, max, p and g for a "groupex" exchange; only the
 * reply's message number is changed to KEX_DH_GEX_REPLY on its way out.
 */
function watchKeyExchanges(proto: Protocol, rule: "group14" | "by-max"): void {
  let current: unknown = proto._kex;
  Object.defineProperty(proto, "_kex", {
    configurable: true,
    enumerable: true,
    get: () => current,
    set(kex: unknown) {
      current = kex;
      if (!kex) return;
      // ssh2 answers a client's ext-info-c with its own server-sig-algs list (a list no OpenSSH sent, and
      // OpenSSH before 7.2 sent no EXT_INFO at all): this server sends none.
      Object.defineProperty(kex, "remoteExtInfoEnabled", { configurable: true, get: () => false, set: () => {} });
      if ((kex as KeyExchange).type === "groupex") answerGroupRequests(kex as KeyExchange, rule);
      if ((kex as KeyExchange).type === "group" && (kex as DhGroupExchange).groupName === "modp2") useOakleyGroup2(kex as DhGroupExchange);
      if (ephemeralCache) reuseKeys(kex as EphemeralHolder);
    },
  });
}

/** A named group's prime and generator (getDiffieHellman builds a whole group object to tell them). */
const groupCache = new Map<string, { prime: Buffer; generator: Buffer }>();

function groupParameters(name: string): { prime: Buffer; generator: Buffer } {
  let g = groupCache.get(name);
  if (!g) {
    const group = getDiffieHellman(name);
    g = { prime: group.getPrime(), generator: group.getGenerator() };
    groupCache.set(name, g);
  }
  return g;
}

function answerGroupRequests(kex: KeyExchange, rule: "group14" | "by-max"): void {
  const plainParse = Object.getPrototypeOf(Object.getPrototypeOf(kex)).parse as (this: KeyExchange, payload: Buffer) => unknown;
  kex.parse = function (this: KeyExchange, payload: Buffer): unknown {
    const proto = this._protocol;
    const type = payload[0];
    if (this._step === 1) {
      if (type !== MESSAGE_KEX_DH_GEX_REQUEST || payload.length < 13)
        return protocolUtils.doFatalError(proto, `Received packet ${type} instead of ${MESSAGE_KEX_DH_GEX_REQUEST}`, "handshake", KEY_EXCHANGE_FAILED);
      const min = payload.readUInt32BE(1);
      const n = payload.readUInt32BE(5);
      const max = payload.readUInt32BE(9);
      // sshd's own check (kexgexs.c): min <= n <= max, else "DH_GEX_REQUEST, bad parameters".
      if (max < min || n < min || max < n) return protocolUtils.doFatalError(proto, "DH_GEX_REQUEST, bad parameters", "handshake", KEY_EXCHANGE_FAILED);
      const { prime, generator } = groupParameters(fallbackGroup(rule, max));
      this._minBits = min;
      this._prefBits = n;
      this._maxBits = max;
      this.setDHParams(prime, generator);
      this.generateKeys();
      const p = mpint(prime);
      const g = mpint(generator);
      const w = proto._packetRW.write;
      let at = w.allocStartKEX;
      const packet = w.alloc(1 + 4 + p.length + 4 + g.length, true);
      packet[at++] = MESSAGE_KEX_DH_GEX_GROUP;
      packet.writeUInt32BE(p.length, at);
      packet.set(p, (at += 4));
      packet.writeUInt32BE(g.length, (at += p.length));
      packet.set(g, (at += 4));
      proto._cipher.encrypt(w.finalize(packet, true));
      this._step = 2;
      return undefined;
    }
    if (this._step === 2) {
      if (type !== MESSAGE_KEX_DH_GEX_INIT)
        return protocolUtils.doFatalError(proto, `Received packet ${type} instead of ${MESSAGE_KEX_DH_GEX_INIT}`, "handshake", KEY_EXCHANGE_FAILED);
      const w = proto._packetRW.write;
      const own = Object.hasOwn(w, "finalize");
      const finalize = w.finalize;
      w.finalize = function (packet: Buffer, force?: boolean): Buffer {
        if (packet[w.allocStartKEX] === MESSAGE_KEXDH_REPLY) packet[w.allocStartKEX] = MESSAGE_KEX_DH_GEX_REPLY;
        return finalize.call(this, packet, force);
      };
      this.parse = plainParse;
      this._step = 1;
      payload[0] = MESSAGE_KEXDH_INIT;
      try {
        return plainParse.call(this, payload);
      } finally {
        if (own) w.finalize = finalize;
        else Reflect.deleteProperty(w, "finalize");
      }
    }
    return plainParse.call(this, payload);
  };
}

/** ssh2's MAX_PACKET_SIZE (lib/protocol/crypto.js): a packet length over this is "Bad packet length". */
export const SSH2_MAX_PACKET = 35_000;

/**
 * What ssh2 holds of the peer's input between reads: the packet it is assembling (allocated at its
 * declared length, at most SSH2_MAX_PACKET and a MAC), and an identification line not yet complete.
 */
export function libraryHeld(conn: ServerConnection): number {
  const proto = conn._protocol as unknown as { _decipher?: { _packet?: Uint8Array | null }; _buffer?: Uint8Array };
  return (proto._decipher?._packet?.length ?? 0) + (proto._buffer?.length ?? 0);
}
