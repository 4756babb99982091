/**
 * The end of both commands: the exit code main() returns, or for what it throws, one line on stderr
 * and the error's exit code (a user error) or 70 (anything else: a bug; its stack under SFP_DEBUG).
 */
import { EXIT, UserError } from '../errors.js';

export function runMain(program: string, main: (argv: string[]) => Promise<number>): void {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportError(program, e);
    },
  );
}

/** Writes the one line for `e` and returns its exit code. */
export function reportError(program: string, e: unknown): number {
  if (e instanceof UserError) {
    process.stderr.write(`${program}: error: ${e.message}\n`);
    return e.exitCode;
  }
  process.stderr.write(`${program}: internal error: ${(e as Error).message}\n`);
  if (process.env.SFP_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
  return EXIT.internal;
}
