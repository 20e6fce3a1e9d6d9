// The HTML page of `micetrap report --html` in a real browser: headless Chromium (Debian's `chromium`)
// loads it from disk, its DOM is dumped and counted (the charts are SVG with bars in them), it is
// screenshotted at 1280 px and at a phone's 390 px, and the browser's console must stay silent: the page
// has no script, so any console line (a CSP violation, a resource it tried to load) is a fault. A control
// page that does log proves the console check can see a message.
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "./helpers.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));

/** One headless Chromium run, sandbox off (tests run as root), its own profile, killed after 90 s. */
async function chromium(args: string[], url: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!CHROMIUM) throw new Error("chromium is not installed (Debian package chromium; scripts/test.sh installs it)");
  const profile = tempDir("micetrap-chromium-");
  try {
    const proc = Bun.spawn([CHROMIUM!, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", `--user-data-dir=${profile}`, "--enable-logging=stderr", "--v=0", ...args, url], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill("SIGKILL"), 90_000);
    const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const code = await proc.exited;
    clearTimeout(timer);
    return { code, stdout, stderr };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

const consoleLines = (stderr: string) => stderr.split("\n").filter((l) => /:CONSOLE[:(]/.test(l));

/** A PNG's width and height from its IHDR chunk. */
function pngSize(file: string): [number, number] {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString("latin1")).toBe("PNG");
  return [b.readUInt32BE(16), b.readUInt32BE(20)];
}

function sampleLog(file: string): void {
  const docs: string[] = [];
  const services = ["ssh", "ftp", "http", "smb", "mysql"];
  for (let day = 1; day <= 5; day++) {
    for (let i = 0; i < 40; i++) {
      const service = services[(i * day) % services.length]!;
      const ip = `198.51.100.${(i % 12) + 1}`;
      const t = `2026-03-0${day}T${String(i % 24).padStart(2, "0")}:00:00.000Z`;
      const base = { "@timestamp": t, event: { action: "connection" }, service: { name: service }, source: { ip }, micetrap: { session: { id: `${day}-${i}` } } };
      docs.push(JSON.stringify(base));
      docs.push(JSON.stringify({ ...base, event: { action: "login" }, user: { name: ["root", "admin", "<b>x</b>"][i % 3] }, micetrap: { ...base.micetrap, login: { password: ["123456", "toor"][i % 2] } } }));
      docs.push(JSON.stringify({ ...base, event: { action: "command" }, micetrap: { ...base.micetrap, command: i % 2 ? "GET /.env HTTP/1.1" : "uname -a" } }));
      docs.push(JSON.stringify({ ...base, event: { action: "data" }, micetrap: { ...base.micetrap, payload: { direction: "inbound", base64: Buffer.from(`\x16\x03\x01 hello ${i % 4}`).toString("base64"), length: 12 } } }));
    }
  }
  writeFileSync(file, docs.join("\n") + "\n");
}

describe("report --html in headless Chromium (scripts/test.sh installs it: no skip)", () => {
  test("the console check sees a page's console message (control)", async () => {
    const dir = tempDir("micetrap-report-html-");
    const page = join(dir, "control.html");
    writeFileSync(page, `<!doctype html><html><body><script>console.error("control-message")</script></body></html>`);
    const r = await chromium(["--dump-dom"], `file://${page}`);
    expect(r.code).toBe(0);
    expect(consoleLines(r.stderr).join("\n")).toContain("control-message");
  }, 120_000);

  test("charts render, nothing is fetched, the console stays silent, readable at 1280 px and 390 px", async () => {
    const dir = tempDir("micetrap-report-html-");
    const log = join(dir, "events.jsonl");
    sampleLog(log);
    const page = join(dir, "report.html");
    const made = await runCli(["report", log, "--html", page, "--top", "20"]);
    expect(made.code).toBe(0);
    const html = readFileSync(page, "utf8");
    // Self-contained: no attribute that loads anything, a CSP that forbids loading anyway.
    expect(/\s(src|href)=/i.test(html)).toBe(false);
    expect(html).toContain("default-src 'none'");

    const dom = await chromium(["--dump-dom"], `file://${page}`);
    expect(dom.code).toBe(0);
    expect(consoleLines(dom.stderr)).toEqual([]);
    const svgs = dom.stdout.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
    // Time chart, top sources, heat map, users, passwords, commands, paths, methods, payloads.
    expect(svgs.length).toBeGreaterThanOrEqual(9);
    for (const svg of svgs) {
      const rects = [...svg.matchAll(/<rect [^>]*width="([\d.]+)"[^>]*height="([\d.]+)"/g)];
      expect(rects.length).toBeGreaterThan(0);
      expect(rects.some((m) => Number(m[1]) > 0 && Number(m[2]) > 0)).toBe(true);
    }
    // 5 days of connections: the time chart is per day (span over three days), one stack per day.
    expect(dom.stdout).toContain("Connections per day and service");
    // The heat map: 12 sources (all of them, with --top 20) × 5 services = 60 cells.
    const heat = svgs.find((s) => s.includes("sessions per source and service"))!;
    expect(heat.match(/<rect /g)!.length).toBe(60);
    // The attacker's markup is text, not markup.
    expect(dom.stdout).not.toContain("<b>x</b>");

    for (const [width, height] of [
      [1280, 2000],
      [390, 3000],
    ] as const) {
      const shot = join(dir, `report-${width}.png`);
      const r = await chromium([`--window-size=${width},${height}`, "--hide-scrollbars", `--screenshot=${shot}`], `file://${page}`);
      expect(r.code).toBe(0);
      expect(consoleLines(r.stderr)).toEqual([]);
      expect(pngSize(shot)).toEqual([width, height]);
      // A blank page compresses to almost nothing; charts and tables do not.
      expect(readFileSync(shot).length).toBeGreaterThan(20_000);
    }
  }, 300_000);
});
