/** A plugin's `config` schema: its shape checked (one located line per mistake), then compiled like a built-in's. */
import { PluginError } from '../errors.js';
import type { Attributes } from '../pipeline/types.js';
import { compileSettings as compileSchema, settingsOf as settingsOfEntry, type Settings } from '../pipeline/settings.js';
import type { Config, Plugin } from '../api.js';
import { messageOf, show } from './descriptor.js';

export type { Settings };

export function compileSettings(p: Plugin, where: string): Settings {
  const scope = p.kind === 'processor' || p.kind === 'driver' ? 'entry' : 'prefixed';
  const sc = { scope, prefix: `${p.name}.`, reserved: [p.kind === 'driver' ? 'driver' : 'processor'] } as const;
  const schema = 'config' in p ? p.config : undefined;
  if (schema === undefined) return compileSchema(undefined, sc);
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
  try {
    return compileSchema(schema, sc);
  } catch (e) {
    return fail(`invalid schema: ${messageOf(e)}`);
  }
}

/** The plugin's attributes of an entry, checked and converted; throws one line on bad settings. */
export const settingsOf = (st: Settings, attrs: Attributes): Config => settingsOfEntry(st, attrs, PluginError);
