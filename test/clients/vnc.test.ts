// A real VNC viewer from Debian, vncsnapshot (headless: it connects, authenticates and would save a JPEG),
// against the real CLI: it must be refused ("VNC authentication failed"), and the JSON Lines log must hold a
// login whose John the Ripper line is the DES response of the password in the file the viewer read.
import { describe, expect, test } from "bun:test";
import { createCipheriv } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUN, readLog, startProcess, tempDir } from "../helpers.ts";

const VIEWER = Bun.which("vncsnapshot");

function reversedBits(b: Buffer): Buffer {
  return Buffer.from([...b].map((x) => {
    let r = 0;
    for (let i = 0; i < 8; i++) r |= ((x >> i) & 1) << (7 - i);
    return r;
  }));
}

function desEcb(key: Buffer, data: Buffer): Buffer {
  const c = createCipheriv("des-ecb", key, null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(data), c.final()]);
}

/** A password file as vncpasswd writes it: the password's 8 bytes DES-encrypted under the fixed d3des key. */
function passwordFile(password: string): Buffer {
  const fixed = reversedBits(Buffer.from([23, 82, 107, 6, 35, 78, 88, 7]));
  const pw = Buffer.alloc(8);
  Buffer.from(password).copy(pw, 0, 0, 8);
  return desEcb(fixed, pw);
}

describe("vncsnapshot against micetrap vnc", () => {
  test("vncsnapshot is installed (scripts/test.sh installs it)", () => {
    expect(VIEWER).toBeDefined();
  });

  test("vnc-tigervnc-1.12-debian: refused; the logged $vnc$ line is the response to the password used", async () => {
    const dir = tempDir();
    const logFile = join(dir, "events.jsonl");
    const pwFile = join(dir, "passwd");
    writeFileSync(pwFile, passwordFile("letmein"));
    const t = await startProcess([BUN, "src/cli.ts", "vnc", "0", "--host", "127.0.0.1", "--banner", "vnc-tigervnc-1.12-debian", "--log", logFile]);
    let out = "";
    let code: number | null = null;
    try {
      // vncsnapshot takes host:display; a display of port - 5900 reaches any port above 5900.
      const display = t.port - 5900;
      expect(display).toBeGreaterThan(0);
      const proc = Bun.spawn([VIEWER!, "-passwd", pwFile, `127.0.0.1:${display}`, join(dir, "shot.jpg")], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
      const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
      const [o, e] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
      code = await proc.exited;
      clearTimeout(timer);
      out = o + e;
      await Bun.sleep(200);
    } finally {
      expect(await t.stop("SIGTERM")).toBe(0);
    }
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(out).toContain("VNC authentication failed");
    expect(existsSync(join(dir, "shot.jpg"))).toBe(false);
    const logins = readLog(logFile).filter((e) => e.event.action === "login");
    expect(logins).toHaveLength(1);
    const login = logins[0];
    expect(login.micetrap.login.method).toBe("vnc");
    expect(login.micetrap.login.hash_type).toBe("vnc");
    const m = /^\$vnc\$\*([0-9A-F]{32})\*([0-9A-F]{32})$/.exec(login.micetrap.login.hash);
    expect(m).not.toBeNull();
    const challenge = Buffer.from(m![1]!, "hex");
    const key = reversedBits(Buffer.from("letmein\0"));
    expect(m![2]).toBe(desEcb(key, challenge).toString("hex").toUpperCase());
    expect(m![2]).not.toBe(desEcb(reversedBits(Buffer.from("letmeim\0")), challenge).toString("hex").toUpperCase());
    // vncsnapshot speaks RFB 3.3.
    expect(login.micetrap.client.version).toBe("RFB 003.003");
  });
});
