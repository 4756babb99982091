/**
 * Alert throttling declared in rules (`throttle: {key: [proc.name], window: 60s, max: 5}`) or as a
 * policy-engine default: per key, at most `max` alerts in a window of record time that starts
 * with the key's first alert. Further matches in the window are suppressed and counted. The first
 * alert of the key's next window carries the count (`suppressed`) and the start of the window it
 * covers.
 *
 * The state lives in a ThrottleStore owned by the engine, so it survives a policy reload for every
 * rule whose throttle did not change. Keys are bounded: beyond `capacity` the least recently
 * renewed key is dropped, and the store counts how many were dropped.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';

export interface ThrottleSpec {
  /** field names whose values make the key (none: one key for the rule) */
  readonly key: readonly string[];
  readonly windowMs: number;
  readonly max: number;
}

interface Entry {
  start: number;
  count: number;
  suppressed: number;
}

/** What admit() decided: suppress the match, or alert (carrying the previous window's suppressions). */
export interface Admission {
  alert: boolean;
  /** With alert: matches suppressed in the key's previous window (0: none). */
  suppressed: number;
  /** With suppressed > 0: the start of that window, ms since the epoch (record time). */
  windowStart: number;
}

export class Throttle {
  private readonly entries = new Map<string, Entry>();
  /** Matches suppressed so far. */
  suppressedTotal = 0;
  private readonly result: Admission = { alert: true, suppressed: 0, windowStart: 0 };

  constructor(
    readonly spec: ThrottleSpec,
    private readonly keyOf: (r: FlatRecord) => string,
    private readonly store: ThrottleStore,
  ) {}

  get keys(): number {
    return this.entries.size;
  }

  /** Decide on a match of r; the returned object is reused by the next call. */
  admit(r: FlatRecord): Admission {
    const now = r.rec.ts / 1e6;
    const k = this.keyOf(r);
    const res = this.result;
    const e = this.entries.get(k);
    if (e !== undefined && now - e.start < this.spec.windowMs) {
      if (e.count < this.spec.max) {
        e.count++;
        res.alert = true;
        res.suppressed = 0;
        return res;
      }
      e.suppressed++;
      this.suppressedTotal++;
      res.alert = false;
      return res;
    }
    // a new window for this key: carry what the last one suppressed
    res.alert = true;
    res.suppressed = e?.suppressed ?? 0;
    res.windowStart = e?.start ?? 0;
    if (e !== undefined) this.entries.delete(k);
    this.entries.set(k, { start: now, count: 1, suppressed: 0 });
    if (this.entries.size > this.store.capacity) {
      this.entries.delete(this.entries.keys().next().value!);
      this.store.evicted++;
    }
    return res;
  }
}

/** The engine's throttles by rule, kept across reloads while a rule's throttle stays the same. */
export class ThrottleStore {
  /** Keys dropped because a throttle held `capacity` keys. */
  evicted = 0;
  private readonly byRule = new Map<string, Throttle>();

  constructor(readonly capacity = 100_000) {}

  /** The throttle for a rule: its old one when the spec is unchanged (a reload), else a new one. */
  get(rule: string, spec: ThrottleSpec, keyOf: (r: FlatRecord) => string): Throttle {
    const old = this.byRule.get(rule);
    if (old && JSON.stringify(old.spec) === JSON.stringify(spec)) return old;
    const t = new Throttle(spec, keyOf, this);
    this.byRule.set(rule, t);
    return t;
  }

  /** Suppressed matches per rule, for the engine's summary. */
  totals(): { rules: number; suppressed: number; keys: number } {
    let suppressed = 0;
    let keys = 0;
    for (const t of this.byRule.values()) {
      suppressed += t.suppressedTotal;
      keys += t.keys;
    }
    return { rules: this.byRule.size, suppressed, keys };
  }
}
