/**
 * A subscription's field projection over one event's JSON bytes: `include` keeps only the named
 * fields (dotted paths into the json export format, `proc.exe`; a name ending in `.` or naming an
 * object keeps the whole section), then `exclude` removes fields the same way. Fields keep their
 * order in the record. The bytes are scanned, not parsed: kept values are copied as they are, and
 * keys are compared byte by byte, so a projection allocates nothing but its result.
 */

interface Node {
  /** The path ends here: the whole value is kept (include) or removed (exclude). */
  all: boolean;
  readonly keys: Uint8Array[];
  readonly kids: Node[];
}

const node = (): Node => ({ all: false, keys: [], kids: [] });

function trie(paths: readonly string[]): Node | null {
  if (paths.length === 0) return null;
  const root = node();
  for (const path of paths) {
    let at = root;
    for (const seg of (path.endsWith('.') ? path.slice(0, -1) : path).split('.')) {
      const k = Buffer.from(JSON.stringify(seg).slice(1, -1));
      let i = at.keys.findIndex((x) => Buffer.compare(x, k) === 0);
      if (i < 0) {
        at.keys.push(k);
        at.kids.push(node());
        i = at.keys.length - 1;
      }
      at = at.kids[i]!;
    }
    at.all = true;
  }
  return root;
}

/** The child of n for the key whose bytes are b[s, e), if any. */
function child(n: Node, b: Buffer, s: number, e: number): Node | undefined {
  const len = e - s;
  outer: for (let i = 0; i < n.keys.length; i++) {
    const k = n.keys[i]!;
    if (k.length !== len) continue;
    for (let j = 0; j < len; j++) if (k[j] !== b[s + j]) continue outer;
    return n.kids[i];
  }
  return undefined;
}

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN = 123;
const CLOSE = 125;

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

/** The end of the JSON being projected (the buffer goes on with other events). */
let lim = 0;

function skipSpace(b: Buffer, i: number): number {
  while (i < lim && isSpace(b[i]!)) i++;
  return i;
}

/** Byte classes for scanning: 1 a quote, 3 an opening and 4 a closing bracket. */
const CLASS = new Uint8Array(256);
CLASS[QUOTE] = 1;
CLASS[OPEN] = CLASS[91] = 3;
CLASS[CLOSE] = CLASS[93] = 4;

/** b[i] is an opening quote: the position after the closing one (found natively). */
function skipString(b: Buffer, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = b.indexOf(QUOTE, j);
    if (q < 0 || q >= lim) return lim;
    // a quote after an odd number of backslashes is part of the string
    let k = q - 1;
    while (k > i && b[k] === BACKSLASH) k--;
    if ((q - 1 - k) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** The position after the JSON value that starts at b[i]. */
function skipValue(b: Buffer, i: number): number {
  const n = lim;
  const c = CLASS[b[i]!]!;
  if (c === 1) return skipString(b, i);
  if (c === 3) {
    // an object or array: to its matching close, stepping over strings
    let depth = 0;
    while (i < n) {
      const k = CLASS[b[i]!]!;
      if (k === 1) {
        i = skipString(b, i);
        continue;
      }
      if (k === 3) depth++;
      else if (k === 4 && --depth === 0) return i + 1;
      i++;
    }
    return n;
  }
  for (; i < n; i++) {
    const d = b[i]!;
    if (d === 44 || d === CLOSE || d === 93 || isSpace(d)) return i;
  }
  return n;
}

/** Growing output, reused across projections. */
let out = Buffer.allocUnsafe(1 << 16);
let pos = 0;

function put(b: Buffer, s: number, e: number): void {
  const n = e - s;
  if (pos + n >= out.length) {
    const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, pos + n));
    out.copy(bigger, 0, 0, pos);
    out = bigger;
  }
  if (n < 32) for (let i = s; i < e; i++) out[pos++] = b[i]!;
  else pos += b.copy(out, pos, s, e);
}

const BRACES = Buffer.from('{}');

function byte(c: number): void {
  if (pos >= out.length) put(BRACES, 0, 0);
  out[pos++] = c;
}

/**
 * Write the object at b[i] reduced by `inc` (null: keep every field) and `exc` (null: remove
 * none); the position after it.
 */
function object(b: Buffer, i: number, inc: Node | null, exc: Node | null): number {
  put(b, i, i + 1);
  i++;
  let first = true;
  // keys are unique: once every included key was seen, the rest of the object is skipped
  let wanted = inc === null ? -1 : inc.keys.length;
  for (;;) {
    i = skipSpace(b, i);
    if (i >= lim) return i;
    const c = b[i]!;
    if (c === CLOSE) break;
    if (c === 44) {
      i++;
      continue;
    }
    const ks = i;
    const ke = skipString(b, i);
    i = skipSpace(b, ke);
    i = skipSpace(b, i + 1); // the colon
    const vs = i;
    const ve = skipValue(b, i);
    i = ve;
    let incKid: Node | null = null;
    if (inc !== null) {
      const k = child(inc, b, ks + 1, ke - 1);
      if (k === undefined) continue;
      incKid = k.all ? null : k;
      wanted--;
    }
    const excKid = exc === null ? null : (child(exc, b, ks + 1, ke - 1) ?? null);
    if (!excKid?.all) {
      if (!first) byte(44);
      first = false;
      put(b, ks, ke);
      byte(58);
      if (incKid === null && excKid === null) put(b, vs, ve);
      else if (b[vs] === OPEN) object(b, vs, incKid, excKid);
      // an include path that goes on below a value that is not an object keeps an empty object
      else if (incKid !== null) put(BRACES, 0, 2);
      else put(b, vs, ve);
    }
    if (wanted === 0) {
      // the caller knows where the object ends; this writes only its close
      byte(CLOSE);
      return i;
    }
  }
  put(b, i, i + 1);
  return i + 1;
}

/**
 * Project the JSON b[start, end): the projected JSON is `projected()[0, n)` for the n returned,
 * until the next call.
 */
export type Projector = (b: Buffer, start: number, end: number) => number;

/** Where the last projection was written. */
export function projected(): Buffer {
  return out;
}

export function compileProjection(p: { readonly include: readonly string[]; readonly exclude: readonly string[] }): Projector {
  const inc = trie(p.include);
  const exc = trie(p.exclude);
  return (b, start, end) => {
    pos = 0;
    lim = end;
    const i = skipSpace(b, start);
    if (b[i] === OPEN) object(b, i, inc, exc);
    else put(b, start, end);
    return pos;
  };
}
