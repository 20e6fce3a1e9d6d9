// HTTP Basic credentials (RFC 7617) from an Authorization or Proxy-Authorization value, for the services
// that log them. UTF-8 when the bytes are valid UTF-8, latin1 otherwise; bounded.

/** The longest base64 text decoded (3 KiB of credentials); longer values are not Basic credentials to us. */
const MAX_B64 = 4096;

export function decodeBasicCredentials(value: string): { user: string; password: string } | undefined {
  const m = /^Basic[ \t]+([A-Za-z0-9+/=_-]+)[ \t]*$/i.exec(value);
  if (!m || m[1]!.length > MAX_B64) return undefined;
  const bytes = new Uint8Array(Buffer.from(m[1]!, "base64"));
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    text = Buffer.from(bytes).toString("latin1");
  }
  const colon = text.indexOf(":");
  return colon < 0 ? { user: text, password: "" } : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
