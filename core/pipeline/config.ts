/**
 * Pipeline configuration: sf-processor's JSON format, validated as a whole before anything runs.
 *
 *   { "pipeline": [ { "processor": "...", "handler": "...", "in": "name type", "out": "name type" | [...], <attrs> } ],
 *     "drivers":  [ { "driver": "...", "out": "name type", <attrs> } ] }
 *
 * Errors name the file, the plugin (index and processor) and the attribute.
 */
import { readFileSync, statSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ajvClass } from '../util/ajv.js';
import type { Catalogue } from './types.js';
import { ConfigError } from '../errors.js';
import { UPSTREAM_CHANNELS, UPSTREAM_HANDLERS, UPSTREAM_PROCESSORS, upstreamNote } from './upstream.js';

export { ConfigError };

export interface ChannelSpec {
  name: string;
  type: string;
}

export interface PluginEntry {
  index: number;
  processor: string;
  label: string;
  in: ChannelSpec;
  out: ChannelSpec[];
  attrs: Record<string, string>;
  /** The attribute names written in the file (not from the environment or globals). */
  written: string[];
}

export interface DriverEntry {
  index: number;
  driver: string;
  out: ChannelSpec | null;
  attrs: Record<string, string>;
}

export interface PipelineConfig {
  file: string;
  plugins: PluginEntry[];
  drivers: DriverEntry[];
}

/** Values every plugin receives (sf-processor injects the same keys). */
export interface Globals {
  version: string;
  jsonschemaversion: string;
  ecsversion: string;
  buildnumber: string;
}

const attrValue = { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }, { type: 'object' }, { type: 'array', items: { type: 'string' } }] };
const spec = { type: 'string', minLength: 1 };
/** The shape of a pipeline file (exported for the test that checks it against the meta-schema). */
export const CONFIG_SCHEMA = {
  type: 'object',
  required: ['pipeline'],
  properties: {
    pipeline: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['processor', 'in'],
        properties: {
          processor: { type: 'string', minLength: 1 },
          handler: { type: 'string', minLength: 1 },
          in: spec,
          out: { anyOf: [spec, { type: 'array', items: spec, minItems: 1 }] },
        },
        additionalProperties: attrValue,
      },
    },
    drivers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['driver'],
        properties: { driver: { type: 'string', minLength: 1 }, out: spec },
        additionalProperties: attrValue,
      },
    },
  },
  additionalProperties: true,
};

let validator: ValidateFunction | null = null;

/**
 * Ajv's validator of CONFIG_SCHEMA, for the error messages of a config that does not conform. The
 * schema is ours and checked against the meta-schema by a test: compiling the meta-schema too
 * would buy nothing.
 */
