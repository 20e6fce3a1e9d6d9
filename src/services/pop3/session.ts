// POP3 before login: greeting, CAPA, STLS, USER/PASS and AUTH (PLAIN, LOGIN, NTLM) always refused after
// the daemon's pause, QUIT, and the daemon's answers to the rest. All wording lives in the entry's
// templates (templates.ts).
import { hostTime } from "../../host/facts.ts";
import { drainLines, type DrainState } from "../line-daemon.ts";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { fill } from "../../util/template.ts";
import { clip } from "../../wire/bytes.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { SaslPluginNtlm } from "../../wire/ntlm-sasl-plugin.ts";
import { domainIdentity, plainLogin, SaslNtlm, saslBase64, saslPlain } from "../../wire/sasl.ts";
import { drawMs } from "../schema.ts";
import type { Pop3Templates } from "./templates.ts";

const ECHO_MAX = 512;
/** Input held while the daemon is busy (a refused login's pause); past it, bytes are dropped. */
const INPUT_MAX = 128 * 1024;
export const POP3_MAX_BUFFERED = INPUT_MAX;

interface Outcome {
  out: string;
  close?: true | "reset";
  delayMs?: number;
  startTls?: boolean;
}

type Auth = { mech: string; step: number; user?: string; ntlm?: SaslNtlm | SaslPluginNtlm };

