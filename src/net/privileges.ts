// A trap bound to a low port as root gives the rights up at once: attacker bytes are never handled as root.
import { dlopen, FFIType } from "bun:ffi";
import { readFileSync } from "node:fs";
import { UserError } from "../errors.ts";

const PR_SET_NO_NEW_PRIVS = 38;
/** glibc, then musl's names: the one libc the process already has mapped. */
const LIBC_NAMES = ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1", "libc.musl-aarch64.so.1"];

/**
 * Sets NoNewPrivs (prctl PR_SET_NO_NEW_PRIVS): from here on no execve can gain privileges, through setuid
 * binaries or file capabilities. micetrap never executes anything; this closes the door should a bug ever
 * let input reach an exec. Linux only; false when it could not be set.
 */
export function forbidNewPrivileges(): boolean {
  if (process.platform !== "linux") return false;
  for (const name of LIBC_NAMES) {
    try {
      const libc = dlopen(name, { prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 } });
      try {
        return libc.symbols.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) === 0;
      } finally {
        libc.close();
      }
    } catch {
      // not this libc's name: the next
    }
  }
  return false;
}

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

/**
 * The kernel's overflow ids, which every Linux distribution gives nobody (and nogroup): where no user
 * database names nobody (a container or chroot with no /etc/passwd), nobody is still 65534.
 */
export const NOBODY: Account = { name: "nobody", uid: 65534, gid: 65534 };

/** Looks a user up in /etc/passwd, or takes "UID[:GID]" as numbers. */
export function lookupAccount(spec: string, passwd?: string): Account {
  const numeric = /^(\d+)(?::(\d+))?$/.exec(spec);
  if (numeric) {
    const uid = Number(numeric[1]);
    return { name: spec, uid, gid: numeric[2] !== undefined ? Number(numeric[2]) : uid };
  }
  let text = passwd;
  if (text === undefined) {
    try {
      text = readFileSync("/etc/passwd", "utf8");
    } catch {
      if (spec === NOBODY.name) return NOBODY;
      throw new UserError(`cannot read /etc/passwd to find user "${spec}": give --user as UID:GID`);
    }
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === spec && f.length >= 4) return { name: spec, uid: Number(f[2]), gid: Number(f[3]) };
  }
  if (spec === NOBODY.name) return NOBODY;
  throw new UserError(`unknown user "${spec}" for --user`);
}

/** Switches the process to the account; groups first, then gid, then uid (the order that can work). */
export function dropPrivileges(account: Account): void {
  forbidNewPrivileges();
  process.setgroups?.([account.gid]);
  process.setgid?.(account.gid);
  process.setuid?.(account.uid);
  if (process.getuid?.() !== account.uid) throw new UserError(`could not switch to user ${account.name}`);
}
