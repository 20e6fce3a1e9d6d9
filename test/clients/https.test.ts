// curl against the https faces through the real CLI: the face's page over TLS, a tls event with what the
// handshake showed (version, cipher, SNI, JA3) and the request as plaintext data; plain HTTP sent to the
// TLS port gets Apache's or nginx's own 400 page, or is a failed handshake kept as evidence (IIS), and the
// trap goes on serving; protocol versions outside the face's range are refused.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BUN, startProcess, tempDir, withTimeout, type Running, until, readLog } from "../helpers.ts";

const CURL = "/usr/bin/curl";
const running: Running[] = [];

afterAll(async () => {
  for (const r of running) await r.stop();
});

type Flat = Record<string, unknown>;

function flatten(o: Record<string, unknown>, prefix = "", out: Flat = {}): Flat {
  for (const [k, v] of Object.entries(o)) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flatten(v as Record<string, unknown>, `${prefix}${k}.`, out);
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

async function serve(banner: string): Promise<{ port: number; events: () => Flat[] }> {
  const log = join(tempDir("micetrap-https-client-"), "events.jsonl");
  const r = await startProcess([BUN, "src/cli.ts", "https", "0", "--host", "127.0.0.1", "--banner", banner, "--log", log], { timeoutMs: 30_000 });
  running.push(r);
  const events = () => readLog(log).map((e) => flatten(e));
  return { port: r.port, events };
}

async function curl(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const proc = Bun.spawn([CURL, "--silent", "--show-error", "--max-time", "10", ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await withTimeout(proc.exited, 15_000, "curl");
  return { code, out, err };
}

const ofSession = (events: Flat[], id: unknown, action: string) => events.filter((e) => e["micetrap.session.id"] === id && e["event.action"] === action);
/** Old faces speak TLS 1.0: OpenSSL 3 clients allow it only at security level 0. */
const OLD = ["--ciphers", "DEFAULT@SECLEVEL=0"];

describe.if(existsSync(CURL))("curl against the https faces", () => {
  test("the page over TLS, a tls event with version, cipher, SNI and JA3, and the request as plaintext", async () => {
    const s = await serve("apache-2.2.22-debian-ssl");
    const r = await curl(["-k", "--resolve", `www.example.test:${s.port}:127.0.0.1`, `https://www.example.test:${s.port}/`]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("<h1>It works!</h1>");
    const tls = await until(() => s.events().find((e) => e["event.action"] === "tls"));
    expect(tls["tls.established"]).toBe(true);
    expect(tls["tls.version"]).toBe("1.2");
    expect(tls["tls.version_protocol"]).toBe("tls");
    expect(String(tls["tls.cipher"])).toMatch(/^TLS_[A-Z0-9_]+$/);
    expect(tls["tls.client.server_name"]).toBe("www.example.test");
    expect(String(tls["tls.client.ja3"])).toMatch(/^[0-9a-f]{32}$/);
    // JA3: TLS version 771 (0x0303), then cipher, extension, curve and point-format lists.
    expect(String(tls["micetrap.tls.ja3_string"])).toMatch(/^771,[\d-]+,[\d-]+,[\d-]*,[\d-]*$/);
    const data = await until(() => ofSession(s.events(), tls["micetrap.session.id"], "data").find((e) => e["micetrap.payload.direction"] === "inbound"));
    const request = Buffer.from(String(data["micetrap.payload.base64"]), "base64").toString("latin1");
    expect(request).toStartWith("GET / HTTP/1.1\r\n");
    expect(request).toContain(`Host: www.example.test:${s.port}\r\n`);
    // The same client, the same request: the same fingerprint. To an address, no server name (and
    // without the SNI extension, another JA3).
    await curl(["-k", "-o", "/dev/null", "--resolve", `www.example.test:${s.port}:127.0.0.1`, `https://www.example.test:${s.port}/`]);
    await curl(["-k", "-o", "/dev/null", `https://127.0.0.1:${s.port}/`]);
    const all = await until(() => {
      const t = s.events().filter((e) => e["event.action"] === "tls");
      return t.length === 3 ? t : undefined;
    });
    expect(all[1]!["tls.client.ja3"]).toBe(tls["tls.client.ja3"]);
    expect(all[2]!["tls.client.server_name"]).toBeUndefined();
    expect(String(all[2]!["micetrap.tls.ja3_string"]).split(",")[2]!.split("-")).not.toContain("0");
  }, 30_000);

  test("plain HTTP to an IIS TLS port is a failed handshake, its bytes kept as evidence; the trap goes on serving", async () => {
    const s = await serve("iis-8.5-windows-ssl");
    const plain = await curl([`http://127.0.0.1:${s.port}/plain-probe`]);
    expect(plain.code).not.toBe(0);
    const failed = await until(() => s.events().find((e) => e["event.action"] === "tls"));
    expect(failed["tls.established"]).toBe(false);
    expect(String(failed["error.message"])).toStartWith("TLS handshake failed: ");
    const data = await until(() => ofSession(s.events(), failed["micetrap.session.id"], "data")[0]);
    expect(Buffer.from(String(data["micetrap.payload.base64"]), "base64").toString("latin1")).toStartWith("GET /plain-probe HTTP/1.1\r\n");
    const close = await until(() => ofSession(s.events(), failed["micetrap.session.id"], "close")[0]);
    expect(close["micetrap.reason"]).toBe("TLS failed");
    const again = await curl(["-k", `https://127.0.0.1:${s.port}/`]);
    expect(again.code).toBe(0);
    expect(again.out).toContain("IIS");
  }, 30_000);

  test("plain HTTP to an Apache or nginx TLS port gets the product's own 400 page, in plain, then a close", async () => {
    // The words are mod_ssl's (ssl_engine_kernel.c of 2.4.10) and nginx's error page for its code 497;
    // Apache 2.2 answers a faked HTTP/0.9 `GET /`, so its page comes without a status line.
    const apache24 = await serve("apache-2.4.10-debian-ssl");
    const a = await curl(["-i", `http://127.0.0.1:${apache24.port}/`]);
    expect(a.out).toStartWith("HTTP/1.1 400 Bad Request\r\n");
    expect(a.out).toContain("Server: Apache/2.4.10 (Debian)\r\n");
    expect(a.out).toContain("Reason: You're speaking plain HTTP to an SSL-enabled server port.<br />\n Instead use the HTTPS scheme to access this URL, please.<br />\n");
    expect(a.out).toMatch(new RegExp(`<address>Apache/2\\.4\\.10 \\(Debian\\) Server at \\S+ Port ${apache24.port}</address>`));
    const logged = await until(() => apache24.events().find((e) => e["event.action"] === "data" && e["micetrap.payload.direction"] === "inbound"));
    expect(Buffer.from(String(logged["micetrap.payload.base64"]), "base64").toString("latin1")).toStartWith("GET / HTTP/1.1\r\n");
    expect(apache24.events().some((e) => e["event.action"] === "tls")).toBe(false);

    const apache22 = await serve("apache-2.2.22-debian-ssl");
    const b = await curl(["--http0.9", `http://127.0.0.1:${apache22.port}/`]);
    expect(b.out).toStartWith('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n');
    expect(b.out).toContain(`<blockquote>Hint: <a href="https://`);
    expect(b.out).toContain(`:${apache22.port}/"><b>https://`);

    const nginx = await serve("nginx-1.2.1-debian-ssl");
    const c = await curl(["-i", `http://127.0.0.1:${nginx.port}/`]);
    expect(c.out).toStartWith("HTTP/1.1 400 Bad Request\r\nServer: nginx/1.2.1\r\n");
    expect(c.out).toContain("<head><title>400 The plain HTTP request was sent to HTTPS port</title></head>");
    // The same port still speaks TLS to the next client.
    const again = await curl(["-k", `https://127.0.0.1:${nginx.port}/`]);
    expect(again.out).toContain("Welcome to nginx!");
  }, 30_000);

  test("Apache on Debian 7 speaks TLS 1.0 to 1.2 and refuses TLS 1.3", async () => {
    const s = await serve("apache-2.2.22-debian-ssl");
    const v10 = await curl(["-k", ...OLD, "--tlsv1.0", "--tls-max", "1.0", "-o", "/dev/null", "-w", "%{http_code}", `https://127.0.0.1:${s.port}/`]);
    expect(v10.out).toBe("200");
    const v13 = await curl(["-k", "--tlsv1.3", `https://127.0.0.1:${s.port}/`]);
    expect(v13.code).not.toBe(0);
    const tls = await until(() => {
      const t = s.events().filter((e) => e["event.action"] === "tls");
      return t.length === 2 ? t : undefined;
    });
    expect(tls.map((e) => [e["tls.established"], e["tls.version"]])).toEqual([
      [true, "1.0"],
      [false, undefined],
    ]);
  }, 30_000);

  test("IIS 7.5 speaks TLS 1.0 only, as SChannel on 2008 R2 does by default", async () => {
    const s = await serve("iis-7.5-windows-ssl");
    const v10 = await curl(["-k", ...OLD, "--tlsv1.0", "--tls-max", "1.0", "-o", "/dev/null", "-w", "%{http_code}", `https://127.0.0.1:${s.port}/`]);
    expect(v10.out).toBe("200");
    const v11up = await curl(["-k", ...OLD, "--tlsv1.1", `https://127.0.0.1:${s.port}/`]);
    expect(v11up.code).not.toBe(0);
    const failed = await until(() => s.events().find((e) => e["event.action"] === "tls" && e["tls.established"] === false));
    // The refused hello still names its client.
    expect(String(failed["tls.client.ja3"])).toMatch(/^[0-9a-f]{32}$/);
  }, 30_000);
});
