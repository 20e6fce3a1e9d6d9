// SMTP before delivery: greeting, EHLO/HELO with the product's extension list, the envelope commands as
// the product answers them (relaying refused), STARTTLS, and AUTH (PLAIN, LOGIN, CRAM-MD5, NTLM) always
// refused after the product's pause. Every credential is logged: PLAIN and LOGIN passwords in plaintext,
// CRAM-MD5 and NTLM as the hashcat line of their response. All wording lives in the entry's templates;
// this file knows the grammar, the SASL exchanges and the daemon's clock.
import { hostTime, localTime, utcOffsetMinutes } from "../../host/facts.ts";
import { drainLines, type DrainState } from "../line-daemon.ts";
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { fill } from "../../util/template.ts";
import { clip, rd32 } from "../../wire/bytes.ts";
import { LineSplitter, type LineEvent } from "../../wire/lines.ts";
import { ntlmLoginEvent, ntlmChallenge, ntlmFromBlob, parseNtlmAuth } from "../../wire/ntlmssp.ts";
import { drawMs, type MsRange } from "../schema.ts";
import type { SmtpTemplates } from "./templates.ts";

/** What a reply may echo of the client's input is cut here: replies never grow with attacker input. */
const ECHO_MAX = 256;
/** Our own hard cap on a line, whatever the template says (a SASL response line included). */
const LINE_CAP = 16384;
/** Lines read ahead while the daemon sleeps are kept up to this many bytes; the rest is dropped. */
const QUEUE_MAX = 64 * 1024;
/** The most a session holds of its peer's input: a line without its end, and the lines read ahead. */
export const SMTP_MAX_BUFFERED = LINE_CAP + QUEUE_MAX;

const cost = (ev: LineEvent): number => ev.text.length + 1;

/** A HELO name as Exim accepts it: a domain (letters, digits, - _ .) or an address literal in brackets. */
const HELO_NAME = /^(?:[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?|\[[0-9A-Fa-f:.]+\]|\[IPv6:[0-9A-Fa-f:.]+\])$/;

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number): string => String(n).padStart(2, "0");

