/**
 * The `sf.*` attributes of a flat record (sf-processor's field map, compat §5.5), as typed getters.
 *
 * The policy engine compiles conditions against these getters, so each is a property read or a
 * derivation memoised per entity (derive.ts: names, OIDs, parsed paths). A value that does not apply to the
 * record type is the zero value of its type ("" / 0 / false / []), as upstream: `exists` is false
 * for it and `!=` comparisons are true.
 *
 * Fixed against upstream: `sf.flow.*` counters are not doubled; `sf.proc.cmdline` has no trailing
 * space when there are no args; `sf.pproc.uid/gid` are ordinary integers; `sf.file.openflags` is
 * empty (not garbage) for network flows; `sf.proc.cwd` exists (schema v5 data).
 */
import { SfType, type OID } from '../sysflow/types.js';
import type { FlatRecord } from './flatrecord.js';
import { opFlagNames, openFlagNames, isOpenRead, isOpenWrite, containerTypeName, SF_PROCESSOR_TYPE_CODES } from './names.js';
import { baseName } from './paths.js';
import { filePath, ip, oidString, pathParts, podView, procCmdline, procName, treeList } from './derive.js';

/** Value types: how a getter's result is to be read. */
export const enum VT {
  Str = 0,
  Int = 1,
  /** 64-bit nanosecond value: `get` gives the nearest double, `ns` the exact value mod 1e9. */
  Time = 2,
  Bool = 3,
  StrList = 4,
  IntList = 5,
}

/** Scope bits of FieldDef.scope. */
export const enum Scope {
  /** The process context: process, ancestors, parent, container, pod, header. */
  Context = 1,
  /** On records with a file (FF, FE): the record type and the two files. */
  File = 2,
}

export interface FieldDef {
  readonly name: string;
  readonly vt: VT;
  readonly get: (r: FlatRecord) => unknown;
  /** Time fields only: exact nanoseconds mod 1e9. */
  readonly ns?: (r: FlatRecord) => number;
  /** Accepts `name[arg]`: returns the getter for that argument (or throws a message). */
  readonly withArg?: (arg: string) => FieldDef;
  /** Set when the value only approximates the named field's usual meaning (reported by policy checks). */
  readonly approx?: string;
  /** Integer fields only: symbolic values a condition may use instead of the number (`sf.net.proto = udp`). */
  readonly names?: ReadonlyMap<string, number>;
  /** String fields only: how a condition's literal is read before comparing (`O_CREAT` → `CREAT`). */
  readonly literal?: (text: string) => string;
  /**
   * What the value is a function of, when less than the whole record (Scope bits): the policy engine
   * then decides checks on it once per process context or per file instead of once per record.
   */
  readonly scope?: number;
  readonly doc: string;
}

type R = FlatRecord;

const NONE: readonly string[] = Object.freeze([]);

/** The event record viewed through the fields its types may have. */
interface Ev {
  procOID?: OID;
  tid?: number;
  opFlags?: number;
  ret?: number;
  endTs?: number;
  endTsNs?: number;
  openFlags?: number;
  fd?: number;
  sip?: number;
  dip?: number;
  sport?: number;
  dport?: number;
  proto?: number;
  numRRecvOps?: number;
  numWSendOps?: number;
  numRRecvBytes?: number;
  numWSendBytes?: number;
  kind?: string;
  action?: string;
  message?: string;
}
const ev = (r: R) => r.rec as unknown as Ev;
const isNet = (r: R) => r.sfType === SfType.NF || r.sfType === SfType.NE;
const isFlow = (r: R) => r.sfType === SfType.NF || r.sfType === SfType.FF;

export function opFlagsOf(r: R): number {
  return ev(r).opFlags ?? 0;
}
export function opNames(r: R): readonly string[] {
  const f = ev(r).opFlags;
  return f === undefined ? NONE : opFlagNames(f, r.sfType === SfType.NF);
}
const NO_PORTS: readonly number[] = Object.freeze([]);
const portsMemo = new WeakMap<object, readonly number[]>();
const ipsMemo = new WeakMap<object, readonly string[]>();
export const netPorts = (r: R): readonly number[] => {
  if (!isNet(r)) return NO_PORTS;
  let v = portsMemo.get(r.rec);
  if (v === undefined) portsMemo.set(r.rec, (v = [ev(r).sport!, ev(r).dport!]));
  return v;
};
export const netIps = (r: R): readonly string[] => {
  if (!isNet(r)) return NONE;
  let v = ipsMemo.get(r.rec);
  if (v === undefined) ipsMemo.set(r.rec, (v = [ip(ev(r).sip), ip(ev(r).dip)]));
  return v;
};

