// DER (ASN.1) pieces, and the SPNEGO tokens (RFC 4178) that SMB, HTTP Negotiate and others wrap NTLMSSP in.
import { latin1Bytes } from "./bytes.ts";

export const OID_SPNEGO = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
export const OID_NTLMSSP = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];
/** NEGOEX, 1.3.6.1.4.1.311.2.2.30 (Windows 7 / Server 2008 R2 and later offer it first). */
export const OID_NEGOEX = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e];
/** Microsoft's Kerberos 5, 1.2.840.48018.1.2.2. */
export const OID_MS_KRB5 = [0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
/** Kerberos 5, 1.2.840.113554.1.2.2. */
export const OID_KRB5 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
/** Kerberos 5 user-to-user, 1.2.840.113554.1.2.2.3. */
export const OID_KRB5_U2U = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x03];

/** A DER element: tag, definite length, body. */
export function der(tag: number, body: number[]): number[] {
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >>> 8, n & 0xff];
  return [tag, ...len, ...body];
}
export function oid(v: number[]): number[] {
  return der(0x06, v);
}
/** negTokenInit offering NTLMSSP, with a hint name in the [3] slot ("NONE", "not_defined_in_RFC4178@please_ignore"). */
export function negTokenInit(hint: string): number[] {
  return negTokenInitOf([OID_NTLMSSP], hint);
}
/** negTokenInit offering these mechanisms in this order, with a hint name in the [3] slot ("" for none). */
export function negTokenInitOf(mechs: number[][], hint: string): number[] {
  const inner = [...der(0xa0, der(0x30, mechs.flatMap(oid)))];
  if (hint) inner.push(...der(0xa3, der(0x30, der(0xa0, der(0x1b, latin1Bytes(hint))))));
  return der(0x60, [...oid(OID_SPNEGO), ...der(0xa0, der(0x30, inner))]);
}
/** negTokenResp: state 0 accept-completed, 1 accept-incomplete, 2 reject. */
export function negTokenResp(state: number, token?: Uint8Array): number[] {
  const inner = [...der(0xa0, der(0x0a, [state]))];
  if (token) inner.push(...der(0xa1, oid(OID_NTLMSSP)), ...der(0xa2, der(0x04, [...token])));
  return der(0xa1, der(0x30, inner));
}
