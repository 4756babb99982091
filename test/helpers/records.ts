/**
 * Hand-built FlatRecords and one-line policy compilation, for policy-engine tests.
 *
 * Records:
 *   pe({ exe: '/bin/bash', args: '-c id', flags: OpFlags.EXEC })        ProcessEvent
 *   ff({ path: '/etc/shadow', openFlags: OpenFlags.RDONLY })            FileFlow (flags default OPEN|READ|CLOSE)
 *   nf({ sip: '10.0.0.1', dport: 443 })                                  NetworkFlow (flags default CONNECT|SEND|RECV|CLOSE)
 *   fe({ path: '/tmp/a', newPath: '/tmp/b', flags: OpFlags.RENAME })     FileEvent
 *   ke({ kind: 'K8S_PODS', message: '{…}' })                             K8sEvent (no process)
 *
 * Every process-carrying builder takes the process fields at top level (exe, args, uid, user, …), the
 * parent as `parent: ProcSpec | null` (null: the parent is not cached, so `pproc` is undefined and the
 * ancestry stops at the process) and further ancestors as `ancestors: ProcSpec[]` (grandparent
 * first). `proc: null` makes the record's process unknown. `container: {…}` puts the process in a
 * container; without it the record is on the host. Timestamps (`ts`, `createTS`) take a number, a
 * bigint or a decimal string, so 19-digit nanosecond values stay exact; they are converted with
 * BigInt here (independently of core/util/i64.ts) into SysFlow's (double, ns mod 1e9) pairs.
 * IPs are dotted strings, encoded as SysFlow stores them (see `ipNum`).
 *
 * Conditions:
 *   const c = compileCondition('sf.proc.name in (shells)', { lists: { shells: ['bash', 'sh'] } });
 *   c.match(pe({ exe: '/bin/bash' }))   // → true
 * `match` evaluates through PolicySet.evaluate (so the rule index takes part) and checks the result
 * against the condition compiled plainly (`referencePredicate`). `policyFromYaml` loads a whole policy file
 * text through the real loader (readDefinitions → buildPolicySet), from a temporary file.
 *
 * Call `await initHashing()` (re-exported here) once before evaluating: `sf.proc.oid` hashes.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlatRecord } from '../../core/flatten/flatrecord.js';
import { OpFlags } from '../../core/sysflow/flags.js';
import {
  SfType,
  type Container,
  type File,
  type FileEvent,
  type FileFlow,
  type K8sEvent,
  type NetworkFlow,
  type OID,
  type Pod,
  type Process,
  type ProcessEvent,
  type SFHeader,
} from '../../core/sysflow/types.js';
import { Text, readDefinitions, type Definitions, type RuleDef } from '../../core/policy/definitions.js';
import { buildPolicySet, loadPolicySet, type LoadOptions, type PolicySet } from '../../core/policy/policyset.js';
import { Compiler, Notes, type MacroDef } from '../../core/policy/compile.js';
import type { SourceRef } from '../../core/policy/errors.js';
import { parseCondition } from '../../core/policy/parser.js';
import { SF_FIELDS } from '../../core/flatten/fields.js';

export { initHashing } from '../../core/util/xxh.js';
export { OpFlags, OpenFlags } from '../../core/sysflow/flags.js';

// ---------------------------------------------------------------------------------------------
// values

/** A 64-bit nanosecond value as SysFlow keeps it: nearest double + exact value mod 1e9. */
export function nanos(v: number | bigint | string): { d: number; ns: number } {
  const b = typeof v === 'bigint' ? v : BigInt(v);
  let ns = b % 1_000_000_000n;
  if (ns < 0n) ns += 1_000_000_000n;
  return { d: Number(b), ns: Number(ns) };
}

/** Dotted IPv4 → SysFlow's integer (network-order bytes read little-endian: first octet lowest). */
export function ipNum(dotted: string): number {
  const o = dotted.split('.').map(Number);
  if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`bad IPv4 '${dotted}'`);
  return (o[0]! | (o[1]! << 8) | (o[2]! << 16) | (o[3]! << 24)) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// entities

