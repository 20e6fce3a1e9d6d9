// Counters that grow the way a real daemon's do: a MySQL thread id or an smbd pid goes up by one for each
// connection, plus what other clients used since the host booted. Live, they are process state shared by
// every session of the host; replay and check pass the recorded or a derived value instead.
import { bootTime, hostUnit, type HostFacts } from "./facts.ts";

export interface CounterSpec {
  /** Value right after boot (mysqld's first thread id, the pid smbd's children start near). */
  atBoot: number;
  /** Background use per hour of uptime: other clients' connections, other processes' forks. */
  perHour: number;
  /** Random spread of the start, so two hosts booted at the same time still differ. */
  spread?: number;
  /** Largest value before it wraps (pid_max); absent: never wraps. */
  max?: number;
}

/** The counter's value at a real instant, before this process handed out any. */
export function counterBase(h: HostFacts, name: string, spec: CounterSpec, real: Date): number {
  const hours = (real.getTime() - bootTime(h, real).getTime()) / 3_600_000;
  const start = spec.atBoot + Math.floor(hostUnit(h, "counter", name) * (spec.spread ?? 0));
  const v = start + Math.floor(hours * spec.perHour);
  return spec.max !== undefined ? spec.atBoot + ((v - spec.atBoot) % (spec.max - spec.atBoot)) : v;
}

export class HostCounters {
  private readonly served = new Map<string, { base: number; started: number; count: number }>();

  constructor(
    private readonly host: HostFacts,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The next value: one more than the last this process handed out, plus the background since. */
  next(name: string, spec: CounterSpec): number {
    const now = this.clock();
    let c = this.served.get(name);
    if (!c) {
      c = { base: counterBase(this.host, name, spec, now), started: now.getTime(), count: 0 };
      this.served.set(name, c);
    }
    c.count++;
    const background = Math.floor(((now.getTime() - c.started) / 3_600_000) * spec.perHour);
    const v = c.base + background + c.count;
    return spec.max !== undefined ? spec.atBoot + ((v - spec.atBoot) % (spec.max - spec.atBoot)) : v;
  }
}
