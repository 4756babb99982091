/**
 * Ajv, loaded when first needed: importing it and compiling a schema cost ~35 ms at every start,
 * while a run with a valid configuration and no plugins needs no JSON Schema validation at all.
 */
import { createRequire } from 'node:module';
import type { Ajv as AjvClass } from 'ajv';

let ajv: typeof AjvClass | null = null;

/** The Ajv class (a CommonJS module, so it can be loaded synchronously). */
export function ajvClass(): typeof AjvClass {
  return (ajv ??= (createRequire(import.meta.url)('ajv') as { Ajv: typeof AjvClass }).Ajv);
}
