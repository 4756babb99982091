/** `sysflowreader`: keeps the entity cache and hands each flow/event to its handler. */
import { ConfigError } from '../errors.js';
import { EntityCache, DEFAULT_LIMITS } from '../sysflow/cache.js';
import type { SysFlowEvent, SysFlowRecord } from '../sysflow/types.js';
import { compileSettings, settingsOf, type ConfigSchema } from '../pipeline/settings.js';
import type { Emit, HandlerFactory, Lookup, Processor, ProcessorFactory } from '../pipeline/types.js';

const CONFIG: ConfigSchema = {
  properties: {
    handler: { type: 'string', description: 'handler name (built-in: flattener)' },
    'cache.processes': { type: 'integer', minimum: 1, default: DEFAULT_LIMITS.processes, description: 'max cached processes' },
    'cache.files': { type: 'integer', minimum: 1, default: DEFAULT_LIMITS.files, description: 'max cached files' },
  },
  // the handler's attributes share the entry (it checks its own)
  additionalProperties: true,
};
const SETTINGS = compileSettings(CONFIG, { scope: 'entry', reserved: ['processor'] });

export function readerFactory(handlers: Lookup<HandlerFactory>): ProcessorFactory {
  return {
    name: 'sysflowreader',
    description: 'entity cache; passes each flow/event with its context to the handler',
    inType: 'sysflowchan',
    outType: (attrs) => handlers.get(attrs.handler ?? '')?.outType ?? null,
    config: CONFIG,
    create(ctx) {
      const hf = handlers.get(ctx.attrs.handler ?? '');
      if (!hf) throw new ConfigError(`unknown handler '${ctx.attrs.handler}'`);
      const handler = hf.create(ctx);
      const c = settingsOf<{ 'cache.processes': number; 'cache.files': number }>(SETTINGS, ctx.attrs);
      const cache = new EntityCache({ processes: c['cache.processes'], files: c['cache.files'] });
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
