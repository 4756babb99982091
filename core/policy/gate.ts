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
import type { File } from '../sysflow/types.js';
import type { Pred } from './compile.js';

export interface Gated {
  /** Implied condition on the process context (null: none). */
  readonly needContext: Pred | null;
  /** Implied condition on the record's files, valid on records that have one (null: none). */
  readonly needFile: Pred | null;
}

/** The items of one record type a process context allows, in definition order. */
export interface Allowed<T> {
  readonly items: readonly T[];
  /** Each item's position in its type's list (for fileAllows). */
  readonly index: readonly number[];
}

interface ContextEntry<T> {
  readonly pproc: FlatRecord['pproc'];
  readonly container: FlatRecord['container'];
  readonly pod: FlatRecord['pod'];
  readonly header: FlatRecord['header'];
  readonly allowed: (Allowed<T> | undefined)[];
}

/**
 * Which items' file needs are decided and their outcome, as 30-bit words (small integers, no
 * boxing): for FF items then FE items (the only types with files), `known` word then `value` word.
 */
interface FileEntry {
  readonly newFile: File | undefined;
  readonly bits: number[];
}

const TYPES = 12;
const FF = 6;
const FE = 7;
const BITS = 30;
const NONE: Allowed<never> = { items: [], index: [] };

export class Gate<T extends Gated> {
  private readonly byType: (readonly T[])[];
  /**
   * Keyed by the record's ancestry array, which the entity cache shares between the records of one
   * process while its ancestry is unchanged (a new array otherwise, so stale entries just go unused).
   */
  private readonly contexts = new WeakMap<readonly object[], ContextEntry<T>>();
  private readonly files = new WeakMap<File, FileEntry>();
  private lastRecord: FlatRecord | null = null;
  private lastFile: FileEntry | null = null;
  /** Words per type in FileEntry.bits. */
  private readonly words: number;

  constructor(items: readonly T[], typesOf: (x: T) => number) {
    this.byType = Array.from({ length: TYPES }, (_, t) => items.filter((x) => (typesOf(x) >> t) & 1));
    this.words = Math.ceil(Math.max(this.byType[FF]!.length, this.byType[FE]!.length, 1) / BITS);
  }

  /** The items of a record type, in definition order. */
  all(type: number): readonly T[] {
    return this.byType[type]!;
  }

  /** The items of the record's type whose context conditions hold. */
  allowed(r: FlatRecord): Allowed<T> {
    const t = r.sfType;
    const items = this.byType[t]!;
    if (items.length === 0) return NONE;
    const key = r.ptree;
    let e = this.contexts.get(key);
    if (e === undefined || e.pproc !== r.pproc || e.container !== r.container || e.pod !== r.pod || e.header !== r.header) {
      e = { pproc: r.pproc, container: r.container, pod: r.pod, header: r.header, allowed: new Array(TYPES) };
      this.contexts.set(key, e);
    }
    let a = e.allowed[t];
    if (a === undefined) {
      const kept: T[] = [];
      const index: number[] = [];
      for (let i = 0; i < items.length; i++) {
        const need = items[i]!.needContext;
        if (need === null || need(r)) {
          kept.push(items[i]!);
          index.push(i);
        }
      }
      e.allowed[t] = a = { items: kept, index };
    }
    return a;
  }

  /** Do the record's files allow item `i` of its type? Call only for FF and FE records with a file. */
  fileAllows(r: FlatRecord, i: number): boolean {
    const t = r.sfType;
    const need = this.byType[t]![i]!.needFile;
    if (need === null) return true;
    let e = this.lastFile;
    if (r !== this.lastRecord) {
      const file = r.file!;
      e = this.files.get(file) ?? null;
      if (e === null || e.newFile !== r.newFile) {
        e = { newFile: r.newFile, bits: new Array<number>(4 * this.words).fill(0) };
        this.files.set(file, e);
      }
      this.lastRecord = r;
      this.lastFile = e;
    }
    const bits = e!.bits;
    const k = ((t === FE ? this.words : 0) + ((i / BITS) | 0)) << 1;
    const bit = 1 << i % BITS;
    if ((bits[k]! & bit) === 0) {
      bits[k] = bits[k]! | bit;
      if (need(r)) bits[k + 1] = bits[k + 1]! | bit;
    }
    return (bits[k + 1]! & bit) !== 0;
  }
}
