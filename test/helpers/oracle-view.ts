/**
 * A sysprint JSON record (shared/oracle/**.json.gz) seen through sf-processor's `sf.*` attributes:
 * an independent re-statement of sf-processor-compat.md §5.5 (with our documented deviations) for the
 * policy oracle tests. Nothing here imports core/.
 */
export type J = Record<string, any>;

// ---------------------------------------------------------------------------------------------
// The oracle record seen through the sf.* attributes (independent re-statement of compat §5.5)
// ---------------------------------------------------------------------------------------------

const OP_BITS: [number, string, string][] = [
  [1 << 0, 'CLONE', 'CLONE'],
  [1 << 1, 'EXEC', 'EXEC'],
  [1 << 2, 'EXIT', 'EXIT'],
  [1 << 3, 'SETUID', 'SETUID'],
  [1 << 4, 'SETNS', 'SETNS'],
  [1 << 5, 'ACCEPT', 'ACCEPT'],
  [1 << 6, 'CONNECT', 'CONNECT'],
  [1 << 7, 'OPEN', 'OPEN'],
  [1 << 8, 'READ', 'RECV'],
  [1 << 9, 'WRITE', 'SEND'],
  [1 << 10, 'CLOSE', 'CLOSE'],
  [1 << 11, 'TRUNCATE', 'TRUNCATE'],
  [1 << 12, 'SHUTDOWN', 'SHUTDOWN'],
  [1 << 13, 'MMAP', 'MMAP'],
  [1 << 14, 'DIGEST', 'DIGEST'],
  [1 << 15, 'MKDIR', 'MKDIR'],
  [1 << 16, 'RMDIR', 'RMDIR'],
  [1 << 17, 'LINK', 'LINK'],
  [1 << 18, 'UNLINK', 'UNLINK'],
  [1 << 19, 'SYMLINK', 'SYMLINK'],
  [1 << 20, 'RENAME', 'RENAME'],
];
// sysdig PPM open flags (sysflow-format.md §4.6); RDWR = both low bits.
const OPEN_BITS: [number, string][] = [
  [1 << 2, 'CREAT'],
  [1 << 3, 'APPEND'],
  [1 << 4, 'DSYNC'],
  [1 << 5, 'EXCL'],
  [1 << 6, 'NONBLOCK'],
  [1 << 7, 'SYNC'],
  [1 << 8, 'TRUNC'],
  [1 << 9, 'DIRECT'],
  [1 << 10, 'DIRECTORY'],
  [1 << 11, 'LARGEFILE'],
  [1 << 12, 'CLOEXEC'],
];

export const big = (v: unknown): bigint => (typeof v === 'number' ? BigInt(v) : typeof v === 'string' && v.startsWith('#int:') ? BigInt(v.slice(5)) : 0n);
export const int = (v: unknown): number => (typeof v === 'number' ? v : 0);
export const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Go filepath.Clean (enough for the paths in the traces). */
function clean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length && out[out.length - 1] !== '..') out.pop();
    else if (part === '..' && rooted) continue;
    else out.push(part);
  }
  const s = out.join('/');
  return rooted ? '/' + s : s || '.';
}
/** Go filepath.Base. */
export function base(p: string): string {
  if (p === '') return '.';
  const t = p.replace(/\/+$/, '');
  if (t === '') return '/';
  return t.slice(t.lastIndexOf('/') + 1);
}
/** Go filepath.Dir. */
const dir = (p: string): string => clean(p.slice(0, p.lastIndexOf('/') + 1));
/** Unix-socket notation `<hex>-><hex> <path>`: the policy path is the trailing path. */
const policyPath = (p: string): string => /^[0-9a-fA-F]+->[0-9a-fA-F]+ (\S*)/.exec(p)?.[1] ?? p;

