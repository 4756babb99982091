/**
 * Value keys of process contexts, built from the entities themselves.
 *
 * The gate shares the outcome of context needs between contexts with equal values (core/policy/gate.ts).
 * Keying on the values of every context field the rules read is exact but costs a walk over all
 * those fields (ancestor lists included) for every new process. Most contexts repeat another one's
 * entities value for value (the same commands, run again), so a first key is made from the entities
 * instead: each process, container, pod and header encoded once, memoised on the entity, and a
 * context key is the chain of those codes. Two contexts with the same chain have equal values in
 * every context field, because context fields are functions of those entities (the scope tests
 * check this on the corpus).
 *
 * An entity's code covers only the attributes some field the rules read depends on (attributesRead,
 * decided by probing each field on contexts that differ in one attribute group): a process's
 * identity (OID, parent OID, state, timestamp) is mostly left out, so that reruns share.
 */
import { FlatRecord } from '../flatten/flatrecord.js';
import type { FieldDef } from '../flatten/fields.js';
import type { Container, File, OID, Pod, Process, SFHeader } from '../sysflow/types.js';
import { Slot } from '../util/slot.js';

/**
 * Small numbers for strings, so keys stay short: field values are mostly memoised strings whose
 * hash V8 already keeps, so an id costs one lookup while the text itself would be copied into
 * every key (command lines and environments run to kilobytes). `generation` changes on clear(),
 * which invalidates codes memoised with older ids.
 */
export class Interner {
  private readonly ids = new Map<string, number>();
  generation = 0;
  get size(): number {
    return this.ids.size;
  }
  id(s: string): number {
    let n = this.ids.get(s);
    if (n === undefined) this.ids.set(s, (n = this.ids.size));
    return n;
  }
  clear(): void {
    this.ids.clear();
    this.generation++;
  }
}

/** Unambiguous text for a field value: strings by id, numbers as such, lists counted. */
export function encodeValue(v: unknown, ids: Interner): string {
  switch (typeof v) {
    case 'string':
      return ids.id(v) + ',';
    case 'number':
    case 'bigint':
      return v + ';';
    case 'boolean':
      return v ? 'T' : 'F';
    case 'undefined':
      return 'U';
    default:
      if (v === null) return 'N';
      if (Array.isArray(v)) {
        let s = '[' + v.length + ';';
        for (const x of v) s += encodeValue(x, ids);
        return s;
      }
      return 'J' + encodeValue(JSON.stringify(v), ids);
  }
}

interface Code {
  /** The interner and generation the code's ids are from: the code is valid there only. */
  readonly ids: Interner;
  readonly generation: number;
  readonly code: string;
}

/** Encodes entities once per entity and interner generation, as the id of their attributes' values. */
class EntityCodes {
  private readonly memo: Slot<object, Code>;

  /** `attrs`: the attributes to encode. `kind`, `name`: the memo's Slot. */
  constructor(
    private readonly attrs: readonly string[],
    kind: string,
    name: string,
  ) {
    this.memo = new Slot(kind, name);
  }

  of(e: Process | Container | Pod | SFHeader | null | undefined, ids: Interner): string {
    if (e === undefined || e === null) return 'U';
    const m = this.memo.get(e);
    if (m !== undefined && m.ids === ids && m.generation === ids.generation) return m.code;
    const attrs = this.attrs;
    // strings by id: no JSON text of long command lines and environments to build and hash again
    let text = '';
    for (let i = 0; i < attrs.length; i++) text += encodeValue((e as unknown as Record<string, unknown>)[attrs[i]!], ids);
    const code = ids.id(text) + ':';
    this.memo.set(e, { ids, generation: ids.generation, code });
    return code;
  }
}

/**
 * The entity-chain key of a record's context (see the module comment): processes (by their place:
 * self, parent, ancestors), containers and headers with the attributes `fields` depend on
 * (attributesRead).
 * Whether an entity is there at all is always part of the key. Each user (`user`: the rule or
 * the filter gate) needs keys of its own: codes are ids of the user's interner, valid nowhere else.
 */
export function contextChainKey(read: AttributesRead, user = 'gate'): (r: FlatRecord, ids: Interner) => string {
  const codes = (kind: Kind) => new EntityCodes(read[kind], kind === 'self' || kind === 'parent' || kind === 'ancestor' ? 'process' : kind, `${user}.code.${kind}`);
  const self = codes('self');
  const parent = codes('parent');
  const ancestor = codes('ancestor');
  const containers = codes('container');
  const headers = codes('header');
  const pods = codes('pod');
  return (r, ids) => {
    const tree = r.ptree;
    let k = headers.of(r.header, ids) + containers.of(r.container, ids) + pods.of(r.pod, ids) + parent.of(r.pproc, ids) + '/' + tree.length + ':';
    if (tree.length > 0) k += self.of(tree[0], ids);
    if (tree.length > 1) k += parent.of(tree[1], ids);
    for (let i = 2; i < tree.length; i++) k += ancestor.of(tree[i], ids);
    return k;
  };
}

