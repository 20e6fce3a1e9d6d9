// The ftp daemons' clocks over real TCP, with the real listener: the pause before "Login incorrect" as a
// client measures it, input sent meanwhile answered after it, and a silent client's goodbye then close.
// Expected numbers are the real daemons' (vsftpd 3.0.3 on Debian 12 refused in 2.7-3.9 s; its idle
// goodbye is "421 Timeout.", ProFTPD's "421 Login timeout (N seconds): ..."), never this code's output.
import { afterEach, describe, expect, test } from "bun:test";
import { serviceEntries } from "../src/catalog/index.ts";
import type { Trap } from "../src/net/listener.ts";
import type { FtpTemplates } from "../src/services/ftp/templates.ts";
import type { CatalogEntry } from "../src/types.ts";
import { connect, startTestTrap } from "./helpers.ts";

const entries = serviceEntries("ftp") as CatalogEntry<FtpTemplates>[];
function entry(id: string): CatalogEntry<FtpTemplates> {
  const e = entries.find((x) => x.id === id);
  if (!e) throw new Error(`no entry ${id}`);
  return e;
}

/** A copy of an entry whose daemon is configured with other timeouts (the listener serves the copy it is given). */
function withTemplates(e: CatalogEntry<FtpTemplates>, change: Partial<FtpTemplates>): CatalogEntry<FtpTemplates> {
  return { ...e, templates: { ...e.templates, ...change } };
}

let traps: Trap[] = [];
afterEach(() => {
  for (const t of traps) t.stop();
  traps = [];
});

function serve(e: CatalogEntry<FtpTemplates>): { port: number } {
  const { trap } = startTestTrap(e);
  traps.push(trap);
  return { port: trap.port };
}

describe("ftp timing over TCP", () => {
  test(
    "vsftpd: the 530 comes 2.7-3.9 s after PASS, and a NOOP sent meanwhile is answered after it",
    async () => {
      const { port } = serve(entry("vsftpd-3.0.3-debian"));
      const c = await connect(port);
      await c.waitFor((s) => s.includes("220 (vsFTPd 3.0.3)\r\n"));
      c.send("USER alice\r\n");
      await c.waitFor((s) => s.includes("331 "));
      const before = c.text().length;
      const sent = performance.now();
      c.send("PASS s3cret\r\n");
      c.send("NOOP\r\n");
      await c.waitFor((s) => s.includes("530 Login incorrect.\r\n"), 6000);
      const took = performance.now() - sent;
      expect(took).toBeGreaterThanOrEqual(2700 - 20);
      expect(took).toBeLessThanOrEqual(3900 + 300);
      const after = await c.waitFor((s) => s.slice(before).includes("530 Please login with USER and PASS.\r\n"), 2000);
      expect(after.slice(before)).toBe("530 Login incorrect.\r\n530 Please login with USER and PASS.\r\n");
      c.end();
    },
    { timeout: 10_000 },
  );

  test(
    "a silent client gets the daemon's goodbye when its idle timeout runs out, then the close",
    async () => {
      const { port } = serve(withTemplates(entry("vsftpd-3.0.3-debian"), { idleTimeoutMs: { min: 1500, max: 1500 } }));
      const c = await connect(port);
      const opened = performance.now();
      await c.waitFor((s) => s.includes("220 "));
      await c.waitFor((s) => s.includes("421 Timeout.\r\n"), 4000);
      const at = performance.now() - opened;
      expect(at).toBeGreaterThanOrEqual(1500 - 20);
      expect(at).toBeLessThan(2500);
      await Promise.race([c.closed, Bun.sleep(2000)]);
      expect(c.isClosed()).toBe(true);
      expect(c.text()).toBe("220 (vsFTPd 3.0.3)\r\n421 Timeout.\r\n");
    },
    { timeout: 10_000 },
  );

  test(
    "a command restarts the idle timer; ProFTPD's login timer runs on from connect and names its seconds",
    async () => {
      const vs = serve(withTemplates(entry("vsftpd-2.3.4"), { idleTimeoutMs: { min: 1500, max: 1500 } }));
      const pro = serve(withTemplates(entry("proftpd-1.3.5-debian"), { loginTimeoutMs: { min: 2000, max: 2000 } }));
      const a = await connect(vs.port);
      const b = await connect(pro.port);
      const opened = performance.now();
      await a.waitFor((s) => s.includes("220 "));
      await b.waitFor((s) => s.includes("220 "));
      await Bun.sleep(1000);
      a.send("NOOP\r\n");
      b.send("NOOP\r\n");
      await b.waitFor((s) => s.includes("421 Login timeout (2 seconds): closing control connection\r\n"), 3000);
      const loginAt = performance.now() - opened;
      expect(loginAt).toBeGreaterThanOrEqual(2000 - 20);
      expect(loginAt).toBeLessThan(2800);
      await a.waitFor((s) => s.includes("421 Timeout.\r\n"), 3000);
      const idleAt = performance.now() - opened;
      // 1.5 s after the NOOP at ~1 s, not 1.5 s after connect.
      expect(idleAt).toBeGreaterThanOrEqual(2500 - 20);
      expect(idleAt).toBeLessThan(3500);
      await Promise.race([Promise.all([a.closed, b.closed]), Bun.sleep(2000)]);
      expect(a.isClosed() && b.isClosed()).toBe(true);
    },
    { timeout: 10_000 },
  );
});
