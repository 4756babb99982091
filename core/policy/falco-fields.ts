/**
 * Falco field names over SysFlow, with Falco's meaning where SysFlow has the data (README, "Falco
 * fields"). Differences from sf-processor's aliases: `evt.type` gives Falco syscall names, `fd.name`
 * is the full path, `proc.aname` without an index means the ancestors (not the process itself).
 * Names Falco defines but SysFlow does not record are listed in UNSUPPORTED with the reason, so a
 * rule using them is reported and disabled instead of failing the load.
 */
import { SfType, type Process } from '../sysflow/types.js';
import { OpFlags as O } from '../sysflow/flags.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import { VT, SF_FIELDS, type FieldDef, scoped, Scope, opFlagsOf, netIps, netPorts } from '../flatten/fields.js';
import { procName, procCmdline, filePath } from '../flatten/derive.js';
import { eventCategory, eventHost, eventKind } from '../flatten/canonical.js';
import { openFlagNames } from '../flatten/names.js';

type R = FlatRecord;
const sf = (n: string) => SF_FIELDS.get(n)!;

/** Falco syscall names each (record type, op flag) stands for. */
// biome-ignore format: a table, one row per line
export const SYSCALLS: ReadonlyArray<readonly [type: number, flag: number, names: readonly string[]]> = [
  [SfType.PE, O.CLONE, ['clone', 'clone3', 'fork', 'vfork']],
  [SfType.PE, O.EXEC, ['execve', 'execveat']],
  [SfType.PE, O.EXIT, ['procexit', 'exit', 'exit_group']],
  [SfType.PE, O.SETUID, ['setuid', 'setresuid', 'setreuid']],
  [SfType.PE, O.SETNS, ['setns']],
  [SfType.FF, O.OPEN, ['open', 'openat', 'openat2', 'creat']],
  [SfType.FF, O.READ_RECV, ['read', 'pread', 'readv', 'preadv']],
  [SfType.FF, O.WRITE_SEND, ['write', 'pwrite', 'writev', 'pwritev']],
  [SfType.FF, O.CLOSE, ['close']],
  [SfType.FF, O.MMAP, ['mmap']],
  [SfType.FF, O.SETNS, ['setns']],
  [SfType.FF, O.ACCEPT, ['accept', 'accept4']],
  [SfType.FF, O.CONNECT, ['connect']],
  [SfType.FF, O.SHUTDOWN, ['shutdown']],
  [SfType.NF, O.CONNECT, ['connect']],
  [SfType.NF, O.ACCEPT, ['accept', 'accept4']],
  [SfType.NF, O.WRITE_SEND, ['sendto', 'sendmsg', 'write', 'writev']],
  [SfType.NF, O.READ_RECV, ['recvfrom', 'recvmsg', 'read', 'readv']],
  [SfType.NF, O.CLOSE, ['close']],
  [SfType.NF, O.SHUTDOWN, ['shutdown']],
  [SfType.FE, O.MKDIR, ['mkdir', 'mkdirat']],
  [SfType.FE, O.RMDIR, ['rmdir']],
  [SfType.FE, O.LINK, ['link', 'linkat']],
  [SfType.FE, O.SYMLINK, ['symlink', 'symlinkat']],
  [SfType.FE, O.UNLINK, ['unlink', 'unlinkat']],
  [SfType.FE, O.RENAME, ['rename', 'renameat', 'renameat2']],
];

/** Every syscall name some SysFlow record stands for. */
export const KNOWN_SYSCALLS: ReadonlySet<string> = new Set(SYSCALLS.flatMap(([, , n]) => n));

