/** Name lists derived from flag words, memoised per value (flag combinations are few). */
import { OpFlags as O, OpenFlags as OF } from '../sysflow/flags.js';

const OP_ORDER: [number, string, string][] = [
  [O.MKDIR, 'MKDIR', 'MKDIR'],
  [O.RMDIR, 'RMDIR', 'RMDIR'],
  [O.LINK, 'LINK', 'LINK'],
  [O.SYMLINK, 'SYMLINK', 'SYMLINK'],
  [O.UNLINK, 'UNLINK', 'UNLINK'],
  [O.RENAME, 'RENAME', 'RENAME'],
  [O.CLONE, 'CLONE', 'CLONE'],
  [O.EXEC, 'EXEC', 'EXEC'],
  [O.EXIT, 'EXIT', 'EXIT'],
  [O.SETUID, 'SETUID', 'SETUID'],
  [O.OPEN, 'OPEN', 'OPEN'],
  [O.ACCEPT, 'ACCEPT', 'ACCEPT'],
  [O.CONNECT, 'CONNECT', 'CONNECT'],
  [O.CLOSE, 'CLOSE', 'CLOSE'],
  [O.WRITE_SEND, 'WRITE', 'SEND'],
  [O.READ_RECV, 'READ', 'RECV'],
  [O.SETNS, 'SETNS', 'SETNS'],
  [O.MMAP, 'MMAP', 'MMAP'],
  [O.SHUTDOWN, 'SHUTDOWN', 'SHUTDOWN'],
  [O.TRUNCATE, 'TRUNCATE', 'TRUNCATE'],
  [O.DIGEST, 'DIGEST', 'DIGEST'],
];

const opMemo = [new Map<number, readonly string[]>(), new Map<number, readonly string[]>()];

/** Op-flag names in sf-processor order; network flows say SEND/RECV where others say WRITE/READ. */
export function opFlagNames(flags: number, network: boolean): readonly string[] {
  const memo = opMemo[network ? 1 : 0]!;
  let names = memo.get(flags);
  if (names === undefined) {
    names = Object.freeze(OP_ORDER.filter(([bit]) => flags & bit).map(([, a, b]) => (network ? b : a)));
    if (memo.size < 8192) memo.set(flags, names);
  }
  return names;
}

const OPEN_ORDER: [number, string][] = [
  [OF.RDONLY, 'RDONLY'],
  [OF.WRONLY, 'WRONLY'],
  [OF.RDWR, 'RDWR'],
  [OF.CREAT, 'CREAT'],
  [OF.EXCL, 'EXCL'],
  [OF.TRUNC, 'TRUNC'],
  [OF.APPEND, 'APPEND'],
  [OF.NONBLOCK, 'NONBLOCK'],
  [OF.DSYNC, 'DSYNC'],
  [OF.DIRECT, 'DIRECT'],
  [OF.LARGEFILE, 'LARGEFILE'],
  [OF.DIRECTORY, 'DIRECTORY'],
  [OF.CLOEXEC, 'CLOEXEC'],
  [OF.SYNC, 'SYNC'],
];
const openMemo = new Map<number, readonly string[]>();

/** Open-flag names in sf-processor order: NONE only for 0; RDWR also names RDONLY and WRONLY. */
export function openFlagNames(flags: number): readonly string[] {
  let names = openMemo.get(flags);
  if (names === undefined) {
    names = flags === 0 ? ['NONE'] : OPEN_ORDER.filter(([bit]) => (bit === OF.RDWR ? (flags & 3) === 3 : (flags & bit) !== 0)).map(([, n]) => n);
    names = Object.freeze(names);
    if (openMemo.size < 8192) openMemo.set(flags, names);
  }
  return names;
}

export const isOpenRead = (flags: number) => (flags & 3) === OF.RDONLY || (flags & 3) === OF.RDWR;
export const isOpenWrite = (flags: number) => (flags & OF.WRONLY) !== 0;

/** Container type without the CT_ prefix, as sf-processor reports it. */
export function containerTypeName(symbol: string): string {
  return symbol.startsWith('CT_') ? symbol.slice(3) : symbol;
}

/** Record type codes as sf-processor names them (Pod is "PD" there; sysprint says "POD"). */
export const SF_PROCESSOR_TYPE_CODES = ['H', 'C', 'P', 'F', 'PE', 'NF', 'FF', 'FE', 'NE', 'PF', 'PD', 'KE'] as const;