// ---- which entity attributes the fields read: probing ----

interface Probe {
  tree: Process[];
  container: Container;
  pod: Pod;
  header: SFHeader;
}
/** Processes by their place in the context: the process itself, its parent, further ancestors. */
type Kind = 'self' | 'parent' | 'ancestor' | 'container' | 'pod' | 'header';

/** Per kind of entity, the attributes some field's value depends on (attributesRead). */
export type AttributesRead = Readonly<Record<Kind, readonly string[]>>;

/**
 * Process attributes, grouped as they vary together, each with a change that alters every
 * derivation a field could make of it (base name, directory, length, value).
 */
// biome-ignore format: a table, one row per line
const PROCESS_GROUPS: readonly (readonly [readonly string[], (p: Process) => void])[] = [
  [['oid', 'poid'], (p) => { p.oid = oid(p.oid.hpid + 7919, p.oid.createTS + 7919); p.poid = p.poid && oid(p.poid.hpid + 7919, p.poid.createTS + 7919); }],
  [['ts', 'tsNs'], (p) => { p.ts += 1e9 + 1; p.tsNs += 1; }],
  [['state'], (p) => { p.state = 'MODIFIED'; }],
  [['exe'], (p) => { p.exe = '/opt/sbin/wget2-' + p.exe.length; }],
  [['exeArgs'], (p) => { p.exeArgs = '--other argument values'; }],
  [['uid'], (p) => { p.uid = 1001; }],
  [['userName'], (p) => { p.userName = 'alice'; }],
  [['gid'], (p) => { p.gid = 1002; }],
  [['groupName'], (p) => { p.groupName = 'staff'; }],
  [['tty'], (p) => { p.tty = true; }],
  [['containerId'], (p) => { p.containerId = 'c2'; }],
  [['entry'], (p) => { p.entry = true; }],
  [['cwd'], (p) => { p.cwd = '/home/alice/work'; }],
  [['env'], (p) => { p.env = ['B=2', 'PATH=/usr/local/bin']; }],
];

// biome-ignore format: a table, one row per line
const CONTAINER_GROUPS: readonly (readonly [readonly string[], (c: Container) => void])[] = [
  [['id'], (c) => { c.id = 'other-container-id'; }],
  [['name'], (c) => { c.name = 'db-replica'; }],
  [['image'], (c) => { c.image = 'registry.example/other/image:2.0'; }],
  [['imageid'], (c) => { c.imageid = 'sha256:ffff'; }],
  [['type'], (c) => { c.type = 'CT_CRIO'; }],
  [['privileged'], (c) => { c.privileged = true; }],
  [['podId'], (c) => { c.podId = 'pod-1'; }],
];

const service = (name: string, ip: number) => ({ name, id: `svc-${name}`, namespace: 'shop', portList: [{ port: 80, targetPort: 8080, nodePort: 30080, proto: 'TCP' }], clusterIP: [ip] });

// biome-ignore format: a table, one row per line
const POD_GROUPS: readonly (readonly [readonly string[], (p: Pod) => void])[] = [
  [['ts', 'tsNs'], (p) => { p.ts += 1e9 + 1; p.tsNs += 1; }],
  [['id'], (p) => { p.id = 'other-pod-uid'; }],
  [['name'], (p) => { p.name = 'other-pod'; }],
  [['nodeName'], (p) => { p.nodeName = 'node-2'; }],
  [['hostIP'], (p) => { p.hostIP = [0x0a000002, 0x0a000003]; }],
  [['internalIP'], (p) => { p.internalIP = [0xac100002, 0xac100003]; }],
  [['namespace'], (p) => { p.namespace = 'kube-system'; }],
  [['restartCount'], (p) => { p.restartCount = 7; }],
  [['labels'], (p) => { p.labels = { tier: 'db', zone: 'b' }; }],
  [['selectors'], (p) => { p.selectors = { app: 'other', zone: 'b' }; }],
  [['services'], (p) => { p.services = [service('db', 0x0a600001), service('cache', 0x0a600002)]; }],
];

// biome-ignore format: a table, one row per line
const HEADER_GROUPS: readonly (readonly [readonly string[], (h: SFHeader) => void])[] = [
  [['version'], (h) => { h.version = 4; }],
  [['exporter'], (h) => { h.exporter = 'other-node'; }],
  [['ip'], (h) => { h.ip = '192.168.7.9'; }],
  [['filename'], (h) => { h.filename = '/var/other/name.sf'; }],
];

