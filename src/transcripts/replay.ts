// Replays recorded sessions against today's protocol code and reports where the answers differ.
import { makeContext } from "../services/context.ts";
import { startSession } from "../services/index.ts";
import type { CatalogEntry, Reply } from "../types.ts";
import { concatBytes, toBytes } from "../wire/bytes.ts";
import { escapeBytes } from "../util/escape.ts";
import type { Transcript, TranscriptSession } from "./format.ts";

export interface ReplayDiff {
  session: string;
  /** Which answer differs: "greeting" or the n-th request (1-based). */
  step: string;
  probe?: string;
  request: string;
  expected: string;
  actual: string;
  /** Byte offset of the first difference. */
  at: number;
}

export interface ReplayResult {
  entry: string;
  sessions: number;
  requests: number;
  diffs: ReplayDiff[];
}

const SHOW = 160;

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Escaped bytes around the first difference, so a diff shows where, not just that. */
function around(bytes: Uint8Array, at: number): string {
  const from = Math.max(0, at - 40);
  const slice = bytes.subarray(from, from + SHOW);
  return (from > 0 ? "…" : "") + escapeBytes(slice) + (from + SHOW < bytes.length ? `…(${bytes.length} bytes)` : "");
}

function replaySession(entry: CatalogEntry, t: Transcript, s: TranscriptSession, diffs: ReplayDiff[]): number {
  const clock = new Date(s.clock);
  const proto = startSession(
    makeContext({
      entry,
      hostSeed: t.hostSeed,
      sessionSeed: s.sessionSeed,
      now: () => clock,
      localAddress: s.localAddress,
      localPort: s.localPort,
      remoteAddress: s.remoteAddress,
      remotePort: s.remotePort,
    }),
  );
  // Segments: what was answered before the first request, then after each request.
  const segments: { request?: Uint8Array; probe?: string; answer: Uint8Array[] }[] = [{ answer: [] }];
  for (const x of s.exchanges) {
    const bytes = new Uint8Array(Buffer.from(x.base64, "base64"));
    if (x.dir === "in") segments.push({ request: bytes, ...(x.probe ? { probe: x.probe } : {}), answer: [] });
    else segments.at(-1)!.answer.push(bytes);
  }
  let closed = false;
  let requests = 0;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.request) requests++;
    if (closed) {
      diffs.push({ session: s.id, step: `request ${i}`, ...(seg.probe ? { probe: seg.probe } : {}), request: escapeBytes(seg.request ?? new Uint8Array(0), SHOW), expected: "(session still open)", actual: "(closed by the service)", at: 0 });
      return requests;
    }
    const reply: Reply = seg.request ? proto.data(seg.request) : proto.open();
    const actual = reply.write === undefined ? new Uint8Array(0) : toBytes(reply.write);
    const expected = concatBytes(seg.answer);
    const at = firstDifference(expected, actual);
    if (at >= 0) {
      diffs.push({
        session: s.id,
        step: seg.request ? `request ${i}` : "greeting",
        ...(seg.probe ? { probe: seg.probe } : {}),
        request: escapeBytes(seg.request ?? new Uint8Array(0), SHOW),
        expected: around(expected, at),
        actual: around(actual, at),
        at,
      });
      return requests;
    }
    closed = reply.close === true;
  }
  // The recording says the service hung up; today's code must too.
  if (s.end === "closed by service" && !closed && !s.truncated)
    diffs.push({ session: s.id, step: "end", request: "", expected: "(closed by the service)", actual: "(session still open)", at: 0 });
  return requests;
}

export function replayTranscript(t: Transcript, entry: CatalogEntry): ReplayResult {
  const diffs: ReplayDiff[] = [];
  let requests = 0;
  for (const s of t.sessions) requests += replaySession(entry, t, s, diffs);
  return { entry: entry.id, sessions: t.sessions.length, requests, diffs };
}

export function formatDiff(d: ReplayDiff): string {
  return [
    `  session ${d.session}, ${d.step}${d.probe ? ` (nmap probe ${d.probe})` : ""}, first difference at byte ${d.at}`,
    ...(d.request ? [`    request:  "${d.request}"`] : []),
    `    recorded: "${d.expected}"`,
    `    today:    "${d.actual}"`,
  ].join("\n");
}
