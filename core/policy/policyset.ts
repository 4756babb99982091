/**
 * Definitions → an evaluable policy set: lists expanded, macros parsed, rules and filters compiled,
 * rules indexed by record type (and checked against an op-flag mask) so a record only meets rules
 * that can match it. Also the per-rule report (supported / approximated / unsupported / disabled)
 * used by `-test` and `-policycheck`.
 */
import type { FlatRecord, MatchedRule } from '../flatten/flatrecord.js';
import type { StageContext } from '../pipeline/types.js';
import { opFlagsOf, Scope, type FieldDef } from '../flatten/fields.js';
import { SfType } from '../sysflow/types.js';
import { readDefinitions, type Definitions, type ExceptionDef, type RuleDef, type Text } from './definitions.js';
import { parseCondition, parseOperand, ConditionSyntaxError } from './parser.js';
import { SF_FIELDS } from '../flatten/fields.js';
import { Compiler, Notes, type MacroDef } from './compile.js';
import { ALL_TYPES, ANY_OPS, type Compiled, type Pred } from './compiled.js';
import { TYPE_CODES } from './literals.js';
import type { Vocabulary } from './condition.js';
import { PolicyError } from '../errors.js';
import { lookupField } from './field-lookup.js';
import { type Throttle, ThrottleStore, type ThrottleSpec } from './throttle.js';
import { UnsupportedField, errorAt, type SourceRef } from './errors.js';
import { compileOutput, type Render } from './output.js';
import { Gate, gateKeys, itemOf, type Gated } from './gate.js';
import type { Expr, Operand, Value } from './ast.js';

/** Rule priority number in sf-processor's JSON (compat §6.3) for every Falco level. */
export const PRIORITY_NUMBER: Record<string, number> = {
  debug: 1,
  informational: 1,
  info: 1,
  notice: 1,
  low: 1,
  warning: 2,
  medium: 2,
  error: 3,
  high: 3,
  critical: 4,
  alert: 4,
  emergency: 4,
};

/** A rule action: built in (`alert`, `tag`) or registered by a plugin. */
export interface Action {
  readonly name: string;
  run(r: FlatRecord, rule: CompiledRule): void;
  /** Sees every record of a batch before the rules run (an action that needs context: capture's flows per process). */
  observe?(batch: readonly FlatRecord[]): void;
  /** At the end of the pipeline (an action holding connections or work in progress). */
  close?(): Promise<void>;
}

/** Policy rule actions beyond the built-in `alert` and `tag` (plugins): one Action per policy engine. */
export interface ActionFactory {
  readonly name: string;
  readonly description: string;
  create(ctx: StageContext): Action;
}

export const BUILTIN_ACTIONS: ReadonlyMap<string, Action> = new Map<string, Action>([
  // the default: the record is reported with the rule (handled by the engine itself)
  ['alert', { name: 'alert', run: () => {} }],
  // adds the rule's tags to the record without reporting it as an alert
  [
    'tag',
    {
      name: 'tag',
      run: (r, rule) => {
        for (const t of rule.tags) r.addTag(t);
      },
    },
  ],
]);

export interface CompiledRule extends Gated {
  readonly name: string;
  readonly desc: string;
  readonly priority: number;
  readonly priorityName: string;
  readonly tags: readonly string[];
  readonly test: Pred;
  /** `test` for a record its context allows (the context conjuncts are known true). */
  readonly testGated: Pred;
  /** `testGated` without the file conjuncts too, for records with a file (checked by the gate after it). */
  readonly testEvent: Pred;
  readonly types: number;
  readonly ops: number;
  /** Reported in `policies` (false only when the rule's sole action is `tag`). */
  readonly alert: boolean;
  readonly actions: readonly Action[];
  /** The rule's throttle (its own, or the engine's default), null: none. */
  readonly throttle: Throttle | null;
  /** What the capture action reads: the rule's capture_duration (ms) and capture_bpf. */
  readonly capture: { readonly durationMs: number | null; readonly bpf: string | null };
  readonly output: Render | null;
  readonly matched: MatchedRule;
}

export type RuleStatus = 'supported' | 'approximated' | 'unsupported' | 'disabled';

export interface RuleReport {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly status: RuleStatus;
  readonly notes: readonly string[];
}

export interface LoadOptions {
  /** Actions beyond the built-ins (plugins). */
  readonly actions?: ReadonlyMap<string, Action>;
  /** A Sigma backend config whose `fieldmappings` apply to the Sigma rules loaded (sf-processor's `config`). */
  readonly sigmaConfig?: string;
  /** Throttle state to keep across reloads (the engine's); a fresh one when absent. */
  readonly throttles?: ThrottleStore;
  /** The throttle of rules that declare none (the policy engine's `throttle.*` attributes). */
  readonly throttleDefault?: ThrottleSpec | null;
}

