/** Literals of a condition converted once, at compile time, to the field's type; their errors are located. */
import { OpFlags as O } from '../sysflow/flags.js';
import { parseExact } from '../util/i64.js';
import { errorAt, type SourceRef } from './errors.js';

export const TYPE_CODES: Record<string, number> = { H: 0, C: 1, P: 2, F: 3, PE: 4, NF: 5, FF: 6, FE: 7, NE: 8, PF: 9, PD: 10, POD: 10, KE: 11 };
export const OPFLAG_BITS: Record<string, number> = {
  CLONE: O.CLONE,
  EXEC: O.EXEC,
  EXIT: O.EXIT,
  SETUID: O.SETUID,
  SETNS: O.SETNS,
  ACCEPT: O.ACCEPT,
  CONNECT: O.CONNECT,
  OPEN: O.OPEN,
  READ: O.READ_RECV,
  RECV: O.READ_RECV,
  WRITE: O.WRITE_SEND,
  SEND: O.WRITE_SEND,
  CLOSE: O.CLOSE,
  TRUNCATE: O.TRUNCATE,
  SHUTDOWN: O.SHUTDOWN,
  MMAP: O.MMAP,
  DIGEST: O.DIGEST,
  MKDIR: O.MKDIR,
  RMDIR: O.RMDIR,
  LINK: O.LINK,
  UNLINK: O.UNLINK,
  SYMLINK: O.SYMLINK,
  RENAME: O.RENAME,
  // the schema's own names for the shared bits, as sf-processor's older policies spell them
  READ_RECV: O.READ_RECV,
  WRITE_SEND: O.WRITE_SEND,
};

/** An integer literal, or one of a field's named values (e.g. a signal name). */
export function literalInt(text: string, src: SourceRef, pos: number, names?: ReadonlyMap<string, number>): number {
  const t = text.trim();
  const named = names?.get(t.toLowerCase());
  if (named !== undefined) return named;
  const n = /^[+-]?\d+$/.test(t) ? Number(t) : /^0x[0-9a-fA-F]+$/.test(t) ? parseInt(t, 16) : NaN;
  if (!Number.isSafeInteger(n)) throw errorAt(src, pos, `expected an integer${names ? ` or one of ${[...names.keys()].join(', ')}` : ''}, found '${text}'`);
  return n;
}

/** A nanosecond time literal, exact beyond 2^53 (as two numbers). */
export function literalExact(text: string, src: SourceRef, pos: number): { d: number; ns: number } {
  const v = parseExact(text);
  if (v === null) throw errorAt(src, pos, `expected an integer (nanoseconds), found '${text}'`);
  return v;
}

export function literalBool(text: string, src: SourceRef, pos: number): boolean {
  const t = text.toLowerCase();
  if (t === 'true' || t === '1') return true;
  if (t === 'false' || t === '0') return false;
  throw errorAt(src, pos, `expected true or false, found '${text}'`);
}
