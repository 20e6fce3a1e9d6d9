// TLS between the socket and a session: the session keeps reading and writing plaintext, node:tls does the
// handshake and the records over an in-memory pipe. The same layer serves TLS from the first byte (https)
// and TLS started mid-session (ftp's AUTH TLS), with the face's per-host certificate.
import { Duplex } from "node:stream";
import type { SecureContext, TLSSocket } from "node:tls";
import type { HostFacts } from "../host/facts.ts";
import type { TlsProfile } from "../types.ts";
import { concatBytes } from "../wire/bytes.ts";

/** What the handshake showed, for the event's tls.* fields. */
export interface TlsHandshake {
  version: string;
  cipher: string;
  /** The name the client asked for (SNI), if any. */
  serverName?: string;
  /** The client's ClientHello fingerprint (JA3) and its source string, when the hello could be read. */
  ja3?: string;
  ja3String?: string;
}

export interface TlsLayerEvents {
  /** Decrypted bytes from the peer. */
  plaintext(bytes: Uint8Array): void;
  /** TLS records for the peer. */
  ciphertext(bytes: Uint8Array): void;
  secure(info: TlsHandshake): void;
  /**
   * The handshake or a record failed (a scanner's SSLv2 hello, a plain HTTP request, garbage): the session
   * ends. Before the handshake completed, `raw` holds what the peer had sent (the evidence: no plaintext
   * will ever come) and `hello` the JA3 of its ClientHello when it sent one.
   */
  failed(message: string, raw?: Uint8Array, hello?: Pick<TlsHandshake, "ja3" | "ja3String">): void;
  /** The peer sent close_notify or the layer ended. */
  ended(): void;
}

// node:tls and node-forge (the certificates) load with the first TLS face, not with every start of micetrap.
const nodeTls = (): typeof import("node:tls") => require("node:tls");
const certs = (): typeof import("../tls/certs.ts") => require("../tls/certs.ts");

const contexts = new Map<string, SecureContext>();

/** One secure context per host and profile: the certificate, the era's protocol range and ciphers. */
export function secureContextFor(profile: TlsProfile, host: HostFacts): SecureContext {
  const key = `${host.seed}\u0000${host.release}\u0000${host.fqdn}\u0000${JSON.stringify(profile)}`;
  let ctx = contexts.get(key);
  if (!ctx) {
    const cert = certs().hostCertificate(profile, host);
    ctx = nodeTls().createSecureContext({
      key: cert.keyPem,
      cert: cert.certPem,
      minVersion: profile.minVersion,
      maxVersion: profile.maxVersion,
      ...(profile.ciphers ? { ciphers: profile.ciphers } : {}),
    });
    contexts.set(key, ctx);
  }
  return ctx;
}

/**
 * What OpenSSL takes for plain HTTP where a TLS record should start (SSL_R_HTTP_REQUEST): these four
 * methods only. Apache and nginx answer such a request with a page; anything else is a failed handshake.
 */
export function isPlainHttpRequest(first: Uint8Array): boolean {
  const head = Buffer.from(first.subarray(0, 5)).toString("latin1");
  return head.startsWith("GET ") || head.startsWith("POST ") || head.startsWith("HEAD ") || head.startsWith("PUT ");
}

/** Bytes of ClientHello kept to fingerprint it; a hello is rarely above 2 KiB. */
const HELLO_KEEP = 16 * 1024;

export class TlsLayer {
  private readonly pipe: Duplex;
  private readonly tls: TLSSocket;
  private hello: Uint8Array[] = [];
  private helloBytes = 0;
  private done = false;

