// Per-host certificates as real faces ship them, read back by openssl: stable for one host across
// processes, different for another host, dated at install (before the last boot, never today), and
// shaped per product (Debian snakeoil, RHEL mod_ssl localhost.crt, IIS self-signed).
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { findEntry } from "../src/catalog/index.ts";
import { bootTime, hostFacts } from "../src/host/facts.ts";
import { hostCertificate } from "../src/tls/certs.ts";
import type { TlsProfile } from "../src/types.ts";
import { BUN, startProcess, tempDir, type Running } from "./helpers.ts";

const OPENSSL = Bun.which("openssl");
const running: Running[] = [];
afterAll(async () => {
  for (const r of running) await r.stop();
});

function openssl(args: string[], input?: string): string {
  const r = Bun.spawnSync([OPENSSL!, ...args], { stdin: input === undefined ? "ignore" : Buffer.from(input), stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString();
}

/** The certificate a running trap presents, as PEM (s_client at security level 0: the faces are old). */
function presented(port: number): string {
  const out = openssl(["s_client", "-connect", `127.0.0.1:${port}`, "-cipher", "DEFAULT@SECLEVEL=0"], "");
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out);
  if (!m) throw new Error(`no certificate from port ${port}: ${out.slice(0, 400)}`);
  return m[0] + "\n";
}

/** What openssl x509 says of a certificate: subject, issuer, dates, serial, extensions, key and digest. */
function parsed(pem: string) {
  const text = openssl(["x509", "-noout", "-text", "-nameopt", "RFC2253"], pem);
  const field = (re: RegExp) => re.exec(text)?.[1]?.trim() ?? "";
  return {
    text,
    subject: field(/Subject: (.*)/),
    issuer: field(/Issuer: (.*)/),
    notBefore: new Date(field(/Not Before: (.*)/)),
    notAfter: new Date(field(/Not After : (.*)/)),
    serial: openssl(["x509", "-noout", "-serial"], pem).trim().replace(/^serial=/, ""),
    modulus: openssl(["x509", "-noout", "-modulus"], pem).trim(),
    bits: Number(field(/Public-Key: \((\d+) bit\)/)),
    digest: field(/Signature Algorithm: (\S+)/),
    san: field(/X509v3 Subject Alternative Name:\s*\n\s*(.*)/),
  };
}

const pemOf = (der: Uint8Array) => `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END CERTIFICATE-----\n`;
const DAY = 86_400_000;

describe.if(OPENSSL !== null)("per-host TLS certificates", () => {
  test("two trap processes of one host present byte-identical certificates; another host another key and serial", async () => {
    const start = async (seed: string) => {
      const r = await startProcess([BUN, "src/cli.ts", "https", "0", "--host", "127.0.0.1", "--banner", "apache-2.4.10-debian-ssl", "--seed", seed], { timeoutMs: 30_000 });
      running.push(r);
      return r;
    };
    const [a, b, other] = await Promise.all([start("tls-test-host"), start("tls-test-host"), start("tls-test-other")]);
    const certA = presented(a.port);
    expect(presented(b.port)).toBe(certA);
    const pa = parsed(certA);
    const po = parsed(presented(other.port));
    expect(po.modulus).not.toBe(pa.modulus);
    expect(po.serial).not.toBe(pa.serial);
    expect(pa.bits).toBe(2048);
  }, 60_000);

  test("two fresh loads of the code mint the same bytes", () => {
    const code = `import { hostFacts } from "./src/host/facts.ts"; import { hostCertificate } from "./src/tls/certs.ts";
      const h = hostFacts({ seed: "fresh-load", family: "rhel", release: "rhel-6" });
      process.stdout.write(Buffer.from(hostCertificate({ mode: "first-byte", certificate: "rhel-localhost", keyBits: 1024, digest: "sha1", minVersion: "TLSv1", maxVersion: "TLSv1.2" }, h).der).toString("hex"));`;
    const file = join(tempDir("micetrap-tls-"), "mint.ts");
    writeFileSync(file, code.replaceAll("./src/", `${join(import.meta.dir, "..", "src")}/`));
    const run = () => Bun.spawnSync([BUN, file], { stdout: "pipe", stderr: "pipe" }).stdout.toString();
    const first = run();
    expect(first.length).toBeGreaterThan(500);
    expect(run()).toBe(first);
  }, 60_000);

  const now = new Date();
  const cases: { id: string; check: (c: ReturnType<typeof parsed>, fqdn: string) => void }[] = [
    {
      // make-ssl-cert of ssl-cert 1.0.35 (jessie): CN = hostname -f, no SAN (1.0.39 added it), ten years,
      // sha256 (from 1.0.34), a long random serial.
      id: "apache-2.4.10-debian-ssl",
      check: (c, fqdn) => {
        expect(c.subject).toBe(`CN=${fqdn}`);
        expect(c.issuer).toBe(c.subject);
        expect(c.san).toBe("");
        expect(c.notAfter.getTime() - c.notBefore.getTime()).toBe(3650 * DAY);
        expect(c.digest).toBe("sha256WithRSAEncryption");
        expect(c.text).toContain("CA:FALSE");
        expect(c.serial.length).toBeGreaterThanOrEqual(38);
      },
    },
    {
      // ssl-cert 1.0.39 on (Debian 9 and later): the CN repeated in a SAN, as vsftpd's ssl_enable uses it.
      id: "vsftpd-3.0.3-debian-ssl",
      check: (c, fqdn) => {
        expect(c.subject).toBe(`CN=${fqdn}`);
        expect(c.san).toBe(`DNS:${fqdn}`);
        expect(c.notAfter.getTime() - c.notBefore.getTime()).toBe(3650 * DAY);
        expect(c.digest).toBe("sha256WithRSAEncryption");
      },
    },
    {
      // ssl-cert 1.0.32 (wheezy): sha1, no SAN.
      id: "apache-2.2.22-debian-ssl",
      check: (c, fqdn) => {
        expect(c.subject).toBe(`CN=${fqdn}`);
        expect(c.san).toBe("");
        expect(c.digest).toBe("sha1WithRSAEncryption");
      },
    },
    {
      // mod_ssl's %post: the SomeState answers, root@ the host, 365 days, serial $RANDOM.
      id: "apache-2.2.15-centos-ssl",
      check: (c, fqdn) => {
        expect(c.subject).toBe(`emailAddress=root@${fqdn},CN=${fqdn},OU=SomeOrganizationalUnit,O=SomeOrganization,L=SomeCity,ST=SomeState,C=--`);
        expect(c.issuer).toBe(c.subject);
        expect(c.notAfter.getTime() - c.notBefore.getTime()).toBe(365 * DAY);
        expect(Number.parseInt(c.serial, 16)).toBeLessThanOrEqual(32767);
        expect(c.digest).toBe("sha1WithRSAEncryption");
      },
    },
    {
      // IIS Manager's self-signed: CN = the computer's name, one year, server authentication, no SAN.
      id: "iis-7.5-windows-ssl",
      check: (c, fqdn) => {
        expect(c.subject).toBe(`CN=${fqdn}`);
        expect(c.issuer).toBe(c.subject);
        expect(c.san).toBe("");
        expect(c.notAfter.getTime() - c.notBefore.getTime()).toBe(365 * DAY);
        expect(c.text).toContain("TLS Web Server Authentication");
      },
    },
  ];
  for (const { id, check } of cases) {
    test(`${id}: the product's default certificate, dated at install`, () => {
      const entry = findEntry(id)!;
      for (const seed of ["shape-1", "shape-2", "shape-3"]) {
        const host = hostFacts({ seed, family: entry.os, release: entry.releases[0]! });
        const c = parsed(pemOf(hostCertificate(entry.tls as TlsProfile, host).der));
        check(c, host.fqdn);
        expect(c.bits).toBe(entry.tls!.keyBits);
        // Made long before the host's last boot, and never today.
        expect(c.notBefore.getTime()).toBeLessThan(bootTime(host, now).getTime());
        expect(now.getTime() - c.notBefore.getTime()).toBeGreaterThan(DAY);
      }
    });
  }

  test("a small RHEL serial is DER's minimal integer (openssl reads it back)", () => {
    // $RANDOM can be below 128; such a serial is one byte in DER, never 00 followed by a byte under 80.
    const profile: TlsProfile = { mode: "first-byte", certificate: "rhel-localhost", keyBits: 1024, digest: "sha1", minVersion: "TLSv1", maxVersion: "TLSv1.2" };
    for (let i = 0; i < 5000; i++) {
      const der = hostCertificate(profile, hostFacts({ seed: `small-serial-${i}`, family: "rhel", release: "rhel-6" })).der;
      // 30 82 LL LL 30 82 LL LL a0 03 02 01 02, then the serial: 02 LEN bytes.
      expect([der[8], der[13]]).toEqual([0xa0, 0x02]);
      const bytes = der.subarray(15, 15 + der[14]!);
      const value = bytes.reduce((n, b) => n * 256 + b, 0);
      if (bytes.length > 1) expect(bytes[0] === 0 && bytes[1]! < 0x80).toBe(false);
      if (value >= 0x80) continue;
      expect(bytes.length).toBe(1);
      expect(Number.parseInt(parsed(pemOf(der)).serial, 16)).toBe(value);
      return;
    }
    throw new Error("no host with a serial under 128 in 5000 seeds");
  }, 120_000);
});
