// Facts about the real host: its OS family (attackers see the real kernel) and a stable default seed.
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { OsFamily } from "../types.ts";

const RHEL_LIKE = ["rhel", "centos", "fedora", "rocky", "almalinux", "ol", "amzn"];

/** Maps /etc/os-release's ID and ID_LIKE to a family; undefined when nothing fits. */
export function osFamilyFromOsRelease(text: string): OsFamily | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) fields.set(m[1]!, m[2]!.replace(/^["']|["']$/g, "").toLowerCase());
  }
  const ids = [fields.get("ID") ?? "", ...(fields.get("ID_LIKE") ?? "").split(/\s+/)];
  if (ids.some((id) => id === "debian" || id === "ubuntu")) return "debian";
  if (ids.some((id) => RHEL_LIKE.includes(id))) return "rhel";
  return undefined;
}

/** This machine's release as a release id ("debian-12", "ubuntu-14.04", "rhel-7"), when os-release says. */
export function machineRelease(): string | undefined {
  for (const path of ["/etc/os-release", "/usr/lib/os-release"]) {
    try {
      return releaseFromOsRelease(readFileSync(path, "utf8"));
    } catch {
      // not readable here; try the next place
    }
  }
  return undefined;
}

export function releaseFromOsRelease(text: string): string | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) fields.set(m[1]!, m[2]!.replace(/^["']|["']$/g, "").toLowerCase());
  }
  const id = fields.get("ID") ?? "";
  const version = fields.get("VERSION_ID") ?? "";
  if (id === "ubuntu" && /^\d+\.\d+$/.test(version)) return `ubuntu-${version}`;
  const major = version.split(".")[0] ?? "";
  if (!/^\d+$/.test(major)) return undefined;
  if (id === "debian") return `debian-${major}`;
  if (RHEL_LIKE.includes(id)) return `rhel-${major}`;
  return undefined;
}

export function hostOsFamily(): OsFamily {
  switch (process.platform) {
    case "darwin":
      return "macos";
    case "win32":
      return "windows";
    case "freebsd":
      return "freebsd";
    case "linux": {
      for (const path of ["/etc/os-release", "/usr/lib/os-release"]) {
        try {
          const family = osFamilyFromOsRelease(readFileSync(path, "utf8"));
          if (family) return family;
        } catch {
          // not readable here; try the next place
        }
      }
      return "debian"; // the most common Linux family: a reasonable face for an unknown distribution
    }
    default:
      return "debian";
  }
}

/** The host's default seed: hostname plus machine id, so a restart keeps the same face. */
export function hostSeed(): string {
  let machineId = "";
  for (const path of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    if (!existsSync(path)) continue;
    try {
      machineId = readFileSync(path, "utf8").trim();
      break;
    } catch {
      // unreadable: fall back to the hostname alone
    }
  }
  return `${hostname()}|${machineId}`;
}
