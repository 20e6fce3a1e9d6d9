// The Active Directory names of a host that shows a domain controller's face (ldap on a Windows host):
// the computer name, the domain it heads, and the AD site its server object sits in. Derived from the
// host's facts only, so every face of the host agrees (the DNS domain is the one smb and rdp's NTLM
// CHALLENGE show) and `micetrap check` can fill a claim's {{domain}} and {{site}} as nmap will read them.
import vocabulary from "../../fixtures/host/names.json";
import { hashUnit } from "../util/random.ts";
import type { HostFacts } from "./facts.ts";

export interface AdNames {
  /** The DC's computer name as its server object names it: the NetBIOS name (at most 15 characters). */
  computer: string;
  /** The DNS domain (the forest root: one DC, one domain). */
  domain: string;
  /** The domain as a DN: DC=corp,DC=example,DC=com. */
  baseDn: string;
  /** The Kerberos realm: the DNS domain in upper case. */
  realm: string;
  /** The AD site of the DC's server object. */
  site: string;
  /** CN=NTDS Settings,CN=<computer>,CN=Servers,CN=<site>,CN=Sites,CN=Configuration,<baseDn>. */
  dsServiceName: string;
}

/** The site dcpromo creates and most single-site domains keep. */
export const DEFAULT_SITE = "Default-First-Site-Name";

/**
 * nmap reads the domain and the site out of dsServiceName only while that value's length fits in one BER
 * byte (its pattern has `\x04.CN=NTDS`): 127 bytes at most. AD writes a longer one with 0x81 and nmap
 * names no product, so a face keeps its DN within that: a renamed site (a short city code) where the
 * default one would not fit.
 */
export const DS_SERVICE_NAME_MAX = 127;

function serviceName(computer: string, site: string, baseDn: string): string {
  return `CN=NTDS Settings,CN=${computer},CN=Servers,CN=${site},CN=Sites,CN=Configuration,${baseDn}`;
}

export function adNames(h: HostFacts): AdNames {
  const computer = h.netbiosName;
  const domain = h.domain;
  const baseDn = domain
    .split(".")
    .map((d) => `DC=${d}`)
    .join(",");
  // Most domains keep dcpromo's site; a third have renamed it after a place (fixtures/host/names.json's
  // site codes, as admins write them: "FRA", "HQ").
  const u = hashUnit(h.seed, "host", "ad-site");
  const codes = vocabulary.sites.filter((s) => !/^dc\d$/.test(s));
  const code = codes[Math.min(codes.length - 1, Math.floor(hashUnit(h.seed, "host", "ad-site-code") * codes.length))]!.toUpperCase();
  let site = u < 0.65 ? DEFAULT_SITE : code;
  if (serviceName(computer, site, baseDn).length > DS_SERVICE_NAME_MAX) site = code;
  return { computer, domain, baseDn, realm: domain.toUpperCase(), site, dsServiceName: serviceName(computer, site, baseDn) };
}

/**
 * What nmap 7.93 shows after the domain in its "Domain: …" for a rootDSE that puts dnsHostName right after
 * dsServiceName (AD 2016 and later): its pattern's last DC=([^,]+) is greedy and runs on to the last
 * "0\x84\0" before the next comma (the one that opens defaultNamingContext), and nmap shows that capture up
 * to its first NUL: "0." (the '0' and the 0x84 byte as '.'). When a length byte of the dnsHostName
 * attribute in between is 44 (a comma) the capture stops at the domain and nothing is added. The value is
 * `dnsHostName` (n bytes): the SEQUENCE's last length byte is n + 21 (13 for the name, 6 + 2 + n for the
 * SET), the SET's n + 2, the value's n.
 */
export function nmapDomainTail(h: HostFacts): string {
  const n = new TextEncoder().encode(`${h.hostname}.${h.domain}`).length;
  return [n, n + 2, n + 21].includes(0x2c) ? "" : "0.";
}
