/**
 * The errors a user can act on, each with the exit code it ends a run with. Every one is a single
 * line naming what is wrong and where (file, position, record, attribute); the CLIs print it as
 * `<program>: error: <message>` and exit with its code. Anything else that escapes is an internal
 * error (exit 70), printed the same way, with a stack only under SFP_DEBUG.
 */

/** Exit codes (README: Exit codes). */
export const EXIT = {
  ok: 0,
  /** configuration, input, plugin or policy errors */
  failed: 1,
  /** the command line itself: unknown flag, missing value, bad log level */
  usage: 2,
  /** the run ended, but records were neither delivered nor spooled */
  undelivered: 3,
  /** a bug: an error that is not one of these */
  internal: 70,
} as const;

export abstract class UserError extends Error {
  abstract readonly exitCode: number;
  constructor(message: string) {
    // one line, whatever the offending value holds
    super(message.replace(/\r?\n/g, '\\n'));
    this.name = new.target.name;
  }
}

/** The pipeline config, a plugin's attributes, a setting a transport or driver checks. */
export class ConfigError extends UserError {
  readonly exitCode = EXIT.failed;
}

/** Input that cannot be used (not SysFlow, a bad header, a missing file or socket path). */
export class InputError extends UserError {
  readonly exitCode = EXIT.failed;
}

/** A run-time plugin module that does not load or breaks its contract. */
export class PluginError extends UserError {
  readonly exitCode = EXIT.failed;
}

/** A policy file that does not load; carries the position. */
export class PolicyError extends UserError {
  readonly exitCode = EXIT.failed;
  constructor(
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly item: string,
    readonly reason: string,
  ) {
    super(`${file}:${line}:${col}: ${item}: ${reason}`);
  }
}

/** The command line. */
export class UsageError extends UserError {
  readonly exitCode = EXIT.usage;
}
