/**
 * A condition on its own (a subscription's filter): parsed and compiled by the policy engine's
 * compiler, with the macros and lists of a loaded policy set. Errors are located in the condition
 * text alone (`condition:1:17: …`), since it comes from a client, not from a file.
 */
import { PolicyError } from '../errors.js';
import { SF_FIELDS } from '../flatten/fields.js';
import { Compiler, Notes, type MacroDef } from './compile.js';
import type { Pred } from './compiled.js';
import { UnsupportedField, type SourceRef } from './errors.js';
import { ConditionSyntaxError, parseCondition } from './parser.js';
import { LineIndex } from './yaml.js';

/** The names a condition may use besides fields. */
export interface Vocabulary {
  readonly macros: ReadonlyMap<string, MacroDef>;
  readonly lists: ReadonlyMap<string, readonly string[]>;
}

export const NO_VOCABULARY: Vocabulary = { macros: new Map(), lists: new Map() };

/** A compiled condition and what is known of it without a record. */
export interface CompiledFilter {
  readonly test: Pred;
  /** Record types it can be true for (bit per SfType). */
  readonly types: number;
  /** Op flags a record must have one of for it to be true (ANY_OPS: no constraint). */
  readonly ops: number;
}

/** A condition that does not compile; the message is `condition:LINE:COL: reason`. */
export class ConditionError extends Error {}

export function compileCondition(text: string, vocabulary: Vocabulary = NO_VOCABULARY, name = 'condition'): CompiledFilter {
  const lines = new LineIndex(text);
  const src: SourceRef = { file: name, item: name, position: (offset) => lines.position(offset) };
  const at = (offset: number, reason: string) => {
    const p = lines.position(offset);
    return new ConditionError(`${name}:${p.line}:${p.col}: ${reason}`);
  };
  let expr: ReturnType<typeof parseCondition>;
  try {
    expr = parseCondition(text, (f) => SF_FIELDS.has(f));
  } catch (e) {
    if (e instanceof ConditionSyntaxError) throw at(e.pos, e.message);
    throw e;
  }
  const notes = new Notes();
  try {
    const c = new Compiler({ macros: vocabulary.macros, lists: vocabulary.lists }, notes).compile(expr, src);
    return { test: c.fn, types: c.types, ops: c.ops };
  } catch (e) {
    // macros keep their own files' positions; a condition's own mistakes are in `name`
    if (e instanceof PolicyError) throw new ConditionError(e.file === name ? `${name}:${e.line}:${e.col}: ${e.reason}` : e.message);
    if (e instanceof UnsupportedField) throw new ConditionError(`${name}: ${e.message}`);
    throw e;
  }
}
