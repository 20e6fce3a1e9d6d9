// Recorded nmap sessions: what a client sent and what micetrap answered, with what replay needs to
// rebuild the same session (the per-session seed and the frozen clock).
import type { CatalogEntry } from "../types.ts";

export const TRANSCRIPT_FORMAT = 1;

export interface Exchange {
  /** "opaque" marks where the session stopped being reproducible byte for byte (a library's key exchange). */
  dir: "in" | "out" | "opaque";
  /** Milliseconds since the connection was accepted. */
  ms: number;
  base64: string;
  /** The nmap probe this request is, when it is one. */
  probe?: string;
  /** A plain request that came where a TLS face expected its handshake (ProtocolSession.plainOnTls). */
  plainOnTls?: boolean;
  /** The same bytes escaped for people reading the fixture (cut to a few hundred characters). */
  text: string;
}

export interface TranscriptSession {
  id: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  sessionSeed: string;
  /** The session's frozen clock: every ctx.now() in it returns this instant. */
  clock: string;
  exchanges: Exchange[];
  /** Counter values the session drew (a thread id, a pid) and "concurrent", the sessions open then. */
  facts?: Record<string, number>;
  /** Why the session ended, as the trap logged it. */
  end: string;
  /** Milliseconds from accept to the end: replay runs the session's timers up to here. */
  endMs?: number;
  /** Exchanges not kept because the session passed the recording cap. */
  truncated?: boolean;
}

export interface Transcript {
  format: number;
  service: string;
  entry: string;
  product: string;
  version: string;
  hostSeed: string;
  /** The fake host's OS family and release when recorded (default: the entry's OS). */
  hostFamily?: string;
  hostRelease?: string;
  micetrap: string;
  /** What produced the traffic, e.g. "nmap -sV --version-all". */
  note?: string;
  sessions: TranscriptSession[];
}

export function transcriptPath(dir: string, entry: CatalogEntry): string {
  // Names come from the catalog (validated ids), never from anything a client sent.
  return `${dir}/${entry.service}/${entry.id}.json`;
}

export function parseTranscript(text: string, where: string): Transcript {
  let t: Transcript;
  try {
    t = JSON.parse(text) as Transcript;
  } catch (err) {
    throw new Error(`${where}: not JSON (${(err as Error).message})`);
  }
  if (t.format !== TRANSCRIPT_FORMAT) throw new Error(`${where}: transcript format ${t.format}, expected ${TRANSCRIPT_FORMAT}`);
  if (typeof t.entry !== "string" || !Array.isArray(t.sessions)) throw new Error(`${where}: not a micetrap transcript`);
  return t;
}