export interface V {
  o: J;
  type: string;
  opflags: string[];
  ret: number;
  ts: bigint;
  endts: bigint;
  pid: number;
  tid: number;
  uid: number;
  gid: number;
  user: string;
  group: string;
  exe: string;
  args: string;
  name: string;
  cmdline: string;
  tty: boolean;
  createts: bigint;
  ppid: number;
  puid: number;
  pexe: string;
  pname: string;
  path: string;
  fname: string;
  fdir: string;
  newpath: string;
  ftype: string;
  openflags: string[];
  isRead: boolean;
  isWrite: boolean;
  fd: number;
  proto: number;
  sport: number;
  dport: number;
  sip: string;
  dip: string;
  rbytes: number;
  rops: number;
  wbytes: number;
  wops: number;
  cid: string;
  cname: string;
  cimage: string;
  ctype: string;
  privileged: boolean;
  podns: string;
  kekind: string;
  keaction: string;
  kemsg: string;
  kens: string;
}

export function view(o: J): V {
  const type = o.type as string;
  const isNF = type === 'NF';
  const isFile = type === 'FF' || type === 'FE';
  const isFlow = type === 'FF' || type === 'NF';
  const bits = int(o.opflags_bitmap);
  const p = o.proc as J;
  const pp = o.pproc as J;
  const hasProc = p.pid !== null;
  const hasParent = pp.pid !== null;
  const path = isFile ? policyPath(str(o.file.path)) : '';
  const of = type === 'FF' ? int(o.file.openflags) : 0;
  const openflags =
    type !== 'FF'
      ? []
      : of === 0
        ? ['NONE']
        : [...(of & 1 ? ['RDONLY'] : []), ...(of & 2 ? ['WRONLY'] : []), ...((of & 3) === 3 ? ['RDWR'] : []), ...OPEN_BITS.filter(([b]) => of & b).map(([, n]) => n)];
  let kens = '';
  if (type === 'KE') {
    try {
      kens = String(JSON.parse(str(o.k8s.msg).replace(/[\s\u0000]+$/, '')).items[0].namespace ?? '');
    } catch {
      kens = '';
    }
  }
  const exe = str(p.exe);
  const args = str(p.args);
  return {
    o,
    type,
    opflags: OP_BITS.filter(([b]) => bits & b).map(([, a, n]) => (isNF ? n : a)),
    ret: type === 'PE' || type === 'FE' ? int(o.ret) : 0,
    ts: big(o.ts_uts),
    endts: isFlow ? big(o.endts_uts) : type === 'KE' ? big(o.ts_uts) : 0n,
    pid: int(p.pid),
    tid: int(p.tid),
    uid: int(p.uid),
    gid: int(p.gid),
    user: str(p.user),
    group: str(p.group),
    exe,
    args,
    name: hasProc ? base(exe) : '',
    cmdline: args === '' ? exe : exe + ' ' + args,
    tty: p.tty === true,
    createts: big(p.createts),
    ppid: int(pp.pid),
    puid: int(pp.uid),
    pexe: str(pp.exe),
    pname: hasParent ? base(str(pp.exe)) : '',
    path,
    fname: isFile ? base(path) : '',
    fdir: isFile ? (path === '' ? '.' : dir(path)) : '',
    newpath: type === 'FE' ? policyPath(str(o.file.newpath)) : '',
    ftype: isFile ? str(o.file.type) : '',
    openflags,
    isRead: (of & 1) !== 0,
    isWrite: (of & 2) !== 0,
    fd: isFlow ? int(o.file.fd) : 0,
    proto: isNF ? int(o.net.proto) : 0,
    sport: isNF ? int(o.net.sport) : 0,
    dport: isNF ? int(o.net.dport) : 0,
    sip: isNF ? str(o.net.sip) : '',
    dip: isNF ? str(o.net.dip) : '',
    rbytes: isFlow ? int(o.flow.rbytes) : 0,
    rops: isFlow ? int(o.flow.rops) : 0,
    wbytes: isFlow ? int(o.flow.wbytes) : 0,
    wops: isFlow ? int(o.flow.wops) : 0,
    cid: str(o.container.id),
    cname: str(o.container.name),
    cimage: str(o.container.image),
    ctype: str(o.container.type).replace(/^CT_/, ''),
    privileged: o.container.privileged === true,
    podns: str(o.pod.ns),
    kekind: str(o.k8s.kind),
    keaction: str(o.k8s.action),
    kemsg: str(o.k8s.msg),
    kens,
  };
}
