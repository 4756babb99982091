/**
 * A client's subscription, checked and compiled once when it connects: which records (types, op
 * flags, a policy-language condition), for how long and how many, the throttle and the projection.
 * Anything wrong is a SubscriptionError (the server answers INVALID_ARGUMENT with its message).
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import type { Container } from '../sysflow/types.js';
import { opFlagsOf } from '../flatten/fields.js';
import { compileCondition, ConditionError, type CompiledFilter, type Vocabulary } from '../policy/condition.js';
import type { Pred } from '../policy/compiled.js';
import { OPFLAG_BITS, TYPE_CODES } from '../policy/literals.js';
import { globTest } from '../policy/match.js';

export class SubscriptionError extends Error {}

export type ThrottleKey = 'NONE' | 'PROCESS' | 'FILE' | 'RULE';

/** The request as the proto describes it (proto-loader: keepCase, longs and enums as strings). */
export interface SubscriptionRequest {
  readonly filter?: { readonly types?: readonly string[]; readonly opflags?: readonly string[]; readonly condition?: string } | null;
  readonly for_ms?: string | number;
  readonly limit?: string | number;
  readonly throttle?: { readonly interval_ms?: string | number; readonly key?: ThrottleKey | number } | null;
  readonly fields?: { readonly include?: readonly string[]; readonly exclude?: readonly string[] } | null;
  readonly since_ms?: string | number;
  readonly containers?: {
    readonly ids?: readonly string[];
    readonly names?: readonly string[];
    readonly images?: readonly string[];
    readonly image_ids?: readonly string[];
    readonly host_only?: boolean;
  } | null;
}

export interface Subscription {
  readonly matches: Pred;
  /** The record types it can take, as bits by SfType (all bits: any type); `matches` leaves them to the hub, which indexes subscriptions by type. */
  readonly types: number;
  /** 0: no end. */
  readonly forMs: number;
  /** 0: no limit. */
  readonly limit: number;
  readonly throttle: { readonly intervalMs: number; readonly key: ThrottleKey } | null;
  readonly projection: { readonly include: readonly string[]; readonly exclude: readonly string[] } | null;
  /** Replay the history of the last this many milliseconds first; 0: live only. */
  readonly sinceMs: number;
}

const KEYS: readonly ThrottleKey[] = ['NONE', 'PROCESS', 'FILE', 'RULE'];

function count(v: string | number | undefined, what: string): number {
  const n = typeof v === 'number' ? v : Number(v ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new SubscriptionError(`${what}: expected a whole number, got '${String(v)}'`);
  return n;
}

function typeMask(types: readonly string[]): number {
  let mask = 0;
  for (const t of types) {
    const code = TYPE_CODES[t.trim().toUpperCase()];
    if (code === undefined) throw new SubscriptionError(`filter.types: unknown record type '${t}' (known: ${Object.keys(TYPE_CODES).join(', ')})`);
    mask |= 1 << code;
  }
  return mask;
}

function opMask(flags: readonly string[]): number {
  let mask = 0;
  for (const f of flags) {
    const bit = OPFLAG_BITS[f.trim().toUpperCase()];
    if (bit === undefined) throw new SubscriptionError(`filter.opflags: unknown op flag '${f}' (known: ${Object.keys(OPFLAG_BITS).join(', ')})`);
    mask |= bit;
  }
  return mask;
}

function fieldNames(xs: readonly string[] | undefined, what: string): string[] {
  const out = (xs ?? []).map((x) => x.trim());
  for (const x of out) if (x === '' || x.startsWith('.') || x.includes('..')) throw new SubscriptionError(`${what}: '${x}' is not a field name (such as proc.exe) or a section prefix (such as proc.)`);
  return out;
}

function containerTest(c: SubscriptionRequest['containers']): Pred | null {
  if (!c) return null;
  const lists = [
    [c.ids ?? [], (x: Container) => x.id],
    [c.names ?? [], (x: Container) => x.name],
    [c.images ?? [], (x: Container) => x.image],
    [c.image_ids ?? [], (x: Container) => x.imageid],
  ] as const;
  const tests: ((x: Container) => boolean)[] = [];
  for (const [globs, get] of lists) {
    for (const g of globs) {
      if (g.trim() === '') throw new SubscriptionError('containers: an empty glob matches nothing; leave the list out instead');
      const test = globTest(g.trim(), false);
      tests.push((x) => test(get(x)));
    }
  }
  if (c.host_only) {
    if (tests.length) throw new SubscriptionError('containers: host_only selects records outside containers; give no container globs with it');
    return (r) => r.container === undefined;
  }
  if (tests.length === 0) return null;
  return (r) => r.container !== undefined && tests.some((t) => t(r.container!));
}

export function compileSubscription(req: SubscriptionRequest, vocabulary: Vocabulary): Subscription {
  const f = req.filter ?? {};
  const types = typeMask(f.types ?? []);
  const ops = opMask(f.opflags ?? []);
  let cond: CompiledFilter | null = null;
  if (f.condition !== undefined && f.condition.trim() !== '') {
    try {
      cond = compileCondition(f.condition, vocabulary);
    } catch (e) {
      if (e instanceof ConditionError) throw new SubscriptionError(e.message);
      throw e;
    }
  }
  const tests: Pred[] = [];
  if (ops) tests.push((r: FlatRecord) => (opFlagsOf(r) & ops) !== 0);
  if (cond) tests.push(cond.test);
  const inContainer = containerTest(req.containers);
  if (inContainer) tests.push(inContainer);
  const matches: Pred = tests.length === 0 ? () => true : tests.length === 1 ? tests[0]! : (r) => tests.every((t) => t(r));

  const t = req.throttle;
  const intervalMs = count(t?.interval_ms, 'throttle.interval_ms');
  const key = typeof t?.key === 'number' ? KEYS[t.key] : (t?.key ?? 'NONE');
  if (key === undefined || !KEYS.includes(key)) throw new SubscriptionError(`throttle.key: expected one of ${KEYS.join(', ')}, got '${String(t?.key)}'`);
  const include = fieldNames(req.fields?.include, 'fields.include');
  const exclude = fieldNames(req.fields?.exclude, 'fields.exclude');
  return {
    matches,
    // the types the condition can be true for, too: the hub then never shows it the others
    types: (types || -1) & (cond ? cond.types : -1),
    forMs: count(req.for_ms, 'for_ms'),
    limit: count(req.limit, 'limit'),
    throttle: intervalMs > 0 ? { intervalMs, key } : null,
    projection: include.length || exclude.length ? { include, exclude } : null,
    sinceMs: count(req.since_ms, 'since_ms'),
  };
}