  constructor(context: SecureContext, private readonly on: TlsLayerEvents) {
    this.pipe = new Duplex({
      read() {},
      write: (chunk: Buffer, _enc, cb) => {
        if (!this.done) this.on.ciphertext(new Uint8Array(chunk));
        cb();
      },
      final: (cb) => cb(),
    });
    this.tls = new (nodeTls().TLSSocket)(this.pipe as never, { isServer: true, secureContext: context });
    this.tls.on("secure", () => {
      const cipher = this.tls.getCipher();
      const servername = (this.tls as unknown as { servername?: string | false }).servername;
      const ja3 = ja3Of(concatBytes(this.hello));
      this.hello = [];
      this.on.secure({
        version: this.tls.getProtocol() ?? "unknown",
        cipher: cipher?.standardName ?? cipher?.name ?? "unknown",
        ...(typeof servername === "string" && servername ? { serverName: servername } : {}),
        ...(ja3 ? { ja3: ja3.hash, ja3String: ja3.text } : {}),
      });
    });
    this.tls.on("data", (b: Buffer) => {
      if (!this.done) this.on.plaintext(new Uint8Array(b));
    });
    this.tls.on("error", (err: Error) => this.fail(err.message));
    this.tls.on("end", () => {
      if (!this.done) this.on.ended();
    });
  }

  /** Raw bytes from the socket. */
  fromPeer(bytes: Uint8Array): void {
    if (this.done) return;
    if (this.helloBytes < HELLO_KEEP) {
      this.hello.push(bytes.slice(0, HELLO_KEEP - this.helloBytes));
      this.helloBytes += Math.min(bytes.length, HELLO_KEEP - this.helloBytes);
    }
    this.pipe.push(Buffer.from(bytes));
  }

  /** Plaintext from the session. */
  write(bytes: Uint8Array): void {
    if (!this.done) this.tls.write(Buffer.from(bytes));
  }

  /** Sends close_notify after what is queued. */
  end(): void {
    if (!this.done) this.tls.end();
  }

  /** Forgets the connection: nothing more is reported. */
  destroy(): void {
    this.done = true;
    this.tls.destroy();
  }

  private fail(message: string): void {
    if (this.done) return;
    this.done = true;
    // Still holding the hello means the handshake never completed: hand over what came instead.
    const raw = this.hello.length > 0 ? concatBytes(this.hello) : undefined;
    this.hello = [];
    const ja3 = raw ? ja3Of(raw) : undefined;
    this.on.failed(message, raw, ja3 ? { ja3: ja3.hash, ja3String: ja3.text } : undefined);
    this.tls.destroy();
  }
}

// GREASE values (RFC 8701) are left out of JA3, as its definition says.
const isGrease = (v: number) => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);

/**
 * JA3 of a ClientHello: "version,ciphers,extensions,curves,point formats" and its MD5, read from the first
 * handshake record. Parsing only; a malformed hello gives undefined.
 */
export function ja3Of(bytes: Uint8Array): { text: string; hash: string } | undefined {
  try {
    const b = Buffer.from(bytes);
    if (b.length < 9 || b[0] !== 0x16 || b[5] !== 0x01) return undefined;
    const recordEnd = Math.min(b.length, 5 + b.readUInt16BE(3));
    let at = 9;
    const version = b.readUInt16BE(at);
    at += 2 + 32;
    at += 1 + b[at]!;
    const cipherLen = b.readUInt16BE(at);
    at += 2;
    const ciphers: number[] = [];
    for (let i = 0; i < cipherLen; i += 2) ciphers.push(b.readUInt16BE(at + i));
    at += cipherLen;
    at += 1 + b[at]!;
    const extensions: number[] = [];
    let curves: number[] = [];
    let formats: number[] = [];
    if (at + 2 <= recordEnd) {
      const extEnd = Math.min(recordEnd, at + 2 + b.readUInt16BE(at));
      at += 2;
      while (at + 4 <= extEnd) {
        const type = b.readUInt16BE(at);
        const len = b.readUInt16BE(at + 2);
        const body = b.subarray(at + 4, at + 4 + len);
        extensions.push(type);
        if (type === 10 && body.length >= 2) {
          curves = [];
          for (let i = 2; i + 1 < 2 + body.readUInt16BE(0) && i + 1 < body.length; i += 2) curves.push(body.readUInt16BE(i));
        }
        if (type === 11 && body.length >= 1) formats = [...body.subarray(1, 1 + body[0]!)];
        at += 4 + len;
      }
    }
    const list = (xs: number[]) => xs.filter((x) => !isGrease(x)).join("-");
    const text = [version, list(ciphers), list(extensions), list(curves), formats.join("-")].join(",");
    const hash = new Bun.CryptoHasher("md5").update(text).digest("hex");
    return { text, hash };
  } catch {
    return undefined;
  }
}
