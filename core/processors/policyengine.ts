/**
 * `policyengine`. Modes: `alert` forwards only records that match a rule (each carrying its matched
 * rules); `enrich` forwards every record not dropped by a filter, annotated with what matched.
 * Without `policies`, enrich mode passes every record through untouched (sf-processor's bypass);
 * alert mode then has nothing to alert on and is refused.
 *
 * A whole batch is evaluated against one policy set, so a hot reload (`monitor: local`) swaps sets
 * between batches: no record is lost or evaluated twice.
 */
import { ConfigError } from '../errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { FlatRecord } from '../flatten/flatrecord.js';
import type { Logger } from '../log.js';
import type { Emit, Lookup, Processor, ProcessorFactory } from '../pipeline/types.js';
import { compileSettings, durationOf, settingsOf, type ConfigSchema } from '../pipeline/settings.js';
import { lookupField } from '../policy/field-lookup.js';
import { commaList } from '../util/list.js';
import { ThrottleStore, type ThrottleSpec } from '../policy/throttle.js';
import { loadPolicySet, type Action, type ActionFactory, type PolicySet } from '../policy/policyset.js';
import { policyFiles, policyPaths } from '../policy/definitions.js';
import { formatReport } from '../policy/report.js';

type Mode = 'alert' | 'enrich';

/** The actions of a set's rules that observe every record (none in most sets). */
function observersOf(set: PolicySet): Action[] {
  return [...new Set(set.rules.flatMap((r) => r.actions))].filter((a) => a.observe !== undefined);
}

class PolicyEngine implements Processor<FlatRecord, FlatRecord> {
  private readonly out: FlatRecord[] = [];
  private matched = 0;
  private observers: Action[];
  constructor(
    private set: PolicySet,
    private readonly mode: Mode,
  ) {
    this.observers = observersOf(set);
  }

  process(batch: readonly FlatRecord[], emit: Emit<FlatRecord>): void {
    const set = this.set; // one set per batch (reload atomicity)
    for (let i = 0; i < this.observers.length; i++) this.observers[i]!.observe!(batch);
    const enrich = this.mode === 'enrich';
    const out = this.out;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      if (set.dropped(r)) continue;
      if (set.evaluate(r)) {
        this.matched++;
        out.push(r);
      } else if (enrich) out.push(r);
    }
    if (out.length) {
      emit(out.slice());
      out.length = 0;
    }
  }

  alerts(): number {
    return this.matched;
  }

  swap(set: PolicySet): void {
    this.set = set;
    this.observers = observersOf(set);
  }
  get current(): PolicySet {
    return this.set;
  }
}

/** Fingerprint of the policy files' contents (reload only on real changes). */
function contentHash(p: string): string {
  const h = createHash('sha256');
  for (const f of policyPaths(p).flatMap(policyFiles)) {
    h.update(f);
    h.update('\0');
    h.update(fs.readFileSync(f));
    h.update('\0');
  }
  return h.digest('hex');
}

/** Describe the difference between two policy sets in one line. */
export function describeChange(prev: PolicySet, next: PolicySet): string {
  const a = prev.fingerprints;
  const b = next.fingerprints;
  const added = [...b.keys()].filter((k) => !a.has(k));
  const removed = [...a.keys()].filter((k) => !b.has(k));
  const changed = [...b.keys()].filter((k) => a.has(k) && a.get(k) !== b.get(k));
  const list = (xs: string[]) =>
    xs.length > 5
      ? `${xs
          .slice(0, 5)
          .map((x) => `'${x}'`)
          .join(', ')} and ${xs.length - 5} more`
      : xs.map((x) => `'${x}'`).join(', ');
  const parts = [added.length && `added ${list(added)}`, removed.length && `removed ${list(removed)}`, changed.length && `changed ${list(changed)}`].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no rule changed (lists, macros or filters only)';
}

class Monitor {
  private timer: NodeJS.Timeout | null = null;
  private watcher: fs.FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private hash: string;
  private lastError = '';

  constructor(
    private readonly policies: string,
    private readonly engine: PolicyEngine,
    private readonly load: () => PolicySet,
    private readonly log: Logger,
    intervalMs: number,
  ) {
    this.hash = contentHash(policies);
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
    try {
      const st = fs.statSync(policies);
      const dir = st.isDirectory() ? policies : path.dirname(policies);
      this.watcher = fs.watch(dir, { recursive: st.isDirectory(), persistent: false }, () => this.soon());
      this.watcher.on('error', () => {});
    } catch {
      // polling alone still works
    }
  }

  private soon(): void {
    if (this.debounce) clearTimeout(this.debounce);
    // editors write in several steps: wait for the burst to settle
    this.debounce = setTimeout(() => this.check(), 200);
    this.debounce.unref();
  }

  check(): void {
    let next: PolicySet;
    try {
      const hash = contentHash(this.policies);
      if (hash === this.hash) return;
      this.hash = hash; // a broken version is compiled once, not at every check
      next = this.load();
    } catch (err) {
      // said once per distinct problem, not at every check while the files stay broken
      const msg = `policy reload failed, keeping the previous policies: ${(err as Error).message}`;
      if (msg !== this.lastError) this.log.error(msg);
      this.lastError = msg;
      return;
    }
    this.lastError = '';
    const prev = this.engine.current;
    this.engine.swap(next);
    const s = next.summary();
    this.log.info(`policies reloaded from ${this.policies}: ${describeChange(prev, next)} (${next.rules.length} rules active, ${s.unsupported} unsupported, ${next.filterCount} filters)`);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher?.close();
  }
}

