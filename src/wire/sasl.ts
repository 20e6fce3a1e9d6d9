// SASL pieces the mail services share (IMAP AUTHENTICATE, POP3 AUTH): strict base64 of one response
// line, the PLAIN message, and the NTLM exchange carried in base64 lines (MS-NLMP over SASL).
import type { HostFacts } from "../host/facts.ts";
import type { ProtocolEvent } from "../types.ts";
import { clip, rd32 } from "./bytes.ts";
import { ntlmLoginEvent, ntlmChallenge, ntlmFromBlob, parseNtlmAuth, type NtlmIdentity } from "./ntlmssp.ts";

/** The longest base64 response line decoded (an NTLM AUTHENTICATE with a long blob fits easily). */
export const SASL_LINE_MAX = 16384;

/** Base64 as a SASL response carries it (RFC 4648, padding required); undefined when it is not that. "=" alone is an empty response. */
export function saslBase64(line: string): Uint8Array | undefined {
  if (line === "=") return new Uint8Array(0);
  if (line.length === 0 || line.length % 4 !== 0 || line.length > SASL_LINE_MAX) return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line)) return undefined;
  return new Uint8Array(Buffer.from(line, "base64"));
}

/** PLAIN (RFC 4616): authzid NUL authcid NUL passwd; undefined when the message does not have that shape. */
export function saslPlain(msg: Uint8Array): { authzid: string; user: string; password: string } | undefined {
  const text = Buffer.from(msg).toString("utf8");
  const parts = text.split("\u0000");
  if (parts.length !== 3) return undefined;
  return { authzid: parts[0]!, user: parts[1]!, password: parts[2]! };
}

/** A PLAIN response as a login event of the given method. */
export function plainLogin(method: string, p: { authzid: string; user: string; password: string }): ProtocolEvent {
  return {
    action: "login",
    method,
    user: clip(p.user),
    password: clip(p.password),
    ...(p.authzid !== "" ? { client: { authzid: clip(p.authzid, 256) } } : {}),
  };
}

/** A Windows server joined to its domain: the domain's first label as the NetBIOS domain (as Exchange's hosts are). */
export function domainIdentity(h: HostFacts, version: string): NtlmIdentity {
  const nb = (h.domain.split(".")[0] ?? "WORKGROUP").toUpperCase().slice(0, 15);
  // Windows 2003 (5.2) sends its version but no timestamp AV pair.
  return { netbiosName: h.netbiosName, netbiosDomain: nb, dnsName: h.fqdn, dnsDomain: h.domain, version, timestamp: version !== "" && !version.startsWith("5.") };
}

/** One NTLM exchange over base64 lines: NEGOTIATE gets a CHALLENGE, AUTHENTICATE a login event. */
export class SaslNtlm {
  private challenge: Uint8Array = new Uint8Array(0);
  constructor(
    private readonly id: NtlmIdentity,
    private readonly method: string,
  ) {}

  /**
   * A decoded client message: { challenge } for a NEGOTIATE (send it base64 after "+ "), { event } for an
   * AUTHENTICATE (the exchange is over), undefined when it is neither.
   */
  step(msg: Uint8Array, random: (n: number) => Uint8Array, now: Date): { challenge?: Uint8Array; event?: ProtocolEvent } | undefined {
    const token = ntlmFromBlob(msg);
    if (!token) return undefined;
    if (token.type === 1) {
      this.challenge = random(8);
      return { challenge: ntlmChallenge(this.id, rd32(token.msg, 12), this.challenge, now) };
    }
    if (token.type !== 3) return undefined;
    const a = parseNtlmAuth(token.msg);
    if (!a) return undefined;
    return { event: ntlmLoginEvent(this.method, a, this.challenge) };
  }
}
