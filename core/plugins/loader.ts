/**
 * Run-time plugins: every `*.js` / `*.mjs` module directly in `-plugdir` (and `-driverdir`) is
 * imported in name order; its default export is a descriptor (core/api.ts) or an array of them.
 * Each descriptor is checked, wrapped into the registry's factory shape and registered in the same
 * tables as the built-ins, so pipeline configs name plugins exactly like built-ins.
 *
 * Other files (`.d.ts`, `.map`, `.json`, READMEs) and subdirectories are not loaded: a plugin keeps
 * helper modules in a subdirectory and imports them relatively.
 *
 * Every error is one line naming the module file (and the plugin when known). Settings are checked
 * against the descriptor's `config` schema when the plugin is created — before data flows, and
 * under `-test` too. Run-time failures of plugin code name the file and plugin as well.
 */
import { PluginError } from '../errors.js';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { ajvClass } from '../util/ajv.js';
import type { Logger } from '../log.js';
import type { Registry } from './registry.js';
import type { Attributes, DriverRunContext, Handler, StageContext, Processor } from '../pipeline/types.js';
import type { Encoder, MessageTransport } from '../export/types.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import type { EntityCache } from '../sysflow/cache.js';
import type { SysFlowEvent } from '../sysflow/types.js';
import { SF_FIELDS } from '../flatten/fields.js';
import { flattenerHandler } from '../flatten/flattener.js';
import { JsonEncoder } from '../export/encoders/json.js';
import { Scratch } from '../util/bytes.js';
import { DeliveryTransport } from '../export/options.js';
import { noFailures } from '../export/delivery.js';
import { BUILTIN_ACTIONS } from '../policy/policyset.js';
import { JSON_SCHEMA_VERSION } from '../version.js';
import {
  PLUGIN_API_VERSION, PLUGIN_KINDS,
  type ActionPlugin, type ChannelPlugin, type Config, type ConfigSchema, type DeliveryLink, type DeliveryOptions, type DriverPlugin,
  type EncoderPlugin, type HandlerPlugin, type Plugin, type PluginContext, type PluginKind, type ProcessorPlugin, type RecordTransport, type TransportPlugin,
} from '../api.js';

export { PluginError };

/** What was loaded, for logs and `-test`. */
export interface LoadedPlugin {
  readonly file: string;
  readonly kind: PluginKind;
  readonly name: string;
  readonly version: string;
  readonly description: string;
}

export interface PluginDirs {
  /** Processors, handlers, channels, encoders, transports, actions. */
  readonly plugdir?: string | undefined;
  /** Drivers. */
  readonly driverdir?: string | undefined;
}

/** Error text on one line (a multi-line message would break the one-line error contract). */
const oneLine = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
const messageOf = (e: unknown) => oneLine(e instanceof Error ? e.message || e.name : String(e));

function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'string') {
    const t = JSON.stringify(v.length > 40 ? v.slice(0, 40) : v).slice(1, -1); // control characters escaped: one line
    return `'${t}${v.length > 40 ? '…' : ''}'`;
  }
  if (typeof v === 'object') return 'an object';
  return typeof v === 'undefined' ? 'nothing' : `${typeof v} ${String(v)}`;
}

// ---------------------------------------------------------------------------------------------
// Descriptor shape

type FieldType = 'string' | 'function' | 'string|null' | 'config';
const COMMON: Record<string, FieldType> = { kind: 'string', name: 'string', version: 'string', description: 'string' };
const SHAPES: Record<PluginKind, { required: Record<string, FieldType>; optional: Record<string, FieldType> }> = {
  processor: { required: { in: 'string', create: 'function' }, optional: { out: 'string|null', config: 'config' } },
  handler: { required: { out: 'string', create: 'function' }, optional: { config: 'config' } },
  channel: { required: {}, optional: { element: 'string' } },
  driver: { required: { run: 'function' }, optional: { out: 'string', config: 'config', check: 'function' } },
  encoder: { required: { create: 'function' }, optional: { config: 'config' } },
  transport: { required: { create: 'function' }, optional: { config: 'config', check: 'function' } },
  action: { required: { create: 'function' }, optional: { config: 'config' } },
};
const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const FIELD_DOC: Record<FieldType, string> = { string: 'a string', function: 'a function', 'string|null': 'a string or null', config: 'an object' };

