// gzip as the real daemons make it. Apache's mod_deflate and nginx's gzip module call the system's zlib,
// and Bun bundles another deflate whose output differs (3013 bytes where Debian's Apache sends 3041 for
// the same page): a size a scanner can compare. So the system's libz is called through bun:ffi when it is
// there (every Linux server has it), and Bun's own deflate is the fallback. Results are cached by the
// callers: a face compresses its page once per host.
import { deflateRawSync } from "node:zlib";

const Z_FINISH = 4;
const Z_DEFLATED = 8;
const Z_STREAM_END = 1;
/** sizeof(z_stream) on LP64 (Linux x64 and arm64, macOS): zlib checks it in deflateInit2_. */
const Z_STREAM_SIZE = 112;

type Zlib = {
  init: (strm: Uint8Array, level: number, windowBits: number, memLevel: number) => number;
  deflate: (strm: Uint8Array, flush: number) => number;
  end: (strm: Uint8Array) => number;
  bound: (strm: Uint8Array, n: number) => number;
  version: Uint8Array;
  ptr: (b: Uint8Array) => number;
};

let zlib: Zlib | null | undefined;

function loadZlib(): Zlib | null {
  if (zlib !== undefined) return zlib;
  zlib = null;
  if (process.platform !== "linux" && process.platform !== "darwin") return zlib;
  if (process.arch !== "x64" && process.arch !== "arm64") return zlib;
  let ffi: typeof import("bun:ffi");
  try {
    ffi = require("bun:ffi");
  } catch {
    return zlib;
  }
  const { FFIType: T } = ffi;
  const names = process.platform === "darwin" ? ["libz.1.dylib", "libz.dylib"] : ["libz.so.1", "libz.so"];
  for (const name of names) {
    try {
      const lib = ffi.dlopen(name, {
        deflateInit2_: { args: [T.ptr, T.i32, T.i32, T.i32, T.i32, T.i32, T.ptr, T.i32], returns: T.i32 },
        deflate: { args: [T.ptr, T.i32], returns: T.i32 },
        deflateEnd: { args: [T.ptr], returns: T.i32 },
        deflateBound: { args: [T.ptr, T.u64], returns: T.u64 },
        zlibVersion: { args: [], returns: T.cstring },
      });
      const s = lib.symbols;
      const version = new TextEncoder().encode(`${String(s.zlibVersion())}\0`);
      const p = (b: Uint8Array) => ffi.ptr(b);
      zlib = {
        init: (strm, level, windowBits, memLevel) => s.deflateInit2_(p(strm), level, Z_DEFLATED, windowBits, memLevel, 0, p(version), Z_STREAM_SIZE) as number,
        deflate: (strm, flush) => s.deflate(p(strm), flush) as number,
        end: (strm) => s.deflateEnd(p(strm)) as number,
        bound: (strm, n) => Number(s.deflateBound(p(strm), BigInt(n))),
        version,
        ptr: (b) => Number(ffi.ptr(b)),
      };
      return zlib;
    } catch {
      // not this name; try the next
    }
  }
  return zlib;
}

/** Raw deflate (no zlib or gzip wrapper) with the system's zlib, or undefined when it cannot be used. */
function systemDeflateRaw(input: Uint8Array, level: number, windowBits: number, memLevel: number): Uint8Array | undefined {
  const z = loadZlib();
  if (!z) return undefined;
  const strm = new Uint8Array(Z_STREAM_SIZE);
  const view = new DataView(strm.buffer);
  if (z.init(strm, level, -windowBits, memLevel) !== 0) return undefined;
  try {
    const src = input.length > 0 ? input : new Uint8Array(1);
    const out = new Uint8Array(z.bound(strm, input.length) + 64);
    // z_stream: next_in @0, avail_in @8, next_out @24, avail_out @32, total_out @40.
    view.setBigUint64(0, BigInt(z.ptr(src)), true);
    view.setUint32(8, input.length, true);
    view.setBigUint64(24, BigInt(z.ptr(out)), true);
    view.setUint32(32, out.length, true);
    if (z.deflate(strm, Z_FINISH) !== Z_STREAM_END) return undefined;
    const written = Number(view.getBigUint64(40, true));
    return out.slice(0, written);
  } finally {
    z.end(strm);
  }
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc ^= bytes[i]!;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return (crc ^ 0xffffffff) >>> 0;
}

export interface GzipOptions {
  level: number;
  windowBits?: number;
  memLevel?: number;
}

/**
 * A gzip member as mod_deflate and nginx write it: their own 10-byte header (no name, mtime 0, the XFL
 * zlib would set for the level, OS 3 = Unix), raw deflate, CRC-32 and length.
 */
export function gzipLikeDaemons(input: Uint8Array, opts: GzipOptions): Uint8Array {
  const windowBits = opts.windowBits ?? 15;
  const memLevel = opts.memLevel ?? 8;
  const body = systemDeflateRaw(input, opts.level, windowBits, memLevel) ?? deflateRawSync(input, { level: opts.level, windowBits, memLevel });
  const xfl = opts.level === 9 ? 2 : opts.level === 1 ? 4 : 0;
  const out = new Uint8Array(10 + body.length + 8);
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3]);
  out.set(body, 10);
  const tail = new DataView(out.buffer, 10 + body.length);
  tail.setUint32(0, crc32(input), true);
  tail.setUint32(4, input.length >>> 0, true);
  return out;
}

/** nginx shrinks its window and memory level for a response of known small length (ngx_http_gzip_filter). */
export function nginxWindow(length: number): { windowBits: number; memLevel: number } {
  let windowBits = 15;
  let memLevel = 8;
  if (length > 0) {
    while (length < 1 << (windowBits - 1) && windowBits > 9) {
      windowBits--;
      memLevel--;
    }
    if (memLevel < 1) memLevel = 1;
  }
  return { windowBits, memLevel };
}
