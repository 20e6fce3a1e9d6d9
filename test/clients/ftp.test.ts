// A real FTP client against the real CLI: curl logs in, the JSON Lines log has the credential, and curl
// gets its "530" only after vsftpd's pause (2.7-3.9 s on a real Debian vsftpd 3.0.3 with PAM).
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, startProcess, tempDir, type Running, readLog } from "../helpers.ts";

let trap: Running | undefined;
afterAll(async () => {
  await trap?.stop();
});

describe("curl against micetrap ftp", () => {
  test(
    "curl's USER/PASS is logged with the password, and refused only after the daemon's pause",
    async () => {
      const log = join(tempDir(), "events.jsonl");
      trap = await startProcess([BUN, "src/cli.ts", "ftp", "0", "--host", "127.0.0.1", "--log", log, "--banner", "vsftpd-3.0.3-debian"]);
      const started = performance.now();
      const curl = Bun.spawn(["curl", "-s", "--max-time", "20", `ftp://alice:s3cret@127.0.0.1:${trap.port}/`], { stdout: "pipe", stderr: "pipe" });
      const code = await curl.exited;
      const took = performance.now() - started;
      // 67: CURLE_LOGIN_DENIED, curl's word for the 530.
      expect(code).toBe(67);
      expect(took).toBeGreaterThanOrEqual(2700);
      expect(took).toBeLessThan(3900 + 1500);

      // The log is written as events happen; give the last lines a moment.
      let lines: Record<string, any>[] = [];
      for (let i = 0; i < 50; i++) {
        lines = readLog(log);
        if (lines.some((l) => l.event?.action === "close")) break;
        await Bun.sleep(50);
      }
      const login = lines.find((l) => l.event?.action === "login");
      expect(login).toBeDefined();
      expect(login!.user.name).toBe("alice");
      expect(login!.micetrap.login.password).toBe("s3cret");
      expect(login!.micetrap.login.method).toBe("ftp");
      expect(login!.event.outcome).toBe("failure");

      // Server side: the login is logged at once, the refusal goes out after the pause.
      const refusal = lines.find((l) => l.event?.action === "data" && l.micetrap?.payload?.direction === "outbound" && String(l.micetrap.payload.text).startsWith("530 Login incorrect."));
      expect(refusal).toBeDefined();
      const pause = Date.parse(refusal!["@timestamp"]) - Date.parse(login!["@timestamp"]);
      expect(pause).toBeGreaterThanOrEqual(2700 - 5);
      expect(pause).toBeLessThanOrEqual(3900 + 50);
    },
    { timeout: 15_000 },
  );
});
