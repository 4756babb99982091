/**
 * Conditions → closures over the flat record. Everything that can be done once is done here:
 * literals are converted to the field's type, lists expanded into Sets, regexes and globs built,
 * macros inlined, constants folded. The record-time work is a getter call and a comparison.
 *
 * While compiling, each condition's possible record types and op flags are derived (for the rule
 * gate, core/policy/gate.ts), and every field use is classified exact / approximated / unsupported.
 * The closures' model (types, op flags, scopes, cost) is compiled.ts; literal conversion literals.ts;
 * string matching match.ts; field lookup field-lookup.ts; errors errors.ts.
 */
import { PolicyError } from '../errors.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import { VT, opFlagsOf, type FieldDef } from '../flatten/fields.js';
import { baseName } from '../flatten/paths.js';
import { compareExact, nsOfSafe } from '../util/i64.js';
import { UNSUPPORTED_FIELDS, SYSCALLS, KNOWN_SYSCALLS, UNRECORDED_SYSCALLS } from './falco-fields.js';
import type { Expr, Operand, Value } from './ast.js';
import { errorAt, UnsupportedField, type SourceRef } from './errors.js';
import { ALL_TYPES, ANY_OPS, FALSE, TRUE, combineScopes, estimateCost, popcount, withScope, type Compiled, type Pred } from './compiled.js';
import { OPFLAG_BITS, TYPE_CODES, literalBool, literalExact, literalInt } from './literals.js';
import { lookupField } from './field-lookup.js';
import { policyRegExp, globTest, memberTest, pathPrefixTest } from './match.js';

/** Limits that turn hostile nesting into errors instead of stack overflows. */
// as deep as conditions may nest (parser.ts), and well inside the stack a compile may use
const MAX_MACRO_DEPTH = 500;
const MAX_COMPILE_DEPTH = 2500;

export interface MacroDef {
  readonly name: string;
  readonly expr: Expr;
  readonly src: SourceRef;
}

export interface CompileEnv {
  readonly macros: ReadonlyMap<string, MacroDef>;
  readonly lists: ReadonlyMap<string, readonly string[]>;
  /** Compiled macros shared by every rule of a policy set (see Compiler.macro). */
  readonly macroCache?: Map<string, { compiled: Compiled; notes: Notes }>;
  /** Every field a condition of the set reads, by name (the gate keys its memos on their values). */
  readonly fieldsUsed?: Map<string, FieldDef>;
}

/** What a compilation learned besides the closure. */
export class Notes {
  readonly approx = new Set<string>();
  readonly unsupported = new Set<string>();
  merge(o: Notes): void {
    for (const x of o.approx) this.approx.add(x);
    for (const x of o.unsupported) this.unsupported.add(x);
  }
}

interface Getter {
  readonly vt: VT;
  readonly get: (r: FlatRecord) => unknown;
  readonly ns?: (r: FlatRecord) => number;
  /** Falco field names keep Falco's pmatch (path prefix); sf.* names sf-processor's (substring). */
  readonly falco: boolean;
  readonly name: string;
  readonly names?: ReadonlyMap<string, number>;
  readonly literal?: (text: string) => string;
}

const isList = (vt: VT) => vt === VT.StrList || vt === VT.IntList;
const isStr = (vt: VT) => vt === VT.Str || vt === VT.StrList;
const isNum = (vt: VT) => vt === VT.Int || vt === VT.IntList || vt === VT.Time;

export class Compiler {
  private readonly stack: string[] = [];
  private depth = 0;
  constructor(
    private readonly env: CompileEnv,
    public notes: Notes,
  ) {}

  compile(e: Expr, src: SourceRef): Compiled {
    if (++this.depth > MAX_COMPILE_DEPTH) throw errorAt(src, e.pos, `condition nested deeper than ${MAX_COMPILE_DEPTH} levels (macros included)`);
    try {
      let c = this.compileNode(e, src);
      if (c.c === undefined && !c.typeOnly && (e.k === 'exists' || e.k === 'cmp' || e.k === 'list')) c = withScope(c, this.leafScope(e));
      return c.cost !== undefined ? c : { ...c, cost: estimateCost(e, c) };
    } finally {
      this.depth--;
    }
  }

