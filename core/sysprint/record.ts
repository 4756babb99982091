/**
 * The sysprint record: 75 fields per flow/event, with the exact values and defaults of upstream
 * sysprint 0.6.1 (sysflow-format.md §4.2). Values are written into a reused array in flat-key order;
 * the JSON, CSV and table writers render from it.
 *
 * Where upstream crashes we do better and document it (README "sysprint"): legacy L4/L7 files
 * (their "ProcessFlow" records are ProcessEvents, see core/avro/compile.ts) and NetworkEvents, which
 * print as events (their `ret`) with their network fields filled.
 */
import type { EventContext } from '../sysflow/context.js';
import { ipStr, opFlagsStr } from '../sysflow/flags.js';
import { exactToString } from '../util/i64.js';
import type { Service } from '../sysflow/types.js';
import { SF_TYPE_CODES, SfType } from '../sysflow/types.js';
import { isoFromNs } from './isotime.js';

/** How a field renders: plain JSON value, an exact integer held as digits, or the tags tuple. */
export type FieldKind = 'value' | 'exact' | 'tags';

export interface PrintField {
  key: string;
  kind: FieldKind;
  header: string;
  width: number;
  /** Liveness group (G below): when the group is not live for a record, the value is its fixed default. */
  group: number;
}

/**
 * Field groups. fillValues returns a shape: the record type (bits 0–3) plus one bit per live group.
 * Records of one shape render the dead groups identically, which lets writers pre-render them.
 */
// biome-ignore format: a table, one row per line
export const G = {
  LIVE: 0, // always varies
  CONST: 1, // never varies (version, tags)
  TYPE: 2, // fixed by the record type
  OP: 3, RET: 4, END: 5, PROC: 6, TID: 7, PPROC: 8, FD: 9, FILE1: 10, FILE2: 11, OPEN: 12, NET: 13,
  RES: 14, FLOW: 15, PF: 16, CONT: 17, POD: 18, HDR: 19, HDRIP: 20, HDRFILE: 21, K8S: 22,
} as const;
const bit = (g: number) => 1 << (g + 1); // bits 4.. hold groups ≥ 3

/** Which entity of the context a group's values come from (entity-derived groups only). */
export function groupEntity(group: number, ctx: EventContext): object | undefined {
  switch (group) {
    case G.PROC:
      return ctx.proc;
    case G.PPROC:
      return ctx.pproc;
    case G.CONT:
      return ctx.cont;
    case G.POD:
      return ctx.pod;
    case G.HDR:
    case G.HDRIP:
    case G.HDRFILE:
      return ctx.header ?? undefined;
    default:
      return undefined;
  }
}

/** Groups whose values come from one entity: same-entity neighbours render as one memoised run. */
export function entityKind(group: number): number {
  return group === G.HDRIP || group === G.HDRFILE ? G.HDR : group === G.PROC || group === G.PPROC || group === G.CONT || group === G.POD || group === G.HDR ? group : -1;
}

/** Is field f constant for records of this shape? */
export function isConstant(f: PrintField, shape: number): boolean {
  if (f.group === G.LIVE) return false;
  if (f.group === G.CONST || f.group === G.TYPE) return true;
  return (shape & bit(f.group)) === 0;
}

const GROUP_OF: Record<string, number> = {
  version: G.CONST,
  tags: G.CONST,
  type: G.TYPE,
  state: G.LIVE,
  ts: G.LIVE,
  ts_uts: G.LIVE,
  opflags: G.OP,
  opflags_bitmap: G.OP,
  ret: G.RET,
  endts: G.END,
  endts_uts: G.END,
  'proc.tid': G.TID,
  'file.fd': G.FD,
  'file.path': G.FILE1,
  'file.type': G.FILE1,
  'file.newpath': G.FILE2,
  'file.openflags': G.OPEN,
  res: G.RES,
  'node.id': G.HDR,
  schema: G.HDR,
  'node.ip': G.HDRIP,
  filename: G.HDRFILE,
};
const PREFIX_GROUP: Record<string, number> = {
  proc: G.PROC,
  pproc: G.PPROC,
  net: G.NET,
  flow: G.FLOW,
  pf: G.PF,
  container: G.CONT,
  pod: G.POD,
  k8s: G.K8S,
};

