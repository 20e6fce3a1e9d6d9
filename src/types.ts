// Shared shapes: a catalog entry (data from fixtures/services/*.json) and the protocol contract.
import type { CounterSpec } from "./host/counters.ts";
import type { HostFacts } from "./host/facts.ts";
import type { Schema } from "./services/schema.ts";

/** OS families a fake service can belong to. The host's own family decides which entries fit. */
/** embedded: Linux devices built on BusyBox (cameras, routers, NAS); cisco: Cisco IOS network gear. */
export const OS_FAMILIES = ["debian", "rhel", "freebsd", "macos", "windows", "embedded", "cisco"] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];

/** A service's name as the registry (src/services/index.ts) lists it: "ftp", "http", … */
export type ServiceName = string;

/** One fake product/version. Everything nmap should report is stated here, so tests compare against data. */
export interface CatalogEntry<T = unknown> {
  id: string;
  service: ServiceName;
  /** What `nmap -sV` reports as product (p/) — exactly. */
  product: string;
  /** What `nmap -sV` reports as version (v/) — exactly; "" when nmap can tell no version. */
  version: string;
  /** nmap's extra info (i/), when nmap reports one for this entry. */
  info?: string;
  /** nmap's OS type (o/), when the matching line states one. */
  ostype?: string;
  os: OsFamily;
  /** The OS releases that shipped this face (fixtures/releases.json): a host draws from its own release. */
  releases: string[];
  cpe: string[];
  /** Usual ports of this product. */
  ports: number[];
  /** Relative chance of being picked; old, vulnerable-looking versions get more. */
  weight: number;
  /** Why this version is attractive to an attacker (CVE ids and the like); documentation only. */
  notes?: string;
  /**
   * TLS on this face: "first-byte" when the whole connection is TLS (https on 443), "starttls" when the
   * session starts it on request (ftp's AUTH TLS). The certificate is minted per host (src/tls/certs.ts).
   */
  tls?: TlsProfile;
  /**
   * What nmap -sV reports instead on a port outside `ports`: where the version probe is sent only on the
   * usual port (redis-server on 6379, Memcache on 11211), another probe's answer decides elsewhere.
   */
  otherPortClaim?: { product?: string; version?: string; info?: string; ostype?: string };
  /** What nmap reports instead on a port once its default scripts ran (-sC): smb-os-discovery's version on 445. */
  scriptClaims?: Record<string, { product?: string; version?: string; info?: string; ostype?: string }>;
  /** The service's response templates and settings, parsed against its schema (src/services/<name>/templates.ts). */
  templates: T;
}

/** How a face speaks TLS, as its product ships by default (data in the entry, checked at load). */
export interface TlsProfile {
  mode: "first-byte" | "starttls";
  /** Which default certificate the product ships with: Debian's snakeoil, RHEL's mod_ssl localhost.crt, IIS's self-signed, or what `openssl req` makes when every prompt gets Enter. */
  certificate: "debian-snakeoil" | "rhel-localhost" | "iis-self-signed" | "openssl-req-default";
  /** RSA key size of that certificate. */
  keyBits: number;
  /**
   * Debian's snakeoil only: whether the name is also in a subjectAltName (ssl-cert 1.0.39 on: Debian 9,
   * Ubuntu 18.04; older ones add one only when the FQDN is too long for the CN). Default: yes.
   */
  subjectAltName?: boolean;
  /** Signature digest of that certificate. */
  digest: "sha1" | "sha256";
  /** Oldest and newest protocol the product's TLS library of that era accepted. */
  minVersion: "TLSv1" | "TLSv1.1" | "TLSv1.2";
  maxVersion: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3";
  /** OpenSSL cipher string, when the product's default differs from the library's. */
  ciphers?: string;
}

/** A challenge-response or password hash, exactly as hashcat reads it, so one event is enough to crack it. */
export interface CapturedHash {
  /** The hashcat line: "user::DOMAIN:challenge:proof:blob", "$mysqlna$salt*response", … */
  value: string;
  /** netntlmv2, netntlmv1, mysql-native, … */
  type: string;
  /** hashcat's -m: 5600, 5500, 11200, … */
  hashcatMode: number;
}

