/**
 * How conditions compare strings, built once per condition (the filter_compare of this project):
 * regexes on V8's linear-time engine, Falco globs, `in` as unrolled or hashed membership, and
 * `pmatch` as path-prefix tests.
 */
import v8 from 'node:v8';

// V8's linear-time regexp engine (flag 'l'): a policy author's regex cannot backtrack catastrophically.
let linearEnabled = false;
function linearRegExp(pattern: string, flags: string): RegExp {
  if (!linearEnabled) {
    v8.setFlagsFromString('--enable-experimental-regexp-engine');
    linearEnabled = true;
  }
  return new RegExp(pattern, flags + 'l');
}

/**
 * Cost shape of a regex: does it quantify a group (nested repetition: the exponential case) and how
 * many unbounded repetitions does it have? Escapes and character classes are skipped.
 */
function regexShape(p: string): { quantifiedGroup: boolean; unbounded: number } {
  let unbounded = 0;
  let quantifiedGroup = false;
  const groupStart: number[] = [];
  const groupRisky: boolean[] = [];
  let lastGroupRisky = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '[') {
      i++;
      if (p[i] === '^') i++;
      if (p[i] === ']') i++;
      while (i < p.length && p[i] !== ']') i += p[i] === '\\' ? 2 : 1;
      continue;
    }
    if (c === '(') {
      groupStart.push(i);
      groupRisky.push(false);
      continue;
    }
    if (c === ')') {
      groupStart.pop();
      lastGroupRisky = groupRisky.pop() ?? false;
      const after = p[i + 1];
      // an optional group (`(…)?`) is tried at most twice; repetition of a group is the exponential case
      if (after === '*' || after === '+' || after === '{') {
        quantifiedGroup = true;
        if (lastGroupRisky && groupRisky.length) groupRisky[groupRisky.length - 1] = true;
      }
      continue;
    }
    const isQuant = c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(p.slice(i)));
    if (c === '|' || isQuant) for (let g = 0; g < groupRisky.length; g++) groupRisky[g] = true;
    if (c === '*' || c === '+' || (c === '{' && /^\{\d+,\}/.test(p.slice(i)))) unbounded++;
  }
  return { quantifiedGroup, unbounded };
}

/**
 * A policy regex, anchored at both ends (Falco's full match). Only syntax V8's linear-time engine
 * accepts is allowed (no backreferences or lookaround). Patterns with nested repetition or more than
 * two unbounded repetitions run on that engine (no catastrophic backtracking possible); the rest,
 * whose worst case is at most quadratic, run on the much faster backtracking engine.
 */
export function policyRegExp(pattern: string): { test(s: string): boolean } {
  const anchored = '^(?:' + pattern + ')$';
  const linear = linearRegExp(anchored, 's'); // throws for unsupported syntax
  const shape = regexShape(pattern);
  if (shape.quantifiedGroup || shape.unbounded > 2) return memoized((s) => linear.test(s));
  // quadratic at worst: bounded by the input length (values are attacker-controlled)
  const fast = new RegExp(anchored, 's');
  return memoized((s) => (s.length <= FAST_REGEX_MAX_INPUT ? fast.test(s) : linear.test(s)));
}

/** Longest input given to the backtracking engine (quadratic worst case ≈ 4 M steps). */
const FAST_REGEX_MAX_INPUT = 2048;
/** Results kept per regex: command lines and paths repeat, and the linear engine is slow. */
const REGEX_MEMO_SIZE = 4096;

/** A string test with its recent results remembered (cleared when full: bounded memory). */
function memoized(test: (s: string) => boolean): { test(s: string): boolean } {
  const seen = new Map<string, boolean>();
  return {
    test(s) {
      let v = seen.get(s);
      if (v === undefined) {
        if (seen.size >= REGEX_MEMO_SIZE) seen.clear();
        seen.set(s, (v = test(s)));
      }
      return v;
    },
  };
}

