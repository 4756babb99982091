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

/** The names a condition may use besides fields. */
export interface Vocabulary {
  readonly macros: ReadonlyMap<string, MacroDef>;
  readonly lists: ReadonlyMap<string, readonly string[]>;
}

export const NO_VOCABULARY: Vocabulary = { macros: new Map(), lists: new Map() };

/** A condition that does not compile; the message is `condition:LINE:COL: reason`. */
export class ConditionError extends Error {}

function position(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, col: offset - start + 1 };
}

export function compileCondition(text: string, vocabulary: Vocabulary = NO_VOCABULARY, name = 'condition'): Pred {
  const src: SourceRef = { file: name, item: name, position: (offset) => position(text, offset) };
  const at = (offset: number, reason: string) => {
    const p = position(text, offset);
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
    return new Compiler({ macros: vocabulary.macros, lists: vocabulary.lists }, notes).compile(expr, src).fn;
  } catch (e) {
    // macros keep their own files' positions; a condition's own mistakes are in `name`
    if (e instanceof PolicyError) throw new ConditionError(e.file === name ? `${name}:${e.line}:${e.col}: ${e.reason}` : e.message);
    if (e instanceof UnsupportedField) throw new ConditionError(`${name}: ${e.message}`);
    throw e;
  }
}
