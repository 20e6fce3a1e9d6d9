// A real rsyslogd (Debian's package) as a private receiver, for the syslog sink's tests and benchmark: its
// own config in a temp folder, listening on 127.0.0.1 (UDP and TCP on random ports), on a unix datagram
// socket (imuxsock, the /dev/log kind) and a unix stream socket (imptcp) in that folder, and writing what
// it receives to a file there, one JSON object a message: its own parse of each message (facility,
// severity, version, app-name, procid, msgid, structured data, msg) and the raw message as received. It
// never touches /dev/log (SysSock.Use="off") or any system file: `-f` names the config, `-i` the pid file.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Received {
  inputname: string;
  "protocol-version": string;
  "syslogfacility-text": string;
  "syslogseverity-text": string;
  timereported: string;
  hostname: string;
  "app-name": string;
  procid: string;
  msgid: string;
  "structured-data": string;
  msg: string;
  rawmsg: string;
}

export interface Rsyslog {
  dir: string;
  udpPort: number;
  tcpPort: number;
  /** imuxsock: a unix datagram socket. */
  dgramPath: string;
  /** imptcp: a unix stream socket (octet-counted or one message per line). */
  streamPath: string;
  version: string;
  /** Every message received so far (whole lines of the output file only). */
  received(): Received[];
  /** Waits until at least `n` messages arrived, or throws after `ms`. */
  waitFor(n: number, ms?: number): Promise<Received[]>;
  stderr(): string;
  stop(): Promise<void>;
}

function config(dir: string, o: { maxMessageSize?: string }): string {
  const p = (name: string) => join(dir, name);
  return `# micetrap test receiver: nothing but its own inputs, its own files
global(workDirectory="${dir}" net.enableDNS="off"${o.maxMessageSize ? ` maxMessageSize="${o.maxMessageSize}"` : ""})
module(load="imudp")
module(load="imtcp")
module(load="imptcp")
module(load="imuxsock" SysSock.Use="off")
template(name="seen" type="list") {
  constant(value="{")
  property(name="inputname" format="jsonf") constant(value=",")
  property(name="protocol-version" format="jsonf") constant(value=",")
  property(name="syslogfacility-text" format="jsonf") constant(value=",")
  property(name="syslogseverity-text" format="jsonf") constant(value=",")
  property(name="timereported" dateFormat="rfc3339" format="jsonf") constant(value=",")
  property(name="hostname" format="jsonf") constant(value=",")
  property(name="app-name" format="jsonf") constant(value=",")
  property(name="procid" format="jsonf") constant(value=",")
  property(name="msgid" format="jsonf") constant(value=",")
  property(name="structured-data" format="jsonf") constant(value=",")
  property(name="msg" format="jsonf") constant(value=",")
  property(name="rawmsg" format="jsonf")
  constant(value="}\\n")
}
ruleset(name="received") { action(type="omfile" file="${p("received.jsonl")}" template="seen") }
input(type="imudp" address="127.0.0.1" port="0" ruleset="received")
input(type="imtcp" address="127.0.0.1" port="0" listenPortFileName="${p("tcp.port")}" ruleset="received")
input(type="imuxsock" Socket="${p("dgram.sock")}" ruleset="received" CreatePath="off" UseSpecialParser="off" IgnoreTimestamp="off" RateLimit.Interval="0")
input(type="imptcp" path="${p("stream.sock")}" fileCreateMode="0666" unlink="on" ruleset="received")
# rsyslogd's own messages (start, errors) go here, not to the received file
*.* action(type="omfile" file="${p("internal.log")}")
`;
}

/** The UDP port a process listens on, from `ss` (rsyslog's imudp cannot report a random port itself). */
function udpPortOf(pid: number): number | undefined {
  const r = Bun.spawnSync(["ss", "-H", "-lnup"], { stdout: "pipe", stderr: "pipe" });
  for (const line of r.stdout.toString().split("\n")) {
    if (!line.includes(`pid=${pid},`)) continue;
    const m = /127\.0\.0\.1:(\d+)\s/.exec(line);
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Starts rsyslogd in the foreground with its own config; `maxMessageSize` as rsyslog writes it ("64k"), default rsyslog's own. */
export async function startRsyslog(o: { maxMessageSize?: string; timeoutMs?: number } = {}): Promise<Rsyslog> {
  const dir = mkdtempSync(join(tmpdir(), "micetrap-rsyslog-"));
  // The trap drops to nobody after binding: it must still reach the sockets in here.
  chmodSync(dir, 0o755);
  const conf = join(dir, "rsyslog.conf");
  writeFileSync(conf, config(dir, o));
  const check = Bun.spawnSync(["rsyslogd", "-N1", "-f", conf], { stdout: "pipe", stderr: "pipe" });
  if (check.exitCode !== 0) throw new Error(`rsyslogd -N1 rejected the config: ${check.stderr.toString()}${check.stdout.toString()}`);
  const version = /rsyslogd\s+(\S+)/.exec(Bun.spawnSync(["rsyslogd", "-v"], { stdout: "pipe" }).stdout.toString())?.[1] ?? "?";
  const proc = Bun.spawn(["rsyslogd", "-n", "-f", conf, "-i", join(dir, "rsyslogd.pid")], { stdout: "pipe", stderr: "pipe" });
  let err = "";
  void (async () => {
    for await (const c of proc.stderr as ReadableStream<Uint8Array>) err += Buffer.from(c).toString();
  })().catch(() => {});
  void (async () => {
    for await (const c of proc.stdout as ReadableStream<Uint8Array>) err += Buffer.from(c).toString();
  })().catch(() => {});
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5000);
      await proc.exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const dgramPath = join(dir, "dgram.sock");
  const streamPath = join(dir, "stream.sock");
  const tcpFile = join(dir, "tcp.port");
  let udpPort: number | undefined;
  let tcpPort: number | undefined;
  const end = Date.now() + (o.timeoutMs ?? 10_000);
  while (Date.now() < end) {
    if (proc.exitCode !== null) break;
    if (existsSync(tcpFile)) tcpPort = Number(readFileSync(tcpFile, "utf8").trim()) || undefined;
    udpPort ??= udpPortOf(proc.pid);
    if (tcpPort && udpPort && existsSync(dgramPath) && existsSync(streamPath)) break;
    await Bun.sleep(50);
  }
  if (!tcpPort || !udpPort || !existsSync(dgramPath) || !existsSync(streamPath)) {
    await stop();
    throw new Error(`rsyslogd did not start listening (udp ${udpPort}, tcp ${tcpPort}): ${err}`);
  }
  const out = join(dir, "received.jsonl");
  const received = (): Received[] => {
    if (!existsSync(out)) return [];
    const text = readFileSync(out, "utf8");
    return text
      .slice(0, text.lastIndexOf("\n") + 1)
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Received);
  };
  return {
    dir,
    udpPort,
    tcpPort,
    dgramPath,
    streamPath,
    version,
    received,
    waitFor: async (n, ms = 5000) => {
      const until = Date.now() + ms;
      for (;;) {
        const r = received();
        if (r.length >= n) return r;
        if (Date.now() > until) throw new Error(`rsyslogd received ${r.length} of ${n} messages in ${ms} ms; its stderr: ${err}`);
        await Bun.sleep(25);
      }
    },
    stderr: () => err,
    stop,
  };
}
