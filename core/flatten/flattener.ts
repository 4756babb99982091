/**
 * The `flattener` handler: each flow/event becomes a FlatRecord joined with its process, parent,
 * container, pod and files. With `filter.enabled: on`, a time-decay rate limiter drops records that
 * repeat the same behaviour (same process, user, op flags and resource) within `filter.maxage`
 * seconds of its first sighting, as sf-processor does.
 */
import { FlatRecord } from './flatrecord.js';
import type { EntityCache } from '../sysflow/cache.js';
import { newContext, resolve } from '../sysflow/context.js';
import { SfType, type Process, type SysFlowEvent } from '../sysflow/types.js';
import type { Handler, HandlerFactory, StageContext } from '../pipeline/types.js';
import { compileSettings, settingsOf, type ConfigSchema } from '../pipeline/settings.js';

class RateLimiter {
  private readonly seen = new Map<string, number>();
  dropped = 0;
  constructor(private readonly maxAgeMs: number) {}

  /** True if the record should be dropped. */
  check(r: FlatRecord, now: number): boolean {
    // Evict by first-seen time (Map order is insertion order).
    for (const [k, t] of this.seen) {
      if (now - t < this.maxAgeMs) break;
      this.seen.delete(k);
    }
    const key = semanticKey(r);
    if (this.seen.has(key)) {
      this.dropped++;
      return true;
    }
    this.seen.set(key, now);
    return false;
  }
}

function semanticKey(r: FlatRecord): string {
  const p = r.proc;
  const rec = r.rec as { opFlags?: number; sip?: number; dip?: number; dport?: number; proto?: number };
  let k = `${p?.exe ?? ''}\u0000${p?.exeArgs ?? ''}\u0000${p?.uid ?? ''}\u0000${p?.gid ?? ''}\u0000${rec.opFlags ?? ''}\u0000${p?.tty ?? ''}`;
  if (r.sfType === SfType.NF) k += `\u0000${rec.sip}\u0000${rec.dip}\u0000${rec.dport}\u0000${rec.proto}`;
  else if (r.file) k += '\u0000' + r.file.path;
  return k;
}

class Flattener implements Handler<FlatRecord> {
  private readonly limiter: RateLimiter | null;
  private ancestryFn: ((p: Process) => readonly Process[]) | null = null;
  private ancestryCache: EntityCache | null = null;
  private readonly ctx = newContext();
  /** The last evt.seq given: one count per reader, across files, connections and policy reloads. */
  private seq = 0;

  constructor(ctx: StageContext) {
    const c = settingsOf<{ 'filter.enabled': boolean; 'filter.maxage': number }>(SETTINGS, ctx.attrs);
    this.limiter = c['filter.enabled'] ? new RateLimiter(c['filter.maxage'] * 1000) : null;
    if (this.limiter) ctx.log.info(`rate limiter on, time decay ${c['filter.maxage']} s`);
  }

  event(rec: SysFlowEvent, cache: EntityCache, out: FlatRecord[]): void {
    if (this.ancestryCache !== cache) {
      this.ancestryCache = cache;
      this.ancestryFn = (p) => cache.ancestryOf(p);
    }
    const c = resolve(cache, rec, this.ctx);
    const r = new FlatRecord(rec.sfType, rec, c.header, c.proc, c.pproc, c.cont, c.pod, c.file1, c.file2, this.ancestryFn);
    if (this.limiter && rec.sfType !== SfType.KE && this.limiter.check(r, Date.now())) return;
    r.seq = ++this.seq;
    out.push(r);
  }
}

const CONFIG: ConfigSchema = {
  properties: {
    'filter.enabled': { type: 'boolean', default: false, description: 'on or off: drop records repeating a behaviour seen within filter.maxage (default off)' },
    'filter.maxage': { type: 'number', exclusiveMinimum: 0, default: 86400, description: 'seconds a behaviour is remembered by the rate limiter' },
  },
};
// the reader's own attributes share the entry (it checks them)
const SETTINGS = compileSettings(CONFIG, { scope: 'prefixed', prefix: 'filter.' });

export const flattenerHandler: HandlerFactory = {
  name: 'flattener',
  description: 'joins each flow/event with its entities into a flat record',
  outType: 'flattenerchan',
  config: CONFIG,
  create: (ctx) => new Flattener(ctx),
};
