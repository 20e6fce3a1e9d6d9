// mongod's own text form of a BSON document, as its error messages show a command
// ("not authorized on test to execute command { serverStatus: 1.0 }"): keys bare, strings in double
// quotes, doubles always with a decimal point, int32/int64 as plain digits. Read from the raw bytes, so
// a double 1.0 and an int32 1 stay apart (the decoded form cannot tell them apart). Bounded in depth and
// output length; anything malformed ends the text where it stops making sense.
const MAX_DEPTH = 8;

function formatDouble(v: number): string {
  if (Number.isNaN(v)) return "nan.0";
  if (!Number.isFinite(v)) return v > 0 ? "inf.0" : "-inf.0";
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  return String(v);
}

function escape(s: string): string {
  return s.replace(/["\\]/g, (c) => `\\${c}`);
}

/** Renders the document at `at`; `max` bounds the text (the rest is cut, as mongod's log truncation does). */
export function renderDoc(buf: Uint8Array, at = 0, max = 1024): string {
  const out: string[] = [];
  let size = 0;
  const push = (s: string): boolean => {
    out.push(s);
    size += s.length;
    return size < max;
  };
  walk(buf, at, false, 0, push);
  const text = out.join("");
  return text.length > max ? text.slice(0, max) : text;
}

function walk(buf: Uint8Array, at: number, array: boolean, depth: number, push: (s: string) => boolean): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (at + 5 > buf.length) return -1;
  const len = view.getInt32(at, true);
  if (len < 5 || at + len > buf.length) return -1;
  const end = at + len - 1;
  let p = at + 4;
  if (p >= end) {
    push(array ? "[]" : "{}");
    return at + len;
  }
  push(array ? "[ " : "{ ");
  let first = true;
  const dec = new TextDecoder();
  while (p < end) {
    const type = buf[p++]!;
    const nul = buf.indexOf(0, p);
    if (nul < 0 || nul >= end) return -1;
    const key = dec.decode(buf.subarray(p, nul));
    p = nul + 1;
    if (!push(first ? "" : ", ")) return -1;
    first = false;
    if (!array && !push(`${key}: `)) return -1;
    let text: string | undefined;
    switch (type) {
      case 0x01:
        if (p + 8 > end) return -1;
        text = formatDouble(view.getFloat64(p, true));
        p += 8;
        break;
      case 0x02: {
        if (p + 4 > end) return -1;
        const n = view.getInt32(p, true);
        if (n < 1 || p + 4 + n > end) return -1;
        text = `"${escape(dec.decode(buf.subarray(p + 4, p + 4 + n - 1)))}"`;
        p += 4 + n;
        break;
      }
      case 0x03:
      case 0x04: {
        if (depth >= MAX_DEPTH) return -1;
        const next = walk(buf.subarray(0, end), p, type === 0x04, depth + 1, push);
        if (next < 0) return -1;
        p = next;
        break;
      }
      case 0x05: {
        if (p + 5 > end) return -1;
        const n = view.getInt32(p, true);
        if (n < 0 || p + 5 + n > end) return -1;
        const bytes = buf.subarray(p + 5, p + 5 + Math.min(n, 64));
        text = `BinData(${buf[p + 4]}, ${Buffer.from(bytes).toString("hex").toUpperCase()}${n > 64 ? "..." : ""})`;
        p += 5 + n;
        break;
      }
      case 0x07:
        if (p + 12 > end) return -1;
        text = `ObjectId('${Buffer.from(buf.subarray(p, p + 12)).toString("hex")}')`;
        p += 12;
        break;
      case 0x08:
        if (p + 1 > end) return -1;
        text = buf[p] ? "true" : "false";
        p += 1;
        break;
      case 0x09:
        if (p + 8 > end) return -1;
        text = `new Date(${view.getBigInt64(p, true)})`;
        p += 8;
        break;
      case 0x0a:
        text = "null";
        break;
      case 0x10:
        if (p + 4 > end) return -1;
        text = String(view.getInt32(p, true));
        p += 4;
        break;
      case 0x11:
        if (p + 8 > end) return -1;
        text = `Timestamp(${view.getUint32(p + 4, true)}, ${view.getUint32(p, true)})`;
        p += 8;
        break;
      case 0x12:
        if (p + 8 > end) return -1;
        text = String(view.getBigInt64(p, true));
        p += 8;
        break;
      default:
        return -1;
    }
    if (text !== undefined && !push(text)) return -1;
  }
  push(array ? " ]" : " }");
  return at + len;
}
