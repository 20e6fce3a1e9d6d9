// Shared shapes: a catalog entry (data from fixtures/services/*.json) and the protocol contract.

/** OS families a fake service can belong to. The host's own family decides which entries fit. */
export const OS_FAMILIES = ["debian", "rhel", "freebsd", "macos", "windows"] as const;
export type OsFamily = (typeof OS_FAMILIES)[number];

export const SERVICES = ["ftp", "http", "mysql", "samba", "torrent"] as const;
export type ServiceName = (typeof SERVICES)[number];

/** One fake product/version. Everything nmap should report is stated here, so tests compare against data. */
export interface CatalogEntry {
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
  cpe: string[];
  /** Usual ports of this product. */
  ports: number[];
  /** Relative chance of being picked; old, vulnerable-looking versions get more. */
  weight: number;
  /** Why this version is attractive to an attacker (CVE ids and the like); documentation only. */
  notes?: string;
  /** Protocol-specific response templates and settings. */
  templates: Record<string, string>;
}

export interface ServiceTable {
  service: ServiceName;
  /** The usual ports: bound when no port is given and the process may bind them. */
  defaultPorts: number[];
  entries: CatalogEntry[];
}

/** Something a protocol noticed that deserves its own event (a login attempt, a command). */
export interface ProtocolEvent {
  action: "login" | "command";
  user?: string;
  password?: string;
  command?: string;
}

/** What the session should do after open() or data(): write bytes, maybe close, maybe log. */
export interface Reply {
  write?: Uint8Array | string;
  close?: boolean;
  events?: ProtocolEvent[];
}

export const NO_REPLY: Reply = Object.freeze({});

/** What a protocol may know about its session. Randomness and time come from here, so replays are exact. */
export interface SessionContext {
  entry: CatalogEntry;
  /** Random bytes for this session (salts, ids). Seeded in tests and replays, crypto-random when serving. */
  random(n: number): Uint8Array;
  /** Stable per-host random source: fake hostnames, workgroups… the same on every connection. */
  hostRandom(label: string): number;
  now(): Date;
  /** The fake machine name this trap pretends to be. */
  hostname: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export interface ProtocolSession {
  /** Called once the connection is accepted: banner-first protocols greet here. */
  open(): Reply;
  /** Called for every chunk the peer sends (chunks are arbitrary TCP segments; protocols buffer). */
  data(chunk: Uint8Array): Reply;
}

export interface Protocol {
  service: ServiceName;
  start(ctx: SessionContext): ProtocolSession;
}