/** The host's local time as the product prints it in its greeting. */
export function smtpDate(ctx: SessionContext<SmtpTemplates>, style: "exim" | "arpa"): string {
  const real = ctx.now();
  const l = localTime(ctx.host, real);
  const off = utcOffsetMinutes(ctx.host, hostTime(ctx.host, real));
  const abs = Math.abs(off);
  const zone = `${off < 0 ? "-" : "+"}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
  const day = style === "exim" ? two(l.day) : String(l.day);
  return `${DAYS[l.weekday]}, ${day} ${MONTHS[l.month - 1]} ${l.year} ${two(l.hour)}:${two(l.minute)}:${two(l.second)} ${zone}`;
}

/** Strict base64 as SASL wants it; undefined when the text is not base64. */
function unbase64(s: string): Uint8Array | undefined {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  return new Uint8Array(Buffer.from(s, "base64"));
}

const utf8Text = (b: Uint8Array): string => new TextDecoder("utf-8", { fatal: false }).decode(b);

/** A SASL exchange under way: what the next line answers. */
type AuthStep =
  | { mech: "PLAIN" }
  | { mech: "LOGIN"; user?: string }
  | { mech: "CRAM-MD5"; challenge: string }
  | { mech: "NTLM"; challenge?: Uint8Array };

/** What one command line does. */
interface Outcome {
  out: string;
  /** The template key the reply came from: what the error limit counts (errorKeys). */
  key?: string;
  close?: boolean | "reset";
  delayMs?: number;
  startTls?: boolean;
}

type TextKey = { [K in keyof SmtpTemplates]: SmtpTemplates[K] extends string | undefined ? K : never }[keyof SmtpTemplates];

const setCache = new WeakMap<SmtpTemplates, ReturnType<typeof makeSets>>();
function makeSets(t: SmtpTemplates) {
  const up = (l: string[]) => new Set(l.map((x) => x.toUpperCase()));
  return {
    http: up(t.httpVerbs),
    reset: up(t.resetVerbs),
    mechs: up(t.authMechanisms),
    mechsSecure: up(t.authMechanismsSecure ?? t.authMechanisms),
  };
}
function sets(t: SmtpTemplates): ReturnType<typeof makeSets> {
  let s = setCache.get(t);
  if (!s) setCache.set(t, (s = makeSets(t)));
  return s;
}

/** The address inside <…> of a MAIL FROM:/RCPT TO: argument (or the argument's last word). */
function addressOf(arg: string): string {
  const m = /<([^>]*)>/.exec(arg);
  if (m) return m[1]!;
  const colon = arg.indexOf(":");
  return (colon >= 0 ? arg.slice(colon + 1) : arg).trim().split(" ")[0] ?? "";
}

export function startSmtp(ctx: SessionContext<SmtpTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const action = t.lineTooLongAction;
  const newSplitter = () => new LineSplitter(Math.min(t.lineMax, LINE_CAP), action);
  let lines = newSplitter();
  const s = sets(t);
  const offersTls = ctx.entry.tls?.mode === "starttls" && t.starttls !== undefined;
  const draw = (range: MsRange): number => drawMs(range, ctx.random);
  const idleMs = t.idleTimeoutMs === undefined || t.idleTimeout === undefined ? undefined : draw(t.idleTimeoutMs);
  const base: Record<string, string | number> = {
    hostname: ctx.hostname,
    HOSTNAME: ctx.hostname.toUpperCase(),
    fqdn: ctx.host.fqdn,
    domain: ctx.host.domain,
    localAddress: ctx.localAddress,
    localPort: ctx.localPort,
    remoteAddress: ctx.remoteAddress,
  };

  let helo: string | null = null;
  /** TLS is on: from the first byte on 465 (smtps), after STARTTLS on 25 and 587. */
  let secure = ctx.entry.tls?.mode === "first-byte";
  let mail = false;
  let rcpt = false;
  let errors = 0;
  let authFails = 0;
  let auth: AuthStep | undefined;
  const queue: LineEvent[] = [];
  let queuedBytes = 0;
  /** The daemon asleep in a pause, a reply held for one, or gone (src/services/line-daemon.ts). */
  const st: DrainState<Outcome> = { deferred: undefined, waiting: false, closed: false };

  function say(tpl: string, vars: Record<string, string> = {}): string {
    return fill(tpl, { ...base, helo: helo ?? "", ...vars });
  }
  function text(key: TextKey, vars: Record<string, string> = {}): string {
    const tpl = t[key];
    return typeof tpl === "string" ? say(tpl, vars) : "";
  }
  /** The reply of a template key, marked with it. */
  function reply(key: TextKey, vars: Record<string, string> = {}): Outcome {
    return { out: text(key, vars), key };
  }

  const errorKeys = t.errorKeys === undefined ? undefined : new Set(t.errorKeys);

  /** Counts a reply towards the daemon's error limit; the limit's words and a hang-up when it is reached. */
  function counted(o: Outcome): Outcome {
    if (o.close) return o;
    const isError = errorKeys === undefined ? /^[45]/.test(o.out) : errorKeys.has(o.key ?? "");
    // Postfix sleeps before any reply once the errors before it reached the soft limit.
    if (t.errorSleepFrom > 0 && errors >= t.errorSleepFrom) o = { ...o, delayMs: (o.delayMs ?? 0) + draw(t.errorSleepMs) };
    if (isError) errors++;
    if (!isError || t.maxErrors === 0 || t.tooManyErrors === undefined || errors < t.maxErrors) return o;
    let out = o.out;
    if (t.tooManyErrorsJoin) {
      const prev = out.lastIndexOf("\r\n", out.length - 3);
      const start = prev < 0 ? 0 : prev + 2;
      if (out.length - start >= 4 && out[start + 3] === " ") out = `${out.slice(0, start + 3)}-${out.slice(start + 4)}`;
    }
    return { ...o, out: out + say(t.tooManyErrors), close: true };
  }

  function mechs(): Set<string> {
    return secure ? s.mechsSecure : s.mechs;
  }

  function loginEvent(ev: ProtocolEvent, events: ProtocolEvent[]): Outcome {
    events.push(ev);
    authFails++;
    const last = t.maxAuthFails > 0 && authFails >= t.maxAuthFails;
    return { ...reply("authFail"), delayMs: draw(t.authFailDelayMs), ...(last ? { close: true } : {}) };
  }

  function ntlmStep(data: Uint8Array, step: { mech: "NTLM"; challenge?: Uint8Array }, events: ProtocolEvent[]): Outcome {
    const token = ntlmFromBlob(data);
    if (token?.type === 1 && token.msg.length >= 16 && step.challenge === undefined) {
      const challenge = ctx.random(8);
      const h = ctx.host;
      // A standalone server: its own name as the NetBIOS domain, its DNS suffix as the DNS domain (as http's NTLM).
      const id = { netbiosName: h.netbiosName, netbiosDomain: h.netbiosName, dnsName: h.fqdn, dnsDomain: h.domain, version: t.ntlmVersion, timestamp: t.ntlmTimestamp && t.ntlmVersion !== "" };
      const type2 = ntlmChallenge(id, rd32(token.msg, 12), challenge, hostTime(h, ctx.now()));
      auth = { mech: "NTLM", challenge };
      return { out: `334 ${Buffer.from(type2).toString("base64")}\r\n` };
    }
    if (token?.type === 3 && step.challenge !== undefined) {
      const a = parseNtlmAuth(token.msg);
      if (a) {
        return loginEvent(ntlmLoginEvent("smtp-ntlm", a, step.challenge), events);
      }
    }
    events.push({ action: "error", message: "malformed NTLMSSP message in AUTH NTLM" });
    return t.authNtlmBad !== undefined ? reply("authNtlmBad") : reply("authBadBase64");
  }

  /** One SASL response line of the exchange `step`. */
  function authLine(line: string, step: AuthStep, events: ProtocolEvent[]): Outcome {
    auth = undefined;
    if (line === "*") return reply("authCancelled");
    const data = unbase64(line);
    if (data === undefined) {
      events.push({ action: "error", message: "SASL response is not base64" });
      return reply("authBadBase64", { line: clip(line, ECHO_MAX) });
    }
    switch (step.mech) {
      case "PLAIN": {
        const parts = utf8Text(data).split("\0");
        if (parts.length !== 3) {
          events.push({ action: "error", message: "SASL PLAIN response without three parts" });
          return (t.authBadPlain !== undefined ? reply("authBadPlain") : reply("authFail"));
        }
        const [authzid, user, password] = parts as [string, string, string];
        return loginEvent(
          { action: "login", method: "smtp-plain", user: clip(user), password: clip(password, 1024), ...(authzid ? { client: { authzid: clip(authzid, 256) } } : {}) },
          events,
        );
      }
      case "LOGIN": {
        if (step.user === undefined) {
          auth = { mech: "LOGIN", user: utf8Text(data) };
          return reply("authPassPrompt");
        }
        return loginEvent({ action: "login", method: "smtp-login", user: clip(step.user), password: clip(utf8Text(data), 1024) }, events);
      }
      case "CRAM-MD5": {
        const answer = utf8Text(data);
        const sp = answer.lastIndexOf(" ");
        const user = sp < 0 ? answer : answer.slice(0, sp);
        const value = `$cram_md5$${Buffer.from(step.challenge, "latin1").toString("base64")}$${line}`;
        return loginEvent({ action: "login", method: "smtp-cram-md5", user: clip(user), hash: { value: clip(value, 4096), type: "cram-md5", hashcatMode: 16400 } }, events);
      }
      case "NTLM":
        return ntlmStep(data, step, events);
    }
  }

  function startAuth(arg: string, events: ProtocolEvent[]): Outcome {
    const [mechRaw = "", initial, ...rest] = arg.split(" ").filter((w) => w !== "");
    const mech = mechRaw.toUpperCase();
    if (mechs().size === 0) return reply("authNotEnabled");
    if (helo === null && t.authNeedHelo !== undefined) return reply("authNeedHelo");
    if (mech === "") return reply("authNoMech");
    if (!mechs().has(mech) || rest.length > 0) return reply("authUnknownMech", { mech: clip(mechRaw, 64) });
    switch (mech) {
      case "PLAIN":
        if (initial === undefined) {
          auth = { mech: "PLAIN" };
          return reply("authPlainPrompt");
        }
        return authLine(initial === "=" ? "" : initial, { mech: "PLAIN" }, events);
      case "LOGIN":
        if (initial === undefined) {
          auth = { mech: "LOGIN" };
          return reply("authUserPrompt");
        }
        return authLine(initial, { mech: "LOGIN" }, events);
      case "CRAM-MD5": {
        const r = ctx.random(6);
        const random = String(r.reduce((n, b) => n * 256 + b, 0) % 10_000_000_000);
        const time = String(Math.floor(hostTime(ctx.host, ctx.now()).getTime() / 1000));
        const challenge = say(t.authCramChallenge, { random, time });
        auth = { mech: "CRAM-MD5", challenge };
        return { out: say(t.authCramPrompt, { challenge: Buffer.from(challenge, "latin1").toString("base64") }) };
      }
      case "NTLM":
        if (initial === undefined) {
          auth = { mech: "NTLM" };
          return reply("authNtlmPrompt");
        }
        return authLine(initial, { mech: "NTLM" }, events);
    }
    return reply("authUnknownMech", { mech: clip(mechRaw, 64) });
  }

  /** The first answer among the tables for these keys. */
  function lookup(tables: Record<string, string>[], keys: string[], vars: Record<string, string>): Outcome | undefined {
    for (const table of tables) for (const key of keys) if (Object.hasOwn(table, key)) return { out: say(table[key]!, vars), key: "commands" };
    return undefined;
  }

  function handle(line: string, events: ProtocolEvent[]): Outcome {
    if (auth !== undefined) return counted(authLine(line, auth, events));
    if (line === "") return counted(reply("empty"));
    const sp = line.indexOf(" ");
    const rawVerb = sp < 0 ? line : line.slice(0, sp);
    const arg = sp < 0 ? "" : line.slice(sp + 1).trim();
    const verb = rawVerb.toUpperCase();
    // AUTH lines carry credentials: the login event holds them, the command event only the mechanism.
    events.push({ action: "command", command: verb === "AUTH" ? clip(`AUTH ${arg.split(" ")[0] ?? ""}`, ECHO_MAX) : clip(line, 1024) });
    const vars = { verb: clip(verb, ECHO_MAX), arg: clip(arg, ECHO_MAX), addr: clip(addressOf(arg), ECHO_MAX), line: clip(line, ECHO_MAX) };
    if (s.reset.has(verb)) {
      mail = false;
      rcpt = false;
    }
    switch (verb) {
      case "EHLO":
      case "HELO": {
        const name = arg.split(" ")[0] ?? "";
        if (arg === "" || (t.heloStrict && !HELO_NAME.test(name))) return counted(reply(verb === "EHLO" ? "ehloNoArg" : "heloNoArg"));
        helo = clip(name, ECHO_MAX);
        return reply(verb === "HELO" ? "helo" : secure && t.ehloSecure !== undefined ? "ehloSecure" : "ehlo", vars);
      }
      case "QUIT":
        return { ...reply("quit", vars), close: true };
      case "STARTTLS":
        if (!offersTls) return counted((t.starttlsNotOffered !== undefined ? reply("starttlsNotOffered") : reply("unknown", vars)));
        if (secure) return counted((t.starttlsAgain !== undefined ? reply("starttlsAgain") : reply("unknown", vars)));
        if (arg !== "" && t.starttlsArg !== undefined) return counted(reply("starttlsArg"));
        secure = true;
        helo = null;
        mail = false;
        rcpt = false;
        return { ...reply("starttls"), startTls: true };
      case "AUTH":
        return counted(startAuth(arg, events));
    }
    if (s.http.has(verb) && t.http !== undefined) return { ...reply("http", vars), close: true };
    const argUpper = arg.toUpperCase();
    const word = argUpper.split(/[ :]/)[0] ?? "";
    const keys = arg === "" ? [verb] : [`${verb} ${argUpper}`, `${verb} ${word}`, verb];
    const tables: Record<string, string>[] = [];
    if (helo === null) tables.push(t.beforeHelo);
    if (rcpt) tables.push(t.afterRcpt);
    if (mail) tables.push(t.afterMail);
    if (arg === "") tables.push(t.noArg);
    if (secure) tables.push(t.secureCommands);
    tables.push(t.commands);
    const found = lookup(tables, keys, vars);
    if (found === undefined) return counted(reply("unknown", vars));
    if (verb === "MAIL" && !mail && found.out.startsWith("250")) mail = true;
    else if (verb === "RCPT" && mail) rcpt = true;
    return counted(found);
  }

  function serve(ev: LineEvent, events: ProtocolEvent[]): Outcome {
    if (!ev.tooLong) return handle(ev.text, events);
    auth = undefined;
    events.push({ action: "command", command: clip(ev.text, ECHO_MAX) });
    events.push({ action: "error", message: "command line too long" });
    return counted({ out: say(t.lineTooLong, { line: clip(ev.text, ECHO_MAX) }), key: "lineTooLong", ...(action === "close" ? { close: true } : {}) });
  }

  /** Serves queued lines in order until one needs the daemon's time (a refused login's pause). */
  function drain(): Reply {
    return drainLines(st, {
      next: (events) => {
        const ev = queue.shift();
        if (ev === undefined) return undefined;
        queuedBytes -= cost(ev);
        return serve(ev, events);
      },
      pending: () => queue.length > 0,
      dropReadAhead: () => {
        // What follows is the client's handshake: lines read ahead are dropped, as the TLS library would.
        queue.length = 0;
        queuedBytes = 0;
        lines = newSplitter();
      },
      ...(idleMs !== undefined ? { restart: { name: "idle", ms: idleMs } } : {}),
    });
  }


  return {
    buffered: () => lines.buffered + queuedBytes,
    open(): Reply {
      const reply: Reply = { write: say(t.banner, { date: smtpDate(ctx, t.dateStyle) }) };
      if (idleMs !== undefined) reply.timers = { idle: idleMs };
      return reply;
    },
    data(chunk: Uint8Array): Reply {
      if (st.closed) return {};
      for (const ev of lines.push(chunk)) {
        if (queuedBytes + cost(ev) > QUEUE_MAX) break;
        queue.push(ev);
        queuedBytes += cost(ev);
      }
      return st.waiting ? {} : drain();
    },
    timer(name: string): Reply {
      if (st.closed) return {};
      if (name === "idle") {
        st.closed = true;
        return { write: t.idleTimeout === undefined ? "" : say(t.idleTimeout), close: true };
      }
      if (name === "resume") {
        st.waiting = false;
        return drain();
      }
      return {};
    },
  };
}
