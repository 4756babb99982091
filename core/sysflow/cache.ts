/**
 * Entity cache: the state a reader keeps to join flows and events with their process, parent,
 * container, pod and files. Semantics follow upstream's streaming readers: every SFHeader resets all
 * tables; an entity record replaces the cached one (last write wins) and affects only later records;
 * there is no look-ahead.
 *
 * Memory is bounded per table. When a table is over its limit, it evicts entries in this order:
 * processes that have exited (a ProcessEvent with EXIT was seen; oldest exit first), then the least
 * recently written entries. Exited processes are not dropped at once because the collector exports a
 * process's remaining flows after its exit event. A header resets everything, and the collector
 * emits one at every export interval, so in practice limits are only reached on very busy hosts.
 */
import { OpFlags } from './flags.js';
import type { Container, File, OID, Pod, Process, SFHeader, SysFlowRecord } from './types.js';
import { SfType } from './types.js';
import { Slot } from '../util/slot.js';

export interface CacheLimits {
  processes: number;
  files: number;
  containers: number;
  pods: number;
}

export const DEFAULT_LIMITS: CacheLimits = { processes: 250_000, files: 500_000, containers: 50_000, pods: 50_000 };

export interface CacheStats {
  headers: number;
  evictedProcesses: number;
  evictedFiles: number;
  evictedOthers: number;
}

/** Map with a size bound, evicting the least recently written key (Map order = insertion order). */
class BoundedMap<V> {
  readonly map = new Map<string, V>();
  constructor(
    private readonly limit: number,
    private readonly onEvict: () => void,
  ) {}
  get(k: string): V | undefined {
    return this.map.get(k);
  }
  set(k: string, v: V): void {
    if (this.map.has(k)) this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.limit) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
      this.onEvict();
    }
  }
  clear(): void {
    this.map.clear();
  }
  get size(): number {
    return this.map.size;
  }
}

/**
 * Processes keyed exactly by (hpid, createTS) — createTS exceeds 2^53, so the key compares the
 * double and its exact nanosecond companion. Negative parts clamp to 0, as upstream's key does.
 */
class ProcessTable {
  private byPid = new Map<number, Process[]>();
  private order: Process[] = []; // write order, with stale entries skipped lazily
  private orderHead = 0;
  private exited: Process[] = [];
  private exitedHead = 0;
  private exitedSet = new WeakSet<Process>();
  size = 0;
  /** Bumped on every change, so memoised ancestries know when to recompute. */
  epoch = 0;

  constructor(
    private readonly limit: number,
    private readonly stats: CacheStats,
  ) {}

  get(oid: OID): Process | undefined {
    const list = this.byPid.get(oid.hpid > 0 ? oid.hpid : 0);
    if (list === undefined) return undefined;
    const ts = oid.createTS > 0 ? oid.createTS : 0;
    const ns = oid.createTS > 0 ? oid.createTSNs : 0;
    for (let i = 0; i < list.length; i++) {
      const p = list[i]!;
      const pts = p.oid.createTS > 0 ? p.oid.createTS : 0;
      if (pts === ts && (pts > 0 ? p.oid.createTSNs : 0) === ns) return p;
    }
    return undefined;
  }

  set(p: Process): void {
    const pid = p.oid.hpid > 0 ? p.oid.hpid : 0;
    let list = this.byPid.get(pid);
    if (list === undefined) {
      list = [];
      this.byPid.set(pid, list);
    }
    const old = this.get(p.oid);
    if (old) list[list.indexOf(old)] = p;
    else {
      list.push(p);
      this.size++;
    }
    this.order.push(p);
    this.epoch++;
    if (this.size > this.limit) this.evict();
    if (this.order.length - this.orderHead > 4 * this.limit + 1024) this.compactOrder();
  }

  markExited(oid: OID): void {
    const p = this.get(oid);
    if (p && !this.exitedSet.has(p)) {
      this.exitedSet.add(p);
      this.exited.push(p);
    }
  }

  private isCurrent(p: Process): boolean {
    return this.get(p.oid) === p;
  }

  private remove(p: Process): void {
    const pid = p.oid.hpid > 0 ? p.oid.hpid : 0;
    const list = this.byPid.get(pid);
    if (!list) return;
    const i = list.indexOf(p);
    if (i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.byPid.delete(pid);
    this.size--;
    this.epoch++;
    this.stats.evictedProcesses++;
  }

  private evict(): void {
    while (this.size > this.limit && this.exitedHead < this.exited.length) {
      const p = this.exited[this.exitedHead++]!;
      if (this.isCurrent(p)) this.remove(p);
    }
    while (this.size > this.limit && this.orderHead < this.order.length) {
      const p = this.order[this.orderHead++]!;
      // A superseded write is a different object than the cached one: skip it.
      if (this.isCurrent(p)) this.remove(p);
    }
    if (this.exitedHead > 1024 && this.exitedHead * 2 > this.exited.length) {
      this.exited = this.exited.slice(this.exitedHead);
      this.exitedHead = 0;
    }
  }

  private compactOrder(): void {
    const seen = new Set<Process>();
    const kept: Process[] = [];
    for (let i = this.order.length - 1; i >= this.orderHead; i--) {
      const p = this.order[i]!;
      if (!seen.has(p) && this.isCurrent(p)) {
        seen.add(p);
        kept.push(p);
      }
    }
    this.order = kept.reverse();
    this.orderHead = 0;
  }

  clear(): void {
    this.epoch++;
    this.byPid.clear();
    this.order = [];
    this.orderHead = 0;
    this.exited = [];
    this.exitedHead = 0;
    this.exitedSet = new WeakSet();
    this.size = 0;
  }
}

export class EntityCache {
  header: SFHeader | null = null;
  /**
   * Bumped whenever what an event's process context resolves to may change (a header, container,
   * process or pod record); `fileVersion` likewise for file records. Consumers that resolved a
   * record may reuse the result for the next one of the same process (or file) while unchanged.
   */
  version = 0;
  fileVersion = 0;
  readonly stats: CacheStats = { headers: 0, evictedProcesses: 0, evictedFiles: 0, evictedOthers: 0 };
  readonly processes: ProcessTable;
  readonly files: BoundedMap<File>;
  readonly containers: BoundedMap<Container>;
  readonly pods: BoundedMap<Pod>;