function fieldOk(t: FieldType, v: unknown): boolean {
  if (t === 'string') return typeof v === 'string' && v !== '';
  if (t === 'string|null') return v === null || (typeof v === 'string' && v !== '');
  if (t === 'function') return typeof v === 'function';
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Check one descriptor; returns it typed, or throws naming the file, the plugin (or export) and the field. */
function checkShape(d: unknown, file: string, index: number | null): Plugin {
  let where = index === null ? file : `${file}: default export [${index}]`;
  const fail = (msg: string): never => {
    throw new PluginError(`${where}: ${msg}`);
  };
  if (typeof d !== 'object' || d === null || Array.isArray(d)) {
    fail(`expected a plugin descriptor object ({ kind, name, version, … }), got ${show(d)}`);
  }
  const o = d as Record<string, unknown>;
  if (!PLUGIN_KINDS.includes(o.kind as PluginKind)) fail(`field 'kind' must be one of ${PLUGIN_KINDS.join(', ')} (got ${show(o.kind)})`);
  const kind = o.kind as PluginKind;
  if (typeof o.name !== 'string' || !NAME.test(o.name)) fail(`field 'name' must be letters, digits, '_', '.' or '-', starting with a letter (got ${show(o.name)})`);
  where = `${file}: ${kind} '${o.name as string}'`;
  if (typeof o.version !== 'string' || !SEMVER.test(o.version)) fail(`field 'version' must be a semantic version such as 1.0.0 (got ${show(o.version)})`);
  if (o.description !== undefined && typeof o.description !== 'string') fail(`field 'description' must be a string (got ${show(o.description)})`);
  const shape = SHAPES[kind];
  for (const [f, t] of Object.entries(shape.required)) {
    if (o[f] === undefined) fail(`missing field '${f}' (${FIELD_DOC[t]})`);
    if (!fieldOk(t, o[f])) fail(`field '${f}' must be ${FIELD_DOC[t]} (got ${show(o[f])})`);
  }
  for (const [f, t] of Object.entries(shape.optional)) {
    if (o[f] !== undefined && !fieldOk(t, o[f])) fail(`field '${f}' must be ${FIELD_DOC[t]} (got ${show(o[f])})`);
  }
  const known = [...Object.keys(COMMON), ...Object.keys(shape.required), ...Object.keys(shape.optional)];
  for (const f of Object.keys(o)) if (!known.includes(f)) fail(`unknown field '${f}' for ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} (fields: ${known.join(', ')})`);
  return d as Plugin;
}

// ---------------------------------------------------------------------------------------------
// Settings: the `config` schema

let ajvInstance: Ajv | null = null;
/** Strict: unknown keywords in a plugin's schema are errors. Made for the first plugin with a schema. */
const ajv = (): Ajv =>
  (ajvInstance ??= new (ajvClass())({ allErrors: true, coerceTypes: true, useDefaults: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, logger: false }));

const GLOBALS = ['version', 'jsonschemaversion', 'ecsversion', 'buildnumber', 'cluster.id'];

interface Settings {
  readonly schema: ConfigSchema | undefined;
  readonly validate: ValidateFunction | null;
  /** 'entry': every attribute of the entry is the plugin's; 'prefixed': listed ones and `<name>.*`. */
  readonly scope: 'entry' | 'prefixed';
  readonly prefix: string;
  readonly reserved: ReadonlySet<string>;
}

function compileSettings(p: Plugin, where: string): Settings {
  const scope = p.kind === 'processor' || p.kind === 'driver' ? 'entry' : 'prefixed';
  const reserved = new Set([p.kind === 'driver' ? 'driver' : 'processor', ...GLOBALS]);
  const schema = 'config' in p ? p.config : undefined;
  if (schema === undefined) return { schema, validate: null, scope, prefix: `${p.name}.`, reserved };
  const fail = (msg: string): never => {
    throw new PluginError(`${where}: field 'config': ${msg}`);
  };
  const s = schema as unknown as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!['properties', 'required', 'additionalProperties'].includes(k)) fail(`unknown key '${k}' (keys: properties, required, additionalProperties)`);
  const props = s.properties;
  if (typeof props !== 'object' || props === null || Array.isArray(props)) fail(`'properties' must be an object of attribute schemas (got ${show(props)})`);
  for (const [k, v] of Object.entries(props as object)) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`attribute '${k}' must be described by a schema object (got ${show(v)})`);
  }
  if (s.required !== undefined) {
    if (!Array.isArray(s.required) || !s.required.every((r) => typeof r === 'string')) fail(`'required' must be a list of attribute names`);
    for (const r of s.required as string[]) if (!(r in (props as object))) fail(`required attribute '${r}' is not in 'properties'`);
  }
  if (s.additionalProperties !== undefined && typeof s.additionalProperties !== 'boolean') fail(`'additionalProperties' must be true or false`);
  if (scope === 'prefixed') {
    // these entries are shared with other plugins: attributes must carry the plugin's prefix
    for (const k of Object.keys(props as object)) if (!k.startsWith(`${p.name}.`)) fail(`attribute '${k}' must start with '${p.name}.' (a ${p.kind}'s attributes share the entry with other plugins)`);
  }
  let validate: ValidateFunction;
  try {
    validate = ajv().compile({ type: 'object', properties: props, ...(s.required ? { required: s.required } : {}), additionalProperties: s.additionalProperties ?? false });
  } catch (e) {
    return fail(`invalid schema: ${messageOf(e)}`);
  }
  return { schema, validate, scope, prefix: `${p.name}.`, reserved };
}