export interface ProcSpec {
  pid?: number;
  /** Creation time (ns); default derived from the pid. */
  createTS?: number | bigint | string;
  exe?: string;
  /** Process arguments (Process.exeArgs), one string. */
  args?: string;
  uid?: number;
  user?: string;
  gid?: number;
  group?: string;
  tty?: boolean;
  entry?: boolean;
  cwd?: string;
  env?: string[];
}

const BASE_TS = 1_700_000_000_000_000_000n;

export function mkOid(pid: number, createTS?: number | bigint | string): OID {
  const t = nanos(createTS ?? BASE_TS + BigInt(pid) * 1000n);
  return { hpid: pid, createTS: t.d, createTSNs: t.ns };
}

/** A Process entity; `parent` sets its poid. */
export function mkProc(spec: ProcSpec = {}, parent?: Process | null, containerId: string | null = null): Process {
  const pid = spec.pid ?? 100;
  const oid = mkOid(pid, spec.createTS);
  return {
    sfType: SfType.P,
    state: 'CREATED',
    oid,
    poid: parent ? parent.oid : null,
    ts: oid.createTS,
    tsNs: oid.createTSNs,
    exe: spec.exe ?? '/usr/bin/bash',
    exeArgs: spec.args ?? '',
    uid: spec.uid ?? 0,
    userName: spec.user ?? 'root',
    gid: spec.gid ?? 0,
    groupName: spec.group ?? 'root',
    tty: spec.tty ?? false,
    containerId,
    entry: spec.entry ?? false,
    cwd: spec.cwd ?? '/',
    env: spec.env ?? [],
  };
}

export function mkContainer(c: Partial<Container> = {}): Container {
  return {
    sfType: SfType.C,
    id: c.id ?? '0123456789ab',
    name: c.name ?? 'web',
    image: c.image ?? 'docker.io/library/nginx:1.25',
    imageid: c.imageid ?? 'sha256:deadbeef',
    type: c.type ?? 'CT_DOCKER',
    privileged: c.privileged ?? false,
    podId: c.podId ?? null,
  };
}

export function mkFile(path: string, restype = 'f', containerId: string | null = null): File {
  return { sfType: SfType.F, state: 'CREATED', oid: 'f'.repeat(40), ts: 0, tsNs: 0, restype: restype.charCodeAt(0), path, containerId };
}

export function mkHeader(h: Partial<SFHeader> = {}): SFHeader {
  return { sfType: SfType.H, version: h.version ?? 5, exporter: h.exporter ?? 'node-1', ip: h.ip ?? '192.168.0.1', filename: h.filename ?? '/var/run/sysflow/trace.sf' };
}

// ---------------------------------------------------------------------------------------------
// records

export interface Common extends ProcSpec {
  /** Event time (ns). */
  ts?: number | bigint | string;
  tid?: number;
  /** The record's op flags (OpFlags bits). */
  flags?: number;
  /** null: the record's process is not in the cache (proc, pproc, ancestry all empty). */
  proc?: null;
  /** The parent process; null: not cached. Default: a bash shell, pid 99. */
  parent?: ProcSpec | null;
  /** Grandparent first; each is the parent of the previous one. Default: init (pid 1). */
  ancestors?: ProcSpec[];
  /** Puts the process tree in this container (partial fields; defaults filled in). */
  container?: Partial<Container>;
  pod?: Pod;
  header?: SFHeader | null;
}

interface Joined {
  proc: Process | undefined;
  pproc: Process | undefined;
  container: Container | undefined;
  tree: readonly Process[];
  oid: OID;
  ts: { d: number; ns: number };
  tid: number;
  header: SFHeader | null;
}