/** Syscalls Falco rules use that SysFlow does not record. */
// biome-ignore format: a table, one row per line
export const UNRECORDED_SYSCALLS: ReadonlySet<string> = new Set([
  'ptrace', 'dup', 'dup2', 'dup3', 'socket', 'socketpair', 'bind', 'listen', 'init_module', 'finit_module', 'delete_module',
  'chmod', 'fchmod', 'fchmodat', 'chown', 'fchown', 'fchownat', 'lchown', 'unshare', 'bpf', 'userfaultfd', 'mount', 'umount',
  'umount2', 'ioctl', 'mprotect', 'memfd_create', 'prctl', 'kill', 'tgkill', 'setgid', 'setresgid', 'capset', 'pipe', 'pipe2',
  'sendfile', 'splice', 'chdir', 'fchdir', 'chroot', 'pivot_root', 'process_vm_readv', 'process_vm_writev', 'signalfd',
  'eventfd', 'inotify_init', 'timerfd_create', 'setsid', 'setpgid', 'seccomp', 'keyctl', 'add_key', 'request_key',
  'quotactl', 'syslog', 'reboot', 'sethostname', 'setdomainname', 'settimeofday', 'clock_settime', 'adjtimex',
  'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'fsconfig', 'open_by_handle_at', 'name_to_handle_at', 'truncate',
  'ftruncate', 'container', 'switch', 'signaldeliver', 'page_fault', 'nanosleep', 'poll', 'select', 'epoll_wait',
  'futex', 'getsockopt', 'setsockopt', 'getdents', 'getdents64', 'stat', 'lstat', 'fstat', 'access', 'faccessat',
  'readlink', 'readlinkat', 'utimensat', 'fcntl', 'flock', 'brk', 'munmap', 'mlock', 'copy_file_range', 'fallocate',
]);

const evtMemo: Map<number, readonly string[]>[] = Array.from({ length: 12 }, () => new Map());
/** evt.type: the Falco syscall names the record stands for (a flow stands for several). */
export function evtTypes(r: R): readonly string[] {
  const t = r.sfType;
  const flags = opFlagsOf(r);
  const memo = evtMemo[t]!;
  let v = memo.get(flags);
  if (v === undefined) {
    const names: string[] = [];
    for (const [st, bit, n] of SYSCALLS) if (st === t && (flags & bit) !== 0) names.push(...n);
    v = Object.freeze(names);
    if (memo.size < 4096) memo.set(flags, v);
  }
  return v;
}

const L4 = new Map([
  [6, 'tcp'],
  [17, 'udp'],
  [1, 'icmp'],
  [58, 'icmp'],
  [255, 'raw'],
]);
// biome-ignore format: a table, one row per line
const FD_TYPES = new Map([['f', 'file'], ['d', 'directory'], ['4', 'ipv4'], ['6', 'ipv6'], ['u', 'unix'], ['p', 'pipe'], ['e', 'event'], ['s', 'signalfd'], ['l', 'eventpoll'], ['i', 'inotify'], ['t', 'timerfd'], ['n', 'netlink'], ['b', 'bpf'], ['m', 'memfd'], ['o', 'other']]);

const defs: FieldDef[] = [];
function alias(name: string, target: string, doc?: string, approx?: string): void {
  const t = sf(target);
  defs.push({ ...t, name, doc: doc ?? `as ${target}`, ...(approx ? { approx } : {}) });
}
function def(name: string, vt: VT, get: (r: R) => unknown, doc: string, extra: Partial<FieldDef> = {}): void {
  defs.push({ name, vt, get, doc, ...extra });
}
const isType = (r: R, a: number, b = -1) => r.sfType === a || r.sfType === b;

