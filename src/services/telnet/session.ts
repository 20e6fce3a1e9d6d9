// Telnet up to a refused login, as the claimed daemon does it: its opening option requests (netkit waits
// for every answer and then asks for the terminal type, speed, X display and environment; BusyBox and
// Cisco go straight on), the issue, login's prompts with the user name echoed and the password not, the
// pause before "Login incorrect", the hang-up after the last try and login's own timeout. Embedded faces
// let a login "succeed" and give a fake BusyBox shell that runs nothing and logs every line typed.
//
// The template keys are in templates.ts; the byte layer is options.ts.
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { fill } from "../../util/template.ts";
import { ByteQueue } from "../../wire/queue.ts";
import { drawMs } from "../schema.ts";
import { hostTime } from "../../host/facts.ts";
import { clip, rd32 } from "../../wire/bytes.ts";
import { ntlmLoginEvent, ntlmChallenge, ntlmFromBlob, parseNtlmAuth } from "../../wire/ntlmssp.ts";
import { DO, DONT, IAC, SB, SB_MAX, SE, SEND, TelnetReader, WILL, WONT, hexBytes, subnegotiation, type TelnetItem } from "./options.ts";
import type { TelnetTemplates } from "./templates.ts";
import { CanonicalTty, columnAfter } from "./tty.ts";

/** Input read but not yet served while the daemon sleeps (the pty's buffer); past it, input is dropped. */
const PENDING_MAX = 8192;
/** Data typed while the opening is unsettled, kept for login to read (a pty's worth). */
const HELD_MAX = 1024;
/** Longest line the session keeps, whatever the template says. */
const LINE_CAP = 4096;
/** The most a session holds: unread input, a subnegotiation, a line, the held bytes. */
export const TELNET_MAX_BUFFERED = PENDING_MAX + SB_MAX + LINE_CAP + HELD_MAX;
/** What the fake shell's echo may print back of one command. */
const ECHO_MAX = 512;
/** What is kept of a terminal type the client names. */
const TTYPE_MAX = 64;

type Phase = "opening" | "subs" | "user" | "password" | "failing" | "shell" | "closed";

const CR_LF = "\r\n";

/** MS-TNAP: the AUTHENTICATION option, its NTLM type and commands. */
const AUTHENTICATION = 0x25;
const AUTH_IS = 0;
const AUTH_SEND = 1;
const AUTH_REPLY = 2;
const AUTH_NTLM = 0x0f;
const NTLM_NEGOTIATE = 0;
const NTLM_CHALLENGE = 1;
const NTLM_AUTHENTICATE = 2;
const NTLM_REJECT = 4;

function optionSet(hex: string): Set<number> {
  return new Set(hexBytes(hex));
}

/** The option requests in an opening sequence: what the daemon asked and now waits to hear about. */
function requests(bytes: Uint8Array): { does: number[]; wills: number[] } {
  const does: number[] = [];
  const wills: number[] = [];
  for (let i = 0; i + 2 < bytes.length; i++) {
    if (bytes[i] !== IAC) continue;
    if (bytes[i + 1] === DO) does.push(bytes[i + 2]!);
    else if (bytes[i + 1] === WILL) wills.push(bytes[i + 2]!);
    else continue;
    i += 2;
  }
  return { does, wills };
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("latin1");
}

