// The events a trap emits. Sinks (console, JSON Lines file) render them; nothing else logs attacker data.
import type { CapturedHash, CatalogEntry, HttpRequestFields, ServiceName } from "../types.ts";

export type EventAction = "listening" | "connection" | "refused" | "aborted" | "data" | "login" | "command" | "tls" | "close" | "error";

export interface TrapEvent {
  action: EventAction;
  time: Date;
  service: ServiceName;
  entry: CatalogEntry;
  /** The fake host the event belongs to (its name and OS release). */
  host?: { name: string; release: string };
  /** The persona `serve` runs, if any. */
  persona?: string;
  /** One per connection; absent on listening and on listener-level errors. */
  sessionId?: string;
  /** The peer; a refused event has the address only (its count may span many ports). */
  source?: { ip: string; port?: number; geo?: SourceGeo; as?: SourceAs };
  destination: { ip?: string; port: number };
  /** data: "in" for bytes the peer sent, "out" for what the trap answered. */
  direction?: "in" | "out";
  /** data: the exact bytes kept (after the per-session cap). */
  payload?: Uint8Array;
  /** data: bytes received but not kept because the session's cap was reached. */
  truncated?: number;
  /** close: totals for the session. */
  bytesIn?: number;
  bytesOut?: number;
  durationMs?: number;
  /** close: command and login events past the session's caps, counted instead of logged. */
  dropped?: { commands: number; logins: number };
  /**
   * refused: connections from this source refused for `reason` since the last refused event; aborted:
   * connections whose peer reset them before the trap could take them (no address left to report).
   */
  count?: number;
  /** close: why the session ended (peer, idle timeout, protocol, shutdown, cap); refused: which limit. */
  reason?: string;
  user?: string;
  domain?: string;
  password?: string;
  hash?: CapturedHash;
  method?: string;
  command?: string;
  client?: Record<string, string>;
  /** command: the HTTP request, parsed (http.*, url.*, user_agent.*). */
  http?: HttpRequestFields;
  /**
   * tls: how the handshake went (TLS from the first byte, or started by AUTH TLS / STARTTLS); every later
   * event of a session whose handshake completed: the session's (established, version, cipher, server name).
   */
  tls?: { established: boolean; version?: string; cipher?: string; serverName?: string; ja3?: string; ja3String?: string };
  /** error: a one-line description. */
  message?: string;
}

/** source.geo.* from the operator's MaxMind database (--geoip): the parts it has. */
export interface SourceGeo {
  countryIsoCode?: string;
  countryName?: string;
  cityName?: string;
  continentCode?: string;
  location?: { lat: number; lon: number };
}

/** source.as.* from an ASN database. */
export interface SourceAs {
  number?: number;
  organization?: string;
}

export interface EventSink {
  emit(event: TrapEvent): void;
  close(): void;
}