// evt.*
def('evt.type', VT.StrList, evtTypes, 'Falco syscall names the record stands for (FF open|read|close → open, openat, …, read, …, close)');
def(
  'evt.seq',
  VT.Int,
  (r) => r.seq,
  "the record's sequence number in this run: from 1, strictly increasing and gap-free over the records the reader emits (a gap downstream means a filter or a loss)",
);
def('evt.num', VT.Int, (r) => r.seq, 'as evt.seq (never 0, so never_true-style macros keep their meaning)');
def('evt.name', VT.Str, (r) => eventKind(r).name, 'canonical event name: ExecProcess, CreateProcess, OpenFile, RenameFile, Connect, Accept, … (table in docs/fields.md)');
def('evt.category', VT.Str, eventCategory, 'canonical category: process, file, network or k8s');
def('evt.description', VT.Str, (r) => eventKind(r).description, "a sentence describing the record's event name");
def('evt.host', VT.Str, eventHost, "the host that produced the record (its SysFlow header's exporter, as node.id)");
def('evt.hostname', VT.Str, eventHost, 'as evt.host');
alias('evt.time', 'sf.ts', 'event time (ns)');
alias('evt.rawtime', 'sf.ts', 'event time (ns)');
def('evt.dir', VT.Str, () => '<', 'always "<" (SysFlow, like current Falco, has exit events only)');
alias('evt.rawres', 'sf.ret', 'return value (PE, FE)');
const ret = sf('sf.ret').get as (r: R) => number;
const fileType = sf('sf.file.type').get as (r: R) => string;
const proto = sf('sf.net.proto').get as (r: R) => number;
def(
  'evt.res',
  VT.Str,
  (r) => {
    const v = ret(r);
    return v < 0 ? 'E' + String(-v) : 'SUCCESS';
  },
  'SUCCESS or E<errno>',
  {
    approx: 'errno number instead of its name',
  },
);
alias('evt.is_open_read', 'sf.file.is_open_read', 'file opened for reading');
alias('evt.is_open_write', 'sf.file.is_open_write', 'file opened for writing');
def('evt.is_open_exec', VT.Bool, () => false, 'always false', { approx: 'SysFlow does not record O_EXEC opens' });
def(
  'evt.arg.flags',
  VT.Str,
  (r) =>
    r.sfType === SfType.FF
      ? openFlagNames(opFlagsOf(r) & O.OPEN ? ((r.rec as { openFlags?: number }).openFlags ?? 0) : 0)
          .map((n) => 'O_' + n)
          .join('|')
      : '',
  'open flags as O_… names joined by |',
  {
    approx: 'open flags of the file flow (SysFlow has no other syscall flags)',
  },
);
// Falco renders a uid argument as the user's name (`evt.arg.uid=nobody`); the number matches too
def('evt.arg.uid', VT.StrList, (r) => (isType(r, SfType.PE) && r.proc ? [r.proc.userName ?? '', String(r.proc.uid ?? 0)] : []), 'uid after setuid: the user name, or the number', {
  approx: "the process' user after the event",
});
const path = (r: R) => filePath(r.file);
const newPath = (r: R) => filePath(r.newFile);
def('evt.arg.path', VT.Str, (r) => (isType(r, SfType.FE, SfType.FF) ? path(r) : ''), 'path argument (FF, FE)');
def('evt.arg.name', VT.Str, (r) => (isType(r, SfType.FE, SfType.FF) ? path(r) : ''), 'name argument (FF, FE)');
def('evt.arg.oldpath', VT.Str, (r) => (isType(r, SfType.FE) ? path(r) : ''), 'first path of rename/link (FE)');
def('evt.arg.newpath', VT.Str, (r) => (isType(r, SfType.FE) ? newPath(r) : ''), 'second path of rename/link (FE)');
def('evt.arg.target', VT.Str, (r) => (isType(r, SfType.FE) ? path(r) : ''), 'symlink target (FE)', { approx: "SysFlow's first FE path" });
def('evt.arg.linkpath', VT.Str, (r) => (isType(r, SfType.FE) ? newPath(r) : ''), 'symlink path (FE)', { approx: "SysFlow's second FE path" });
alias('evt.arg.fd', 'sf.file.fd');
def('fs.path.name', VT.Str, (r) => (isType(r, SfType.FE) ? path(r) : ''), 'path of a file event');
def('fs.path.source', VT.Str, (r) => (isType(r, SfType.FE) ? path(r) : ''), 'source path of rename/link');
def('fs.path.target', VT.Str, (r) => (isType(r, SfType.FE) ? newPath(r) : ''), 'target path of rename/link');