  private compileNode(e: Expr, src: SourceRef): Compiled {
    switch (e.k) {
      case 'const':
        return e.value ? TRUE : FALSE;
      case 'and':
        return this.and(e.items.map((x) => this.compile(x, src)));
      case 'or':
        return this.or(e.items.map((x) => this.compile(x, src)));
      case 'not': {
        const x = this.compile(e.e, src);
        if (x.c !== undefined) return x.c ? FALSE : TRUE;
        const f = x.fn;
        return withScope({ fn: (r) => !f(r), types: ALL_TYPES, ops: ANY_OPS, cost: x.cost }, x.scope ?? 0);
      }
      case 'macro':
        return this.macro(e.name, e.pos, src);
      case 'exists':
        return this.exists(this.operand(e.lhs, src));
      case 'cmp':
        return this.cmp(e, src);
      case 'list':
        return this.list(e, src);
    }
  }

  /** The scope bits shared by a comparison's fields (literals have every scope). */
  private leafScope(e: Extract<Expr, { k: 'exists' | 'cmp' | 'list' }>): number {
    const of = (o: Operand): number => (o.k === 'xf' ? of(o.arg) : (lookupField(o.name, o.arg).scope ?? 0));
    const lhs = of(e.lhs);
    return e.k === 'cmp' && e.rhs.k !== 'lit' ? lhs & of(e.rhs) : lhs;
  }

  private macro(name: string, pos: number, src: SourceRef): Compiled {
    const m = this.env.macros.get(name);
    if (m === undefined) {
      const why = UNSUPPORTED_FIELDS.get(name);
      throw errorAt(src, pos, why ? `'${name}' is a field and needs an operator` : `unknown macro '${name}'`);
    }
    if (this.stack.includes(name)) throw errorAt(src, pos, `macro '${name}' refers to itself (${[...this.stack, name].join(' → ')})`);
    if (this.stack.length >= MAX_MACRO_DEPTH) throw errorAt(src, pos, `macros nested deeper than ${MAX_MACRO_DEPTH} levels (${this.stack.slice(0, 3).join(' → ')} → …)`);
    const cache = this.env.macroCache;
    const hit = cache?.get(name);
    if (hit) {
      this.notes.merge(hit.notes);
      return hit.compiled;
    }
    const outer = this.notes;
    const own = new Notes();
    this.notes = own;
    this.stack.push(name);
    let c: Compiled;
    try {
      c = this.compile(m.expr, m.src);
    } catch (err) {
      outer.merge(own);
      throw err;
    } finally {
      this.stack.pop();
      this.notes = outer;
    }
    outer.merge(own);
    // Many rules share a macro: its value is kept for the record last seen, so each record
    // evaluates it once however many rules use it.
    if (c.c === undefined && !c.typeOnly) {
      const inner = c.fn;
      let last: FlatRecord | null = null;
      let value = false;
      const fn: Pred = (r) => {
        if (r !== last) {
          value = inner(r);
          last = r;
        }
        return value;
      };
      // cost stays the inner cost: the first rule to ask pays it
      const memo: Compiled = { fn, types: c.types, ops: c.ops, cost: c.cost };
      c = c.needs ? { ...memo, scope: c.scope ?? 0, needs: c.needs } : memo;
    }
    cache?.set(name, { compiled: c, notes: own });
    return c;
  }

  /** Rule level: the index guarantees the record type, so type tests it implies can go. */
  finishRule(c: Compiled, types: number): Compiled {
    if (c.typeOnly && (types & ~c.types) === 0) return TRUE;
    if (!c.parts) return c;
    const kept = c.parts.filter((p) => !(p.typeOnly && (types & ~p.types) === 0));
    if (kept.length === c.parts.length) return c;
    return this.and(kept);
  }

