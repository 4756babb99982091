/**
 * Values derived from one entity, memoised on it (entities are immutable once decoded): process
 * names and command lines, OID strings, parsed paths, IP texts, pod address lists, ancestry lists.
 */
import type { File, OID, Pod, Process } from '../sysflow/types.js';
import type { FlatRecord } from './flatrecord.js';
import { baseName, dirName, splitSymlink } from './paths.js';
import { ipStr } from '../sysflow/flags.js';
import { oidHash } from '../util/xxh.js';

type R = FlatRecord;

const nameMemo = new WeakMap<Process, string>();
export function procName(p: Process | undefined): string {
  if (p === undefined) return '';
  let n = nameMemo.get(p);
  if (n === undefined) nameMemo.set(p, (n = baseName(p.exe)));
  return n;
}

const cmdMemo = new WeakMap<Process, string>();
export function procCmdline(p: Process | undefined): string {
  if (p === undefined) return '';
  let c = cmdMemo.get(p);
  if (c === undefined) cmdMemo.set(p, (c = p.exeArgs === '' ? p.exe : p.exe + ' ' + p.exeArgs));
  return c;
}

const oidMemo = new WeakMap<OID, string>();
export function oidString(oid: OID | null | undefined): string {
  if (!oid) return '';
  let h = oidMemo.get(oid);
  if (h === undefined) oidMemo.set(oid, (h = oidHash(oid.hpid, oid.createTS, oid.createTSNs)));
  return h;
}

interface PathParts {
  readonly path: string;
  readonly symlink: string;
  readonly name: string;
  readonly dir: string;
}
const NO_PATH: PathParts = { path: '', symlink: '', name: '', dir: '' };
const pathMemo = new WeakMap<File, PathParts>();
/** All parts of a file's path (memoised per File). */
export function pathParts(f: File | undefined): PathParts {
  if (f === undefined) return NO_PATH;
  let p = pathMemo.get(f);
  if (p === undefined) {
    const s = splitSymlink(f.path);
    p = { path: s.path, symlink: s.symlink, name: baseName(s.path), dir: s.path === '' ? '.' : dirName(s.path) };
    pathMemo.set(f, p);
  }
  return p;
}
/** The path alone: the common case (no socket pair) needs no memo lookup. */
export function filePath(f: File | undefined): string {
  if (f === undefined) return '';
  return f.path.indexOf('->') < 0 ? f.path : pathParts(f).path;
}

/** Per-ancestry derived lists, memoised on the (shared, frozen) ancestry array. */
export function treeList<T>(f: (p: Process) => T): (r: R) => readonly T[] {
  const memo = new WeakMap<readonly Process[], readonly T[]>();
  const empty: readonly T[] = Object.freeze([]);
  return (r) => {
    const t = r.ptree;
    if (t.length === 0) return empty;
    let v = memo.get(t);
    if (v === undefined) memo.set(t, (v = Object.freeze(t.map(f))));
    return v;
  };
}

const ipMemo = new Map<number, string>();
export function ip(v: number | undefined): string {
  if (v === undefined) return '';
  let s = ipMemo.get(v);
  if (s === undefined) {
    s = ipStr(v);
    if (ipMemo.size < 65536) ipMemo.set(v, s);
  }
  return s;
}

const podIpsMemo = new WeakMap<Pod, { host: readonly string[]; internal: readonly string[]; services: string }>();
export function podView(p: Pod) {
  let v = podIpsMemo.get(p);
  if (v === undefined) {
    v = {
      host: Object.freeze(p.hostIP.map(ip)),
      internal: Object.freeze(p.internalIP.map(ip)),
      services: JSON.stringify(p.services.map((s) => ({ ...s, clusterIP: s.clusterIP.map(ip) }))),
    };
    podIpsMemo.set(p, v);
  }
  return v;
}

/**
 * A small JSON path (GJSON's dotted subset: `items.0.namespace`) over a JSON text attribute.
 * The parsed document is memoised per text; the result is the string view ("" when absent).
 */