// fd.*
const netName = (r: R) => {
  const ips = netIps(r);
  const ports = netPorts(r);
  return ips.length ? `${ips[0]}:${ports[0]}->${ips[1]}:${ports[1]}` : '';
};
def('fd.name', VT.Str, (r) => (isType(r, SfType.NF, SfType.NE) ? netName(r) : path(r)), 'full path; sip:sport->dip:dport for network flows');
alias('fd.filename', 'sf.file.name', 'file name');
alias('fd.directory', 'sf.file.directory', 'directory');
alias('fd.typechar', 'sf.file.type', 'resource type char');
def('fd.type', VT.Str, (r) => FD_TYPES.get(fileType(r)) ?? (isType(r, SfType.NF, SfType.NE) ? 'ipv4' : ''), 'file, directory, ipv4, ipv6, unix, pipe, …');
alias('fd.num', 'sf.file.fd', 'file descriptor');
alias('fd.sip', 'sf.net.sip', 'source IP of the flow', 'SysFlow source IP (Falco: server IP)');
alias('fd.cip', 'sf.net.sip', 'source IP of the flow', 'SysFlow source IP (Falco: client IP)');
alias('fd.dip', 'sf.net.dip', 'destination IP');
alias('fd.rip', 'sf.net.dip', 'remote IP', 'SysFlow destination IP');
alias('fd.lip', 'sf.net.sip', 'local IP', 'SysFlow source IP');
alias('fd.ip', 'sf.net.ip', 'either IP');
alias('fd.sport', 'sf.net.sport', 'source port', 'SysFlow source port (Falco: server port)');
alias('fd.cport', 'sf.net.sport', 'source port', 'SysFlow source port');
alias('fd.dport', 'sf.net.dport', 'destination port');
alias('fd.rport', 'sf.net.dport', 'remote port', 'SysFlow destination port');
alias('fd.lport', 'sf.net.sport', 'local port', 'SysFlow source port');
alias('fd.port', 'sf.net.port', 'either port');
for (const n of ['fd.l4proto', 'fd.proto', 'fd.lproto', 'fd.rproto', 'fd.sproto', 'fd.cproto']) {
  def(n, VT.Str, (r) => (isType(r, SfType.NF, SfType.NE) ? (L4.get(proto(r)) ?? String(proto(r))) : ''), 'tcp, udp, icmp, raw');
}
def('fd.net', VT.StrList, netIps, 'either IP; compare with a CIDR: fd.net = 10.0.0.0/8');
alias('fd.snet', 'sf.net.sip', 'source IP; compare with a CIDR');
alias('fd.cnet', 'sf.net.sip', 'source IP; compare with a CIDR');
alias('fd.rnet', 'sf.net.dip', 'destination IP; compare with a CIDR');
alias('fd.lnet', 'sf.net.sip', 'source IP; compare with a CIDR');

// proc.* (Falco: the process of the event)
alias('proc.name', 'sf.proc.name');
alias('proc.exe', 'sf.proc.exe', 'executable path', 'exe path (Falco: argv[0])');
alias('proc.exepath', 'sf.proc.exe');
alias('proc.args', 'sf.proc.args');
/** Falco's command line: the name (not the exe path) and the args. */
const falcoCmdline = (p: Process | undefined) => (p === undefined ? '' : p.exeArgs === '' ? procName(p) : procName(p) + ' ' + p.exeArgs);
def('proc.cmdline', VT.Str, (r) => falcoCmdline(r.proc), 'name and args (Falco meaning)');
alias('proc.pid', 'sf.proc.pid');
alias('proc.vpid', 'sf.proc.pid', 'pid', 'host pid (SysFlow has no namespace pid)');
alias('proc.tid', 'sf.proc.tid');
alias('thread.tid', 'sf.proc.tid');
alias('proc.ppid', 'sf.pproc.pid');
alias('proc.pname', 'sf.pproc.name');
alias('proc.pexe', 'sf.pproc.exe', 'parent exe path');
alias('proc.pexepath', 'sf.pproc.exe');
def('proc.pcmdline', VT.Str, (r) => falcoCmdline(r.pproc), 'parent name and args');
alias('proc.pargs', 'sf.pproc.args');
alias('proc.cwd', 'sf.proc.cwd');
def('proc.tty', VT.Int, (r) => (r.proc?.tty ? 1 : 0), 'controlling terminal (1 when present)', { approx: '1 when the process has a terminal, not the device number' });
def('proc.ptty', VT.Int, (r) => (r.pproc?.tty ? 1 : 0), 'parent terminal (1 when present)', { approx: '1 when the parent has a terminal' });
def('proc.is_container_entrypoint', VT.Bool, (r) => r.proc?.entry === true, 'container entry point');
def('proc.env', VT.Str, (r) => (r.proc?.env ?? []).join(' '), 'environment (schema v5)');
def('proc.duration', VT.Int, (r) => (r.proc ? Math.max(0, r.rec.ts - r.proc.oid.createTS) : 0), 'ns since the process started');
alias('proc.createtime', 'sf.proc.createts');
alias('proc.pcreatetime', 'sf.pproc.createts');
const ancestors =
  <T>(f: (r: R, i: number) => T, empty: T) =>
  (idx: number) =>
  (r: R) =>
    r.ptree.length > idx ? f(r, idx) : empty;
