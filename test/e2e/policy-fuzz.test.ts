/**
 * Fuzzing the policy front end: > 100,000 generated and mutated conditions and policy files go
 * through parseCondition, the compiler (buildPolicySet) and the YAML loader (loadPolicySet), and
 * every compiled condition and output template is evaluated on a handful of records. The only
 * acceptable failures are clean errors: ConditionSyntaxError, PolicyError, or a plain Error, each
 * with a one-line message. Never a TypeError / RangeError / raw SyntaxError, never a hang (each input
 * is timed).
 *
 * Deterministic: a seeded PRNG (FUZZ_SEED, default below) drives everything, and each case has its
 * own generator derived from (seed, section, index), so a failure message — which names the seed,
 * the section, the case and the input — reproduces. FUZZ_SCALE=n multiplies the case counts.
 *
 * Failures that match a known, reported engine bug (KNOWN below, each with a todo test in
 * policy-lang / policy-loader / here) are counted and printed, not failed, so that the fuzz keeps
 * guarding against *new* failure classes.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseCondition, ConditionSyntaxError } from '../../core/policy/parser.js';
import { PolicyError } from '../../core/errors.js';
import { lookupField } from '../../core/policy/field-lookup.js';
import { loadPolicySet, buildPolicySet, type PolicySet } from '../../core/policy/policyset.js';
import { SF_FIELDS, VT, opFlagsOf } from '../../core/flatten/fields.js';
import { FALCO_FIELDS, UNSUPPORTED_FIELDS } from '../../core/policy/falco-fields.js';
import type { FlatRecord } from '../../core/flatten/flatrecord.js';
import { FIXTURES } from '../helpers/corpus.js';
import { definitions, fe, ff, initHashing, ke, nf, pe, policyFromYaml, referencePredicate, OpFlags, type CondEnv } from '../helpers/records.js';
import { prng } from '../helpers/prng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20240611) >>> 0;
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
/** An input that takes longer than this is a hang. */
const SLOW_MS = 2000;

// ---------------------------------------------------------------------------------------------
// PRNG

function hash(...xs: (number | string)[]): number {
  let h = 2166136261;
  for (const x of xs) for (const c of String(x) + '\u0000') h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return h;
}
class Rng {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}
const caseRng = (section: string, i: number) => new Rng(hash(SEED, section, i));

// ---------------------------------------------------------------------------------------------
// outcome checking

/** Known engine bugs (reported; todo tests exist): matching failures are counted, not failed. */
const KNOWN: ReadonlyArray<{ id: string; test: (err: unknown, input: string) => boolean }> = [
  // (fixed in 93f50d5: glob/iglob threw raw SyntaxErrors from the linear-time RegExp — 825 hits with this seed)
  {
    // policy-lang.test: "error messages are one line even when the value has a newline"
    id: 'PolicyError message with a newline (echoed value)',
    test: (e) => e instanceof PolicyError && e.message.includes('\n') && !e.file.includes('\n'),
  },
];

interface Stats {
  cases: number;
  ok: number;
  clean: number;
  known: Map<string, number>;
  maxMs: number;
  maxInput: string;
}
const newStats = (): Stats => ({ cases: 0, ok: 0, clean: 0, known: new Map(), maxMs: 0, maxInput: '' });
const ALL: Record<string, Stats> = {};

const show = (s: string) => (s.length > 600 ? JSON.stringify(s.slice(0, 300)) + ` … (${s.length} chars) … ` + JSON.stringify(s.slice(-200)) : JSON.stringify(s));

function isClean(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const cleanClass = err instanceof ConditionSyntaxError || err instanceof PolicyError || Object.getPrototypeOf(err) === Error.prototype;
  return cleanClass && err.message.length > 0 && !err.message.includes('\n');
}

