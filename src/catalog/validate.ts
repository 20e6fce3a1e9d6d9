// The tables are data, and data can be wrong: every entry is parsed once, at start-up, against the entry
// shape and its service's template schema. An unknown, missing or mistyped key fails with one line that
// names the file, the entry and the key.
import type { Field } from "../services/schema.ts";
import { findRelease } from "../host/releases.ts";
import { SchemaError, optional, schema, t } from "../services/schema.ts";
import { OS_FAMILIES, type CatalogEntry, type ServiceModule, type TlsProfile } from "../types.ts";

const ports: Field<number[]> = {
  kind: "list of ports",
  doc: "the product's usual ports",
  optional: false,
  parse(v, p) {
    if (!Array.isArray(v) || v.length === 0) throw new SchemaError(p, "expected a non-empty list of ports");
    return v.map((x, i) => t.int("port", 1, 65535).parse(x, `${p}[${i}]`));
  },
};

const positive: Field<number> = {
  kind: "number above 0",
  doc: "relative chance of being drawn",
  optional: false,
  parse(v, p) {
    if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) throw new SchemaError(p, `expected a number above 0, got ${JSON.stringify(v)}`);
    return v;
  },
};

export interface ScriptClaim {
  product?: string;
  version?: string;
  info?: string;
  ostype?: string;
}

const scriptClaim = schema({
  product: optional(t.text("product")),
  version: optional(t.text("version")),
  info: optional(t.text("extra info")),
  ostype: optional(t.text("OS type")),
});

const TLS_VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const;

const tlsProfile = schema({
  mode: t.oneOf("TLS from the first byte, or started by the session (AUTH TLS)", ["first-byte", "starttls"] as const),
  certificate: t.oneOf("the default certificate the product ships with", ["debian-snakeoil", "rhel-localhost", "iis-self-signed", "openssl-req-default"] as const),
  keyBits: t.int("RSA key size of that certificate", 1024, 4096),
  digest: t.oneOf("signature digest", ["sha1", "sha256"] as const),
  subjectAltName: optional(t.bool("snakeoil: the name also in a subjectAltName (ssl-cert 1.0.39 on, Debian 9 and later); default true")),
  minVersion: t.oneOf("oldest protocol accepted", ["TLSv1", "TLSv1.1", "TLSv1.2"] as const),
  maxVersion: t.oneOf("newest protocol accepted", TLS_VERSIONS),
  ciphers: optional(t.text("OpenSSL cipher string")),
});

/** Everything of an entry but its templates (which its service's schema parses). */
const entryShape = schema({
  id: t.text("unique id, lowercase", /^[a-z0-9][a-z0-9._-]*$/, "lowercase [a-z0-9._-]"),
  product: t.text("nmap's product (p/), exactly; \"\" when nmap's line names none (rsync's only line gives the protocol alone)"),
  version: t.text("nmap's version (v/), exactly; \"\" when nmap shows none"),
  info: optional(t.text("nmap's extra info (i/)")),
  ostype: optional(t.text("nmap's OS type (o/)")),
  os: t.oneOf("OS family", OS_FAMILIES),
  releases: t.list("the OS releases that shipped this face (fixtures/releases.json)"),
  cpe: t.list("nmap's CPEs"),
  ports,
  weight: positive,
  notes: optional(t.text("why this version tempts an attacker")),
  tls: optional({
    kind: "TLS profile",
    doc: "how the face speaks TLS: mode, certificate, keyBits, digest, minVersion, maxVersion, ciphers",
    optional: true,
    parse: (v, p) => {
      const profile = tlsProfile.parse(v, `${p}.`);
      if (profile.subjectAltName === undefined) delete (profile as { subjectAltName?: boolean }).subjectAltName;
      return profile as TlsProfile;
    },
  } as Field<TlsProfile>),
  otherPortClaim: optional({
    kind: "claim",
    doc: "what nmap -sV reports on a port outside ports (the product's version probe is sent only on its usual port: redis, memcached)",
    optional: true,
    parse: (v, p) => Object.fromEntries(Object.entries(scriptClaim.parse(v, p)).filter(([, x]) => x !== undefined)),
  } as Field<ScriptClaim>),
  scriptClaims: optional({
    kind: "object of port → claim",
    doc: "what nmap reports instead on a port once its default scripts (-sC) have run on the whole host, e.g. smb-os-discovery's version on 445",
    optional: true,
    parse(v, p) {
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SchemaError(p, "expected an object of port → { product, version, info, ostype }");
      const out: Record<string, ScriptClaim> = {};
      for (const [port, claim] of Object.entries(v)) {
        if (!/^\d{1,5}$/.test(port)) throw new SchemaError(`${p}.${port}`, "expected a port number as the key");
        // Only the fields the claim states: an absent one keeps the entry's own.
        out[port] = Object.fromEntries(Object.entries(scriptClaim.parse(claim, `${p}.${port}`)).filter(([, x]) => x !== undefined));
      }
      return out;
    },
  } as Field<Record<string, ScriptClaim>>),
  templates: { kind: "object", doc: "the service's templates", optional: false, parse: (v) => v },
});

export function validateTable<T>(raw: unknown, module: ServiceModule<T>): CatalogEntry<T>[] {
  const where = `fixtures/services/${module.name}.json`;
  if (typeof raw !== "object" || raw === null) throw new SchemaError(where, "not an object");
  const table = raw as Record<string, unknown>;
  for (const key of Object.keys(table))
    if (key !== "service" && key !== "entries") throw new SchemaError(`${where}: ${key}`, "unknown key (a table has service and entries)");
  if (table.service !== module.name) throw new SchemaError(`${where}: service`, `must be "${module.name}"`);
  if (!Array.isArray(table.entries) || table.entries.length === 0) throw new SchemaError(`${where}: entries`, "expected a non-empty list");
  const seen = new Set<string>();
  return table.entries.map((rawEntry: unknown, i: number): CatalogEntry<T> => {
    const id = (rawEntry as { id?: unknown } | null)?.id;
    const at = `${where}: entry ${typeof id === "string" ? id : `#${i + 1}`}`;
    const e = entryShape.parse(rawEntry, `${at}:`);
    if (seen.has(e.id)) throw new SchemaError(`${at}: id`, "duplicate id");
    if (e.releases.length === 0) throw new SchemaError(`${at}: releases`, "expected at least one release");
    for (const [i, id] of e.releases.entries()) {
      const release = findRelease(id);
      if (!release) throw new SchemaError(`${at}: releases[${i}]`, `unknown release "${id}" (see fixtures/releases.json)`);
      // A face runs on one kind of OS: a Windows face never names a Unix release, nor the reverse.
      if ((release.family === "windows") !== (e.os === "windows"))
        throw new SchemaError(`${at}: releases[${i}]`, `"${id}" is a ${release.family} release, but the entry's os is ${e.os}`);
    }
    if (e.tls === undefined) delete (e as { tls?: unknown }).tls;
    else if (TLS_VERSIONS.indexOf(e.tls.minVersion) > TLS_VERSIONS.indexOf(e.tls.maxVersion))
      throw new SchemaError(`${at}: tls.maxVersion`, `${e.tls.maxVersion} is older than minVersion ${e.tls.minVersion}`);
    seen.add(e.id);
    const templates = module.templates.parse(e.templates, `${at}: templates`);
    return { ...e, service: module.name, templates } as CatalogEntry<T>;
  });
}
