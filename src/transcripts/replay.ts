// Replays recorded sessions against today's protocol code and reports where the answers differ.
import { counterBase, type CounterSpec } from "../host/counters.ts";
import { hostFacts } from "../host/facts.ts";
import { makeContext } from "../services/context.ts";
import { SessionDriver, VirtualClock } from "../services/driver.ts";
import { serviceModule, startSession } from "../services/index.ts";
import type { CatalogEntry, OsFamily } from "../types.ts";
import { concatBytes } from "../wire/bytes.ts";
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

async function replaySession(entry: CatalogEntry, t: Transcript, s: TranscriptSession, diffs: ReplayDiff[]): Promise<number> {
  const clock = new Date(s.clock);
  const host = hostFacts({ seed: t.hostSeed, family: (t.hostFamily as OsFamily | undefined) ?? entry.os, ...(t.hostRelease ? { release: t.hostRelease } : {}) });
  const virtual = new VirtualClock();
  // Segments: what was answered before the first request, then after each request, in delivery order.
  // Once the recording went opaque, what the service wrote is kept apart and compared only in summary.
  const recorded: { request?: Uint8Array; probe?: string; plainOnTls?: boolean; ms: number; answer: Uint8Array[] }[] = [{ ms: 0, answer: [] }];
  const recordedOpaque: Uint8Array[] = [];
  let recordedMark: string | undefined;
  for (const x of s.exchanges) {
    if (x.dir === "opaque") {
      recordedMark ??= x.text;
      continue;
    }
    const bytes = new Uint8Array(Buffer.from(x.base64, "base64"));
    if (x.dir === "in") recorded.push({ request: bytes, ...(x.probe ? { probe: x.probe } : {}), ...(x.plainOnTls ? { plainOnTls: true } : {}), ms: x.ms, answer: [] });
    else if (recordedMark !== undefined) recordedOpaque.push(bytes);
    else recorded.at(-1)!.answer.push(bytes);
  }
  const today: Uint8Array[][] = recorded.map(() => []);
  const todayOpaque: Uint8Array[] = [];
  let todayMark: string | undefined;
  let delivered = 0;
  let closed = false;
  let failure: string | undefined;
  const session = startSession(
    makeContext({
      entry,
      hostSeed: t.hostSeed,
      sessionSeed: s.sessionSeed,
      now: () => clock,
      concurrent: s.facts?.concurrent ?? 1,
      ...(s.facts ? { counter: (name: string, spec: CounterSpec) => s.facts?.[name] ?? counterBase(host, name, spec, clock) + 1 } : {}),
      host,
      localAddress: s.localAddress,
      localPort: s.localPort,
      remoteAddress: s.remoteAddress,
      remotePort: s.remotePort,
    }),
  );
  // A library-driven session may answer on a later tick: let it, before judging what came out.
  const settle = session.attach ? () => new Promise<void>((r) => setImmediate(r)) : async () => {};
  const driver = new SessionDriver(session, virtual, {
    input: () => void delivered++,
    write: (bytes) => {
      if (todayMark !== undefined) todayOpaque.push(bytes);
      else today[Math.min(delivered, today.length - 1)]!.push(bytes);
    },
    opaque: (what) => void (todayMark ??= what),
    events: () => {},
    close: () => void (closed = true),
    error: (err) => void (failure = err.message),
  });
  driver.open();
  await settle();
  for (let i = 1; i < recorded.length; i++) {
    const seg = recorded[i]!;
    virtual.advanceTo(seg.ms);
    await settle();
    if (closed || failure) break;
    if (seg.plainOnTls) driver.plainOnTls(seg.request!);
    else driver.data(seg.request!);
    await settle();
  }
  // After the last request, the session ran until it ended: timers and delayed answers due by then count.
  const lastMs = s.exchanges.at(-1)?.ms ?? 0;
  virtual.advanceTo(Math.max(lastMs, s.endMs ?? lastMs));
  await settle();
  driver.stop();
  let requests = 0;
  for (let i = 0; i < recorded.length; i++) {
    const seg = recorded[i]!;
    if (seg.request) requests++;
    const expected = concatBytes(seg.answer);
    const actual = concatBytes(today[i]!);
    const at = firstDifference(expected, actual);
    const where = {
      session: s.id,
      step: seg.request ? `request ${i}` : "greeting",
      ...(seg.probe ? { probe: seg.probe } : {}),
      request: escapeBytes(seg.request ?? new Uint8Array(0), SHOW),
    };
    // Past the mark a library's session may fail on recorded ciphertext: that is where replay stops.
    if (seg.request && i > delivered && recordedMark === undefined) {
      diffs.push({ ...where, expected: "(session still open)", actual: failure ? `(protocol error: ${failure})` : "(closed by the service)", at: 0 });
      return requests;
    }
    if (at >= 0) {
      diffs.push({ ...where, expected: around(expected, at), actual: around(actual, at), at });
      return requests;
    }
  }
  if (recordedMark !== undefined || todayMark !== undefined) {
    const summarize = serviceModule(entry.service).summarizeOpaque ?? ((b: Uint8Array) => [`${b.length} bytes`]);
    const expected = [`opaque: ${recordedMark ?? "(never)"}`, ...summarize(concatBytes(recordedOpaque))];
    const actual = [`opaque: ${todayMark ?? "(never)"}`, ...summarize(concatBytes(todayOpaque))];
    const line = expected.findIndex((x, k) => x !== actual[k]);
    const differs = line >= 0 ? line : expected.length !== actual.length ? expected.length : -1;
    if (differs >= 0)
      diffs.push({ session: s.id, step: "after the opaque mark", request: "", expected: expected[differs] ?? "(nothing)", actual: actual[differs] ?? "(nothing)", at: differs });
    return requests;
  }
  // The recording says the service hung up; today's code must too.
  if (s.end === "closed by service" && !closed && !s.truncated)
    diffs.push({ session: s.id, step: "end", request: "", expected: "(closed by the service)", actual: "(session still open)", at: 0 });
  return requests;
}

export async function replayTranscript(t: Transcript, entry: CatalogEntry): Promise<ReplayResult> {
  const diffs: ReplayDiff[] = [];
  let requests = 0;
  for (const s of t.sessions) requests += await replaySession(entry, t, s, diffs);
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