const oid = (hpid: number, createTS: number): OID => ({ hpid, createTS, createTSNs: createTS });

/** A context of 64 processes, a container, a pod and a header, changed by `variant`. */
function probeRecord(variant: ((p: Probe) => void) | null): FlatRecord {
  const proc = (hpid: number, parent: OID | null, exe: string): Process => ({
    sfType: 2,
    state: 'CREATED',
    oid: oid(hpid, 1e6 * hpid),
    poid: parent,
    ts: 5e6,
    tsNs: 5e6,
    exe,
    exeArgs: '-c x',
    uid: 0,
    userName: 'root',
    gid: 0,
    groupName: 'root',
    tty: false,
    containerId: 'c1',
    entry: false,
    cwd: '/',
    env: ['A=1'],
  });
  // as deep as an ancestry gets (EntityCache.ancestry), so that `aname[N]` meets a process at every N
  const tree = [proc(1, null, '/sbin/init')];
  for (let i = 1; i < 64; i++) tree.unshift(proc(10 * i, tree[0]!.oid, i === 63 ? '/usr/bin/curl' : `/bin/sh${i}`));
  const probe: Probe = {
    tree,
    container: { sfType: 1, id: 'c1', name: 'web', image: 'img:1', imageid: 'i1', type: 'CT_DOCKER', privileged: false, podId: 'p1' },
    pod: {
      sfType: 10,
      ts: 4e6,
      tsNs: 4e6,
      id: 'p1',
      name: 'web-0',
      nodeName: 'node-1',
      hostIP: [0x0a000001],
      internalIP: [0xac100001],
      namespace: 'shop',
      restartCount: 0,
      labels: { app: 'web' },
      selectors: { app: 'web' },
      services: [service('web', 0x0a600000)],
    },
    header: { sfType: 0, version: 5, exporter: 'node', ip: '10.0.0.1', filename: 'trace.sf' },
  };
  variant?.(probe);
  const { container, pod, header } = probe;
  const self = tree[0]!;
  const file: File = { sfType: 3, state: 'CREATED', oid: 'ab', ts: 1, tsNs: 1, restype: 102, path: '/etc/passwd', containerId: 'c1' };
  // the event is the same in every variant: only the processes differ
  const rec = {
    sfType: 6,
    procOID: oid(20, 2e7),
    ts: 9e6,
    tsNs: 9e6,
    tid: 20,
    opFlags: 1,
    openFlags: 0,
    endTs: 9e6,
    endTsNs: 9e6,
    fileOID: 'ab',
    fd: 3,
    numRRecvOps: 0,
    numWSendOps: 0,
    numRRecvBytes: 0,
    numWSendBytes: 0,
  };
  return new FlatRecord(6, rec as never, header, self, tree[1], container, pod, file, undefined, () => tree);
}

/**
 * The attributes of each entity kind some field's value depends on, found by changing one attribute
 * group at a time in a probe context. A field that cannot be evaluated on the probe counts as
 * reading every attribute (always exact).
 */
export function attributesRead(fields: readonly FieldDef[]): AttributesRead {
  const ids = new Interner();
  const valuesOf = (r: FlatRecord): string[] | null => {
    try {
      return fields.map((d) => encodeValue(d.get(r), ids) + (d.ns ? d.ns(r) : ''));
    } catch {
      return null; // e.g. OID hashing not ready
    }
  };
  const base = valuesOf(probeRecord(null));
  const read = (groups: readonly (readonly [readonly string[], unknown])[], apply: (vary: never) => (p: Probe) => void): string[] => {
    const attrs: string[] = [];
    for (const [group, vary] of groups) {
      const v = base === null ? null : valuesOf(probeRecord(apply(vary as never)));
      if (v === null || v.some((x, i) => x !== base![i])) attrs.push(...group);
    }
    return attrs;
  };
  return {
    self: read(PROCESS_GROUPS, (vary: (p: Process) => void) => (p) => vary(p.tree[0]!)),
    parent: read(PROCESS_GROUPS, (vary: (p: Process) => void) => (p) => vary(p.tree[1]!)),
    ancestor: read(PROCESS_GROUPS, (vary: (p: Process) => void) => (p) => p.tree.slice(2).forEach(vary)),
    container: read(CONTAINER_GROUPS, (vary: (c: Container) => void) => (p) => vary(p.container)),
    pod: read(POD_GROUPS, (vary: (p: Pod) => void) => (p) => vary(p.pod)),
    header: read(HEADER_GROUPS, (vary: (h: SFHeader) => void) => (p) => vary(p.header)),
  };
}
