// Host facts: one story per seed, names that rarely collide, a clock of the host's own (zone, error), and
// counters that grow by one per connection the way a daemon's do.
import { describe, expect, test } from "bun:test";
import { HostCounters } from "../src/host/counters.ts";
import { bootTime, hostFacts, localTime, uptimeSeconds, utcOffsetMinutes } from "../src/host/facts.ts";
import { BUN, ROOT } from "./helpers.ts";

describe("host facts", () => {
  test("the same seed gives the same host; names follow the family's habits", () => {
    const a = hostFacts({ seed: "alpha", family: "debian" });
    expect(hostFacts({ seed: "alpha", family: "debian" })).toEqual(a);
    expect(a.fqdn).toBe(`${a.hostname.toLowerCase()}.${a.domain}`);
    expect(a.netbiosName).toMatch(/^[A-Z0-9_-]{1,15}$/);
    for (let i = 0; i < 200; i++) {
      const w = hostFacts({ seed: `w${i}`, family: "windows" });
      expect(w.hostname).toMatch(/^[A-Z0-9-]+$/); // Windows names are shown upper case
      const l = hostFacts({ seed: `l${i}`, family: "rhel" });
      expect(l.hostname).toMatch(/^[a-z0-9][a-z0-9-]*$/);
      expect(l.domain).toMatch(/^[a-z0-9.-]+\.[a-z]+$/);
    }
  });

  test("20,000 hosts: names rarely collide (unlike a 12-word list)", () => {
    const names = new Set<string>();
    const fqdns = new Set<string>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const h = hostFacts({ seed: `seed-${i}`, family: "debian" });
      names.add(h.hostname);
      fqdns.add(h.fqdn);
    }
    // Short names repeat across organisations (there are many "web01"s in the world); full names do not.
    expect(names.size).toBeGreaterThan(n * 0.25);
    expect(fqdns.size).toBeGreaterThan(n * 0.995);
  });

  test("time zone, clock error and boot time are the host's, not the process's", () => {
    const h = { ...hostFacts({ seed: "tz", family: "debian" }), timeZone: "America/New_York", clockSkewMs: -30_000 };
    const summer = new Date("2024-07-01T12:00:00Z");
    const winter = new Date("2024-01-01T12:00:00Z");
    expect(utcOffsetMinutes(h, summer)).toBe(-240);
    expect(utcOffsetMinutes(h, winter)).toBe(-300);
    // Across the spring change (2024-03-10 07:00 UTC) minute by minute, forth and back: the offset follows.
    const change = Date.UTC(2024, 2, 10, 7, 0, 0);
    for (const [at, offset] of [
      [change - 60_000, -300],
      [change - 1, -300],
      [change, -240],
      [change + 59_999, -240],
      [change - 1, -300],
      [change + 1, -240],
    ] as const)
      expect({ at, offset: utcOffsetMinutes(h, new Date(at)) }).toEqual({ at, offset });
    // 12:00 UTC is 08:00 in New York in July; the host's clock is 30 s slow.
    expect(localTime(h, summer)).toMatchObject({ hour: 7, minute: 59, second: 30, day: 1, month: 7 });
    const boot = bootTime(h, summer);
    expect(boot.getTime()).toBeLessThan(summer.getTime() - 600_000);
    expect(summer.getTime() - boot.getTime()).toBeLessThan(h.rebootDays * 86_400_000 + 1);
    // The boot time does not move while the host stays up: an hour later, the same boot, an hour more uptime.
    const later = new Date(summer.getTime() + 3_600_000);
    if (uptimeSeconds(h, summer) + 3600 < h.rebootDays * 86_400) {
      expect(bootTime(h, later).getTime()).toBe(boot.getTime());
      expect(uptimeSeconds(h, later) - uptimeSeconds(h, summer)).toBe(3600);
    }
  });

  test("the process's TZ changes nothing", () => {
    const code = `import { hostFacts, localTime } from "./src/host/facts.ts";
      const h = hostFacts({ seed: "tz-check", family: "debian" });
      console.log(JSON.stringify([h.timeZone, localTime(h, new Date("2024-03-05T07:08:09Z"))]));`;
    const outputs = ["UTC", "Asia/Tokyo", "America/Los_Angeles"].map((tz) => {
      const r = Bun.spawnSync([BUN, "-e", code], { cwd: ROOT, env: { ...process.env, TZ: tz } });
      return r.stdout.toString().trim();
    });
    expect(outputs[0]).not.toBe("");
    expect(new Set(outputs).size).toBe(1);
  });

  test("a counter grows by one per connection, plus the host's other use over time", () => {
    const h = hostFacts({ seed: "counters", family: "debian" });
    let now = new Date("2024-03-05T07:08:09Z");
    const c = new HostCounters(h, () => now);
    const spec = { atBoot: 1, perHour: 4, spread: 30 };
    const first = c.next("mysqld.thread", spec);
    expect(c.next("mysqld.thread", spec)).toBe(first + 1);
    expect(c.next("mysqld.thread", spec)).toBe(first + 2);
    now = new Date(now.getTime() + 3_600_000); // an hour of other clients
    expect(c.next("mysqld.thread", spec)).toBe(first + 3 + 4);
    // A new process on the same host an hour later starts where the host's count stands, not at 1.
    expect(new HostCounters(h, () => now).next("mysqld.thread", spec)).toBeGreaterThan(first);
    // pids wrap at pid_max
    const pid = { atBoot: 900, perHour: 1_000_000, max: 32768 };
    const p = new HostCounters(h, () => now).next("pid", pid);
    expect(p).toBeGreaterThanOrEqual(900);
    expect(p).toBeLessThan(32768);
  });
});

describe("the machine's own release picks the default persona", () => {
  test("os-release names map to release ids", async () => {
    const { releaseFromOsRelease } = await import("../src/host/machine.ts");
    expect(releaseFromOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n')).toBe("debian-12");
    expect(releaseFromOsRelease('ID=ubuntu\nID_LIKE=debian\nVERSION_ID="14.04"\n')).toBe("ubuntu-14.04");
    expect(releaseFromOsRelease('ID="centos"\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n')).toBe("rhel-7");
    expect(releaseFromOsRelease('ID="rocky"\nVERSION_ID="8.9"\n')).toBe("rhel-8");
    expect(releaseFromOsRelease('ID=arch\n')).toBeUndefined();
  });

  test("serve with no persona and no config runs the persona of this machine's release, else of its family", async () => {
    const { defaultPersona, personas } = await import("../src/host/personas.ts");
    const { machineRelease, hostOsFamily } = await import("../src/host/machine.ts");
    const { parseOsName } = await import("../src/host/releases.ts");
    const chosen = defaultPersona();
    const release = machineRelease();
    const exact = [...personas().values()].find((p) => p.os === release);
    if (exact) expect(chosen.name).toBe(exact.name!);
    else expect(parseOsName(chosen.os!)!.family).toBe(hostOsFamily());
  });
});
