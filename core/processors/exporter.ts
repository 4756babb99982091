/**
 * `exporter`: encodes records (`format`) and ships them (`export`). For byte transports (terminal,
 * file) encoders write straight into the transport's byte sink, flushed after every batch (or every
 * `buffer` records), so records reach their destination in order and no later than the end of their
 * batch. Message transports (syslog, es) get each record encoded on its own, with its priority, time
 * and document id, and queue it for delivery.
 */
import { ConfigError } from '../errors.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import type { Lookup, Processor, ProcessorFactory } from '../pipeline/types.js';
import { isMessageTransport, type EncoderFactory, type TransportFactory } from '../export/types.js';
import { Scratch } from '../util/bytes.js';
import { compileSettings, settingsOf, type AttributeSchema, type ConfigSchema } from '../pipeline/settings.js';
import { UPSTREAM_FORMATS, UPSTREAM_TRANSPORTS, upstreamNote } from '../pipeline/upstream.js';

/** Highest priority of the rules a record matched (0 when none). */
function maxPriority(r: FlatRecord): number {
  let p = 0;
  if (r.rules) for (const m of r.rules) if (m.priority > p) p = m.priority;
  return p;
}

const OWN: ConfigSchema['properties'] = {
  buffer: { type: 'integer', minimum: 0, default: 0, description: 'records per flush (0: flush after every batch)' },
};
// the transport and encoder read theirs from this entry
const SETTINGS = compileSettings({ properties: OWN, additionalProperties: true }, { scope: 'entry', reserved: ['processor'] });

/** The exporter's own attributes, then each transport's in the registry's order (help and docs list them all). */
function composedConfig(registry: { readonly encoders: Lookup<EncoderFactory>; readonly transports: Lookup<TransportFactory> }): ConfigSchema {
  const properties: Record<string, AttributeSchema> = {
    export: { type: 'string', default: 'terminal', description: `transport: ${registry.transports.names().join(', ')}, or a plugin's` },
    format: { type: 'string', default: 'json', description: `encoder: ${registry.encoders.names().join(', ')}, or a plugin's` },
    ...OWN,
  };
  for (const n of registry.transports.names()) Object.assign(properties, registry.transports.get(n)?.config?.properties);
  for (const n of registry.encoders.names()) Object.assign(properties, registry.encoders.get(n)?.config?.properties);
  return { properties, additionalProperties: true };
}

export function exporterFactory(registry: { readonly encoders: Lookup<EncoderFactory>; readonly transports: Lookup<TransportFactory> }): ProcessorFactory {
  return {
    name: 'exporter',
    description: 'encodes records and sends them to a transport',
    inType: 'eventchan',
    outType: null,
    // the built-in transports are registered before this factory is made (core/plugins/builtin.ts)
    config: composedConfig(registry),
    async create(ctx) {
      const exportName = ctx.attrs.export ?? 'terminal';
      const formatName = ctx.attrs.format ?? 'json';
      const tf = registry.transports.get(exportName);
      if (!tf) {
        throw new ConfigError(`attribute 'export': unknown transport '${exportName}'${upstreamNote(UPSTREAM_TRANSPORTS, exportName)} (available: ${registry.transports.names().join(', ')})`);
      }
      const ef = registry.encoders.get(formatName);
      if (!ef) throw new ConfigError(`attribute 'format': unknown encoder '${formatName}'${upstreamNote(UPSTREAM_FORMATS, formatName)} (available: ${registry.encoders.names().join(', ')})`);
      const { buffer } = settingsOf<{ buffer: number }>(SETTINGS, ctx.attrs);
      const encoder = ef.create(ctx.attrs);
      if (ctx.checkOnly) {
        tf.check?.(ctx.attrs);
        return { process() {} } as Processor;
      }
      const transport = await tf.create(ctx.attrs, ctx.log);
      let encodeBatch: (batch: readonly FlatRecord[]) => void;
      let end: (() => void) | undefined;
      if (isMessageTransport(transport)) {
        // one message per record: encode each on its own
        const scratch = new Scratch();
        encodeBatch = (batch) => {
          for (let i = 0; i < batch.length; i++) {
            const r = batch[i]!;
            encoder.encode(r, scratch);
            let body = scratch.take();
            if (body.length && body[body.length - 1] === 10) body = body.subarray(0, body.length - 1);
            const id = encoder.docId?.(r);
            transport.send({ body, priority: maxPriority(r), ts: r.rec.ts / 1e6, ...(id !== undefined ? { id } : {}) });
          }
        };
      } else {
        const sink = transport.sink;
        let pending = 0;
        encodeBatch = (batch) => {
          for (let i = 0; i < batch.length; i++) encoder.encode(batch[i]!, sink);
          pending += batch.length;
          if (pending >= buffer) {
            sink.flush();
            pending = 0;
            transport.boundary?.();
          }
        };
        end = () => sink.flush();
      }
      let exported = 0;
      const proc: Processor<FlatRecord, never> = {
        process(batch) {
          encodeBatch(batch);
          exported += batch.length;
        },
        ...(end ? { end } : {}),
        ready: () => transport.ready(),
        async close() {
          await transport.close();
          ctx.log.debug(`exported ${exported} records via ${exportName}`);
        },
        undelivered: () => (isMessageTransport(transport) ? (transport.undelivered?.() ?? 0) : 0),
      };
      return proc as Processor;
    },
  };
}
