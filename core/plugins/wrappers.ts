/**
 * Descriptors → the registry's factories: each plugin kind wrapped so that its settings are checked,
 * its context built and every call of plugin code guarded (one error line naming file and plugin).
 */
import { PluginError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Registry } from './registry.js';
import type { Attributes, DriverRunContext, Handler, StageContext, Processor } from '../pipeline/types.js';
import type { Encoder, MessageTransport } from '../export/types.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import type { EntityCache } from '../sysflow/cache.js';
import type { SysFlowEvent } from '../sysflow/types.js';
import { SF_FIELDS } from '../flatten/fields.js';
import { flattenerHandler } from '../flatten/flattener.js';
import { jsonText } from '../export/encoders/json.js';
import { DeliveryTransport } from '../export/options.js';
import { noFailures } from '../export/delivery.js';
import { JSON_SCHEMA_VERSION } from '../version.js';
import {
  PLUGIN_API_VERSION,
  type ActionPlugin,
  type ChannelPlugin,
  type Config,
  type DeliveryLink,
  type DeliveryOptions,
  type DriverPlugin,
  type EncoderPlugin,
  type HandlerPlugin,
  type Plugin,
  type PluginContext,
  type ProcessorPlugin,
  type RecordTransport,
  type TransportPlugin,
} from '../api.js';
import { messageOf, show } from './descriptor.js';
import { settingsOf, type Settings } from './settings.js';
import type { ConfigSchema } from '../pipeline/settings.js';

const NO_CONFIG: ConfigSchema = { properties: {} };

/** sf.* field getter by name (`sf.ke.message[items.0.name]` style arguments included). */
function fieldGetter(name: string): (r: FlatRecord) => unknown {
  const m = /^([^[\]]+)(?:\[(.*)\])?$/.exec(name);
  const def = m ? SF_FIELDS.get(m[1]!) : undefined;
  if (!def) throw new PluginError(`unknown field '${name}' (the sf.* fields are listed by 'sfprocessor -listfields')`);
  if (m![2] === undefined) return def.get;
  if (!def.withArg) throw new PluginError(`field '${m![1]}' takes no [argument]`);
  return def.withArg(m![2]).get;
}

export interface Origin {
  readonly file: string;
  readonly where: string;
  readonly log: Logger;
}

export function context(p: Plugin, o: Origin, label: string, log: Logger, attrs: Attributes, config: Config, checkOnly: boolean): PluginContext {
  return {
    name: p.name,
    file: o.file,
    label,
    log,
    attrs,
    config,
    checkOnly,
    apiVersion: PLUGIN_API_VERSION,
    field: fieldGetter,
    json: jsonText(attrs.jsonschemaversion ?? String(JSON_SCHEMA_VERSION)),
  };
}

/** Run plugin code; a throw becomes one line naming the file and plugin. */
export function guard<T>(o: Origin, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new PluginError(`${o.where}: ${what}${messageOf(e)}`);
  }
}

export async function guardAsync<T>(o: Origin, what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new PluginError(`${o.where}: ${what}${messageOf(e)}`);
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as { then?: unknown } | null)?.then === 'function';

function wrapProcessor(proc: Processor, o: Origin): Processor {
  const fail = (e: unknown) => new PluginError(`${o.where}: ${messageOf(e)}`);
  return {
    process(batch, emit) {
      try {
        proc.process(batch, emit);
      } catch (e) {
        throw fail(e);
      }
    },
    ...(proc.end ? { end: (emit) => guardAsync(o, 'end(): ', () => proc.end!(emit)) } : {}),
    ...(proc.ready ? { ready: () => guard(o, 'ready(): ', () => proc.ready!()) } : {}),
    ...(proc.close ? { close: () => guardAsync(o, 'close(): ', () => proc.close!()) } : {}),
  };
}