interface FilterTest extends Gated {
  readonly test: Pred;
  readonly types: number;
}

/** Records whose file the gate may judge: FF and FE (the types file-scoped fields are defined for). */
const hasFile = (r: FlatRecord) => r.file !== undefined && (r.sfType === SfType.FF || r.sfType === SfType.FE);

export class PolicySet {
  private readonly ruleGate: Gate<CompiledRule>;
  private readonly filterGate: Gate<FilterTest>;
  readonly filterCount: number;

  constructor(
    readonly rules: readonly CompiledRule[],
    filters: readonly FilterTest[],
    readonly report: readonly RuleReport[],
    readonly warnings: readonly string[],
    readonly files: readonly string[],
    /** Rule name → condition text, to tell what changed on reload. */
    readonly fingerprints: ReadonlyMap<string, string>,
    /** Fields the conditions read (the gates key their memos on the scoped ones' values). */
    fields: readonly FieldDef[] = [],
  ) {
    const keys = gateKeys(fields);
    this.ruleGate = new Gate(
      rules,
      (x) => x.types,
      (x) => x.ops,
      keys('rules'),
      'rules',
    );
    this.filterGate = new Gate(
      filters,
      (x) => x.types,
      () => ANY_OPS,
      keys('filters'),
      'filters',
    );
    this.filterCount = filters.length;
  }

  /** Rules that apply to a record type, in definition order. */
  rulesFor(type: number): readonly CompiledRule[] {
    return this.ruleGate.all(type);
  }

  /** true when a filter drops the record. */
  dropped(r: FlatRecord): boolean {
    const gate = this.filterGate;
    const t = r.sfType;
    const items = gate.all(t);
    if (items.length === 0) return false;
    const ctx = gate.context(r);
    const fw = hasFile(r) ? gate.fileWords(r) : null;
    for (let w = 0; w < ctx.length; w++) {
      let m = ctx[w]!;
      if (fw !== null && m !== 0) m = gate.keepFiles(r, fw, w, m);
      while (m !== 0) {
        const bit = m & -m;
        m ^= bit;
        if (items[itemOf(w, bit)]!.test(r)) return true;
      }
    }
    return false;
  }

  /** Evaluate every applicable rule; annotate the record; true when some rule alerted. */
  evaluate(r: FlatRecord): boolean {
    const gate = this.ruleGate;
    const t = r.sfType;
    const rules = gate.all(t);
    if (rules.length === 0) return false;
    // candidates: context needs, then op flags, then (decided once per file) file needs
    const ctx = gate.context(r);
    const ops = gate.ops(t, opFlagsOf(r));
    const fw = hasFile(r) ? gate.fileWords(r) : null;
    let alerted = false;
    for (let w = 0; w < ctx.length; w++) {
      let m = ctx[w]! & ops[w]!;
      if (fw !== null && m !== 0) m = gate.keepFiles(r, fw, w, m);
      while (m !== 0) {
        const bit = m & -m;
        m ^= bit;
        const rule = rules[itemOf(w, bit)]!;
        if (!(fw !== null ? rule.testEvent(r) : rule.testGated(r))) continue;
        let matched = rule.matched;
        if (rule.throttle !== null) {
          const a = rule.throttle.admit(r);
          if (!a.alert) continue;
          if (a.suppressed > 0) matched = { ...matched, suppressed: a.suppressed, windowStart: a.windowStart };
        }
        if (rule.alert) {
          r.addRule(rule.output === null ? matched : { ...matched, output: rule.output(r) });
          alerted = true;
        }
        const acts = rule.actions;
        for (let j = 0; j < acts.length; j++) acts[j]!.run(r, rule);
      }
    }
    return alerted;
  }

  /** Counts by status, for logs. */
  summary(): Record<RuleStatus, number> {
    const s: Record<RuleStatus, number> = { supported: 0, approximated: 0, unsupported: 0, disabled: 0 };
    for (const r of this.report) s[r.status]++;
    return s;
  }
}

/**
 * An item that carries its own quotes (`'"10.0.0.0/8"'`, `'"(systemd)"'`) is a quoted value: Falco pastes
 * items into the condition, whose parser then drops those quotes, so they are dropped here too.
 */
function unquoteItem(it: string): string {
  if (it.length >= 2 && (it[0] === '"' || it[0] === "'") && it[it.length - 1] === it[0]) {
    const body = it.slice(1, -1);
    if (!body.includes(it[0]!)) return body;
  }
  return it;
}