/**
 * Something a session noticed that deserves its own event, as fields (never as a string to parse):
 * a login attempt with its credential, or a command.
 */
export interface ProtocolEvent {
  /** error: input the daemon rejects as malformed (a bad frame, an unparseable handshake); `message` says what, in fixed words. */
  action: "login" | "command" | "error";
  message?: string;
  /** login: the user name as sent. */
  user?: string;
  /** login: the domain or realm sent with the user (NTLM), when the protocol has one. */
  domain?: string;
  /** login: a password in plaintext; nothing else ever goes here. */
  password?: string;
  /** login: a challenge-response or hash instead of a plaintext password. */
  hash?: CapturedHash;
  /** login: how the credential came: ftp, basic, form, ntlm, mysql, smb, … */
  method?: string;
  command?: string;
  /** What the client says of itself (os, lanman, workstation, auth_plugin, …). */
  client?: Record<string, string>;
  /** command: the HTTP request the command line belongs to, parsed (wire/http-fields.ts). */
  http?: HttpRequestFields;
}

/**
 * One HTTP request as ECS names its parts (http.*, url.*, user_agent.*). Every value is the attacker's text
 * as sent, cut to a bound (`cut` names the fields cut). Absent parts are absent, never "".
 */
export interface HttpRequestFields {
  method: string;
  /** "1.1", "1.0", "0.9" (a line of two words); absent when the protocol word is not HTTP/d.d. */
  version?: string;
  /** The request target as sent (origin form, absolute URL, authority of a CONNECT, `*`). */
  original: string;
  /** The path: the target up to `?` or `#`, of an absolute URL its part after the authority. */
  path?: string;
  /** After the first `?` up to `#`, without the `?`; "" for a `?` with nothing after it (as ECS says). */
  query?: string;
  userAgent?: string;
  /** The body's length as read; absent when the body was not read (a proxy answers at the head). */
  bodyBytes?: number;
  /** ECS names of the fields cut to their bound (`url.original`, `user_agent.original`, …). */
  cut?: string[];
}

/** What the session should do after open(), data() or timer(): write bytes, maybe close, maybe log. */
export interface Reply {
  write?: Uint8Array | string;
  /** Hang up after the write: true is an orderly close (FIN), "reset" an abortive one (RST, as mysqld does). */
  close?: boolean | "reset";
  /** Logged at once, whatever the delay. */
  events?: ProtocolEvent[];
  /**
   * Milliseconds before the write (and close) go out: a real daemon's pause, such as before "Login
   * incorrect". The daemon is busy meanwhile: what the peer sends waits until the reply has gone.
   */
  delayMs?: number;
  /** Arm (milliseconds from now) or cancel (null) named timers; arming replaces a timer of the same name. */
  timers?: Record<string, number | null>;
  /**
   * After the write, everything in both directions goes through TLS (AUTH TLS, STARTTLS). The session
   * keeps seeing and writing plaintext; the trap does the handshake with the face's certificate.
   */
  startTls?: boolean;
  /**
   * From here on the bytes are not reproducible (a library's key exchange, random cookies, ciphertext):
   * a transcript marks the point, and replay compares what follows only through the service's own
   * summary of it (ServiceModule.summarizeOpaque).
   */
  opaque?: string;
}

export const NO_REPLY: Reply = Object.freeze({});

