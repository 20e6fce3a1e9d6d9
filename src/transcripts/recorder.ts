// `micetrap record`: keeps every session of a trap as a transcript, written through after each session.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { HostFacts } from "../host/facts.ts";
import type { SessionObserver, SessionStart } from "../net/listener.ts";
import type { ProbeFile } from "../nmap/probes.ts";
import type { CatalogEntry } from "../types.ts";
import { escapeBytes } from "../util/escape.ts";
import { cryptoBytes } from "../util/random.ts";
import { VERSION } from "../version.ts";
import { parseTranscript, transcriptPath, TRANSCRIPT_FORMAT, type Transcript, type TranscriptSession } from "./format.ts";

/** Bounds: a recording is evidence for tests, not an archive. */
const MAX_SESSION_BYTES = 256 * 1024;
const MAX_SESSIONS = 2000;

/** Names a request after the nmap probe it is: the same bytes, or starting with a probe's payload. */
export function probeName(bytes: Uint8Array, probes: ProbeFile | undefined): string | undefined {
  if (!probes || bytes.length === 0) return undefined;
  let best: { name: string; len: number } | undefined;
  for (const p of probes.probes) {
    if (p.protocol !== "TCP" || p.payload.length === 0 || p.payload.length > bytes.length) continue;
    let same = true;
    for (let i = 0; i < p.payload.length && same; i++) same = p.payload[i] === bytes[i];
    if (same && (!best || p.payload.length > best.len)) best = { name: p.name, len: p.payload.length };
  }
  return best?.name;
}

export class Recorder implements SessionObserver {
  readonly path: string;
  private readonly transcript: Transcript;
  private readonly live = new Map<string, { session: TranscriptSession; bytes: number }>();
  /** Opened before the trap drops root, so the file stays writable afterwards. */
  private fd: number | undefined;

  constructor(
    private readonly entry: CatalogEntry,
    host: HostFacts,
    outDir: string,
    private readonly probes: ProbeFile | undefined,
    note?: string,
  ) {
    this.path = transcriptPath(outDir, entry);
    mkdirSync(dirname(this.path), { recursive: true });
    // A second recording run (say -sC after -sV) adds its sessions to the same file.
    const previous = existsSync(this.path) ? parseTranscript(readFileSync(this.path, "utf8"), this.path) : undefined;
    const hostSeed = host.seed;
    if (previous && previous.hostSeed !== hostSeed)
      throw new Error(`${this.path} was recorded with another --seed; remove it or record with the same seed`);
    this.transcript = previous ?? {
      format: TRANSCRIPT_FORMAT,
      service: entry.service,
      entry: entry.id,
      product: entry.product,
      version: entry.version,
      hostSeed,
      hostFamily: host.family,
      hostRelease: host.release,
      micetrap: VERSION,
      ...(note ? { note } : {}),
      sessions: [],
    };
    if (previous && note && !previous.note?.includes(note)) this.transcript.note = [previous.note, note].filter(Boolean).join("; ");
    this.fd = openSync(this.path, "w", 0o644);
    this.flush();
  }

  start(info: SessionStart) {
    if (this.transcript.sessions.length + this.live.size >= MAX_SESSIONS) return undefined;
    const clock = new Date();
    const session: TranscriptSession = {
      id: info.id,
      localAddress: info.localAddress,
      localPort: info.localPort,
      remoteAddress: info.remoteAddress,
      remotePort: info.remotePort,
      sessionSeed: Buffer.from(cryptoBytes(12)).toString("hex"),
      clock: clock.toISOString(),
      exchanges: [],
      end: "",
    };
    this.live.set(info.id, { session, bytes: 0 });
    return { sessionSeed: session.sessionSeed, now: () => clock };
  }

  fact(id: string, name: string, value: number): void {
    const rec = this.live.get(id);
    if (rec) rec.session.facts = { ...rec.session.facts, [name]: value };
  }

  exchange(id: string, dir: "in" | "out", bytes: Uint8Array, atMs: number, how?: "plainOnTls"): void {
    const rec = this.live.get(id);
    if (!rec || rec.session.truncated) return;
    if (rec.bytes + bytes.length > MAX_SESSION_BYTES) {
      rec.session.truncated = true;
      return;
    }
    rec.bytes += bytes.length;
    const probe = dir === "in" ? probeName(bytes, this.probes) : undefined;
    rec.session.exchanges.push({
      dir,
      ms: Math.round(atMs * 10) / 10,
      base64: Buffer.from(bytes).toString("base64"),
      ...(probe ? { probe } : {}),
      ...(how === "plainOnTls" ? { plainOnTls: true } : {}),
      text: escapeBytes(bytes, 200) + (bytes.length > 200 ? `…(${bytes.length} bytes)` : ""),
    });
  }

  opaque(id: string, what: string, atMs: number): void {
    const rec = this.live.get(id);
    if (!rec || rec.session.truncated) return;
    rec.session.exchanges.push({ dir: "opaque", ms: Math.round(atMs * 10) / 10, base64: "", text: what });
  }

  end(id: string, reason: string, atMs: number): void {
    const rec = this.live.get(id);
    if (!rec) return;
    this.live.delete(id);
    rec.session.end = reason;
    rec.session.endMs = Math.round(atMs * 10) / 10;
    this.transcript.sessions.push(rec.session);
    this.flush();
  }

  /** Rewrites the whole transcript after each session, so a kill loses at most the sessions still open. */
  flush(): void {
    if (this.fd === undefined) return;
    ftruncateSync(this.fd, 0);
    writeSync(this.fd, JSON.stringify(this.transcript, null, 1) + "\n", 0);
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    closeSync(this.fd);
    this.fd = undefined;
  }

  get sessionCount(): number {
    return this.transcript.sessions.length;
  }
}