  /**
   * The rule's test once the gate (core/policy/gate.ts) has established its `drop`-scoped conjuncts:
   * those are true for the record and need not run again.
   */
  residual(c: Compiled, drop: number): { fn: Pred; dropped: boolean } {
    if ((c.scope ?? 0) & drop) return { fn: TRUE.fn, dropped: true };
    if (!c.parts) return { fn: c.fn, dropped: false };
    const kept = c.parts.filter((p) => !((p.scope ?? 0) & drop));
    return kept.length === c.parts.length ? { fn: c.fn, dropped: false } : { fn: this.and(kept).fn, dropped: true };
  }

  private and(xs: Compiled[]): Compiled {
    const live = xs.flatMap((x) => (x.parts ? x.parts : [x])).filter((x) => x.c !== true);
    if (live.some((x) => x.c === false)) return FALSE;
    if (live.length === 0) return TRUE;
    let types = ALL_TYPES;
    let ops = ANY_OPS;
    for (const x of live) {
      types &= x.types;
      if (x.ops !== ANY_OPS && (ops === ANY_OPS || popcount(x.ops) < popcount(ops))) ops = x.ops;
    }
    if (live.length === 1) return { ...live[0]!, types, ops };
    // cheap type and op-flag tests first, then by estimated cost
    live.sort((a, b) => (a.cost ?? 10) - (b.cost ?? 10));
    const cost = live.reduce((n, x) => n + (x.cost ?? 10), 0);
    const fs = live.map((x) => x.fn);
    const parts = live;
    let fn: Pred;
    if (fs.length === 2) {
      const [a, b] = fs as [Pred, Pred];
      fn = (r) => a(r) && b(r);
    } else if (fs.length === 3) {
      const [a, b, c] = fs as [Pred, Pred, Pred];
      fn = (r) => a(r) && b(r) && c(r);
    } else if (fs.length === 4) {
      const [a, b, c, d] = fs as [Pred, Pred, Pred, Pred];
      fn = (r) => a(r) && b(r) && c(r) && d(r);
    } else {
      fn = (r) => {
        for (let i = 0; i < fs.length; i++) if (!fs[i]!(r)) return false;
        return true;
      };
    }
    return combineScopes({ fn, types, ops, parts, cost }, live, true);
  }

  private or(xs: Compiled[]): Compiled {
    const live = xs.filter((x) => x.c !== false);
    if (live.some((x) => x.c === true)) return TRUE;
    if (live.length === 0) return FALSE;
    let types = 0;
    let ops = 0;
    for (const x of live) {
      types |= x.types;
      ops = ops === ANY_OPS || x.ops === ANY_OPS ? ANY_OPS : ops | x.ops;
    }
    if (live.length === 1) return live[0]!;
    live.sort((a, b) => (a.cost ?? 10) - (b.cost ?? 10));
    const cost = live.reduce((n, x) => n + (x.cost ?? 10), 0);
    const fs = live.map((x) => x.fn);
    let fn: Pred;
    if (fs.length === 2) {
      const [a, b] = fs as [Pred, Pred];
      fn = (r) => a(r) || b(r);
    } else {
      fn = (r) => {
        for (let i = 0; i < fs.length; i++) if (fs[i]!(r)) return true;
        return false;
      };
    }
    return combineScopes({ fn, types, ops, cost }, live, false);
  }

