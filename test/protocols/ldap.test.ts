// The ldap face over real TCP on 127.0.0.1: requests built here byte by byte (BER as RFC 4511 lays it
// out), answers compared with what Debian 12's slapd 2.5.13 sent to the same bytes (measured; see
// docs/research/ldap-rsync-sip.md), and the logged logins.
import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { findEntry } from "../../src/catalog/index.ts";
import { hostFacts } from "../../src/host/facts.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";

// ---- a tiny BER encoder of the test's own ----
function len(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}
const T = (tag: number, v: number[]): number[] => [tag, ...len(v.length), ...v];
const S = (s: string, tag = 0x04): number[] => T(tag, [...Buffer.from(s, "utf8")]);
const I = (n: number, tag = 0x02): number[] => T(tag, [n & 0xff]);
const msg = (id: number, op: number[]): Uint8Array => Uint8Array.from(T(0x30, [...I(id), ...op]));
const bind = (version: number, dn: string, pw: string) => T(0x60, [...I(version), ...S(dn), ...S(pw, 0x80)]);
const saslBind = (mech: string, creds?: string) => T(0x60, [...I(3), ...S(""), ...T(0xa3, [...S(mech), ...(creds !== undefined ? S(creds) : [])])]);
const present = (attr: string) => T(0x87, [...Buffer.from(attr)]);
function search(base: string, scope: number, filter: number[], attrs: string[] = []): number[] {
  return T(0x63, [...S(base), ...I(scope, 0x0a), ...I(0, 0x0a), ...I(0), ...I(0), ...T(0x01, [0]), ...filter, ...T(0x30, attrs.flatMap((a) => S(a)))]);
}

const latin1 = (b: Uint8Array | number[]) => Buffer.from(b).toString("latin1");

