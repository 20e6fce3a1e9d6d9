// FTP control channel before login: greeting, USER/PASS (always refused), and the pre-login answers
// of the claimed daemon. All wording lives in the entry's templates; this file only knows the grammar
// and the daemon's clock: its pause before "Login incorrect", its sleep after USER, its idle and login
// timeouts and their last words.
//
// The template keys and their meaning are in templates.ts.
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { localTime } from "../../host/facts.ts";
import { fill } from "../../util/template.ts";
import { LineSplitter, type LineEvent } from "../../wire/lines.ts";
import { drawMs, type MsRange } from "../schema.ts";
import type { FtpTemplates } from "./templates.ts";

/** What a client may echo back to itself is cut here: replies never grow with attacker input. */
const ECHO_MAX = 512;
/** Our own hard cap on a line, whatever the template says. */
const LINE_CAP = 16384;
/** Lines read ahead while the daemon sleeps are kept up to this many bytes; the rest is dropped. */
const QUEUE_MAX = 64 * 1024;
/** The most a session holds of its peer's input: a line without its end, and the lines read ahead. */
export const FTP_MAX_BUFFERED = LINE_CAP + QUEUE_MAX;

/** What a queued line counts against QUEUE_MAX: its text and its end (an empty line is not free). */
const cost = (ev: LineEvent): number => ev.text.length + 1;

/** Template keys whose value is one reply text. */
type ReplyKey = { [K in keyof FtpTemplates]: FtpTemplates[K] extends string | undefined ? K : never }[keyof FtpTemplates];

/** What one command line does: the reply, and the daemon's time around it. */
interface Outcome {
  out: string;
  close: boolean;
  /** Milliseconds the daemon takes before the reply goes out. */
  delayMs: number;
  /** Milliseconds the daemon sleeps after the reply before it reads the next command. */
  pauseMs: number;
  /** TLS starts once the reply has gone out (AUTH TLS). */
  startTls?: boolean;
}

function mapped(ip: string): string {
  return ip.includes(":") ? ip : `::ffff:${ip}`;
}

/** The template's word lists as sets, made once per entry (every connection of a face asks the same). */
const verbSetCache = new WeakMap<FtpTemplates, ReturnType<typeof makeVerbSets>>();

function makeVerbSets(t: FtpTemplates) {
  return {
    known: t.knownVerbs === undefined ? undefined : new Set(t.knownVerbs),
    unimplemented: new Set(t.unimplementedVerbs),
    httpVerbs: new Set(t.httpVerbs),
    denied: new Set(t.deniedUsers),
    closeOn: new Set(t.closeOn),
    tlsArgs: new Set(t.tlsAuthArgs.map((a) => a.toUpperCase())),
  };
}

function verbSets(t: FtpTemplates): ReturnType<typeof makeVerbSets> {
  let sets = verbSetCache.get(t);
  if (!sets) {
    sets = makeVerbSets(t);
    verbSetCache.set(t, sets);
  }
  return sets;
}

