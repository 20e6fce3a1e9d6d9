// The client's side of NTLM for tests, written from MS-NLMP rather than from src/wire/ntlmssp.ts (which
// answers them): a NEGOTIATE and an AUTHENTICATE with the given names and NT response.
export const le16 = (n: number) => [n & 0xff, n >> 8];
export const le32 = (n: number) => [n & 0xff, (n >> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const ascii = (x: string) => [...x].map((c) => c.charCodeAt(0));
const ucs2 = (x: string) => [...x].flatMap((c) => [c.charCodeAt(0), 0]);

/** NEGOTIATE: signature, type 1, the flags a Windows client sends, empty domain and workstation. */
export const NEGOTIATE: number[] = [...ascii("NTLMSSP\0"), ...le32(1), ...le32(0xe2088297), ...new Array(16).fill(0)];

/** AUTHENTICATE: an empty LM response, `nt` as the NT response, then domain, user and workstation in UCS-2. */
export function authenticate(user: string, domain: string, ws: string, nt: number[]): number[] {
  const fields = [new Array(24).fill(0), nt, ucs2(domain), ucs2(user), ucs2(ws), []];
  let off = 64;
  const head: number[] = [];
  for (const f of fields) {
    head.push(...le16(f.length), ...le16(f.length), ...le32(off));
    off += f.length;
  }
  return [...ascii("NTLMSSP\0"), ...le32(3), ...head, ...le32(0xe2088215), ...fields.flat()];
}