function joinEntities(c: Common): Joined {
  const container = c.container ? mkContainer(c.container) : undefined;
  const cid = container?.id ?? null;
  const ts = nanos(c.ts ?? BASE_TS + 5_000_000_000n);
  const header = c.header === undefined ? mkHeader() : c.header;
  if (c.proc === null) {
    const pid = c.pid ?? 100;
    return { proc: undefined, pproc: undefined, container, tree: [], oid: mkOid(pid, c.createTS), ts, tid: c.tid ?? pid, header };
  }
  // build from the oldest ancestor down, so each process points at its parent
  const chain: ProcSpec[] = [];
  const ancestors = c.ancestors ?? [{ pid: 1, exe: '/sbin/init' }];
  if (c.parent !== null) chain.push(...[...ancestors].reverse(), c.parent ?? { pid: 99, exe: '/bin/bash' });
  let up: Process | null = null;
  const built: Process[] = [];
  for (const s of chain) {
    up = mkProc(s, up, cid);
    built.unshift(up);
  }
  const proc = mkProc(c, c.parent === null ? null : up, cid);
  const tree = Object.freeze([proc, ...built]);
  return { proc, pproc: c.parent === null ? undefined : built[0], container, tree, oid: proc.oid, ts, tid: c.tid ?? proc.oid.hpid, header };
}

function flat(sfType: number, rec: FlatRecord['rec'], j: Joined, c: Common, file?: File, newFile?: File): FlatRecord {
  const tree = j.tree;
  return new FlatRecord(sfType, rec, j.header, j.proc, j.pproc, j.container, c.pod, file, newFile, j.proc ? () => tree : null);
}

export interface PeSpec extends Common {
  /** ProcessEvent.args (the event's argument vector). */
  eventArgs?: string[];
  ret?: number;
}

/** A ProcessEvent (default flags: EXEC). */
export function pe(s: PeSpec = {}): FlatRecord {
  const j = joinEntities(s);
  const rec: ProcessEvent = { sfType: SfType.PE, procOID: j.oid, ts: j.ts.d, tsNs: j.ts.ns, tid: j.tid, opFlags: s.flags ?? OpFlags.EXEC, args: s.eventArgs ?? [], ret: s.ret ?? 0 };
  return flat(SfType.PE, rec, j, s);
}

export interface FlowCounters {
  endTs?: number | bigint | string;
  rops?: number;
  wops?: number;
  rbytes?: number;
  wbytes?: number;
  fd?: number;
}

export interface FfSpec extends Common, FlowCounters {
  path?: string;
  /** Resource type character: f, d, u, p, 4, 6, … */
  restype?: string;
  openFlags?: number;
}

/** A FileFlow (default flags OPEN|READ|CLOSE, path /etc/passwd, O_RDONLY). */
export function ff(s: FfSpec = {}): FlatRecord {
  const j = joinEntities(s);
  const end = nanos(s.endTs ?? BigInt(j.ts.d) + 1000n);
  const rec: FileFlow = {
    sfType: SfType.FF,
    procOID: j.oid,
    ts: j.ts.d,
    tsNs: j.ts.ns,
    tid: j.tid,
    opFlags: s.flags ?? OpFlags.OPEN | OpFlags.READ_RECV | OpFlags.CLOSE,
    openFlags: s.openFlags ?? 1,
    endTs: end.d,
    endTsNs: end.ns,
    fileOID: 'f'.repeat(40),
    fd: s.fd ?? 3,
    numRRecvOps: s.rops ?? 1,
    numWSendOps: s.wops ?? 0,
    numRRecvBytes: s.rbytes ?? 100,
    numWSendBytes: s.wbytes ?? 0,
  };
  return flat(SfType.FF, rec, j, s, mkFile(s.path ?? '/etc/passwd', s.restype ?? 'f', j.container?.id ?? null));
}

export interface NfSpec extends Common, FlowCounters {
  sip?: string;
  dip?: string;
  sport?: number;
  dport?: number;
  proto?: number;
}

