/** Condition syntax tree. `pos` is a character offset into the condition text. */

export type BinaryOp = '=' | '!=' | '<' | '<=' | '>' | '>=' | 'contains' | 'icontains' | 'bcontains' | 'startswith' | 'bstartswith' | 'endswith' | 'glob' | 'iglob' | 'regex';
export type ListOp = 'in' | 'intersects' | 'pmatch';

export const BINARY_OPS: ReadonlySet<string> = new Set(['contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'regex']);
export const LIST_OPS: ReadonlySet<string> = new Set(['in', 'intersects', 'pmatch']);
export const TRANSFORMERS: ReadonlySet<string> = new Set(['tolower', 'toupper', 'basename', 'len', 'b64']);

/** A field reference (`proc.aname[2]`) or a transformer applied to an operand. */
export type Operand = { k: 'field'; name: string; arg: string | null; pos: number } | { k: 'xf'; fn: string; arg: Operand; pos: number };

/** A right-hand value: literal text, or another field (`val(f)`, or a bare `sf.*` name). */
export type Value = { k: 'lit'; text: string; quoted: boolean; pos: number } | Operand;

export type Expr =
  | { k: 'and'; items: Expr[]; pos: number }
  | { k: 'or'; items: Expr[]; pos: number }
  | { k: 'not'; e: Expr; pos: number }
  | { k: 'macro'; name: string; pos: number }
  | { k: 'exists'; lhs: Operand; pos: number }
  | { k: 'cmp'; op: BinaryOp; lhs: Operand; rhs: Value; pos: number }
  | { k: 'list'; op: ListOp; lhs: Operand; items: Value[]; pos: number }
  /** Built by the loader (exceptions), never parsed. */
  | { k: 'const'; value: boolean; pos: number };
