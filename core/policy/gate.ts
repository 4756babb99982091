/**
 * Which rules (or filters) a record can meet at all, decided per entity instead of per record.
 *
 * Most rules are about who acts (a shell, a package manager, a web server's child) and on what (a
 * path below /etc, a history file). Those parts of a condition only change with the process context
 * or the file, which many records share. The compiler extracts them as `needs` (core/policy/compile.ts).
 * Context needs are decided once per process context for every rule of a record type; file needs
 * once per file, lazily, for the rules a record actually reaches (its op flags rule most out).
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { Scope, type FieldDef } from '../flatten/fields.js';
import type { File, Process } from '../sysflow/types.js';
import { Slot } from '../util/slot.js';
import { attributesRead, contextChainKey, encodeValue, Interner } from './context-key.js';
import { ANY_OPS, type Pred } from './compiled.js';

export interface Gated {
  /** Implied condition on the process context (null: none). */
  readonly needContext: Pred | null;
  /** Implied condition on the record's files, valid on records that have one (null: none). */
  readonly needFile: Pred | null;
}

/** Builds a memo key from the values of the fields a scope's needs read (see gateKeys). */
export type KeyFn = (r: FlatRecord, ids: Interner) => string;

export interface GateKeys {
  /** The entity-chain key (core/policy/context-key.ts): cheap, tried first. */
  readonly chain: KeyFn;
  readonly context: KeyFn;
  /** File needs read the files' OIDs (else files of equal type, path and container are alike). */
  readonly fileOids: boolean;
}

/**
 * Entities are new objects after every header, and every process is a new context, yet the values
 * the needs read repeat (the same commands, the same paths). Needs are functions of those values
 * alone, so their outcomes are shared by value. A context's key is every context-scoped field value
 * the conditions read, encoded without ambiguity; files are alike when the file entities' own
 * values are (FileIndex), cheaper than the fields derived from them.
 */
export function gateKeys(fields: readonly FieldDef[]): (user: string) => GateKeys {
  const fileFields = fields.filter((d) => ((d.scope ?? 0) & Scope.File) !== 0);
  const contextFields = fields.filter((d) => ((d.scope ?? 0) & Scope.Context) !== 0);
  const read = attributesRead(contextFields);
  const fileOids = fileFields.some((d) => OID_FIELDS.has(d.name));
  // each user (gate) its own chain key: entity codes are ids of the gate's own interner
  return (user) => ({ chain: contextChainKey(read, user), context: keyOf(contextFields), fileOids });
}

/** The file-scoped fields that read a file's OID; every other one reads its type, path and container. */
const OID_FIELDS = new Set(['sf.file.oid', 'sf.file.newoid']);

/** Equal in what file-scoped fields read, the path aside. */
const alikeButPath = (a: File, b: File, withOid: boolean): boolean => a.restype === b.restype && a.containerId === b.containerId && (!withOid || a.oid === b.oid);

const sameFile = (a: File | undefined, b: File | undefined, withOid: boolean): boolean => a === b || (a !== undefined && b !== undefined && a.path === b.path && alikeButPath(a, b, withOid));

interface FileSlot<E> {
  readonly index: object;
  /** The first file and second file seen with these values. */
  readonly file: File;
  readonly newFile: File | undefined;
  readonly value: E;
}

/**
 * A value per file of a record, shared by every file alike in what file-scoped fields read: type,
 * path and container id of the record's file and second file, and their OIDs when a field reads
 * them (with them, files are only alike across headers; without, also across files of one path).
 * The last record's files are tried first (flows of one file tend to come together), then the
 * value found for the file entity before (kept on it), then files alike by path and the rest.
 */
export class FileIndex<E> {
  private readonly byPath = new Map<string, FileSlot<E>[]>();
  private size = 0;
  private last: FileSlot<E> | undefined = undefined;
  private lastFile: File | undefined = undefined;
  private lastNewFile: File | undefined = undefined;
  private readonly seen: Slot<File, FileSlot<E>>;

  /** `name`: the Slot name of the per-entity memo (one per index in use at a time). */
  constructor(
    private readonly withOid: boolean,
    private readonly make: () => E,
    name = 'file',
  ) {
    this.seen = new Slot('file', name);
  }

  get(file: File, newFile: File | undefined): E {
    if (file === this.lastFile && newFile === this.lastNewFile) return this.last!.value;
    let slot = this.seen.get(file);
    // (a slot found for this file with another second file, or an alike one, is looked up again: FE only)
    if (slot === undefined || slot.index !== this || slot.newFile !== newFile) {
      slot = this.alike(file, newFile);
      this.seen.set(file, slot);
    }
    this.last = slot;
    this.lastFile = file;
    this.lastNewFile = newFile;
    return slot.value;
  }

