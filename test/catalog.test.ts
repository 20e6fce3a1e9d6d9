import { describe, expect, test } from "bun:test";
import { allEntries, findEntry, resolveService, serviceEntries } from "../src/catalog/index.ts";
import { chooseEntry, RELEASES } from "../src/catalog/choose.ts";
import { osFamilyFromOsRelease } from "../src/host/machine.ts";
import { SERVICES } from "../src/services/index.ts";
import type { CatalogEntry } from "../src/types.ts";
import { BUN, ROOT } from "./helpers.ts";

describe("banner catalog", () => {
  test("holds at least 20 entries, at least 4 per service over at least 3 OS families", () => {
    expect(allEntries().length).toBeGreaterThanOrEqual(20);
    for (const s of SERVICES) {
      const entries = serviceEntries(s);
      expect(entries.length).toBeGreaterThanOrEqual(4);
      expect(new Set(entries.map((e) => e.os)).size).toBeGreaterThanOrEqual(3);
    }
  });

  test("ids are unique across services", () => {
    const ids = allEntries().map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("aliases resolve to their services", () => {
    expect(resolveService("smb")).toBe("samba");
    expect(resolveService("bittorrent")).toBe("torrent");
    expect(resolveService("FTP")).toBe("ftp");
    expect(resolveService("gopher")).toBeUndefined();
  });
});

const A_RELEASE: Record<CatalogEntry["os"], string> = { debian: "debian-7", rhel: "rhel-6", freebsd: "freebsd-9", macos: "macos-10.5", windows: "windows-2003", embedded: "busybox-1.19", cisco: "ios-12.4" };

function fakeEntry(id: string, os: CatalogEntry["os"], weight = 1, releases = [A_RELEASE[os]]): CatalogEntry {
  return { id, service: "ftp", product: id, version: "1", os, releases, cpe: [], ports: [21], weight, templates: {} };
}

describe("OS releases", () => {
  test("a host draws its faces from its own release: an Ubuntu face never lands on a Debian release", () => {
    for (let i = 0; i < 300; i++) {
      const e = chooseEntry(serviceEntries("http"), `r${i}`, { family: "debian", release: "debian-7" });
      expect(e.releases).toContain("debian-7");
      const u = chooseEntry(serviceEntries("http"), `r${i}`, { family: "debian", release: "ubuntu-14.04" });
      expect(u.releases).toContain("ubuntu-14.04");
    }
  });

  test("a release without a face for a service gets the nearest release's faces: same family, nearest year", () => {
    const pool = [fakeEntry("old", "debian", 1, ["debian-4"]), fakeEntry("mid", "debian", 1, ["debian-7"]), fakeEntry("bsd", "freebsd", 1, ["freebsd-9"])];
    for (let i = 0; i < 50; i++) {
      expect(chooseEntry(pool, `n${i}`, { family: "debian", release: "debian-8" }).id).toBe("mid"); // 2015: 2013 is nearer than 2007
      expect(chooseEntry(pool, `n${i}`, { family: "debian", release: "debian-5" }).id).toBe("old"); // 2009: 2007 is nearer
      expect(chooseEntry(pool, `n${i}`, { family: "rhel", release: "rhel-6" }).id).toBe("mid"); // kin Linux before BSD
    }
  });

  test("every shipped release is named by at least one entry, and release ids resolve", () => {
    const named = new Set(allEntries().flatMap((e) => e.releases));
    for (const r of RELEASES) expect(named.has(r.id)).toBe(true);
  });
});

describe("seeded choice", () => {
  const pool = [fakeEntry("a", "debian"), fakeEntry("b", "debian"), fakeEntry("c", "debian"), fakeEntry("d", "rhel"), fakeEntry("w", "windows")];

  test("the same seed and OS always give the same entry", () => {
    for (let i = 0; i < 50; i++) {
      const seed = `host-${i}`;
      expect(chooseEntry(pool, seed, "debian").id).toBe(chooseEntry([...pool].reverse(), seed, "debian").id);
    }
  });

  test("only entries of the host's OS family are chosen", () => {
    for (let i = 0; i < 100; i++) {
      expect(chooseEntry(pool, `s${i}`, "debian").os).toBe("debian");
      expect(chooseEntry(pool, `s${i}`, "rhel").id).toBe("d");
    }
  });

  test("an OS family with no entry gets its nearest kin, never a face of the other kind of OS", () => {
    for (let i = 0; i < 200; i++) {
      expect(chooseEntry(pool, `k${i}`, "macos").os).toBe("debian"); // macos → freebsd (none) → debian
      expect(chooseEntry(pool, `k${i}`, "freebsd").os).toBe("debian");
    }
    const unixOnly = [fakeEntry("u", "debian")];
    expect(chooseEntry(unixOnly, "x", "windows").id).toBe("u"); // nothing else at all: still a face
    const windowsAndRhel = [fakeEntry("w", "windows"), fakeEntry("r", "rhel")];
    for (let i = 0; i < 200; i++) expect(chooseEntry(windowsAndRhel, `k${i}`, "macos").id).toBe("r");
  });

  test("every service has a face of the host's own kind for every OS family", () => {
    for (const s of SERVICES) {
      for (const os of ["debian", "rhel", "freebsd", "macos"] as const) {
        for (let i = 0; i < 50; i++) expect(chooseEntry(serviceEntries(s), `h${i}`, os).os).not.toBe("windows");
      }
    }
  });

  test("different seeds spread over the entries, in proportion to weight", () => {
    const weighted = [fakeEntry("old", "debian", 3), fakeEntry("new", "debian", 1)];
    const counts = { old: 0, new: 0 } as Record<string, number>;
    for (let i = 0; i < 4000; i++) counts[chooseEntry(weighted, `seed-${i}`, "debian").id]!++;
    // Expected 3000 : 1000. Binomial sd is ~27, so ±150 fails only on a broken weighting.
    expect(counts.old!).toBeGreaterThan(2850);
    expect(counts.old!).toBeLessThan(3150);
    const even = { a: 0, b: 0, c: 0 } as Record<string, number>;
    for (let i = 0; i < 3000; i++) even[chooseEntry(pool, `seed-${i}`, "debian").id]!++;
    for (const n of Object.values(even)) expect(n).toBeGreaterThan(850);
  });

  test("adding an entry only moves the hosts the new entry wins", () => {
    const grown = [...pool, fakeEntry("e", "debian")];
    for (let i = 0; i < 300; i++) {
      const before = chooseEntry(pool, `h${i}`, "debian").id;
      const after = chooseEntry(grown, `h${i}`, "debian").id;
      if (after !== "e") expect(after).toBe(before);
    }
  });

  test("the choice is the same in another process (no per-process state)", () => {
    const seeds = ["alpha", "bravo", "charlie", "delta"];
    const here = seeds.map((s) => SERVICES.map((svc) => chooseEntry(serviceEntries(svc), s, "debian").id).join(","));
    const code = `import { chooseEntry } from "./src/catalog/choose.ts"; import { serviceEntries } from "./src/catalog/index.ts";
      const S = ${JSON.stringify(SERVICES)}; console.log(JSON.stringify(${JSON.stringify(seeds)}.map(s => S.map(v => chooseEntry(serviceEntries(v), s, "debian").id).join(","))));`;
    const r = Bun.spawnSync([BUN, "-e", code], { cwd: ROOT });
    expect(JSON.parse(r.stdout.toString())).toEqual(here);
  });

  test("a pinned id is found", () => {
    const first = allEntries()[0]!;
    expect(findEntry(first.id)).toBe(first);
    expect(findEntry("no-such-entry")).toBeUndefined();
  });
});

describe("host OS family from /etc/os-release", () => {
  test("Debian, Ubuntu and derivatives are debian", () => {
    expect(osFamilyFromOsRelease('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n')).toBe("debian");
    expect(osFamilyFromOsRelease("ID=ubuntu\nID_LIKE=debian\n")).toBe("debian");
    expect(osFamilyFromOsRelease('ID=linuxmint\nID_LIKE="ubuntu debian"\n')).toBe("debian");
  });
  test("RHEL, CentOS, Rocky, Alma and Fedora are rhel", () => {
    expect(osFamilyFromOsRelease('ID="rhel"\nID_LIKE="fedora"\n')).toBe("rhel");
    expect(osFamilyFromOsRelease('ID="rocky"\nID_LIKE="rhel centos fedora"\n')).toBe("rhel");
    expect(osFamilyFromOsRelease("ID=fedora\n")).toBe("rhel");
  });
  test("an unknown distribution gives no family", () => {
    expect(osFamilyFromOsRelease("ID=alpine\n")).toBeUndefined();
  });
});
