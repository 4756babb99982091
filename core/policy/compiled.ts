/**
 * What a condition compiles to: a closure over the flat record, with what is known of it without a
 * record (a constant value, the record types and op flags it can be true for, the entity scope that
 * alone decides it, a rough cost) and how and/or/not combine those facts.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { Scope } from '../flatten/fields.js';
import type { Expr, Operand } from './ast.js';

export type Pred = (r: FlatRecord) => boolean;

/** All record types (bit per SfType 0..11). */
export const ALL_TYPES = 0xfff;
/** "No op-flag constraint". */
export const ANY_OPS = -1;

export interface Compiled {
  readonly fn: Pred;
  /** Known constant value, if any. */
  readonly c?: boolean;
  /** Record types the condition can be true for. */
  readonly types: number;
  /** The record's op flags must intersect this mask (ANY_OPS: no constraint). */
  readonly ops: number;
  /** A pure record-type test (`sf.type = PE`): redundant where the rule index already guarantees it. */
  readonly typeOnly?: boolean;
  /** Conjuncts of an `and` (flattened), kept so the rule level can drop redundant type tests. */
  readonly parts?: readonly Compiled[];
  /** Rough evaluation cost: `and` tests cheap conjuncts first (all checks are pure, order is free). */
  readonly cost?: number;
  /** Scope bits (FieldDef.scope) that alone determine the value. */
  readonly scope?: number;
  /**
   * Per scope (SCOPES order): a condition determined by that scope and implied by this one (false ⇒
   * this is false). The policy set decides them once per process context or file, to pick the rules
   * a record can meet at all.
   */
  readonly needs?: readonly (Pred | undefined)[];
}

const SCOPES: readonly Scope[] = [Scope.Context, Scope.File];

const allOf = (ps: readonly Pred[]): Pred => (ps.length === 1 ? ps[0]! : (r) => ps.every((p) => p(r)));
const anyOf = (ps: readonly Pred[]): Pred => (ps.length === 1 ? ps[0]! : (r) => ps.some((p) => p(r)));

/** A check determined by `scope`: it is its own need there. */
export function withScope(c: Compiled, scope: number): Compiled {
  if (scope === 0) return c;
  return { ...c, scope, needs: SCOPES.map((s) => (scope & s ? c.fn : undefined)) };
}

/** Scope and needs of an and/or from its operands. */
export function combineScopes(c: Compiled, live: readonly Compiled[], and: boolean): Compiled {
  let scope = -1;
  for (const x of live) scope &= x.scope ?? 0;
  const needs = SCOPES.map((s, i) => {
    if (scope & s) return c.fn;
    const ps = live.flatMap((x) => (x.needs?.[i] ? [x.needs[i]!] : []));
    // and: any operand's need is one; or: every branch must need something
    if (and) return ps.length ? allOf(ps) : undefined;
    return ps.length === live.length ? anyOf(ps) : undefined;
  });
  return needs.some(Boolean) ? { ...c, scope: scope & (Scope.Context | Scope.File), needs } : c;
}

const LIST_FIELDS = /^(sf\.proc\.a(name|exe|cmdline|pid)|proc\.a(name|exe|exepath|cmdline|pid))$/;

/** Relative cost of a check, for ordering conjuncts. */
export function estimateCost(e: Expr, c: Compiled): number {
  if (c.typeOnly || c.c !== undefined) return 0;
  if (c.ops !== ANY_OPS && e.k !== 'and' && e.k !== 'or') return 1; // op-flag bit test
  const many = (o: Operand) => (o.k === 'field' && LIST_FIELDS.test(o.name) ? 4 : o.k === 'xf' ? 3 : 1);
  switch (e.k) {
    case 'exists':
      return 2 * many(e.lhs);
    case 'cmp': {
      const base = e.op === 'regex' ? 20 : e.op === 'glob' || e.op === 'iglob' || e.op.startsWith('b') ? 8 : e.op === '=' || e.op === '!=' || e.op.length <= 2 ? 2 : 4;
      return base * many(e.lhs) * (e.rhs.k === 'lit' ? 1 : 2);
    }
    case 'list':
      return (e.op === 'pmatch' ? 6 : 3) * many(e.lhs);
    default:
      return 10;
  }
}

export const TRUE: Compiled = { fn: () => true, c: true, types: ALL_TYPES, ops: ANY_OPS };
export const FALSE: Compiled = { fn: () => false, c: false, types: 0, ops: ANY_OPS };

/** Set bits: the op-flag mask with fewer bits is the tighter constraint. */
export function popcount(x: number): number {
  let n = 0;
  for (let v = x >>> 0; v; v &= v - 1) n++;
  return n;
}