  /** Resolve an operand to a typed getter. */
  operand(o: Operand, src: SourceRef): Getter {
    if (o.k === 'field') {
      let d: FieldDef;
      try {
        d = lookupField(o.name, o.arg);
      } catch (err) {
        if (err instanceof UnsupportedField) {
          this.notes.unsupported.add(err.message);
          throw err;
        }
        if (err instanceof PolicyError) throw err;
        throw errorAt(src, o.pos, (err as Error).message);
      }
      if (d.approx) this.notes.approx.add(`${d.name}: ${d.approx}`);
      this.env.fieldsUsed?.set(d.name, d);
      return { vt: d.vt, get: d.get, ns: d.ns, falco: !o.name.startsWith('sf.'), name: d.name, names: d.names, literal: d.literal };
    }
    const inner = this.operand(o.arg, src);
    const g = inner.get;
    const name = `${o.fn}(${inner.name})`;
    if (o.fn === 'len') {
      if (inner.vt === VT.Str) return { vt: VT.Int, get: (r) => (g(r) as string).length, falco: inner.falco, name };
      if (isList(inner.vt)) return { vt: VT.Int, get: (r) => (g(r) as unknown[]).length, falco: inner.falco, name };
      throw errorAt(src, o.pos, `len() needs a string or list field, '${inner.name}' is a number`);
    }
    if (!isStr(inner.vt)) throw errorAt(src, o.pos, `${o.fn}() needs a string field, '${inner.name}' is not`);
    const f: (s: string) => string =
      o.fn === 'tolower'
        ? (s) => s.toLowerCase()
        : o.fn === 'toupper'
          ? (s) => s.toUpperCase()
          : o.fn === 'basename'
            ? (s) => (s === '' ? '' : baseName(s))
            : (s) => Buffer.from(s, 'base64').toString('utf8');
    if (inner.vt === VT.Str) return { vt: VT.Str, get: (r) => f(g(r) as string), falco: inner.falco, name };
    return { vt: VT.StrList, get: (r) => (g(r) as string[]).map(f), falco: inner.falco, name };
  }

  private exists(g: Getter): Compiled {
    const get = g.get;
    switch (g.vt) {
      case VT.Str:
        return { fn: (r) => (get(r) as string) !== '', types: ALL_TYPES, ops: ANY_OPS };
      case VT.Bool:
        return { fn: (r) => get(r) === true, types: ALL_TYPES, ops: ANY_OPS };
      case VT.Int:
        return { fn: (r) => (get(r) as number) !== 0, types: ALL_TYPES, ops: ANY_OPS };
      case VT.Time: {
        const ns = g.ns!;
        return { fn: (r) => (get(r) as number) !== 0 || ns(r) !== 0, types: ALL_TYPES, ops: ANY_OPS };
      }
      default:
        return { fn: (r) => (get(r) as unknown[]).length > 0, types: ALL_TYPES, ops: ANY_OPS };
    }
  }

  /** Literal texts of a list, with named lists expanded (bare items only). */
  private items(values: Value[]): { texts: string[]; fields: Operand[] } {
    const texts: string[] = [];
    const fields: Operand[] = [];
    for (const v of values) {
      if (v.k !== 'lit') {
        fields.push(v);
        continue;
      }
      const named = v.quoted ? undefined : this.env.lists.get(v.text);
      // a loop, not push(...named): a list of a million items would overflow the argument stack
      if (named) for (const t of named) texts.push(t);
      else texts.push(v.text);
    }
    return { texts, fields };
  }