export function registerProcessor(r: Registry, d: ProcessorPlugin, o: Origin, st: Settings): object {
  const f = {
    name: d.name,
    origin: o.file,
    description: d.description ?? `plugin (${o.file})`,
    inType: d.in,
    outType: d.out ?? null,
    config: st.schema ?? NO_CONFIG,
    async create(ictx: StageContext): Promise<Processor> {
      const config = settingsOf(st, ictx.attrs);
      const ctx = context(d, o, ictx.label, ictx.log, ictx.attrs, config, ictx.checkOnly ?? false);
      const proc = await guardAsync(o, 'create() failed: ', () => d.create(ctx));
      if (typeof (proc as Processor | null)?.process !== 'function') throw new PluginError(`${o.where}: create() must return an object with a process(batch, emit) method (got ${show(proc)})`);
      return wrapProcessor(proc, o);
    },
  };
  r.processors.add(f);
  return f;
}

export function registerHandler(r: Registry, d: HandlerPlugin, o: Origin, st: Settings): object {
  const f = {
    name: d.name,
    description: d.description ?? `plugin (${o.file})`,
    outType: d.out,
    config: st.schema ?? NO_CONFIG,
    create(ictx: StageContext): Handler {
      const config = settingsOf(st, ictx.attrs);
      let flattener: Handler<FlatRecord> | null = null;
      const one: FlatRecord[] = [];
      const ctx = {
        ...context(d, o, ictx.label, ictx.log, ictx.attrs, config, ictx.checkOnly ?? false),
        flatten(rec: SysFlowEvent, cache: EntityCache): FlatRecord {
          // the built-in flattener without its rate limiter: exactly one record per event
          flattener ??= flattenerHandler.create({ label: ictx.label, log: ictx.log, attrs: {} }) as Handler<FlatRecord>;
          one.length = 0;
          flattener.event(rec, cache, one);
          return one[0]!;
        },
      };
      const h = guard(o, 'create() failed: ', () => d.create(ctx));
      if (isThenable(h)) throw new PluginError(`${o.where}: create() must return the handler itself, not a promise (handlers are created synchronously)`);
      if (typeof (h as Handler | null)?.event !== 'function') throw new PluginError(`${o.where}: create() must return an object with an event(record, cache, out) method (got ${show(h)})`);
      return {
        event(rec, cache, out) {
          try {
            h.event(rec, cache, out);
          } catch (e) {
            throw new PluginError(`${o.where}: ${messageOf(e)}`);
          }
        },
        ...(h.end ? { end: () => guard(o, 'end(): ', () => h.end!()) } : {}),
      };
    },
  };
  r.handlers.add(f);
  return f;
}

export function registerChannel(r: Registry, d: ChannelPlugin, o: Origin): object {
  const f = { name: d.name, element: d.element ?? d.description ?? `defined by ${o.file}` };
  r.channels.add(f);
  return f;
}

export function registerDriver(r: Registry, d: DriverPlugin, o: Origin, st: Settings): object {
  // the CLI checks drivers outside any pipeline entry: say which driver the settings are for
  const driverSettings = (attrs: Attributes) => {
    try {
      return settingsOf(st, attrs);
    } catch (e) {
      throw new PluginError(`driver '${d.name}': ${messageOf(e)}`);
    }
  };
  const f = {
    name: d.name,
    origin: o.file,
    description: d.description ?? `plugin (${o.file})`,
    outType: d.out ?? 'sysflowchan',
    config: st.schema ?? NO_CONFIG,
    check(path: string | undefined, attrs: Attributes): void {
      const config = driverSettings(attrs);
      if (d.check) guard(o, 'check() failed: ', () => d.check!(path, context(d, o, `driver '${d.name}'`, o.log, attrs, config, true)));
    },
    async run(path: string | undefined, dctx: DriverRunContext): Promise<void> {
      const config = driverSettings(dctx.attrs);
      const ctx = { ...context(d, o, `driver '${d.name}'`, dctx.log, dctx.attrs, config, false), signal: dctx.signal, push: dctx.push, progress: dctx.progress };
      await guardAsync(o, 'run() failed: ', () => d.run(path, ctx));
    },
  };
  r.drivers.add(f);
  return f;
}