const F = (key: string, header: string, width: number, kind: FieldKind = 'value'): PrintField => ({
  key,
  kind,
  header,
  width,
  group: GROUP_OF[key] ?? PREFIX_GROUP[key.split('.')[0]!] ?? G.LIVE,
});

/** Output fields in upstream order (also the CSV header). Header/width are the `-o str` columns. */
export const FIELDS: readonly PrintField[] = [
  F('version', 'API version', 8),
  F('type', 'T', 2),
  F('state', 'State', 12),
  F('opflags', 'Op Flags', 14),
  F('opflags_bitmap', 'Op Flags', 5),
  F('ret', 'Ret', 4),
  F('ts', 'Start Time', 26),
  F('ts_uts', 'Start Time', 21, 'exact'),
  F('endts', 'End Time', 26),
  F('endts_uts', 'End Time', 21, 'exact'),
  F('proc.pid', 'PID', 8),
  F('proc.tid', 'TID', 8),
  F('proc.uid', 'UID', 5),
  F('proc.user', 'User', 8),
  F('proc.gid', 'GID', 5),
  F('proc.group', 'Group', 8),
  F('proc.cwd', 'Cwd', 20),
  F('proc.exe', 'Cmd', 20),
  F('proc.args', 'Args', 20),
  F('proc.tty', 'TTY', 5),
  F('proc.entry', 'Entry', 5),
  F('proc.env', 'Env', 30),
  F('proc.createts', 'Proc. Creation Time', 21, 'exact'),
  F('pproc.pid', 'PPID', 8),
  F('pproc.gid', 'PGID', 5),
  F('pproc.uid', 'PUID', 5),
  F('pproc.group', 'PGroup', 8),
  F('pproc.tty', 'PTTY', 5),
  F('pproc.entry', 'PEntry', 5),
  F('pproc.env', 'PEnv', 30),
  F('pproc.user', 'PUser', 8),
  F('pproc.cwd', 'PCwd', 20),
  F('pproc.exe', 'PCmd', 20),
  F('pproc.args', 'PArgs', 20),
  F('pproc.createts', 'PProc. Creation Time', 21, 'exact'),
  F('file.fd', 'FD', 5),
  F('file.path', 'Path', 30),
  F('file.newpath', 'New Path', 30),
  F('file.type', 'File Type', 8),
  F('file.openflags', 'Open Flags', 5),
  F('net.proto', 'Proto', 5),
  F('net.sport', 'SPort', 5),
  F('net.dport', 'DPort', 5),
  F('net.sip', 'SIP', 16),
  F('net.dip', 'DIP', 16),
  F('res', 'Resource', 45),
  F('flow.rbytes', 'NoBRead', 8),
  F('flow.rops', 'NoOpsRead', 8),
  F('flow.wbytes', 'NoBWrite', 8),
  F('flow.wops', 'NoOpsWrite', 8),
  F('pf.nthreads', 'NoThreads', 8),
  F('pf.nexits', 'NoThrExits', 8),
  F('pf.nerrors', 'NoThrErrs', 8),
  F('container.id', 'Cont ID', 12),
  F('container.name', 'Cont Name', 12),
  F('container.imageid', 'Image ID', 12),
  F('container.image', 'Image Name', 12),
  F('container.type', 'Cont Type', 8),
  F('container.privileged', 'Privileged', 5),
  F('pod.id', 'Pod Id', 12),
  F('pod.name', 'Pod Name', 30),
  F('pod.nname', 'Pod Node Name', 12),
  F('pod.hostip', 'Pod Host IP', 16),
  F('pod.internalip', 'Pod Intern IP', 16),
  F('pod.ns', 'Pod Namespace', 12),
  F('pod.rstrtcnt', 'Rstrt Cnt', 9),
  F('pod.services', 'Pod Services', 100),
  F('node.id', 'Node ID', 12),
  F('node.ip', 'Node IP', 16),
  F('filename', 'File name', 15),
  F('schema', 'SF Schema', 8),
  F('tags', 'Tags', 10, 'tags'),
  F('k8s.action', 'K8s EV Action', 25),
  F('k8s.kind', 'K8s EV Comp Type', 26),
  F('k8s.msg', 'K8s EV Msg', 100),
];

export type { EventContext };
export { newContext, resolve } from '../sysflow/context.js';

export const FIELD_INDEX = new Map(FIELDS.map((f, i) => [f.key, i]));