  private list(e: Extract<Expr, { k: 'list' }>, src: SourceRef): Compiled {
    const g = this.operand(e.lhs, src);
    const items = this.items(e.items);
    const fields = items.fields;
    const texts = g.literal ? items.texts.map(g.literal) : items.texts;
    if (fields.length) throw errorAt(src, fields[0]!.pos, 'list items must be values');
    if (texts.length === 0) return FALSE;
    const get = g.get;
    if (e.op === 'pmatch') {
      if (!isStr(g.vt)) throw errorAt(src, e.pos, `pmatch needs a string field, '${g.name}' is not`);
      const test = g.falco ? pathPrefixTest(texts) : (s: string) => texts.some((t) => s.includes(t));
      // no type/op-flag index: a substring match is not an exact name (`sf.opflags pmatch (LINK)` is also true for UNLINK, SYMLINK)
      return this.strPred(g, test);
    }
    const fast = this.typeOrFlags(g, texts) ?? this.cidr(g, texts, src, e.pos);
    if (fast) return fast;
    const index = this.indexFor(g, texts);
    // in / intersects: membership
    if (isStr(g.vt)) {
      const test = memberTest(texts);
      return this.strPred(g, test, index);
    }
    if (g.vt === VT.Bool) {
      const bools = texts.map((t) => literalBool(t, src, e.pos));
      return { fn: (r) => bools.includes(get(r) as boolean), types: ALL_TYPES, ops: ANY_OPS };
    }
    if (g.vt === VT.Time) {
      const vals = texts.map((t) => literalExact(t, src, e.pos));
      const ns = g.ns!;
      return {
        fn: (r) => {
          const d = get(r) as number;
          const n = ns(r);
          return vals.some((v) => compareExact(d, n, v.d, v.ns) === 0);
        },
        types: ALL_TYPES,
        ops: ANY_OPS,
      };
    }
    const nums = new Set(texts.map((t) => literalInt(t, src, e.pos, g.names)));
    if (g.vt === VT.Int) return { fn: (r) => nums.has(get(r) as number), types: ALL_TYPES, ops: ANY_OPS };
    return { fn: (r) => (get(r) as number[]).some((x) => nums.has(x)), types: ALL_TYPES, ops: ANY_OPS };
  }

  /** A string predicate lifted over scalar or list fields (lists: any element). */
  private strPred(g: Getter, test: (s: string) => boolean, index: Partial<Compiled> = {}): Compiled {
    const get = g.get;
    const types = index.types ?? ALL_TYPES;
    const ops = index.ops ?? ANY_OPS;
    if (g.vt === VT.Str) return { fn: (r) => test(get(r) as string), types, ops };
    return {
      fn: (r) => {
        const xs = get(r) as readonly string[];
        for (let i = 0; i < xs.length; i++) if (test(xs[i]!)) return true;
        return false;
      },
      types,
      ops,
    };
  }

  /**
   * `sf.type` and `sf.opflags` membership as bit tests instead of name comparisons (same meaning:
   * network flows name WRITE/READ as SEND/RECV).
   */
  private typeOrFlags(g: Getter, texts: readonly string[]): Compiled | null {
    if (g.name === 'sf.type') {
      let types = 0;
      for (const t of texts) if (TYPE_CODES[t] !== undefined && t !== 'POD') types |= 1 << TYPE_CODES[t]!;
      if (types === 0) return FALSE;
      return { fn: (r) => ((types >> r.sfType) & 1) === 1, types, ops: ANY_OPS, typeOnly: true };
    }
    if (g.name === 'sf.opflags') {
      let nf = 0;
      let other = 0;
      for (const t of texts) {
        const bit = OPFLAG_BITS[t];
        if (bit === undefined) continue;
        if (t === 'SEND' || t === 'RECV') nf |= bit;
        else if (t === 'WRITE' || t === 'READ') other |= bit;
        else {
          nf |= bit;
          other |= bit;
        }
      }
      if ((nf | other) === 0) return FALSE;
      const NF = 5;
      return { fn: (r) => (opFlagsOf(r) & (r.sfType === NF ? nf : other)) !== 0, types: ALL_TYPES, ops: nf | other };
    }
    return null;
  }

  /** Falco's network fields (`fd.net`, `fd.snet`, …) compare with CIDR blocks: `fd.net = 10.0.0.0/8`. */
  private cidr(g: Getter, texts: readonly string[], src: SourceRef, pos: number): Compiled | null {
    if (!/^(fd\.[scrl]?net|sf\.net\.mask)$/.test(g.name)) return null;
    const nets = texts.map((t) => {
      const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(t.trim());
      const bits = m ? Number(m[5] ?? 32) : -1;
      if (!m || bits > 32 || m.slice(1, 5).some((x) => Number(x) > 255)) throw errorAt(src, pos, `${g.name} compares with an IPv4 address or CIDR block such as 10.0.0.0/8, not '${t}'`);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      const base = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
      return { base: (base & mask) >>> 0, mask };
    });
    const inNet = (ip: string) => {
      const p = ip.split('.');
      if (p.length !== 4) return false;
      const v = ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
      return nets.some((n) => (v & n.mask) >>> 0 === n.base);
    };
    return this.strPred(g, inNet);
  }