function jsonPathGetter(text: (r: R) => string, path: string): (r: R) => string {
  const keys = path.split('.');
  if (path === '' || keys.some((k) => k === '')) throw new Error(`invalid JSON path '${path}'`);
  let lastText = '';
  let lastDoc: unknown;
  return (r) => {
    const t = text(r);
    if (t === '') return '';
    if (t !== lastText) {
      lastText = t;
      try {
        lastDoc = JSON.parse(t);
      } catch {
        // GJSON reads the first JSON value and ignores what follows: K8s event messages end in "\n\u0000"
        try {
          lastDoc = JSON.parse(t.replace(/[\s\u0000]+$/, ''));
        } catch {
          lastDoc = undefined;
        }
      }
    }
    let v: unknown = lastDoc;
    for (const k of keys) {
      if (v === null || typeof v !== 'object') return '';
      v = (v as Record<string, unknown>)[k];
    }
    if (v === undefined || v === null) return '';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  };
}

// ---- the table ----

const defs: FieldDef[] = [];
function def(name: string, vt: VT, get: (r: R) => unknown, doc: string, extra: Partial<FieldDef> = {}): void {
  defs.push({ name, vt, get, doc, ...extra });
}
const str = (v: string | undefined | null) => v ?? '';

def('sf.type', VT.Str, (r) => SF_PROCESSOR_TYPE_CODES[r.sfType] ?? '', 'record type: PE, PF, NF, NE, FF, FE, KE');
def('sf.opflags', VT.StrList, opNames, 'operation flags (SEND/RECV for network flows, WRITE/READ otherwise)');
def('sf.ret', VT.Int, (r) => (r.sfType === SfType.PE || r.sfType === SfType.FE || r.sfType === SfType.NE ? ev(r).ret! : 0), 'return code (PE, FE, NE)');
def('sf.ts', VT.Time, (r) => r.rec.ts, 'start timestamp (ns)', { ns: (r) => r.rec.tsNs });
def('sf.endts', VT.Time, (r) => (r.sfType === SfType.KE ? r.rec.ts : (ev(r).endTs ?? 0)), 'end timestamp of flows (ns); KE: its timestamp', {
  ns: (r) => (r.sfType === SfType.KE ? r.rec.tsNs : (ev(r).endTsNs ?? 0)),
});

// process
const P = (r: R) => r.proc;
def('sf.proc.oid', VT.Str, (r) => oidString(ev(r).procOID), 'process OID hash (XXH64 of pid and createTS)');
def('sf.proc.pid', VT.Int, (r) => ev(r).procOID?.hpid ?? 0, 'process id');
def('sf.proc.tid', VT.Int, (r) => ev(r).tid ?? 0, 'thread id');
def('sf.proc.createts', VT.Time, (r) => ev(r).procOID?.createTS ?? 0, 'process creation time (ns)', { ns: (r) => ev(r).procOID?.createTSNs ?? 0 });
def('sf.proc.name', VT.Str, (r) => procName(P(r)), 'basename of exe');
def('sf.proc.exe', VT.Str, (r) => str(P(r)?.exe), 'executable path');
def('sf.proc.args', VT.Str, (r) => str(P(r)?.exeArgs), 'arguments');
def('sf.proc.cmdline', VT.Str, (r) => procCmdline(P(r)), 'exe and args');
def('sf.proc.uid', VT.Int, (r) => P(r)?.uid ?? 0, 'user id');
def('sf.proc.gid', VT.Int, (r) => P(r)?.gid ?? 0, 'group id');
def('sf.proc.user', VT.Str, (r) => str(P(r)?.userName), 'user name');
def('sf.proc.group', VT.Str, (r) => str(P(r)?.groupName), 'group name');
def('sf.proc.tty', VT.Bool, (r) => P(r)?.tty === true, 'has a terminal');
def('sf.proc.entry', VT.Bool, (r) => P(r)?.entry === true, 'is a container entry point');
def('sf.proc.cwd', VT.Str, (r) => str(P(r)?.cwd), 'working directory (schema v5)');
def('sf.proc.aname', VT.StrList, treeList(procName), 'names of the process and its ancestors, self first');
def(
  'sf.proc.aexe',
  VT.StrList,
  treeList((p) => p.exe),
  'exes of the process and its ancestors',
);
def('sf.proc.acmdline', VT.StrList, treeList(procCmdline), 'command lines of the process and its ancestors');
def(
  'sf.proc.apid',
  VT.IntList,
  treeList((p) => p.oid.hpid),
  'pids of the process and its ancestors',
);

