/**
 * The flat record: one flow/event joined with everything the entity cache knew when it arrived.
 * It holds references (fixed slots, one hidden class), not copies: building one costs a single small
 * allocation, and every `sf.*` attribute (core/flatten/fields.ts) is a direct property read or a
 * cheap derivation. Entities are immutable once decoded, so sharing them is safe.
 */
import type { Container, File, Pod, Process, SFHeader, SysFlowEvent } from '../sysflow/types.js';

/** A rule that matched a record (filled by the policy engine). */
export interface MatchedRule {
  readonly name: string;
  readonly desc: string;
  /** 0 informational … 4 critical (compat §6.3), with Falco's finer levels mapped onto it. */
  readonly priority: number;
  readonly tags: readonly string[];
  /** The rule's rendered output template, when it has one. */
  readonly output?: string;
  /** Its throttle suppressed this many matches of the record's key in the window that just ended. */
  readonly suppressed?: number;
  /** With suppressed: that window's start, ms since the epoch (record time). */
  readonly windowStart?: number;
}

const NO_TREE: readonly Process[] = Object.freeze([]);

export class FlatRecord {
  /**
   * The process and its ancestors as cached when the record arrived: taken at construction, since the
   * reader fills the cache a block at a time and a later process record must not leak into the
   * ancestry of an earlier event (the cache memoises trees, so this is usually one lookup).
   */
  private readonly tree: readonly Process[];
  /** Rules matched by policy engines, in match order; null while none matched. */
  rules: MatchedRule[] | null = null;
  /** Context tags added by actions, before rule tags. */
  tags: string[] | null = null;
  /** evt.seq: the record's number in the run, from 1, gap-free over what the flattener emits (0: not numbered). */
  seq = 0;

  constructor(
    readonly sfType: number,
    readonly rec: SysFlowEvent,
    readonly header: SFHeader | null,
    readonly proc: Process | undefined,
    /** The parent as cached when the record arrived (undefined when not found). */
    readonly pproc: Process | undefined,
    readonly container: Container | undefined,
    readonly pod: Pod | undefined,
    readonly file: File | undefined,
    readonly newFile: File | undefined,
    ancestry: ((p: Process) => readonly Process[]) | null,
  ) {
    this.tree = proc === undefined || ancestry === null ? NO_TREE : ancestry(proc);
  }

  /** The process and its cached ancestors, self first; empty when the process is unknown. */
  get ptree(): readonly Process[] {
    return this.tree;
  }

  addRule(r: MatchedRule): void {
    (this.rules ??= []).push(r);
  }

  addTag(t: string): void {
    (this.tags ??= []).push(t);
  }
}