/** Decode one JSON-pointer segment (Ajv's instancePath). */
const unpointer = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

function describeError(e: ErrorObject, raw: Record<string, string>, schema: ConfigSchema): string {
  const attr = unpointer(e.instancePath.slice(1));
  const got = attr in raw ? `, got '${raw[attr]}'` : '';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const name = p.missingProperty as string;
      const desc = schema.properties[name]?.description;
      return `missing attribute '${name}'${desc ? ` (${desc})` : ''}`;
    }
    case 'additionalProperties':
      return `unknown attribute '${p.additionalProperty as string}' (known: ${Object.keys(schema.properties).join(', ') || 'none'})`;
    case 'type': {
      const t = p.type as string;
      return `attribute '${attr}': must be ${t === 'integer' ? 'a whole number' : t === 'number' ? 'a number' : t === 'boolean' ? 'true or false' : `a ${t}`}${got}`;
    }
    case 'enum':
      return `attribute '${attr}': must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}${got}`;
    default:
      return `attribute '${attr}': ${e.message ?? 'invalid'}${got}`;
  }
}

/** The plugin's attributes of an entry, checked and converted; throws one line on bad settings. */
function settingsOf(st: Settings, attrs: Attributes): Config {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (st.scope === 'entry' ? !st.reserved.has(k) : k in (st.schema?.properties ?? {}) || k.startsWith(st.prefix)) raw[k] = v;
  }
  if (!st.validate) return {};
  const data: Record<string, unknown> = { ...raw };
  if (!st.validate(data)) {
    const msgs = (st.validate.errors ?? []).map((e) => describeError(e, raw, st.schema!));
    throw new PluginError([...new Set(msgs)].join('; '));
  }
  return data as Config;
}

// ---------------------------------------------------------------------------------------------
// Contexts

/** sf.* field getter by name (`sf.ke.message[items.0.name]` style arguments included). */
function fieldGetter(name: string): (r: FlatRecord) => unknown {
  const m = /^([^[\]]+)(?:\[(.*)\])?$/.exec(name);
  const def = m ? SF_FIELDS.get(m[1]!) : undefined;
  if (!def) throw new PluginError(`unknown field '${name}' (the sf.* fields are listed by 'sfprocessor -listfields')`);
  if (m![2] === undefined) return def.get;
  if (!def.withArg) throw new PluginError(`field '${m![1]}' takes no [argument]`);
  return def.withArg(m![2]).get;
}

function jsonOf(attrs: Attributes): (r: FlatRecord) => string {
  let enc: JsonEncoder | null = null;
  const scratch = new Scratch();
  return (r) => {
    enc ??= new JsonEncoder(attrs.jsonschemaversion ?? String(JSON_SCHEMA_VERSION));
    enc.encode(r, scratch);
    const b = scratch.take();
    return b.toString('utf8', 0, b.length && b[b.length - 1] === 10 ? b.length - 1 : b.length);
  };
}

