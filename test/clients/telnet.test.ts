// The real Debian telnet client (inetutils), driven by expect, against the real CLI: it must negotiate
// through netkit's opening to the login prompt, be refused with "Login incorrect", and the JSON Lines log
// must hold the login with its password and the terminal type the client named; on a BusyBox face it must
// reach the fake shell, whose lines are logged as commands.
import { describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const TELNET = Bun.which("telnet");
const EXPECT = Bun.which("expect");

async function runExpect(script: string, port: number): Promise<{ code: number | null; out: string }> {
  const dir = tempDir("telnet-client-");
  const file = join(dir, "session.exp");
  writeFileSync(file, script);
  const proc = Bun.spawn([EXPECT!, file, String(port)], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, TERM: "vt100", HOME: dir } });
  const timer = setTimeout(() => proc.kill("SIGKILL"), 30_000);
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, out: out + err };
}

// expect exits 0 only when every step saw what it waited for; a timeout exits 3. ^C at login's prompt
// is echoed by the pty, and login dies of it (inetutils telnetd + shadow's login on Debian 12 do the same).
// (A braced pattern list must span lines: on one line expect takes the whole list for one pattern.)
const REFUSED = `
set timeout 15
spawn ${TELNET} 127.0.0.1 [lindex $argv 0]
expect {
  timeout { exit 3 }
  "login: "
}
send "root\\r"
expect {
  timeout { exit 3 }
  "Password: "
}
send "hunter2\\r"
expect {
  timeout { exit 3 }
  "Login incorrect"
}
expect {
  timeout { exit 3 }
  "login: "
}
send "\\003"
expect {
  timeout { exit 3 }
  -ex "^C"
}
expect {
  timeout { exit 3 }
  eof
}
exit 0
`;

const SHELL = `
set timeout 15
spawn ${TELNET} 127.0.0.1 [lindex $argv 0]
expect {
  timeout { exit 3 }
  "login: "
}
send "admin\\r"
expect {
  timeout { exit 3 }
  "Password: "
}
send "xc3511\\r"
expect {
  timeout { exit 3 }
  "# "
}
send "/bin/busybox MIRAI\\r"
expect {
  timeout { exit 3 }
  "MIRAI: applet not found"
}
expect {
  timeout { exit 3 }
  "# "
}
send "exit\\r"
expect {
  timeout { exit 3 }
  eof
}
exit 0
`;

describe("the telnet client against micetrap telnet", () => {
  test("telnet and expect are installed (scripts/test.sh installs telnet and expect)", () => {
    expect(TELNET).toBeDefined();
    expect(EXPECT).toBeDefined();
  });

  test("linux-telnetd-debian11: negotiated, prompted, refused with Login incorrect; the password is logged", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "telnet", "0", "--host", "127.0.0.1", "--banner", "linux-telnetd-debian11", "--log", logFile]);
    let r: { code: number | null; out: string };
    try {
      r = await runExpect(REFUSED, t.port);
      await Bun.sleep(200); // the JSONL sink writes as events come; give the last line time to land
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    expect(r.code).toBe(0);
    expect(r.out).toContain("Debian GNU/Linux 11");
    expect(r.out).not.toContain("hunter2");
    const logins = readLog(logFile).filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    const login = logins[0];
    expect(login.user.name).toBe("root");
    expect(login.event.outcome).toBe("failure");
    expect(login.micetrap.login.method).toBe("telnet");
    expect(login.micetrap.login.password).toBe("hunter2");
    // The client named the terminal it runs in (TERM, upper-cased by the client).
    expect(login.micetrap.client.terminal).toBe("VT100");
  });

  test("busybox-telnetd-1.19: a default password opens the fake shell; the applet check is answered and logged", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const t = await startProcess([BUN, "src/cli.ts", "telnet", "0", "--host", "127.0.0.1", "--banner", "busybox-telnetd-1.19", "--log", logFile]);
    let r: { code: number | null; out: string };
    try {
      r = await runExpect(SHELL, t.port);
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    expect(r.code).toBe(0);
    const events = readLog(logFile);
    const logins = events.filter((e) => e.event.action === "login");
    expect(logins.map((e) => `${e.user.name}:${e.micetrap.login.password}`)).toEqual(["admin:xc3511"]);
    expect(events.filter((e) => e.event.action === "command").map((e) => e.micetrap.command)).toEqual(["/bin/busybox MIRAI", "exit"]);
  });
});