const CONFIG: ConfigSchema = {
  properties: {
    mode: { type: 'string', enum: ['alert', 'enrich'], default: 'alert', description: 'alert or enrich' },
    policies: { type: 'string', description: 'policy file or directory of *.yaml/*.yml' },
    language: {
      type: 'string',
      enum: ['falco', 'sigma'],
      default: 'falco',
      description: 'falco or sigma: either reads both kinds of file (a Sigma document is recognised by its detection and logsource)',
    },
    config: { type: 'string', description: 'sigma: a Sigma backend config whose fieldmappings apply to the rules (as sf-processor; the built-in mapping covers its sysflow.yml)' },
    monitor: { type: 'string', enum: ['none', 'local'], default: 'none', description: 'none or local: reload policies when the files change' },
    'monitor.interval': { type: 'number', exclusiveMinimum: 0, default: 30, description: 'seconds between checks for changes when monitoring (file events trigger a check at once)' },
    'throttle.max': { type: 'integer', minimum: 1, description: 'default throttle for rules without their own: at most this many alerts per key and window (unset: no default throttle)' },
    'throttle.window': { type: 'string', format: 'duration', default: '60s', description: "the default throttle's window (record time), e.g. 60s, 5m" },
    'throttle.key': { type: 'string', default: '', description: "the default throttle's key: policy fields, comma-separated (empty: one key per rule)" },
    'throttle.keys': { type: 'integer', minimum: 1, default: 100_000, description: 'keys each throttle remembers at most; beyond it the oldest go, counted' },
    concurrency: { type: 'integer', minimum: 1, description: 'accepted for compatibility; evaluation is single-threaded (see README)' },
  },
  // rule actions read their own `<action>.x` attributes from this entry
  additionalProperties: true,
};
const SETTINGS = compileSettings(CONFIG, { scope: 'entry', reserved: ['processor'] });

interface PolicyEngineSettings {
  readonly mode: 'alert' | 'enrich';
  readonly policies?: string;
  readonly language: 'falco' | 'sigma';
  readonly config?: string;
  readonly monitor: 'none' | 'local';
  readonly 'monitor.interval': number;
  readonly 'throttle.max'?: number;
  readonly 'throttle.window': string;
  readonly 'throttle.key': string;
  readonly 'throttle.keys': number;
}

/** The engine-wide default throttle from `throttle.*`, or null. */
function defaultThrottle(c: PolicyEngineSettings): ThrottleSpec | null {
  if (c['throttle.max'] === undefined) return null;
  const windowMs = durationOf(c['throttle.window']);
  if (windowMs === null || windowMs <= 0) throw new ConfigError(`attribute 'throttle.window': expected a duration such as 60s or 5m, got '${c['throttle.window']}'`);
  const key = commaList(c['throttle.key']);
  for (const f of key) {
    try {
      lookupField(f, null);
    } catch (e) {
      throw new ConfigError(`attribute 'throttle.key': ${(e as Error).message}`);
    }
  }
  return { key, windowMs, max: c['throttle.max'] };
}

/** The policy engine; `actions` are the rule actions plugins registered (looked up when an engine is made). */
export function policyEngineFactory(actionTable: Lookup<ActionFactory>): ProcessorFactory {
  return {
    name: 'policyengine',
    description: 'evaluates policies on flat records (alert or enrich mode)',
    inType: 'flattenerchan',
    outType: 'eventchan',
    config: CONFIG,
    create(ctx) {
      const c = settingsOf<PolicyEngineSettings>(SETTINGS, ctx.attrs);
      const { mode, monitor } = c;
      const interval = c['monitor.interval'];
      const sigmaConfig = c.config || undefined;
      const policies = c.policies;
      if (policies === undefined || policies === '') {
        if (mode === 'alert') throw new ConfigError(`attribute 'policies' is required in alert mode (use mode 'enrich' to pass records through without policies)`);
        ctx.log.debug('no policies: passing every record through (enrich bypass)');
        const bypass: Processor = { process: (batch, emit) => emit(batch as unknown[]) };
        return bypass;
      }
      // rule actions registered by plugins (`actions: [name]`), created once for this engine
      const actions = new Map<string, Action>();
      for (const name of actionTable.names()) actions.set(name, actionTable.get(name)!.create(ctx));
      // throttle state outlives reloads: rules whose throttle is unchanged keep counting
      const throttles = new ThrottleStore(c['throttle.keys']);
      const throttleDefault = defaultThrottle(c);
      const load = () => loadPolicySet(policies, { actions, sigmaConfig, throttles, throttleDefault });
      const set = load();
      for (const w of set.warnings) ctx.log.warn(w);
      const s = set.summary();
      ctx.log.info(
        `loaded ${set.rules.length} rules and ${set.filterCount} filters from ${set.files.length} policy files (${s.approximated} approximated, ${s.unsupported} unsupported, ${s.disabled} disabled)`,
      );
      if (ctx.checkOnly) {
        ctx.report?.(formatReport(policies, set));
        return { process: () => {} };
      }
      const engine = new PolicyEngine(set, mode);
      // actions that hold connections or running work (capture) finish with the pipeline
      const closeActions = async () => {
        for (const a of actions.values()) await a.close?.();
        const t = throttles.totals();
        if (t.suppressed > 0 || throttles.evicted > 0)
          ctx.log.info(`throttle: ${t.suppressed} matches suppressed by ${t.rules} rule throttles, ${throttles.evicted} keys dropped at the cap of ${throttles.capacity}`);
      };
      const mon = monitor === 'local' ? new Monitor(policies, engine, load, ctx.log, interval * 1000) : null;
      return {
        process: (b, e) => engine.process(b as FlatRecord[], e as Emit<FlatRecord>),
        alerts: () => engine.alerts(),
        close: async () => {
          mon?.close();
          await closeActions();
        },
      } as Processor;
    },
  };
}
