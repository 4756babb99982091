/**
 * sf-processor's own policy syntax. Upstream does not parse policy files as YAML: an ANTLR grammar
 * (Sfpl) tokenises the raw text, so whitespace and indentation carry no meaning there, and upstream's
 * shipped files rely on it (items indented one space, tab-indented continuations, a `desc:` continued
 * at column 0, a rule name holding `: `). When strict YAML rejects a file, the loader reads it with
 * this token grammar instead and builds the same node tree the YAML reader does, with source offsets,
 * so every later message still names file:line:col.
 *
 * The shape: a sequence of items, each `- <kind>: value` followed by `key: value` attributes. A key is
 * one of the attribute words below directly followed by `:`; a value runs to the next key or item.
 * A value that starts with `[` is a list; otherwise it is text, taken from the source as it stands
 * (comments blanked, so offsets inside a condition still map one to one onto the file).
 */
import type { YNode } from './yaml.js';

export class SfplError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Words that open an item (`- rule:`). */
const ITEM_KEYS = new Set(['rule', 'macro', 'list', 'filter', 'drop', 'required_engine_version']);
/** Attribute words; upstream's keywords plus the Falco attributes the loader also reads. */
const ATTR_KEYS = new Set(['items', 'condition', 'desc', 'actions', 'action', 'output', 'priority', 'tags', 'prefilter', 'enabled', 'warn_evttypes', 'skip-if-unknown-filter', 'append', 'source']);
/** Attributes whose text is prose: whitespace folds to one space, as YAML would fold it. */
const PROSE = new Set(['rule', 'desc', 'output']);

type Kind = 'word' | 'str' | ':' | '[' | ']' | ',' | 'punct';
interface Tok {
  kind: Kind;
  start: number;
  end: number;
}

const WORD_STOP = new Set([' ', '\t', '\r', '\n', '\f', '\v', ':', '[', ']', ',', '(', ')', '"', "'", '#']);

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '#') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? n : nl;
      continue;
    }
    if (c === '"' || c === "'") {
      // single-line; a backslash escapes the next character
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      if (j > n) j = n;
      if (j >= n || text[j] !== c) throw new SfplError(i, `unterminated ${c === '"' ? 'double' : 'single'}-quoted string`);
      out.push({ kind: 'str', start: i, end: j + 1 });
      i = j + 1;
      continue;
    }
    if (c === ':' || c === '[' || c === ']' || c === ',') {
      out.push({ kind: c, start: i, end: i + 1 });
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      out.push({ kind: 'punct', start: i, end: i + 1 });
      i++;
      continue;
    }
    // a backslash takes the next character into the word (`thread\'s` in a desc is one word)
    let j = i;
    while (j < n && !WORD_STOP.has(text[j]!)) j += text[j] === '\\' && j + 1 < n ? 2 : 1;
    out.push({ kind: 'word', start: i, end: j });
    i = j;
  }
  return out;
}

/** The text with every `#` comment outside quotes replaced by spaces (same length). */
function blankComments(text: string, from: number, to: number): string {
  let s = '';
  let i = from;
  while (i < to) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      const nl = text.indexOf('\n', i + 1);
      const close = text.indexOf(c, i + 1);
      const end = close >= 0 && (nl < 0 || close < nl) && close < to ? close + 1 : i + 1;
      s += text.slice(i, end);
      i = end;
      continue;
    }
    if (c === '#') {
      let j = text.indexOf('\n', i);
      if (j < 0 || j > to) j = to;
      s += ' '.repeat(j - i);
      i = j;
      continue;
    }
    s += c;
    i++;
  }
  return s;
}

function unquote(s: string): string {
  let a = 0;
  let b = s.length;
  if (b > 0 && (s[0] === '"' || s[0] === "'")) a = 1;
  if (b > a && (s[b - 1] === '"' || s[b - 1] === "'")) b--;
  return s.slice(a, b);
}

/**
 * Parse a policy file in upstream's token grammar into the loader's node tree.
 * Throws SfplError with the offset of the first token that does not fit.
 */
