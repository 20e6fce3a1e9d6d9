// Every human-facing line goes through consola, with a plain reporter: the trap's lines are read by people
// and by scripts (`Fake ftp service listening on port 8765...` must appear as it is, with no badge).
// Throttling is off: five identical attacker lines are five events, never "(repeated 5 times)".
import { createConsola, type ConsolaInstance, type LogObject } from "consola/core";
import { formatWithOptions } from "node:util";

function plainReporter(errorsToStderr: boolean) {
  return {
    log(obj: LogObject) {
      const text = formatWithOptions({ colors: false }, ...obj.args);
      const isProblem = obj.level <= 1; // fatal, error, warn
      const prefix = obj.level <= 0 ? "error: " : obj.level === 1 ? "warning: " : "";
      const stream = isProblem && errorsToStderr ? process.stderr : process.stdout;
      stream.write(prefix + text + "\n");
    },
  };
}

export type Verbosity = "quiet" | "normal" | "verbose";

const LEVELS: Record<Verbosity, number> = { quiet: 1, normal: 3, verbose: 4 };

export function createLogger(verbosity: Verbosity = "normal"): ConsolaInstance {
  // The level is explicit: consola would otherwise drop to warnings under NODE_ENV=test.
  return createConsola({
    level: LEVELS[verbosity],
    throttle: 0,
    reporters: [plainReporter(true)],
  });
}

/** The logger for command-line errors, before any option is parsed. */
export const cliLog = createLogger("normal");