/** Falco glob (fnmatch without FNM_PATHNAME): * any run, ? one char, [..] a class. */
export function globTest(glob: string, icase: boolean): (s: string) => boolean {
  if (icase) {
    // fold both sides (the linear engine has no case-insensitive mode)
    const t = globTest(glob.toLowerCase(), false);
    return (s) => t(s.toLowerCase());
  }
  if (!/[?[\\]/.test(glob)) {
    // '*' only: prefix, suffix and ordered middle pieces (greedy leftmost is exact for '*')
    const parts = glob.split('*');
    if (parts.length === 1) return (s) => s === glob;
    const first = parts[0]!;
    const last = parts[parts.length - 1]!;
    const mid = parts.slice(1, -1).filter((x) => x !== '');
    const min = first.length + last.length;
    return (s) => {
      if (s.length < min || !s.startsWith(first) || !s.endsWith(last)) return false;
      let at = first.length;
      const end = s.length - last.length;
      for (const m of mid) {
        const k = s.indexOf(m, at);
        if (k < 0 || k + m.length > end) return false;
        at = k + m.length;
      }
      return true;
    };
  }
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '[^]*';
    else if (c === '?') re += '[^]';
    else if (c === '[') {
      const cls = bracket(glob, i);
      if (cls === null) re += '\\[';
      else {
        re += cls.re;
        i = cls.end;
      }
    } else if (c === '\\' && i + 1 < glob.length) re += '\\' + glob[++i];
    else re += /[.+^${}()|\\/]/.test(c) ? '\\' + c : c;
  }
  const rx = policyRegExp(re);
  return (s) => rx.test(s);
}

/** POSIX character classes inside glob brackets (C locale), as JS class contents. */
const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  xdigit: '0-9A-Fa-f',
  space: ' \\t\\n\\r\\f\\v',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  cntrl: '\\x00-\\x1f\\x7f',
  print: ' -~',
  graph: '!-~',
};

/**
 * An fnmatch bracket expression starting at `glob[at]` ('['): `!` or `^` negates, a `]` right after
 * the opening (or the negation) is a member, `[:class:]` names a POSIX class, backslash is literal.
 * null when unclosed (the '[' is then literal).
 */
function bracket(glob: string, at: number): { re: string; end: number } | null {
  let j = at + 1;
  let neg = false;
  if (glob[j] === '!' || glob[j] === '^') {
    neg = true;
    j++;
  }
  let cls = '';
  for (let first = true; j < glob.length; first = false) {
    const ch = glob[j]!;
    if (ch === ']' && !first) return { re: '[' + (neg ? '^' : '') + cls + ']', end: j };
    if (ch === '[' && glob[j + 1] === ':') {
      const close = glob.indexOf(':]', j + 2);
      if (close > 0) {
        const name = glob.slice(j + 2, close);
        const members = POSIX_CLASSES[name];
        if (members === undefined) throw new Error(`unknown character class '[:${name}:]'`);
        cls += members;
        j = close + 2;
        continue;
      }
    }
    cls += ch === ']' || ch === '\\' || ch === '[' || ch === '^' ? '\\' + ch : ch;
    j++;
  }
  return null;
}

/** Set membership, unrolled for short lists (faster than a Set probe). */
export function memberTest(items: readonly string[]): (s: string) => boolean {
  const uniq = [...new Set(items)];
  if (uniq.length === 1) {
    const a = uniq[0]!;
    return (s) => s === a;
  }
  if (uniq.length <= 4) return (s) => uniq.includes(s);
  const set = new Set(uniq);
  return (s) => set.has(s);
}

/** Falco pmatch: the value is one of the paths or below one of them. */
export function pathPrefixTest(items: readonly string[]): (s: string) => boolean {
  const dirs = items.map((p) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p));
  const exact = new Set(dirs);
  const prefixes = dirs.map((d) => (d === '/' ? '/' : d + '/'));
  return (s) => exact.has(s) || prefixes.some((p) => s.startsWith(p));
}
