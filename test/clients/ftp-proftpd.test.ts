// ProFTPD before login, over TCP to the trap on 127.0.0.1: HELP with a verb, SITE HELP, and mod_copy's
// SITE CPFR/CPTO. The HELP and SITE words were measured on Debian 12's proftpd-core 1.3.8 (the same core
// help table as 1.3.5); the pre-login copy is CVE-2015-3306, which 1.3.5 as Debian 8 shipped it answers to
// anyone: 350 for a path that exists, 550 for one that does not, 250 for a copy into a directory its
// unprivileged user may write.
import { afterAll, describe, expect, test } from "bun:test";
import { findEntry } from "../../src/catalog/index.ts";
import type { Trap } from "../../src/net/listener.ts";
import { connect, startTestTrap, type MemorySink } from "../helpers.ts";

const traps: Trap[] = [];
afterAll(() => {
  for (const t of traps) t.stop();
});

function serve(id: string): { port: number; sink: MemorySink } {
  const { trap, sink } = startTestTrap(findEntry(id)!);
  traps.push(trap);
  return { port: trap.port, sink };
}

/** Sends each command after the previous reply is complete; returns the replies in order. */
async function session(port: number, commands: string[]): Promise<string[]> {
  const c = await connect(port);
  await c.waitFor((t) => t.endsWith("\r\n"));
  const replies: string[] = [];
  let seen = c.text().length;
  for (const cmd of commands) {
    c.send(`${cmd}\r\n`);
    // A reply ends with a line "NNN text" (a space after the code), possibly after several lines.
    await c.waitFor((t) => /(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(t.slice(seen)) && !/\r\n\d{3} [^\r\n]*\r\n\d{3}-/.test(t.slice(seen)), 5000);
    await Bun.sleep(30);
    const now = c.text();
    replies.push(now.slice(seen));
    seen = now.length;
  }
  c.end();
  return replies;
}

describe("ProFTPD 1.3.5 (Debian) before login", () => {
  test("HELP <verb> gives that verb's syntax; an unknown verb is 502 in capitals; HELP alone the command list", async () => {
    const { port } = serve("proftpd-1.3.5-debian");
    const r = await session(port, ["HELP USER", "HELP pass", "HELP CDUP", "help foo", "HELP"]);
    expect(r[0]).toBe("214 Syntax: USER <sp> username\r\n");
    expect(r[1]).toBe("214 Syntax: PASS <sp> password\r\n");
    expect(r[2]).toBe("214 Syntax: CDUP (up one directory)\r\n");
    expect(r[3]).toBe("502 Unknown command 'FOO'\r\n");
    expect(r[4]!.startsWith("214-The following commands are recognized (* =>'s unimplemented):\r\n")).toBe(true);
  }, 20_000);

  test("SITE HELP lists mod_copy's and mod_site's commands; SITE without a word, an unknown word, CHMOD", async () => {
    const { port } = serve("proftpd-1.3.5-debian");
    const r = await session(port, ["SITE HELP", "SITE", "SITE FOO", "SITE CHMOD 777 /tmp"]);
    const help = r[0]!.split("\r\n");
    expect(help[0]).toBe("214-The following SITE commands are recognized (* =>'s unimplemented)");
    expect(help.slice(1, 7)).toEqual([" CPFR <sp> pathname", " CPTO <sp> pathname", " UTIME <sp> YYYYMMDDhhmm[ss] <sp> path", " SYMLINK <sp> source <sp> destination", " RMDIR <sp> path", " MKDIR <sp> path"]);
    expect(r[1]).toBe("500 'SITE' requires parameters\r\n");
    expect(r[2]).toBe("500 'SITE FOO' not understood\r\n");
    expect(r[3]).toBe("530 Please login with USER and PASS\r\n530 Please login with USER and PASS\r\n");
  }, 20_000);

  test("SITE CPFR answers by whether the path exists; CPTO copies into /tmp, not into the web root; every step is logged", async () => {
    const { port, sink } = serve("proftpd-1.3.5-debian");
    const r = await session(port, [
      "SITE CPFR /etc/passwd",
      "SITE CPTO /tmp/.x.php",
      "SITE CPFR /etc/no-such-file",
      "SITE CPTO /tmp/y",
      "SITE CPFR /proc/self/cmdline",
      "SITE CPTO /var/www/html/shell.php",
      "SITE CPFR /tmp/.x.php",
    ]);
    expect(r).toEqual([
      "350 File or directory exists, ready for destination name\r\n",
      "250 Copy successful\r\n",
      "550 /etc/no-such-file: No such file or directory\r\n",
      "503 Bad sequence of commands\r\n",
      "350 File or directory exists, ready for destination name\r\n",
      "550 /var/www/html/shell.php: Permission denied\r\n",
      // The copy made above exists for the rest of the session.
      "350 File or directory exists, ready for destination name\r\n",
    ]);
    const commands = sink.events.filter((e) => e.action === "command").map((e) => (e as { command?: string }).command);
    expect(commands).toContain("SITE CPTO /var/www/html/shell.php");
  }, 20_000);

  test("the FreeBSD ProFTPD 1.3.3c has no mod_copy: HELP <verb> answers, SITE CPFR needs a login", async () => {
    const { port } = serve("proftpd-1.3.3c-freebsd");
    const r = await session(port, ["HELP USER", "SITE CPFR /etc/passwd"]);
    expect(r[0]).toBe("214 Syntax: USER <sp> username\r\n");
    expect(r[1]).toBe("530 Please login with USER and PASS\r\n");
  }, 20_000);
});