  constructor(limits: Partial<CacheLimits> = {}) {
    const l = { ...DEFAULT_LIMITS, ...limits };
    this.processes = new ProcessTable(l.processes, this.stats);
    this.files = new BoundedMap(l.files, () => this.stats.evictedFiles++);
    this.containers = new BoundedMap(l.containers, () => this.stats.evictedOthers++);
    this.pods = new BoundedMap(l.pods, () => this.stats.evictedOthers++);
  }

  reset(): void {
    this.version++;
    this.fileVersion++;
    this.processes.clear();
    this.files.clear();
    this.containers.clear();
    this.pods.clear();
  }

  /**
   * Update the cache with one record. Returns true for entity records (header, container, process,
   * file, pod), which carry no event of their own.
   */
  update(rec: SysFlowRecord): boolean {
    switch (rec.sfType) {
      case SfType.H:
        this.header = rec;
        this.stats.headers++;
        this.reset();
        return true;
      case SfType.C:
        this.version++;
        this.containers.set(rec.id, rec);
        return true;
      case SfType.P:
        this.version++;
        this.processes.set(rec);
        return true;
      case SfType.F:
        this.fileVersion++;
        this.files.set(rec.oid, rec);
        return true;
      case SfType.POD:
        this.version++;
        this.pods.set(rec.id, rec);
        return true;
      case SfType.PE:
        if (rec.opFlags & OpFlags.EXIT) this.processes.markExited(rec.procOID);
        return false;
      default:
        return false;
    }
  }

  process(oid: OID): Process | undefined {
    return this.processes.get(oid);
  }

  parent(p: Process): Process | undefined {
    return p.poid ? this.processes.get(p.poid) : undefined;
  }

  container(p: Process | undefined): Container | undefined {
    return p && p.containerId != null ? this.containers.get(p.containerId) : undefined;
  }

  pod(c: Container | undefined): Pod | undefined {
    return c && c.podId != null ? this.pods.get(c.podId) : undefined;
  }

  file(foid: string | null | undefined): File | undefined {
    return foid == null ? undefined : this.files.get(foid);
  }

  private treeMemo = new Slot<Process, { readonly cache: EntityCache; epoch: number; readonly tree: Process[] }>('process', 'ancestry');
  /** The last process asked for, its tree and the process table's epoch then. */
  private lastTreeOf: Process | null = null;
  private lastTreeEpoch = -1;
  private lastTree: readonly Process[] = [];

  /**
   * Ancestry, memoised per process while the process table is unchanged: records of one process
   * share one (frozen) array, which lets encoders cache what they render from it.
   */
  ancestryOf(p: Process): readonly Process[] {
    // most events are of the same process as the one before
    if (p === this.lastTreeOf && this.lastTreeEpoch === this.processes.epoch) return this.lastTree;
    const tree = this.ancestryMemo(p);
    this.lastTreeOf = p;
    this.lastTreeEpoch = this.processes.epoch;
    this.lastTree = tree;
    return tree;
  }

  private ancestryMemo(p: Process): readonly Process[] {
    const found = this.treeMemo.get(p);
    const m = found !== undefined && found.cache === this ? found : undefined; // (a Slot's place is shared by name)
    const epoch = this.processes.epoch;
    if (m !== undefined && m.epoch === epoch) return m.tree;
    const tree = this.ancestry(p, []);
    // an unchanged ancestry keeps its array: what consumers memoise on it stays valid
    if (m !== undefined && sameProcesses(m.tree, tree)) {
      m.epoch = epoch;
      return m.tree;
    }
    Object.freeze(tree);
    this.treeMemo.set(p, { cache: this, epoch, tree });
    return tree;
  }

  /** The process and its ancestors, self first, stopping at a missing parent or a cycle. */
  ancestry(p: Process, out: Process[] = [], max = 64): Process[] {
    out.length = 0;
    for (let cur: Process | undefined = p; cur && out.length < max; cur = this.parent(cur)) {
      if (out.includes(cur)) break;
      out.push(cur);
    }
    return out;
  }
}

function sameProcesses(a: readonly Process[], b: readonly Process[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
