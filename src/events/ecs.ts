// Renders a TrapEvent as one Elastic Common Schema document (nested objects, as ECS JSON is written).
// Field names are a contract with the pipelines that read the log: add fields, never rename them.
// Every string in it, attacker text above all, is made safe for any JSON reader on the way out (safeguard).
import { hostname } from "node:os";
import { escapeBytes, hasLoneSurrogate, jsonLine, markLoneSurrogates, mayBeUnsafe, wellFormed } from "../util/escape.ts";
import { VERSION } from "../version.ts";
import type { TrapEvent } from "./types.ts";

export const ECS_VERSION = "8.11.0";

const CATEGORY: Record<TrapEvent["action"], string[]> = {
  listening: ["network"],
  connection: ["network"],
  refused: ["network"],
  aborted: ["network"],
  data: ["network", "intrusion_detection"],
  login: ["authentication", "intrusion_detection"],
  command: ["intrusion_detection"],
  tls: ["network"],
  close: ["network"],
  error: ["network"],
};

const TYPE: Record<TrapEvent["action"], string[]> = {
  listening: ["start"],
  connection: ["connection", "start"],
  refused: ["connection", "denied"],
  aborted: ["connection", "end"],
  data: ["info"],
  login: ["start"],
  command: ["info"],
  tls: ["protocol"],
  close: ["connection", "end"],
  error: ["error"],
};

const observerHost = hostname();

function ipType(ip: string | undefined): string | undefined {
  if (!ip) return undefined;
  return ip.includes(":") ? "ipv6" : "ipv4";
}

export function toEcs(e: TrapEvent): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    "@timestamp": e.time.toISOString(),
    ecs: { version: ECS_VERSION },
    event: {
      kind: "event",
      category: CATEGORY[e.action],
      type: TYPE[e.action],
      action: e.action,
      dataset: "micetrap.session",
      module: "micetrap",
      ...(e.action === "login" ? { outcome: "failure" } : {}),
      ...(e.durationMs !== undefined ? { duration: Math.round(e.durationMs * 1e6) } : {}),
    },
    observer: { type: "honeypot", product: "micetrap", version: VERSION, hostname: observerHost },
    network: { transport: "tcp", protocol: e.service, ...(e.source ? { type: ipType(e.source.ip) } : {}) },
    service: { name: e.service },
    destination: {
      ...(e.destination.ip ? { ip: e.destination.ip } : {}),
      port: e.destination.port,
      ...(e.bytesOut !== undefined ? { bytes: e.bytesOut } : {}),
    },
    micetrap: {
      ...(e.sessionId ? { session: { id: e.sessionId } } : {}),
      entry: e.entry.id,
      product: e.entry.product,
      version: e.entry.version,
      os: e.entry.os,
      ...(e.host ? { host: { name: e.host.name, release: e.host.release } } : {}),
      ...(e.persona !== undefined ? { persona: e.persona } : {}),
    },
  };
  if (e.source) doc.source = { ip: e.source.ip, ...(e.source.port !== undefined ? { port: e.source.port } : {}), ...(e.bytesIn !== undefined ? { bytes: e.bytesIn } : {}) };
  const m = doc.micetrap as Record<string, unknown>;
  if (e.payload) {
    m.payload = {
      direction: e.direction === "out" ? "outbound" : "inbound",
      base64: Buffer.from(e.payload).toString("base64"),
      text: escapeBytes(e.payload),
      length: e.payload.length,
      ...(e.truncated ? { truncated: e.truncated } : {}),
    };
  }
  else if (e.truncated) m.truncated = e.truncated;
  if (e.user !== undefined || e.domain !== undefined) doc.user = { ...(e.user !== undefined ? { name: e.user } : {}), ...(e.domain ? { domain: e.domain } : {}) };
  if (e.action === "login") {
    m.login = {
      ...(e.method !== undefined ? { method: e.method } : {}),
      ...(e.password !== undefined ? { password: e.password } : {}),
      ...(e.hash !== undefined ? { hash: e.hash.value, hash_type: e.hash.type, hashcat_mode: e.hash.hashcatMode } : {}),
    };
  }
  if (e.client !== undefined && Object.keys(e.client).length > 0) m.client = { ...e.client };
  if (e.command !== undefined) m.command = e.command;
  if (e.reason !== undefined) m.reason = e.reason;
  if (e.count !== undefined) m[e.action === "aborted" ? "aborted" : "refused"] = { count: e.count };
  if (e.dropped !== undefined) m.dropped = { commands: e.dropped.commands, logins: e.dropped.logins };
  if (e.tls !== undefined) {
    // ECS writes "1.2" and "tls" apart; node:tls says "TLSv1.2".
    const v = /^TLSv(\d(?:\.\d)?)$/.exec(e.tls.version ?? "");
    doc.tls = {
      established: e.tls.established,
      ...(v ? { version: v[1]!.includes(".") ? v[1] : `${v[1]}.0`, version_protocol: "tls" } : {}),
      ...(e.tls.cipher ? { cipher: e.tls.cipher } : {}),
      ...(e.tls.serverName || e.tls.ja3 ? { client: { ...(e.tls.serverName ? { server_name: e.tls.serverName } : {}), ...(e.tls.ja3 ? { ja3: e.tls.ja3 } : {}) } } : {}),
    };
    if (e.tls.ja3String) m.tls = { ja3_string: e.tls.ja3String };
  }
  if (e.message !== undefined) doc.error = { message: e.message };
  return mayBeUnsafeEvent(e) ? safeguard(doc) : doc;
}