/** A NetworkFlow (default 10.0.0.1:40000 → 10.0.0.2:80 TCP, CONNECT|SEND|RECV|CLOSE). */
export function nf(s: NfSpec = {}): FlatRecord {
  const j = joinEntities(s);
  const end = nanos(s.endTs ?? BigInt(j.ts.d) + 1000n);
  const rec: NetworkFlow = {
    sfType: SfType.NF,
    procOID: j.oid,
    ts: j.ts.d,
    tsNs: j.ts.ns,
    tid: j.tid,
    opFlags: s.flags ?? OpFlags.CONNECT | OpFlags.WRITE_SEND | OpFlags.READ_RECV | OpFlags.CLOSE,
    endTs: end.d,
    endTsNs: end.ns,
    sip: ipNum(s.sip ?? '10.0.0.1'),
    sport: s.sport ?? 40000,
    dip: ipNum(s.dip ?? '10.0.0.2'),
    dport: s.dport ?? 80,
    proto: s.proto ?? 6,
    fd: s.fd ?? 4,
    numRRecvOps: s.rops ?? 1,
    numWSendOps: s.wops ?? 1,
    numRRecvBytes: s.rbytes ?? 10,
    numWSendBytes: s.wbytes ?? 20,
  };
  return flat(SfType.NF, rec, j, s);
}

export interface FeSpec extends Common {
  path?: string;
  newPath?: string;
  restype?: string;
  ret?: number;
}

/** A FileEvent (default flags UNLINK on /tmp/x). */
export function fe(s: FeSpec = {}): FlatRecord {
  const j = joinEntities(s);
  const cid = j.container?.id ?? null;
  const rec: FileEvent = {
    sfType: SfType.FE,
    procOID: j.oid,
    ts: j.ts.d,
    tsNs: j.ts.ns,
    tid: j.tid,
    opFlags: s.flags ?? OpFlags.UNLINK,
    fileOID: 'f'.repeat(40),
    ret: s.ret ?? 0,
    newFileOID: s.newPath === undefined ? null : 'e'.repeat(40),
  };
  return flat(SfType.FE, rec, j, s, mkFile(s.path ?? '/tmp/x', s.restype ?? 'f', cid), s.newPath === undefined ? undefined : mkFile(s.newPath, s.restype ?? 'f', cid));
}

export interface KeSpec {
  kind?: string;
  action?: string;
  message?: string;
  ts?: number | bigint | string;
}

/** A K8sEvent: no process, no file. */
export function ke(s: KeSpec = {}): FlatRecord {
  const ts = nanos(s.ts ?? BASE_TS);
  const rec: K8sEvent = { sfType: SfType.KE, kind: s.kind ?? 'K8S_PODS', action: s.action ?? 'K8S_COMPONENT_ADDED', ts: ts.d, tsNs: ts.ns, message: s.message ?? '' };
  return new FlatRecord(SfType.KE, rec, mkHeader(), undefined, undefined, undefined, undefined, undefined, undefined, null);
}

// ---------------------------------------------------------------------------------------------
// policies

/** A SourceRef for in-memory text: offsets become columns of line 1 of `<test>`. */
export function textRef(item: string, file = '<test>'): SourceRef {
  return { file, item, position: (off) => ({ line: 1, col: off + 1 }) };
}

const text = (t: string, item: string) => new Text([{ text: t, src: textRef(item) }]);

export interface CondEnv {
  /** Named lists (items verbatim). */
  lists?: Record<string, string[]>;
  /** Named macros: name → condition. */
  macros?: Record<string, string>;
}

export interface CompiledCondition {
  readonly set: PolicySet;
  /** True when the condition holds for `r` (via PolicySet.evaluate, so the rule index takes part). */
  match(r: FlatRecord): boolean;
}

/** Definitions holding `env` and one rule named `t` with `cond`; tweak the rule with `rule`. */
export function definitions(cond: string, env: CondEnv = {}, rule: Partial<RuleDef> = {}): Definitions {
  const pos = { file: '<test>', line: 1, col: 1 };
  const defs: Definitions = { files: ['<test>'], lists: new Map(), macros: new Map(), rules: new Map(), filters: new Map(), warnings: [] };
  for (const [name, items] of Object.entries(env.lists ?? {})) defs.lists.set(name, { name, items: [...items], pos });
  for (const [name, c] of Object.entries(env.macros ?? {})) defs.macros.set(name, { name, condition: text(c, `macro '${name}'`), pos });
  defs.rules.set('t', {
    name: 't',
    desc: '',
    condition: text(cond, "rule 't'"),
    output: '',
    priority: 'warning',
    tags: [],
    prefilter: [],
    enabled: true,
    actions: [],
    throttle: null,
    capture: false,
    captureDurationMs: null,
    captureBpf: null,
    exceptions: [],
    source: 'syscall',
    skipIfUnknown: false,
    pos,
    ...rule,
  });
  return defs;
}

