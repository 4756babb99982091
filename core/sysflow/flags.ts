/** SysFlow operation flags (bit values unchanged since 2019) and open flags (sysdig PPM encoding). */

export const OpFlags = {
  CLONE: 1 << 0,
  EXEC: 1 << 1,
  EXIT: 1 << 2,
  SETUID: 1 << 3,
  SETNS: 1 << 4,
  ACCEPT: 1 << 5,
  CONNECT: 1 << 6,
  OPEN: 1 << 7,
  READ_RECV: 1 << 8,
  WRITE_SEND: 1 << 9,
  CLOSE: 1 << 10,
  TRUNCATE: 1 << 11,
  SHUTDOWN: 1 << 12,
  MMAP: 1 << 13,
  DIGEST: 1 << 14,
  MKDIR: 1 << 15,
  RMDIR: 1 << 16,
  LINK: 1 << 17,
  UNLINK: 1 << 18,
  SYMLINK: 1 << 19,
  RENAME: 1 << 20,
} as const;

export const OpenFlags = {
  NONE: 0,
  RDONLY: 1 << 0,
  WRONLY: 1 << 1,
  RDWR: (1 << 0) | (1 << 1),
  CREAT: 1 << 2,
  APPEND: 1 << 3,
  DSYNC: 1 << 4,
  EXCL: 1 << 5,
  NONBLOCK: 1 << 6,
  SYNC: 1 << 7,
  TRUNC: 1 << 8,
  DIRECT: 1 << 9,
  DIRECTORY: 1 << 10,
  LARGEFILE: 1 << 11,
  CLOEXEC: 1 << 12,
} as const;

const FILE_EVENT_NAMES: [number, string][] = [
  [OpFlags.MKDIR, 'MKDIR'],
  [OpFlags.RMDIR, 'RMDIR'],
  [OpFlags.LINK, 'LINK'],
  [OpFlags.SYMLINK, 'SYMLINK'],
  [OpFlags.UNLINK, 'UNLINK'],
  [OpFlags.RENAME, 'RENAME'],
];
const PROC_EVENT_NAMES: [number, string][] = [
  [OpFlags.CLONE, 'CLONE'],
  [OpFlags.EXEC, 'EXEC'],
  [OpFlags.EXIT, 'EXIT'],
  [OpFlags.SETUID, 'SETUID'],
];
/** The fixed 11-position flow column of sysprint. */
const FLOW_POSITIONS: [number, string][] = [
  [OpFlags.OPEN, 'O'],
  [OpFlags.ACCEPT, 'A'],
  [OpFlags.CONNECT, 'C'],
  [OpFlags.WRITE_SEND, 'W'],
  [OpFlags.READ_RECV, 'R'],
  [OpFlags.SETNS, 'N'],
  [OpFlags.MMAP, 'M'],
  [OpFlags.SHUTDOWN, 'S'],
  [OpFlags.CLOSE, 'C'],
  [OpFlags.TRUNCATE, 'T'],
  [OpFlags.DIGEST, 'D'],
];

function computeOpFlagsStr(flags: number): string {
  let s = '';
  for (const [bit, name] of FILE_EVENT_NAMES) if (flags & bit) s += name;
  if (s) return s;
  for (const [bit, name] of PROC_EVENT_NAMES) if (flags & bit) s += name;
  if (s) return s;
  for (const [bit, ch] of FLOW_POSITIONS) s += flags & bit ? ch : ' ';
  return s;
}

const opFlagsMemo = new Map<number, string>();

/** sysprint's `opflags` text (file-event names, else process-event names, else the 11-char flow mask). */
export function opFlagsStr(flags: number): string {
  let s = opFlagsMemo.get(flags);
  if (s === undefined) {
    s = computeOpFlagsStr(flags);
    if (opFlagsMemo.size < 4096) opFlagsMemo.set(flags, s);
  }
  return s;
}

/** IPv4 stored as the network-order bytes read as a little-endian int32: low byte first. */
export function ipStr(ip: number): string {
  return `${ip & 0xff}.${(ip >>> 8) & 0xff}.${(ip >>> 16) & 0xff}.${(ip >>> 24) & 0xff}`;
}
