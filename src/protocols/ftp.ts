// FTP control channel before login: greeting, USER/PASS (always refused), and the pre-login answers
// of the claimed daemon. All wording lives in the entry's templates; this file only knows the grammar.
//
// Template keys (all reply texts include their CRLF; {{name}} placeholders are filled per reply):
//   banner            greeting sent on open
//   user              reply to USER <name> (331 … asks for the password)
//   userNoArg         reply to USER without a name (default: user); never starts a login
//   userAnon          reply to USER anonymous / USER ftp (default: user)
//   userDenied        reply to USER for a name listed in deniedUsers (space separated)
//   pass              reply to PASS after USER: the login failure
//   passFirst         reply to PASS without a pending USER
//   needLogin         reply to a known command that needs a login
//   unknown           reply to a verb the daemon does not know (default: needLogin)
//   unimplemented     reply to a verb listed in unimplementedVerbs
//   empty             reply to an empty line (absent: the daemon ignores it)
//   quit              reply to QUIT (the session then closes)
//   http              reply to a verb listed in httpVerbs
//   cmd.VERB, cmd.VERB WORD, cmd.VERB ARGS   pre-login answers (most specific key wins)
//   noarg.VERB        answer to VERB sent without an argument (before cmd.VERB)
//   knownVerbs        verbs answered with needLogin rather than unknown (absent: every verb)
//   maxLoginFails     failed PASS count after which the daemon hangs up
//   lineMax           longest accepted line in bytes, CRLF included
//   lineTooLong       reply to a longer line ("" for none)
//   lineTooLongAction split (rest read as new lines) | skip (rest of the line dropped) | close
//   closeOn           template keys after whose reply the daemon hangs up
// Placeholders: hostname HOSTNAME localAddress localAddressMapped localPort remoteAddress time
//   userNumber user verb verbLower arg line
import type { Protocol, ProtocolEvent, Reply, SessionContext } from "../types.ts";
import { toLatin1 } from "../util/bytes.ts";
import { fill } from "../util/template.ts";

/** What a client may echo back to itself is cut here: replies never grow with attacker input. */
const ECHO_MAX = 512;
/** Our own hard cap on a line, whatever the template says. */
const LINE_CAP = 16384;

type TooLongAction = "split" | "skip" | "close";

interface LineEvent {
  text: string;
  tooLong: boolean;
}

/** Splits the control stream into lines, with the claimed daemon's idea of "too long". */
class FtpLines {
  private pending = "";
  private skipping = false;
  constructor(
    private readonly max: number,
    private readonly action: TooLongAction,
  ) {}

  push(chunk: Uint8Array): LineEvent[] {
    const out: LineEvent[] = [];
    this.pending += toLatin1(chunk);
    for (;;) {
      const nl = this.pending.indexOf("\n");
      if (this.skipping) {
        // Dropping the rest of an overlong line, up to its LF.
        if (nl < 0) {
          this.pending = "";
          break;
        }
        this.pending = this.pending.slice(nl + 1);
        this.skipping = false;
        continue;
      }
      if (nl >= 0 && nl + 1 <= this.max) {
        let line = this.pending.slice(0, nl);
        this.pending = this.pending.slice(nl + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        out.push({ text: line, tooLong: false });
        continue;
      }
      if (nl < 0 && this.pending.length < this.max) break;
      // Too long: a whole line over max, or max bytes held with no LF among them.
      out.push({ text: this.pending.slice(0, this.max), tooLong: true });
      if (this.action === "split") {
        this.pending = this.pending.slice(this.max);
      } else if (this.action === "skip") {
        this.skipping = nl < 0;
        this.pending = nl < 0 ? "" : this.pending.slice(nl + 1);
      } else {
        this.pending = "";
        break;
      }
    }
    return out;
  }
}

function words(s: string | undefined): Set<string> {
  return new Set((s ?? "").split(/\s+/).filter((w) => w !== ""));
}

function mapped(ip: string): string {
  return ip.includes(":") ? ip : `::ffff:${ip}`;
}

function intOr(s: string | undefined, fallback: number): number {
  const n = s === undefined ? NaN : Number.parseInt(s, 10);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}

export const ftp: Protocol = {
  service: "ftp",
  start(ctx: SessionContext) {
    const t = ctx.entry.templates;
    const action: TooLongAction = t.lineTooLongAction === "skip" || t.lineTooLongAction === "close" ? t.lineTooLongAction : "split";
    const lines = new FtpLines(Math.min(intOr(t.lineMax, 4096), LINE_CAP), action);
    const known = t.knownVerbs === undefined ? undefined : words(t.knownVerbs);
    const unimplemented = words(t.unimplementedVerbs);
    const httpVerbs = words(t.httpVerbs);
    const denied = words(t.deniedUsers);
    const closeOn = words(t.closeOn);
    const maxFails = intOr(t.maxLoginFails, 0);
    const now = ctx.now();
    const base: Record<string, string | number> = {
      hostname: ctx.hostname,
      HOSTNAME: ctx.hostname.toUpperCase(),
      localAddress: ctx.localAddress,
      localAddressMapped: mapped(ctx.localAddress),
      localPort: ctx.localPort,
      remoteAddress: ctx.remoteAddress,
      time: `${String(now.getHours()).padStart(2, "0")}:${String(now.getMinutes()).padStart(2, "0")}`,
      userNumber: 1 + ((ctx.random(1)[0] ?? 0) % 3),
    };

    let pendingUser: string | null = null;
    let fails = 0;
    let closed = false;

    /** Reply text of a template key, filled; undefined when the entry has no such key. */
    function say(key: string, extra: Record<string, string> = {}): string | undefined {
      const tpl = t[key];
      return tpl === undefined ? undefined : fill(tpl, { ...base, ...extra });
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
      const reply = (key: string): { out: string; close: boolean } => ({
        out: say(key, vars) ?? "",
        close: closeOn.has(key),
      });

      if (text === "") return t.empty === undefined ? { out: "", close: false } : reply("empty");
      if (verb !== "PASS") events.push({ action: "command", command: text });

      switch (verb) {
        case "USER": {
          const user = arg.slice(0, ECHO_MAX);
          const upper = user.toUpperCase();
          let key = "user";
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
          events.push({ action: "login", user, password: arg });
          const out = say("pass", { ...vars, user }) ?? "";
          return { out, close: closeOn.has("pass") || (maxFails > 0 && fails >= maxFails) };
        }
        case "QUIT":
          return { out: say("quit", vars) ?? "", close: true };
      }
      if (httpVerbs.has(verb)) return { out: say("http", vars) ?? "", close: true };
      const argUpper = arg.toUpperCase();
      const firstWord = argUpper.split(" ")[0] ?? "";
      const keys = arg === "" ? [`noarg.${verb}`, `cmd.${verb}`] : [`cmd.${verb} ${argUpper}`, `cmd.${verb} ${firstWord}`, `cmd.${verb}`];
      for (const key of keys) if (t[key] !== undefined) return reply(key);
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
  },
};
