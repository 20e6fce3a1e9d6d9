// Per-host TLS certificates, as the product's package or its admin's first click made them: the same after
// every restart (key, serial and dates come from the host seed), different on every host, and dated at
// install, long before today. node-forge writes and signs the X.509; the key is the seed-derived RSA key.
import forge from "node-forge";
import { installTime, hostUnit, type HostFacts } from "../host/facts.ts";
import { seededRsa, seedStream } from "../keys/seeded.ts";
import type { TlsProfile } from "../types.ts";

export interface HostCertificate {
  keyPem: string;
  certPem: string;
  /** DER, for fingerprints and tests. */
  der: Uint8Array;
}

const DAY = 86_400_000;

interface Shape {
  subject: forge.pki.CertificateField[];
  days: number;
  serialHex: string;
  extensions: object[];
  /** Days after the OS install when the certificate was made. */
  madeAfterDays: number;
}

function shapeOf(profile: TlsProfile, host: HostFacts, serial: (n: number) => Buffer): Shape {
  const fqdn = host.fqdn.length <= 64 ? host.fqdn : host.hostname;
  switch (profile.certificate) {
    case "debian-snakeoil": {
      // make-ssl-cert at ssl-cert's install: CN = `hostname -f` (the short name when that is over 64
      // characters, the FQDN then going to a SAN), 10 years, a 20-byte positive serial. From ssl-cert
      // 1.0.39 the CN is always repeated in a SAN.
      const san = profile.subjectAltName !== false ? fqdn : fqdn !== host.fqdn ? host.fqdn : undefined;
      return {
        subject: [{ name: "commonName", value: fqdn }],
        days: 3650,
        serialHex: positive(serial(20)),
        extensions: [
          { name: "basicConstraints", cA: false },
          ...(san !== undefined ? [{ name: "subjectAltName", altNames: [{ type: 2, value: san }] }] : []),
          { name: "subjectKeyIdentifier" },
        ],
        madeAfterDays: 0,
      };
    }
    case "rhel-localhost": {
      // mod_ssl's %post: `openssl req -set_serial $RANDOM -days 365` with the SomeState answers.
      const name = fqdn || "localhost.localdomain";
      return {
        subject: [
          { shortName: "C", value: "--" },
          { shortName: "ST", value: "SomeState" },
          { shortName: "L", value: "SomeCity" },
          { shortName: "O", value: "SomeOrganization" },
          { shortName: "OU", value: "SomeOrganizationalUnit" },
          { shortName: "CN", value: name },
          { name: "emailAddress", value: `root@${name}` },
        ],
        days: 365,
        serialHex: (serial(2).readUInt16BE(0) & 0x7fff).toString(16).padStart(4, "0"),
        extensions: [{ name: "subjectKeyIdentifier" }, { name: "authorityKeyIdentifier", keyIdentifier: true }, { name: "basicConstraints", cA: true }],
        madeAfterDays: Math.floor(hostUnit(host, "tls-made", "rhel") * 30),
      };
    }
    case "iis-self-signed":
      // IIS Manager's "Create Self-Signed Certificate": CN = the computer's name, one year, server auth.
      return {
        subject: [{ name: "commonName", value: host.fqdn }],
        days: 365,
        serialHex: positive(serial(16)),
        extensions: [
          { name: "keyUsage", keyEncipherment: true, dataEncipherment: true },
          { name: "extKeyUsage", serverAuth: true },
        ],
        madeAfterDays: Math.floor(hostUnit(host, "tls-made", "iis") * 60),
      };
    case "openssl-req-default":
      // `openssl req -x509 -days 365` with Enter at every prompt but the common name.
      return {
        subject: [
          { shortName: "C", value: "AU" },
          { shortName: "ST", value: "Some-State" },
          { shortName: "O", value: "Internet Widgits Pty Ltd" },
          { shortName: "CN", value: fqdn },
        ],
        days: 365,
        serialHex: positive(serial(9)),
        extensions: [{ name: "subjectKeyIdentifier" }, { name: "authorityKeyIdentifier", keyIdentifier: true }, { name: "basicConstraints", cA: true }],
        madeAfterDays: Math.floor(hostUnit(host, "tls-made", "openssl") * 90),
      };
  }
}

/** Serial bytes as OpenSSL prints them: positive (top bit clear), no leading zero byte. */
function positive(bytes: Buffer): string {
  const b = Buffer.from(bytes);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString("hex");
}

const cache = new Map<string, HostCertificate>();

/** The host's certificate for a face's TLS profile. Same host and profile, same bytes. */
export function hostCertificate(profile: TlsProfile, host: HostFacts): HostCertificate {
  const cacheKey = `${host.seed}\u0000${host.release}\u0000${host.fqdn}\u0000${profile.certificate}\u0000${profile.keyBits}\u0000${profile.digest}\u0000${profile.subjectAltName}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const label = `tls:${profile.certificate}`;
  const rsa = seededRsa(host.seed, label, profile.keyBits);
  const shape = shapeOf(profile, host, seedStream(host.seed, `${label}:serial`));
  const privateKey = forge.pki.privateKeyFromPem(rsa.privatePem) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(privateKey.n, privateKey.e);
  cert.serialNumber = shape.serialHex;
  // Made at a minute of the install day (or some days later), as a package script or an admin would.
  const made = installTime(host).getTime() + shape.madeAfterDays * DAY + Math.floor(hostUnit(host, "tls-minute", profile.certificate) * DAY);
  cert.validity.notBefore = new Date(Math.floor(made / 1000) * 1000);
  cert.validity.notAfter = new Date(cert.validity.notBefore.getTime() + shape.days * DAY);
  cert.setSubject(shape.subject);
  cert.setIssuer(shape.subject);
  cert.setExtensions(shape.extensions);
  cert.sign(privateKey, profile.digest === "sha1" ? forge.md.sha1.create() : forge.md.sha256.create());
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
  const minted: HostCertificate = { keyPem: rsa.privatePem, certPem: forge.pki.certificateToPem(cert), der: new Uint8Array(Buffer.from(der, "binary")) };
  cache.set(cacheKey, minted);
  return minted;
}
