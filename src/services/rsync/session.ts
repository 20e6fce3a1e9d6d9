// The rsync daemon's text handshake, as clientserver.c and authenticate.c of each release run it: the
// greeting, the client's greeting, then a module name: "#list" (or an empty line) lists the modules a
// host's rsyncd.conf marks listable and ends with "@RSYNCD: EXIT"; a module with `auth users` sends
// "@RSYNCD: AUTHREQD <challenge>", reads "user response" and refuses with "@ERROR: auth failed on module
// X" (the response is logged as a hashcat line: digest(password + challenge), base64 without padding);
// a module without auth ends in "@ERROR: chdir failed" (its path is gone), as a stale one does.
//
// Lines are read as read_line_old reads them: '\r' dropped, a NUL or a line filling the daemon's buffer
// ends the connection without a word. The daemon sets no timeout of its own by default.
import type { CapturedHash, ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { hex } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import type { RsyncTemplates } from "./templates.ts";

/** The longest line any entry reads (BIGPATHBUFLEN for the auth response), and what a session holds. */
export const RSYNC_MAX_BUFFERED = 8192;
/** The auth response line is read into a BIGPATHBUFLEN buffer (MAXPATHLEN + 1024). */
const AUTH_LINE_MAX = 5120;

const DIGEST_BYTES: Record<string, number> = { md4: 16, md5: 16, sha1: 20, sha256: 32, sha512: 64 };
/** hashcat modes for hash(password . salt), the salt being the challenge text. */
const HASHCAT_MODE: Record<string, number> = { md5: 10, sha1: 110, sha256: 1410, sha512: 1710 };

interface Module {
  name: string;
  comment: string;
  auth: boolean;
}

/** The host's modules: 2 to 4 of the pool, in the pool's order, at least one with auth. */
export function hostModules(pool: string[], hostRandom: (label: string) => number): Module[] {
  const all = pool.map((line) => {
    const [name = "", comment = "", auth = ""] = line.split("|");
    return { name, comment, auth: auth === "auth" };
  });
  if (all.length === 0) return [];
  const count = Math.min(all.length, 2 + Math.floor(hostRandom("rsync-module-count") * 3));
  const ranked = [...all].sort((a, b) => hostRandom(`rsync-module-${a.name}`) - hostRandom(`rsync-module-${b.name}`));
  const chosen = ranked.slice(0, count);
  if (!chosen.some((m) => m.auth)) {
    const auth = ranked.find((m) => m.auth);
    if (auth) chosen[chosen.length - 1] = auth;
  }
  return all.filter((m) => chosen.includes(m));
}

/** Unpadded base64 as rsync's base64_encode writes it. */
function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

export function startRsync(ctx: SessionContext<RsyncTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const modules = hostModules(t.modulePool, ctx.hostRandom);
  const greetWords = t.greeting.slice("@RSYNCD: ".length).split(" ");
  const serverProtocol = Number.parseInt(greetWords[0]!, 10);
  const serverDigests = greetWords.slice(1);
  const lineMax = t.lineMax;

  const queue = new ByteQueue();
  /** The line being read (without '\r'), and whether the current line has gone past the buffer. */
  let state: "greeting" | "module" | "auth" | "done" = "greeting";
  let protocol = serverProtocol;
  let clientDigests: string[] | undefined;
  let authModule: Module | undefined;
  let challenge = "";
  let digest = "md5";

  function reply(text: string, close = false, events: ProtocolEvent[] = []): Reply {
    const r: Reply = { write: text };
    if (close) {
      state = "done";
      r.close = true;
    }
    if (events.length > 0) r.events = events;
    return r;
  }

  function onGreeting(line: string): Reply {
    const m = /^@RSYNCD: \s*([+-]?\d+)(?:\.\s*([+-]?\d+))?/.exec(line);
    if (!m) return reply("@ERROR: protocol startup error\n", true, [{ action: "error", message: "not an rsync greeting" }]);
    const remote = Number.parseInt(m[1]!, 10);
    const hasSub = m[2] !== undefined;
    if (t.requireSubprotocol && !hasSub && remote >= 30) return reply(`@ERROR: your client omitted the subprotocol value: ${line}\n`, true);
    const sp = line.indexOf(" ", 9);
    if (sp >= 0) clientDigests = line.slice(sp + 1).split(/\s+/).filter((x) => x.length > 0);
    else if (t.requireDigestList && remote > 31) return reply(`@ERROR: your client omitted the digest name list: ${line}\n`, true);
    protocol = Math.min(serverProtocol, Number.isFinite(remote) ? remote : serverProtocol);
    state = "module";
    return {};
  }

  function onModule(line: string): Reply {
    if (line === "" || line === "#list") {
      const list = modules.map((m) => `${m.name.padEnd(15, " ")}\t${m.comment}\n`).join("");
      return reply(list + (protocol >= 25 ? "@RSYNCD: EXIT\n" : ""), true, [{ action: "command", command: line === "" ? "#list (empty line)" : "#list" }]);
    }
    if (line.startsWith("#") && serverProtocol >= 30) return reply(`@ERROR: Unknown command '${line}'\n`, true, [{ action: "command", command: line.slice(0, 256) }]);
    const mod = modules.find((m) => m.name === line);
    const events: ProtocolEvent[] = [{ action: "command", command: line.slice(0, 256) }];
    if (!mod) return reply(`@ERROR: Unknown module '${line}'\n`, true, events);
    if (!mod.auth) return reply("@ERROR: chdir failed\n", true, events);
    // The digest: the first of the client's list the daemon offers; without lists, md5 from protocol 30, md4 before.
    digest = protocol >= 30 ? "md5" : "md4";
    if (serverDigests.length > 0 && clientDigests && clientDigests.length > 0) digest = clientDigests.find((d) => serverDigests.includes(d)) ?? digest;
    challenge = base64(ctx.random(DIGEST_BYTES[digest] ?? 16));
    authModule = mod;
    state = "auth";
    return { write: `@RSYNCD: AUTHREQD ${challenge}\n`, events };
  }

  function onAuth(line: string): Reply {
    const mod = authModule!;
    const sp = line.indexOf(" ");
    const refuse = `@ERROR: auth failed on module ${mod.name}\n`;
    if (sp < 0) return reply(refuse, true, [{ action: "error", message: "invalid challenge response" }]);
    const user = line.slice(0, sp).slice(0, 256);
    const response = line.slice(sp + 1);
    const bytes = /^[A-Za-z0-9+/]+$/.test(response) ? Buffer.from(response, "base64") : Buffer.alloc(0);
    const mode = HASHCAT_MODE[digest];
    const client: Record<string, string> = { module: mod.name, digest };
    let hash: CapturedHash | undefined;
    if (mode !== undefined && bytes.length === DIGEST_BYTES[digest]) {
      hash = { value: `${hex(bytes)}:${challenge}`, type: `rsync-${digest}`, hashcatMode: mode };
    } else {
      client.challenge = challenge;
      client.auth_response = response.slice(0, 128);
    }
    return reply(refuse, true, [{ action: "login", method: "rsync", user, ...(hash ? { hash } : {}), client }]);
  }

  /** Bytes of the queue already scanned for the current line, and the characters among them ('\r' does not count). */
  let scanned = 0;
  let chars = 0;

  /** Reads whole lines out of the queue and answers them; a bad line ends the session. */
  function pump(): Reply {
    const writes: string[] = [];
    const events: ProtocolEvent[] = [];
    let close: Reply["close"];
    while (state !== "done") {
      const max = (state === "auth" ? AUTH_LINE_MAX : lineMax) - 1;
      let nl = -1;
      let bad = false;
      for (; scanned < queue.length; scanned++) {
        const c = queue.at(scanned);
        if (c === 0x0a) {
          nl = scanned;
          break;
        }
        if (c === 0x00 || chars >= max) {
          bad = true;
          break;
        }
        if (c !== 0x0d) chars++;
      }
      if (bad) {
        // read_line_old gives up: the daemon exits without a word, over whatever is still unread.
        state = "done";
        events.push({ action: "error", message: "over-long or NUL-carrying line" });
        queue.clear();
        close = "reset";
        break;
      }
      if (nl < 0) break;
      const line = queue.latin1(0, nl).replace(/\r/g, "");
      queue.take(nl + 1);
      scanned = 0;
      chars = 0;
      const r = state === "greeting" ? onGreeting(line) : state === "module" ? onModule(line) : onAuth(line);
      if (typeof r.write === "string") writes.push(r.write);
      events.push(...(r.events ?? []));
      if (r.close) {
        close = queue.length > 0 ? "reset" : true;
        queue.clear();
        break;
      }
    }
    const out: Reply = {};
    if (writes.length > 0) out.write = writes.join("");
    if (events.length > 0) out.events = events;
    if (close !== undefined) out.close = close;
    return out;
  }

  return {
    buffered: () => queue.length,
    open(): Reply {
      return { write: `${t.greeting}\n` };
    },
    data(chunk: Uint8Array): Reply {
      if (state === "done") return {};
      // Lines are answered as they complete, so the queue holds one partial line at most; a line of
      // '\r's alone could grow it, so past RSYNC_MAX_BUFFERED the daemon's buffer counts as full.
      let at = 0;
      let r: Reply = {};
      const writes: string[] = [];
      const events: ProtocolEvent[] = [];
      while (at < chunk.length && (state as string) !== "done") {
        const take = Math.min(chunk.length - at, RSYNC_MAX_BUFFERED - queue.length);
        if (take <= 0) {
          state = "done";
          queue.clear();
          events.push({ action: "error", message: "over-long or NUL-carrying line" });
          r = { close: "reset" };
          break;
        }
        queue.push(chunk.subarray(at, at + take));
        at += take;
        r = pump();
        if (typeof r.write === "string") writes.push(r.write);
        events.push(...(r.events ?? []));
      }
      if ((state as string) === "done" && r.close === true && at < chunk.length) r.close = "reset";
      const out: Reply = {};
      if (writes.length > 0) out.write = writes.join("");
      if (events.length > 0) out.events = events;
      if (r.close !== undefined) out.close = r.close;
      return out;
    },
  };
}