  /** Index hints from `sf.type`, `sf.opflags` and `evt.type` checks. */
  private indexFor(g: Getter, texts: readonly string[]): Partial<Compiled> {
    if (g.name === 'sf.type') {
      let types = 0;
      for (const t of texts) if (TYPE_CODES[t] !== undefined) types |= 1 << TYPE_CODES[t]!;
      return { types };
    }
    if (g.name === 'sf.opflags') {
      let ops = 0;
      for (const t of texts) ops |= OPFLAG_BITS[t] ?? 0;
      return { ops };
    }
    if (g.name === 'evt.type') {
      let types = 0;
      let ops = 0;
      for (const [st, bit, names] of SYSCALLS) {
        if (texts.some((t) => names.includes(t))) {
          types |= 1 << st;
          ops |= bit;
        }
      }
      const unknown = texts.filter((t) => !KNOWN_SYSCALLS.has(t));
      const unrecorded = unknown.filter((t) => UNRECORDED_SYSCALLS.has(t));
      if (unrecorded.length) this.notes.approx.add(`evt.type: SysFlow does not record ${unrecorded.join(', ')}`);
      const bogus = unknown.filter((t) => !UNRECORDED_SYSCALLS.has(t));
      if (bogus.length) this.notes.approx.add(`evt.type: unknown syscall name ${bogus.join(', ')}`);
      return { types, ops };
    }
    return {};
  }

