/**
 * Condition tokens, Falco style: bare words run until a blank, a parenthesis, a comma, a quote or an
 * operator character; a word may carry an attached `[arg]` (`proc.aname[2]`,
 * `sf.ke.message[items.0.namespace]`). Quoted strings take Falco's escapes. Keywords are ordinary
 * words: the parser decides by position, so `evt.dir = <` or a value named `in` still work.
 */
export type TokKind = 'word' | 'str' | 'op' | '(' | ')' | '[' | ']' | ',' | 'eof';

export interface Token {
  kind: TokKind;
  /** Word/operator text, or the unescaped string value. */
  text: string;
  pos: number;
  /** Word immediately followed by '(' (a transformer call or `not(`). */
  call?: boolean;
}

export class ConditionSyntaxError extends Error {
  constructor(
    message: string,
    readonly pos: number,
  ) {
    super(message);
  }
}

const BLANK = /[ \t\r\n\f\v]/;
/** Characters that end a bare word. */
const STOP = new Set([' ', '\t', '\r', '\n', '\f', '\v', '(', ')', ',', '=', '"', "'", '[', ']']);
/** A word so far that is a field name: there `<`, `>` and `!=` are operators (`sf.ts>1`, `a!=b`). */
const FIELDISH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+(\[[^\]]*\])?$/;

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '\\': '\\', '/': '/', ' ': ' ' };

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (BLANK.test(c)) {
      i++;
      continue;
    }
    const pos = i;
    if (c === '(' || c === ')' || c === ',' || c === '[' || c === ']') {
      out.push({ kind: c, text: c, pos });
      i++;
      continue;
    }
    if (c === '=' || c === '<' || c === '>' || (c === '!' && src[i + 1] === '=')) {
      const two = src.slice(i, i + 2);
      if (two === '==' || two === '!=' || two === '<=' || two === '>=') {
        out.push({ kind: 'op', text: two === '==' ? '=' : two, pos });
        i += 2;
      } else {
        out.push({ kind: 'op', text: c, pos });
        i++;
      }
      continue;
    }
    if (c === '"' || c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= n) throw new ConditionSyntaxError('unterminated string', pos);
        const d = src[i]!;
        if (d === c) {
          i++;
          break;
        }
        if (d === '\\') {
          const e = src[i + 1];
          if (e === undefined) throw new ConditionSyntaxError('unterminated string', pos);
          if (e === c) s += c;
          else if (e === 'x') {
            const hex = src.slice(i + 2, i + 4);
            if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new ConditionSyntaxError('\\x needs two hex digits', i);
            s += String.fromCharCode(parseInt(hex, 16));
            i += 2;
          } else if (ESCAPES[e] !== undefined) s += ESCAPES[e];
          else throw new ConditionSyntaxError(`invalid escape '\\${e}' in string`, i);
          i += 2;
          continue;
        }
        s += d;
        i++;
      }
      out.push({ kind: 'str', text: s, pos });
      continue;
    }
    // bare word, with attached [..] groups
    let j = i;
    while (j < n) {
      const d = src[j]!;
      if (d === '[' && j > i) {
        const close = src.indexOf(']', j + 1);
        if (close < 0) throw new ConditionSyntaxError("unclosed '[' in field argument", j);
        j = close + 1;
        continue;
      }
      if (STOP.has(d)) break;
      // as in Falco, a value may hold '!', '<' and '>' (`2>&1`, `a!b`, `1.2.3.4:80->5.6.7.8:90`)
      if (d === '!' && src[j + 1] === '=') break;
      if ((d === '<' || d === '>' || d === '!') && j > i && FIELDISH.test(src.slice(i, j))) break;
      j++;
    }
    const text = src.slice(i, j);
    out.push({ kind: 'word', text, pos, call: src[j] === '(' });
    i = j;
  }
  out.push({ kind: 'eof', text: '', pos: n });
  return out;
}