function ancestorField(name: string, vt: VT.Str | VT.Int, at: (r: R, i: number) => string | number, all: string, doc: string): void {
  const list = sf(all);
  const empty = vt === VT.Str ? '' : 0;
  const memo = new WeakMap<readonly unknown[], readonly unknown[]>();
  const parents = (r: R) => {
    const all = list.get(r) as readonly unknown[];
    if (all.length === 0) return all;
    let v = memo.get(all);
    if (v === undefined) memo.set(all, (v = Object.freeze(all.slice(1))));
    return v;
  };
  def(name, list.vt, parents, doc + ' of the ancestors (without an index); [0] is the process, [1] its parent, …', {
    withArg: (a) => {
      if (!/^\d{1,3}$/.test(a)) throw new Error(`${name}[${a}]: the index must be a number`);
      return { name: `${name}[${a}]`, vt, get: ancestors(at, empty)(Number(a)), doc: `${doc} of ancestor ${a}` };
    },
  });
}
ancestorField('proc.aname', VT.Str, (r, i) => procName(r.ptree[i]), 'sf.proc.aname', 'names');
ancestorField('proc.aexe', VT.Str, (r, i) => r.ptree[i]!.exe, 'sf.proc.aexe', 'exes');
ancestorField('proc.aexepath', VT.Str, (r, i) => r.ptree[i]!.exe, 'sf.proc.aexe', 'exes');
ancestorField('proc.acmdline', VT.Str, (r, i) => procCmdline(r.ptree[i]), 'sf.proc.acmdline', 'command lines');
ancestorField('proc.apid', VT.Int, (r, i) => r.ptree[i]!.oid.hpid, 'sf.proc.apid', 'pids');

// user / group
alias('user.uid', 'sf.proc.uid');
alias('user.name', 'sf.proc.user');
alias('proc.user', 'sf.proc.user');
alias('group.gid', 'sf.proc.gid');
alias('group.name', 'sf.proc.group');
alias('proc.group', 'sf.proc.group');
alias('proc.uid', 'sf.proc.uid');
alias('proc.gid', 'sf.proc.gid');
alias('proc.puid', 'sf.pproc.uid');
alias('proc.pgid', 'sf.pproc.gid');
alias('proc.puser', 'sf.pproc.user');
alias('proc.pgroup', 'sf.pproc.group');

// container (Falco says "host" outside containers)
const C = (r: R) => r.container;
def('container.id', VT.Str, (r) => C(r)?.id ?? 'host', 'container id; "host" outside containers');
def('container.name', VT.Str, (r) => C(r)?.name ?? 'host', 'container name; "host" outside containers');
alias('container.image', 'sf.container.image');
alias('container.image.id', 'sf.container.imageid');
const repo = (image: string) => {
  const at = image.indexOf('@');
  const noDigest = at < 0 ? image : image.slice(0, at);
  const colon = noDigest.lastIndexOf(':');
  return colon > noDigest.lastIndexOf('/') ? noDigest.slice(0, colon) : noDigest;
};
def('container.image.repository', VT.Str, (r) => (C(r) ? repo(C(r)!.image) : ''), 'image without tag or digest');
def(
  'container.image.tag',
  VT.Str,
  (r) => {
    const img = C(r)?.image ?? '';
    const rp = repo(img);
    return img.length > rp.length && img[rp.length] === ':' ? img.slice(rp.length + 1).split('@')[0]! : '';
  },
  'image tag',
);
alias('container.type', 'sf.container.type', 'runtime (docker, cri-o, …) in SysFlow names', 'SysFlow runtime names (DOCKER, CRIO, …)');
alias('container.privileged', 'sf.container.privileged');