function validateShape(): ValidateFunction {
  return (validator ??= new (ajvClass())({ allErrors: true, strict: false, validateSchema: false }).compile(CONFIG_SCHEMA));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isName = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const isAttrValue = (v: unknown): boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || isObject(v) || (Array.isArray(v) && v.every((x) => typeof x === 'string'));

/**
 * Whether `doc` conforms to CONFIG_SCHEMA, decided without Ajv (a valid configuration then loads
 * without it). Exactly the schema's rules; a test holds the two to the same answers.
 */
export function conformsToSchema(doc: Record<string, unknown>): boolean {
  /** A list of at least `min` objects with the `required` keys, each key valid by `own` or as an attribute. */
  const entries = (list: unknown, min: number, required: readonly string[], own: (k: string, v: unknown) => boolean | undefined): boolean =>
    Array.isArray(list) && list.length >= min && list.every((e) => isObject(e) && required.every((k) => k in e) && Object.entries(e).every(([k, v]) => own(k, v) ?? isAttrValue(v)));
  const plugin = (k: string, v: unknown): boolean | undefined => {
    if (k === 'processor' || k === 'handler' || k === 'in') return isName(v);
    if (k === 'out') return isName(v) || (Array.isArray(v) && v.length > 0 && v.every(isName));
    return undefined;
  };
  const driver = (k: string, v: unknown): boolean | undefined => (k === 'driver' || k === 'out' ? isName(v) : undefined);
  return entries(doc.pipeline, 1, ['processor', 'in'], plugin) && (!('drivers' in doc) || entries(doc.drivers, 0, ['driver'], driver));
}

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

/** Offset of the first JSON syntax error in `text` (text.length when it ends early); only called for invalid JSON. */
function jsonErrorOffset(text: string): number {
  let i = 0;
  const n = text.length;
  class Stop {}
  const stop = (): never => {
    throw new Stop();
  };
  const ws = () => {
    while (i < n && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const lit = (word: string) => {
    for (const c of word)
      if (text[i] === c) i++;
      else stop();
  };
  const str = () => {
    i++; // opening quote
    for (;;) {
      if (i >= n) stop();
      const c = text.charCodeAt(i);
      if (c === 34) return void i++;
      if (c < 0x20) stop();
      if (c === 92) {
        i++;
        if (i >= n) stop();
        if (text[i] === 'u') {
          for (let k = 1; k <= 4; k++) {
            if (!/[0-9a-fA-F]/.test(text[i + k] ?? '')) {
              i += k;
              stop();
            }
          }
          i += 5;
        } else if ('"\\/bfnrt'.includes(text[i]!)) i++;
        else stop();
      } else i++;
    }
  };
  const num = () => {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m || m[0] === '-') return stop();
    i += m[0].length;
  };
  const value = (): void => {
    ws();
    if (i >= n) stop();
    const c = text[i]!;
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') return void i++;
      for (;;) {
        ws();
        if (text[i] !== '"') stop();
        str();
        ws();
        if (text[i] !== ':') stop();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return void i++;
        else stop();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return void i++;
        else stop();
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true');
    if (c === 'f') return lit('false');
    if (c === 'n') return lit('null');
    return num();
  };
  try {
    value();
    ws();
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  return Math.min(i, n);
}

function describeAjvError(e: ErrorObject, doc: Record<string, unknown>): string {
  const parts = e.instancePath.split('/').slice(1);
  let where = '';
  if ((parts[0] === 'pipeline' || parts[0] === 'drivers') && parts[1] !== undefined) {
    const list = doc[parts[0]] as Record<string, unknown>[];
    const item = list[Number(parts[1])];
    const name = parts[0] === 'pipeline' ? item?.processor : item?.driver;
    where = `${parts[0] === 'pipeline' ? 'plugin' : 'driver'} #${parts[1]}${typeof name === 'string' ? ` (${name})` : ''}`;
    if (parts[2]) where += `, attribute '${parts.slice(2).join('/')}'`;
  } else where = parts.length ? `'${parts.join('.')}'` : 'top level';
  if (e.keyword === 'required') return `${where}: missing '${(e.params as { missingProperty: string }).missingProperty}'`;
  if (e.keyword === 'minItems') return `${where}: must not be empty`;
  if (e.keyword === 'anyOf') return `${where}: must be a string (or a list of strings for 'out')`;
  return `${where}: ${e.message ?? 'invalid'}`;
}

function parseSpec(text: string, where: string): ChannelSpec {
  const words = text.trim().split(/\s+/);
  if (words.length !== 2) throw new ConfigError(`${where}: channel must be "<name> <type>", got '${text}'`);
  return { name: words[0]!, type: words[1]! };
}

const stringify = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));

/**
 * `<PLUGIN>_<ATTR>=value` overrides: the variable name is lowercased and split at its first '_';
 * the first part must equal a processor name, and every further '_' in the rest becomes '.':
 * POLICYENGINE_MODE → policyengine.mode, EXPORTER_FILE_PATH → exporter.file.path.
 */
export function envOverrides(processor: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  const p = processor.toLowerCase();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const lower = name.toLowerCase();
    const us = lower.indexOf('_');
    if (us <= 0 || lower.slice(0, us) !== p) continue;
    const attr = lower.slice(us + 1).replace(/_/g, '.');
    if (attr) out[attr] = value;
  }
  return out;
}

/** Read, check the shape, apply environment overrides and globals. The graph is checked by validateGraph. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv, globals: Globals): PipelineConfig {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw new ConfigError(`${file}: is a directory, not a pipeline config file`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(`${file}: ${code === 'ENOENT' ? 'config file not found' : `cannot read config (${code ?? (e as Error).message})`}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    // V8 gives a position for some errors only ("Unexpected token 'x', "<text>" is not valid JSON",
    // "Unexpected end of JSON input" have none, and the former quotes the text, line breaks included).
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    const pos = m ? Number(m[1]) : jsonErrorOffset(text);
    const reason = msg
      .replace(/ in JSON at position \d+.*$/s, '')
      .replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '')
      .replace(/[\u0000-\u001f\u2028\u2029]/g, (c) => JSON.stringify(c).slice(1, -1));
    throw new ConfigError(`${file}: invalid JSON at ${lineCol(text, pos)}: ${reason}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${file}: must be a JSON object with a "pipeline" array`);
  // Top-level keys are case-insensitive, as in sf-processor.
  const doc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) doc[k.toLowerCase()] = v;
  if (!conformsToSchema(doc) && !validateShape()(doc)) {
    const msgs = (validateShape().errors ?? []).filter((e) => e.keyword !== 'type' || !e.instancePath.match(/\/out$/)).map((e) => describeAjvError(e, doc));
    throw new ConfigError(`${file}: ${[...new Set(msgs)].join('; ')}`);
  }
  const plugins = (doc.pipeline as Record<string, unknown>[]).map((entry, index): PluginEntry => {
    const processor = entry.processor as string;
    const label = `plugin #${index} (${processor})`;
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(entry)) if (k !== 'in' && k !== 'out') attrs[k] = stringify(v);
    // variable names carry no case: an override of an attribute the entry spells with capitals
    // (es.bulk.numWorkers) replaces that attribute (sf-processor could not override those)
    const byLower = new Map(Object.keys(attrs).map((k) => [k.toLowerCase(), k]));
    for (const [k, v] of Object.entries(envOverrides(processor, env))) attrs[byLower.get(k) ?? k] = v;
    Object.assign(attrs, globals);
    attrs['cluster.id'] = env.CLUSTER_ID ?? '';
    const outs = entry.out === undefined ? [] : Array.isArray(entry.out) ? (entry.out as string[]) : [entry.out as string];
    return {
      index,
      processor,
      label,
      in: parseSpec(entry.in as string, `${file}: ${label}, attribute 'in'`),
      out: outs.map((o) => parseSpec(o, `${file}: ${label}, attribute 'out'`)),
      attrs,
      written: Object.keys(entry).filter((k) => k !== 'in' && k !== 'out'),
    };
  });
  const drivers = ((doc.drivers as Record<string, unknown>[] | undefined) ?? []).map((entry, index): DriverEntry => {
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(entry)) if (k !== 'out') attrs[k] = stringify(v);
    return {
      index,
      driver: entry.driver as string,
      out: typeof entry.out === 'string' ? parseSpec(entry.out, `${file}: driver #${index} (${String(entry.driver)}), attribute 'out'`) : null,
      attrs,
    };
  });
  return { file, plugins, drivers };
}

export interface ResolvedTypes {
  inType: string;
  outType: string | null;
}

/**
 * The whole topology is checked before data flows: known processors, handlers and channel types;
 * channel types agreeing with what each plugin reads and writes; every input fed; no channel with
 * two writers or two readers or two types; no cycles. Returns the plugins' channel types.
 */
export function validateGraph(cfg: PipelineConfig, registry: Catalogue, driverOutType: string): ResolvedTypes[] {
  const f = cfg.file;
  const fail = (msg: string): never => {
    throw new ConfigError(`${f}: ${msg}`);
  };
  const channelType = new Map<string, string>();
  const writer = new Map<string, number>();
  const reader = new Map<string, number>();
  const declare = (c: ChannelSpec, where: string) => {
    if (!registry.channels.get(c.type)) fail(`${where}: unknown channel type '${c.type}'${upstreamNote(UPSTREAM_CHANNELS, c.type)} (known: ${registry.channels.names().join(', ')})`);
    const prev = channelType.get(c.name);
    if (prev !== undefined && prev !== c.type) fail(`${where}: channel '${c.name}' is declared as '${prev}' elsewhere and as '${c.type}' here`);
    channelType.set(c.name, c.type);
  };
  const types: ResolvedTypes[] = [];
  for (const p of cfg.plugins) {
    const factory = registry.processors.get(p.processor);
    if (!factory) fail(`${p.label}: unknown processor '${p.processor}'${upstreamNote(UPSTREAM_PROCESSORS, p.processor)} (known: ${registry.processors.names().join(', ')})`);
    const inType = factory!.inType;
    let outType = typeof factory!.outType === 'function' ? factory!.outType(p.attrs) : factory!.outType;
    // Handlers plug into processors that declare a 'handler' attribute (sysflowreader); on any other
    // processor a 'handler' key is an unused attribute and must not change its channel types.
    if (p.processor === 'sysflowreader' || 'handler' in factory!.config.properties) {
      const h = p.attrs.handler;
      if (!h) fail(`${p.label}: missing 'handler' (known handlers: ${registry.handlers.names().join(', ')})`);
      const hf = registry.handlers.get(h!);
      if (!hf) fail(`${p.label}, attribute 'handler': unknown handler '${h}'${upstreamNote(UPSTREAM_HANDLERS, h!)} (known: ${registry.handlers.names().join(', ')})`);
      outType = hf!.outType;
    }
    declare(p.in, `${p.label}, attribute 'in'`);
    if (p.in.type !== inType) fail(`${p.label}, attribute 'in': ${p.processor} reads '${inType}', but channel '${p.in.name}' is '${p.in.type}'`);
    const r = reader.get(p.in.name);
    if (r !== undefined) fail(`${p.label}, attribute 'in': channel '${p.in.name}' is already read by plugin #${r}; to send records to both, list several channels in the writer's 'out'`);
    reader.set(p.in.name, p.index);
    const seenOut = new Set<string>();
    for (const o of p.out) {
      declare(o, `${p.label}, attribute 'out'`);
      if (seenOut.has(o.name)) fail(`${p.label}, attribute 'out': channel '${o.name}' is listed twice`);
      seenOut.add(o.name);
      if (outType === null) fail(`${p.label}, attribute 'out': ${p.processor} has no output`);
      if (o.type !== outType) fail(`${p.label}, attribute 'out': ${p.processor} writes '${outType}', but channel '${o.name}' is '${o.type}'`);
      const w = writer.get(o.name);
      if (w !== undefined) fail(`${p.label}, attribute 'out': channel '${o.name}' is already written by plugin #${w}`);
      writer.set(o.name, p.index);
    }
    types.push({ inType: inType!, outType: outType ?? null });
  }
  const root = cfg.plugins[0]!.in;
  if (writer.has(root.name)) fail(`${cfg.plugins[0]!.label}, attribute 'in': the first plugin's input '${root.name}' is fed by the driver and must not be written by plugin #${writer.get(root.name)}`);
  if (root.type !== driverOutType) fail(`${cfg.plugins[0]!.label}, attribute 'in': the driver writes '${driverOutType}', but channel '${root.name}' is '${root.type}'`);
  for (const p of cfg.plugins.slice(1)) {
    if (!writer.has(p.in.name)) fail(`${p.label}, attribute 'in': no plugin writes channel '${p.in.name}' (check the 'out' of the plugin before it)`);
  }
  // Cycles: follow writer → reader edges.
  const next = new Map<number, number[]>();
  for (const p of cfg.plugins)
    next.set(
      p.index,
      p.out.map((o) => reader.get(o.name)).filter((x): x is number => x !== undefined),
    );
  const state = new Map<number, 1 | 2>();
  const visit = (i: number, path: number[]) => {
    if (state.get(i) === 2) return;
    if (state.get(i) === 1) fail(`channels form a cycle: plugins #${[...path.slice(path.indexOf(i)), i].join(' → #')}`);
    state.set(i, 1);
    for (const j of next.get(i) ?? []) visit(j, [...path, i]);
    state.set(i, 2);
  };
  for (const p of cfg.plugins) visit(p.index, []);
  return types;
}
