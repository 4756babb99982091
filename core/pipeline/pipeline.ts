/**
 * The running pipeline: typed RxJS channels carrying batches, one subscription per plugin.
 *
 * Lifecycle: build (every plugin created and configured, so bad settings fail before data flows) →
 * run (the driver pushes batches; each push passes synchronously through the tree) → drain (end of
 * input completes the root channel; completion cascades, each plugin's end() flushes it) → close.
 *
 * Backpressure: after each pushed batch the driver waits while any plugin reports ready() pending
 * (a transport that cannot keep up), so a slow consumer pauses the input instead of growing memory.
 */
// rxjs's entry point loads the whole library (~50 ms at start-up); the pipeline needs Subject only
import { Subject } from 'rxjs/internal/Subject';
import { MIGRATION_DOC, upstreamAttribute } from './upstream.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import type { PipelineConfig } from './config.js';
import type { Catalogue, DriverFactory, Emit, InputProgress, Processor, ProcessorFactory } from './types.js';
import type { SysFlowRecord } from '../sysflow/types.js';

export interface RunOptions {
  /** Called after each batch with the run's progress (the same object each time, updated in place). */
  progress?: (p: Readonly<RunProgress>) => void;
}

/** Where a run is: its input's progress, records pushed, and alerts so far (null: no policy engine). */
export interface RunProgress extends InputProgress {
  records: number;
  alerts: number | null;
}

export interface RunStats {
  batches: number;
  records: number;
  /** Times the driver waited for a slow consumer. */
  waits: number;
  /** Records that sinks were given and could neither deliver nor keep for a later run. */
  undelivered: number;
}

interface Node {
  label: string;
  proc: Processor;
}

export class Pipeline {
  private constructor(
    private readonly cfg: PipelineConfig,
    private readonly nodes: Node[],
    private readonly log: Logger,
  ) {}

  /** `cfg` must have passed validateGraph. */
  static async build(cfg: PipelineConfig, registry: Catalogue, log: Logger, checkOnly = false, report?: (text: string) => void): Promise<Pipeline> {
    const nodes: Node[] = [];
    try {
      for (const p of cfg.plugins) {
        const factory = registry.processors.get(p.processor)!;
        const plog = log.child({ plugin: `#${p.index} ${p.processor}` });
        warnUnknown(plog, `${cfg.file}: ${p.label}`, unknownAttributes(p, factory, registry));
        let proc: Processor;
        try {
          proc = await factory.create({ label: p.label, log: plog, attrs: p.attrs, checkOnly, report });
        } catch (e) {
          // whatever a stage's create() refuses is its entry's configuration
          throw new ConfigError(`${cfg.file}: ${p.label}: ${(e as Error).message}`);
        }
        nodes.push({ label: p.label, proc });
      }
    } catch (e) {
      await Promise.allSettled(nodes.map((n) => n.proc.close?.()));
      throw e;
    }
    return new Pipeline(cfg, nodes, log);
  }

  /** Run one driver to the end of its input (or until `signal` aborts), then drain and close; throws what failed. */
  async run(driver: DriverFactory, path: string | undefined, attrs: Record<string, string>, signal: AbortSignal): Promise<RunStats> {
    const { stats, error } = await this.execute(driver, path, attrs, signal);
    if (error) throw error;
    return stats;
  }

