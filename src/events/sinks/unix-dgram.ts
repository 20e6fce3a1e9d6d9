// A connected unix datagram socket (the /dev/log kind), which neither Bun nor node:dgram offers: socket(2)
// and connect(2) through bun:ffi, then one write(2) per message (on a connected datagram socket a write is
// one datagram). The socket is non-blocking, so a receiver that falls behind costs an EAGAIN, never a wait.
// Linux only (glibc or musl); elsewhere `unix://` uses a stream socket.
import { closeSync } from "node:fs";
import { constants } from "node:os";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

type Libc = {
  socket: (domain: number, type: number, protocol: number) => number;
  connect: (fd: number, addr: Uint8Array, len: number) => number;
  errno: () => number;
};

let libc: Libc | null | undefined;

async function loadLibc(): Promise<Libc | null> {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== "linux") return libc;
  const ffi = await import("bun:ffi");
  const arch = process.arch === "arm64" ? "aarch64" : "x86_64";
  for (const name of ["libc.so.6", `libc.musl-${arch}.so.1`, "libc.so"]) {
    try {
      const lib = ffi.dlopen(name, {
        socket: { args: [ffi.FFIType.i32, ffi.FFIType.i32, ffi.FFIType.i32], returns: ffi.FFIType.i32 },
        connect: { args: [ffi.FFIType.i32, ffi.FFIType.ptr, ffi.FFIType.u32], returns: ffi.FFIType.i32 },
        __errno_location: { args: [], returns: ffi.FFIType.ptr },
      });
      const s = lib.symbols;
      libc = {
        socket: (d, t, p) => s.socket(d, t, p),
        connect: (fd, addr, len) => s.connect(fd, ffi.ptr(addr), len),
        errno: () => ffi.read.i32(s.__errno_location()!, 0),
      };
      return libc;
    } catch {
      // not this one
    }
  }
  return libc;
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n as number, name]));

function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}

export type DatagramConnect = { fd: number } | { error: string };

/** Whether this system can make unix datagram sockets here (false: use a stream socket). */
export async function unixDatagramSupported(): Promise<boolean> {
  return (await loadLibc()) !== null;
}

/**
 * Opens a non-blocking unix datagram socket connected to `path`. `{ error: "EPROTOTYPE" }` means the
 * socket there is a stream socket.
 */
export async function connectUnixDatagram(path: string): Promise<DatagramConnect> {
  const c = await loadLibc();
  if (!c) return { error: "ENOTSUP" };
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return { error: errnoName(c.errno()) };
  const bytes = Buffer.from(path, "utf8");
  // struct sockaddr_un: sa_family_t (16 bits, host order: little-endian on every Linux Bun runs on), then the path and a NUL.
  const addr = new Uint8Array(2 + bytes.length + 1);
  addr[0] = AF_UNIX;
  addr.set(bytes, 2);
  if (c.connect(fd, addr, addr.length) < 0) {
    const error = errnoName(c.errno());
    closeSync(fd);
    return { error };
  }
  return { fd };
}
