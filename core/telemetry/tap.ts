/**
 * A subscription as the hub applies it on the pipeline thread: the filters and the throttle, which
 * read the record itself. Everything after (queue, limit, for, projection) is the telemetry thread's.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { SfType } from '../sysflow/types.js';
import type { Subscription, ThrottleKey } from './subscription.js';

/** Distinct throttle keys remembered; beyond it the oldest go (keys arrive in record-time order). */
const THROTTLE_KEYS = 100_000;

function throttleKey(key: ThrottleKey, r: FlatRecord): string {
  switch (key) {
    case 'PROCESS': {
      const p = r.proc;
      return p ? `${p.oid.hpid}:${p.oid.createTS}` : '';
    }
    case 'FILE': {
      if (r.sfType === SfType.NF || r.sfType === SfType.NE) {
        const n = r.rec as { sip: number; sport: number; dip: number; dport: number; proto: number };
        return `${n.proto}:${n.sip}:${n.sport}:${n.dip}:${n.dport}`;
      }
      return r.file?.path ?? '';
    }
    case 'RULE':
      return r.rules?.map((m) => m.name).join('\0') ?? '';
    default:
      return '';
  }
}

export class Tap {
  private readonly lastByKey = new Map<string, number>();

  constructor(
    readonly id: number,
    private readonly sub: Subscription,
  ) {}

  /** Can it take records of this SfType at all? */
  takesType(t: number): boolean {
    return (this.sub.types & (1 << t)) !== 0;
  }

  /** Do its filters take r (throttle aside)? */
  matches(r: FlatRecord): boolean {
    return this.sub.matches(r);
  }

  /** r matches: does the stream get it (true), or does its throttle hold it back? */
  admit(r: FlatRecord): boolean {
    const t = this.sub.throttle;
    if (t === null) return true;
    const k = throttleKey(t.key, r);
    const now = r.rec.ts / 1e6;
    const last = this.lastByKey.get(k);
    if (last !== undefined && now - last < t.intervalMs) return false;
    this.lastByKey.delete(k);
    this.lastByKey.set(k, now);
    if (this.lastByKey.size > THROTTLE_KEYS) this.lastByKey.delete(this.lastByKey.keys().next().value!);
    return true;
  }
}
