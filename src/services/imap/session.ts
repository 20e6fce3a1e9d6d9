// IMAP4rev1 before login: greeting, CAPABILITY, NOOP, LOGOUT, STARTTLS, ID and the like, LOGIN and
// AUTHENTICATE (PLAIN, LOGIN, NTLM) always refused after the daemon's pause. Commands are read as IMAP
// reads them: tag, verb, arguments as atoms, quoted strings, parenthesised lists and literals ({n} with
// its "+ OK" continuation, {n+} without). All wording lives in the entry's templates (templates.ts).
import { hostTime } from "../../host/facts.ts";
import { drainLines, type DrainState } from "../line-daemon.ts";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { fill } from "../../util/template.ts";
import { clip } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { SaslPluginNtlm } from "../../wire/ntlm-sasl-plugin.ts";
import { domainIdentity, plainLogin, SaslNtlm, saslBase64, saslPlain } from "../../wire/sasl.ts";
import { drawMs } from "../schema.ts";
import type { ImapTemplates } from "./templates.ts";

/** What a reply may echo of the peer's input. */
const ECHO_MAX = 512;
/** Input held while the daemon is busy (a refused login's pause); past it, bytes are dropped. */
const INPUT_MAX = 128 * 1024;
/** The arguments of one command gathered across literals. */
const COMMAND_MAX = 128 * 1024;
export const IMAP_MAX_BUFFERED = INPUT_MAX + COMMAND_MAX;

interface Outcome {
  out: string;
  close?: true | "reset";
  delayMs?: number;
  startTls?: boolean;
}

type Tokens = { tokens: string[]; literal?: { n: number; sync: boolean } } | undefined;

/** Splits IMAP arguments: atoms, "quoted" strings, (lists) kept whole, and a {n} or {n+} literal at the end. */
export function imapTokens(s: string): Tokens {
  const tokens: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') {
      let v = "";
      i++;
      for (;;) {
        if (i >= s.length) return undefined;
        const d = s[i]!;
        if (d === "\\") {
          const e = s[i + 1];
          if (e !== '"' && e !== "\\") return undefined;
          v += e;
          i += 2;
        } else if (d === '"') {
          i++;
          break;
        } else {
          v += d;
          i++;
        }
      }
      tokens.push(v);
    } else if (c === "{") {
      const m = /^\{(\d{1,10})(\+?)\}$/.exec(s.slice(i));
      if (!m) return undefined;
      return { tokens, literal: { n: Number(m[1]), sync: m[2] !== "+" } };
    } else if (c === "(") {
      let depth = 0;
      const from = i;
      for (; i < s.length; i++) {
        if (s[i] === "(") depth++;
        else if (s[i] === ")" && --depth === 0) break;
      }
      if (depth !== 0) return undefined;
      i++;
      tokens.push(s.slice(from, i));
    } else {
      const sp = s.indexOf(" ", i);
      const atom = sp < 0 ? s.slice(i) : s.slice(i, sp);
      if (atom === "" || /["{()\\\x00-\x1f\x7f]/.test(atom)) return undefined;
      tokens.push(atom);
      i += atom.length;
    }
    if (i < s.length) {
      if (s[i] !== " " || i + 1 >= s.length) return undefined;
      i++;
    }
  }
  return { tokens };
}

type Auth = { tag: string; mech: string; step: number; user?: string; ntlm?: SaslNtlm | SaslPluginNtlm };