export function startFtp(ctx: SessionContext<FtpTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const action = t.lineTooLongAction;
  const newSplitter = () => new LineSplitter(Math.min(t.lineMax, LINE_CAP), action);
  let lines = newSplitter();
  const { known, unimplemented, httpVerbs, denied, closeOn, tlsArgs } = verbSets(t);
  // AUTH TLS only where the entry says the daemon offers it; otherwise AUTH is one more command.
  const offersTls = ctx.entry.tls?.mode === "starttls" && t.authTls !== undefined;
  const maxFails = t.maxLoginFails;
  const draw = (range: MsRange): number => drawMs(range, ctx.random);
  const idleMs = t.idleTimeoutMs === undefined || t.idleTimeout === undefined ? undefined : draw(t.idleTimeoutMs);
  const loginMs = t.loginTimeoutMs === undefined || t.loginTimeout === undefined ? undefined : draw(t.loginTimeoutMs);
  const local = localTime(ctx.host, ctx.now());
  const base: Record<string, string | number> = {
    hostname: ctx.hostname,
    HOSTNAME: ctx.hostname.toUpperCase(),
    fqdn: ctx.host.fqdn,
    localAddress: ctx.localAddress,
    localAddressMapped: mapped(ctx.localAddress),
    localPort: ctx.localPort,
    remoteAddress: ctx.remoteAddress,
    // The host's wall clock (its zone and clock error), never the process's time zone.
    time: `${String(local.hour).padStart(2, "0")}:${String(local.minute).padStart(2, "0")}`,
    // Pure-FTPd counts the clients connected now, this one included.
    userNumber: ctx.concurrent,
    // The daemons print their configured timeouts in whole seconds.
    idleSeconds: idleMs === undefined ? 0 : Math.round(idleMs / 1000),
    loginSeconds: loginMs === undefined ? 0 : Math.round(loginMs / 1000),
  };

  let pendingUser: string | null = null;
  /** The control channel speaks TLS (after AUTH TLS): the session still reads and writes plaintext. */
  let secure = false;
  let fails = 0;
  let closed = false;
  /** Lines read but not yet served: the daemon is asleep, or a delayed reply must go out first. */
  const queue: LineEvent[] = [];
  let queuedBytes = 0;
  /** A "resume" timer is pending: lines wait in the queue until it runs. */
  let waiting = false;
  /** A delayed reply already decided, held back until what was answered before it has gone out. */
  let deferred: Outcome | undefined;

  /** Reply text of a template key, filled; undefined when the entry has no such key. */
  function say(key: ReplyKey, extra: Record<string, string> = {}): string | undefined {
    const tpl = t[key];
    return tpl === undefined ? undefined : fill(tpl, { ...base, ...extra });
  }

  function now(out: string, close = false): Outcome {
    return { out, close, delayMs: 0, pauseMs: 0 };
  }

  function sayText(tpl: string, key: string, vars: Record<string, string>): Outcome {
    return now(fill(tpl, { ...base, ...vars }), closeOn.has(key));
  }

  /** Counts a failed login; true when the daemon hangs up after this one. */
  function failed(): boolean {
    fails++;
    return maxFails > 0 && fails >= maxFails;
  }

  /** mod_copy before login: what exists, what was named by CPFR, what CPTO made (this session only). */
  let copySource: string | undefined;
  const made = new Set<string>();

  function exists(path: string): boolean {
    if (path === "/" || made.has(path)) return true;
    return t.copyPaths.some((p) => p === path || p.startsWith(`${path}/`));
  }

  /** SITE CPFR / CPTO as ProFTPD 1.3.5's mod_copy answers them to anyone; undefined for other SITE words. */
  function siteCopy(arg: string): string | undefined {
    const sp = arg.indexOf(" ");
    const word = (sp < 0 ? arg : arg.slice(0, sp)).toUpperCase();
    if (word !== "CPFR" && word !== "CPTO") return undefined;
    const raw = sp < 0 ? "" : arg.slice(sp + 1);
    if (raw === "") return undefined;
    const path = absolutePath(raw);
    const vars = { ...base, path: path.slice(0, ECHO_MAX) };
    if (word === "CPFR") {
      if (!exists(path)) {
        copySource = undefined;
        return fill(t.copyFromMissing, vars);
      }
      copySource = path;
      return fill(t.copyFrom!, vars);
    }
    if (copySource === undefined) return fill(t.copyToFirst, vars);
    copySource = undefined;
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    if (!exists(dir)) return fill(t.copyFromMissing, vars);
    if (!t.copyWritable.some((w) => dir === w || dir.startsWith(`${w}/`))) return fill(t.copyToDenied, vars);
    if (made.size < 64) made.add(path);
    return fill(t.copyTo, vars);
  }

  function handle(text: string, events: ProtocolEvent[]): Outcome {
    const sp = text.indexOf(" ");
    const rawVerb = sp < 0 ? text : text.slice(0, sp);
    const arg = sp < 0 ? "" : text.slice(sp + 1);
    const verb = rawVerb.toUpperCase();
    const vars = {
      verb: verb.slice(0, ECHO_MAX),
      verbLower: rawVerb.toLowerCase().slice(0, ECHO_MAX),
      verbRaw: rawVerb.slice(0, ECHO_MAX),
      arg: arg.slice(0, ECHO_MAX),
      word: (arg.split(" ")[0] ?? "").slice(0, ECHO_MAX),
      wordUpper: (arg.split(" ")[0] ?? "").toUpperCase().slice(0, ECHO_MAX),
      line: text.slice(0, ECHO_MAX),
    };
    const reply = (key: ReplyKey): Outcome => now(say(key, vars) ?? "", closeOn.has(key));

    if (text === "") return t.empty === undefined ? now("") : reply("empty");
    if (verb !== "PASS") events.push({ action: "command", command: text });

    switch (verb) {
      case "USER": {
        const user = arg.slice(0, ECHO_MAX);
        const upper = user.toUpperCase();
        const anonymous = upper === "ANONYMOUS" || upper === "FTP";
        let key: ReplyKey = "user";
        // The daemon's TLS rules come first: vsftpd checks them before its user_list, and an empty name is
        // not anonymous to it either.
        if (offersTls && !secure && (!anonymous || t.userClearAnonymous) && t.userClear !== undefined) key = "userClear";
        else if (user === "") key = t.userNoArg !== undefined ? "userNoArg" : "user";
        else if (offersTls && secure && anonymous && t.userAnonSecure !== undefined) key = "userAnonSecure";
        else if (anonymous && t.userAnon !== undefined) key = "userAnon";
        else if (denied.has(user) && t.userDenied !== undefined) key = "userDenied";
        const out = say(key, { ...vars, user }) ?? "";
        // Only a 331 leaves the daemon waiting for a password.
        pendingUser = user !== "" && out.startsWith("331") ? user : null;
        if (key === "userDenied") {
          const last = t.userDeniedIsFailure && failed();
          return { out, close: closeOn.has(key) || last, delayMs: draw(t.userDeniedDelayMs), pauseMs: 0 };
        }
        // BSD ftpd sleeps after asking for the password, one step per failure so far.
        let pauseMs = 0;
        if (pendingUser !== null) for (let i = 0; i < fails; i++) pauseMs += draw(t.userPauseStepMs);
        return { out, close: closeOn.has(key), delayMs: 0, pauseMs };
      }
      case "PASS": {
        if (pendingUser === null) {
          events.push({ action: "command", command: text });
          return reply("passFirst");
        }
        const user = pendingUser;
        pendingUser = null;
        // The pause grows with the failures before this one (Pure-FTPd); most daemons keep it flat.
        let delayMs = draw(t.loginFailDelayMs);
        for (let i = 0; i < fails; i++) delayMs += draw(t.loginFailDelayStepMs);
        const last = failed();
        events.push({ action: "login", method: "ftp", user, password: arg });
        const out = say("pass", { ...vars, user }) ?? "";
        return { out, close: closeOn.has("pass") || last, delayMs, pauseMs: 0 };
      }
      case "QUIT":
        return now(say("quit", vars) ?? "", true);
    }
    if (httpVerbs.has(verb)) return now(say("http", vars) ?? "", true);
    if (verb === "SITE" && t.copyFrom !== undefined) {
      const copied = siteCopy(arg);
      if (copied !== undefined) return now(copied);
    }
    const argUpper = arg.toUpperCase();
    const firstWord = argUpper.split(" ")[0] ?? "";
    if (verb === "AUTH" && offersTls && !secure && tlsArgs.has(argUpper)) {
      secure = true;
      return { ...now(say("authTls", vars) ?? ""), startTls: true };
    }
    if (secure && arg === "" && Object.hasOwn(t.secureNoArg, verb)) return sayText(t.secureNoArg[verb]!, `secureNoArg.${verb}`, vars);
    if (arg === "" && Object.hasOwn(t.noArg, verb)) return sayText(t.noArg[verb]!, `noArg.${verb}`, vars);
    const keys = arg === "" ? [verb] : [`${verb} ${argUpper}`, `${verb} ${firstWord}`, verb];
    if (secure) for (const key of keys) if (Object.hasOwn(t.secureCommands, key)) return sayText(t.secureCommands[key]!, `secureCommands.${key}`, vars);
    for (const key of keys) if (Object.hasOwn(t.commands, key)) return sayText(t.commands[key]!, `commands.${key}`, vars);
    if (unimplemented.has(verb) && t.unimplemented !== undefined) return reply("unimplemented");
    if (known === undefined || known.has(verb)) return reply("needLogin");
    return t.unknown !== undefined ? reply("unknown") : reply("needLogin");
  }

  function serve(ev: LineEvent, events: ProtocolEvent[]): Outcome {
    if (!ev.tooLong) return handle(ev.text, events);
    events.push({ action: "command", command: ev.text.slice(0, ECHO_MAX) });
    // vsftpd 2.2.1 and older served the cut piece as an empty command, which it ignores: lineTooLong "".
    const out = fill(t.lineTooLong, { ...base, line: ev.text.slice(0, ECHO_MAX) });
    return now(out, action === "close" || closeOn.has("lineTooLong"));
  }

  /**
   * Serves queued lines in order until one needs the daemon's time: a delayed reply goes out alone
   * (after what was answered before it), a sleep holds the rest of the queue until a "resume" timer.
   */
  function drain(): Reply {
    const events: ProtocolEvent[] = [];
    const timers: Record<string, number | null> = {};
    let out = "";
    let delayMs = 0;
    /** When, from now, the daemon is back at reading commands: the idle timer starts there. */
    let readsAgainIn = 0;
    let served = false;
    let startTls = false;
    for (;;) {
      let r: Outcome;
      if (deferred !== undefined) {
        r = deferred;
        deferred = undefined;
      } else {
        const ev = queue.shift();
        if (ev === undefined) break;
        queuedBytes -= cost(ev);
        r = serve(ev, events);
      }
      served = true;
      if (r.delayMs > 0 && out !== "") {
        // Earlier replies go now; this one after its pause, once they are out.
        deferred = r;
        waiting = true;
        timers.resume = 0;
        break;
      }
      out += r.out;
      if (r.startTls) {
        // What follows on the wire is the client's handshake, not commands: lines read ahead are dropped,
        // as the daemon's TLS library would have taken them for a (broken) ClientHello.
        startTls = true;
        queue.length = 0;
        queuedBytes = 0;
        lines = newSplitter();
        break;
      }
      if (r.close) {
        closed = true;
        delayMs = r.delayMs;
        break;
      }
      if (r.delayMs > 0 || r.pauseMs > 0) {
        delayMs = r.delayMs;
        readsAgainIn = r.delayMs + r.pauseMs;
        // Lines already read wait for the daemon; new ones wait in the driver during the delay.
        if (r.pauseMs > 0 || queue.length > 0) {
          waiting = true;
          timers.resume = readsAgainIn;
        }
        break;
      }
    }
    if (served && !closed && idleMs !== undefined) timers.idle = readsAgainIn + idleMs;
    const reply: Reply = {};
    if (out !== "") reply.write = out;
    if (delayMs > 0) reply.delayMs = delayMs;
    if (closed) reply.close = true;
    if (startTls) reply.startTls = true;
    if (events.length > 0) reply.events = events;
    if (Object.keys(timers).length > 0) reply.timers = timers;
    return reply;
  }

  function goodbye(key: "idleTimeout" | "loginTimeout"): Reply {
    closed = true;
    return { write: say(key) ?? "", close: t.idleClose === "reset" ? "reset" : true };
  }

  return {
    buffered: () => lines.buffered + queuedBytes,
    open(): Reply {
      const timers: Record<string, number> = {};
      if (idleMs !== undefined) timers.idle = idleMs;
      if (loginMs !== undefined) timers.login = loginMs;
      const reply: Reply = { write: say("banner") ?? "" };
      if (Object.keys(timers).length > 0) reply.timers = timers;
      return reply;
    },
    data(chunk: Uint8Array): Reply {
      if (closed) return {};
      for (const ev of lines.push(chunk)) {
        if (queuedBytes + cost(ev) > QUEUE_MAX) break;
        queue.push(ev);
        queuedBytes += cost(ev);
      }
      return waiting ? {} : drain();
    },
    timer(name: string): Reply {
      if (closed) return {};
      if (name === "idle") return goodbye("idleTimeout");
      if (name === "login") return goodbye("loginTimeout");
      if (name === "resume") {
        waiting = false;
        return drain();
      }
      return {};
    },
  };
}

/** A path as the daemon resolves it before login, from "/": dot segments removed, slashes merged. */
function absolutePath(raw: string): string {
  const out: string[] = [];
  for (const seg of raw.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return `/${out.join("/")}`;
}