interface Origin {
  readonly file: string;
  readonly where: string;
  readonly log: Logger;
}

function context(p: Plugin, o: Origin, label: string, log: Logger, attrs: Attributes, config: Config, checkOnly: boolean): PluginContext {
  return { name: p.name, file: o.file, label, log, attrs, config, checkOnly, apiVersion: PLUGIN_API_VERSION, field: fieldGetter, json: jsonOf(attrs) };
}

/** Run plugin code; a throw becomes one line naming the file and plugin. */
function guard<T>(o: Origin, what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new PluginError(`${o.where}: ${what}${messageOf(e)}`);
  }
}

async function guardAsync<T>(o: Origin, what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new PluginError(`${o.where}: ${what}${messageOf(e)}`);
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as { then?: unknown } | null)?.then === 'function';

const docs = (schema: ConfigSchema | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(schema?.properties ?? {}).map(([k, v]) => [k, v.description ?? '']));

// ---------------------------------------------------------------------------------------------
// Wrappers: descriptor → registry factory

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

function registerProcessor(r: Registry, d: ProcessorPlugin, o: Origin, st: Settings): object {
  const f = {
    name: d.name,
    origin: o.file,
    description: d.description ?? `plugin (${o.file})`,
    inType: d.in,
    outType: d.out ?? null,
    attributes: docs(st.schema),
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

function registerHandler(r: Registry, d: HandlerPlugin, o: Origin, st: Settings): object {
  const f = {
    name: d.name,
    description: d.description ?? `plugin (${o.file})`,
    outType: d.out,
    attributes: docs(st.schema),
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

function registerChannel(r: Registry, d: ChannelPlugin, o: Origin): object {
  const f = { name: d.name, element: d.element ?? d.description ?? `defined by ${o.file}` };
  r.channels.add(f);
  return f;
}

function registerDriver(r: Registry, d: DriverPlugin, o: Origin, st: Settings): object {
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
    attributes: docs(st.schema),
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

function registerEncoder(r: Registry, d: EncoderPlugin, o: Origin, st: Settings): object {
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

function registerTransport(r: Registry, d: TransportPlugin, o: Origin, st: Settings): object {
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

function registerAction(r: Registry, d: ActionPlugin, o: Origin, st: Settings): object {
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
            if (++errors <= ACTION_ERRORS_LOGGED) ictx.log.error(`${o.where}: rule '${rule.name}': ${messageOf(e)}${errors === ACTION_ERRORS_LOGGED ? ' (further errors of this action are not logged)' : ''}`);
          }
        },
      };
    },
  };
  r.actions.add(f);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Loading

const TABLE: Record<PluginKind, (r: Registry) => { get(name: string): unknown; names(): string[] }> = {
  processor: (r) => r.processors,
  handler: (r) => r.handlers,
  channel: (r) => r.channels,
  driver: (r) => r.drivers,
  encoder: (r) => r.encoders,
  transport: (r) => r.transports,
  action: (r) => r.actions,
};

/** The modules of a plugin directory, in name order. */
function moduleFiles(dir: string, flag: string, log: Logger): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new PluginError(`-${flag} ${dir}: not a directory`);
    names = readdirSync(dir);
  } catch (e) {
    if (e instanceof PluginError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new PluginError(`-${flag} ${dir}: ${code === 'ENOENT' ? 'directory not found' : `cannot read the directory (${code ?? messageOf(e)})`}`);
  }
  const files: string[] = [];
  for (const n of names.sort()) {
    const p = join(dir, n);
    let isFile: boolean;
    try {
      isFile = statSync(p).isFile();
    } catch (e) {
      throw new PluginError(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? messageOf(e)})`); // e.g. a dangling link
    }
    if (/\.m?js$/.test(n) && isFile) files.push(p);
    else log.debug(`-${flag} ${dir}: '${n}' is not a plugin module (*.js, *.mjs); not loaded`);
  }
  return files;
}

async function importModule(file: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    const msg = messageOf(e);
    // Node older than 20.19 reads a .js outside a "type": "module" package as CommonJS
    const hint = /Cannot use import statement outside a module|Unexpected token 'export'/.test(msg)
      ? ` (Node read it as CommonJS: name it .mjs or put {"type": "module"} in a package.json beside it)`
      : '';
    throw new PluginError(`${file}: failed to load: ${msg}${hint}`);
  }
  if (mod.default === undefined) {
    const named = Object.keys(mod).filter((k) => k !== 'default' && k !== 'module.exports');
    throw new PluginError(`${file}: no default export (export default a plugin descriptor or an array of them${named.length ? `; found only named exports: ${named.join(', ')}` : ''})`);
  }
  return mod.default;
}

/**
 * Load `-plugdir` and `-driverdir` into the registry. Throws PluginError (one line naming the
 * file) at the first problem; nothing of a failed run is used.
 */
export async function loadPlugins(registry: Registry, dirs: PluginDirs, log: Logger): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  const byName = new Map<string, string>(); // `${kind} ${name}` → file
  const same = dirs.plugdir !== undefined && dirs.driverdir !== undefined && resolve(dirs.plugdir) === resolve(dirs.driverdir);
  const passes: { dir: string; flag: string; drivers: boolean; others: boolean }[] = [];
  if (same) passes.push({ dir: dirs.plugdir!, flag: 'plugdir', drivers: true, others: true });
  else {
    if (dirs.plugdir !== undefined) passes.push({ dir: dirs.plugdir, flag: 'plugdir', drivers: false, others: true });
    if (dirs.driverdir !== undefined) passes.push({ dir: dirs.driverdir, flag: 'driverdir', drivers: true, others: false });
  }
  const refs: { file: string; where: string; field: string; type: string }[] = [];
  for (const pass of passes) {
    for (const f of moduleFiles(pass.dir, pass.flag, log)) {
      const file = resolve(f);
      const def = await importModule(file);
      const list = Array.isArray(def) ? (def as unknown[]) : [def];
      if (list.length === 0) throw new PluginError(`${file}: the default export is an empty array (expected plugin descriptors)`);
      for (const [i, item] of list.entries()) {
        const d = checkShape(item, file, Array.isArray(def) ? i : null);
        const where = `${file}: ${d.kind} '${d.name}'`;
        if (d.kind === 'driver' && !pass.drivers) throw new PluginError(`${where}: drivers are loaded from -driverdir, not -plugdir`);
        if (d.kind !== 'driver' && !pass.others) throw new PluginError(`${where}: -driverdir holds drivers only; load a ${d.kind} from -plugdir`);
        const key = `${d.kind} ${d.name}`;
        if (byName.has(key)) throw new PluginError(`${where}: duplicate name: ${d.kind} '${d.name}' is already defined by ${byName.get(key)}`);
        if (TABLE[d.kind](registry).get(d.name) !== undefined || (d.kind === 'action' && BUILTIN_ACTIONS.has(d.name))) {
          throw new PluginError(`${where}: duplicate name: '${d.name}' is a built-in ${d.kind}; choose another name`);
        }
        const st = compileSettings(d, where);
        const o: Origin = { file, where, log: log.child({ plugin: d.name }) };
        switch (d.kind) {
          case 'processor':
            registerProcessor(registry, d, o, st);
            refs.push({ file, where, field: 'in', type: d.in });
            if (d.out) refs.push({ file, where, field: 'out', type: d.out });
            break;
          case 'handler':
            registerHandler(registry, d, o, st);
            refs.push({ file, where, field: 'out', type: d.out });
            break;
          case 'channel':
            registerChannel(registry, d, o);
            break;
          case 'driver':
            registerDriver(registry, d, o, st);
            refs.push({ file, where, field: 'out', type: d.out ?? 'sysflowchan' });
            break;
          case 'encoder':
            registerEncoder(registry, d, o, st);
            break;
          case 'transport':
            registerTransport(registry, d, o, st);
            break;
          case 'action':
            registerAction(registry, d, o, st);
            break;
        }
        byName.set(key, file);
        loaded.push({ file, kind: d.kind, name: d.name, version: d.version, description: d.description ?? '' });
        log.info(`loaded ${d.kind} '${d.name}' ${d.version} from ${file}`);
      }
    }
  }
  // channel types may come from any plugin file: checked once everything is registered
  for (const ref of refs) {
    if (!registry.channels.get(ref.type)) throw new PluginError(`${ref.where}: field '${ref.field}': unknown channel type '${ref.type}' (known: ${registry.channels.names().join(', ')})`);
  }
  return loaded;
}
