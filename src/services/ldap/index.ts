// ldap: LDAPv3 over TCP up to a refused simple bind (OpenLDAP slapd, Active Directory).
import table from "../../../fixtures/services/ldap.json";
import type { ServiceModule } from "../../types.ts";
import { LDAP_MAX_BUFFERED, startLdap } from "./session.ts";
import { ldapTemplates, type LdapTemplates } from "./templates.ts";

export const ldap: ServiceModule<LdapTemplates> = {
  name: "ldap",
  aliases: [],
  transport: "tcp",
  defaultPorts: [389],
  templates: ldapTemplates,
  table,
  start: startLdap,
  maxBuffered: LDAP_MAX_BUFFERED,
  fuzzPrefixes: [
    // nmap's LDAPSearchReq and LDAPBindReq (v2), ldapsearch's rootDSE search, ldapwhoami's simple bind.
    "0\x84\x00\x00\x00\x2d\x02\x01\x07c\x84\x00\x00\x00\x24\x04\x00\x0a\x01\x00\x0a\x01\x00\x02\x01\x00\x02\x01\x64\x01\x01\x00\x87\x0bobjectClass0\x84\x00\x00\x00\x00",
    "0\x0c\x02\x01\x01`\x07\x02\x01\x02\x04\x00\x80\x00",
    "0\x25\x02\x01\x01c\x20\x04\x00\x0a\x01\x00\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00\x87\x0bobjectclass0\x00",
    "0\x2c\x02\x01\x01`\x27\x02\x01\x03\x04\x1ccn=admin,dc=example,dc=com\x80\x04pass",
    // A bind as an AD tool sends it: DOMAIN\user and a password.
    "0\x1f\x02\x01\x01`\x1a\x02\x01\x03\x04\x0fCORP\\svc_backup\x80\x04pass",
  ],
};
