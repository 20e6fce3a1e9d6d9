// The typed schema of a service's templates: every catalog entry is parsed against it at load, and the
// session code gets the parsed, typed value. One encoding convention holds for every service:
//   keys are camelCase; reply texts are strings with {{placeholders}}; numbers are JSON numbers; bit masks
//   are "0x…" hex strings; yes/no settings are JSON booleans; lists are JSON arrays; keyed tables (commands,
//   per-status pages) are JSON objects of strings; a fixed set of choices is a string from that set.

/** Where a value sits, for the one-line error: "fixtures/services/ftp.json: entry vsftpd-2.3.4: templates.banner". */
export class SchemaError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = "SchemaError";
  }
}

export interface Field<T> {
  /** One word for the documentation and errors: "text", "whole number", … */
  readonly kind: string;
  readonly doc: string;
  /** True when the key may be absent from an entry. */
  readonly optional: boolean;
  parse(value: unknown, path: string): T;
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  return String(v);
}

function field<T>(kind: string, doc: string, parse: (value: unknown, path: string) => T): Field<T> {
  return { kind, doc, optional: false, parse };
}

/** The same field, allowed to be absent (then undefined). */
export function optional<T>(f: Field<T>): Field<T | undefined> {
  return { ...f, optional: true, parse: (v, p) => (v === undefined ? undefined : f.parse(v, p)) };
}

/** The same field, allowed to be absent (then `fallback`). */
export function withDefault<T>(f: Field<T>, fallback: T): Field<T> {
  return { ...f, optional: true, doc: `${f.doc} (default ${JSON.stringify(fallback)})`, parse: (v, p) => (v === undefined ? fallback : f.parse(v, p)) };
}

export const t = {
  /** Text; with `pattern`, text of that shape (`what` names the shape in errors). */
  text(doc: string, pattern?: RegExp, what?: string): Field<string> {
    return field("text", doc, (v, p) => {
      if (typeof v !== "string") throw new SchemaError(p, `expected text, got ${describe(v)}`);
      if (pattern && !pattern.test(v)) throw new SchemaError(p, `expected ${what ?? `text matching ${pattern.source}`}, got ${describe(v)}`);
      return v;
    });
  },
  /** Raw bytes written as hex text ("0000000000100005"), exactly `n` of them. */
  hexBytes(doc: string, n: number): Field<Uint8Array> {
    return field(`${n} bytes in hex`, doc, (v, p) => {
      if (typeof v !== "string" || !new RegExp(`^[0-9a-fA-F]{${2 * n}}$`).test(v)) throw new SchemaError(p, `expected ${n} bytes as ${2 * n} hex digits, got ${describe(v)}`);
      return Uint8Array.from(Buffer.from(v, "hex"));
    });
  },
  /** An object of whole numbers (message ids and the like). */
  numbers(doc: string): Field<Record<string, number>> {
    return field("table of whole numbers", doc, (v, p) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SchemaError(p, `expected an object of whole numbers, got ${describe(v)}`);
      const out: Record<string, number> = {};
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== "number" || !Number.isInteger(x) || x < 0) throw new SchemaError(`${p}.${k}`, `expected a whole number, got ${describe(x)}`);
        out[k] = x;
      }
      return out;
    });
  },
  int(doc: string, min = 0, max = Number.MAX_SAFE_INTEGER): Field<number> {
    return field("whole number", doc, (v, p) => {
      if (typeof v !== "number" || !Number.isInteger(v)) throw new SchemaError(p, `expected a whole number, got ${describe(v)}`);
      if (v < min || v > max) throw new SchemaError(p, `expected a whole number from ${min} to ${max}, got ${v}`);
      return v;
    });
  },
  /** A bit mask, written "0x…" so it reads like the daemon's source. */
  flags(doc: string, bits = 32): Field<number> {
    return field("hex bit mask", doc, (v, p) => {
      if (typeof v !== "string" || !/^0x[0-9a-fA-F]{1,16}$/.test(v)) throw new SchemaError(p, `expected a "0x…" hex bit mask, got ${describe(v)}`);
      const n = Number.parseInt(v.slice(2), 16);
      if (n >= 2 ** bits) throw new SchemaError(p, `expected at most ${bits} bits, got ${v}`);
      return n;
    });
  },
  /**
   * A duration in milliseconds: a number, or [min, max] for one drawn per use (a daemon's pause varies).
   * Keys end in Ms. Bounded to a day.
   */
  ms(doc: string): Field<MsRange> {
    const one = (v: unknown, p: string): number => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 86_400_000) throw new SchemaError(p, `expected milliseconds from 0 to 86400000, got ${describe(v)}`);
      return v;
    };
    return field("milliseconds or [min, max]", doc, (v, p) => {
      if (Array.isArray(v)) {
        if (v.length !== 2) throw new SchemaError(p, `expected [min, max], got a list of ${v.length}`);
        const min = one(v[0], `${p}[0]`);
        const max = one(v[1], `${p}[1]`);
        if (max < min) throw new SchemaError(p, `expected [min, max] with min <= max, got [${min}, ${max}]`);
        return { min, max };
      }
      const n = one(v, p);
      return { min: n, max: n };
    });
  },
  bool(doc: string): Field<boolean> {
    return field("true or false", doc, (v, p) => {
      if (typeof v !== "boolean") throw new SchemaError(p, `expected true or false, got ${describe(v)}`);
      return v;
    });
  },
  list(doc: string): Field<string[]> {
    return field("list of text", doc, (v, p) => {
      if (!Array.isArray(v)) throw new SchemaError(p, `expected a list, got ${describe(v)}`);
      return v.map((x, i) => {
        if (typeof x !== "string") throw new SchemaError(`${p}[${i}]`, `expected text, got ${describe(x)}`);
        return x;
      });
    });
  },
  /** An object whose values are text: a command table, per-status pages. `keys` and `values` restrict them. */
  table(doc: string, keys?: RegExp, values?: RegExp): Field<Record<string, string>> {
    return field("table of text", doc, (v, p) => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new SchemaError(p, `expected an object of text, got ${describe(v)}`);
      const out: Record<string, string> = {};
      for (const [k, x] of Object.entries(v)) {
        if (keys && !keys.test(k)) throw new SchemaError(`${p}.${k}`, `key does not fit ${keys.source}`);
        if (typeof x !== "string") throw new SchemaError(`${p}.${k}`, `expected text, got ${describe(x)}`);
        if (values && !values.test(x)) throw new SchemaError(`${p}.${k}`, `expected text matching ${values.source}, got ${describe(x)}`);
        out[k] = x;
      }
      return out;
    });
  },
  oneOf<const V extends string>(doc: string, values: readonly V[]): Field<V> {
    return field(values.join(" | "), doc, (v, p) => {
      if (typeof v !== "string" || !(values as readonly string[]).includes(v))
        throw new SchemaError(p, `expected one of ${values.join(", ")}, got ${describe(v)}`);
      return v as V;
    });
  },
};

