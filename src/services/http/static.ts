// What a web server's static file handler does besides a plain 200, as the real daemons were measured
// doing it (docs/research/real-daemons.md, "HTTP depth"): byte ranges, multipart/byteranges bodies, and the
// images a product ships beside its default page.
import { deflateSync } from "node:zlib";

export type Ranges = { kind: "none" } | { kind: "unsatisfiable" } | { kind: "ranges"; parts: [number, number][] };

/** Most ranges honoured in one request; more is treated as no Range at all (Apache's MaxRanges 200). */
const MAX_RANGES = 200;

/**
 * A Range header against a body of `size` bytes, as Apache and nginx read it: one `bytes=` unit, each
 * spec `a-b`, `a-` or `-n`; a syntax error means the header is ignored (200); specs past the end are
 * dropped, and none left is a 416.
 */
export function parseRanges(header: string | undefined, size: number): Ranges {
  if (header === undefined) return { kind: "none" };
  const m = /^bytes=(.+)$/i.exec(header.trim());
  if (!m) return { kind: "none" };
  const specs = m[1]!.split(",").map((s) => s.trim());
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: "none" };
  const parts: [number, number][] = [];
  for (const spec of specs) {
    const r = /^(\d{0,18})-(\d{0,18})$/.exec(spec);
    if (!r || (r[1] === "" && r[2] === "")) return { kind: "none" };
    if (r[1] === "") {
      const n = Number(r[2]);
      if (n === 0) continue;
      parts.push([Math.max(0, size - n), size - 1]);
      continue;
    }
    const start = Number(r[1]);
    if (r[2] !== "" && Number(r[2]) < start) return { kind: "none" };
    if (start >= size) continue;
    const end = r[2] === "" ? size - 1 : Number(r[2]);
    parts.push([start, Math.min(end, size - 1)]);
  }
  return parts.length === 0 ? { kind: "unsatisfiable" } : { kind: "ranges", parts };
}

/**
 * The body of a multipart/byteranges 206: Apache writes "Content-type"/"Content-range" and starts with an
 * empty line; nginx capitalises both and starts with the boundary line after a CRLF.
 */
export function multipartBody(body: string, parts: [number, number][], boundary: string, contentType: string, style: "apache" | "nginx"): string {
  const size = body.length;
  const [type, range] = style === "apache" ? ["Content-type", "Content-range"] : ["Content-Type", "Content-Range"];
  let out = "";
  for (const [a, b] of parts) out += `\r\n--${boundary}\r\n${type}: ${contentType}\r\n${range}: bytes ${a}-${b}/${size}\r\n\r\n${body.slice(a, b + 1)}`;
  return `${out}\r\n--${boundary}--\r\n`;
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]!;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * A valid PNG of the given dimensions and exactly `size` bytes (a shipped logo as a scanner sees it: type,
 * dimensions, length), as latin1 text. The picture is blank; a comment chunk brings it to size. Undefined
 * when `size` is too small for the picture.
 */
export function pngOfSize(width: number, height: number, size: number, seedText: string): string | undefined {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
  const raw = new Uint8Array((width * 4 + 1) * height);
  const idat = deflateSync(raw, { level: 9 });
  const parts = [new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", idat)];
  const end = chunk("IEND", new Uint8Array(0));
  const fixed = parts.reduce((n, p) => n + p.length, 0) + end.length;
  const pad = size - fixed - 12;
  const label = "Comment\0";
  if (pad < label.length) return undefined;
  const text = new Uint8Array(pad);
  for (let i = 0; i < label.length; i++) text[i] = label.charCodeAt(i);
  // Printable filler derived from the host, so two hosts' files differ but one host's never changes.
  for (let i = label.length; i < pad; i++) text[i] = 0x21 + ((seedText.charCodeAt(i % seedText.length) * 31 + i * 7) % 94);
  parts.push(chunk("tEXt", text), end);
  let out = "";
  for (const p of parts) for (let i = 0; i < p.length; i++) out += String.fromCharCode(p[i]!);
  return out;
}
