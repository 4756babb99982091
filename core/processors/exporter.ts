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
import { DELIVERY_ATTRIBUTES } from '../export/options.js';
import { UPSTREAM_FORMATS, UPSTREAM_TRANSPORTS, upstreamNote } from '../pipeline/upstream.js';


/** Highest priority of the rules a record matched (0 when none). */
function maxPriority(r: FlatRecord): number {
  let p = 0;
  if (r.rules) for (const m of r.rules) if (m.priority > p) p = m.priority;
  return p;
}

export function exporterFactory(registry: { readonly encoders: Lookup<EncoderFactory>; readonly transports: Lookup<TransportFactory> }): ProcessorFactory {
  return {
    name: 'exporter',
    description: 'encodes records and sends them to a transport',
    inType: 'eventchan',
    outType: null,
    attributes: {
      // the built-ins are registered before this factory is made (core/plugins/builtin.ts)
      export: `transport: ${registry.transports.names().join(', ')}, or a plugin's (default terminal)`,
      format: `encoder: ${registry.encoders.names().join(', ')}, or a plugin's (default json)`,
      buffer: 'records per flush (default 0: flush after every batch)',
      'file.path': 'file transport: output path, appended to (default ./export.out)',
      'file.rotate.size': 'file transport: rotate when the file reaches this size, e.g. 100M',
      'file.rotate.interval': 'file transport: rotate when the file is this old, e.g. 1h or 1d',
      'file.rotate.keep': 'file transport: rotated files kept as <path>.1 (newest) … <path>.N (default 5; 0 keeps none)',
      'syslog.proto': 'syslog: tcp (default), udp or tls',
      'syslog.host': 'syslog: server host (default localhost)',
      'syslog.port': 'syslog: server port (default 514)',
      'syslog.tag': 'syslog: tag, sent as the RFC 5424 MSGID (default sysflow)',
      'syslog.source': 'syslog: HOSTNAME field (default: this host name)',
      'syslog.facility': 'syslog: facility name (default daemon); severity follows the rule priority',
      'syslog.framing': 'syslog: newline (default for tcp) or octet-counting (RFC 6587; default for tls, RFC 5425)',
      'syslog.tls.ca': 'syslog tls: CA certificate file (PEM) that signed the server certificate (default: the system CAs)',
      'syslog.tls.cert': 'syslog tls: client certificate file (PEM), for servers that require one',
      'syslog.tls.key': 'syslog tls: client key file (PEM)',
      'syslog.tls.servername': 'syslog tls: name expected in the server certificate (default: syslog.host)',
      'syslog.tls.verify': 'syslog tls: false skips server certificate verification (logged; not recommended)',
      'es.addresses': 'es: comma-separated cluster URLs',
      'es.index': 'es: index name; %Y %m %d take the record date (UTC), e.g. sysflow-%Y.%m.%d (default sysflow)',
      'es.username': 'es: basic-auth user (or a vault file es.username)',
      'es.password': 'es: basic-auth password (or a vault file es.password); never logged',
      'es.apikey': 'es: API key, instead of user and password (or a vault file es.apikey); never logged',
      'es.bulk.numWorkers': 'es: concurrent bulk requests (default 2)',
      'es.bulk.flushBuffer': 'es: bulk request size, e.g. 5M (default 5000000 bytes)',
      'es.bulk.flushTimeout': 'es: longest wait before a partial bulk request is sent (default 30s)',
      'es.tls.ca': 'es: CA certificate file (PEM) for https clusters with their own CA',
      'es.tls.verify': 'es: false skips certificate verification (logged; not recommended)',
      'es.template': 'es: true installs the bundled ECS index template at start; or a template JSON file',
      'vault.secrets': 'true: read es.username, es.password, es.apikey from files in vault.path',
      'vault.path': 'secrets directory (default /run/secrets)',
      'vault.encoding': 'none (default) or base64: how secret files are encoded',
      ...DELIVERY_ATTRIBUTES,
    },
    async create(ctx) {
      const exportName = ctx.attrs.export ?? 'terminal';
      const formatName = ctx.attrs.format ?? 'json';
      const tf = registry.transports.get(exportName);
      if (!tf) {
        throw new ConfigError(`attribute 'export': unknown transport '${exportName}'${upstreamNote(UPSTREAM_TRANSPORTS, exportName)} (available: ${registry.transports.names().join(', ')})`);
      }
      const ef = registry.encoders.get(formatName);
      if (!ef) throw new ConfigError(`attribute 'format': unknown encoder '${formatName}'${upstreamNote(UPSTREAM_FORMATS, formatName)} (available: ${registry.encoders.names().join(', ')})`);
      const bufRaw = ctx.attrs.buffer ?? '0';
      const buffer = Number(bufRaw);
      if (!Number.isInteger(buffer) || buffer < 0) throw new ConfigError(`attribute 'buffer': expected a whole number of records, got '${bufRaw}'`);
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