export function registerEncoder(r: Registry, d: EncoderPlugin, o: Origin, st: Settings): object {
  const f = {
    name: d.name,
    create(attrs: Attributes): Encoder {
      const config = settingsOf(st, attrs);
      const enc = guard(o, 'create() failed: ', () => d.create(context(d, o, `encoder '${d.name}'`, o.log, attrs, config, false)));
      if (typeof enc?.encode !== 'function') throw new PluginError(`${o.where}: create() must return an object with an encode(record) method (got ${show(enc)})`);
      const docId = enc.docId;
      return {
        name: d.name,
        encode(rec, out) {
          let v: unknown;
          try {
            v = enc.encode(rec);
          } catch (e) {
            throw new PluginError(`${o.where}: ${messageOf(e)}`);
          }
          if (typeof v === 'string') out.write(v);
          else if (v instanceof Uint8Array) out.bytes(v);
          else throw new PluginError(`${o.where}: encode() must return a string or a Uint8Array (got ${show(v)})`);
          out.byte(10);
        },
        ...(docId ? { docId: (rec: FlatRecord) => guard(o, 'docId(): ', () => docId.call(enc, rec)) } : {}),
      };
    },
  };
  r.encoders.add(f);
  return f;
}

export function registerTransport(r: Registry, d: TransportPlugin, o: Origin, st: Settings): object {
  const label = `transport '${d.name}'`;
  const f = {
    name: d.name,
    check(attrs: Attributes): void {
      const config = settingsOf(st, attrs);
      if (d.check) guard(o, 'check() failed: ', () => d.check!(context(d, o, label, o.log, attrs, config, true)));
    },
    async create(attrs: Attributes, log: Logger): Promise<MessageTransport> {
      const config = settingsOf(st, attrs);
      const deliver = (connect: () => DeliveryLink | Promise<DeliveryLink>, opts: DeliveryOptions = {}): RecordTransport =>
        new DeliveryTransport(d.name, attrs, {
          where: opts.where ?? d.name,
          log,
          ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
          connect: async () => {
            const link = await connect();
            return {
              send: async (batch) => (await link.send(batch)) ?? noFailures,
              close: async () => {
                await link.close?.();
              },
            };
          },
        });
      const ctx = { ...context(d, o, label, log, attrs, config, false), deliver };
      const t = await guardAsync(o, 'create() failed: ', () => d.create(ctx));
      if (typeof (t as RecordTransport | null)?.send !== 'function') throw new PluginError(`${o.where}: create() must return an object with a send(message) method (got ${show(t)})`);
      return {
        name: d.name,
        messages: true,
        send(m) {
          try {
            t.send(m);
          } catch (e) {
            throw new PluginError(`${o.where}: ${messageOf(e)}`);
          }
        },
        ready: () => (t.ready ? guard(o, 'ready(): ', () => t.ready!()) : null),
        close: async () => {
          if (t.close) await guardAsync(o, 'close(): ', () => t.close!());
        },
        // a transport made with ctx.deliver() knows what it could not deliver
        undelivered: () => (t as { undelivered?: () => number }).undelivered?.() ?? 0,
      };
    },
  };
  r.transports.add(f);
  return f;
}

/** Errors an action logs before it goes quiet (upstream logs each action error and carries on). */
const ACTION_ERRORS_LOGGED = 10;

export function registerAction(r: Registry, d: ActionPlugin, o: Origin, st: Settings): object {
  const f = {
    name: d.name,
    description: d.description ?? `plugin (${o.file})`,
    create(ictx: StageContext) {
      const config = settingsOf(st, ictx.attrs);
      const fn = guard(o, 'create() failed: ', () => d.create(context(d, o, ictx.label, ictx.log, ictx.attrs, config, ictx.checkOnly ?? false)));
      if (typeof fn !== 'function') throw new PluginError(`${o.where}: create() must return the action function (record, rule) => void (got ${show(fn)})`);
      let errors = 0;
      return {
        name: d.name,
        run(rec: FlatRecord, rule: Parameters<typeof fn>[1]) {
          try {
            fn(rec, rule);
          } catch (e) {
            // as upstream: a failing action is logged and the record goes on
            if (++errors <= ACTION_ERRORS_LOGGED)
              ictx.log.error(`${o.where}: rule '${rule.name}': ${messageOf(e)}${errors === ACTION_ERRORS_LOGGED ? ' (further errors of this action are not logged)' : ''}`);
          }
        },
      };
    },
  };
  r.actions.add(f);
  return f;
}