/** A field value: JSON scalars, lists of IP strings / services, or digits for 'exact' fields. */
export type CellValue = null | boolean | number | string | readonly unknown[];

function envStr(env: string[] | undefined): string {
  if (!env || env.length === 0) return '';
  let s = '';
  let first = true;
  for (const e of env) {
    if (!e || e === '=') continue;
    s = first ? e : s + ';' + e;
    first = false;
  }
  return s;
}

const ipList = (ips: number[]): string[] => ips.map(ipStr);

function services(list: Service[]): unknown[] {
  return list.map((s) => ({
    name: s.name,
    id: s.id,
    namespace: s.namespace,
    portList: s.portList.map((p) => ({ port: p.port, targetPort: p.targetPort, nodePort: p.nodePort, proto: p.proto })),
    clusterIP: s.clusterIP.map(ipStr),
  }));
}

const orBlank = <T>(v: T | undefined): T | '' => (v === undefined ? '' : v);

/** Fill `v` (length FIELDS.length) with the sysprint values of one event; returns its shape. */
export function fillValues(ctx: EventContext, v: CellValue[]): number {
  const rec = ctx.rec;
  const t = rec.sfType;
  const { proc, pproc, cont, pod, file1, file2, header } = ctx;
  // Upstream: PE and FE (and K8sEvent) are "events", the rest "flows". We also treat NE as an event.
  const isEvt = t === SfType.PE || t === SfType.FE || t === SfType.NE || t === SfType.KE;
  const isFlow = t === SfType.NF || t === SfType.FF || t === SfType.PF;
  const hasOp = t !== SfType.KE;
  const opFlags = hasOp ? (rec as { opFlags: number }).opFlags : 0;
  const hasTid = t !== SfType.PF && t !== SfType.KE;
  const hasRet = isEvt && 'ret' in rec;
  const fd = (rec as { fd?: number }).fd;
  const hasFd = (t === SfType.FF || t === SfType.NF) && fd !== undefined;
  const hasOpen = t === SfType.FF && rec.openFlags !== undefined;
  const isNet = t === SfType.NF || t === SfType.NE;
  const hasRes = t === SfType.FF || t === SfType.FE || isNet;
  const hasFlow = t === SfType.NF || t === SfType.FF;
  let shape = t;
  if (hasOp) shape |= bit(G.OP);
  if (hasRet) shape |= bit(G.RET);
  if (isFlow) shape |= bit(G.END);
  if (proc) shape |= bit(G.PROC);
  if (hasTid) shape |= bit(G.TID);
  if (pproc) shape |= bit(G.PPROC);
  if (hasFd) shape |= bit(G.FD);
  if (file1) shape |= bit(G.FILE1);
  if (file2) shape |= bit(G.FILE2);
  if (hasOpen) shape |= bit(G.OPEN);
  if (isNet) shape |= bit(G.NET);
  if (hasRes) shape |= bit(G.RES);
  if (hasFlow) shape |= bit(G.FLOW);
  if (t === SfType.PF) shape |= bit(G.PF);
  if (cont) shape |= bit(G.CONT);
  if (pod) shape |= bit(G.POD);
  if (header) shape |= bit(G.HDR);
  if (header && header.ip !== undefined) shape |= bit(G.HDRIP);
  if (header && header.filename !== undefined) shape |= bit(G.HDRFILE);
  if (t === SfType.KE) shape |= bit(G.K8S);
  let i = 0;
  v[i++] = '4';
  v[i++] = SF_TYPE_CODES[t] ?? '?';
  v[i++] = proc ? proc.state : file1 ? file1.state : '';
  v[i++] = hasOp ? opFlagsStr(opFlags) : '';
  v[i++] = hasOp ? opFlags : '';
  v[i++] = hasRet ? (rec as { ret: number }).ret : null;
  v[i++] = isoFromNs(rec.ts);
  v[i++] = exactToString(rec.ts, rec.tsNs);
  if (isFlow) {
    const f = rec as { endTs: number; endTsNs: number };
    v[i++] = isoFromNs(f.endTs);
    v[i++] = exactToString(f.endTs, f.endTsNs);
  } else {
    v[i++] = '';
    v[i++] = null;
  }
  // proc
  if (proc) {
    v[i++] = proc.oid.hpid;
    v[i++] = hasTid ? (rec as { tid: number }).tid : null;
    v[i++] = proc.uid;
    v[i++] = proc.userName;
    v[i++] = proc.gid;
    v[i++] = proc.groupName;
    v[i++] = orBlank(proc.cwd);
    v[i++] = proc.exe;
    v[i++] = proc.exeArgs;
    v[i++] = orBlank(proc.tty);
    v[i++] = orBlank(proc.entry);
    v[i++] = envStr(proc.env);
    v[i++] = exactToString(proc.oid.createTS, proc.oid.createTSNs);
  } else {
    v[i++] = null;
    v[i++] = hasTid ? (rec as { tid: number }).tid : null;
    v[i++] = null;
    v[i++] = '';
    v[i++] = null;
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = null;
  }
  // pproc
  if (pproc) {
    v[i++] = pproc.oid.hpid;
    v[i++] = pproc.gid;
    v[i++] = pproc.uid;
    v[i++] = pproc.groupName;
    v[i++] = orBlank(pproc.tty);
    v[i++] = orBlank(pproc.entry);
    v[i++] = envStr(pproc.env);
    v[i++] = pproc.userName;
    v[i++] = orBlank(pproc.cwd);
    v[i++] = pproc.exe;
    v[i++] = pproc.exeArgs;
    v[i++] = exactToString(pproc.oid.createTS, pproc.oid.createTSNs);
  } else {
    v[i++] = null;
    v[i++] = null;
    v[i++] = null;
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
  }
  // file
  v[i++] = hasFd ? fd! : '';
  v[i++] = file1 ? file1.path : '';
  v[i++] = file2 ? file2.path : '';
  v[i++] = file1 ? String.fromCharCode(file1.restype) : '';
  v[i++] = hasOpen ? (rec as { openFlags: number }).openFlags : '';
  // net
  if (t === SfType.NF || t === SfType.NE) {
    v[i++] = rec.proto;
    v[i++] = rec.sport;
    v[i++] = rec.dport;
    v[i++] = ipStr(rec.sip);
    v[i++] = ipStr(rec.dip);
  } else {
    v[i++] = '';
    v[i++] = null;
    v[i++] = null;
    v[i++] = '';
    v[i++] = '';
  }
  // res
  if (t === SfType.FF || t === SfType.FE) {
    const p1 = file1 ? file1.path : '';
    v[i++] = file2 ? p1 + ', ' + file2.path : p1;
  } else if (t === SfType.NF || t === SfType.NE) {
    v[i++] = `${ipStr(rec.sip)}:${rec.sport}-${ipStr(rec.dip)}:${rec.dport}`;
  } else v[i++] = '';
  // flow
  if (t === SfType.NF || t === SfType.FF) {
    v[i++] = rec.numRRecvBytes;
    v[i++] = rec.numRRecvOps;
    v[i++] = rec.numWSendBytes;
    v[i++] = rec.numWSendOps;
  } else {
    v[i++] = null;
    v[i++] = null;
    v[i++] = null;
    v[i++] = null;
  }
  if (t === SfType.PF) {
    v[i++] = rec.numThreadsCloned;
    v[i++] = rec.numThreadsExited;
    v[i++] = rec.numCloneErrors;
  } else {
    v[i++] = null;
    v[i++] = null;
    v[i++] = null;
  }
  // container
  if (cont) {
    v[i++] = cont.id;
    v[i++] = cont.name;
    v[i++] = cont.imageid;
    v[i++] = cont.image;
    v[i++] = cont.type;
    v[i++] = orBlank(cont.privileged);
  } else {
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
  }
  // pod
  if (pod) {
    v[i++] = pod.id;
    v[i++] = pod.name;
    v[i++] = pod.nodeName;
    v[i++] = ipList(pod.hostIP);
    v[i++] = ipList(pod.internalIP);
    v[i++] = pod.namespace;
    v[i++] = pod.restartCount;
    v[i++] = services(pod.services);
  } else {
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
    v[i++] = null;
    v[i++] = '';
  }
  // node, filename, schema, tags
  v[i++] = header ? header.exporter : '';
  v[i++] = header ? orBlank(header.ip) : '';
  v[i++] = header ? orBlank(header.filename) : '';
  v[i++] = header ? header.version : '';
  v[i++] = '';
  if (t === SfType.KE) {
    v[i++] = rec.action;
    v[i++] = rec.kind;
    v[i++] = rec.message;
  } else {
    v[i++] = '';
    v[i++] = '';
    v[i++] = '';
  }
  return shape;
}
