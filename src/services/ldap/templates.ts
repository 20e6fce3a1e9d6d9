// The ldap templates. Results are "code:diagnostic message" (the LDAPResult's resultCode and its
// diagnosticMessage, which may be empty: "49:"); entries are LDIF-like lines ("attr: value"), a line
// "dn: …" starting each entry. Placeholders filled per host: {{baseDn}} (dc=corp,dc=example,dc=com),
// {{baseDnUpper}} (DC=corp,DC=example,DC=com), {{domain}}, {{dc}} (its first label), {{org}} (Debian's default organisation: the
// domain), {{hostname}}, {{HOSTNAME}}, {{fqdn}}, {{hostnameLower}}; flavor ad also {{computer}} (the DC's NetBIOS
// name), {{computerLower}}, {{site}}, {{realm}} (the domain upper-cased), {{dsServiceName}} (src/host/ad.ts); per search {{currentTime}} (the host's
// clock as a GeneralizedTime, AD's "20261130161234.0Z") and {{usn}} (a growing update sequence number).
import { optional, schema, t, withDefault } from "../schema.ts";

const RESULT = /^\d{1,3}:/s;
const result = (doc: string) => t.text(doc, RESULT, '"code:message"');

export const ldapTemplates = schema({
  flavor: t.oneOf("whose rules decide what an anonymous client may do: openldap (default Debian ACL: anyone reads) or ad (Active Directory: the rootDSE only, until a bind)", ["openldap", "ad"] as const),
  lengthForm: t.oneOf("how the server writes the lengths of constructed values: minimal (OpenLDAP 2.3 and 2.5+) or long4 (0x84 and four bytes: OpenLDAP 2.4's liblber, Active Directory)", ["minimal", "long4"] as const),
  maxIncoming: t.int("a request longer than this ends the connection (slapd's sockbuf_max_incoming for anonymous: 262143)", 1024, 262143),
  rootDse: t.list("the root DSE's attributes in the server's order, one 'name: value' a line"),
  userAttributes: t.list("the root DSE attributes a search returns when it names none or '*' (OpenLDAP: objectClass; AD: all of them)"),
  entries: withDefault(t.list("entries an anonymous search can read below the naming context: LDIF lines, each entry starting with 'dn: …'"), []),
  acceptV2: t.bool("an LDAPv2 bind is served like a v3 one (AD); otherwise refused with resultV2"),
  idleTimeoutMs: optional(t.ms("the server drops a connection silent this long (AD's MaxConnIdleTime: 900 s); absent: no idle limit of its own")),
  resultV2: result("answer to an LDAPv2 bind when acceptV2 is false"),
  resultVersion: result("answer to a bind of a version other than 2 and 3"),
  resultInvalidCredentials: result("answer to a simple bind with a password (always wrong)"),
  resultDnNoPassword: result("answer to a simple bind with a DN and no password ('0:' where that is an anonymous bind)"),
  resultSaslUnknown: result("answer to a SASL bind of an unknown mechanism; {{mech}} is the mechanism"),
  resultSasl: result("answer to the second step of a listed SASL mechanism whose exchange is not modelled (NTLM)"),
  saslCleartext: withDefault(t.list("mechanisms the SASL library knows but will not run without encryption (PLAIN, LOGIN)"), []),
  resultSaslCleartext: result("answer to a SASL bind of one of saslCleartext"),
  resultSaslNoUser: result("answer to a SASL client's response (CRAM-MD5, DIGEST-MD5, SCRAM): no such user in the SASL database"),
  resultSaslNonce: result("answer to a DIGEST-MD5 response with a nonce other than the one sent"),
  resultUnsupportedExtended: result("answer to an extended operation it does not know"),
  resultStartTls: result("answer to StartTLS (no certificate configured)"),
  resultModify: result("answer to an anonymous add, delete, modify or rename"),
  resultBindRequired: optional(result("AD: answer to any operation but a rootDSE search before a bind")),
  resultNoSuchObject: result("answer to a search of a base that does not exist (the nearest entry that does goes in matchedDN)"),
  resultInvalidDn: result("answer to a bind or search whose DN does not parse"),
  disconnectUnknown: result("Notice of Disconnection for an unknown request"),
  disconnectDecoding: result("Notice of Disconnection for a request that does not decode"),
});

export type LdapTemplates = ReturnType<typeof ldapTemplates.parse>;