/** What a protocol may know about its session. Randomness and time come from here, so replays are exact. */
export interface SessionContext<T = unknown> {
  entry: CatalogEntry<T>;
  /** Random bytes for this session (salts, ids). Seeded in tests and replays, crypto-random when serving. */
  random(n: number): Uint8Array;
  /** Stable per-host random source: fake hostnames, workgroups… the same on every connection. */
  hostRandom(label: string): number;
  /** Real time (frozen in replays). The host's own clock, zone and boot time are in host/facts.ts. */
  now(): Date;
  /** Real time in microseconds, for fields with sub-millisecond resolution (SMB's FILETIME). */
  nowMicros(): bigint;
  /** The fake host this session belongs to: names, time zone, clock error, boot time, release. */
  host: HostFacts;
  /** The next value of one of the host's counters (a thread id, a pid): live, shared by the host's sessions. */
  counter(name: string, spec: CounterSpec): number;
  /** Sessions open on this port, this one included (Pure-FTPd's "user number N"). */
  concurrent: number;
  /** What the service's prepare() made for this host (host keys), when it has one. */
  prepared?: unknown;
  /** The fake machine name (host.hostname). */
  hostname: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

/**
 * How a library-driven session (ssh2 doing SSH) speaks when it wants to, not only in answer to data():
 * the driver hands one to attach() before open().
 */
export interface SessionChannel {
  /** Acts on a reply at once, as if returned from data(): the library wrote bytes, something to log, a hang-up. */
  push(reply: Reply): void;
  /** Runs fn after ms on the session's clock (the wall clock live, a virtual one in replay and check). */
  later(ms: number, fn: () => void): () => void;
}

export interface ProtocolSession {
  /** Library-driven sessions get their channel here, before open(). */
  attach?(channel: SessionChannel): void;
  /** Called once the connection is accepted: banner-first protocols greet here. */
  open(): Reply;
  /** A timer this session armed ran out: an idle timeout and its goodbye line, smbd's patience, … */
  timer?(name: string): Reply;
  /** Called for every chunk the peer sends (chunks are arbitrary TCP segments; protocols buffer). */
  data(chunk: Uint8Array): Reply;
  /** The connection is gone: a library-driven session releases its library here. */
  stop?(): void;
  /**
   * A TLS face got a plain HTTP request where its handshake should be (`curl http://host:443/`): the
   * product's answer to that (Apache's "speaking plain HTTP" page, nginx's 400). Absent: the handshake
   * simply fails, as IIS's does.
   */
  plainOnTls?(request: Uint8Array): Reply;
  /**
   * Bytes of the peer's input this session's parsers hold now (a partial frame, a line without its end,
   * lines read ahead while the daemon sleeps; for ssh also what ssh2 holds of a partial packet). Between
   * calls it never exceeds the service's `maxBuffered`. Memory is at most about 1.5 times this (buffers grow
   * by half again) plus a constant per session. Absent: the session holds no input between calls.
   */
  buffered?(): number;
}

/**
 * Everything a service is in code: its name and aliases, its usual ports, the typed schema of its
 * templates, its session logic and its fuzz seeds. Its banner table is data in fixtures/services/.
 */
export interface ServiceModule<T = any> {
  name: ServiceName;
  /** Other names the CLI accepts ("smb" for samba). */
  aliases: string[];
  transport: "tcp";
  /** The usual ports: bound when no port is given and the process may bind them. */
  defaultPorts: number[];
  templates: Schema<T>;
  /** The raw banner table (fixtures/services/<name>.json), validated by the catalog at load. */
  table: unknown;
  start(ctx: SessionContext<T>): ProtocolSession;
  /**
   * Work done once per host before the port opens, such as deriving host keys from the seed (slow RSA).
   * What it returns reaches every session as ctx.prepared.
   */
  prepare?(entry: CatalogEntry<T>, host: HostFacts): unknown;
  /**
   * What replay compares once a session went opaque: a readable summary of the bytes written after the
   * marker (SSH: the KEXINIT lists and the host key, not the random cookie or the ciphertext).
   */
  summarizeOpaque?(written: Uint8Array): string[];
  /**
   * A face that belongs with another service's face on the same host (https shows the pages of the http
   * server on 80): when the host runs both, the plan picks the face that names the other's.
   */
  follows?: { service: ServiceName; faceOf(entry: CatalogEntry<T>): string | undefined };
  /** Real request prefixes the fuzzer extends with random bytes. */
  fuzzPrefixes: string[];
  /** The most a session's buffered() may report between calls: the bound its parsers keep (the fuzzer checks it). */
  maxBuffered?: number;
}