// k8s
alias('k8s.ns.name', 'sf.pod.namespace');
alias('k8s.pod.name', 'sf.pod.name');
alias('k8s.pod.id', 'sf.pod.id');
alias('k8s.pod.uid', 'sf.pod.id');

def('fd.nameraw', VT.Str, path, 'path as recorded', { approx: 'SysFlow records the resolved path only' });

// sf-processor's policies spell some attributes its field map never defined (upstream reads them as
// literals, so its rules using them never fire); they have a plain meaning in SysFlow, so map them
alias('sf.proc.username', 'sf.proc.user', 'user name (sf-processor policy spelling)');
alias('sf.pproc.username', 'sf.pproc.user', 'parent user name (sf-processor policy spelling)');
alias('sf.file.typechar', 'sf.file.type', 'resource type char (sf-processor policy spelling)');
def(
  'sf.net.sockfamily',
  VT.Str,
  (r) => (isType(r, SfType.NF, SfType.NE) ? 'ip' : isType(r, SfType.FF, SfType.FE) && fileType(r) === 'u' ? 'unix' : ''),
  'socket family: ip (network flows), unix (unix-socket file records), else empty',
  {
    approx: 'ip for every network flow, unix for unix-socket file records',
  },
);
def('sf.net.mask', VT.StrList, netIps, 'either IP; compare with a CIDR (sf-processor policy spelling): sf.net.mask != "127.0.0.0/8"', {
  approx: 'read as either IP compared with a CIDR, as fd.net',
});

/** Scopes (FieldDef.scope) of the fields defined here; aliases inherit theirs. */
const CONTEXT = new Set([
  'proc.cmdline',
  'proc.pcmdline',
  'proc.tty',
  'proc.ptty',
  'proc.is_container_entrypoint',
  'proc.env',
  'proc.aname',
  'proc.aexe',
  'proc.aexepath',
  'proc.acmdline',
  'proc.apid',
  'container.id',
  'container.name',
  'container.image.repository',
  'container.image.tag',
]);
/** On FF and FE records these are functions of the type and the files (fd.name is a path there). */
const FILE = new Set([
  'fd.name',
  'fd.type',
  'fd.nameraw',
  'evt.arg.path',
  'evt.arg.name',
  'evt.arg.oldpath',
  'evt.arg.newpath',
  'evt.arg.target',
  'evt.arg.linkpath',
  'fs.path.name',
  'fs.path.source',
  'fs.path.target',
]);

export const FALCO_FIELDS: ReadonlyMap<string, FieldDef> = new Map(defs.map((d) => [d.name, CONTEXT.has(d.name) ? scoped(d, Scope.Context) : FILE.has(d.name) ? scoped(d, Scope.File) : d]));