  private alike(file: File, newFile: File | undefined): FileSlot<E> {
    let list = this.byPath.get(file.path);
    let slot: FileSlot<E> | undefined;
    if (list !== undefined) {
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        // the path is equal: the list is the path's
        if (alikeButPath(s.file, file, this.withOid) && sameFile(s.newFile, newFile, this.withOid)) {
          slot = s;
          break;
        }
      }
    }
    if (slot === undefined) {
      if (this.size >= MAX_KEYS) {
        // a bound, not an eviction policy
        this.byPath.clear();
        this.size = 0;
        list = undefined;
      }
      slot = { index: this, file, newFile, value: this.make() };
      if (list === undefined) this.byPath.set(file.path, (list = []));
      list.push(slot);
      this.size++;
    }
    return slot;
  }
}

function keyOf(defs: readonly FieldDef[]): KeyFn {
  const gets = defs.map((d) => d.get);
  const ns = defs.map((d) => d.ns);
  return (r, ids) => {
    let k = '';
    for (let i = 0; i < gets.length; i++) {
      k += encodeValue(gets[i]!(r), ids);
      const n = ns[i];
      if (n !== undefined) k += n(r) + ';';
    }
    return k;
  };
}

/** Value memos are dropped whole past this many keys or strings: a bound, not an eviction policy. */
const MAX_KEYS = 1 << 16;
const MAX_STRINGS = 1 << 18;

const TYPES = 12;
const FE = 7;
/** Item bits per word: small integers stay unboxed. */
const BITS = 30;

/** Item `i`'s bit in its word. */
const bitOf = (i: number): number => 1 << (i % BITS);
/** The index of an item from its word and its (single-bit) mask. */
export const itemOf = (word: number, bit: number): number => word * BITS + 31 - Math.clz32(bit);

interface ContextEntry {
  /** The gate the entry is of (a Slot's place is shared by name). */
  readonly gate: object;
  readonly ptree: FlatRecord['ptree'];
  readonly pproc: FlatRecord['pproc'];
  readonly container: FlatRecord['container'];
  readonly pod: FlatRecord['pod'];
  readonly header: FlatRecord['header'];
  /** Per type: the items whose context needs hold, as words. */
  readonly allowed: (readonly number[] | undefined)[];
  /** The value keys (GateKeys.chain, GateKeys.context), made on first need: they do not vary with the type. */
  chain: string | undefined;
  key: string | undefined;
  /** Interner generation the keys were made in (ids are reused after a clear). */
  generation: number;
}

/** Per type of record (FF, FE): `known` words then `value` words of the file needs. */
interface FileWords {
  ff?: number[];
  fe?: number[];
}

/**
 * The items a record can meet, as bit words per record type (item i of a type is bit i % 30 of
 * word i / 30), so the engine visits only candidates instead of testing gates item by item:
 * candidates = context words & op-flag words & file words.
 */
export class Gate<T extends Gated> {
  private readonly byType: (readonly T[])[];
  /** Words per type. */
  private readonly words: number[];
  /**
   * Kept on the record's process, valid while its ancestry array is the same: the entity cache shares
   * one array between the records of a process while its ancestry is unchanged.
   */
  private readonly contexts: Slot<Process, ContextEntry>;
  /** The entry of records whose process is unknown. */
  private noProcess: ContextEntry | undefined = undefined;
  /** File needs' words, shared by files alike. */
  private readonly files: FileIndex<FileWords>;
  /** Context outcomes shared by value (GateKeys): type + key → words. */
  private readonly contextValues = new Map<string, readonly number[]>();
  private readonly chainValues = new Map<string, readonly number[]>();
  private readonly ids = new Interner();
  /** Per type: op flags → the items that can match records with those flags. */
  private readonly opsWords: Map<number, readonly number[]>[];

  constructor(
    items: readonly T[],
    typesOf: (x: T) => number,
    private readonly opsOf: (x: T) => number,
    private readonly keys: GateKeys | null = null,
    /** Names this gate's memos on entities (one name per gate of a policy set). */
    user = 'gate',
  ) {
    this.contexts = new Slot('process', `${user}.context`);
    this.files = new FileIndex<FileWords>(keys === null || keys.fileOids, () => ({}), `${user}.file`);
    this.byType = Array.from({ length: TYPES }, (_, t) => items.filter((x) => (typesOf(x) >> t) & 1));
    this.words = this.byType.map((xs) => Math.ceil(xs.length / BITS));
    this.opsWords = this.byType.map(() => new Map());
  }

