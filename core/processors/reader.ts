/** `sysflowreader`: keeps the entity cache and hands each flow/event to its handler. */
import { ConfigError } from '../errors.js';
import { EntityCache, DEFAULT_LIMITS } from '../sysflow/cache.js';
import type { SysFlowEvent, SysFlowRecord } from '../sysflow/types.js';
import type { Emit, HandlerFactory, Lookup, Processor, ProcessorFactory } from '../pipeline/types.js';

function limit(attrs: Readonly<Record<string, string>>, key: string, dflt: number): number {
  const raw = attrs[key];
  if (raw === undefined) return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`attribute '${key}': expected a positive integer, got '${raw}'`);
  return n;
}

export function readerFactory(handlers: Lookup<HandlerFactory>): ProcessorFactory {
  return {
    name: 'sysflowreader',
    description: 'entity cache; passes each flow/event with its context to the handler',
    inType: 'sysflowchan',
    outType: (attrs) => handlers.get(attrs.handler ?? '')?.outType ?? null,
    attributes: {
      handler: 'handler name (built-in: flattener)',
      'cache.processes': `max cached processes (default ${DEFAULT_LIMITS.processes})`,
      'cache.files': `max cached files (default ${DEFAULT_LIMITS.files})`,
    },
    create(ctx) {
      const hf = handlers.get(ctx.attrs.handler ?? '');
      if (!hf) throw new ConfigError(`unknown handler '${ctx.attrs.handler}'`);
      const handler = hf.create(ctx);
      const cache = new EntityCache({
        processes: limit(ctx.attrs, 'cache.processes', DEFAULT_LIMITS.processes),
        files: limit(ctx.attrs, 'cache.files', DEFAULT_LIMITS.files),
      });
      const proc: Processor<SysFlowRecord, unknown> = {
        process(batch, emit: Emit<unknown>) {
          const out: unknown[] = [];
          for (let i = 0; i < batch.length; i++) {
            const rec = batch[i]!;
            if (cache.update(rec)) continue;
            handler.event(rec as SysFlowEvent, cache, out);
          }
          if (out.length) emit(out);
        },
        end() {
          handler.end?.();
        },
      };
      return proc as Processor;
    },
  };
}