  /**
   * As run(), but a failure (the driver's, else a plugin's) is returned beside the counts of what was
   * processed before and drained after it, so the end-of-run summary is true in every case.
   */
  async execute(driver: DriverFactory, path: string | undefined, attrs: Record<string, string>, signal: AbortSignal, opts: RunOptions = {}): Promise<{ stats: RunStats; error: unknown }> {
    const subjects = new Map<string, Subject<unknown[]>>();
    const subject = (name: string) => {
      let s = subjects.get(name);
      if (!s) subjects.set(name, (s = new Subject<unknown[]>()));
      return s;
    };
    const ends: Promise<void>[] = [];
    let failure: Error | null = null;
    this.cfg.plugins.forEach((p, i) => {
      const { proc, label } = this.nodes[i]!;
      const outs = p.out.map((o) => subject(o.name));
      const emit: Emit<unknown> =
        outs.length === 0
          ? () => {}
          : outs.length === 1
            ? (b) => outs[0]!.next(b)
            : (b) => {
                for (const o of outs) o.next(b);
              };
      ends.push(
        new Promise<void>((resolve) => {
          subject(p.in.name).subscribe({
            next: (batch) => {
              if (failure) return;
              try {
                proc.process(batch, emit);
              } catch (e) {
                failure = new Error(`${label}: ${(e as Error).message}`);
              }
            },
            complete: () => {
              Promise.resolve()
                .then(() => (failure ? undefined : proc.end?.(emit)))
                .catch((e: Error) => {
                  failure ??= new Error(`${label}: ${e.message}`);
                })
                .finally(() => {
                  for (const o of outs) o.complete();
                  resolve();
                });
            },
          });
        }),
      );
    });
    const root = subject(this.cfg.plugins[0]!.in.name);
    const stats: RunStats = { batches: 0, records: 0, waits: 0, undelivered: 0 };
    const onProgress = opts.progress;
    const counters = this.nodes.flatMap((n) => (n.proc.alerts ? [n.proc as Required<Pick<Processor, 'alerts'>>] : []));
    // one object, updated in place (the driver keeps its input part current): nothing allocated per batch
    const progress: RunProgress = { filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesRead: 0, records: 0, alerts: counters.length ? 0 : null };
    let lastYield = Date.now();
    const aborted = new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    const push = async (batch: SysFlowRecord[]): Promise<void> => {
      if (failure) throw failure;
      stats.batches++;
      stats.records += batch.length;
      root.next(batch);
      if (failure) throw failure;
      if (onProgress) {
        progress.records = stats.records;
        if (progress.alerts !== null) {
          let a = 0;
          for (const c of counters) a += c.alerts();
          progress.alerts = a;
        }
        onProgress(progress);
      }
      let waits: Promise<void>[] | null = null;
      for (const n of this.nodes) {
        const w = n.proc.ready?.();
        if (w) (waits ??= []).push(w);
      }
      if (waits) {
        stats.waits++;
        // a signal ends the wait: the driver stops, and what is queued is drained (or spooled) at close
        await Promise.race([Promise.all(waits), aborted]);
        lastYield = Date.now();
      } else if (Date.now() - lastYield > 20) {
        // Let signals and timers run during long synchronous stretches.
        await new Promise<void>((r) => setImmediate(r));
        lastYield = Date.now();
      }
      if (failure) throw failure;
    };
    let driverError: unknown = null;
    try {
      await driver.run(path, { log: this.log.child({ driver: driver.name }), attrs, signal, push, progress });
    } catch (e) {
      driverError = e;
    }
    root.complete();
    await Promise.all(ends);
    await this.close();
    for (const n of this.nodes) stats.undelivered += n.proc.undelivered?.() ?? 0;
    return { stats, error: driverError ?? failure };
  }

  async close(): Promise<void> {
    const results = await Promise.allSettled(this.nodes.map((n) => n.proc.close?.()));
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected') this.log.error(`${this.nodes[i]!.label}: ${(r.reason as Error).message}`);
    }
  }
}

/**
 * One warning for the plain unknown attributes, and one per reason for sf-processor's keys that
 * sfprocessor ignores (old spellings, features it does not have), naming the migration guide.
 */
function warnUnknown(log: Logger, where: string, keys: readonly string[]): void {
  const plain: string[] = [];
  const byWhy = new Map<string, string[]>();
  for (const k of keys) {
    const why = upstreamAttribute(k);
    if (why === undefined) plain.push(k);
    else byWhy.set(why, [...(byWhy.get(why) ?? []), k]);
  }
  const list = (ks: string[]) => `attribute${ks.length > 1 ? 's' : ''} ${ks.map((k) => `'${k}'`).join(', ')}`;
  if (plain.length) log.warn(`${where}: unknown ${list(plain)} ignored`);
  for (const [why, ks] of byWhy) log.warn(`${where}: ${list(ks)} ignored: ${why} (see ${MIGRATION_DOC})`);
}

/**
 * Attributes written for a built-in processor that nothing reads (a typo such as `fiel.path`
 * would otherwise pass silently). `<name>.x` is left to the plugin of that name: handlers, encoders,
 * transports and actions share their entry. Plugin processors validate their own entries.
 */
function unknownAttributes(p: PipelineConfig['plugins'][number], factory: ProcessorFactory, registry: Catalogue): string[] {
  if (factory.origin !== undefined) return [];
  const known = new Set(['processor', ...Object.keys(factory.config.properties)]);
  const handler = p.attrs.handler === undefined ? undefined : registry.handlers.get(p.attrs.handler);
  for (const k of Object.keys(handler?.config.properties ?? {})) known.add(k);
  const owners = new Set(registry.attributeOwners());
  return p.written.filter((k) => !known.has(k) && !owners.has(k.split('.')[0]!));
}