function entry(id: string): CatalogEntry {
  const e = findEntry(id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

async function exchange(e: CatalogEntry, request: Uint8Array, until: (s: string) => boolean) {
  const { trap, sink } = startTestTrap(e);
  try {
    const c = await connect(trap.port);
    c.send(request);
    const text = await c.waitFor(until, 5000);
    c.end();
    return { text, sink, closed: c.isClosed() };
  } finally {
    trap.stop();
  }
}

describe("ldap face (OpenLDAP 2.5.13, Debian 12)", () => {
  const e = entry("openldap-2.5.13-debian12");
  // startTestTrap's host: seed "test-host", the entry's family.
  const host = hostFacts({ seed: "test-host", family: e.os });
  const baseDn = host.domain
    .split(".")
    .map((d) => `dc=${d}`)
    .join(",");

  test("nmap's LDAPv2 bind gets slapd's refusal, byte for byte as measured", async () => {
    const r = await exchange(e, Uint8Array.from([0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x02, 0x04, 0x00, 0x80, 0x00]), (s) => s.includes("LDAPv3 instead"));
    expect(r.text).toBe("0E\x02\x01\x01a@\n\x01\x02\x04\x00\x049historical protocol version requested, use LDAPv3 instead");
  });

  test("the root DSE: objectClass alone by default, the operational attributes on '+', the naming context from the host's domain", async () => {
    const plain = await exchange(e, msg(2, search("", 0, present("objectClass"))), (s) => s.includes("e\x07\n\x01\x00"));
    expect(plain.text).toBe("00\x02\x01\x02d+\x04\x000'0%\x04\x0bobjectClass1\x16\x04\x03top\x04\x0fOpenLDAProotDSE0\x0c\x02\x01\x02e\x07\n\x01\x00\x04\x00\x04\x00");
    const ops = await exchange(e, msg(3, search("", 0, present("objectClass"), ["+"])), (s) => s.includes("e\x07\n\x01\x00"));
    expect(ops.text).toContain(`\x04\x0enamingContexts1${latin1(len(baseDn.length + 2))}\x04${latin1(len(baseDn.length))}${baseDn}`);
    expect(ops.text).toContain("\x04\x14supportedLDAPVersion1\x03\x04\x013");
    expect(ops.text).toContain("\x04\rSCRAM-SHA-512");
    expect(ops.text).not.toContain("objectClass1"); // user attributes are not operational
    // slapd 2.5 writes minimal lengths: a 2-byte long form for this ~830-byte entry
    expect(ops.text.startsWith("0\x82")).toBe(true);
  });

  test("a simple bind with a password is refused with invalidCredentials (49) and logged with DN and password", async () => {
    const r = await exchange(e, msg(1, bind(3, `cn=admin,${baseDn}`, "s3cret!")), (s) => s.length >= 14);
    expect(r.text).toBe("0\x0c\x02\x01\x01a\x07\n\x011\x04\x00\x04\x00");
    const logins = r.sink.of("login");
    expect(logins).toHaveLength(1);
    expect(logins[0]!.user).toBe(`cn=admin,${baseDn}`);
    expect(logins[0]!.password).toBe("s3cret!");
    expect(logins[0]!.method).toBe("ldap-simple");
  });

  test("anonymous bind succeeds; a DN without password is unwillingToPerform (53)", async () => {
    const anon = await exchange(e, msg(1, bind(3, "", "")), (s) => s.length >= 14);
    expect(anon.text).toBe("0\x0c\x02\x01\x01a\x07\n\x01\x00\x04\x00\x04\x00");
    const dnOnly = await exchange(e, msg(1, bind(3, `cn=admin,${baseDn}`, "")), (s) => s.includes("disallowed"));
    expect(dnOnly.text).toBe("0A\x02\x01\x01a<\n\x015\x04\x00\x045unauthenticated bind (DN with no password) disallowed");
    expect(dnOnly.sink.of("login")).toHaveLength(0);
  });

  test("anonymous searches: the suffix entry is readable, a missing base is noSuchObject with the suffix as matchedDN", async () => {
    const base = await exchange(e, msg(3, search(baseDn, 2, present("objectClass"))), (s) => s.includes("e\x07\n\x01\x00"));
    expect(base.text).toContain(`d${latin1(len(base.text.length - 16))}`.slice(0, 1)); // a SearchResultEntry (tag d)
    expect(base.text).toContain(`\x04${latin1(len(baseDn.length))}${baseDn}0`);
    expect(base.text).toContain("\x04\x0corganization");
    expect(base.text).toContain(`\x04\x01o1`);
    const missing = await exchange(e, msg(3, search(`ou=people,${baseDn}`, 2, present("objectClass"))), (s) => s.includes("e"));
    expect(missing.text).toBe(`0${latin1(len(baseDn.length + 12))}\x02\x01\x03e${latin1(len(baseDn.length + 7))}\n\x01 \x04${latin1(len(baseDn.length))}${baseDn}\x04\x00`);
    const mod = await exchange(e, msg(4, S(baseDn, 0x4a)), (s) => s.includes("authentication"));
    expect(mod.text).toBe("00\x02\x01\x04k+\n\x01\x08\x04\x00\x04$modifications require authentication");
  });

  test("CRAM-MD5: the challenge names the host, the answer is logged as a hashcat line that verifies", async () => {
    const { trap, sink } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      c.send(msg(1, saslBind("CRAM-MD5")));
      // The challenge ends the message; a BER length byte before it may itself read as "<" or ">".
      const first = await c.waitFor((s) => s.endsWith(">"), 5000);
      const challenge = first.slice(first.lastIndexOf("<"));
      expect(challenge).toMatch(new RegExp(`^<\\d+\\.\\d+@${host.hostname.toLowerCase()}>$`));
      const digest = createHmac("md5", "pw1").update(challenge).digest("hex");
      c.send(msg(2, saslBind("CRAM-MD5", `bob ${digest}`)));
      const second = await c.waitFor((s) => s.includes("no secret in database"), 5000);
      expect(second.slice(first.length)).toBe("0<\x02\x01\x02a7\n\x011\x04\x00\x040SASL(-13): user not found: no secret in database");
      c.end();
    } finally {
      trap.stop();
    }
    const login = sink.of("login")[0]!;
    expect(login.user).toBe("bob");
    const m = /^\$cram_md5\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(login.hash!.value)!;
    const ch = Buffer.from(m[1]!, "base64").toString();
    const [user, mac] = Buffer.from(m[2]!, "base64").toString().split(" ");
    expect(user).toBe("bob");
    expect(mac).toBe(createHmac("md5", "pw1").update(ch).digest("hex"));
    expect(login.hash!.hashcatMode).toBe(10200);
  });

  test("malformed input: an unknown operation gets a Notice of Disconnection and a close; a broken envelope a silent close", async () => {
    const unknown = await exchange(e, msg(4, T(0x6f, [])), (s) => s.includes("20036"));
    expect(unknown.text).toBe("08\x02\x01\x00x3\n\x01\x02\x04\x00\x04\x14unknown LDAP request\x8a\x161.3.6.1.4.1.1466.20036");
    expect(unknown.sink.of("error")[0]!.message).toBe("unknown LDAP request");
    const { trap, sink } = startTestTrap(e);
    try {
      const c = await connect(trap.port);
      c.send(Uint8Array.from([0x31, 0x03, 0x02, 0x01, 0x01]));
      await c.closed;
      expect(c.received().length).toBe(0);
    } finally {
      trap.stop();
    }
    expect(sink.of("error")[0]!.message).toBe("malformed LDAP message");
  });
});

describe("ldap face (OpenLDAP 2.4, long-form lengths)", () => {
  test("nmap's LDAPv2 bind gets 2.4's answer with four-byte lengths (nmap's 2.4.X line)", async () => {
    const r = await exchange(entry("openldap-2.4.31-debian7"), Uint8Array.from([0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x02, 0x04, 0x00, 0x80, 0x00]), (s) => s.includes("LDAPv3 instead"));
    expect(r.text).toBe("0\x84\x00\x00\x00I\x02\x01\x01a\x84\x00\x00\x00@\n\x01\x02\x04\x00\x049historical protocol version requested, use LDAPv3 instead");
  });
});