export function startTelnet(ctx: SessionContext<TelnetTemplates>): ProtocolSession {
  const t = ctx.entry.templates;
  const reader = new TelnetReader(t.iacParsing);
  const pending = new ByteQueue();
  const lineMax = Math.min(t.lineMax, LINE_CAP);
  /** The pty's line discipline while login reads (n_tty faces). */
  const tty = t.lineDiscipline === "n_tty" ? new CanonicalTty(lineMax) : undefined;
  const willOk = optionSet(t.willOptions);
  const doOk = optionSet(t.doOptions);
  const opening = hexBytes(t.negotiation);
  const asked = requests(opening);
  const loginMs = t.loginTimeoutMs === undefined ? undefined : drawMs(t.loginTimeoutMs, ctx.random);
  const vars: Record<string, string | number> = {
    hostname: ctx.hostname,
    HOSTNAME: ctx.hostname.toUpperCase(),
    fqdn: ctx.host.fqdn,
    kernel: t.kernel,
    tries: t.maxTries,
    loginSeconds: loginMs === undefined ? 0 : Math.round(loginMs / 1000),
  };
  const say = (tpl: string, extra: Record<string, string> = {}): string => fill(tpl, { ...vars, ...extra });

  let phase: Phase = "opening";
  /** Options whose answer the daemon waits for: DOs and WILLs it sent and has heard nothing about yet. */
  const waitDo = new Set(asked.does);
  const waitWill = new Set(asked.wills);
  /** What the client performs (said WILL, and the daemon agreed) and what the daemon performs. */
  const him = new Set<number>();
  const us = new Set<number>();
  /** Subnegotiations asked for and not answered yet. */
  const waitSub = new Set<number>();
  const held: number[] = [];
  let line: number[] = [];
  let user = "";
  let tries = 0;
  let commands = 0;
  let terminal: string | undefined;
  /** What a refused login says once the fail delay is over, and whether the daemon then hangs up. */
  let failText = "";
  let failCloses = false;

  function answerOption(verb: number, opt: number): string {
    const reply = (v: number) => String.fromCharCode(IAC, v, opt);
    switch (verb) {
      case WILL:
        if (waitDo.delete(opt)) {
          him.add(opt);
          return "";
        }
        if (him.has(opt)) return "";
        if (doOk.has(opt)) {
          him.add(opt);
          return reply(DO);
        }
        return reply(DONT);
      case WONT:
        if (waitDo.delete(opt)) return "";
        if (him.delete(opt)) return reply(DONT);
        return "";
      case DO:
        if (waitWill.delete(opt)) {
          us.add(opt);
          return "";
        }
        if (us.has(opt)) return "";
        if (willOk.has(opt)) {
          us.add(opt);
          return reply(WILL);
        }
        return reply(WONT);
      case DONT:
        if (waitWill.delete(opt)) return "";
        if (us.delete(opt)) return reply(WONT);
        return "";
    }
    return "";
  }

  /** The opening is settled: ask for the option values the client agreed to give, or go on to login. */
  function afterOpening(): string {
    // A client that will authenticate is asked for NTLM (MS-TNAP); login's prompt follows whatever it does.
    let out = t.ntlmVersion !== undefined && him.has(AUTHENTICATION) ? subnegotiation([AUTHENTICATION, AUTH_SEND, AUTH_NTLM, 0]) : "";
    for (const opt of hexBytes(t.subRequests)) {
      if (!him.has(opt)) continue;
      waitSub.add(opt);
      out += String.fromCharCode(IAC, SB, opt, SEND, IAC, SE);
    }
    if (waitSub.size > 0) {
      phase = "subs";
      return out;
    }
    return out + begin();
  }

  /** Login starts (or the shell, on an open face): the issue and the first prompt. */
  function begin(): string {
    const after = hexBytes(t.afterNegotiation);
    // These are requests too: the client's answers to them are not new requests.
    const more = requests(after);
    for (const o of more.does) if (!him.has(o)) waitDo.add(o);
    for (const o of more.wills) if (!us.has(o)) waitWill.add(o);
    let out = latin1(after) + say(t.issue);
    if (t.openShell) {
      phase = "shell";
      out += say(t.shellBanner) + say(t.shellPrompt);
    } else {
      phase = "user";
      out += say(t.userPrompt);
    }
    return out;
  }

  /** The NTLM challenge this connection sent (MS-TNAP authenticates once per connection). */
  let ntlmSent: Uint8Array = new Uint8Array(0);

  /** An AUTHENTICATION subnegotiation (MS-TNAP): NEGOTIATE gets a CHALLENGE, AUTHENTICATE is a login, refused. */
  function ntlm(body: Uint8Array, events: ProtocolEvent[]): string {
    if (t.ntlmVersion === undefined || body.length < 12 || body[0] !== AUTH_IS || body[1] !== AUTH_NTLM) return "";
    const cmd = body[3];
    const size = rd32(body, 4);
    const token = ntlmFromBlob(body.subarray(12, 12 + Math.min(size, body.length - 12)));
    const reply = (command: number, blob: Uint8Array = new Uint8Array(0)): string => {
      const head = [AUTHENTICATION, AUTH_REPLY, AUTH_NTLM, body[2] ?? 0, command];
      if (blob.length === 0) return subnegotiation(head);
      const len = blob.length;
      return subnegotiation([...head, len & 0xff, (len >> 8) & 0xff, (len >> 16) & 0xff, len >>> 24, 2, 0, 0, 0, ...blob]);
    };
    if (cmd === NTLM_NEGOTIATE && token?.type === 1) {
      ntlmSent = ctx.random(8);
      const h = ctx.host;
      // A standalone server: its own name as the NetBIOS domain, as Windows answers outside a domain.
      const id = { netbiosName: h.netbiosName, netbiosDomain: h.netbiosName, dnsName: h.fqdn, dnsDomain: h.domain, version: t.ntlmVersion, timestamp: t.ntlmTimestamp };
      return reply(NTLM_CHALLENGE, ntlmChallenge(id, token.msg.length >= 16 ? rd32(token.msg, 12) : 0, ntlmSent, hostTime(h, ctx.now())));
    }
    if (cmd === NTLM_AUTHENTICATE && token?.type === 3) {
      const a = parseNtlmAuth(token.msg);
      if (a) {
        events.push(ntlmLoginEvent("telnet-ntlm", a, ntlmSent));
      }
      ntlmSent = new Uint8Array(0);
      return reply(NTLM_REJECT);
    }
    return "";
  }

  function client(): Record<string, string> | undefined {
    return terminal === undefined ? undefined : { terminal };
  }

  /** The fake shell's answer to one command; nothing is ever run. */
  function shellAnswer(cmd: string): { out: string; close: boolean } {
    const words = cmd.trim().split(/\s+/).filter((w) => w !== "");
    const word = words[0] ?? "";
    if (word === "") return { out: "", close: false };
    if (word === "exit" || word === "logout") return { out: "", close: true };
    const text = cmd.trim();
    if (Object.hasOwn(t.shellCommands, text)) return { out: say(t.shellCommands[text]!), close: false };
    const base = word.slice(word.lastIndexOf("/") + 1);
    if (base === "busybox" && words.length > 1) {
      const applet = words[1]!;
      if (!t.shellApplets.includes(applet)) return { out: say(t.shellAppletNotFound, { arg: applet.slice(0, ECHO_MAX) }), close: false };
    }
    if (Object.hasOwn(t.shellCommands, word)) return { out: say(t.shellCommands[word]!), close: false };
    if (word === "echo") {
      if (text.includes(">")) return { out: "", close: false };
      let args = words.slice(1);
      while (args[0] !== undefined && /^-[neE]+$/.test(args[0])) args = args.slice(1);
      return { out: args.join(" ").replace(/["']/g, "").slice(0, ECHO_MAX) + CR_LF, close: false };
    }
    if (word === "cd" || word === "export" || word === ":" || word === "true") return { out: "", close: false };
    return { out: say(t.shellNotFound, { word: word.slice(0, ECHO_MAX) }), close: false };
  }

  /** Serves the shell's command line(s): several may be joined with ';' (a dropper's one-liner). */
  function runShell(text: string, events: ProtocolEvent[]): { out: string; close: boolean } {
    let out = "";
    if (text.trim() !== "") {
      events.push({ action: "command", command: text });
      commands++;
    }
    for (const part of text.split(/;|&&|\|\|/)) {
      const r = shellAnswer(part);
      out += r.out;
      if (r.close) return { out, close: true };
    }
    if (commands >= t.shellMaxCommands) return { out, close: true };
    return { out: out + say(t.shellPrompt), close: false };
  }

  interface Step {
    out: string;
    /** The pty's output queue was flushed: what this read had written and not yet sent is lost. */
    flush?: boolean;
    close?: boolean;
    timers?: Record<string, number | null>;
  }

  /** A complete line in the user, password or shell phase. */
  function lineDone(events: ProtocolEvent[]): Step {
    const text = latin1(Uint8Array.from(line));
    line = [];
    if (phase === "user") {
      const echo = t.echoUser ? CR_LF : "";
      if (text === "" && t.emptyUserReprompt !== undefined) return { out: echo + say(t.emptyUserReprompt) + say(t.userPrompt) };
      user = text;
      phase = "password";
      return { out: echo + say(t.passwordPrompt) };
    }
    if (phase === "password") {
      tries++;
      const c = client();
      events.push({ action: "login", method: "telnet", user, password: text, ...(c ? { client: c } : {}) });
      const opens = (t.shellOnTry > 0 && tries === t.shellOnTry) || t.shellPasswords.includes(text);
      if (opens) {
        phase = "shell";
        return { out: say(t.passwordEnd) + say(t.shellBanner) + say(t.shellPrompt), timers: { login: null, shell: drawMs(t.shellIdleTimeoutMs, ctx.random) } };
      }
      // The daemon sleeps (PAM's fail delay) before it says anything more; input waits meanwhile.
      phase = "failing";
      const last = tries >= t.maxTries;
      failText = last ? say(t.tooMany ?? t.loginIncorrect) : say(t.loginIncorrect) + say(t.userPrompt);
      failCloses = last;
      return { out: say(t.passwordEnd), timers: { fail: drawMs(t.failDelayMs, ctx.random) } };
    }
    // shell
    const r = runShell(text, events);
    if (r.close) phase = "closed";
    return { out: CR_LF + r.out, close: r.close, timers: r.close ? {} : { shell: drawMs(t.shellIdleTimeoutMs, ctx.random) } };
  }

  /** One typed character in a line-reading phase. */
  function typed(byte: number, events: ProtocolEvent[]): Step {
    const echo = phase !== "password" && (phase === "shell" || t.echoUser);
    if (tty && (phase === "user" || phase === "password")) return ttyTyped(byte, echo, events);
    if (byte === 0x0a) return lineDone(events);
    if (byte === 0x7f || byte === 0x08) {
      if (line.length === 0) return { out: "" };
      line.pop();
      return { out: echo ? "\b \b" : "" };
    }
    if (byte === 0x15) {
      // ^U: the tty kills the line.
      const n = line.length;
      line = [];
      return { out: echo ? "\b \b".repeat(n) : "" };
    }
    if (byte === 0x03 || (byte === 0x04 && line.length === 0)) {
      // ^C kills login (the tty's SIGINT); ^D on an empty line is its end of input. The shell just starts over.
      if (phase !== "shell") return { out: "", close: true };
      line = [];
      return { out: (byte === 0x03 ? "^C" : "") + CR_LF + say(t.shellPrompt) };
    }
    if (byte < 0x20) return { out: "" };
    if (line.length >= lineMax) return { out: "" };
    line.push(byte);
    return { out: echo ? String.fromCharCode(byte) : "" };
  }

  /** One typed character while login reads through the pty's line discipline. */
  function ttyTyped(byte: number, echo: boolean, events: ProtocolEvent[]): Step {
    const prompt = phase === "user" ? t.userPrompt : t.passwordPrompt;
    const step = tty!.input(byte, echo, columnAfter(say(prompt)));
    if (step.done === "eof") return { out: "", close: true };
    if (step.done === "line") {
      line = tty!.take();
      return lineDone(events);
    }
    if (step.signal) return { out: step.echo, flush: true, ...(t.interruptEndsLogin ? { close: true } : {}) };
    return { out: step.echo };
  }

  /** One item of telnet input; a Step with a delay stops the reading until it has gone out. */
  function item(it: TelnetItem, events: ProtocolEvent[]): Step {
    if (it.kind === "option") {
      const out = answerOption(it.verb, it.option);
      if (phase === "opening" && waitDo.size === 0 && waitWill.size === 0) return releaseHeld(out + afterOpening(), events);
      return { out };
    }
    if (it.kind === "sub") {
      if (it.option === AUTHENTICATION) return { out: ntlm(it.body, events) };
      if (it.option === 24 && it.body[0] === 0 && terminal === undefined) terminal = latin1(it.body.subarray(1, 1 + TTYPE_MAX));
      if (phase === "subs" && waitSub.delete(it.option) && waitSub.size === 0) return releaseHeld(begin(), events);
      return { out: "" };
    }
    // IAC IP (interrupt process) is ^C sent as a command.
    if (it.kind === "command") return it.code === 244 && phase !== "opening" && phase !== "subs" ? typed(0x03, events) : { out: "" };
    if (phase === "opening" || phase === "subs") {
      if (held.length < HELD_MAX) held.push(it.byte);
      return { out: "" };
    }
    return typed(it.byte, events);
  }

  /** What was typed before login started is read by login now (it waited in the pty). */
  function releaseHeld(before: string, events: ProtocolEvent[]): Step {
    const step: Step = { out: before };
    // Still negotiating (asking for the option values): the bytes wait on.
    if (phase === "opening" || phase === "subs") return step;
    const bytes = held.splice(0, held.length);
    for (const b of bytes) {
      // Once login sleeps over a refusal, the tty's type-ahead is not read again (login flushes it).
      if (phase !== "user" && phase !== "password" && phase !== "shell") break;
      const s = typed(b, events);
      step.out = s.flush ? s.out : step.out + s.out;
      if (s.timers) step.timers = { ...step.timers, ...s.timers };
      if (s.close) {
        step.close = true;
        break;
      }
    }
    return step;
  }

  /** Reads pending input until it is used up or a step needs the daemon's time. */
  function serve(): Reply {
    const events: ProtocolEvent[] = [];
    const timers: Record<string, number | null> = {};
    let out = "";
    const items: TelnetItem[] = [];
    const view = pending.view();
    let used = 0;
    const done = (r: Reply): Reply => {
      pending.skip(used);
      return r;
    };
    while (used < view.length && phase !== "closed" && phase !== "failing") {
      reader.feed(view[used++]!, items);
      while (items.length > 0) {
        const it = items.shift()!;
        const wasOpening = phase === "opening" || phase === "subs";
        const s = item(it, events);
        if (s.flush) out = "";
        out += s.out;
        if (s.timers) Object.assign(timers, s.timers);
        if (wasOpening && (phase === "user" || phase === "password") && loginMs !== undefined) timers.login = loginMs;
        if (s.close) {
          phase = "closed";
          const r: Reply = { write: out, close: true };
          if (events.length) r.events = events;
          if (Object.keys(timers).length) r.timers = timers;
          return done(r);
        }
      }
    }
    const r: Reply = {};
    if (out !== "") r.write = out;
    if (events.length) r.events = events;
    if (Object.keys(timers).length) r.timers = timers;
    return done(r);
  }

  return {
    buffered: () => pending.length + reader.buffered + line.length + held.length + (tty?.length ?? 0),
    open(): Reply {
      let out = latin1(opening);
      const timers: Record<string, number> = {};
      if (!t.awaitReplies || (waitDo.size === 0 && waitWill.size === 0)) {
        // The daemon goes on without hearing the client: the opening's requests are answered whenever.
        out += begin();
        if (loginMs !== undefined && phase === "user") timers.login = loginMs;
        if (phase === "shell") timers.shell = drawMs(t.shellIdleTimeoutMs, ctx.random);
      }
      const r: Reply = { write: out };
      if (Object.keys(timers).length) r.timers = timers;
      return r;
    },
    data(chunk: Uint8Array): Reply {
      if (phase === "closed") return {};
      const room = PENDING_MAX - pending.length;
      pending.push(room >= chunk.length ? chunk : chunk.subarray(0, Math.max(0, room)));
      return phase === "failing" ? {} : serve();
    },
    timer(name: string): Reply {
      if (phase === "closed") return {};
      if (name === "resume") return phase === "failing" ? {} : serve();
      if (name === "fail" && phase === "failing") {
        if (failCloses) {
          phase = "closed";
          pending.clear();
          return { write: failText, close: true };
        }
        phase = "user";
        tty?.clear();
        const rest = serve();
        return { ...rest, write: failText + (rest.write === undefined ? "" : String(rest.write)) };
      }
      if (name === "login" && (phase === "user" || phase === "password" || phase === "failing")) {
        phase = "closed";
        return { write: say(t.loginTimeout), close: true };
      }
      if (name === "shell" && phase === "shell") {
        phase = "closed";
        return { close: true };
      }
      return {};
    },
  };
}