export function startPop3(ctx: SessionContext<Pop3Templates>): ProtocolSession {
  const t = ctx.entry.templates;
  const offersTls = ctx.entry.tls?.mode === "starttls" && t.stls !== undefined;
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
  // The APOP timestamp as Cyrus pop3d writes it: a random 64-bit number, the time in seconds, the host.
  const apopStamp = t.banner.includes("{{apopStamp}}")
    ? `<${Buffer.from(ctx.random(8)).readBigUInt64BE()}.${Math.floor(hostTime(ctx.host, ctx.now()).getTime() / 1000)}@${ctx.hostname}>`
    : "";
  base.apopStamp = apopStamp;
  const q = new ByteQueue();
  let scanned = 0;
  let user: string | undefined;
  let auth: Auth | undefined;
  let bads = 0;
  /** The daemon asleep in a pause, a reply held for one, or gone (src/services/line-daemon.ts). */
  const st: DrainState<Outcome> = { deferred: undefined, waiting: false, closed: false };

  const say = (tpl: string, vars: Record<string, string> = {}): string => fill(tpl, { ...base, ...vars });

  function unknown(vars: Record<string, string>): Outcome {
    bads++;
    const out = say(t.unknown, vars);
    if (t.maxBad > 0 && bads >= t.maxBad) return { out: out + say(t.tooManyBad), close: true };
    return { out };
  }

  function refuse(tpl: string, events: ProtocolEvent[], ev: ProtocolEvent | undefined): Outcome {
    if (ev) events.push(ev);
    return { out: say(tpl), delayMs: drawMs(t.loginFailDelayMs, ctx.random) };
  }

  function continueAuth(a: Auth, line: string, events: ProtocolEvent[]): Outcome {
    const fail = t.authFail ?? t.pass;
    if (line === "*") {
      auth = undefined;
      return { out: say(t.authAborted) };
    }
    const msg = saslBase64(line);
    if (msg === undefined) {
      auth = undefined;
      if (t.authErrorsPause) return refuse(t.authBadBase64, events, undefined);
      return { out: say(t.authBadBase64) };
    }
    if (a.mech === "PLAIN") {
      auth = undefined;
      const p = saslPlain(msg);
      return refuse(fail, events, p && plainLogin("pop3-plain", p));
    }
    if (a.mech === "LOGIN") {
      const text = clip(Buffer.from(msg).toString("utf8"));
      if (a.step === 0) {
        a.user = text;
        a.step = 1;
        return { out: say(t.authLoginPass) };
      }
      auth = undefined;
      return refuse(fail, events, { action: "login", method: "pop3-auth-login", user: a.user ?? "", password: text });
    }
    const r = a.ntlm!.step(msg, ctx.random, hostTime(ctx.host, ctx.now()));
    if (r?.challenge) return { out: `+ ${Buffer.from(r.challenge).toString("base64")}\r\n` };
    auth = undefined;
    return refuse(fail, events, r?.event);
  }

  function authCommand(arg: string, vars: Record<string, string>, events: ProtocolEvent[]): Outcome {
    const list = secure ? (t.authListSecure ?? t.authList) : t.authList;
    if (list === undefined) return unknown(vars);
    if (arg === "") return { out: say(list, vars) };
    const [mechRaw, ir, extra] = arg.split(" ");
    const mech = mechRaw!.toUpperCase();
    if (extra !== undefined || !mechanisms.has(mech)) return t.authErrorsPause ? refuse(t.authUnsupported, events, undefined) : { out: say(t.authUnsupported, vars) };
    if (!secure && (mech === "PLAIN" || mech === "LOGIN") && t.privacyAuth !== undefined) {
      const msg = ir === undefined ? undefined : saslBase64(ir);
      const p = mech === "PLAIN" && msg !== undefined ? saslPlain(msg) : undefined;
      if (p) events.push(plainLogin("pop3-plain", p));
      return { out: say(t.privacyAuth, vars) };
    }
    const a: Auth = { mech, step: 0 };
    if (mech === "NTLM") a.ntlm = t.ntlmStyle === "sasl-plugin" ? new SaslPluginNtlm(ctx.hostname.split(".")[0]!.toUpperCase(), "pop3-ntlm") : new SaslNtlm(domainIdentity(ctx.host, t.ntlmVersion), "pop3-ntlm");
    auth = a;
    if (ir !== undefined) return continueAuth(a, ir, events);
    return { out: say(mech === "LOGIN" ? t.authLoginUser : t.authContinue, vars) };
  }

  /** APOP name digest: MD5(timestamp + password), logged as hashcat's md5($salt.$pass) with the timestamp as salt. */
  function apop(arg: string, events: ProtocolEvent[]): Outcome {
    const sp = arg.lastIndexOf(" ");
    const name = sp < 0 ? arg : arg.slice(0, sp);
    const digest = sp < 0 ? "" : arg.slice(sp + 1);
    const ev: ProtocolEvent | undefined = /^[0-9a-fA-F]{32}$/.test(digest)
      ? { action: "login", method: "pop3-apop", user: clip(name), hash: { value: `${digest.toLowerCase()}:${apopStamp}`, type: "apop-md5", hashcatMode: 20 } }
      : undefined;
    return refuse(t.apop!, events, ev);
  }

  function line(text: string, events: ProtocolEvent[]): Outcome {
    if (auth) return continueAuth(auth, text, events);
    const sp = text.indexOf(" ");
    const verbRaw = sp < 0 ? text : text.slice(0, sp);
    const arg = sp < 0 ? "" : text.slice(sp + 1);
    const verb = verbRaw.toUpperCase();
    const vars = { verb: clip(verb, ECHO_MAX), arg: clip(arg, ECHO_MAX) };
    if (text === "") return unknown(vars);
    if (verb === "PASS") events.push({ action: "command", command: "PASS" });
    else if (verb === "AUTH") events.push({ action: "command", command: clip(`AUTH ${arg.split(" ")[0] ?? ""}`.trim(), ECHO_MAX) });
    else events.push({ action: "command", command: clip(text, ECHO_MAX) });
    switch (verb) {
      case "CAPA":
        return { out: say(secure ? t.capaSecure : t.capa, vars) };
      case "QUIT":
        return { out: say(t.quit, vars), close: true };
      case "STLS":
        if (secure && t.tlsActive !== undefined) return { out: say(t.tlsActive, vars) };
        if (!offersTls || secure) return unknown(vars);
        secure = true;
        return { out: say(t.stls!, vars), startTls: true };
      case "USER":
        if (!secure && t.privacyUser !== undefined) {
          user = arg === "" ? undefined : clip(arg);
          return { out: say(t.privacyUser, vars) };
        }
        if (arg === "" && t.userNoArg === undefined) return unknown(vars);
        if (arg === "") {
          // Dovecot takes an empty name and asks for the password.
          const out = say(t.userNoArg!, vars);
          if (out.startsWith("+OK")) user = "";
          return { out };
        }
        user = clip(arg);
        return { out: say(t.user, vars) };
      case "PASS": {
        if (user === undefined) {
          // Dovecot refuses PASS in clear whatever came before; the password was sent all the same.
          if (!secure && t.privacyUser !== undefined) {
            if (arg !== "") events.push({ action: "login", method: "pop3", user: "", password: clip(arg) });
            return { out: say(t.privacyUser, vars) };
          }
          return { out: say(t.passFirst, vars) };
        }
        const ev: ProtocolEvent = { action: "login", method: "pop3", user, password: clip(arg) };
        user = undefined;
        if (!secure && t.privacyUser !== undefined) {
          events.push(ev);
          return { out: say(t.privacyUser, vars) };
        }
        return refuse(t.pass, events, ev);
      }
      case "AUTH":
        return authCommand(arg, vars, events);
      case "APOP":
        if (t.apop !== undefined && apopStamp !== "") return apop(arg, events);
        break;
    }
    if (Object.hasOwn(t.commands, verb)) return { out: say(t.commands[verb]!, vars) };
    return unknown(vars);
  }

  function next(events: ProtocolEvent[]): Outcome | undefined {
    const nl = q.indexOf(0x0a, scanned, t.lineMax);
    if (nl < 0) {
      if (q.length < t.lineMax) {
        scanned = q.length;
        return undefined;
      }
      if (t.lineSplit) {
        // The daemon's buffer is full: what it holds is one command, the rest of the line the next.
        const piece = q.latin1(0, t.lineMax);
        q.skip(t.lineMax);
        scanned = 0;
        return line(piece.endsWith("\r") ? piece.slice(0, -1) : piece, events);
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
    buffered: () => q.length,
    open(): Reply {
      const reply: Reply = { write: say(t.banner) };
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