/**
 * The condition compiled alone, the plain way: a fresh Compiler, no shared macro cache, no rule index
 * and no index-implied test dropping (Compiler.finishRule). PolicySet.evaluate must agree with it on
 * every record; `compileCondition` checks that on each match. Throws what the compiler throws
 * (UnsupportedField included).
 */
export function referencePredicate(cond: string, env: CondEnv = {}): (r: FlatRecord) => boolean {
  const isRhsField = (n: string) => SF_FIELDS.has(n);
  const lists = new Map<string, readonly string[]>();
  const raw = env.lists ?? {};
  const expand = (name: string, seen: string[]): readonly string[] => {
    if (seen.includes(name)) throw new Error(`list loop ${[...seen, name].join(' → ')}`);
    return raw[name]!.flatMap((it) => (it in raw && it !== name ? expand(it, [...seen, name]) : [it]));
  };
  for (const name of Object.keys(raw)) lists.set(name, expand(name, []));
  const macros = new Map<string, MacroDef>();
  for (const [name, c] of Object.entries(env.macros ?? {})) macros.set(name, { name, expr: parseCondition(c, isRhsField), src: textRef(`macro '${name}'`) });
  const compiled = new Compiler({ macros, lists }, new Notes()).compile(parseCondition(cond, isRhsField), textRef("rule 't'"));
  const c = compiled.c;
  return c !== undefined ? () => c : compiled.fn;
}

/**
 * Compile one condition (with optional lists and macros) into a matcher. Throws what the engine
 * throws (PolicyError for syntax/unknown names/bad values). A condition the engine reports as
 * unsupported or never-true yields a matcher that is always false; `set.report[0]` tells which.
 * Each match is checked against `referencePredicate` (the rule index and its optimisations must
 * not change the outcome); a disagreement throws.
 */
export function compileCondition(cond: string, env: CondEnv = {}, opts: LoadOptions = {}): CompiledCondition {
  const set = buildPolicySet(definitions(cond, env), opts);
  const ref = set.rules.length ? referencePredicate(cond, env) : () => false;
  return {
    set,
    match(r: FlatRecord): boolean {
      const saved = [r.rules, r.tags] as const;
      const viaSet = set.evaluate(r);
      r.rules = saved[0];
      r.tags = saved[1];
      const want = ref(r);
      if (viaSet !== want) throw new Error(`PolicySet.evaluate says ${viaSet}, the plain compiled condition ${want}: ${cond} on sfType ${r.sfType}`);
      return viaSet;
    },
  };
}

let tmp: string | null = null;
let seq = 0;

/** The helper's temporary directory, created on first use and removed when the process exits. */
function tmpRoot(): string {
  if (tmp === null) {
    const dir = mkdtempSync(join(tmpdir(), 'sfp-policy-test-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    tmp = dir;
  }
  return tmp;
}

/** A fresh, empty temporary directory (for multi-file policy tests). */
export function tempDir(): string {
  const dir = join(tmpRoot(), `${++seq}.d`);
  mkdirSync(dir);
  return dir;
}

/** Write `yaml` to a fresh temporary file (`<n>-<name>`) and return its path. */
export function writePolicy(yaml: string, name = 'policy.yaml'): string {
  const file = join(tmpRoot(), `${++seq}-${name}`);
  writeFileSync(file, yaml);
  return file;
}

/** Load a policy file text through the real loader. */
export function policyFromYaml(yaml: string, opts: LoadOptions = {}): PolicySet {
  return loadPolicySet(writePolicy(yaml), opts);
}

/** The raw definitions of a policy file text (before compilation). */
export function definitionsFromYaml(yaml: string): Definitions {
  return readDefinitions(writePolicy(yaml));
}