// parent (as cached when the record arrived)
const PP = (r: R) => r.pproc;
def('sf.pproc.oid', VT.Str, (r) => oidString(P(r)?.poid), 'parent OID hash');
def('sf.pproc.pid', VT.Int, (r) => P(r)?.poid?.hpid ?? 0, 'parent pid');
def('sf.pproc.createts', VT.Time, (r) => P(r)?.poid?.createTS ?? 0, 'parent creation time (ns)', { ns: (r) => P(r)?.poid?.createTSNs ?? 0 });
def('sf.pproc.name', VT.Str, (r) => procName(PP(r)), 'parent name');
def('sf.pproc.exe', VT.Str, (r) => str(PP(r)?.exe), 'parent exe');
def('sf.pproc.args', VT.Str, (r) => str(PP(r)?.exeArgs), 'parent args');
def('sf.pproc.cmdline', VT.Str, (r) => procCmdline(PP(r)), 'parent command line');
def('sf.pproc.uid', VT.Int, (r) => PP(r)?.uid ?? 0, 'parent uid');
def('sf.pproc.gid', VT.Int, (r) => PP(r)?.gid ?? 0, 'parent gid');
def('sf.pproc.user', VT.Str, (r) => str(PP(r)?.userName), 'parent user');
def('sf.pproc.group', VT.Str, (r) => str(PP(r)?.groupName), 'parent group');
def('sf.pproc.tty', VT.Bool, (r) => PP(r)?.tty === true, 'parent has a terminal');
def('sf.pproc.entry', VT.Bool, (r) => PP(r)?.entry === true, 'parent is a container entry point');

// files
const ff = (r: R) => (r.sfType === SfType.FF ? (ev(r).openFlags ?? 0) : 0);
def('sf.file.path', VT.Str, (r) => filePath(r.file), 'file path (socket pairs split off)');
def('sf.file.symlink', VT.Str, (r) => pathParts(r.file).symlink, 'socket pair of a unix socket path');
def('sf.file.name', VT.Str, (r) => pathParts(r.file).name, 'file name');
def('sf.file.directory', VT.Str, (r) => pathParts(r.file).dir, 'directory of the file');
def('sf.file.oid', VT.Str, (r) => str(r.file?.oid), 'file OID (hex)');
def('sf.file.newpath', VT.Str, (r) => filePath(r.newFile), 'second path of FE (rename, link targets)');
def('sf.file.newsymlink', VT.Str, (r) => pathParts(r.newFile).symlink, 'socket pair of the second path');
def('sf.file.newname', VT.Str, (r) => pathParts(r.newFile).name, 'second file name');
def('sf.file.newdirectory', VT.Str, (r) => pathParts(r.newFile).dir, 'directory of the second file');
def('sf.file.newoid', VT.Str, (r) => str(r.newFile?.oid), 'second file OID');
def('sf.file.type', VT.Str, (r) => (r.file ? String.fromCharCode(r.file.restype) : ''), 'resource type char: f d u p 4 6 …');
def('sf.file.is_open_read', VT.Bool, (r) => isOpenRead(ff(r)), 'opened for reading (FF)');
def('sf.file.is_open_write', VT.Bool, (r) => isOpenWrite(ff(r)), 'opened for writing (FF)');
def('sf.file.fd', VT.Int, (r) => (isFlow(r) ? (ev(r).fd ?? 0) : 0), 'file descriptor (FF, NF)');
def('sf.file.openflags', VT.StrList, (r) => (r.sfType === SfType.FF ? openFlagNames(ff(r)) : NONE), 'open flags (FF): RDONLY, WRONLY, RDWR, CREAT, …; a condition may write O_CREAT', {
  literal: (t) => t.replace(/^O_/, ''),
});

// network
def('sf.net.proto', VT.Int, (r) => (isNet(r) ? ev(r).proto! : 0), 'IP protocol number (a condition may also name it: tcp, udp, icmp, …)', {
  names: new Map([
    ['icmp', 1],
    ['tcp', 6],
    ['udp', 17],
    ['icmp6', 58],
    ['icmpv6', 58],
    ['raw', 255],
  ]),
});
def('sf.net.sport', VT.Int, (r) => (isNet(r) ? ev(r).sport! : 0), 'source port');
def('sf.net.dport', VT.Int, (r) => (isNet(r) ? ev(r).dport! : 0), 'destination port');
def('sf.net.port', VT.IntList, netPorts, 'both ports');
def('sf.net.sip', VT.Str, (r) => (isNet(r) ? ip(ev(r).sip) : ''), 'source IP (dotted)');
def('sf.net.dip', VT.Str, (r) => (isNet(r) ? ip(ev(r).dip) : ''), 'destination IP (dotted)');
def('sf.net.ip', VT.StrList, netIps, 'both IPs');

// flow counters (not doubled)
def('sf.flow.rbytes', VT.Int, (r) => (isFlow(r) ? ev(r).numRRecvBytes! : 0), 'bytes read/received');
def('sf.flow.rops', VT.Int, (r) => (isFlow(r) ? ev(r).numRRecvOps! : 0), 'read/receive operations');
def('sf.flow.wbytes', VT.Int, (r) => (isFlow(r) ? ev(r).numWSendBytes! : 0), 'bytes written/sent');
def('sf.flow.wops', VT.Int, (r) => (isFlow(r) ? ev(r).numWSendOps! : 0), 'write/send operations');