export function startImap(ctx: SessionContext<ImapTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const lineMax = t.lineMax;
  const offersTls = ctx.entry.tls?.mode === "starttls" && t.starttls !== undefined;
  let secure = ctx.entry.tls?.mode === "first-byte";
  const mechanisms = new Set(t.mechanisms.map((m) => m.toUpperCase()));
  const base: Record<string, string | number> = {
    hostname: ctx.hostname,
    fqdn: ctx.host.fqdn,
    localAddress: ctx.localAddress,
    localPort: ctx.localPort,
    remoteAddress: ctx.remoteAddress,
  };
  const timeoutMs = t.timeoutMs === undefined ? undefined : drawMs(t.timeoutMs, ctx.random);

  const q = new ByteQueue();
  /** Bytes at the front of q known to hold no LF. */
  let scanned = 0;
  /** A command whose arguments continue after a literal. */
  let cmd: { tag: string; verb: string; tokens: string[]; size: number; literal: number } | undefined;
  let auth: Auth | undefined;
  let bads = 0;
  /** The daemon asleep in a pause, a reply held for one, or gone (src/services/line-daemon.ts). */
  const st: DrainState<Outcome> = { deferred: undefined, waiting: false, closed: false };

  const say = (tpl: string, vars: Record<string, string> = {}): string =>
    fill(tpl, { ...base, capability: secure ? t.capabilitySecure : t.capability, ...vars });

  function bad(tag: string): Outcome {
    bads++;
    if (t.maxBad > 0 && bads >= t.maxBad) return { out: say(t.tooManyBad), close: true };
    return { out: say(t.bad, { tag }) };
  }

  function refuse(tag: string, tpl: string, events: ProtocolEvent[], ev: ProtocolEvent | undefined): Outcome {
    if (ev) events.push(ev);
    return { out: say(tpl, { tag }), delayMs: drawMs(t.loginFailDelayMs, ctx.random) };
  }

  /** One response line in an AUTHENTICATE exchange. */
  function continueAuth(a: Auth, line: string, events: ProtocolEvent[]): Outcome {
    const fail = t.authFail ?? t.loginFail;
    if (line === "*") {
      auth = undefined;
      return { out: say(t.authAborted, { tag: a.tag }) };
    }
    const msg = saslBase64(line);
    if (msg === undefined) {
      auth = undefined;
      if (t.authErrorsPause) return refuse(a.tag, t.authBadBase64, events, undefined);
      return { out: say(t.authBadBase64, { tag: a.tag }) };
    }
    if (a.mech === "PLAIN") {
      auth = undefined;
      const p = saslPlain(msg);
      return refuse(a.tag, fail, events, p && plainLogin("imap-plain", p));
    }
    if (a.mech === "LOGIN") {
      const text = clip(Buffer.from(msg).toString("utf8"));
      if (a.step === 0) {
        a.user = text;
        a.step = 1;
        return { out: say(t.authLoginPass) };
      }
      auth = undefined;
      return refuse(a.tag, fail, events, { action: "login", method: "imap-auth-login", user: a.user ?? "", password: text });
    }
    // NTLM
    const r = a.ntlm!.step(msg, ctx.random, hostTime(ctx.host, ctx.now()));
    if (r?.challenge) return { out: `+ ${Buffer.from(r.challenge).toString("base64")}\r\n` };
    auth = undefined;
    return refuse(a.tag, fail, events, r?.event);
  }

  function authenticate(tag: string, args: string[], events: ProtocolEvent[]): Outcome {
    if (args.length < 1 || args.length > 2) return bad(tag);
    const mech = args[0]!.toUpperCase();
    if (!mechanisms.has(mech)) return t.authErrorsPause ? refuse(tag, t.authUnsupported, events, undefined) : { out: say(t.authUnsupported, { tag }) };
    const ir = args[1];
    if (!secure && (mech === "PLAIN" || mech === "LOGIN") && t.privacyAuth !== undefined) {
      // The daemon refuses before reading the response, but a client that sent one (SASL-IR) gave it away.
      const msg = ir === undefined ? undefined : saslBase64(ir);
      const p = mech === "PLAIN" && msg !== undefined ? saslPlain(msg) : undefined;
      if (p) events.push(plainLogin("imap-plain", p));
      return { out: say(t.privacyAuth, { tag }) };
    }
    const a: Auth = { tag, mech, step: 0 };
    if (mech === "NTLM") a.ntlm = t.ntlmStyle === "sasl-plugin" ? new SaslPluginNtlm(ctx.hostname.split(".")[0]!.toUpperCase(), "imap-ntlm") : new SaslNtlm(domainIdentity(ctx.host, t.ntlmVersion), "imap-ntlm");
    auth = a;
    if (ir !== undefined) return continueAuth(a, ir, events);
    return { out: say(mech === "LOGIN" ? t.authLoginUser : t.authContinue) };
  }

  function execute(tag: string, verbRaw: string, args: string[], events: ProtocolEvent[]): Outcome {
    const verb = verbRaw.toUpperCase();
    const vars = { tag, verb: verb.slice(0, ECHO_MAX) };
    if (verb !== "LOGIN" && verb !== "AUTHENTICATE") events.push({ action: "command", command: clip([tag, verbRaw, ...args].join(" "), ECHO_MAX) });
    else events.push({ action: "command", command: clip(`${tag} ${verbRaw}${verb === "AUTHENTICATE" && args[0] ? ` ${args[0]}` : ""}`, ECHO_MAX) });
    switch (verb) {
      case "CAPABILITY":
        return { out: `* CAPABILITY ${secure ? t.capabilitySecure : t.capability}\r\n${say(t.capabilityOk, vars)}` };
      case "NOOP":
        return { out: say(t.noop, vars) };
      case "LOGOUT":
        return { out: say(t.logout, vars), close: true };
      case "STARTTLS":
        if (secure && t.tlsActive !== undefined) return { out: say(t.tlsActive, vars) };
        if (!offersTls && Object.hasOwn(t.commands, verb)) return { out: say(t.commands[verb]!, vars) };
        if (!offersTls || secure) return bad(tag);
        secure = true;
        return { out: say(t.starttls!, vars), startTls: true };
      case "LOGIN": {
        if (args.length < 2 && t.loginArgsMissing !== undefined) return { out: say(t.loginArgsMissing, vars) };
        if (args.length > 2 && t.loginArgsExtra !== undefined) return { out: say(t.loginArgsExtra, vars) };
        if (args.length !== 2) return bad(tag);
        const ev: ProtocolEvent = { action: "login", method: "imap", user: clip(args[0]!), password: clip(args[1]!) };
        if (!secure && t.privacyLogin !== undefined) {
          events.push(ev);
          return { out: say(t.privacyLogin, vars) };
        }
        return refuse(tag, t.loginFail, events, ev);
      }
      case "AUTHENTICATE":
        return authenticate(tag, args, events);
    }
    if (Object.hasOwn(t.commands, verb)) return { out: say(t.commands[verb]!, vars) };
    return bad(tag);
  }

  /** A line that starts a command, or continues one after a literal. */
  function line(text: string, events: ProtocolEvent[]): Outcome {
    if (auth) return continueAuth(auth, text, events);
    let c = cmd;
    let rest: string;
    if (c) {
      // What follows a literal: nothing, or a space and more arguments.
      if (text !== "" && !text.startsWith(" ")) {
        cmd = undefined;
        return bad(c.tag);
      }
      rest = text.slice(1);
    } else {
      if (text === "") {
        bads++;
        if (t.maxBad > 0 && bads >= t.maxBad) return { out: say(t.tooManyBad), close: true };
        return { out: say(t.noTag) };
      }
      const sp = text.indexOf(" ");
      const tag = clip(sp < 0 ? text : text.slice(0, sp), ECHO_MAX);
      if (sp < 0) return bad(tag);
      const after = text.slice(sp + 1);
      const sp2 = after.indexOf(" ");
      const verb = sp2 < 0 ? after : after.slice(0, sp2);
      if (verb === "" || !/^[A-Za-z]+$/.test(verb)) return bad(tag);
      rest = sp2 < 0 ? "" : after.slice(sp2 + 1);
      if (sp2 >= 0 && rest === "") return bad(tag);
      c = { tag, verb, tokens: [], size: 0, literal: 0 };
    }
    const parsed = rest === "" && c.tokens.length === 0 ? { tokens: [] } : imapTokens(rest);
    if (!parsed) {
      cmd = undefined;
      return bad(c.tag);
    }
    c.tokens.push(...parsed.tokens);
    c.size += rest.length;
    if (parsed.literal) {
      if (parsed.literal.n > t.literalMax || c.size + parsed.literal.n > COMMAND_MAX) {
        cmd = undefined;
        return { out: say(t.literalTooLarge), close: true };
      }
      c.literal = parsed.literal.n;
      cmd = c;
      return { out: parsed.literal.sync ? say(t.literalContinue) : "" };
    }
    cmd = undefined;
    return execute(c.tag, c.verb, c.tokens, events);
  }

  /** The next step from the input, or undefined when more bytes are needed. */
  function next(events: ProtocolEvent[]): Outcome | undefined {
    if (cmd && cmd.literal > 0) {
      if (q.length < cmd.literal) return undefined;
      const v = q.latin1(0, cmd.literal);
      q.skip(cmd.literal);
      scanned = 0;
      cmd.size += cmd.literal;
      cmd.tokens.push(v);
      cmd.literal = 0;
      return { out: "" };
    }
    const nl = q.indexOf(0x0a, scanned, lineMax);
    if (nl < 0) {
      if (q.length < lineMax) {
        scanned = q.length;
        return undefined;
      }
      events.push({ action: "error", message: "line too long" });
      return { out: say(t.lineTooLong), close: t.lineTooLongClose === "reset" ? "reset" : true };
    }
    let text = q.latin1(0, nl);
    q.skip(nl + 1);
    scanned = 0;
    if (text.endsWith("\r")) text = text.slice(0, -1);
    return line(text, events);
  }

  function drain(): Reply {
    return drainLines(st, {
      next: (events) => next(events),
      pending: () => q.length > 0,
      dropReadAhead: () => {
        q.clear();
        scanned = 0;
      },
      ...(timeoutMs !== undefined && t.timeoutRestarts ? { restart: { name: "timeout", ms: timeoutMs } } : {}),
    });
  }


  return {
    buffered: () => q.length + (cmd ? cmd.size : 0),
    open(): Reply {
      const reply: Reply = { write: say(secure && t.bannerSecure !== undefined ? t.bannerSecure : t.banner) };
      if (timeoutMs !== undefined) reply.timers = { timeout: timeoutMs };
      return reply;
    },
    data(chunk: Uint8Array): Reply {
      if (st.closed) return {};
      const room = INPUT_MAX - q.length;
      if (room <= 0) return {};
      q.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
      return st.waiting ? {} : drain();
    },
    timer(name: string): Reply {
      if (st.closed) return {};
      if (name === "timeout") {
        st.closed = true;
        return { write: say(t.timeout), close: true };
      }
      if (name === "resume") {
        st.waiting = false;
        return drain();
      }
      return {};
    },
  };
}