/** Run one case; throws an AssertionError naming the seed, the case and the input on a bad outcome. */
function attempt(stats: Stats, section: string, i: number, input: string, fn: () => void): void {
  stats.cases++;
  const t0 = performance.now();
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  if (ms > stats.maxMs) {
    stats.maxMs = ms;
    stats.maxInput = input;
  }
  const where = `FUZZ_SEED=${SEED} section=${section} case=${i}`;
  assert.ok(ms < SLOW_MS, `${where}: took ${ms.toFixed(0)} ms (hang?) on input ${show(input)}`);
  if (err === null) {
    stats.ok++;
    return;
  }
  if (isClean(err)) {
    stats.clean++;
    return;
  }
  const known = KNOWN.find((k) => k.test(err, input));
  if (known) {
    stats.known.set(known.id, (stats.known.get(known.id) ?? 0) + 1);
    return;
  }
  const what = err instanceof Error ? `${err.constructor.name}: ${err.message}\n${err.stack?.split('\n').slice(1, 6).join('\n')}` : String(err);
  assert.fail(`${where}: unclean failure ${what}\ninput: ${show(input)}`);
}

function report(t: { diagnostic(s: string): void }, name: string, s: Stats): void {
  ALL[name] = s;
  t.diagnostic(`${name}: ${s.cases} cases, ${s.ok} compiled/loaded, ${s.clean} clean errors, slowest ${s.maxMs.toFixed(1)} ms`);
  for (const [id, n] of s.known) t.diagnostic(`  known bug ×${n}: ${id}`);
}

// ---------------------------------------------------------------------------------------------
// records every compiled condition is evaluated on

let RECORDS: FlatRecord[] = [];
function records(): FlatRecord[] {
  const ctr = { id: 'abcdef012345', name: 'web', privileged: true };
  return [
    pe({ exe: '/usr/bin/curl', args: '-s http://x/a,b "q"', parent: { pid: 99, exe: '/bin/bash' }, ts: '1700000000123456789' }),
    pe({ exe: '/bin/sh', parent: null, container: ctr, flags: OpFlags.CLONE }),
    pe({ proc: null, flags: OpFlags.EXIT, ret: -1 }),
    ff({ path: '/etc/shadow', openFlags: 3, flags: OpFlags.OPEN | OpFlags.WRITE_SEND | OpFlags.CLOSE }),
    ff({ path: '3f1a->3f1b /run/x.sock', restype: 'u' }),
    nf({ sip: '10.1.2.3', dip: '255.255.255.255', sport: 0, dport: 65535, proto: 17 }),
    fe({ flags: OpFlags.RENAME, path: '/tmp/a', newPath: '/tmp/b' }),
    ke({ message: JSON.stringify({ items: [{ namespace: 'default', name: 'p' }] }) }),
    ke({ message: 'not json {' }),
  ];
}

/** PolicySet.evaluate and the plainly compiled condition disagree (rule index / optimisation bug). */
class EvaluateDisagrees extends Error {}

/** Evaluate a compiled set everywhere (evaluate, dropped, rule tests, outputs): runtime errors surface here. */
function exercise(set: PolicySet): void {
  for (const r of RECORDS) {
    r.rules = null;
    r.tags = null;
    set.evaluate(r);
    set.dropped(r);
    for (const rule of set.rules) {
      rule.test(r);
      if (rule.output) rule.output(r);
    }
  }
}

