/**
 * Recursive-descent parser for Falco conditions:
 *
 *   expr  := and ('or' and)*
 *   and   := not ('and' not)*
 *   not   := 'not' not | check
 *   check := '(' expr ')' | operand 'exists' | operand binop value
 *          | operand listop list | MACRO
 *   list  := '(' [value (',' value)*] ')' | '[' … ']'
 *
 * `not` binds tightest, then `and`, then `or`; one comparison per check. Nesting is capped so that a
 * hostile condition gets an error, not a stack overflow.
 */
import { tokenize, ConditionSyntaxError, type Token } from './lexer.js';
import { BINARY_OPS, LIST_OPS, TRANSFORMERS, type BinaryOp, type Expr, type ListOp, type Operand, type Value } from './ast.js';

export { ConditionSyntaxError };

const MAX_DEPTH = 500;
const MACRO_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const KEYWORDS = new Set(['and', 'or', 'not', 'exists', ...BINARY_OPS, ...LIST_OPS]);

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly toks: Token[],
    private readonly isRhsField: (name: string) => boolean,
  ) {}

  private peek(): Token {
    return this.toks[this.i]!;
  }
  private next(): Token {
    return this.toks[this.i++]!;
  }
  private isWord(t: Token, w: string): boolean {
    return t.kind === 'word' && t.text === w;
  }
  private fail(t: Token, what: string): never {
    const got = t.kind === 'eof' ? 'end of condition' : t.kind === 'str' ? 'a quoted string' : `'${t.text}'`;
    throw new ConditionSyntaxError(`expected ${what}, found ${got}`, t.pos);
  }

  parse(): Expr {
    const e = this.or();
    const t = this.peek();
    if (t.kind !== 'eof') this.fail(t, "'and', 'or' or end of condition");
    return e;
  }

  parseOperand(): Operand {
    const o = this.operand();
    const t = this.peek();
    if (t.kind !== 'eof') this.fail(t, 'end of field');
    return o;
  }

  private enter(t: Token): void {
    if (++this.depth > MAX_DEPTH) throw new ConditionSyntaxError(`condition nested deeper than ${MAX_DEPTH} levels`, t.pos);
  }

  private or(): Expr {
    const first = this.and();
    if (!this.isWord(this.peek(), 'or')) return first;
    const items = [first];
    while (this.isWord(this.peek(), 'or')) {
      this.next();
      items.push(this.and());
    }
    return { k: 'or', items, pos: first.pos };
  }

  private and(): Expr {
    const first = this.not();
    if (!this.isWord(this.peek(), 'and')) return first;
    const items = [first];
    while (this.isWord(this.peek(), 'and')) {
      this.next();
      items.push(this.not());
    }
    return { k: 'and', items, pos: first.pos };
  }

  private not(): Expr {
    const t = this.peek();
    if (this.isWord(t, 'not')) {
      this.next();
      this.enter(t);
      const e = this.not();
      this.depth--;
      return { k: 'not', e, pos: t.pos };
    }
    return this.check();
  }

  private check(): Expr {
    const t = this.peek();
    if (t.kind === '(') {
      this.next();
      this.enter(t);
      const e = this.or();
      this.depth--;
      if (this.peek().kind !== ')') this.fail(this.peek(), "')'");
      this.next();
      return e;
    }
    if (t.kind !== 'word' || KEYWORDS.has(t.text)) this.fail(t, 'a field, a macro or (');
    const lhs = this.operand();
    const op = this.peek();
    if (this.isWord(op, 'exists')) {
      this.next();
      return { k: 'exists', lhs, pos: t.pos };
    }
    if (op.kind === 'op') {
      this.next();
      return { k: 'cmp', op: op.text as BinaryOp, lhs, rhs: this.value(), pos: t.pos };
    }
    if (op.kind === 'word' && BINARY_OPS.has(op.text)) {
      this.next();
      return { k: 'cmp', op: op.text as BinaryOp, lhs, rhs: this.value(), pos: t.pos };
    }
    if (op.kind === 'word' && LIST_OPS.has(op.text)) {
      this.next();
      return { k: 'list', op: op.text as ListOp, lhs, items: this.list(), pos: t.pos };
    }
    // a bare identifier with no operator: a macro reference
    if (lhs.k === 'field' && lhs.arg === null && MACRO_NAME.test(lhs.name)) return { k: 'macro', name: lhs.name, pos: t.pos };
    this.fail(op, "an operator after '" + (lhs.k === 'field' ? lhs.name : lhs.fn + '(…)') + "'");
  }

  /** A field, or a transformer applied to an operand. */
  private operand(): Operand {
    const t = this.next();
    if (t.kind !== 'word') this.fail(t, 'a field');
    if (t.call && TRANSFORMERS.has(t.text)) {
      this.next(); // (
      this.enter(t);
      const arg = this.operand();
      this.depth--;
      if (this.peek().kind !== ')') this.fail(this.peek(), `')' closing ${t.text}(`);
      this.next();
      return { k: 'xf', fn: t.text, arg, pos: t.pos };
    }
    if (t.call && t.text === 'val') this.fail(t, 'a field (val() is only allowed on the right-hand side)');
    const b = t.text.indexOf('[');
    if (b < 0) return { k: 'field', name: t.text, arg: null, pos: t.pos };
    if (!t.text.endsWith(']')) this.fail(t, 'a field');
    return { k: 'field', name: t.text.slice(0, b), arg: t.text.slice(b + 1, -1).replace(/^(['"])(.*)\1$/, '$2'), pos: t.pos };
  }

  private value(): Value {
    const t = this.peek();
    if (t.kind === 'str') {
      this.next();
      return { k: 'lit', text: t.text, quoted: true, pos: t.pos };
    }
    if (t.kind === 'word') {
      if (t.call && (t.text === 'val' || TRANSFORMERS.has(t.text))) {
        if (t.text === 'val') {
          this.next();
          this.next(); // (
          const f = this.operand();
          if (this.peek().kind !== ')') this.fail(this.peek(), "')' closing val(");
          this.next();
          return f;
        }
        return this.operand();
      }
      this.next();
      if (this.isRhsField(t.text)) return { k: 'field', name: t.text, arg: null, pos: t.pos };
      return { k: 'lit', text: t.text, quoted: false, pos: t.pos };
    }
    // `evt.dir = <`: a lone comparison character is a value here
    if (t.kind === 'op' && (t.text === '<' || t.text === '>')) {
      this.next();
      return { k: 'lit', text: t.text, quoted: false, pos: t.pos };
    }
    this.fail(t, 'a value');
  }

  private list(): Value[] {
    const open = this.next();
    const close = open.kind === '(' ? ')' : open.kind === '[' ? ']' : null;
    if (close === null) this.fail(open, "'(' starting a list");
    const items: Value[] = [];
    if (this.peek().kind === close) {
      this.next();
      return items;
    }
    for (;;) {
      const t = this.peek();
      if (t.kind === 'str') items.push({ k: 'lit', text: t.text, quoted: true, pos: t.pos });
      else if (t.kind === 'word') items.push({ k: 'lit', text: t.text, quoted: false, pos: t.pos });
      else if (t.kind === 'op' && (t.text === '<' || t.text === '>')) items.push({ k: 'lit', text: t.text, quoted: false, pos: t.pos });
      else this.fail(t, 'a list item');
      this.next();
      const sep = this.next();
      if (sep.kind === close) return items;
      if (sep.kind !== ',') this.fail(sep, `',' or '${close}'`);
      if (this.peek().kind === close) {
        this.next();
        return items; // trailing comma
      }
    }
  }
}

/**
 * Parse a condition. `isRhsField` says which bare right-hand words are field references
 * (sf-processor compares `sf.proc.exe = sf.pproc.exe` field to field).
 */
export function parseCondition(src: string, isRhsField: (name: string) => boolean = () => false): Expr {
  return new Parser(tokenize(src), isRhsField).parse();
}

/** Parse a lone operand (`proc.aname[2]`, `tolower(proc.name)`): output templates, exception fields. */
export function parseOperand(src: string): Operand {
  return new Parser(tokenize(src), () => false).parseOperand();
}