/** Falco fields SysFlow has no data for, with the reason. */
export const UNSUPPORTED_FIELDS: ReadonlyMap<string, string> = new Map([
  ...[
    'evt.arg',
    'evt.rawarg',
    'evt.args',
    'evt.info',
    'evt.buffer',
    'evt.buflen',
    'evt.latency',
    'evt.latency.s',
    'evt.latency.ns',
    'evt.deltatime',
    'evt.cpu',
    'evt.is_io',
    'evt.is_io_read',
    'evt.is_io_write',
    'evt.is_syslog',
    'evt.failed',
    'evt.is_wait',
    'evt.count',
    'syscall.type',
    'evt.pluginname',
    'evt.source',
  ].map((n) => [n, 'SysFlow does not record per-syscall event details'] as const),
  ...[
    'fd.name_changed',
    'fd.connected',
    'fd.sip.name',
    'fd.cip.name',
    'fd.rip.name',
    'fd.lip.name',
    'fd.ino',
    'fd.dev',
    'fd.dev.major',
    'fd.dev.minor',
    'fd.uid',
    'fd.containername',
    'fd.containerdirectory',
    'fd.is_server',
    'fd.sockfamily',
  ].map((n) => [n, 'SysFlow does not record this file-descriptor property'] as const),
  ...[
    'proc.is_exe_upper_layer',
    'proc.is_exe_from_memfd',
    'proc.is_exe_writable',
    'proc.exe_ino',
    'proc.exe_ino.ctime',
    'proc.exe_ino.mtime',
    'proc.exe_ino.ctime_duration_proc_start',
    'proc.exe_ino.ctime_duration_pidns_start',
    'proc.sname',
    'proc.sid',
    'proc.sid.exe',
    'proc.sid.exepath',
    'proc.vpgid',
    'proc.vpgid.name',
    'proc.vpgid.exe',
    'proc.vpgid.exepath',
    'proc.is_vpgid_leader',
    'proc.is_sid_leader',
    'proc.loginshellid',
    'proc.pvpid',
    'proc.nthreads',
    'proc.nchilds',
    'proc.fdopencount',
    'proc.fdlimit',
    'proc.vmsize',
    'proc.vmrss',
    'proc.vmswap',
    'proc.pidns_init_start_ts',
    'proc.stdin.name',
    'proc.stdout.name',
    'proc.stderr.name',
    'proc.stdin.type',
    'proc.stdout.type',
    'proc.stderr.type',
    'proc.exeline',
    'proc.is_container_healthcheck',
    'proc.is_container_liveness_probe',
    'proc.is_container_readiness_probe',
    'proc.cmdnargs',
    'proc.cmdlenargs',
    'proc.ppid.duration',
    'proc.pid.ts',
    'proc.ppid.ts',
    'proc.loginshellid',
  ].map((n) => [n, 'SysFlow does not record this process property'] as const),
  ...[
    'thread.cap_effective',
    'thread.cap_permitted',
    'thread.cap_inheritable',
    'thread.ismain',
    'thread.exectime',
    'thread.totexectime',
    'thread.vtid',
    'thread.nametid',
    'thread.cgroups',
    'thread.cgroup',
  ].map((n) => [n, 'SysFlow does not record thread capabilities or cgroups'] as const),
  ...['user.loginuid', 'user.loginname', 'user.homedir', 'user.shell'].map((n) => [n, 'SysFlow does not record login or passwd data'] as const),
  ...[
    'container.start_ts',
    'container.duration',
    'container.label',
    'container.labels',
    'container.mounts',
    'container.mount',
    'container.mount.source',
    'container.mount.dest',
    'container.mount.mode',
    'container.mount.rdwr',
    'container.mount.propagation',
    'container.healthcheck',
    'container.liveness_probe',
    'container.readiness_probe',
    'container.cni.json',
    'container.ip',
    'container.info',
    'container.image.digest',
    'container.host_pid',
    'container.host_network',
    'container.host_ipc',
  ].map((n) => [n, 'SysFlow does not record this container property'] as const),
  ...[
    'k8s.ns.id',
    'k8s.ns.label',
    'k8s.ns.labels',
    'k8s.pod.label',
    'k8s.pod.labels',
    'k8s.pod.ip',
    'k8s.pod.cni.json',
    'k8s.rc.name',
    'k8s.rs.name',
    'k8s.svc.name',
    'k8s.deployment.name',
    'k8s.pod.sandbox_id',
    'k8s.pod.full_sandbox_id',
  ].map((n) => [n, 'SysFlow does not record this Kubernetes property'] as const),
]);

/** Falco field families whose unlisted members are also unsupported (e.g. evt.arg.request). */
export const UNSUPPORTED_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['evt.arg.', 'SysFlow does not record this syscall argument'],
  ['evt.rawarg.', 'SysFlow does not record this syscall argument'],
  ['evt.abspath', 'SysFlow does not record this syscall argument'],
  ['evt.arg[', 'SysFlow does not record syscall arguments by position'],
  ['ka.', 'Kubernetes audit events are not SysFlow'],
  ['jevt.', 'JSON plugin events are not SysFlow'],
  ['k8smeta.', 'Kubernetes metadata plugin fields are not SysFlow'],
  ['mesos.', 'Mesos fields are not SysFlow'],
  ['marathon.', 'Mesos fields are not SysFlow'],
  ['span.', 'tracer spans are not SysFlow'],
];
