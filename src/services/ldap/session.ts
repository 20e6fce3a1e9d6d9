// LDAPv3 up to a refused bind: the root DSE to anyone, simple binds logged with their DN and password and
// refused with invalidCredentials (49), anonymous searches answered as the product's default access rules
// answer them (OpenLDAP on Debian: anyone reads the suffix entry; Active Directory: nothing but the root
// DSE before a bind). Template keys are in templates.ts.
//
// Framing and endings, as slapd 2.5.13 does them (measured on Debian 12):
// - a request is read whole (tag, length, content) before its tag is looked at; a first tag other than
//   SEQUENCE, an indefinite length, or a message id that does not decode ends the connection without a word;
// - an operation whose body does not decode gets a Notice of Disconnection ("decoding error"), an unknown
//   operation one too ("unknown LDAP request"), then the close;
// - an unbind closes; an abandon is silent; nothing else ends a connection (slapd has no idle timeout by
//   default, AD drops an idle one after MaxConnIdleTime).
import type { CapturedHash, ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { adNames } from "../../host/ad.ts";
import { hostTime } from "../../host/facts.ts";
import { fill } from "../../util/template.ts";
import { concatBytes } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { drawMs } from "../schema.ts";
import { bytesOf, children, int, octets, readHeader, readInt, readTlv, seq, type LengthForm, type Tlv } from "./ber.ts";
import type { LdapTemplates } from "./templates.ts";

/** Largest request a session holds (slapd's anonymous sockbuf_max_incoming) plus a header. */
export const LDAP_MAX_BUFFERED = 262143 + 6;
/** Filters nest at most this deep here (a deeper one is a decoding error). */
const MAX_FILTER_DEPTH = 32;
/** A DN or password as logged. */
const LOG_MAX = 1024;
const NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036";
const START_TLS = "1.3.6.1.4.1.1466.20037";
const WHO_AM_I = "1.3.6.1.4.1.4203.1.11.3";

const APP = {
  bind: 0x60,
  unbind: 0x42,
  search: 0x63,
  modify: 0x66,
  add: 0x68,
  del: 0x4a,
  modDn: 0x6c,
  compare: 0x6e,
  abandon: 0x50,
  extended: 0x77,
} as const;
const RESPONSE_OF: Record<number, number> = { [APP.modify]: 0x67, [APP.add]: 0x69, [APP.del]: 0x6b, [APP.modDn]: 0x6d };

interface Result {
  code: number;
  text: string;
}

function parseResult(s: string): Result {
  const i = s.indexOf(":");
  return { code: Number.parseInt(s.slice(0, i), 10), text: s.slice(i + 1) };
}

/** An entry: its DN and attributes in order (names as written, values as text). */
interface Entry {
  dn: string;
  attrs: { name: string; values: string[] }[];
}

function parseLines(lines: string[], dn: string | undefined, vars: Record<string, string>): Entry[] {
  const out: Entry[] = [];
  let cur: Entry | undefined = dn !== undefined ? { dn, attrs: [] } : undefined;
  for (const raw of lines) {
    const line = fill(raw, vars);
    const i = line.indexOf(":");
    const name = line.slice(0, i).trim();
    const value = line.slice(i + 1).replace(/^ /, "");
    if (name.toLowerCase() === "dn") {
      if (cur && cur.attrs.length > 0) out.push(cur);
      cur = { dn: value, attrs: [] };
      continue;
    }
    if (!cur) continue;
    const a = cur.attrs.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (a) a.values.push(value);
    else cur.attrs.push({ name, values: [value] });
  }
  if (cur && cur.attrs.length > 0) out.push(cur);
  return out;
}

/** The DN normalised for comparison: RDNs trimmed, attribute names and values folded to lower case. */
function normDn(dn: string): string {
  return dn
    .split(",")
    .map((rdn) => rdn.trim().toLowerCase().replace(/\s*=\s*/, "="))
    .filter((r) => r.length > 0)
    .join(",");
}

/** Whether a DN parses as a string of RDNs (attr=value, comma-separated); the empty DN does. */
function validDn(dn: string): boolean {
  if (dn.trim() === "") return true;
  return dn.split(",").every((rdn) => /^\s*([A-Za-z][A-Za-z0-9-]*|\d+(\.\d+)+)\s*=/.test(rdn));
}

/** A search filter, decoded. */
type Filter =
  | { k: "and" | "or"; subs: Filter[] }
  | { k: "not"; sub: Filter }
  | { k: "eq" | "ge" | "le" | "approx"; attr: string; value: string }
  | { k: "present"; attr: string }
  | { k: "substr"; attr: string; initial?: string; any: string[]; final?: string }
  | { k: "ext" };

const dec = new TextDecoder("utf-8", { fatal: false });
const text = (b: Uint8Array, t: Tlv) => dec.decode(bytesOf(b, t));

function decodeFilter(b: Uint8Array, t: Tlv, depth: number): Filter | undefined {
  if (depth > MAX_FILTER_DEPTH) return undefined;
  switch (t.tag) {
    case 0xa0:
    case 0xa1: {
      const cs = children(b, t, 512);
      if (!cs) return undefined;
      const subs: Filter[] = [];
      for (const c of cs) {
        const f = decodeFilter(b, c, depth + 1);
        if (!f) return undefined;
        subs.push(f);
      }
      return { k: t.tag === 0xa0 ? "and" : "or", subs };
    }
    case 0xa2: {
      const c = readTlv(b, t.start, t.end);
      if (!c || c.end !== t.end) return undefined;
      const sub = decodeFilter(b, c, depth + 1);
      return sub ? { k: "not", sub } : undefined;
    }
    case 0xa3:
    case 0xa5:
    case 0xa6:
    case 0xa8: {
      const cs = children(b, t, 2);
      if (!cs || cs.length !== 2 || cs[0]!.tag !== 0x04 || cs[1]!.tag !== 0x04) return undefined;
      const k = t.tag === 0xa3 ? "eq" : t.tag === 0xa5 ? "ge" : t.tag === 0xa6 ? "le" : "approx";
      return { k, attr: text(b, cs[0]!), value: text(b, cs[1]!) };
    }
    case 0x87:
      return { k: "present", attr: text(b, t) };
    case 0xa4: {
      const cs = children(b, t, 2);
      if (!cs || cs.length !== 2 || cs[0]!.tag !== 0x04 || cs[1]!.tag !== 0x30) return undefined;
      const parts = children(b, cs[1]!, 256);
      if (!parts || parts.length === 0) return undefined;
      const f: Filter = { k: "substr", attr: text(b, cs[0]!), any: [] };
      for (const p of parts) {
        if (p.tag === 0x80) f.initial = text(b, p);
        else if (p.tag === 0x81) f.any.push(text(b, p));
        else if (p.tag === 0x82) f.final = text(b, p);
        else return undefined;
      }
      return f;
    }
    case 0xa9:
      return children(b, t, 4) ? { k: "ext" } : undefined;
    default:
      return undefined;
  }
}

function valuesOf(e: Entry, attr: string): string[] | undefined {
  const a = attr.toLowerCase();
  return e.attrs.find((x) => x.name.toLowerCase() === a)?.values;
}

/** Whether an entry matches: case-insensitive comparisons (the directory strings' usual matching rules). */
function matches(e: Entry, f: Filter): boolean {
  switch (f.k) {
    case "and":
      return f.subs.every((s) => matches(e, s));
    case "or":
      return f.subs.some((s) => matches(e, s));
    case "not":
      return !matches(e, f.sub);
    case "present":
      return f.attr.toLowerCase() === "objectclass" || valuesOf(e, f.attr) !== undefined;
    case "eq":
    case "approx":
      return (valuesOf(e, f.attr) ?? []).some((v) => v.toLowerCase() === f.value.toLowerCase());
    case "ge":
      return (valuesOf(e, f.attr) ?? []).some((v) => v.toLowerCase() >= f.value.toLowerCase());
    case "le":
      return (valuesOf(e, f.attr) ?? []).some((v) => v.toLowerCase() <= f.value.toLowerCase());
    case "substr":
      return (valuesOf(e, f.attr) ?? []).some((raw) => {
        const v = raw.toLowerCase();
        let at = 0;
        if (f.initial !== undefined) {
          if (!v.startsWith(f.initial.toLowerCase())) return false;
          at = f.initial.length;
        }
        for (const a of f.any) {
          const i = v.indexOf(a.toLowerCase(), at);
          if (i < 0) return false;
          at = i + a.length;
        }
        return f.final === undefined || (v.length - f.final.length >= at && v.endsWith(f.final.toLowerCase()));
      });
    case "ext":
      return false;
  }
}

/** AD's GeneralizedTime: "20261130161234.0Z". */
function generalizedTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.0Z`;
}

export function startLdap(ctx: SessionContext<LdapTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const form: LengthForm = t.lengthForm;
  const ad = t.flavor === "ad";
  const host = ctx.host;
  const dcs = host.domain.split(".").filter((x) => x.length > 0);
  const vars: Record<string, string> = {
    baseDn: dcs.map((d) => `dc=${d}`).join(","),
    baseDnUpper: dcs.map((d) => `DC=${d}`).join(","),
    domain: host.domain,
    org: host.domain,
    hostname: ctx.hostname,
    HOSTNAME: ctx.hostname.toUpperCase(),
    hostnameLower: ctx.hostname.toLowerCase(),
    fqdn: host.fqdn,
    dc: dcs[0] ?? "",
  };
  if (ad) {
    // A domain controller's names (src/host/ad.ts): nmap reads the domain and the site out of dsServiceName.
    const a = adNames(host);
    Object.assign(vars, { computer: a.computer, computerLower: a.computer.toLowerCase(), site: a.site, realm: a.realm, dsServiceName: a.dsServiceName });
  }
  const R = {
    v2: parseResult(t.resultV2),
    version: parseResult(t.resultVersion),
    invalid: parseResult(t.resultInvalidCredentials),
    dnNoPw: parseResult(t.resultDnNoPassword),
    saslUnknown: parseResult(t.resultSaslUnknown),
    saslCleartext: parseResult(t.resultSaslCleartext),
    saslNoUser: parseResult(t.resultSaslNoUser),
    saslNonce: parseResult(t.resultSaslNonce),
    sasl: parseResult(t.resultSasl),
    unsupportedExt: parseResult(t.resultUnsupportedExtended),
    startTls: parseResult(t.resultStartTls),
    modify: parseResult(t.resultModify),
    bindRequired: t.resultBindRequired !== undefined ? parseResult(t.resultBindRequired) : undefined,
    noSuchObject: parseResult(t.resultNoSuchObject),
    invalidDn: parseResult(t.resultInvalidDn),
    discUnknown: parseResult(t.disconnectUnknown),
    discDecoding: parseResult(t.disconnectDecoding),
  };
  const entries = parseLines(t.entries, undefined, vars);
  const userAttrs = new Set(t.userAttributes.map((a) => a.toLowerCase()));
  const saslMechs = new Set(t.rootDse.filter((l) => /^supportedSASLMechanisms:/i.test(l)).map((l) => l.slice(l.indexOf(":") + 1).trim().toUpperCase()));
  const IDLE = "idle";
  const idle = () => (t.idleTimeoutMs ? { [IDLE]: drawMs(t.idleTimeoutMs, ctx.random) } : undefined);

  const queue = new ByteQueue();
  let done = false;

  function rootDse(): Entry {
    const now = hostTime(host, ctx.now());
    const usn = String(ctx.counter("ldap.usn", { atBoot: 12000, perHour: 3, spread: 400000 }));
    return parseLines(t.rootDse, "", { ...vars, currentTime: generalizedTime(now), usn })[0] ?? { dn: "", attrs: [] };
  }

  function message(id: number, op: Uint8Array): Uint8Array {
    return seq(0x30, [int(id), op], form);
  }

  function ldapResult(tag: number, r: Result, extra: Uint8Array[] = [], matched = ""): Uint8Array {
    return seq(tag, [int(r.code, 0x0a), octets(matched), octets(r.text), ...extra], form);
  }

  function notice(r: Result): Uint8Array {
    return message(0, ldapResult(0x78, r, [octets(NOTICE_OF_DISCONNECTION, 0x8a)]));
  }

  function entryMessage(id: number, e: Entry, wanted: Tlv[] | undefined, b: Uint8Array, typesOnly: boolean, isRoot: boolean): Uint8Array {
    const names = (wanted ?? []).map((w) => text(b, w).toLowerCase());
    const all = names.length === 0 || names.includes("*");
    const ops = names.includes("+");
    const none = names.length === 1 && names[0] === "1.1";
    const attrs = none
      ? []
      : e.attrs.filter((a) => {
          const n = a.name.toLowerCase();
          const user = isRoot ? userAttrs.has(n) : true;
          return (all && user) || (ops && !user) || names.includes(n);
        });
    const list = attrs.map((a) => seq(0x30, [octets(a.name), seq(0x31, typesOnly ? [] : a.values.map((v) => octets(v)), form)], form));
    return message(id, seq(0x64, [octets(e.dn), seq(0x30, list, form)], form));
  }

  /** The SASL exchange in progress: its mechanism and what the server sent. */
  let sasl: { mech: string; challenge: string } | undefined;
  // Cyrus SASL words its "continue"; AD's saslBindInProgress carries no message.
  const saslInProgress: Result = { code: 14, text: ad ? "" : "SASL(0): successful result: " };

  /**
   * One SASL bind step, as slapd with Cyrus SASL answers it: a listed mechanism's first step gets its
   * challenge (CRAM-MD5's "<random.usec@host>", DIGEST-MD5's nonce and realm, the others nothing), the
   * client's answer is logged and refused (no user is in the SASL database). CRAM-MD5's answer is a
   * hashcat line (mode 10200); DIGEST-MD5's and SCRAM's give the user name.
   */
  function saslStep(mech: string, dn: string, creds: Uint8Array | undefined): { result: Result; creds?: Uint8Array | string; event?: ProtocolEvent } {
    if (t.saslCleartext.includes(mech)) return { result: R.saslCleartext };
    if (!saslMechs.has(mech)) {
      sasl = undefined;
      return { result: { code: R.saslUnknown.code, text: fill(R.saslUnknown.text, { mech: mech.slice(0, 64) }) } };
    }
    const step = sasl?.mech === mech ? sasl : undefined;
    if (!step && (creds === undefined || creds.length === 0 || mech === "CRAM-MD5" || mech === "DIGEST-MD5")) {
      let challenge = "";
      if (mech === "CRAM-MD5") {
        const r = ctx.random(7);
        const n = (((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) >>> 0) % 4294967296;
        const us = ((r[4]! << 16) | (r[5]! << 8) | r[6]!) % 1000000;
        challenge = `<${n}.${us}@${ctx.hostname.toLowerCase()}>`;
      } else if (mech === "DIGEST-MD5" && ad) {
        // AD's digest SSP: its own field order, a "+Upgraded+v1" nonce of hex, the DNS domain as the realm.
        const nonce = `+Upgraded+v1${Buffer.from(ctx.random(38)).toString("hex")}`;
        challenge = `qop="auth,auth-int,auth-conf",cipher="3des,rc4",algorithm=md5-sess,nonce="${nonce}",charset=utf-8,realm="${host.domain}"`;
      } else if (mech === "DIGEST-MD5") {
        const nonce = Buffer.from(ctx.random(32)).toString("base64");
        challenge = `nonce="${nonce}",realm="${ctx.hostname.toLowerCase()}",qop="auth,auth-int,auth-conf",cipher="rc4-40,rc4-56,rc4,des,3des",maxbuf=65536,charset=utf-8,algorithm=md5-sess`;
      }
      sasl = { mech, challenge };
      return { result: saslInProgress, creds: challenge };
    }
    sasl = undefined;
    const answer = creds !== undefined ? dec.decode(creds.subarray(0, LOG_MAX)) : "";
    const client: Record<string, string> = { sasl_mechanism: mech.slice(0, 64) };
    let user = dn;
    let hash: CapturedHash | undefined;
    let result = R.saslNoUser;
    if (mech === "CRAM-MD5") {
      const m = /^(.*) ([0-9a-f]{32})$/s.exec(answer);
      if (m) {
        user = m[1]!;
        hash = { value: `$cram_md5$${Buffer.from(step?.challenge ?? "").toString("base64")}$${Buffer.from(answer).toString("base64")}`, type: "cram-md5", hashcatMode: 10200 };
      }
    } else if (mech === "DIGEST-MD5") {
      user = /(?:^|,)\s*username="([^"]*)"/.exec(answer)?.[1] ?? dn;
      const nonce = /(?:^|,)\s*nonce="([^"]*)"/.exec(answer)?.[1];
      if (!step || nonce === undefined || !step.challenge.includes(`nonce="${nonce}"`)) result = R.saslNonce;
      client.sasl_response = answer.slice(0, 512);
    } else if (mech.startsWith("SCRAM-")) {
      user = /(?:^|,)n=([^,]*)/.exec(answer)?.[1] ?? dn;
    } else {
      result = R.sasl;
    }
    return { result, event: { action: "login", method: `ldap-sasl-${mech.toLowerCase()}`.slice(0, 64), user: user.slice(0, LOG_MAX), ...(hash ? { hash } : {}), client } };
  }

  function login(user: string, password: string): ProtocolEvent {
    // AD binds often name the account as DOMAIN\user: the domain goes in its own field.
    const down = ad ? /^([^\\=,]{1,64})\\([^\\]+)$/.exec(user) : null;
    if (down) return { action: "login", method: "ldap-simple", user: down[2]!.slice(0, LOG_MAX), domain: down[1]!, password: password.slice(0, LOG_MAX) };
    return { action: "login", method: "ldap-simple", user: user.slice(0, LOG_MAX), password: password.slice(0, LOG_MAX) };
  }

  /** One whole LDAPMessage: what to write, and whether the connection ends. */
  function onMessage(b: Uint8Array): { write: Uint8Array[]; events: ProtocolEvent[]; close: boolean } {
    const out = { write: [] as Uint8Array[], events: [] as ProtocolEvent[], close: false };
    const top = readTlv(b, 0, b.length);
    const parts = top && top.tag === 0x30 ? children(b, top, 3) : undefined;
    const idT = parts?.[0];
    const id = idT && idT.tag === 0x02 ? readInt(b, idT) : undefined;
    const op = parts?.[1];
    if (!parts || id === undefined || !op || (parts[2] !== undefined && parts[2].tag !== 0xa0)) {
      // slapd cannot read the envelope: it hangs up without a word.
      out.events.push({ action: "error", message: "malformed LDAP message" });
      out.close = true;
      return out;
    }
    const disconnect = (r: Result, why: string) => {
      out.write.push(notice(r));
      out.events.push({ action: "error", message: why });
      out.close = true;
      return out;
    };
    const decoding = () => disconnect(R.discDecoding, "LDAP request does not decode");
    const fields = op.constructed ? children(b, op, 16) : undefined;

    switch (op.tag) {
      case APP.unbind:
        out.close = true;
        return out;
      case APP.abandon:
        return out;
      case APP.bind: {
        if (!fields || fields.length < 3 || fields[0]!.tag !== 0x02 || fields[1]!.tag !== 0x04) return decoding();
        const version = readInt(b, fields[0]!);
        const dn = text(b, fields[1]!);
        const auth = fields[2]!;
        if (auth.tag !== 0x80 && auth.tag !== 0xa3) return decoding();
        const answer = (r: Result, extra: Uint8Array[] = []) => {
          out.write.push(message(id, ldapResult(0x61, r, extra)));
          return out;
        };
        if (version === 2 && !t.acceptV2) return answer(R.v2);
        if (version !== 2 && version !== 3) return answer(R.version);
        // AD takes any name form in a bind (a DN, user@domain, DOMAIN\user) and refuses a wrong one as a wrong password.
        if (!ad && !validDn(dn)) return answer(R.invalidDn);
        if (auth.tag === 0xa3) {
          const sasl = children(b, auth, 2);
          if (!sasl || sasl.length < 1 || sasl[0]!.tag !== 0x04 || (sasl[1] !== undefined && sasl[1].tag !== 0x04)) return decoding();
          const mech = text(b, sasl[0]!).toUpperCase();
          const creds = sasl[1] !== undefined ? bytesOf(b, sasl[1]) : undefined;
          const step = saslStep(mech, dn, creds);
          if (step.event) out.events.push(step.event);
          return answer(step.result, step.creds !== undefined ? [octets(step.creds, 0x87)] : []);
        }
        const password = text(b, auth);
        if (password.length === 0) {
          if (dn.length === 0) return answer({ code: 0, text: "" });
          return answer(R.dnNoPw);
        }
        out.events.push(login(dn, password));
        return answer(R.invalid);
      }
      case APP.search: {
        if (!fields || fields.length !== 8) return decoding();
        const [baseT, scopeT, , , , typesT, filterT, attrsT] = fields as [Tlv, Tlv, Tlv, Tlv, Tlv, Tlv, Tlv, Tlv];
        if (baseT.tag !== 0x04 || scopeT.tag !== 0x0a || typesT.tag !== 0x01 || attrsT.tag !== 0x30) return decoding();
        const scope = readInt(b, scopeT);
        const filter = decodeFilter(b, filterT, 0);
        const wanted = children(b, attrsT, 1024);
        if (scope === undefined || scope < 0 || scope > 3 || !filter || !wanted || wanted.some((w) => w.tag !== 0x04)) return decoding();
        const typesOnly = b[typesT.start] !== undefined && b[typesT.start] !== 0;
        const base = text(b, baseT);
        const done = (r: Result, matched = "") => out.write.push(message(id, ldapResult(0x65, r, [], matched)));
        if (base === "" && scope === 0) {
          const root = rootDse();
          if (matches(root, filter)) out.write.push(entryMessage(id, root, wanted, b, typesOnly, true));
          done({ code: 0, text: "" });
          return out;
        }
        if (R.bindRequired) {
          done(R.bindRequired);
          return out;
        }
        if (!validDn(base)) {
          done(R.invalidDn);
          return out;
        }
        const nb = normDn(base);
        const found = entries.find((e) => normDn(e.dn) === nb);
        if (!found) {
          // The nearest existing ancestor is the matchedDN.
          const above = entries.filter((e) => nb.endsWith("," + normDn(e.dn))).sort((x, y) => y.dn.length - x.dn.length)[0];
          done(R.noSuchObject, above?.dn ?? "");
          return out;
        }
        for (const e of entries) {
          const ne = normDn(e.dn);
          const depth = ne === nb ? 0 : ne.endsWith("," + nb) ? ne.split(",").length - nb.split(",").length : -1;
          const inScope = scope === 0 ? depth === 0 : scope === 1 ? depth === 1 : scope === 2 ? depth >= 0 : depth >= 1;
          if (inScope && matches(e, filter)) out.write.push(entryMessage(id, e, wanted, b, typesOnly, false));
        }
        done({ code: 0, text: "" });
        return out;
      }
      case APP.extended: {
        if (!fields || fields.length < 1 || fields[0]!.tag !== 0x80) return decoding();
        const oid = text(b, fields[0]!);
        const answer = (r: Result, extra: Uint8Array[] = []) => out.write.push(message(id, ldapResult(0x78, r, extra)));
        if (oid === START_TLS) answer(R.startTls);
        else if (oid === WHO_AM_I && !ad) answer({ code: 0, text: "" }, [octets("", 0x8b)]);
        else answer(R.unsupportedExt);
        return out;
      }
      case APP.compare: {
        if (!fields || fields.length !== 2 || fields[0]!.tag !== 0x04 || fields[1]!.tag !== 0x30) return decoding();
        const ava = children(b, fields[1]!, 2);
        if (!ava || ava.length !== 2 || ava[0]!.tag !== 0x04 || ava[1]!.tag !== 0x04) return decoding();
        let r = R.bindRequired;
        if (!r) {
          const dn = text(b, fields[0]!);
          const e = entries.find((x) => normDn(x.dn) === normDn(dn));
          const want = { k: "eq" as const, attr: text(b, ava[0]!), value: text(b, ava[1]!) };
          r = !validDn(dn) ? R.invalidDn : !e ? R.noSuchObject : matches(e, want) ? { code: 6, text: "" } : { code: 5, text: "" };
        }
        out.write.push(message(id, ldapResult(0x6f, r)));
        return out;
      }
      case APP.modify:
      case APP.add:
      case APP.modDn:
      case APP.del:
        if (op.tag !== APP.del && !fields) return decoding();
        out.write.push(message(id, ldapResult(RESPONSE_OF[op.tag]!, R.bindRequired ?? R.modify)));
        return out;
      default:
        return disconnect(R.discUnknown, "unknown LDAP request");
    }
  }

  return {
    buffered: () => queue.length,
    open(): Reply {
      const timers = idle();
      return timers ? { timers } : {};
    },
    timer(name: string): Reply {
      if (name !== IDLE || done) return {};
      done = true;
      return { close: true };
    },
    data(chunk: Uint8Array): Reply {
      if (done) return {};
      const writes: Uint8Array[] = [];
      const events: ProtocolEvent[] = [];
      let close = false;
      let at = 0;
      while (at < chunk.length && !close) {
        // Take no more than the current message needs, so the queue never holds more than one.
        const view = queue.view();
        const h = readHeader(view, 0);
        let want: number;
        if (h === "bad" || (typeof h === "object" && h.length > t.maxIncoming)) {
          events.push({ action: "error", message: h === "bad" ? "malformed LDAP message" : "LDAP message over the size limit" });
          close = true;
          break;
        }
        if (h === "need") want = 1; // a header is at most 6 bytes: read it a byte at a time, never into the next message
        else want = h.headerLength + h.length - view.length;
        const take = Math.min(want, chunk.length - at);
        queue.push(chunk.subarray(at, at + take));
        at += take;
        const v = queue.view();
        const h2 = readHeader(v, 0);
        if (typeof h2 !== "object") {
          if (h2 === "bad") {
            events.push({ action: "error", message: "malformed LDAP message" });
            close = true;
          }
          continue;
        }
        if (h2.length > t.maxIncoming) continue; // reported on the next turn of the loop
        if (v.length < h2.headerLength + h2.length) continue;
        const msg = queue.take(h2.headerLength + h2.length);
        if (h2.tag !== 0x30) {
          events.push({ action: "error", message: "malformed LDAP message" });
          close = true;
          break;
        }
        const r = onMessage(msg);
        writes.push(...r.write);
        events.push(...r.events);
        if (r.close) close = true;
      }
      if (!close && h0Oversize()) {
        events.push({ action: "error", message: "LDAP message over the size limit" });
        close = true;
      }
      if (close) {
        done = true;
        queue.clear();
      }
      const reply: Reply = {};
      if (writes.length > 0) reply.write = concatBytes(writes);
      if (events.length > 0) reply.events = events;
      if (close) reply.close = true;
      else {
        const timers = idle();
        if (timers) reply.timers = timers;
      }
      return reply;
    },
  };

  /** Whether the queued header already announces a message over the limit. */
  function h0Oversize(): boolean {
    const h = readHeader(queue.view(), 0);
    return typeof h === "object" && h.length > t.maxIncoming;
  }
}
