// The limits an operator may set on the command line (and, later, in a config): parsed once, with a clear
// one-line error for a bad value. What each limit means is in src/net/listener.ts (Limits).
import { UserError } from "../errors.ts";
import type { Limits } from "../net/listener.ts";

/** The flags, as citty arguments shared by `micetrap <service>` and `micetrap serve`. */
export const limitArgs = {
  "max-sessions": { type: "string", description: "sessions at once per port (default 1024); more are refused and logged", valueHint: "N" },
  "max-per-source": { type: "string", description: "sessions at once per port from one address (default 512, half the port's)", valueHint: "N" },
  "idle-timeout": { type: "string", description: "seconds of silence before any session is dropped (default 1000; services have shorter ones of their own)", valueHint: "SECONDS" },
} as const;

function whole(flag: string, text: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(text)) throw new UserError(`invalid --${flag} "${text}": expected a whole number from ${min} to ${max}`);
  const n = Number(text);
  if (n < min || n > max) throw new UserError(`invalid --${flag} ${n}: expected a whole number from ${min} to ${max}`);
  return n;
}

/** The limits the flags set; absent flags leave the defaults. */
export function limitsFrom(args: Partial<Record<keyof typeof limitArgs, string | boolean | undefined>>): Partial<Limits> {
  const text = (k: keyof typeof limitArgs) => (typeof args[k] === "string" ? (args[k] as string) : undefined);
  const out: Partial<Limits> = {};
  const maxSessions = text("max-sessions");
  const maxPerSource = text("max-per-source");
  const idle = text("idle-timeout");
  if (maxSessions !== undefined) out.maxSessions = whole("max-sessions", maxSessions, 1, 100_000);
  if (maxPerSource !== undefined) out.maxPerSource = whole("max-per-source", maxPerSource, 1, 100_000);
  if (idle !== undefined) out.idleSeconds = whole("idle-timeout", idle, 5, 86_400);
  return out;
}
