/** A plugin module's descriptors: their shape checked field by field, and one-line rendering of what a plugin gave. */
import { PluginError } from '../errors.js';
import { PLUGIN_API_VERSION, PLUGIN_KINDS, type Plugin, type PluginKind } from '../api.js';

export const oneLine = (s: string) => s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
export const messageOf = (e: unknown) => oneLine(e instanceof Error ? e.message || e.name : String(e));

export function show(v: unknown): string {
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

type FieldType = 'string' | 'function' | 'string|null' | 'config';
const COMMON: Record<string, FieldType> = { kind: 'string', name: 'string', version: 'string', description: 'string', api: 'string' };
const SHAPES: Record<PluginKind, { required: Record<string, FieldType>; optional: Record<string, FieldType> }> = {
  processor: { required: { in: 'string', create: 'function' }, optional: { out: 'string|null', config: 'config' } },
  handler: { required: { out: 'string', create: 'function' }, optional: { config: 'config' } },
  channel: { required: {}, optional: { element: 'string' } },
  driver: { required: { run: 'function' }, optional: { out: 'string', config: 'config', check: 'function' } },
  encoder: { required: { create: 'function' }, optional: { config: 'config' } },
  transport: { required: { create: 'function' }, optional: { config: 'config', check: 'function' } },
  action: { required: { create: 'function' }, optional: { config: 'config' } },
};
export const NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;
export const SEMVER = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const FIELD_DOC: Record<FieldType, string> = { string: 'a string', function: 'a function', 'string|null': 'a string or null', config: 'an object' };

function fieldOk(t: FieldType, v: unknown): boolean {
  if (t === 'string') return typeof v === 'string' && v !== '';
  if (t === 'string|null') return v === null || (typeof v === 'string' && v !== '');
  if (t === 'function') return typeof v === 'function';
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Check one descriptor; returns it typed, or throws naming the file, the plugin (or export) and the field. */
export function checkShape(d: unknown, file: string, index: number | null): Plugin {
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
  if (o.api !== undefined) {
    const why = apiMismatch(o.api, PLUGIN_API_VERSION);
    if (why) fail(why);
  }
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

/**
 * Whether this host's plugin API satisfies a descriptor's `api` range: `^1` or `1` (any 1.x),
 * `^1.2` or `^1.2.3` (that version or a later 1.x). Null when it does, else why not.
 */
export function apiMismatch(range: unknown, host: string): string | null {
  const m = typeof range === 'string' ? /^\^?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range.trim()) : null;
  if (!m) return `field 'api' must be a plugin API range such as ^1 or ^1.2 (got ${show(range)})`;
  const [hMaj, hMin, hPat] = host.split('.').map(Number) as [number, number, number];
  const [maj, min, pat] = [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
  const ok = maj === hMaj && (hMin > min || (hMin === min && hPat >= pat));
  return ok ? null : `needs plugin API ${range}, and this sfprocessor has ${host}`;
}
