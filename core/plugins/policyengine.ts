/**
 * `policyengine`. Modes: `alert` forwards only records that match a rule; `enrich` forwards every
 * record, annotated with the rules it matched. Without `policies`, enrich mode passes every record
 * through untouched (sf-processor's bypass); alert mode then has nothing to alert on and is refused.
 */
import type { Processor, ProcessorFactory } from '../pipeline/types.js';

export const policyEngineFactory: ProcessorFactory = {
  name: 'policyengine',
  description: 'evaluates policies on flat records (alert or enrich mode)',
  inType: 'flattenerchan',
  outType: 'eventchan',
  attributes: {
    mode: 'alert (default) or enrich',
    policies: 'policy file or directory of *.yaml/*.yml',
  },
  create(ctx) {
    const mode = (ctx.attrs.mode ?? 'alert').toLowerCase();
    if (mode !== 'alert' && mode !== 'enrich') throw new Error(`attribute 'mode': expected 'alert' or 'enrich', got '${ctx.attrs.mode}'`);
    const policies = ctx.attrs.policies;
    if (policies === undefined || policies === '') {
      if (mode === 'alert') throw new Error(`attribute 'policies' is required in alert mode (use mode 'enrich' to pass records through without policies)`);
      ctx.log.debug('no policies: passing every record through (enrich bypass)');
      const bypass: Processor = { process: (batch, emit) => emit(batch as unknown[]) };
      return bypass;
    }
    throw new Error(`attribute 'policies': this version cannot evaluate policy files yet; remove 'policies' and use mode 'enrich' to pass records through`);
  },
};