/** Expand nested list references (a list item naming another list), any definition order. */
function expandLists(defs: Definitions): Map<string, readonly string[]> {
  const out = new Map<string, readonly string[]>();
  const visiting = new Set<string>();
  const expand = (name: string): readonly string[] => {
    const done = out.get(name);
    if (done) return done;
    const d = defs.lists.get(name)!;
    if (visiting.has(name)) throw new PolicyError(d.pos.file, d.pos.line, d.pos.col, `list '${name}'`, `list refers to itself through ${[...visiting, name].join(' → ')}`);
    if (visiting.size >= 1000) throw new PolicyError(d.pos.file, d.pos.line, d.pos.col, `list '${name}'`, 'lists nested deeper than 1000 levels');
    visiting.add(name);
    const items = d.items.flatMap((it) => (defs.lists.has(it) && it !== name ? expand(it) : [unquoteItem(it)]));
    visiting.delete(name);
    out.set(name, items);
    return items;
  };
  for (const name of defs.lists.keys()) expand(name);
  return out;
}

const isRhsField = (name: string) => SF_FIELDS.has(name);

function parseText(t: Text, item: string): { expr: Expr; src: SourceRef } {
  const src = t.ref(item);
  try {
    return { expr: parseCondition(t.text, isRhsField), src };
  } catch (err) {
    if (err instanceof ConditionSyntaxError) throw errorAt(src, err.pos, err.message);
    throw err;
  }
}

/** Falco exceptions → `and not (…)` terms. */
function exceptionExpr(ex: ExceptionDef, rule: RuleDef): Expr {
  const where = `rule '${rule.name}', exception '${ex.name}'`;
  const fieldOf = (f: string) => {
    let op: Operand;
    try {
      op = parseOperand(f);
    } catch {
      throw new PolicyError(ex.pos.file, ex.pos.line, ex.pos.col, where, `'${f}' is not a field`);
    }
    // unknown fields are reported here, at the exception (UnsupportedField passes: the rule is unsupported)
    for (let o = op; ; o = o.arg) {
      if (o.k === 'field') {
        try {
          lookupField(o.name, o.arg);
        } catch (err) {
          if (err instanceof UnsupportedField) throw err;
          throw new PolicyError(ex.pos.file, ex.pos.line, ex.pos.col, where, (err as Error).message);
        }
        break;
      }
    }
    return op;
  };
  const lit = (text: string): Value => ({ k: 'lit', text, quoted: false, pos: 0 });
  const check = (field: string, comp: string, v: string | readonly string[]): Expr => {
    const lhs = fieldOf(field);
    const op = comp.trim().toLowerCase();
    const list = typeof v === 'string' ? [v] : v;
    if (op === 'in' || op === 'intersects' || op === 'pmatch') return { k: 'list', op, lhs, items: list.map(lit), pos: 0 };
    if (typeof v !== 'string') throw new PolicyError(ex.pos.file, ex.pos.line, ex.pos.col, where, `a list value needs comp 'in', not '${comp}'`);
    const known = ['=', '==', '!=', '<', '<=', '>', '>=', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'glob', 'iglob', 'regex'];
    if (!known.includes(op)) throw new PolicyError(ex.pos.file, ex.pos.line, ex.pos.col, where, `unknown comp '${comp}'`);
    return { k: 'cmp', op: (op === '==' ? '=' : op) as never, lhs, rhs: lit(v), pos: 0 };
  };
  if (ex.values.length === 0) return { k: 'const', value: false, pos: 0 };
  if (ex.single)
    return check(
      ex.fields[0]!,
      ex.comps[0]!,
      ex.values.map((row) => row[0] as string),
    );
  const rows: Expr[] = ex.values.map((row) => ({ k: 'and', items: row.map((v, i) => check(ex.fields[i]!, ex.comps[i]!, v)), pos: 0 }));
  return { k: 'or', items: rows, pos: 0 };
}

/**
 * Whether an unknown field costs only its rule, and why. Falco refuses a file with an unknown field,
 * and so do we, except where sf-processor's own semantics apply: upstream reads an unknown attribute
 * as a string literal, so its files (and any `sf.*` name, which no Falco file uses) load there. We do
 * not copy that (the literal makes the check constant and the rule silently wrong); the rule is
 * reported unsupported, with the field and a did-you-mean, and the others keep running.
 */
