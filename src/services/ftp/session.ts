// FTP control channel before login: greeting, USER/PASS (always refused), and the pre-login answers
// of the claimed daemon. All wording lives in the entry's templates; this file only knows the grammar.
//
// The template keys and their meaning are in templates.ts.
import type { ProtocolEvent, ProtocolSession, Reply, SessionContext } from "../../types.ts";
import { localTime } from "../../host/facts.ts";
import { fill } from "../../util/template.ts";
import { LineSplitter } from "../../wire/lines.ts";
import type { FtpTemplates } from "./templates.ts";

/** What a client may echo back to itself is cut here: replies never grow with attacker input. */
const ECHO_MAX = 512;
/** Our own hard cap on a line, whatever the template says. */
const LINE_CAP = 16384;

/** Template keys whose value is one reply text. */
type ReplyKey = { [K in keyof FtpTemplates]: FtpTemplates[K] extends string | undefined ? K : never }[keyof FtpTemplates];


function mapped(ip: string): string {
  return ip.includes(":") ? ip : `::ffff:${ip}`;
}

export function startFtp(ctx: SessionContext<FtpTemplates>): ProtocolSession {
    const t = ctx.entry.templates;
    const action = t.lineTooLongAction;
    const lines = new LineSplitter(Math.min(t.lineMax, LINE_CAP), action);
    const known = t.knownVerbs === undefined ? undefined : new Set(t.knownVerbs);
    const unimplemented = new Set(t.unimplementedVerbs);
    const httpVerbs = new Set(t.httpVerbs);
    const denied = new Set(t.deniedUsers);
    const closeOn = new Set(t.closeOn);
    const maxFails = t.maxLoginFails;
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
    };

    let pendingUser: string | null = null;
    let fails = 0;
    let closed = false;

    /** Reply text of a template key, filled; undefined when the entry has no such key. */
    function say(key: ReplyKey, extra: Record<string, string> = {}): string | undefined {
      const tpl = t[key];
      return tpl === undefined ? undefined : fill(tpl, { ...base, ...extra });
    }

    function sayText(tpl: string, key: string, vars: Record<string, string>): { out: string; close: boolean } {
      return { out: fill(tpl, { ...base, ...vars }), close: closeOn.has(key) };
    }

    function handle(text: string, events: ProtocolEvent[]): { out: string; close: boolean } {
      const sp = text.indexOf(" ");
      const rawVerb = sp < 0 ? text : text.slice(0, sp);
      const arg = sp < 0 ? "" : text.slice(sp + 1);
      const verb = rawVerb.toUpperCase();
      const vars = {
        verb: verb.slice(0, ECHO_MAX),
        verbLower: rawVerb.toLowerCase().slice(0, ECHO_MAX),
        arg: arg.slice(0, ECHO_MAX),
        line: text.slice(0, ECHO_MAX),
      };
      const reply = (key: ReplyKey): { out: string; close: boolean } => ({
        out: say(key, vars) ?? "",
        close: closeOn.has(key),
      });

      if (text === "") return t.empty === undefined ? { out: "", close: false } : reply("empty");
      if (verb !== "PASS") events.push({ action: "command", command: text });

      switch (verb) {
        case "USER": {
          const user = arg.slice(0, ECHO_MAX);
          const upper = user.toUpperCase();
          let key: ReplyKey = "user";
          if (user === "") key = t.userNoArg !== undefined ? "userNoArg" : "user";
          else if ((upper === "ANONYMOUS" || upper === "FTP") && t.userAnon !== undefined) key = "userAnon";
          else if (denied.has(user) && t.userDenied !== undefined) key = "userDenied";
          const out = say(key, { ...vars, user }) ?? "";
          // Only a 331 leaves the daemon waiting for a password.
          pendingUser = user !== "" && out.startsWith("331") ? user : null;
          return { out, close: closeOn.has(key) };
        }
        case "PASS": {
          if (pendingUser === null) {
            events.push({ action: "command", command: text });
            return reply("passFirst");
          }
          const user = pendingUser;
          pendingUser = null;
          fails++;
          events.push({ action: "login", method: "ftp", user, password: arg });
          const out = say("pass", { ...vars, user }) ?? "";
          return { out, close: closeOn.has("pass") || (maxFails > 0 && fails >= maxFails) };
        }
        case "QUIT":
          return { out: say("quit", vars) ?? "", close: true };
      }
      if (httpVerbs.has(verb)) return { out: say("http", vars) ?? "", close: true };
      const argUpper = arg.toUpperCase();
      const firstWord = argUpper.split(" ")[0] ?? "";
      if (arg === "" && Object.hasOwn(t.noArg, verb)) return sayText(t.noArg[verb]!, `noArg.${verb}`, vars);
      const keys = arg === "" ? [verb] : [`${verb} ${argUpper}`, `${verb} ${firstWord}`, verb];
      for (const key of keys) if (Object.hasOwn(t.commands, key)) return sayText(t.commands[key]!, `commands.${key}`, vars);
      if (unimplemented.has(verb) && t.unimplemented !== undefined) return reply("unimplemented");
      if (known === undefined || known.has(verb)) return reply("needLogin");
      return t.unknown !== undefined ? reply("unknown") : reply("needLogin");
    }

    return {
      open(): Reply {
        return { write: say("banner") ?? "" };
      },
      data(chunk: Uint8Array): Reply {
        if (closed) return {};
        let out = "";
        const events: ProtocolEvent[] = [];
        for (const ev of lines.push(chunk)) {
          let r: { out: string; close: boolean };
          if (ev.tooLong) {
            events.push({ action: "command", command: ev.text.slice(0, ECHO_MAX) });
            // vsftpd 2.x serves the cut piece as an empty command, which it ignores: lineTooLong "".
            r = { out: say("lineTooLong") ?? "", close: action === "close" || closeOn.has("lineTooLong") };
          } else {
            r = handle(ev.text, events);
          }
          out += r.out;
          if (r.close) {
            closed = true;
            break;
          }
        }
        const reply: Reply = {};
        if (out !== "") reply.write = out;
        if (closed) reply.close = true;
        if (events.length > 0) reply.events = events;
        return reply;
      },
    };
}
