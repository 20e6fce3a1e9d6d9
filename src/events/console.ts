// The human mirror of the events, through consola. Attacker data is always escaped and cut: each part by
// escapeText or escapeBytes (printable ASCII only), and each whole line once more by terminalSafe, so a
// field someone forgets to escape still cannot move the cursor, recolour, retitle or split a line.
import type { ConsolaInstance } from "consola";
import { escapeBytes, escapeText, terminalSafe } from "../util/escape.ts";
import type { EventSink, TrapEvent } from "./types.ts";

/** How much of one data event the console shows; the JSONL log keeps everything up to the session cap. */
export const CONSOLE_PAYLOAD_MAX = 512;

function peer(e: TrapEvent): string {
  if (!e.source) return "";
  if (e.source.port === undefined) return e.source.ip;
  const ip = e.source.ip.includes(":") ? `[${e.source.ip}]` : e.source.ip;
  return `${ip}:${e.source.port}`;
}

/** consola's level of the line each action prints (0 error, 1 warn, 3 info): lines above the logger's level are never built. */
const LINE_LEVEL: Record<TrapEvent["action"], number> = {
  listening: 3,
  connection: 3,
  refused: 1,
  aborted: 3,
  data: 3,
  login: 1,
  command: 3,
  tls: 3,
  close: 3,
  error: 0,
};

export class ConsoleSink implements EventSink {
  private readonly log: Record<"info" | "warn" | "error", (line: string) => void>;
  constructor(
    private readonly consola: ConsolaInstance,
    private readonly verbose = false,
  ) {
    this.log = {
      info: (line: string) => consola.info(terminalSafe(line)),
      warn: (line: string) => consola.warn(terminalSafe(line)),
      error: (line: string) => consola.error(terminalSafe(line)),
    };
  }

  emit(e: TrapEvent): void {
    // --quiet drops the info lines: then they cost nothing (consola would format, escape and discard them).
    if (LINE_LEVEL[e.action] > this.consola.level) return;
    const tag = e.sessionId && this.verbose ? `[${e.sessionId}] ` : "";
    switch (e.action) {
      case "listening":
        return; // the CLI prints its own listening lines, in the wording users expect
      case "connection":
        this.log.info(`${tag}Incoming connection from ${peer(e)}`);
        return;
      case "refused":
        this.log.warn(`${peer(e)}: ${e.count ?? 1} connection(s) refused (${e.reason ?? "limit"})`);
        return;
      case "aborted":
        this.log.info(`${e.count ?? 1} connection(s) reset by their peers before they could be read (port ${e.destination.port})`);
        return;
      case "data": {
        if (e.direction === "out" && !this.verbose) return; // the trap's own answers: only when asked
        const bytes = e.payload ?? new Uint8Array(0);
        const cut = bytes.length > CONSOLE_PAYLOAD_MAX;
        const text = escapeBytes(bytes, CONSOLE_PAYLOAD_MAX);
        const more = cut ? ` …(${bytes.length} bytes, ${bytes.length - CONSOLE_PAYLOAD_MAX} not shown)` : "";
        const verb = e.direction === "out" ? "was answered" : "sent";
        this.log.info(`${tag}${peer(e)} ${verb} ${bytes.length} bytes: ${text}${more}`);
        return;
      }
      case "login": {
        const who = e.domain ? `${e.domain}\\${e.user ?? ""}` : (e.user ?? "");
        const what =
          e.password !== undefined
            ? ` with password "${escapeText(e.password)}"`
            : e.hash !== undefined
              ? ` with a ${e.hash.type} response (hashcat -m ${e.hash.hashcatMode}): ${escapeText(e.hash.value, 160)}`
              : "";
        this.log.warn(`${tag}${peer(e)} tried to log in${e.method ? ` (${escapeText(e.method, 40)})` : ""} as "${escapeText(who)}"${what}`);
        return;
      }
      case "command":
        if (this.verbose) this.log.info(`${tag}${peer(e)} command: ${escapeText(e.command ?? "")}`);
        return;
      case "tls": {
        const t = e.tls;
        // The listener words the failure ("TLS handshake failed: <library error>").
        if (!t?.established) this.log.info(`${tag}${peer(e)} ${escapeText(e.message ?? "TLS handshake failed", 200)}`);
        else
          this.log.info(
            `${tag}${peer(e)} started ${escapeText(t.version ?? "TLS", 40)} (${escapeText(t.cipher ?? "?", 120)})${t.serverName ? ` for "${escapeText(t.serverName, 200)}"` : ""}${t.ja3 ? `, JA3 ${escapeText(t.ja3, 40)}` : ""}`,
          );
        return;
      }
      case "close": {
        const secs = ((e.durationMs ?? 0) / 1000).toFixed(2);
        this.log.info(
          `${tag}Connection from ${peer(e)} closed (${escapeText(e.reason ?? "closed", 200)}): ${e.bytesIn ?? 0} bytes in, ${e.bytesOut ?? 0} bytes out, ${secs}s` +
            (e.truncated ? `, ${e.truncated} bytes over the cap not kept` : "") +
            (e.dropped ? `, ${e.dropped.commands} commands and ${e.dropped.logins} logins over the caps counted, not logged` : ""),
        );
        return;
      }
      case "error":
        // A peer's malformed input is the peer's doing (a warning); the trap's own trouble is an error.
        (e.sessionId ? this.log.warn : this.log.error)(`${tag}${peer(e) ? peer(e) + ": " : ""}${escapeText(e.message ?? "error", 400)}`);
        return;
    }
  }

  close(): void {}
}