/** For a one-rule set built from `cond`: evaluate() must equal the plain compiled condition on every record. */
function agree(set: PolicySet, cond: string): void {
  if (set.rules.length === 0) return;
  const ref = referencePredicate(cond, ENV);
  for (const r of RECORDS) {
    r.rules = null;
    const got = set.evaluate(r);
    const want = ref(r);
    if (got !== want) throw new EvaluateDisagrees(`PolicySet.evaluate says ${got}, the plain compiled condition ${want}, on sfType ${r.sfType} flags ${opFlagsOf(r)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// vocabulary

const ENV: CondEnv = {
  lists: { shells: ['bash', 'sh', 'zsh'], empty: [], nested: ['shells', '/etc', 'a b', 'x,y'], ports: ['22', '80', '0x1bb'] },
  macros: { spawned: 'evt.type in (execve, execveat)', shell: 'proc.name in (shells)', both: 'spawned and shell', never: 'evt.num = 0' },
};
const isRhsField = (n: string) => SF_FIELDS.has(n);

const vtOf = (name: string): VT | null => {
  try {
    return lookupField(name, null).vt;
  } catch {
    return null;
  }
};
const KNOWN_FIELDS = [...SF_FIELDS.keys(), ...FALCO_FIELDS.keys()];
const STR_FIELDS = KNOWN_FIELDS.filter((n) => vtOf(n) === VT.Str || vtOf(n) === VT.StrList);
const NUM_FIELDS = KNOWN_FIELDS.filter((n) => vtOf(n) === VT.Int || vtOf(n) === VT.IntList || vtOf(n) === VT.Time);
const BOOL_FIELDS = KNOWN_FIELDS.filter((n) => vtOf(n) === VT.Bool);
const ARG_FIELDS = [
  'proc.aname[0]',
  'proc.aname[2]',
  'proc.apid[1]',
  'proc.aexe[3]',
  'proc.acmdline[1]',
  'sf.ke.message[items.0.namespace]',
  'sf.pod.services[0.name]',
  'proc.aname[x]',
  'proc.aname[]',
  'sf.ke.message[]',
  'proc.name[1]',
  'sf.ke.message[a..b]',
];
const ODD_FIELDS = [...[...UNSUPPORTED_FIELDS.keys()].slice(0, 30), 'evt.arg.request', 'evt.arg[0]', 'ka.verb', 'foo.bar', 'proc.nme', 'sf.proc', 'a.b.c.d', 'x'];
const STR_OPS = ['=', '==', '!=', 'contains', 'icontains', 'startswith', 'endswith', 'glob', 'iglob', 'regex', 'bcontains', 'bstartswith'];
const NUM_OPS = ['=', '!=', '<', '<=', '>', '>='];
const LIST_OPS = ['in', 'intersects', 'pmatch'];
const XFS = ['tolower', 'toupper', 'basename', 'len', 'b64'];
const STR_VALUES = [
  'bash',
  'curl',
  '/etc/shadow',
  '/etc',
  '/',
  '""',
  "''",
  '"a b"',
  "'x,y'",
  '"a\\nb"',
  '"\\x41"',
  "'it\\'s'",
  '"say \\"hi\\""',
  '"\\t\\\\"',
  '"*.so"',
  '/tmp/*',
  '"[a-z]*"',
  '"[!a]?"',
  '"[z-a]"',
  '"["',
  'c*rl',
  '"(a|a)*b"',
  '"a{2,3}"',
  '".*"',
  '"(?=x)"',
  '"(a)\\\\1"',
  '"[a-"',
  '6162',
  '2f746d70',
  'abc',
  '0',
  '-1',
  'PE',
  'FF',
  'READ',
  'execve',
  'host',
  'true',
  'false',
  '<',
  '>',
  'shells',
  'empty',
  'nested',
  'sf.proc.name',
  'sf.pproc.exe',
  'proc.pname',
  '"\\q"',
  '"\\x4"',
  '"unterminated',
];
const NUM_VALUES = ['0', '1', '-1', '100', '65535', '0x64', '0xFFFFFFFF', '1700000000123456789', '9223372036854775807', '99999999999999999999', '1e2', '1.5', '+7', 'abc', '""', 'true'];
const BOOL_VALUES = ['true', 'false', 'TRUE', '0', '1', 'yes', '2'];

// ---------------------------------------------------------------------------------------------
// generators

/** Random token soup from the grammar's vocabulary. */
function soup(g: Rng): string {
  const n = g.range(1, 24);
  const toks: string[] = [];
  for (let k = 0; k < n; k++) {
    const c = g.int(15);
    toks.push(
      c < 3
        ? g.pick(KNOWN_FIELDS)
        : c === 3
          ? g.pick([...ARG_FIELDS, ...ODD_FIELDS])
          : c < 6
            ? g.pick([...STR_OPS, ...NUM_OPS, ...LIST_OPS, 'exists', '!', '=<'])
            : c === 6
              ? g.pick(['and', 'or', 'not', 'not(', 'and(', 'or('])
              : c === 7
                ? g.pick(['(', ')', '[', ']', ',', '()', '(,)'])
                : c === 8
                  ? g.pick(XFS) + '('
                  : c === 9
                    ? 'val('
                    : c === 10
                      ? g.pick(Object.keys(ENV.macros!))
                      : c < 13
                        ? g.pick(STR_VALUES)
                        : g.pick(NUM_VALUES),
    );
  }
  return toks.join(g.chance(0.1) ? '' : g.pick([' ', ' ', ' ', '  ', '\n', '\t']));
}

function operand(g: Rng, pool: readonly string[], depth: number): string {
  if (depth > 0 && g.chance(0.2)) {
    const xf = g.pick(XFS);
    return `${xf}(${operand(g, g.chance(0.8) ? pool : KNOWN_FIELDS, depth - 1)})`;
  }
  if (g.chance(0.05)) return g.pick(ARG_FIELDS);
  if (g.chance(0.02)) return g.pick(ODD_FIELDS);
  return g.pick(pool);
}

function check(g: Rng): string {
  const kind = g.int(10);
  if (kind === 0) return `${operand(g, KNOWN_FIELDS, 2)} exists`;
  if (kind === 1) return g.pick(Object.keys(ENV.macros!));
  if (kind < 4) {
    const items = Array.from({ length: g.int(5) }, () => g.pick(g.chance(0.5) ? STR_VALUES : NUM_VALUES)).join(', ');
    const [o, c] = g.chance(0.85) ? ['(', ')'] : ['[', ']'];
    return `${operand(g, g.chance(0.7) ? STR_FIELDS : NUM_FIELDS, 2)} ${g.pick(LIST_OPS)} ${o}${items}${c}`;
  }
  const t = g.int(10);
  if (t < 6) {
    const rhs = g.chance(0.1) ? `val(${g.pick(STR_FIELDS)})` : g.chance(0.05) ? g.pick(STR_FIELDS.filter((f) => f.startsWith('sf.'))) : g.pick(STR_VALUES);
    return `${operand(g, STR_FIELDS, 2)} ${g.pick(STR_OPS)} ${rhs}`;
  }
  if (t < 9) return `${operand(g, NUM_FIELDS, 0)} ${g.pick(NUM_OPS)} ${g.chance(0.1) ? `val(${g.pick(NUM_FIELDS)})` : g.pick(NUM_VALUES)}`;
  return `${g.pick(BOOL_FIELDS)} ${g.pick(['=', '!='])} ${g.pick(BOOL_VALUES)}`;
}

/** A mostly well-formed condition. */
function expr(g: Rng, depth: number): string {
  if (depth <= 0 || g.chance(0.35)) return check(g);
  switch (g.int(5)) {
    case 0:
      return `not ${expr(g, depth - 1)}`;
    case 1:
      return `(${expr(g, depth - 1)})`;
    case 2:
      return `${expr(g, depth - 1)} and ${expr(g, depth - 1)}`;
    case 3:
      return `${expr(g, depth - 1)} or ${expr(g, depth - 1)}`;
    default:
      return g.pick(['not(', 'not (']) + expr(g, depth - 1) + ')';
  }
}

const COND_CHARS = ' ()[],=<>!"\'\\\n\tabcxyz019._-/*?%&|{}:#@$^~`';
/** Byte flips, deletions, insertions, duplications, truncation, swaps. */
function mutate(g: Rng, s: string, alphabet: string, tokens: readonly string[]): string {
  const n = g.range(1, 4);
  for (let k = 0; k < n; k++) {
    const at = s.length ? g.int(s.length) : 0;
    switch (g.int(8)) {
      case 0:
        s = s.slice(0, at) + g.pick([...alphabet]) + s.slice(at + 1);
        break;
      case 1:
        s = s.slice(0, at) + s.slice(at + g.range(1, 8));
        break;
      case 2:
        s = s.slice(0, at) + g.pick(tokens) + s.slice(at);
        break;
      case 3: {
        const len = g.range(1, 40);
        s = s.slice(0, at + len) + s.slice(at, at + len) + s.slice(at + len);
        break;
      }
      case 4:
        s = s.slice(0, at);
        break;
      case 5: {
        const b = g.int(s.length + 1);
        const [x, y] = at < b ? [at, b] : [b, at];
        s = s.slice(y) + s.slice(x, y) + s.slice(0, x);
        break;
      }
      case 6:
        s = s.slice(0, at) + String.fromCharCode(g.int(0x3000)) + s.slice(at + 1);
        break;
      default:
        s = g.pick(['not ', '(', 'not(', '((']) + s + g.pick(['', ')', '))', ' and x']);
    }
  }
  return s;
}

// policy-file vocabulary
const FIXTURE = readFileSync(join(FIXTURES, 'falco', 'falco_rules.yaml'), 'utf8');
/** Top-level items of the fixture (each starts with "- " at column 0), without comments-only chunks. */
const ITEMS = FIXTURE.split(/\n(?=- )/).filter((x) => /^- (rule|macro|list|required_engine_version):/m.test(x));
const ITEM_NAME = new Map<string, number>();
ITEMS.forEach((it, i) => {
  const m = /^- (?:macro|list): (\S+)/.exec(it);
  if (m) ITEM_NAME.set(m[1]!, i);
});
/** An item plus the lists and macros it mentions, transitively, definitions first. */
function withDeps(idx: readonly number[]): string {
  const seen = new Set<number>();
  const order: number[] = [];
  const visit = (i: number) => {
    if (seen.has(i)) return;
    seen.add(i);
    for (const w of ITEMS[i]!.match(/[A-Za-z_][A-Za-z0-9_.-]*/g) ?? []) {
      const j = ITEM_NAME.get(w);
      if (j !== undefined && j !== i) visit(j);
    }
    order.push(i);
  };
  idx.forEach(visit);
  return order.map((i) => ITEMS[i]!.trimEnd()).join('\n\n') + '\n';
}
const YAML_CHARS = ' \n-:[]{}"\'#&*!|>%@`\t\\(),=a0.';
const YAML_SNIPPETS = [
  '\n  override:\n    condition: append\n',
  '\n  override:\n    items: replace\n',
  '\n  append: true\n',
  '\n  enabled: false\n',
  '\n  enabled: maybe\n',
  '\n  exceptions:\n    - name: x\n      fields: [proc.name, user.name]\n      values: [[a, b], [c]]\n',
  '\n  exceptions:\n    - name: y\n      fields: proc.name\n      comps: pmatch\n      values: [/tmp]\n',
  '\n- required_engine_version: 0.99.0\n',
  '\n- required_engine_version: 26\n',
  '\n  priority: BOGUS\n',
  '\n  prefilter: [PE, ZZ]\n',
  '\n  skip-if-unknown-filter: true\n',
  '\n  source: k8s_audit\n',
  '\n- filter: f\n  condition: proc.name = x\n',
  '\n  output: "%proc.name %proc.aname[2] %toupper(fd.name) %20evt.type %nope.field"\n',
  '\n  actions: [tag, bogus]\n',
  '\n- macro: loop\n  condition: loop\n',
  '\n- list: l1\n  items: [l2]\n- list: l2\n  items: [l1]\n',
  '\n  condition: [a, b]\n',
  '\n---\n',
  ' &a ',
  ' *a ',
  ' !!str ',
  ': ',
  ' # c',
  '\n- rule: x\n  condition: spawned_process and\n',
];

// ---------------------------------------------------------------------------------------------

const N = (n: number) => Math.max(1, Math.round(n * SCALE));

describe('policy fuzz', { timeout: 300_000 }, () => {
  const t0 = performance.now();
  before(async () => {
    await initHashing();
    RECORDS = records();
    console.log(`# policy fuzz: FUZZ_SEED=${SEED} FUZZ_SCALE=${SCALE}`);
  });
  after(() => {
    const total = Object.values(ALL).reduce((a, s) => a + s.cases, 0);
    console.log(`# policy fuzz: ${total} inputs in ${((performance.now() - t0) / 1000).toFixed(1)} s (FUZZ_SEED=${SEED})`);
  });

  /** Parse with parseCondition, then compile and evaluate with the list/macro environment. */
  const condCase = (cond: string) => () => {
    try {
      parseCondition(cond, isRhsField);
    } catch (e) {
      if (!(e instanceof ConditionSyntaxError)) throw e;
      assert.ok(Number.isInteger(e.pos) && e.pos >= 0 && e.pos <= cond.length, `error position ${e.pos} in 0..${cond.length}`);
    }
    const set = buildPolicySet(definitions(cond, ENV));
    exercise(set);
    agree(set, cond);
  };

  test('token soup', (t) => {
    const s = newStats();
    for (let i = 0; i < N(30_000); i++) {
      const cond = soup(caseRng('soup', i));
      attempt(s, 'soup', i, cond, condCase(cond));
    }
    report(t, 'token soup', s);
  });

  test('grammar-generated conditions and output templates', (t) => {
    const s = newStats();
    for (let i = 0; i < N(25_000); i++) {
      const g = caseRng('gen', i);
      const cond = expr(g, g.range(0, 6));
      const output = Array.from({ length: g.int(4) }, () => `%${g.chance(0.2) ? g.range(1, 30) : ''}${operand(g, KNOWN_FIELDS, 1)}`).join(g.pick([' ', '', '=', ',']));
      attempt(s, 'gen', i, `${cond}\noutput: ${output}`, () => {
        parseCondition(cond, isRhsField);
        const set = buildPolicySet(definitions(cond, ENV, { output }));
        exercise(set);
        agree(set, cond);
      });
    }
    report(t, 'generated', s);
    assert.ok(s.ok > s.cases / 10, `enough generated conditions compile (${s.ok}/${s.cases})`);
  });

  test('mutated conditions (generated and from the Falco rules)', (t) => {
    const s = newStats();
    const pool = [...FIXTURE.matchAll(/^ {2}condition: (?:>\n((?: {4}.*\n)+)|(.*)\n)/gm)].map((m) => (m[1] ?? m[2]!).replace(/\n {4}/g, '\n').trim());
    assert.ok(pool.length > 80, `conditions in the fixture: ${pool.length}`);
    const tokens = [...STR_OPS, ...LIST_OPS, 'and', 'or', 'not', '(', ')', '"', "'", '\\', ',', 'exists', 'val(', 'tolower(', '[', ']', ...Object.keys(ENV.macros!)];
    for (let i = 0; i < N(30_000); i++) {
      const g = caseRng('mut', i);
      const base = g.chance(0.5) ? g.pick(pool) : expr(g, 4);
      const cond = mutate(g, base, COND_CHARS, tokens);
      attempt(s, 'mut', i, cond, condCase(cond));
    }
    report(t, 'mutated conditions', s);
  });

  test('deep nesting, long chains, long lists', (t) => {
    const s = newStats();
    const shapes: ((k: number) => string)[] = [
      (k) => '('.repeat(k) + 'proc.name = bash' + ')'.repeat(k),
      (k) => 'not '.repeat(k) + 'proc.name = bash',
      (k) => 'not('.repeat(k) + 'proc.name = bash' + ')'.repeat(k),
      (k) => 'tolower('.repeat(k) + 'proc.name' + ')'.repeat(k) + ' = bash',
      (k) => 'proc.name = val(' + 'tolower('.repeat(k) + 'proc.pname' + ')'.repeat(k + 1),
      (k) => '('.repeat(k),
      (k) => ')'.repeat(k),
      (k) => 'not '.repeat(k),
      (k) => '(not '.repeat(k) + 'shell' + ')'.repeat(k),
      (k) => Array.from({ length: k }, (_, j) => `proc.name = a${j}`).join(' or '),
      (k) => Array.from({ length: k }, (_, j) => `(proc.pid != ${j} and not shell)`).join(' and '),
      (k) => `proc.name in (${Array.from({ length: k }, (_, j) => `v${j}`).join(', ')})`,
      (k) => `proc.name in (${'shells, '.repeat(k)}x)`,
      (k) => `proc.name = "${'\\\\'.repeat(k)}"`,
      (k) => `proc.name = ${'a'.repeat(k * 10)}`,
      (k) => `proc.aname[${'9'.repeat(k)}] = a`,
      (k) => `proc.args regex "${'(a|a)*'.repeat(Math.min(k, 200))}b"`,
      (k) => `proc.args glob "${'*'.repeat(k)}x"`,
      (k) => '[' + '['.repeat(k) + 'a' + ']'.repeat(k),
      (k) => 'proc.name in ' + '('.repeat(k) + 'a' + ')'.repeat(k),
    ];
    const sizes = [1, 2, 10, 99, 100, 101, 250, 499, 500, 501, 999, 1000, 1001, 2000, 5000];
    let i = 0;
    for (const shape of shapes)
      for (const k of sizes) {
        const cond = shape(k);
        attempt(s, 'deep', i++, cond, condCase(cond));
      }
    report(t, 'deep/long', s);
  });

  // ---- policy files

  const dir = mkdtempSync(join(tmpdir(), 'sfp-fuzz-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let fileSeq = 0;
  const loadText = (text: string) => () => {
    const file = join(dir, `p${fileSeq++ % 64}.yaml`);
    writeFileSync(file, text);
    exercise(loadPolicySet(file));
  };

  test('the Falco rules fixture loads cleanly (baseline)', () => {
    const set = policyFromYaml(FIXTURE);
    assert.equal(set.report.length, 25);
    exercise(set);
  });

  test('mutated policy files from fixture items (with their lists and macros)', (t) => {
    const s = newStats();
    const snippetTokens = [...YAML_SNIPPETS, ...STR_OPS, 'and', 'or', 'not', '(', ')'];
    for (let i = 0; i < N(12_000); i++) {
      const g = caseRng('file', i);
      const picks = Array.from({ length: g.range(1, 3) }, () => g.int(ITEMS.length));
      let text = withDeps(picks);
      if (g.chance(0.9)) {
        const lines = text.split('\n');
        for (let k = g.range(1, 3); k > 0; k--) {
          const at = g.int(lines.length);
          switch (g.int(6)) {
            case 0:
              lines.splice(at, 1);
              break;
            case 1:
              lines.splice(at, 0, lines[g.int(lines.length)]!);
              break;
            case 2:
              lines[at] = (g.chance(0.5) ? '  ' : '') + lines[at]!.slice(g.chance(0.5) ? 2 : 0);
              break;
            case 3: {
              const b = g.int(lines.length);
              [lines[at], lines[b]] = [lines[b]!, lines[at]!];
              break;
            }
            default:
              text = lines.join('\n');
              text = mutate(g, text, YAML_CHARS, snippetTokens);
              lines.splice(0, lines.length, ...text.split('\n'));
          }
        }
        text = lines.join('\n');
      }
      attempt(s, 'file', i, text, loadText(text));
    }
    report(t, 'mutated small files', s);
    assert.ok(s.ok > s.cases / 20, `enough mutated files load (${s.ok}/${s.cases})`);
  });

  test('mutated whole Falco rules file', (t) => {
    const s = newStats();
    const snippetTokens = [...YAML_SNIPPETS, 'and', 'or', 'not', '(', ')'];
    for (let i = 0; i < N(400); i++) {
      const g = caseRng('whole', i);
      const text = mutate(g, FIXTURE, YAML_CHARS, snippetTokens);
      attempt(s, 'whole', i, text, loadText(text));
    }
    report(t, 'mutated whole fixture', s);
  });

  test('generated policy files (random items)', (t) => {
    const s = newStats();
    for (let i = 0; i < N(4_000); i++) {
      const g = caseRng('genfile', i);
      const parts: string[] = [];
      for (let k = g.range(1, 6); k > 0; k--) {
        const name = g.pick(['a', 'b', 'shells', 'spawned', 'r1', 'r2']);
        switch (g.int(6)) {
          case 0:
            parts.push(
              `- list: ${name}\n  items: [${Array.from({ length: g.int(4) }, () => g.pick(STR_VALUES.filter((v) => !/["'\\]/.test(v)))).join(', ')}]${g.chance(0.2) ? g.pick(YAML_SNIPPETS) : ''}`,
            );
            break;
          case 1:
            parts.push(`- macro: ${name}\n  condition: ${JSON.stringify(expr(g, 3))}${g.chance(0.2) ? g.pick(YAML_SNIPPETS) : ''}`);
            break;
          case 2:
            parts.push(`- filter: ${name}\n  condition: ${JSON.stringify(expr(g, 2))}`);
            break;
          default:
            parts.push(
              `- rule: ${name}\n  desc: d\n  condition: ${JSON.stringify(expr(g, 4))}\n  output: ${JSON.stringify(`%${operand(g, KNOWN_FIELDS, 1)} x`)}\n  priority: ${g.pick(['WARNING', 'info', 'debug', 'Critical'])}` +
                `${g.chance(0.3) ? `\n  tags: [${g.pick(['t', 'a, b', ''])}]` : ''}${g.chance(0.3) ? g.pick(YAML_SNIPPETS) : ''}`,
            );
        }
      }
      const text = parts.join('\n') + '\n';
      attempt(s, 'genfile', i, text, loadText(text));
    }
    report(t, 'generated files', s);
  });

  test('at least 100,000 inputs in all', () => {
    const total = Object.values(ALL).reduce((a, x) => a + x.cases, 0);
    if (SCALE >= 1) assert.ok(total >= 100_000, `${total} inputs`);
  });
});

// ---------------------------------------------------------------------------------------------
// crashes found by hand that the generators above do not reach

describe('long definition chains', () => {
  test('a chain of 3,000 macros is a clean error or loads', () => {
    let y = '';
    for (let i = 0; i < 3000; i++) y += `- macro: m${i}\n  condition: not ${i + 1 < 3000 ? `m${i + 1}` : 'proc.name = bash'}\n`;
    y += '- rule: r\n  condition: m0\n';
    let err: unknown = null;
    try {
      policyFromYaml(y);
    } catch (e) {
      err = e;
    }
    assert.ok(err === null || isClean(err), `got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
  });

  test('a chain of 5,000 nested lists is a clean error or loads', () => {
    let y = '';
    for (let i = 0; i < 5000; i++) y += `- list: l${i}\n  items: [${i + 1 < 5000 ? `l${i + 1}` : 'bash'}]\n`;
    y += '- rule: r\n  condition: proc.name in (l0)\n';
    let err: unknown = null;
    try {
      policyFromYaml(y);
    } catch (e) {
      err = e;
    }
    assert.ok(err === null || isClean(err), `got ${err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err)}`);
  });

  test('moderate chains load: 500 macros in a row, 10 macros of 100 nots, 500 nested lists', () => {
    let y = '';
    for (let i = 0; i < 500; i++) y += `- macro: m${i}\n  condition: ${i + 1 < 500 ? `m${i + 1}` : 'proc.name = bash'}\n`;
    for (let i = 0; i < 10; i++) y += `- macro: n${i}\n  condition: ${'not '.repeat(100)}${i + 1 < 10 ? `n${i + 1}` : 'proc.name = bash'}\n`;
    for (let i = 0; i < 500; i++) y += `- list: l${i}\n  items: [${i + 1 < 500 ? `l${i + 1}` : 'bash'}]\n`;
    y += '- rule: r\n  condition: m0 and n0 and proc.name in (l0)\n';
    const set = policyFromYaml(y);
    assert.equal(set.report[0]!.status, 'supported');
    assert.equal(set.evaluate(pe({ exe: '/bin/bash' })), true);
  });
});
