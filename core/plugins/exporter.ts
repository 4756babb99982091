/**
 * `exporter`: encodes records (`format`) and ships them (`export`). Encoders write straight into the
 * transport's byte sink; the sink is flushed after every batch (or every `buffer` records), so
 * records reach their destination in order and no later than the end of their batch.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import type { Registry } from '../pipeline/registry.js';
import type { Processor, ProcessorFactory } from '../pipeline/types.js';

export function exporterFactory(registry: Registry): ProcessorFactory {
  return {
    name: 'exporter',
    description: 'encodes records and sends them to a transport',
    inType: 'eventchan',
    outType: null,
    attributes: {
      export: `transport: ${registry.transports.names().join(', ') || 'terminal, file, null'} (default terminal)`,
      format: 'encoder: json (default)',
      buffer: 'records per flush (default 0: flush after every batch)',
      'file.path': 'file transport: output path, appended to (default ./export.out)',
    },
    async create(ctx) {
      const exportName = ctx.attrs.export ?? 'terminal';
      const formatName = ctx.attrs.format ?? 'json';
      const tf = registry.transports.get(exportName);
      if (!tf) throw new Error(`attribute 'export': unknown transport '${exportName}' (available: ${registry.transports.names().join(', ')})`);
      const ef = registry.encoders.get(formatName);
      if (!ef) throw new Error(`attribute 'format': unknown encoder '${formatName}' (available: ${registry.encoders.names().join(', ')})`);
      const bufRaw = ctx.attrs.buffer ?? '0';
      const buffer = Number(bufRaw);
      if (!Number.isInteger(buffer) || buffer < 0) throw new Error(`attribute 'buffer': expected a whole number of records, got '${bufRaw}'`);
      const encoder = ef.create(ctx.attrs);
      if (ctx.checkOnly) {
        tf.check?.(ctx.attrs);
        return { process() {} } as Processor;
      }
      const transport = await tf.create(ctx.attrs, ctx.log);
      const sink = transport.sink;
      let pending = 0;
      let exported = 0;
      const proc: Processor<FlatRecord, never> = {
        process(batch) {
          for (let i = 0; i < batch.length; i++) encoder.encode(batch[i]!, sink);
          exported += batch.length;
          pending += batch.length;
          if (pending >= buffer) {
            sink.flush();
            pending = 0;
          }
        },
        end() {
          sink.flush();
        },
        ready: () => transport.ready(),
        async close() {
          await transport.close();
          ctx.log.debug(`exported ${exported} records via ${exportName}`);
        },
      };
      return proc as Processor;
    },
  };
}