  /** The items of a record type, in definition order. */
  all(type: number): readonly T[] {
    return this.byType[type]!;
  }

  private wordsWhere(xs: readonly T[], keep: (x: T) => boolean): number[] {
    const w = new Array<number>(Math.ceil(xs.length / BITS)).fill(0);
    for (let i = 0; i < xs.length; i++) if (keep(xs[i]!)) w[(i / BITS) | 0]! |= bitOf(i);
    return w;
  }

  /** The items of the record's type whose context needs hold. */
  context(r: FlatRecord): readonly number[] {
    const t = r.sfType;
    const proc = r.proc;
    let e = proc === undefined ? this.noProcess : this.contexts.get(proc);
    if (e === undefined || e.gate !== this || e.ptree !== r.ptree || e.pproc !== r.pproc || e.container !== r.container || e.pod !== r.pod || e.header !== r.header) {
      e = {
        gate: this,
        ptree: r.ptree,
        pproc: r.pproc,
        container: r.container,
        pod: r.pod,
        header: r.header,
        allowed: new Array(TYPES),
        chain: undefined,
        key: undefined,
        generation: this.ids.generation,
      };
      if (proc === undefined) this.noProcess = e;
      else this.contexts.set(proc, e);
    }
    let a = e.allowed[t];
    if (a === undefined) {
      a = this.contextWords(r, e);
      e.allowed[t] = a;
    }
    return a;
  }

  /** Context words of a new entry: shared by entity chain, else by field values, else computed. */
  private contextWords(r: FlatRecord, e: ContextEntry): readonly number[] {
    const t = r.sfType;
    const keys = this.keys;
    if (keys === null) return this.wordsWhere(this.byType[t]!, (x) => x.needContext === null || x.needContext(r));
    if (e.generation !== this.ids.generation) {
      e.chain = e.key = undefined;
      e.generation = this.ids.generation;
    }
    const ckey = t + '|' + (e.chain ??= keys.chain(r, this.ids));
    let a = this.chainValues.get(ckey);
    if (a !== undefined) return a;
    const vkey = t + '|' + (e.key ??= keys.context(r, this.ids));
    a = this.contextValues.get(vkey);
    if (a === undefined) {
      a = this.wordsWhere(this.byType[t]!, (x) => x.needContext === null || x.needContext(r));
      this.remember(this.contextValues, vkey, a);
    }
    this.remember(this.chainValues, ckey, a);
    return a;
  }

  /** The items of a type that records with these op flags can meet. */
  ops(type: number, flags: number): readonly number[] {
    const memo = this.opsWords[type]!;
    let w = memo.get(flags);
    if (w === undefined) {
      w = this.wordsWhere(this.byType[type]!, (x) => {
        const ops = this.opsOf(x);
        return ops === ANY_OPS || (flags & ops) !== 0;
      });
      memo.set(flags, w);
    }
    return w;
  }

  /**
   * The file needs' words of an FF or FE record with a file: `known` words then `value` words,
   * decided lazily by keepFiles for the candidates a record actually has.
   */
  fileWords(r: FlatRecord): number[] {
    const t = r.sfType;
    const e = this.files.get(r.file!, r.newFile);
    let w = t === FE ? e.fe : e.ff;
    if (w === undefined) {
      w = new Array<number>(2 * this.words[t]!).fill(0);
      if (t === FE) e.fe = w;
      else e.ff = w;
    }
    return w;
  }

  /** The candidates `m` (word `word`) whose file needs hold, deciding the undecided ones. */
  keepFiles(r: FlatRecord, w: number[], word: number, m: number): number {
    const n = w.length >> 1;
    let todo = m & ~w[word]!;
    if (todo !== 0) {
      const items = this.byType[r.sfType]!;
      let value = w[n + word]!;
      w[word] = w[word]! | todo;
      while (todo !== 0) {
        const bit = todo & -todo;
        todo ^= bit;
        const need = items[itemOf(word, bit)]!.needFile;
        if (need === null || need(r)) value |= bit;
      }
      w[n + word] = value;
    }
    return m & w[n + word]!;
  }

  private remember<V>(memo: Map<string, V>, key: string, v: V): void {
    if (this.ids.size > MAX_STRINGS) {
      // ids are about to be reused: keys made with the old ones (this one too) must go
      this.ids.clear();
      this.contextValues.clear();
      this.chainValues.clear();
      return;
    }
    if (memo.size >= MAX_KEYS) memo.clear();
    memo.set(key, v);
  }
}
