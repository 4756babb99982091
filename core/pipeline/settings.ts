/**
 * Components describe their attributes with a JSON Schema (built-ins and plugins alike): one
 * checker converts and validates them, one set of messages reports bad values, and the attribute
 * help is derived from the same schema. The schemas use a small subset of JSON Schema (one flat
 * object of scalar attributes), checked here directly: every run validates its built-in stages, and
 * loading Ajv for that would cost ~50 ms at each start.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { closest } from '../util/suggest.js';

/**
 * One attribute, as a JSON Schema of this subset (an unknown keyword is an error when the schema is compiled).
 * Attribute values arrive as strings; `type` converts them (`"5"` → 5, `"true"` → true) and
 * `default` fills a missing one. A boolean also takes yes/no and on/off; string `enum` values match
 * regardless of case; an empty value of a non-string attribute counts as not given. `format` checks
 * a string: `size` (4096, 512K, 10M, 1G; `sizeOf` converts), `duration` (500ms, 30s, 5m, 1h, 1d;
 * `durationOf` converts) or `octal` (permissions such as 0600).
 */
export interface AttributeSchema {
  readonly type?: 'string' | 'integer' | 'number' | 'boolean';
  readonly description?: string;
  readonly default?: string | number | boolean;
  readonly enum?: readonly (string | number | boolean)[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly format?: 'size' | 'duration' | 'octal';
}

/**
 * The attributes a component understands. Which attributes of a pipeline entry are checked:
 * - processor (its pipeline entry) and driver (its `drivers` entry): every attribute except
 *   `processor`/`driver` and the globals (`version`, `jsonschemaversion`, `ecsversion`,
 *   `buildnumber`, `cluster.id`);
 * - handler (the sysflowreader entry), encoder and transport (the exporter entry), action (the
 *   policyengine entry): the attributes listed in `properties` and every attribute starting with
 *   `<name>.` — these entries also hold other components' attributes, so prefix yours.
 * An attribute not listed is an error unless `additionalProperties` is true.
 */
export interface ConfigSchema {
  readonly properties: Readonly<Record<string, AttributeSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean;
}

/** Validated settings: attribute name → value converted by its schema type. */
export type Config = Readonly<Record<string, string | number | boolean | undefined>>;

export const GLOBALS = ['version', 'jsonschemaversion', 'ecsversion', 'buildnumber', 'cluster.id'];

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `10M`, `512k`, `1GiB`, `4096` → bytes; null when it is not a size. */
export function sizeOf(v: string): number | null {
  const m = SIZE.exec(v.trim());
  return m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!) : null;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `500ms`, `1h`, `2d`, or a bare number of `bareUnit` → milliseconds; null when it is not a duration. */
export function durationOf(v: string, bareUnit: 'ms' | 's' = 's'): number | null {
  const m = DURATION.exec(v.trim());
  return m ? Number(m[1]) * MS[m[2] ?? bareUnit]! : null;
}

const OCTAL = /^(?:0o?)?([0-7]{1,3})$/i;

/** `0600`, `0o660`, `644` → the permission bits; null when it is not octal. */
export function modeOf(v: string): number | null {
  const m = OCTAL.exec(v.trim());
  return m ? Number.parseInt(m[1]!, 8) : null;
}

const FORMATS = {
  size: { test: (s: string) => sizeOf(s) !== null, expected: 'a size such as 4096, 512K, 10M or 1G' },
  duration: { test: (s: string) => durationOf(s) !== null, expected: 'a duration such as 500ms, 30s, 5m, 1h or 1d' },
  octal: { test: (s: string) => modeOf(s) !== null, expected: 'octal permissions such as 0600 or 0660' },
} as const;

/** The keywords an attribute schema may use, each with a check of its value. */
const KEYWORDS: Readonly<Record<string, (v: unknown) => boolean>> = {
  type: (v) => v === 'string' || v === 'integer' || v === 'number' || v === 'boolean',
  description: (v) => typeof v === 'string',
  default: (v) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean',
  enum: (v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean'),
  minimum: (v) => typeof v === 'number',
  maximum: (v) => typeof v === 'number',
  exclusiveMinimum: (v) => typeof v === 'number',
  exclusiveMaximum: (v) => typeof v === 'number',
  pattern: (v) => {
    if (typeof v !== 'string') return false;
    try {
      new RegExp(v, 'u');
      return true;
    } catch {
      return false;
    }
  },
  minLength: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  maxLength: (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  format: (v) => typeof v === 'string' && v in FORMATS,
};

/** The first problem of an attribute schema, or null. */
function schemaProblem(name: string, a: AttributeSchema): string | null {
  for (const [k, v] of Object.entries(a)) {
    const ok = KEYWORDS[k];
    if (!ok) {
      const near = closest(k, Object.keys(KEYWORDS), 3);
      return `attribute '${name}': unknown keyword '${k}' (${near ? `did you mean ${near}? ` : ''}keywords: ${Object.keys(KEYWORDS).join(', ')})`;
    }
    if (!ok(v)) return `attribute '${name}': keyword '${k}' has an invalid value ${JSON.stringify(v)}`;
  }
  return null;
}

interface Problem {
  readonly keyword: string;
  readonly attr: string;
}

/** The problems of one converted value against its schema (none: []). */
function check(attr: string, v: unknown, a: AttributeSchema, pattern: RegExp | undefined): Problem[] {
  const out: Problem[] = [];
  const t = a.type;
  if (
    t === 'string' ? typeof v !== 'string' : t === 'integer' ? !Number.isInteger(v) : t === 'number' ? typeof v !== 'number' || !Number.isFinite(v) : t === 'boolean' ? typeof v !== 'boolean' : false
  ) {
    return [{ keyword: 'type', attr }];
  }
  if (a.enum !== undefined && !a.enum.includes(v as string | number | boolean)) out.push({ keyword: 'enum', attr });
  if (typeof v === 'number') {
    if (a.minimum !== undefined && v < a.minimum) out.push({ keyword: 'minimum', attr });
    if (a.maximum !== undefined && v > a.maximum) out.push({ keyword: 'maximum', attr });
    if (a.exclusiveMinimum !== undefined && v <= a.exclusiveMinimum) out.push({ keyword: 'exclusiveMinimum', attr });
    if (a.exclusiveMaximum !== undefined && v >= a.exclusiveMaximum) out.push({ keyword: 'exclusiveMaximum', attr });
  }
  if (typeof v === 'string') {
    const len = [...v].length;
    if (a.minLength !== undefined && len < a.minLength) out.push({ keyword: 'minLength', attr });
    if (a.maxLength !== undefined && len > a.maxLength) out.push({ keyword: 'maxLength', attr });
    if (pattern && !pattern.test(v)) out.push({ keyword: 'pattern', attr });
    if (a.format !== undefined && !FORMATS[a.format].test(v)) out.push({ keyword: 'format', attr });
  }
  return out;
}

export interface Settings {
  readonly schema: ConfigSchema | undefined;
  /** The attributes' patterns, compiled once. */
  readonly patterns: ReadonlyMap<string, RegExp>;
  /** 'entry': every attribute of the entry is the component's; 'prefixed': listed ones and `<prefix>*`. */
  readonly scope: 'entry' | 'prefixed';
  readonly prefix: string;
  readonly reserved: ReadonlySet<string>;
  /** Put before every message (e.g. `socket driver: `). */
  readonly where: string;
}

export interface SettingsScope {
  readonly scope: 'entry' | 'prefixed';
  /** `<name>.`: in 'prefixed' scope, the attributes that are the component's besides the listed ones. */
  readonly prefix?: string;
  /** In 'entry' scope, the entry's own keys (`processor`, `driver`); the globals are always left out. */
  readonly reserved?: readonly string[];
  readonly where?: string;
}

/** Check and prepare a schema once (throws an Error naming the problem of an invalid one). */
export function compileSettings(schema: ConfigSchema | undefined, sc: SettingsScope): Settings {
  const patterns = new Map<string, RegExp>();
  for (const [name, a] of Object.entries(schema?.properties ?? {})) {
    const problem = schemaProblem(name, a);
    if (problem) throw new Error(problem);
    if (a.pattern !== undefined) patterns.set(name, new RegExp(a.pattern, 'u'));
  }
  return { schema, patterns, scope: sc.scope, prefix: sc.prefix ?? '\0', reserved: new Set([...(sc.reserved ?? []), ...GLOBALS]), where: sc.where ?? '' };
}

function range(a: AttributeSchema | undefined): string {
  const hi = a?.maximum ?? a?.exclusiveMaximum;
  const what = a?.type === 'integer' ? 'a whole number' : 'a number';
  if (a?.minimum !== undefined && a.maximum !== undefined) return `${what} from ${a.minimum} to ${a.maximum}`;
  if (a?.exclusiveMinimum !== undefined) return `${what} greater than ${a.exclusiveMinimum}${hi !== undefined ? ` and at most ${hi}` : ''}`;
  if (a?.minimum !== undefined) return `${what} of at least ${a.minimum}`;
  return `${what} of at most ${hi}`;
}

function describe(e: Problem, raw: Record<string, string>, schema: ConfigSchema): string {
  const attr = e.attr;
  const got = attr in raw ? `, got '${raw[attr]}'` : '';
  const a = schema.properties[attr];
  switch (e.keyword) {
    case 'required': {
      const desc = a?.description;
      return `missing attribute '${attr}'${desc ? ` (${desc})` : ''}`;
    }
    case 'additionalProperties':
      return `unknown attribute '${attr}' (known: ${Object.keys(schema.properties).join(', ') || 'none'})`;
    case 'type': {
      const t = a?.type ?? 'string';
      if ((t === 'integer' || t === 'number') && (a?.minimum !== undefined || a?.maximum !== undefined || a?.exclusiveMinimum !== undefined)) return `attribute '${attr}': must be ${range(a)}${got}`;
      return `attribute '${attr}': must be ${t === 'integer' ? 'a whole number' : t === 'number' ? 'a number' : t === 'boolean' ? 'true or false' : `a ${t}`}${got}`;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `attribute '${attr}': must be ${range(a)}${got}`;
    case 'format':
      return `attribute '${attr}': must be ${FORMATS[a!.format!].expected}${got}`;
    case 'enum':
      return `attribute '${attr}': must be one of ${a!.enum!.map(String).join(', ')}${got}`;
    case 'pattern':
      return `attribute '${attr}': must match pattern "${a!.pattern!}"${got}`;
    case 'minLength':
      return `attribute '${attr}': must NOT have fewer than ${a!.minLength!} characters${got}`;
    default:
      return `attribute '${attr}': must NOT have more than ${a!.maxLength!} characters${got}`;
  }
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);
const INTEGER = /^[+-]?\d+$/;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * A value as the schema's type, in the spellings sf-processor configs use; a value that is not of
 * the type stays a string, for the schema to report. (Not Ajv's coercion: it takes `1e6` or `0x10`
 * as integers and knows no yes/no.) undefined: an empty value, i.e. not given.
 */
function convert(v: string, a: AttributeSchema | undefined): unknown {
  if (a === undefined) return v;
  const s = v.trim();
  if (s === '' && ((a.type !== undefined && a.type !== 'string') || a.format !== undefined)) return undefined;
  switch (a.type) {
    case 'boolean': {
      const l = s.toLowerCase();
      return TRUE.has(l) ? true : FALSE.has(l) ? false : v;
    }
    case 'integer':
      return INTEGER.test(s) ? Number(s) : v;
    case 'number':
      return NUMBER.test(s) ? Number(s) : v;
    default: {
      if (a.enum === undefined) return v;
      const l = s.toLowerCase();
      return a.enum.find((x) => typeof x === 'string' && x.toLowerCase() === l) ?? v;
    }
  }
}

/** The component's attributes of an entry, checked and converted; throws one line on bad settings. */
export function settingsOf<T = Config>(st: Settings, attrs: Readonly<Record<string, string>>, Err: new (msg: string) => Error = ConfigError): T {
  const raw: Record<string, string> = {};
  const props = st.schema?.properties ?? {};
  for (const [k, v] of Object.entries(attrs)) {
    if (st.scope === 'entry' ? !st.reserved.has(k) : k in props || k.startsWith(st.prefix)) raw[k] = v;
  }
  const schema = st.schema;
  if (!schema) return {} as T;
  const data: Record<string, unknown> = {};
  const problems: Problem[] = [];
  for (const [k, v] of Object.entries(raw)) {
    const a = props[k];
    if (a === undefined) {
      if (schema.additionalProperties !== true) problems.push({ keyword: 'additionalProperties', attr: k });
      else data[k] = v;
      continue;
    }
    const n = convert(v, a);
    if (n === undefined) continue;
    problems.push(...check(k, n, a, st.patterns.get(k)));
    data[k] = n;
  }
  for (const r of schema.required ?? []) if (!(r in data)) problems.push({ keyword: 'required', attr: r });
  if (problems.length) {
    const msgs = problems.map((e) => describe(e, raw, schema));
    throw new Err(st.where + [...new Set(msgs)].join('; '));
  }
  for (const [k, a] of Object.entries(props)) if (!(k in data) && a.default !== undefined) data[k] = a.default;
  return data as T;
}

/** Attribute help from a schema: name → description, with the default when the text does not say it. */
export function helpOf(schema: ConfigSchema | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(schema?.properties ?? {}).map(([k, v]) => {
      const d = v.description ?? '';
      if (v.default === undefined || /\bdefault\b/.test(d)) return [k, d];
      // into a closing parenthesis of the text rather than a second one after it
      return [k, d.endsWith(')') ? `${d.slice(0, -1)}; default ${String(v.default)})` : `${d} (default ${String(v.default)})`];
    }),
  );
}

/** A file an attribute names (a certificate, a key, a CA), read now: a ConfigError naming the attribute when it cannot be. */
export function readAttributeFile(attr: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(`attribute '${attr}': cannot read '${path}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