/** "a.b" inside an object; "file: entry x: key" where the path ends a sentence part with a colon. */
function join(path: string, key: string): string {
  return path.endsWith(":") ? `${path} ${key}` : `${path}.${key}`;
}

/** A duration, fixed (min = max) or drawn between min and max. */
export interface MsRange {
  min: number;
  max: number;
}

/** One duration from a range, drawn with the session's randomness (seeded in replays). */
export function drawMs(range: MsRange, random: (n: number) => Uint8Array): number {
  if (range.max === range.min) return range.min;
  const b = random(4);
  const u = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
  return range.min + Math.floor((u / 2 ** 32) * (range.max - range.min + 1));
}

export type Shape = Record<string, Field<unknown>>;
export type Parsed<S extends Shape> = { [K in keyof S]: S[K] extends Field<infer T> ? T : never };

export interface Schema<T> {
  readonly shape: Shape;
  /** Parses an entry's templates; unknown, missing and mistyped keys throw a SchemaError naming the key. */
  parse(raw: unknown, path: string): T;
  /** One line per key, for `micetrap list --keys` and the contributors' docs. */
  describe(): string[];
}

export function schema<S extends Shape>(shape: S): Schema<Parsed<S>> {
  return {
    shape,
    parse(raw, path) {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new SchemaError(path.replace(/:$/, ""), `expected an object, got ${describe(raw)}`);
      const obj = raw as Record<string, unknown>;
      for (const key of Object.keys(obj)) {
        if (!Object.hasOwn(shape, key)) {
          const near = nearest(key, Object.keys(shape));
          throw new SchemaError(join(path, key), `unknown key${near ? ` (did you mean ${near}?)` : ""}`);
        }
      }
      const out: Record<string, unknown> = {};
      for (const [key, f] of Object.entries(shape)) {
        const v = obj[key];
        if (v === undefined && !f.optional) throw new SchemaError(join(path, key), `missing (${f.kind}: ${f.doc})`);
        out[key] = f.parse(v, join(path, key));
      }
      return out as Parsed<S>;
    },
    describe() {
      return Object.entries(shape).map(([k, f]) => `${k}${f.optional ? "?" : ""} (${f.kind}): ${f.doc}`);
    },
  };
}

/** The closest known key by edit distance, when it is close enough to be a typo. */
function nearest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return bestD <= Math.max(1, Math.floor(key.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}
