// Errors meant for the user: one line, no stack, a non-zero exit code.

export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = "UserError";
  }
}

/** Strict port parsing: digits only, 0..65535 (0 asks for a random free port). */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw new UserError(`invalid port "${text}": expected a number from 0 to 65535`);
  const port = Number(text);
  if (port > 65535) throw new UserError(`invalid port ${port}: expected a number from 0 to 65535`);
  return port;
}
