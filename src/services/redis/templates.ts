// The redis templates: the words and shapes of one redis-server version. Error texts are written without
// the leading "-" and the CRLF ("NOAUTH Authentication required."); {{name}} placeholders are filled
// per reply. INFO lines take the placeholders listed in session.ts (pid, runId, uptime, memory, …).
import { schema, t, withDefault } from "../schema.ts";

export const redisTemplates = schema({
  version: t.text("redis_version, as INFO prints it"),
  requirepass: t.bool("a password is set: every command but AUTH and QUIT is refused with noAuth (and AUTH always fails)"),
  noAuth: t.text('the refusal of a command before AUTH: "NOAUTH Authentication required." (2.8+) or "ERR operation not permitted" (up to 2.6)'),
  unknownCommand: t.oneOf(
    "how an unknown command is refused: plain = ERR unknown command 'x' (up to 4.0); backtick = with `args`, (5.0 to 6.0); quote = with 'args' (6.2+)",
    ["plain", "backtick", "quote"] as const,
  ),
  subcommandNames: withDefault(t.bool("arity errors name the subcommand as 'config|get' and unknown subcommands say \"Try CONFIG HELP.\" (7.0+)"), false),
  authNoPassword: t.text("AUTH when no password is set ({{user}} for the two-argument form)"),
  authWrong: t.text("AUTH with a wrong password"),
  authAcl: t.bool("AUTH takes a user name too (AUTH user pass, 6.0+)"),
  unauthLimits: withDefault(t.bool("before AUTH, more than 10 arguments or a bulk over 16384 bytes is a protocol error (6.0+)"), false),
  multibulkMax: t.int("the largest argument count a multibulk header may announce (1048576 before 7.0, 2147483647 since)", 1),
  inlineArgs: t.oneOf("how an inline command line is split: quotes (sdssplitargs, 2.6+: quotes and escapes, unbalanced quotes refused) or spaces (2.4: split at every space)", [
    "quotes",
    "spaces",
  ] as const),
  httpGuard: t.oneOf(
    "POST and Host: lines (an HTTP request): none (up to 3.2.6), command (3.2.7 to 6.x: a command that closes the connection, after the auth check) or early (7.0+: before anything else)",
    ["none", "command", "early"] as const,
  ),
  commands: t.table("the version's command table: lower-case name → arity (negative: at least that many)", /^[a-z][a-z-]*:?$/, /^-?\d{1,2}$/),
  info: t.list("INFO's lines, sections headed '# Name' and separated by an empty line, with {{placeholders}}"),
  memoryStartup: withDefault(t.int("used_memory_startup: what the server holds before any client or key (INFO's memory figures grow from it)"), 791000),
  config: t.table("CONFIG GET parameters in the order the server lists them, with their values"),
  configUnknownSubcommand: t.text("CONFIG with an unknown subcommand ({{sub}}; {{SUB}} upper case)"),
  configSetUnknown: t.text("CONFIG SET of a parameter the version does not have ({{param}})"),
  configWrongArgs: t.text("CONFIG GET/SET with the wrong number of arguments ({{sub}} as sent)"),
  configSetProtected: withDefault(t.text("CONFIG SET of a protected parameter ({{param}}; 7.0+: dir, dbfilename, …)"), ""),
  protectedConfigs: withDefault(t.list("parameters CONFIG SET refuses with configSetProtected"), []),
  moduleLoad: withDefault(t.text("MODULE LOAD of any path (4.0 to 6.x: it does not load; 7.0+: MODULE is not allowed)"), "ERR Error loading the extension. Please check the server logs."),
  clientList: t.text("one CLIENT LIST line ({{addr}}, {{laddr}}, {{fd}}, {{age}}, {{id}}, {{cmd}})"),
});

export type RedisTemplates = ReturnType<typeof redisTemplates.parse>;