  private cmp(e: Extract<Expr, { k: 'cmp' }>, src: SourceRef): Compiled {
    // `1 = 1` (an always-true placeholder in upstream's templated policies): a number on the left is
    // not a field; compare the two numbers once, here
    if (e.lhs.k === 'field' && e.lhs.arg === null && /^-?\d+$/.test(e.lhs.name) && e.rhs.k === 'lit' && /^-?\d+$/.test(e.rhs.text.trim())) {
      const a = Number(e.lhs.name);
      const b = Number(e.rhs.text.trim());
      const op = e.op;
      const v = op === '=' ? a === b : op === '!=' ? a !== b : op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : op === '>=' ? a >= b : null;
      if (v !== null) return v ? TRUE : FALSE;
    }
    const g = this.operand(e.lhs, src);
    const op = e.op;
    if (e.rhs.k !== 'lit') return this.fieldCmp(g, op, this.operand(e.rhs, src), src, e.pos);
    const text = g.literal ? g.literal(e.rhs.text) : e.rhs.text;
    const get = g.get;
    const ordered = op === '<' || op === '<=' || op === '>' || op === '>=';

    if (isStr(g.vt)) {
      if (ordered) throw errorAt(src, e.pos, `'${op}' needs a numeric field, '${g.name}' is a string`);
      let test: (s: string) => boolean;
      switch (op) {
        case '=':
        case '!=': {
          const eq = this.typeOrFlags(g, [text]) ?? this.cidr(g, [text], src, e.rhs.pos) ?? this.strPred(g, (s) => s === text, this.indexFor(g, [text]));
          if (op === '!=' && eq.typeOnly) {
            const f = eq.fn;
            return { fn: (r) => !f(r), types: ALL_TYPES & ~eq.types, ops: ANY_OPS, typeOnly: true };
          }
          if (op === '=') return eq;
          const f = eq.fn;
          return { fn: (r) => !f(r), types: ALL_TYPES, ops: ANY_OPS };
        }
        case 'contains':
          test = (s) => s.includes(text);
          break;
        case 'icontains': {
          const lower = text.toLowerCase();
          test = (s) => s.toLowerCase().includes(lower);
          break;
        }
        case 'startswith':
          test = (s) => s.startsWith(text);
          break;
        case 'endswith':
          test = (s) => s.endsWith(text);
          break;
        case 'bcontains':
        case 'bstartswith': {
          if (!/^([0-9a-fA-F]{2})+$/.test(text)) throw errorAt(src, e.rhs.pos, `${op} needs hex bytes, e.g. 2f746d70`);
          const bytes = Buffer.from(text, 'hex').toString('latin1');
          const latin = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
          test = op === 'bcontains' ? (s) => latin(s).includes(bytes) : (s) => latin(s).startsWith(bytes);
          break;
        }
        case 'glob':
        case 'iglob':
          try {
            test = globTest(text, op === 'iglob');
          } catch (err) {
            throw errorAt(src, e.rhs.pos, `invalid glob '${text}': ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
          }
          break;
        case 'regex': {
          let re: { test(s: string): boolean };
          try {
            re = policyRegExp(text);
          } catch (err) {
            throw errorAt(
              src,
              e.rhs.pos,
              `regex rejected: ${(err as Error).message.replace(/^Invalid regular expression: /, '')} (backreferences and lookaround are not allowed: patterns must run in linear time)`,
            );
          }
          test = (s) => re.test(s);
          break;
        }
        default:
          throw errorAt(src, e.pos, `operator '${op}' does not apply to '${g.name}'`);
      }
      return this.strPred(g, test);
    }

    if (g.vt === VT.Bool) {
      if (op !== '=' && op !== '!=') throw errorAt(src, e.pos, `'${op}' does not apply to the boolean '${g.name}'`);
      const b = literalBool(text, src, e.rhs.pos);
      return op === '=' ? { fn: (r) => get(r) === b, types: ALL_TYPES, ops: ANY_OPS } : { fn: (r) => get(r) !== b, types: ALL_TYPES, ops: ANY_OPS };
    }

    if (!isNum(g.vt) || !(op === '=' || op === '!=' || ordered)) throw errorAt(src, e.pos, `operator '${op}' does not apply to the number '${g.name}'`);
    if (g.vt === VT.Time) {
      const v = literalExact(text, src, e.rhs.pos);
      const ns = g.ns!;
      const c = (r: FlatRecord) => compareExact(get(r) as number, ns(r), v.d, v.ns);
      const fn: Pred =
        op === '=' ? (r) => c(r) === 0 : op === '!=' ? (r) => c(r) !== 0 : op === '<' ? (r) => c(r) < 0 : op === '<=' ? (r) => c(r) <= 0 : op === '>' ? (r) => c(r) > 0 : (r) => c(r) >= 0;
      return { fn, types: ALL_TYPES, ops: ANY_OPS };
    }
    const n = literalInt(text, src, e.rhs.pos, g.names);
    const t: (x: number) => boolean = op === '=' ? (x) => x === n : op === '!=' ? (x) => x !== n : op === '<' ? (x) => x < n : op === '<=' ? (x) => x <= n : op === '>' ? (x) => x > n : (x) => x >= n;
    if (g.vt === VT.Int) return { fn: (r) => t(get(r) as number), types: ALL_TYPES, ops: ANY_OPS };
    // int lists: any element; != means no element equals
    if (op === '!=') return { fn: (r) => !(get(r) as number[]).includes(n), types: ALL_TYPES, ops: ANY_OPS };
    return { fn: (r) => (get(r) as number[]).some(t), types: ALL_TYPES, ops: ANY_OPS };
  }

  /** Field-to-field comparison (`sf.proc.exe = sf.pproc.exe`, `proc.name = val(proc.pname)`). */
  private fieldCmp(a: Getter, op: string, b: Getter, src: SourceRef, pos: number): Compiled {
    const ordered = op === '<' || op === '<=' || op === '>' || op === '>=';
    if (isStr(a.vt) !== isStr(b.vt) || (a.vt === VT.Bool) !== (b.vt === VT.Bool)) throw errorAt(src, pos, `cannot compare '${a.name}' with '${b.name}': different types`);
    if (a.vt === VT.Time || b.vt === VT.Time) return this.timeCmp(a, op, b, src, pos);
    const vals =
      (g: Getter) =>
      (r: FlatRecord): readonly unknown[] => {
        const v = g.get(r);
        return isList(g.vt) ? (v as unknown[]) : [g.vt === VT.Time ? String(v) + ':' + String(g.ns!(r)) : v];
      };
    const va = vals(a);
    const vb = vals(b);
    let t: (x: unknown, y: unknown) => boolean;
    if (ordered) {
      if (!isNum(a.vt)) throw errorAt(src, pos, `'${op}' between fields needs integer fields`);
      t =
        op === '<'
          ? (x, y) => (x as number) < (y as number)
          : op === '<='
            ? (x, y) => (x as number) <= (y as number)
            : op === '>'
              ? (x, y) => (x as number) > (y as number)
              : (x, y) => (x as number) >= (y as number);
    } else if (op === '=' || op === '!=') t = (x, y) => x === y;
    else if (isStr(a.vt) && op === 'contains') t = (x, y) => (x as string).includes(y as string);
    else if (isStr(a.vt) && op === 'startswith') t = (x, y) => (x as string).startsWith(y as string);
    else if (isStr(a.vt) && op === 'endswith') t = (x, y) => (x as string).endsWith(y as string);
    else throw errorAt(src, pos, `operator '${op}' cannot compare two fields`);
    const any = (r: FlatRecord) => {
      const xs = va(r);
      const ys = vb(r);
      for (const x of xs) for (const y of ys) if (t(x, y)) return true;
      return false;
    };
    return op === '!=' ? { fn: (r) => !any(r), types: ALL_TYPES, ops: ANY_OPS } : { fn: any, types: ALL_TYPES, ops: ANY_OPS };
  }

  /** Field to field where one side is a 64-bit ns value (`sf.proc.createts < sf.ts`): exact, an integer side is widened. */
  private timeCmp(a: Getter, op: string, b: Getter, src: SourceRef, pos: number): Compiled {
    const test: ((c: number) => boolean) | undefined = (
      {
        '=': (c: number) => c === 0,
        '!=': (c: number) => c === 0,
        '<': (c: number) => c < 0,
        '<=': (c: number) => c <= 0,
        '>': (c: number) => c > 0,
        '>=': (c: number) => c >= 0,
      } as Record<string, (c: number) => boolean>
    )[op];
    if (test === undefined) throw errorAt(src, pos, `operator '${op}' cannot compare two fields`);
    const pairs =
      (g: Getter) =>
      (r: FlatRecord): readonly (readonly [number, number])[] => {
        if (g.vt === VT.Time) return [[g.get(r) as number, g.ns!(r)]];
        const v = g.get(r);
        return (isList(g.vt) ? (v as number[]) : [v as number]).map((x) => [x, nsOfSafe(x)] as const);
      };
    let any: Pred;
    if (a.vt === VT.Time && b.vt === VT.Time) {
      const [ga, na, gb, nb] = [a.get, a.ns!, b.get, b.ns!];
      any = (r) => test(compareExact(ga(r) as number, na(r), gb(r) as number, nb(r)));
    } else {
      const pa = pairs(a);
      const pb = pairs(b);
      any = (r) => {
        for (const [d1, n1] of pa(r)) for (const [d2, n2] of pb(r)) if (test(compareExact(d1, n1, d2, n2))) return true;
        return false;
      };
    }
    return op === '!=' ? { fn: (r) => !any(r), types: ALL_TYPES, ops: ANY_OPS } : { fn: any, types: ALL_TYPES, ops: ANY_OPS };
  }
}
