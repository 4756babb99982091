/** A plugin's `config` JSON Schema, compiled once (Ajv, strict) and applied to its entry's attributes. */
import { PluginError } from '../errors.js';
import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { ajvClass } from '../util/ajv.js';
import type { Attributes } from '../pipeline/types.js';
import type { Config, ConfigSchema, Plugin } from '../api.js';
import { messageOf, show } from './descriptor.js';

let ajvInstance: Ajv | null = null;
/** Strict: unknown keywords in a plugin's schema are errors. Made for the first plugin with a schema. */
const ajv = (): Ajv =>
  (ajvInstance ??= new (ajvClass())({ allErrors: true, coerceTypes: true, useDefaults: true, strict: true, strictTypes: false, strictTuples: false, strictRequired: false, logger: false }));

export const GLOBALS = ['version', 'jsonschemaversion', 'ecsversion', 'buildnumber', 'cluster.id'];

export interface Settings {
  readonly schema: ConfigSchema | undefined;
  readonly validate: ValidateFunction | null;
  /** 'entry': every attribute of the entry is the plugin's; 'prefixed': listed ones and `<name>.*`. */
  readonly scope: 'entry' | 'prefixed';
  readonly prefix: string;
  readonly reserved: ReadonlySet<string>;
}

export function compileSettings(p: Plugin, where: string): Settings {
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
export function settingsOf(st: Settings, attrs: Attributes): Config {
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
