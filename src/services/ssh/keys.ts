// Host keys from the host seed, so a host shows the same fingerprints after every restart and another host
// shows others. Only the numbers come from the seed; node:crypto makes the keys and ssh2 parses them:
// RSA through seededRsa (PKCS#1 PEM); ECDSA as SEC1 PEM; Ed25519 in OpenSSH's own private key format, the
// only Ed25519 form ssh2 reads. No DSA: Bun's BoringSSL cannot sign ssh-dss.
import { createECDH, createPrivateKey } from "node:crypto";
import ssh2 from "ssh2";
import { seededRsa, seedStream } from "../../keys/seeded.ts";
import type { ParsedHostKey } from "./ssh2-internals.ts";
import { sshString } from "./wire.ts";

const CURVES = {
  nistp256: { node: "prime256v1", jwk: "P-256", bytes: 32, n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  nistp384: {
    node: "secp384r1",
    jwk: "P-384",
    bytes: 48,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
  nistp521: {
    node: "secp521r1",
    jwk: "P-521",
    bytes: 66,
    n: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
  },
} as const;

export type Curve = keyof typeof CURVES;

/** An Ed25519 key as an unencrypted "openssh-key-v1" file (PROTOCOL.key in OpenSSH's source). */
export function ed25519Pem(seed: string, comment: string): string {
  const next = seedStream(seed, "ssh-host-ed25519");
  const priv = next(32);
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), priv]), format: "der", type: "pkcs8" });
  const pub = Buffer.from(key.export({ format: "jwk" }).x!, "base64url");
  const pubBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
  const check = next(4);
  let section = Buffer.concat([check, check, sshString("ssh-ed25519"), sshString(pub), sshString(Buffer.concat([priv, pub])), sshString(comment)]);
  const pad: number[] = [];
  for (let i = 1; (section.length + pad.length) % 8 !== 0; i++) pad.push(i);
  section = Buffer.concat([section, Buffer.from(pad)]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const blob = Buffer.concat([Buffer.from("openssh-key-v1\0", "latin1"), sshString("none"), sshString("none"), sshString(""), count, sshString(pubBlob), sshString(section)]);
  const lines = blob.toString("base64").match(/.{1,70}/g)!.join("\n");
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

/** An ECDSA key on `curve`: d taken from the seed stream, reduced into [1, n−1]; the point from node:crypto. */
export function ecdsaPem(seed: string, curve: Curve): string {
  const c = CURVES[curve];
  const raw = seedStream(seed, `ssh-host-ecdsa-${curve}`)(c.bytes + 8);
  const d = (BigInt(`0x${raw.toString("hex")}`) % (c.n - 1n)) + 1n;
  const dBuf = Buffer.from(d.toString(16).padStart(c.bytes * 2, "0"), "hex");
  const ecdh = createECDH(c.node);
  ecdh.setPrivateKey(dBuf);
  const point = ecdh.getPublicKey();
  const coord = (point.length - 1) / 2;
  const jwk = {
    kty: "EC",
    crv: c.jwk,
    d: dBuf.toString("base64url"),
    x: point.subarray(1, 1 + coord).toString("base64url"),
    y: point.subarray(1 + coord).toString("base64url"),
  };
  return createPrivateKey({ key: jwk, format: "jwk" }).export({ type: "sec1", format: "pem" }).toString();
}

export interface HostKeySet {
  /** Parsed keys by the algorithm names a client may negotiate (RSA under ssh-rsa and rsa-sha2-*). */
  byAlgorithm: Record<string, ParsedHostKey>;
}

function parse(pem: string): ParsedHostKey {
  const k = ssh2.utils.parseKey(pem);
  if (k instanceof Error) throw k;
  return (Array.isArray(k) ? k[0] : k) as unknown as ParsedHostKey;
}

/** The keys behind a face's host key algorithm list. ssh-dss has none (see the file comment). */
export function hostKeysFor(seed: string, algorithms: string[], rsaBits: number, curve: Curve, comment: string): HostKeySet {
  const byAlgorithm: Record<string, ParsedHostKey> = {};
  let rsa: ParsedHostKey | undefined;
  for (const name of algorithms) {
    if (name === "ssh-rsa" || name === "rsa-sha2-256" || name === "rsa-sha2-512") {
      rsa ??= parse(seededRsa(seed, "ssh-host-rsa", rsaBits).privatePem);
      byAlgorithm[name] = rsa;
    } else if (name === `ecdsa-sha2-${curve}`) byAlgorithm[name] = parse(ecdsaPem(seed, curve));
    else if (name === "ssh-ed25519") byAlgorithm[name] = parse(ed25519Pem(seed, comment));
  }
  return { byAlgorithm };
}
