/**
 * Field names → definitions, with "did you mean" for the unknown ones. The catalogue is a
 * parameter: the built-in `sf.*` and Falco fields by default, a wider one when plugins add fields.
 */
import { SF_FIELDS, type FieldDef } from '../flatten/fields.js';
import { FALCO_FIELDS, UNSUPPORTED_FIELDS, UNSUPPORTED_PREFIXES } from './falco-fields.js';
import { UnsupportedField } from './errors.js';
import { closest } from '../util/suggest.js';

/** The fields a condition may name, and why the ones SysFlow cannot provide are unsupported. */
export interface FieldCatalogue {
  get(name: string): FieldDef | undefined;
  names(): Iterable<string>;
  /** Why a known name has no SysFlow data, or undefined. */
  unsupported(name: string): string | undefined;
}

export const BUILTIN_FIELDS: FieldCatalogue = {
  get: (name) => SF_FIELDS.get(name) ?? FALCO_FIELDS.get(name),
  names: () => [...SF_FIELDS.keys(), ...FALCO_FIELDS.keys()],
  unsupported: (name) => UNSUPPORTED_FIELDS.get(name) ?? UNSUPPORTED_PREFIXES.find(([p]) => name.startsWith(p))?.[1],
};

/** The closest known field names, for "did you mean". */
export function suggestField(name: string, fields: FieldCatalogue = BUILTIN_FIELDS): string {
  const best = closest(name, [...fields.names()]);
  return best ? ` (did you mean '${best}'?)` : '';
}

/** Look a field up: a definition, or a thrown error (unknown) / UnsupportedField (no SysFlow data). */
export function lookupField(name: string, arg: string | null, fields: FieldCatalogue = BUILTIN_FIELDS): FieldDef {
  const base = fields.get(name);
  if (base === undefined) {
    const why = fields.unsupported(name);
    if (why) throw new UnsupportedField(`${name}: ${why}`);
    throw new Error(`unknown field '${name}'${suggestField(name, fields)}`);
  }
  if (arg === null) return base;
  if (!base.withArg) throw new Error(`field '${name}' takes no argument ([${arg}])`);
  return base.withArg(arg);
}
