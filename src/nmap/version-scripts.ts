// nmap's NSE scripts of the "version" category rewrite a port's version after the probes, and they run
// with every -sV, not only with -sC. The model plays the ones a catalog face meets, so that `check` says
// what real nmap prints. docker-version (nmap 7.93): on 2375/2376 or a port whose service is docker, a GET
// /version whose 200 JSON has Version and GitCommit sets the service to docker, the product to "Docker"
// and the version to Version; extra info and OS type stay what the probes found.
import { toBytes, toLatin1 } from "../wire/bytes.ts";
import type { Connection, ScanResult, Tunnel } from "./engine.ts";

const WAIT_MS = 5000;

/** An HTTP/1.x response: its status and its body (Content-Length, chunked, or up to the close). */
function parseHttp(text: string): { status: number; body: string } | undefined {
  const end = text.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const head = text.slice(0, end);
  const m = /^HTTP\/\d\.\d (\d{3})/.exec(head);
  if (!m) return undefined;
  let body = text.slice(end + 4);
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    let out = "";
    for (let i = 0; i < 1000; i++) {
      const lf = body.indexOf("\r\n");
      const n = Number.parseInt(body.slice(0, lf), 16);
      if (lf < 0 || !Number.isFinite(n) || n === 0) break;
      out += body.slice(lf + 2, lf + 2 + n);
      body = body.slice(lf + 2 + n + 2);
    }
    body = out;
  } else {
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (cl) body = body.slice(0, Number(cl[1]));
  }
  return { status: Number(m[1]), body };
}

async function dockerVersion(r: ScanResult, connect: (tunnel?: Tunnel) => Connection, port: number): Promise<ScanResult> {
  if (![2375, 2376].includes(port) && r.service !== "docker" && r.service !== "docker-s") return r;
  if (r.state !== "matched" && r.state !== "softmatched") return r;
  const c = connect(r.tunnel ?? "none");
  let got = toLatin1((await c.open(0)).data);
  const res = await c.send(toBytes(`GET /version HTTP/1.1\r\nConnection: close\r\nUser-Agent: Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)\r\nHost: 127.0.0.1:${port}\r\n\r\n`), WAIT_MS);
  got += toLatin1(res.data);
  const http = parseHttp(got);
  if (!http || http.status !== 200) return r;
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(http.body, "latin1").toString("utf8"));
  } catch {
    return r;
  }
  const d = doc as { Version?: unknown; GitCommit?: unknown };
  if (typeof d.Version !== "string" || d.Version === "" || d.GitCommit === undefined || d.GitCommit === "" || d.GitCommit === null) return r;
  return { ...r, state: "matched", service: "docker", product: "Docker", version: d.Version };
}

/** The port's result after the version scripts that apply to it. */
export async function afterVersionScripts(r: ScanResult, connect: (tunnel?: Tunnel) => Connection, port: number): Promise<ScanResult> {
  return dockerVersion(r, connect, port);
}
