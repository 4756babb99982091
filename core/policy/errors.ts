/** Where a condition came from, and the errors compiling it may raise. */
import { PolicyError } from '../errors.js';

/** Where a condition came from: maps an offset in its text to a file position. */
export interface SourceRef {
  readonly file: string;
  readonly item: string;
  /** `file` is set when the text joins pieces from several files (appends). */
  position(offset: number): { line: number; col: number; file?: string };
}

export { PolicyError };

export function errorAt(src: SourceRef, offset: number, reason: string): PolicyError {
  const p = src.position(offset);
  return new PolicyError(p.file ?? src.file, p.line, p.col, src.item, reason);
}

/** A field that exists in Falco but has no SysFlow data: the rule cannot be evaluated faithfully. */
export class UnsupportedField extends Error {}