function lenientUnknown(err: PolicyError, skipIfUnknown: boolean, file: string, upstreamFiles: ReadonlySet<string>): string | null {
  const m = /^unknown field '([^']+)'/.exec(err.reason);
  if (!m) return null;
  if (skipIfUnknown) return 'skip-if-unknown-filter';
  if (upstreamFiles.has(file)) return 'an sf-processor policy file, where an unknown field is not an error';
  if (m[1]!.startsWith('sf.')) return 'an sf-processor attribute, where an unknown one is not an error';
  return null;
}

/** A rule's throttle from its spec: the key's fields read once per match, joined. */
function throttleOf(rule: string, spec: ThrottleSpec | null, store: ThrottleStore): Throttle | null {
  if (spec === null) return null;
  const gets = spec.key.map((f) => lookupField(f, null).get);
  const value = (v: unknown) => (Array.isArray(v) ? v.join(',') : String(v));
  const keyOf =
    gets.length === 0
      ? () => ''
      : gets.length === 1
        ? (r: FlatRecord) => value(gets[0]!(r))
        : (r: FlatRecord) => {
            let k = value(gets[0]!(r));
            for (let i = 1; i < gets.length; i++) k += `\0${value(gets[i]!(r))}`;
            return k;
          };
  return store.get(rule, spec, keyOf);
}

