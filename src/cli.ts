#!/usr/bin/env bun
// micetrap's entry point: one subcommand per fake service, plus the tools around the catalog.
import { defineCommand, renderUsage, runCommand, type CommandDef } from "citty";
import { checkCommand } from "./commands/check.ts";
import { listCommand } from "./commands/list.ts";
import { recordCommand } from "./commands/record.ts";
import { replayCommand } from "./commands/replay.ts";
import { serviceCommand } from "./commands/serve.ts";
import { UserError } from "./errors.ts";
import { cliLog } from "./log.ts";
import { SERVICES, serviceAliases } from "./services/index.ts";
import { VERSION, versionLine } from "./version.ts";

const SERVICE_ALIASES = serviceAliases();
const aliasesOf = (service: string) => Object.keys(SERVICE_ALIASES).filter((a) => SERVICE_ALIASES[a] === service);

const serviceCommands = Object.fromEntries(SERVICES.map((s) => [s, serviceCommand(s, aliasesOf(s))]));

// The whole-host commands load the YAML parser: only when one of them runs, so a single service starts fast.
const host = () => import("./commands/host.ts");
type Lazy = () => Promise<CommandDef<any>>;

const subCommands: Record<string, CommandDef<any> | Lazy> = {
  ...serviceCommands,
  serve: () => host().then((m) => m.serveCommand),
  personas: () => host().then((m) => m.personasCommand),
  validate: () => host().then((m) => m.validateCommand),
  list: listCommand,
  check: checkCommand,
  record: recordCommand,
  replay: replayCommand,
  // Loaded when run: the report's renderers are no part of a trap's start-up.
  report: () => import("./commands/report.ts").then((m) => m.reportCommand),
};

export const main = defineCommand({
  meta: {
    name: "micetrap",
    version: VERSION,
    description: "a honeypot that answers like real, slightly outdated services and logs everything it is sent",
  },
  subCommands,
});

/** Usage text; colours only on a terminal, so piped help stays plain. */
async function printUsage(cmd: CommandDef<any>, parent?: CommandDef<any>): Promise<void> {
  const text = await renderUsage(cmd, parent);
  process.stdout.write((process.stdout.isTTY ? text : text.replace(/\x1b\[[0-9;]*m/g, "")) + "\n");
}

function knownCommand(name: string): boolean {
  return Object.hasOwn(subCommands, name) || Object.hasOwn(SERVICE_ALIASES, name);
}

/** Runs the CLI; every failure is one line on stderr and a non-zero exit code, never a stack trace. */
export async function runCli(rawArgs: string[]): Promise<void> {
  const first = rawArgs[0];
  if (first === "--version" || first === "-v") {
    process.stdout.write(`${versionLine()}\n`);
    return;
  }
  if (first === undefined || first === "--help" || first === "-h") {
    await printUsage(main);
    if (first === undefined) process.exitCode = 2;
    return;
  }
  // citty would throw its own error with a stack trace for these; say it in one line instead.
  if (!first.startsWith("-") && !knownCommand(first)) {
    throw new UserError(
      `unknown service or command "${first}": expected one of ${[...SERVICES, ...Object.keys(SERVICE_ALIASES)].join(", ")}, or serve, personas, validate, list, check, record, replay, report`,
    );
  }
  const resolved = Object.hasOwn(SERVICE_ALIASES, first) ? [SERVICE_ALIASES[first]!, ...rawArgs.slice(1)] : rawArgs;
  const entry = subCommands[resolved[0]!];
  const sub = typeof entry === "function" ? await entry() : entry;
  if (sub && (resolved.includes("--help") || resolved.includes("-h"))) {
    await printUsage(sub, main);
    return;
  }
  if (sub) checkOptions(resolved.slice(1), (sub.args ?? {}) as Record<string, { type?: string }>);
  await runCommand(main, { rawArgs: resolved });
}

/** citty ignores unknown options and accepts string options with no value; a trap must not start half-configured. */
function checkOptions(args: string[], defs: Record<string, { type?: string }>): void {
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!;
    if (token === "--") break;
    if (!token.startsWith("-") || token === "-") continue;
    const m = /^--?([^=]+)(=.*)?$/.exec(token);
    const name = m?.[1] ?? token;
    const def = defs[name] ?? (name.startsWith("no-") ? defs[name.slice(3)] : undefined);
    if (!def || def.type === "positional") {
      if (/^-\d/.test(token)) throw new UserError(`invalid port "${token}": expected a number from 0 to 65535`);
      throw new UserError(`unknown option "${token}": see --help`);
    }
    if (def.type === "string" && m?.[2] === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith("--")) throw new UserError(`option --${name} needs a value`);
      i++;
    }
  }
}

if (import.meta.main) {
  // logrotate may send HUP while the trap is still starting: its default action would end the process
  // before the log is even open. Until run.ts installs the real handler (reopen), a HUP is a no-op.
  process.on("SIGHUP", () => {});
  runCli(process.argv.slice(2)).catch((err: unknown) => {
    if (err instanceof UserError) {
      cliLog.error(err.message);
      process.exit(err.exitCode);
    }
    // citty's own errors (unknown option values and the like) and anything unexpected: still one line.
    cliLog.error((err as Error)?.message ?? String(err));
    process.exit(1);
  });
}
