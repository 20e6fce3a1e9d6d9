// DER (ASN.1) pieces, and the SPNEGO tokens (RFC 4178) that SMB, HTTP Negotiate and others wrap NTLMSSP in.
import { latin1Bytes } from "./bytes.ts";

export const OID_SPNEGO = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
export const OID_NTLMSSP = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a];

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
  const inner = [...der(0xa0, der(0x30, oid(OID_NTLMSSP)))];
  if (hint) inner.push(...der(0xa3, der(0x30, der(0xa0, der(0x1b, latin1Bytes(hint))))));
  return der(0x60, [...oid(OID_SPNEGO), ...der(0xa0, der(0x30, inner))]);
}
/** negTokenResp: state 0 accept-completed, 1 accept-incomplete, 2 reject. */
export function negTokenResp(state: number, token?: Uint8Array): number[] {
  const inner = [...der(0xa0, der(0x0a, [state]))];
  if (token) inner.push(...der(0xa1, oid(OID_NTLMSSP)), ...der(0xa2, der(0x04, [...token])));
  return der(0xa1, der(0x30, inner));
}