/**
 * Whether any string the event carries may need safeguard: every field but the catalog entry (the shipped
 * tables), the time and the payload (written as base64 and ASCII escapes). One scan per string, and the
 * common event has none that matches: walking the whole document instead cost about as much as writing it.
 */
function mayBeUnsafeEvent(e: TrapEvent): boolean {
  const scan = (v: unknown): boolean => {
    if (typeof v === "string") return mayBeUnsafe(v);
    if (v === null || typeof v !== "object") return false;
    for (const k in v) if (scan((v as Record<string, unknown>)[k])) return true;
    return false;
  };
  for (const k in e) {
    if (k === "entry" || k === "time" || k === "payload") continue;
    if (scan(e[k as keyof TrapEvent])) return true;
  }
  return false;
}

type Node = Record<string, unknown> | unknown[];

/**
 * The lone-surrogate half of the rule of docs/EVENTS.md ("Attacker strings"), applied to every string of
 * the document, so a field added later is covered too: a lone surrogate (UTF-16 names from SMB and NTLM, a
 * surrogate pair cut by a length cap) becomes U+FFFD, and the field's exact text goes to
 * `micetrap.original["<field>"]` with markLoneSurrogates' escapes. The other half, the escapes for C1,
 * U+2028/2029 and bidi controls, is ecsLine's.
 */
function safeguard(doc: Record<string, unknown>): Record<string, unknown> {
  const originals: Record<string, string> = {};
  const visit = (node: Node, path: string): void => {
    const list = Array.isArray(node);
    for (const k in node) {
      const v = (node as Record<string, unknown>)[k];
      const at = list ? path : path === "" ? k : `${path}.${k}`;
      if (typeof v === "string") {
        if (!mayBeUnsafe(v) || !hasLoneSurrogate(v)) continue; // the common case: one scan, nothing else
        originals[at] = markLoneSurrogates(v);
        (node as Record<string, unknown>)[k] = wellFormed(v);
      } else if (v !== null && typeof v === "object") visit(v as Node, at);
    }
  };
  visit(doc, "");
  if (Object.keys(originals).length > 0) (doc.micetrap as Record<string, unknown>).original = originals;
  return doc;
}

/** One event as one line of the JSONL log (newline not included): valid UTF-8, one line for every reader. */
export function ecsLine(e: TrapEvent): string {
  return jsonLine(toEcs(e));
}
