// The limits an operator may set, as flags and as the `limits:` keys of a config file (the same names):
// one table, parsed once, with a clear one-line error for a bad value. What each limit means in the
// trap is in src/net/listener.ts (Limits, per port and per session) and src/net/governor.ts
// (ProcessLimits, across the process).
import { UserError } from "../errors.ts";
import { DEFAULT_PROCESS_LIMITS, type ProcessLimits } from "../net/governor.ts";
import { DEFAULT_LIMITS, type Limits } from "../net/listener.ts";

export type AllLimits = Limits & ProcessLimits;

type Unit = "count" | "seconds" | "bytes";

interface LimitSpec {
  key: keyof AllLimits;
  unit: Unit;
  min: number;
  max: number;
  what: string;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** Every limit by its flag name (also its config key). Order is the order of --help. */
export const LIMITS = {
  "idle-timeout": { key: "idleSeconds", unit: "seconds", min: 5, max: 86_400, what: "seconds without a byte from the peer, or with output it does not read, before any session is dropped (services have shorter ones of their own)" },
  "max-lifetime": { key: "maxSessionSeconds", unit: "seconds", min: 10, max: 7 * 86_400, what: "seconds one session may last, however active" },
  "max-sessions": { key: "maxSessions", unit: "count", min: 1, max: 1_000_000, what: "sessions at once per port; more are refused and logged" },
  "max-per-source": { key: "maxPerSource", unit: "count", min: 1, max: 1_000_000, what: "sessions at once per port from one address" },
  "max-total-sessions": { key: "maxTotalSessions", unit: "count", min: 1, max: 1_000_000, what: "sessions at once over every port of the process" },
  "max-rate-per-source": { key: "maxRatePerSource", unit: "count", min: 0, max: 1_000_000, what: "new connections a second from one address (an IPv6 /64), bursts of ten seconds' worth allowed; 0: no limit" },
  "max-out-per-source": { key: "maxOutPerSource", unit: "bytes", min: 0, max: 1024 * GiB, what: "bytes sent to one address (an IPv6 /64) a minute, so the trap amplifies nobody; 0: no limit" },
  "memory-budget": { key: "memoryBudget", unit: "bytes", min: 1 * MiB, max: 1024 * GiB, what: "bytes held for peers across the process (unread output, partial frames); a session that needs more is dropped" },
  "keep-bytes": { key: "keepBytes", unit: "bytes", min: 0, max: 64 * MiB, what: "bytes logged as evidence per session in each direction; the rest is counted" },
  "keep-total": { key: "keepTotal", unit: "bytes", min: 0, max: 128 * MiB, what: "bytes logged as evidence per session, both directions together" },
  "max-bytes-in": { key: "maxBytesIn", unit: "bytes", min: 1 * KiB, max: 1 * GiB, what: "bytes accepted from one session before it is closed" },
  "max-pending-out": { key: "maxPendingOut", unit: "bytes", min: 4 * KiB, max: 1 * GiB, what: "bytes of output waiting for a peer that does not read before it is dropped" },
  "max-commands": { key: "maxCommandsPerSession", unit: "count", min: 0, max: 1_000_000, what: "command events logged per session; the rest are counted in its close event" },
  "max-logins": { key: "maxLoginsPerSession", unit: "count", min: 0, max: 1_000_000, what: "login events logged per session; the rest are counted in its close event" },
} as const satisfies Record<string, LimitSpec>;

export type LimitName = keyof typeof LIMITS;

const DEFAULTS: AllLimits = { ...DEFAULT_LIMITS, ...DEFAULT_PROCESS_LIMITS };

function showBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB}G`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB}M`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB}K`;
  return String(n);
}

function show(spec: LimitSpec, n: number): string {
  return spec.unit === "bytes" ? showBytes(n) : String(n);
}

function hint(unit: Unit): string {
  return unit === "bytes" ? "BYTES" : unit === "seconds" ? "SECONDS" : "N";
}

/** The flags, as citty arguments shared by `micetrap <service>` and `micetrap serve`. */
export const limitArgs = Object.fromEntries(
  Object.entries(LIMITS).map(([name, spec]) => [
    name,
    {
      type: "string",
      description: `${spec.what} (default ${show(spec, DEFAULTS[spec.key])}${name === "max-per-source" ? ", or half of --max-sessions" : ""})`,
      valueHint: hint(spec.unit),
    },
  ]),
) as { [K in LimitName]: { type: "string"; description: string; valueHint: string } };

const BYTES = /^(\d{1,13})\s*(k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const SCALE: Record<string, number> = { k: KiB, m: MiB, g: GiB };

/**
 * One limit's value from its text; `where` says where it was written ("--max-sessions" or
 * "limits.max-sessions"). Byte sizes take K, M and G (binary).
 */
export function parseLimit(name: LimitName, text: string, where = `--${name}`): number {
  const spec: LimitSpec = LIMITS[name];
  const range = `${show(spec, spec.min)} to ${show(spec, spec.max)}`;
  let n: number;
  if (spec.unit === "bytes") {
    const m = BYTES.exec(text.trim());
    if (!m) throw new UserError(`invalid ${where} "${text}": expected a size in bytes, such as 65536, 64K or 16M (${range})`);
    n = Number(m[1]) * (m[2] ? SCALE[m[2][0]!.toLowerCase()]! : 1);
  } else {
    if (!/^\d{1,9}$/.test(text.trim())) throw new UserError(`invalid ${where} "${text}": expected a whole number from ${range}`);
    n = Number(text.trim());
  }
  if (n < spec.min || n > spec.max) throw new UserError(`invalid ${where} ${text.trim()}: expected ${spec.unit === "bytes" ? "a size" : "a whole number"} from ${range}`);
  return n;
}

/** The limits the flags set; absent flags leave the config's or the defaults. */
export function limitsFrom(args: Partial<Record<string, string | boolean | undefined>>): Partial<AllLimits> {
  const out: Partial<AllLimits> = {};
  for (const name of Object.keys(LIMITS) as LimitName[]) {
    const v = args[name];
    if (typeof v === "string") (out as Record<string, number>)[LIMITS[name].key] = parseLimit(name, v);
  }
  return out;
}

/** The per-source default follows the per-port one: half of it, so another source always finds room. */
export function completeLimits(given: Partial<AllLimits>): Partial<AllLimits> {
  if (given.maxSessions !== undefined && given.maxPerSource === undefined) return { ...given, maxPerSource: Math.max(1, Math.floor(given.maxSessions / 2)) };
  return given;
}