export function parseSfpl(text: string): YNode {
  const toks = tokenize(text);
  const src = (t: Tok) => text.slice(t.start, t.end);
  const isWord = (i: number, set: Set<string>) => toks[i]?.kind === 'word' && set.has(src(toks[i]!));
  const isKeyAt = (i: number) => isWord(i, ATTR_KEYS) && toks[i + 1]?.kind === ':';
  const isItemAt = (i: number) => toks[i]?.kind === 'word' && src(toks[i]!) === '-' && isWord(i + 1, ITEM_KEYS) && toks[i + 2]?.kind === ':';

  // `word:` opening a line, where a key would be: a misspelt or unsupported attribute, not value text
  const looksLikeKey = (i: number) => {
    const t = toks[i]!;
    if (t.kind !== 'word' || toks[i + 1]?.kind !== ':' || toks[i + 1]!.start !== t.end || !/^[a-z][a-z_-]*$/.test(src(t))) return false;
    const after = text[t.end + 1];
    if (after !== undefined && after !== ' ' && after !== '\t' && after !== '\n' && after !== '\r') return false;
    const lineStart = text.lastIndexOf('\n', t.start - 1) + 1;
    return text.slice(lineStart, t.start).trim() === '';
  };

  const items: YNode[] = [];
  let i = 0;
  if (toks.length > 0 && !isItemAt(0)) {
    throw new SfplError(toks[0]!.start, "expected an item such as '- rule:', '- macro:' or '- list:'");
  }
  while (i < toks.length) {
    const itemStart = toks[i]!.start;
    i++; // '-'
    const entries: { key: string; keyStart: number; value: YNode }[] = [];
    let first = true;
    while (i < toks.length && !isItemAt(i)) {
      if (!first && !isKeyAt(i)) {
        const t = toks[i]!;
        throw new SfplError(t.start, `expected an attribute (${[...ATTR_KEYS].join(', ')}) or a new '- ' item, found '${src(t)}'`);
      }
      const keyTok = toks[i]!;
      const key = src(keyTok);
      i += 2; // key ':'
      // `: >` and `: |` (YAML block markers) are part of the key, as upstream's DEF token
      let vi = i;
      if (toks[vi]?.kind === 'word' && (src(toks[vi]!) === '>' || src(toks[vi]!) === '|' || src(toks[vi]!) === '>-' || src(toks[vi]!) === '|-')) vi++;
      let end = vi;
      // a value runs up to the next attribute or item; the item kind's own value (a rule name) may
      // hold ':' and words, so it stops only at a key
      while (end < toks.length && !isKeyAt(end) && !isItemAt(end)) {
        if (looksLikeKey(end)) {
          const t = toks[end]!;
          throw new SfplError(t.start, `unknown attribute '${src(t)}' (expected one of ${[...ATTR_KEYS].join(', ')})`);
        }
        end++;
      }
      entries.push({ key, keyStart: keyTok.start, value: value(vi, end, key, keyTok) });
      i = end;
      first = false;
    }
    items.push({ kind: 'map', entries, start: itemStart });
  }
  return { kind: 'seq', items, start: 0 };

  function value(from: number, to: number, key: string, keyTok: Tok): YNode {
    if (from >= to) return { kind: 'null', start: keyTok.end };
    const t0 = toks[from]!;
    if (t0.kind === '[') return list(from, to);
    const start = t0.start;
    const end = toks[to - 1]!.end;
    if (to - from === 1 && t0.kind === 'str') {
      return { kind: 'scalar', value: src(t0).slice(1, -1), plain: false, start: start + 1, block: false };
    }
    let v = blankComments(text, start, end);
    if (PROSE.has(key)) v = v.replace(/\s+/g, ' ');
    return { kind: 'scalar', value: v, plain: true, start, block: false };
  }

  /** `[a, b, "c d"]`: each item's tokens joined without blanks, one bounding quote stripped. */
  function list(from: number, to: number): YNode {
    const items: YNode[] = [];
    let i = from + 1;
    let piece: Tok[] = [];
    const flush = () => {
      if (piece.length === 0) return;
      const joined = piece.map(src).join('');
      const v = piece.length === 1 && piece[0]!.kind === 'str' ? src(piece[0]!).slice(1, -1) : unquote(joined);
      items.push({ kind: 'scalar', value: v, plain: piece[0]!.kind !== 'str', start: piece[0]!.start, block: false });
      piece = [];
    };
    for (; i < to; i++) {
      const t = toks[i]!;
      if (t.kind === ']') break;
      if (t.kind === '[') throw new SfplError(t.start, "a list item cannot be a list ('[' inside '[…]')");
      if (t.kind === ',') flush();
      else piece.push(t);
    }
    if (i >= to) throw new SfplError(toks[from]!.start, "unclosed '[': the list has no ']'");
    flush();
    if (i + 1 < to) throw new SfplError(toks[i + 1]!.start, `unexpected '${src(toks[i + 1]!)}' after the list's ']'`);
    return { kind: 'seq', items, start: toks[from]!.start };
  }
}