// container
const C = (r: R) => r.container;
def('sf.container.id', VT.Str, (r) => str(C(r)?.id), 'container id');
def('sf.container.name', VT.Str, (r) => str(C(r)?.name), 'container name');
def('sf.container.image', VT.Str, (r) => str(C(r)?.image), 'image');
def('sf.container.imageid', VT.Str, (r) => str(C(r)?.imageid), 'image id');
def('sf.container.type', VT.Str, (r) => (C(r) ? containerTypeName(C(r)!.type) : ''), 'runtime: DOCKER, CRIO, CONTAINERD, …');
def('sf.container.privileged', VT.Bool, (r) => C(r)?.privileged === true, 'privileged container');

// pod
const PD = (r: R) => r.pod;
def('sf.pod.ts', VT.Time, (r) => PD(r)?.ts ?? 0, 'pod timestamp (ns)', { ns: (r) => PD(r)?.tsNs ?? 0 });
def('sf.pod.id', VT.Str, (r) => str(PD(r)?.id), 'pod id');
def('sf.pod.name', VT.Str, (r) => str(PD(r)?.name), 'pod name');
def('sf.pod.nodename', VT.Str, (r) => str(PD(r)?.nodeName), 'node name');
def('sf.pod.namespace', VT.Str, (r) => str(PD(r)?.namespace), 'namespace');
def('sf.pod.restartcnt', VT.Int, (r) => PD(r)?.restartCount ?? 0, 'restart count');
def('sf.pod.hostip', VT.StrList, (r) => (PD(r) ? podView(PD(r)!).host : NONE), 'host IPs');
def('sf.pod.internalip', VT.StrList, (r) => (PD(r) ? podView(PD(r)!).internal : NONE), 'internal IPs');
const services = (r: R) => (PD(r) ? podView(PD(r)!).services : '');
def('sf.pod.services', VT.Str, services, 'services as JSON text; `sf.pod.services[0.name]` queries it', {
  withArg: (a) => ({ name: `sf.pod.services[${a}]`, vt: VT.Str, get: jsonPathGetter(services, a), doc: 'JSON path into services' }),
});

// k8s events
const ke = (r: R) => (r.sfType === SfType.KE ? ev(r) : undefined);
const message = (r: R) => str(ke(r)?.message);
def('sf.ke.kind', VT.Str, (r) => str(ke(r)?.kind), 'K8S_PODS, K8S_SERVICES, …');
def('sf.ke.action', VT.Str, (r) => str(ke(r)?.action), 'K8S_COMPONENT_ADDED, …');
def('sf.ke.message', VT.Str, message, 'event JSON text; `sf.ke.message[items.0.namespace]` queries it', {
  withArg: (a) => ({ name: `sf.ke.message[${a}]`, vt: VT.Str, get: jsonPathGetter(message, a), doc: 'JSON path into the message' }),
});

// header
def('sf.node.id', VT.Str, (r) => str(r.header?.exporter), 'exporter id of the trace header');
def('sf.node.ip', VT.Str, (r) => str(r.header?.ip), 'exporter IP');
def('sf.meta.schema', VT.Int, (r) => r.header?.version ?? 0, 'schema version of the header');
def('sf.meta.tracename', VT.Str, (r) => baseName(str(r.header?.filename)), 'trace file name');

/**
 * Process-context fields. Not the OID, pid and createts of the process (read from the event, which
 * has them even when the process is not cached), nor the thread id.
 */
const CONTEXT_FIELDS = /^sf\.(proc\.(name|exe|args|cmdline|uid|gid|user|group|tty|entry|cwd|aname|aexe|acmdline|apid)|pproc\.\w+|container\.\w+|pod\.\w+|node\.\w+|meta\.\w+)$/;
/** File fields: paths and names of the record's files (not the fd or open flags, which are the flow's). */
const FILE_FIELDS = /^sf\.file\.(path|symlink|name|directory|oid|newpath|newsymlink|newname|newdirectory|newoid|type)$/;

/** Give a definition (and what its `[arg]` form returns) a scope. */
export function scoped(d: FieldDef, scope: Scope): FieldDef {
  const withArg = d.withArg;
  return { ...d, scope, ...(withArg ? { withArg: (a: string) => ({ ...withArg(a), scope }) } : {}) };
}

export const SF_FIELDS: ReadonlyMap<string, FieldDef> = new Map(
  defs.map((d) => [d.name, CONTEXT_FIELDS.test(d.name) ? scoped(d, Scope.Context) : FILE_FIELDS.test(d.name) ? scoped(d, Scope.File) : d]),
);