/** Compile loaded definitions. Errors (syntax, unknown macro/list/field, bad values) throw PolicyError. */
export function buildPolicySet(defs: Definitions, opts: LoadOptions = {}): PolicySet {
  const upstreamFiles: ReadonlySet<string> = defs.upstreamFiles ?? new Set();
  const { lists, macros } = vocabularyOf(defs);
  const warnings = [...defs.warnings];
  const actions = new Map([...BUILTIN_ACTIONS, ...(opts.actions ?? [])]);
  const throttles = opts.throttles ?? new ThrottleStore();
  const macroCache = new Map<string, { compiled: Compiled; notes: Notes }>();
  const fieldsUsed = new Map<string, FieldDef>();
  const rules: CompiledRule[] = [];
  const report: RuleReport[] = [];
  const fingerprints = new Map<string, string>();

  for (const def of defs.rules.values()) {
    const item = `rule '${def.name}'`;
    fingerprints.set(def.name, JSON.stringify([def.condition?.text, def.enabled, def.priority, def.tags, def.prefilter, def.output, def.exceptions.map((e) => e.values)]));
    const rep = (status: RuleStatus, notes: string[]) => report.push({ name: def.name, file: def.pos.file, line: def.pos.line, status, notes });
    if (def.source !== 'syscall' && def.source !== 'sysflow') {
      warnings.push(`${def.pos.file}:${def.pos.line}: ${item}: source '${def.source}' is not SysFlow; rule skipped`);
      rep('unsupported', [`source '${def.source}' is not SysFlow`]);
      continue;
    }
    if (def.unsupported) {
      rep('unsupported', [def.unsupported]);
      continue;
    }
    const notes = new Notes();
    const outNotes = new Notes();
    const compiler = new Compiler({ macros, lists, macroCache, fieldsUsed }, notes);
    const { expr, src } = parseText(def.condition!, item);
    let compiled: Compiled;
    let output: Render | null = null;
    try {
      const full: Expr = def.exceptions.length ? { k: 'and', items: [expr, ...def.exceptions.map((x) => ({ k: 'not', e: exceptionExpr(x, def), pos: 0 }) as Expr)], pos: 0 } : expr;
      compiled = compiler.compile(full, src);
      output = compileOutput(def.output, new Compiler({ macros, lists, macroCache }, outNotes), { file: def.pos.file, item, position: () => ({ line: def.pos.line, col: def.pos.col }) });
    } catch (err) {
      if (err instanceof UnsupportedField) {
        rep('unsupported', notes.unsupported.size ? [...notes.unsupported] : [err.message]);
        continue;
      }
      // the depth limits keep compiling well inside the stack; should a pathological shape still exhaust it, name the rule
      if (err instanceof RangeError) throw new PolicyError(def.pos.file, def.pos.line, def.pos.col, item, `condition too deeply nested to compile (${err.message})`);
      const why = err instanceof PolicyError ? lenientUnknown(err, def.skipIfUnknown, def.pos.file, upstreamFiles) : null;
      if (why) {
        warnings.push(`${(err as PolicyError).message} (rule skipped: ${why})`);
        rep('unsupported', [(err as PolicyError).reason]);
        continue;
      }
      throw err;
    }
    let types = compiled.types;
    if (def.prefilter.length) {
      let mask = 0;
      for (const p of def.prefilter) {
        const code = TYPE_CODES[p.trim().toUpperCase()];
        if (code === undefined) throw new PolicyError(def.pos.file, def.pos.line, def.pos.col, item, `prefilter: unknown record type '${p}' (expected PE, PF, NF, NE, FF, FE, KE)`);
        mask |= 1 << code;
      }
      types &= mask;
    }
    const ruleActions: Action[] = [];
    // Falco's `capture: true` asks for the capture action
    const named = def.capture && !def.actions.includes('capture') ? [...def.actions, 'capture'] : def.actions;
    for (const a of named) {
      const act = actions.get(a);
      if (act) ruleActions.push(act);
      else warnings.push(`${def.pos.file}:${def.pos.line}: ${item}: unknown action '${a}' ignored (known: ${[...actions.keys()].join(', ')})`);
    }
    // as upstream, a match is reported whatever else its actions do; only `tag` asks not to be
    const alert = def.actions.length === 0 || def.actions.some((a) => a !== 'tag');
    const approx = [...notes.approx];
    const na = [...outNotes.unsupported];
    if (na.length) approx.push(`output prints <NA> for ${na.join(', ')}`);
    if (!def.enabled) {
      rep('disabled', ['enabled: false', ...approx]);
      continue;
    }
    if (compiled.c === false || types === 0) {
      rep('unsupported', ['the condition can never be true on SysFlow records', ...approx]);
      continue;
    }
    compiled = compiler.finishRule(compiled, types);
    const eventPart = compiler.residual(compiled, Scope.Context | Scope.File);
    const priority = PRIORITY_NUMBER[def.priority] ?? 1;
    const tags = Object.freeze([...def.tags]);
    rules.push({
      name: def.name,
      desc: def.desc,
      priority,
      priorityName: def.priority,
      tags,
      test: compiled.fn,
      testGated: compiler.residual(compiled, Scope.Context).fn,
      testEvent: eventPart.fn,
      needContext: compiled.needs?.[0] ?? null,
      needFile: compiled.needs?.[1] ?? null,
      types: types & ALL_TYPES,
      ops: compiled.ops,
      alert,
      actions: ruleActions.filter((a) => a.name !== 'alert'),
      capture: { durationMs: def.captureDurationMs, bpf: def.captureBpf },
      throttle: throttleOf(def.name, def.throttle ?? opts.throttleDefault ?? null, throttles),
      output,
      matched: Object.freeze({ name: def.name, desc: def.desc, priority, tags }),
    });
    rep(notes.approx.size ? 'approximated' : 'supported', approx);
  }

  const filters: FilterTest[] = [];
  for (const f of defs.filters.values()) {
    const item = `filter '${f.name}'`;
    const compiler = new Compiler({ macros, lists, macroCache, fieldsUsed }, new Notes());
    const { expr, src } = parseText(f.condition, item);
    let c: Compiled;
    try {
      c = compiler.compile(expr, src);
    } catch (err) {
      if (err instanceof UnsupportedField) throw new PolicyError(f.pos.file, f.pos.line, f.pos.col, item, `${err.message}: a filter must be fully supported`);
      const why = err instanceof PolicyError ? lenientUnknown(err, false, f.pos.file, upstreamFiles) : null;
      if (why) {
        warnings.push(`${(err as PolicyError).message} (filter not applied: ${why})`);
        continue;
      }
      throw err;
    }
    if (f.enabled && c.c !== false) filters.push({ test: c.fn, needContext: c.needs?.[0] ?? null, needFile: c.needs?.[1] ?? null, types: c.types });
  }
  return new PolicySet(rules, filters, report, warnings, defs.files, fingerprints, [...fieldsUsed.values()]);
}

/** The lists (expanded) and macros (parsed) of a set of definitions: what conditions may name. */
function vocabularyOf(defs: Definitions): { lists: Map<string, readonly string[]>; macros: Map<string, MacroDef> } {
  const lists = expandLists(defs);
  const macros = new Map<string, MacroDef>();
  for (const m of defs.macros.values()) {
    const { expr, src } = parseText(m.condition, `macro '${m.name}'`);
    macros.set(m.name, { name: m.name, expr, src });
  }
  return { lists, macros };
}

/** The macros and lists of the policies at `path`, without compiling their rules (subscription conditions use them). */
export function loadVocabulary(path: string | readonly string[]): Vocabulary {
  return vocabularyOf(readDefinitions(path));
}

/** Load and compile the policies at `path` (a file or a directory, comma-joined paths, or a list of files). */
export function loadPolicySet(path: string | readonly string[], opts: LoadOptions = {}): PolicySet {
  return buildPolicySet(readDefinitions(path, opts.sigmaConfig), opts);
}
