/**
 * Logging through pino, rendered for people: one line per message on stderr,
 * `<program>: <level>: <message>` plus any extra fields as key=value. pino keeps levels, child
 * loggers and structured fields; the destination turns each JSON record into that one line.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { writeSync } from 'node:fs';

export type { Logger };
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

const LABELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const OMIT = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name']);

function humanLine(program: string, json: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const extras = Object.entries(o)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${program}: ${LABELS[o.level as number] ?? 'log'}: ${String(o.msg ?? '')}${extras.length ? ' (' + extras.join(', ') + ')' : ''}\n`;
}

/** A line kept at the bottom of stderr (a progress line): taken away while a log line is written. */
export interface StatusLine {
  hide(): void;
  show(): void;
}

let status: StatusLine | null = null;

/** Set (or with null, remove) the status line that log lines on stderr are written around. */
export function setStatusLine(line: StatusLine | null): void {
  status = line;
}

/** A logger writing human-readable lines synchronously to `fd` (stderr by default). */
export function createLogger(program: string, level: LevelWithSilent = 'info', fd = 2): Logger {
  const dest = {
    write(s: string) {
      try {
        if (status && fd === 2) {
          status.hide();
          writeSync(fd, humanLine(program, s));
          status.show();
          return;
        }
        writeSync(fd, humanLine(program, s));
      } catch {
        /* stderr gone: nothing sensible left to do */
      }
    },
  };
  return pino({ level, base: undefined, timestamp: false }, dest);
}
