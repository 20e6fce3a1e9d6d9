// A small MaxMind DB (MMDB 2.0) writer for the tests, written from the format's specification
// (maxmind.github.io/MaxMind-DB): an IPv6 search tree of 24-bit records, a data section of the values,
// and the metadata map after "\xAB\xCD\xEFMaxMind.com". Enough for a few networks and the value types
// GeoIP2 and ASN records use (maps, arrays, strings, doubles, unsigned integers, booleans).
import { isIPv4 } from "node:net";

export type MmdbValue = string | number | boolean | MmdbValue[] | { [k: string]: MmdbValue } | { uint: number; bytes?: 2 | 4 | 8 };

function control(type: number, size: number): number[] {
  const out: number[] = [];
  let sizeBits: number;
  const extra: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    extra.push(size - 29);
  } else if (size < 285 + 65536) {
    sizeBits = 30;
    extra.push(((size - 285) >> 8) & 0xff, (size - 285) & 0xff);
  } else {
    sizeBits = 31;
    const s = size - 65821;
    extra.push((s >> 16) & 0xff, (s >> 8) & 0xff, s & 0xff);
  }
  if (type <= 7) out.push((type << 5) | sizeBits);
  else out.push(sizeBits, type - 7); // extended type: 0 in the top bits, the type less 7 in the next byte
  return [...out, ...extra];
}

function uintBytes(v: number, width: number): number[] {
  const b: number[] = [];
  let n = BigInt(v);
  while (n > 0n) {
    b.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  if (b.length > width) throw new Error(`${v} does not fit ${width} bytes`);
  return b;
}

/** One value in the data section's encoding. Integers are uint32 (type 6), or the width asked for. */
export function encode(v: MmdbValue): number[] {
  if (typeof v === "string") {
    const b = [...new TextEncoder().encode(v)];
    return [...control(2, b.length), ...b];
  }
  if (typeof v === "boolean") return control(14, v ? 1 : 0);
  if (typeof v === "number") {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) {
      const b = uintBytes(v, 4);
      return [...control(6, b.length), ...b];
    }
    const buf = Buffer.alloc(8);
    buf.writeDoubleBE(v);
    return [...control(3, 8), ...buf];
  }
  if (Array.isArray(v)) return [...control(11, v.length), ...v.flatMap(encode)];
  if ("uint" in v && typeof v.uint === "number") {
    const width = typeof v.bytes === "number" ? v.bytes : 4;
    const b = uintBytes(v.uint, width);
    return [...control(width === 2 ? 5 : width === 4 ? 6 : 9, b.length), ...b];
  }
  const entries = Object.entries(v);
  return [...control(7, entries.length), ...entries.flatMap(([k, x]) => [...encode(k), ...encode(x)])];
}

/** The 128 bits of an address (IPv4 as ::a.b.c.d, where an IPv6 tree keeps IPv4), most significant first. */
function bits(ip: string): number[] {
  let bytes: number[];
  if (isIPv4(ip)) bytes = [...new Array(12).fill(0), ...ip.split(".").map(Number)];
  else {
    const [head, tail] = ip.includes("::") ? ip.split("::") : [ip, undefined];
    const h = head ? head.split(":") : [];
    const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
    const groups = [...h, ...new Array(8 - h.length - t.length).fill("0"), ...t].map((g) => parseInt(g, 16));
    bytes = groups.flatMap((g) => [g >> 8, g & 0xff]);
  }
  return bytes.flatMap((b) => [7, 6, 5, 4, 3, 2, 1, 0].map((i) => (b >> i) & 1));
}

interface TrieNode {
  kids: [TrieNode | number | undefined, TrieNode | number | undefined]; // a node, or a data index
}

/**
 * A database mapping each network ("127.0.0.0/8", "::1/128"; IPv4 prefixes count IPv4 bits) to a record.
 * Networks must not nest. `databaseType` is what the metadata says ("GeoLite2-City", "GeoLite2-ASN").
 */
export function writeMmdb(networks: [string, MmdbValue][], databaseType: string): Buffer {
  const root: TrieNode = { kids: [undefined, undefined] };
  const data: number[] = [];
  const offsets: number[] = [];
  networks.forEach(([net, value], i) => {
    offsets.push(data.length);
    data.push(...encode(value));
    const [ip, len] = net.split("/") as [string, string];
    const prefix = isIPv4(ip) ? 96 + Number(len) : Number(len);
    const path = bits(ip).slice(0, prefix);
    let node = root;
    for (let d = 0; d < path.length - 1; d++) {
      const b = path[d]!;
      let next = node.kids[b];
      if (typeof next === "number") throw new Error(`${net} nests in another network`);
      if (next === undefined) node.kids[b] = next = { kids: [undefined, undefined] };
      node = next;
    }
    node.kids[path[path.length - 1]!] = i;
  });
  // Number the nodes breadth first; node 0 is the root.
  const order: TrieNode[] = [];
  const index = new Map<TrieNode, number>();
  const queue: TrieNode[] = [root];
  while (queue.length > 0) {
    const n = queue.shift()!;
    index.set(n, order.length);
    order.push(n);
    for (const k of n.kids) if (k !== undefined && typeof k !== "number") queue.push(k);
  }
  const nodeCount = order.length;
  const record = (k: TrieNode | number | undefined): number => (k === undefined ? nodeCount : typeof k === "number" ? nodeCount + 16 + offsets[k]! : index.get(k)!);
  const tree: number[] = [];
  for (const n of order) for (const k of n.kids) {
    const r = record(k);
    tree.push((r >> 16) & 0xff, (r >> 8) & 0xff, r & 0xff);
  }
  const metadata = encode({
    node_count: { uint: nodeCount, bytes: 4 },
    record_size: { uint: 24, bytes: 2 },
    ip_version: { uint: 6, bytes: 2 },
    database_type: databaseType,
    languages: ["en"],
    binary_format_major_version: { uint: 2, bytes: 2 },
    binary_format_minor_version: { uint: 0, bytes: 2 },
    build_epoch: { uint: 1_700_000_000, bytes: 8 },
    description: { en: "micetrap test database" },
  });
  const marker = [0xab, 0xcd, 0xef, ...new TextEncoder().encode("MaxMind.com")];
  return Buffer.from([...tree, ...new Array(16).fill(0), ...data, ...marker, ...metadata]);
}
