// A trap bound to a low port as root gives the rights up at once: attacker bytes are never handled as root.
import { readFileSync } from "node:fs";
import { UserError } from "../errors.ts";

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

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
      throw new UserError(`cannot read /etc/passwd to find user "${spec}": give --user as UID:GID`);
    }
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === spec && f.length >= 4) return { name: spec, uid: Number(f[2]), gid: Number(f[3]) };
  }
  throw new UserError(`unknown user "${spec}" for --user`);
}

/** Switches the process to the account; groups first, then gid, then uid (the order that can work). */
export function dropPrivileges(account: Account): void {
  process.setgroups?.([account.gid]);
  process.setgid?.(account.gid);
  process.setuid?.(account.uid);
  if (process.getuid?.() !== account.uid) throw new UserError(`could not switch to user ${account.name}`);
}
