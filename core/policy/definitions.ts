/**
 * Policy files → definitions. Reads Falco-style YAML items (list, macro, rule, filter/drop,
 * required_engine_version), applies Falco's `override:` and legacy `append:` in file order, and
 * keeps every definition's source position. Lists and macros are shared across files and may be
 * used before their definition: they are resolved after all files are read (core/policy/policyset.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { naturalCompare } from '../util/paths.js';
import { commaList } from '../util/list.js';
import { parseYaml, LineIndex, scalarOffset, YamlError, type YNode } from './yaml.js';
import { parseSfpl, SfplError } from './sfpl.js';
import { DEFAULT_SIGMA_FIELDS, isSigmaConfig, isSigmaRule, sigmaFieldMappings, translateSigma } from './sigma.js';
import { PolicyError } from '../errors.js';
import type { SourceRef } from './errors.js';
import { lookupField } from './field-lookup.js';
import type { ThrottleSpec } from './throttle.js';
import { durationOf } from '../pipeline/settings.js';

/** The Falco rule-engine level whose language this engine implements (for required_engine_version). */
export const ENGINE_VERSION = '0.57.0';

export interface Pos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

/** Condition or output text that may have been appended to; offsets map back to each piece's source. */
export class Text {
  constructor(readonly pieces: readonly { text: string; src: SourceRef }[]) {}
  get text(): string {
    return this.pieces.map((p) => p.text).join(' ');
  }
  append(more: Text): Text {
    return new Text([...this.pieces, ...more.pieces]);
  }
  /** A SourceRef over the joined text, named for `item`. */
  ref(item: string): SourceRef {
    const pieces = this.pieces;
    return {
      file: pieces[0]!.src.file,
      item,
      position(offset) {
        let start = 0;
        for (const p of pieces) {
          if (offset <= start + p.text.length) return { ...p.src.position(offset - start), file: p.src.file };
          start += p.text.length + 1;
        }
        const last = pieces[pieces.length - 1]!;
        return { ...last.src.position(last.text.length), file: last.src.file };
      },
    };
  }
}

export interface ExceptionDef {
  readonly name: string;
  readonly fields: readonly string[];
  /** Single-field form (fields given as a string): values are a flat list. */
  readonly single: boolean;
  readonly comps: readonly string[];
  readonly values: readonly (readonly (string | readonly string[])[])[];
  readonly pos: Pos;
}

export interface ListDef {
  readonly name: string;
  items: string[];
  readonly pos: Pos;
}
export interface MacroSrc {
  readonly name: string;
  condition: Text;
  readonly pos: Pos;
}
export interface RuleDef {
  readonly name: string;
  desc: string;
  condition: Text | null;
  output: string;
  priority: string;
  tags: string[];
  prefilter: string[];
  enabled: boolean;
  actions: string[];
  /** Falco's `capture: true` (a packet capture when the rule matches), `capture_duration` (ms) and our `capture_bpf`. */
  capture: boolean;
  captureDurationMs: number | null;
  captureBpf: string | null;
  /** `throttle: {key: [fields], window: 60s, max: N}` */
  throttle: ThrottleSpec | null;
  exceptions: ExceptionDef[];
  source: string;
  skipIfUnknown: boolean;
  /** Set when the rule cannot run on SysFlow at all (a Sigma rule this engine cannot express): why. */
  unsupported?: string;
  readonly pos: Pos;
}
export interface FilterDef {
  readonly name: string;
  condition: Text;
  enabled: boolean;
  readonly pos: Pos;
}

export interface Definitions {
  readonly files: string[];
  readonly lists: Map<string, ListDef>;
  readonly macros: Map<string, MacroSrc>;
  readonly rules: Map<string, RuleDef>;
  readonly filters: Map<string, FilterDef>;
  readonly warnings: string[];
  /** Files in sf-processor's own formats (its token grammar, Sigma): upstream semantics apply to their unknown fields. */
  readonly upstreamFiles?: Set<string>;
}

export const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'info', 'debug', 'low', 'medium', 'high'];

/**
 * A `policies` value: one path, or several joined by commas, read in that order (as Falco's repeated
 * `-r`: `falco_rules.yaml,falco-incubating_rules.yaml`). A path that exists as written is one path.
 */
export function policyPaths(p: string): string[] {
  if (!p.includes(',') || fs.existsSync(p)) return [p];
  return commaList(p);
}

/** The policy files under a path: the file itself, or every *.yaml / *.yml below a directory. */
export function policyFiles(p: string): string[] {
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch {
    throw new Error(`policies: no such file or directory: ${p}`);
  }
  if (st.isFile()) return [p];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => naturalCompare(a.name, b.name))) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) walk(full);
      else if (/\.ya?ml$/.test(e.name)) out.push(full);
    }
  };
  walk(p);
  if (out.length === 0) throw new Error(`policies: no .yaml or .yml files in ${p}`);
  return out;
}

function cmpVersion(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

const RULE_KEYS = new Set([
  'rule',
  'desc',
  'condition',
  'output',
  'priority',
  'tags',
  'prefilter',
  'enabled',
  'action',
  'actions',
  'exceptions',
  'source',
  'warn_evttypes',
  'skip-if-unknown-filter',
  'append',
  'override',
  'capture',
  'capture_duration',
  'capture_bpf',
  'capture.bpf',
  'throttle',
]);
const RULE_APPENDABLE = new Set(['condition', 'output', 'desc', 'tags', 'exceptions']);
const RULE_REPLACEABLE = new Set([
  'condition',
  'output',
  'desc',
  'priority',
  'tags',
  'exceptions',
  'enabled',
  'warn_evttypes',
  'skip-if-unknown-filter',
  'capture',
  'capture_duration',
  'capture_bpf',
  'capture.bpf',
  'throttle',
  'prefilter',
  'actions',
  'action',
]);

class FileReader {
  private readonly lines: LineIndex;
  constructor(
    readonly file: string,
    readonly text: string,
    private readonly defs: Definitions,
  ) {
    this.lines = new LineIndex(text);
  }

  pos(offset: number): Pos {
    const p = this.lines.position(offset);
    return { file: this.file, line: p.line, col: p.col };
  }
  err(offset: number, item: string, reason: string): PolicyError {
    const p = this.pos(offset);
    return new PolicyError(this.file, p.line, p.col, item, reason);
  }
  warn(offset: number, item: string, msg: string): void {
    const p = this.pos(offset);
    this.defs.warnings.push(`${this.file}:${p.line}:${p.col}: ${item}: ${msg}`);
  }

  /** Source reference for a scalar's text. */
  textOf(n: YNode, item: string, what: string): Text {
    if (n.kind !== 'scalar') throw this.err(n.start, item, `${what} must be a string`);
    const lines = this.lines;
    const text = this.text;
    const src: SourceRef = { file: this.file, item, position: (off) => lines.position(scalarOffset(text, n, off)) };
    return new Text([{ text: n.value.replace(/\s+$/, ''), src }]);
  }

  str(n: YNode, item: string, key: string): string {
    if (n.kind === 'null') return '';
    if (n.kind !== 'scalar') throw this.err(n.start, item, `'${key}' must be a string`);
    return n.value;
  }
  bool(n: YNode, item: string, key: string): boolean {
    if (n.kind === 'scalar' && n.plain) {
      if (/^(true|True|TRUE|yes|on)$/.test(n.value)) return true;
      if (/^(false|False|FALSE|no|off)$/.test(n.value)) return false;
    }
    throw this.err(n.start, item, `'${key}' must be true or false`);
  }
  /** `throttle: {key: [fields…], window: 60s, max: N}`; the fields must exist. */
  throttle(n: YNode, item: string): ThrottleSpec | null {
    if (n.kind === 'null') return null;
    if (n.kind !== 'map') throw this.err(n.start, item, "'throttle' must be a mapping: {key: [fields], window: 60s, max: N}");
    for (const e of n.entries) if (!['key', 'window', 'max'].includes(e.key)) throw this.err(e.keyStart, item, `throttle: unknown key '${e.key}' (key, window, max)`);
    const get = (k: string) => n.entries.find((e) => e.key === k)?.value;
    const keyN = get('key');
    const key = keyN === undefined ? [] : keyN.kind === 'scalar' ? [keyN.value] : this.strList(keyN, item, 'throttle.key');
    if (keyN !== undefined)
      for (const [i, f] of key.entries()) {
        const at = keyN.kind === 'seq' ? keyN.items[i]!.start : keyN.start;
        try {
          lookupField(f.trim(), null);
        } catch (e) {
          throw this.err(at, item, `throttle.key: ${(e as Error).message}`);
        }
      }
    const winN = get('window');
    if (winN === undefined || winN.kind !== 'scalar') throw this.err(winN?.start ?? n.start, item, 'throttle.window: give a duration such as 60s, 5m or 1h');
    const windowMs = durationOf(winN.value, 's');
    if (windowMs === null || windowMs <= 0) throw this.err(winN.start, item, `throttle.window: expected a duration such as 60s, 5m or 1h, got '${winN.value}'`);
    const maxN = get('max');
    const max = maxN === undefined ? 1 : this.count(maxN, item, 'throttle.max');
    return { key: key.map((k) => k.trim()), windowMs, max };
  }

  /** A whole number ≥ 1 (a plain scalar). */
  count(n: YNode, item: string, key: string): number {
    if (n.kind === 'scalar' && n.plain && /^[0-9]+$/.test(n.value) && Number(n.value) >= 1 && Number.isSafeInteger(Number(n.value))) return Number(n.value);
    throw this.err(n.start, item, `'${key}' must be a whole number of at least 1`);
  }
  strList(n: YNode, item: string, key: string): string[] {
    if (n.kind === 'null') return [];
    if (n.kind !== 'seq') throw this.err(n.start, item, `'${key}' must be a list, e.g. [a, b]`);
    return n.items.map((x) => {
      if (x.kind !== 'scalar') throw this.err(x.start, item, `'${key}' items must be strings or numbers`);
      return x.value;
    });
  }

  read(root: YNode | null): void {
    if (root === null) return;
    if (root.kind !== 'seq') throw this.err(root.start, 'file', 'a policy file is a YAML list of items (- rule: …, - macro: …, - list: …)');
    for (const it of root.items) this.item(it);
  }

  private item(n: YNode): void {
    if (n.kind !== 'map') throw this.err(n.start, 'item', 'each item must be a mapping such as "- rule: name"');
    const get = (k: string) => n.entries.find((e) => e.key === k);
    const kind = ['rule', 'macro', 'list', 'filter', 'drop', 'required_engine_version', 'required_plugin_versions'].find((k) => get(k));
    if (!kind) throw this.err(n.start, 'item', `unknown item: expected one of rule, macro, list, filter, required_engine_version (keys: ${n.entries.map((e) => e.key).join(', ')})`);
    switch (kind) {
      case 'required_engine_version':
        return this.engineVersion(get(kind)!.value);
      case 'required_plugin_versions':
        this.warn(n.start, 'required_plugin_versions', 'ignored: sfprocessor has no Falco plugins');
        return;
      case 'list':
        return this.list(n);
      case 'macro':
        return this.macro(n);
      case 'filter':
      case 'drop':
        return this.filter(n, kind);
      default:
        return this.rule(n);
    }
  }

  private engineVersion(v: YNode): void {
    const raw = v.kind === 'scalar' ? v.value.trim() : '';
    const want = /^\d+$/.test(raw) ? `0.${raw}.0` : raw;
    if (!/^\d+\.\d+(\.\d+)?$/.test(want)) throw this.err(v.start, 'required_engine_version', `expected a version such as 0.57.0, found '${raw}'`);
    if (cmpVersion(want, ENGINE_VERSION) > 0) throw this.err(v.start, 'required_engine_version', `the file needs engine version ${want}; this engine implements ${ENGINE_VERSION}`);
  }

  /** override: {key: append|replace} or legacy append: true → per-key mode. */
  private overrides(n: YNode & { kind: 'map' }, item: string): { modes: Map<string, 'append' | 'replace'>; legacyAppend: boolean } {
    const modes = new Map<string, 'append' | 'replace'>();
    const ov = n.entries.find((e) => e.key === 'override');
    const ap = n.entries.find((e) => e.key === 'append');
    const legacyAppend = ap ? this.bool(ap.value, item, 'append') : false;
    if (ov && ap) throw this.err(ap.keyStart, item, "'append' and 'override' cannot be used together");
    if (ov) {
      if (ov.value.kind !== 'map') throw this.err(ov.value.start, item, "'override' must map keys to append or replace");
      for (const e of ov.value.entries) {
        const m = e.value.kind === 'scalar' ? e.value.value : '';
        if (m !== 'append' && m !== 'replace') throw this.err(e.value.start, item, `override of '${e.key}' must be append or replace`);
        if (!n.entries.some((x) => x.key === e.key)) throw this.err(e.keyStart, item, `override lists '${e.key}' but the item has no '${e.key}'`);
        modes.set(e.key, m);
      }
    }
    if (legacyAppend) this.warn(ap!.keyStart, item, "'append: true' is deprecated; use override: {<key>: append}");
    return { modes, legacyAppend };
  }

  /**
   * The override protocol of an item with one key that can change (a list's items, a macro's
   * condition): undefined for a new definition, else append or replace of an earlier one, which
   * must exist.
   */
  private oneKeyOverride(n: YNode & { kind: 'map' }, at: number, item: string, o: { kind: string; name: string; key: string; defined: boolean }): 'append' | 'replace' | undefined {
    const { modes, legacyAppend } = this.overrides(n, item);
    for (const k of modes.keys()) if (k !== o.key) throw this.err(n.start, item, `a ${o.kind} can only override '${o.key}', not '${k}'`);
    const mode = legacyAppend ? 'append' : modes.get(o.key);
    if (mode && !o.defined) throw this.err(at, item, `cannot ${mode} ${o.key}: no ${o.kind} '${o.name}' is defined before this item`);
    return mode;
  }

  private list(n: YNode & { kind: 'map' }): void {
    const e = n.entries.find((x) => x.key === 'list')!;
    const name = this.str(e.value, 'list', 'list');
    const item = `list '${name}'`;
    for (const x of n.entries) if (!['list', 'items', 'append', 'override'].includes(x.key)) this.warn(x.keyStart, item, `unknown key '${x.key}' ignored`);
    const itemsE = n.entries.find((x) => x.key === 'items');
    if (!itemsE) throw this.err(n.start, item, "missing 'items'");
    const items = this.strList(itemsE.value, item, 'items');
    const old = this.defs.lists.get(name);
    const mode = this.oneKeyOverride(n, e.keyStart, item, { kind: 'list', name, key: 'items', defined: old !== undefined });
    if (old && mode) {
      old.items = mode === 'append' ? [...old.items, ...items] : items;
      return;
    }
    this.defs.lists.set(name, { name, items, pos: this.pos(e.keyStart) });
  }

  private macro(n: YNode & { kind: 'map' }): void {
    const e = n.entries.find((x) => x.key === 'macro')!;
    const name = this.str(e.value, 'macro', 'macro');
    const item = `macro '${name}'`;
    for (const x of n.entries) if (!['macro', 'condition', 'append', 'override'].includes(x.key)) this.warn(x.keyStart, item, `unknown key '${x.key}' ignored`);
    const c = n.entries.find((x) => x.key === 'condition');
    if (!c) throw this.err(n.start, item, "missing 'condition'");
    const condition = this.textOf(c.value, item, 'condition');
    const old = this.defs.macros.get(name);
    const mode = this.oneKeyOverride(n, e.keyStart, item, { kind: 'macro', name, key: 'condition', defined: old !== undefined });
    if (old && mode) {
      old.condition = mode === 'append' ? old.condition.append(condition) : condition;
      return;
    }
    this.defs.macros.set(name, { name, condition, pos: this.pos(e.keyStart) });
  }

  private filter(n: YNode & { kind: 'map' }, kind: string): void {
    const e = n.entries.find((x) => x.key === kind)!;
    const name = this.str(e.value, kind, kind);
    const item = `filter '${name}'`;
    for (const x of n.entries) if (![kind, 'condition', 'enabled'].includes(x.key)) this.warn(x.keyStart, item, `unknown key '${x.key}' ignored`);
    const c = n.entries.find((x) => x.key === 'condition');
    const en = n.entries.find((x) => x.key === 'enabled');
    const old = this.defs.filters.get(name);
    if (!c) {
      if (old && en) {
        old.enabled = this.bool(en.value, item, 'enabled');
        return;
      }
      throw this.err(n.start, item, "missing 'condition'");
    }
    this.defs.filters.set(name, { name, condition: this.textOf(c.value, item, 'condition'), enabled: en ? this.bool(en.value, item, 'enabled') : true, pos: this.pos(e.keyStart) });
  }

  /** `appendTo`: the exceptions being appended to (an entry naming one of them may give only values). */
  private exceptions(v: YNode, item: string, appendTo: readonly ExceptionDef[] = []): ExceptionDef[] {
    if (v.kind === 'null') return [];
    if (v.kind !== 'seq') throw this.err(v.start, item, "'exceptions' must be a list of {name, fields, comps, values}");
    return v.items.map((x) => {
      if (x.kind !== 'map') throw this.err(x.start, item, 'each exception must be a mapping');
      const get = (k: string) => x.entries.find((e) => e.key === k)?.value;
      const nameN = get('name');
      if (!nameN) throw this.err(x.start, item, "exception without 'name'");
      const name = this.str(nameN, item, 'name');
      const where = `${item}, exception '${name}'`;
      const fieldsN = get('fields');
      const compsN = get('comps');
      const base = fieldsN === undefined ? appendTo.find((o) => o.name === name) : undefined;
      const single = base ? base.single : fieldsN?.kind === 'scalar';
      const fields = base ? base.fields : fieldsN === undefined ? [] : single ? [this.str(fieldsN!, where, 'fields')] : this.strList(fieldsN!, where, 'fields');
      const comps = compsN === undefined ? (base ? base.comps : fields.map(() => (single ? 'in' : '='))) : compsN.kind === 'scalar' ? [compsN.value] : this.strList(compsN, where, 'comps');
      if (comps.length !== fields.length) throw this.err((compsN ?? x).start, where, `'comps' has ${comps.length} entries for ${fields.length} fields`);
      const valuesN = get('values');
      const values: (string | string[])[][] = [];
      if (valuesN && valuesN.kind === 'seq') {
        for (const row of valuesN.items) {
          if (single) {
            if (row.kind !== 'scalar') throw this.err(row.start, where, 'values of a single-field exception are plain values');
            values.push([row.value]);
          } else {
            if (row.kind !== 'seq') throw this.err(row.start, where, `each value row is a list of ${fields.length} values`);
            if (row.items.length !== fields.length) throw this.err(row.start, where, `value row has ${row.items.length} entries for ${fields.length} fields`);
            values.push(row.items.map((c) => (c.kind === 'seq' ? this.strList(c, where, 'values') : this.str(c, where, 'values'))));
          }
        }
      } else if (valuesN && valuesN.kind !== 'null') throw this.err(valuesN.start, where, "'values' must be a list");
      return { name, fields, single, comps, values, pos: this.pos(x.start) };
    });
  }

  private rule(n: YNode & { kind: 'map' }): void {
    const e = n.entries.find((x) => x.key === 'rule')!;
    const name = this.str(e.value, 'rule', 'rule').trim();
    if (name === '') throw this.err(e.value.start, 'rule', 'a rule needs a name');
    const item = `rule '${name}'`;
    const get = (k: string) => n.entries.find((x) => x.key === k);
    for (const x of n.entries) if (!RULE_KEYS.has(x.key)) this.warn(x.keyStart, item, `unknown key '${x.key}' ignored`);
    const { modes, legacyAppend } = this.overrides(n, item);
    const old = this.defs.rules.get(name);

    const present = n.entries.map((x) => x.key).filter((k) => !['rule', 'override', 'append'].includes(k));
    // deprecated toggle: "- rule: X\n  enabled: false"
    if (!legacyAppend && modes.size === 0 && present.length === 1 && present[0] === 'enabled') {
      if (!old) throw this.err(e.keyStart, item, `cannot enable/disable: no rule '${name}' is defined before this item`);
      old.enabled = this.bool(get('enabled')!.value, item, 'enabled');
      this.warn(e.keyStart, item, "toggling a rule with only 'enabled' is deprecated; use override: {enabled: replace}");
      return;
    }

    const priorityOf = (v: YNode) => {
      const p = this.str(v, item, 'priority').trim().toLowerCase();
      if (!PRIORITIES.includes(p)) throw this.err(v.start, item, `unknown priority '${p}': expected one of ${PRIORITIES.join(', ')}`);
      return p;
    };
    const actionsOf = () => {
      const a = get('actions') ?? get('action');
      return a ? (a.value.kind === 'scalar' ? [a.value.value] : this.strList(a.value, item, a.key)) : [];
    };

    if (legacyAppend || modes.size > 0) {
      if (!old) throw this.err(e.keyStart, item, `cannot ${legacyAppend ? 'append to' : 'override'}: no rule '${name}' is defined before this item`);
      const mode = (k: string) => (legacyAppend ? (k === 'condition' || k === 'exceptions' || k === 'output' ? 'append' : undefined) : modes.get(k));
      for (const k of present) {
        const m = mode(k);
        if (m === undefined) throw this.err(get(k)!.keyStart, item, legacyAppend ? `'${k}' cannot be appended` : `'${k}' is present but not listed under override`);
        if (m === 'append' && !RULE_APPENDABLE.has(k)) throw this.err(get(k)!.keyStart, item, `'${k}' cannot be appended (only ${[...RULE_APPENDABLE].join(', ')})`);
        if (m === 'replace' && !RULE_REPLACEABLE.has(k)) throw this.err(get(k)!.keyStart, item, `'${k}' cannot be replaced`);
        const v = get(k)!.value;
        switch (k) {
          case 'condition': {
            const t = this.textOf(v, item, 'condition');
            old.condition = m === 'append' && old.condition ? old.condition.append(t) : t;
            break;
          }
          case 'output':
            old.output = m === 'append' ? `${old.output} ${this.str(v, item, k)}` : this.str(v, item, k);
            break;
          case 'desc':
            old.desc = m === 'append' ? `${old.desc} ${this.str(v, item, k)}` : this.str(v, item, k);
            break;
          case 'tags':
            old.tags = m === 'append' ? [...old.tags, ...this.strList(v, item, k)] : this.strList(v, item, k);
            break;
          case 'exceptions': {
            const ex = this.exceptions(v, item, m === 'replace' ? [] : old.exceptions);
            if (m === 'replace') old.exceptions = ex;
            else
              for (const x of ex) {
                const same = old.exceptions.find((o) => o.name === x.name);
                if (same) old.exceptions = old.exceptions.map((o) => (o === same ? { ...o, values: [...o.values, ...x.values] } : o));
                else old.exceptions = [...old.exceptions, x];
              }
            break;
          }
          case 'priority':
            old.priority = priorityOf(v);
            break;
          case 'enabled':
            old.enabled = this.bool(v, item, k);
            break;
          case 'prefilter':
            old.prefilter = this.strList(v, item, k);
            break;
          case 'actions':
          case 'action':
            old.actions = actionsOf();
            break;
          case 'skip-if-unknown-filter':
            old.skipIfUnknown = this.bool(v, item, k);
            break;
          case 'capture':
            old.capture = this.bool(v, item, k);
            break;
          case 'capture_duration':
            old.captureDurationMs = this.count(v, item, k);
            break;
          case 'throttle':
            old.throttle = this.throttle(v, item);
            break;
          case 'capture_bpf':
          case 'capture.bpf':
            old.captureBpf = this.str(v, item, k).trim() || null;
            break;
          default:
            break; // warn_evttypes: accepted, no effect here
        }
      }
      return;
    }

    const c = get('condition');
    if (!c) throw this.err(e.keyStart, item, "missing 'condition'");
    const source = get('source') ? this.str(get('source')!.value, item, 'source') : 'syscall';
    const def: RuleDef = {
      name,
      desc: get('desc') ? this.str(get('desc')!.value, item, 'desc').trim() : '',
      condition: this.textOf(c.value, item, 'condition'),
      output: get('output') ? this.str(get('output')!.value, item, 'output').trim() : '',
      priority: get('priority') ? priorityOf(get('priority')!.value) : 'low',
      tags: get('tags') ? this.strList(get('tags')!.value, item, 'tags') : [],
      prefilter: get('prefilter') ? this.strList(get('prefilter')!.value, item, 'prefilter') : [],
      enabled: get('enabled') ? this.bool(get('enabled')!.value, item, 'enabled') : true,
      actions: actionsOf(),
      exceptions: get('exceptions') ? this.exceptions(get('exceptions')!.value, item) : [],
      source,
      skipIfUnknown: get('skip-if-unknown-filter') ? this.bool(get('skip-if-unknown-filter')!.value, item, 'skip-if-unknown-filter') : false,
      capture: get('capture') ? this.bool(get('capture')!.value, item, 'capture') : false,
      captureDurationMs: get('capture_duration') ? this.count(get('capture_duration')!.value, item, 'capture_duration') : null,
      throttle: get('throttle') ? this.throttle(get('throttle')!.value, item) : null,
      captureBpf: (() => {
        const b = get('capture_bpf') ?? get('capture.bpf');
        return b ? this.str(b.value, item, b.key).trim() || null : null;
      })(),
      pos: this.pos(e.keyStart),
    };
    if (old) this.warn(e.keyStart, item, `redefines the rule from ${old.pos.file}:${old.pos.line}`);
    this.defs.rules.delete(name); // a redefinition moves to its new place in the order
    this.defs.rules.set(name, def);
  }
}

/**
 * Strict YAML first; a file that is not YAML but is sf-processor's token syntax (which upstream's own
 * policies rely on) is read with that grammar, with one warning saying so and why.
 */
function parseFile(file: string, source: string, defs: Definitions): { root: YNode | null; text: string } {
  let yamlErr: YamlError;
  try {
    return parseYaml(source, file);
  } catch (err) {
    if (!(err instanceof YamlError)) throw err;
    yamlErr = err;
  }
  try {
    const root = parseSfpl(source);
    defs.upstreamFiles?.add(file);
    defs.warnings.push(
      `${file}:${yamlErr.line}:${yamlErr.col}: not strict YAML (${yamlErr.reason.replace(/^YAML syntax error: /, '')}); read with sf-processor's policy grammar, where indentation does not matter`,
    );
    return { root, text: source };
  } catch (err) {
    if (!(err instanceof SfplError)) throw err;
    const p = new LineIndex(source).position(err.offset);
    throw new PolicyError(file, yamlErr.line, yamlErr.col, 'file', `${yamlErr.reason}; nor is it sf-processor policy syntax: ${err.reason} at ${p.line}:${p.col}`);
  }
}

/** Read every policy file under `p` (file or directory). Throws PolicyError / Error with a position. */
export function readDefinitions(p: string | readonly string[], sigmaConfig?: string): Definitions {
  const files = (typeof p === 'string' ? policyPaths(p) : p).flatMap(policyFiles);
  const defs: Definitions = { files, lists: new Map(), macros: new Map(), rules: new Map(), filters: new Map(), warnings: [], upstreamFiles: new Set() };
  const read = (file: string) => {
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  // Sigma documents are translated once every file is read: a config among the files maps their fields
  const sigma: { file: string; text: string; root: YNode }[] = [];
  const sigmaFields = new Map(DEFAULT_SIGMA_FIELDS);
  const addMappings = (root: YNode) => {
    for (const [k, v] of sigmaFieldMappings(root)) sigmaFields.set(k, v);
  };
  if (sigmaConfig) {
    const cfg = parseYaml(read(sigmaConfig), sigmaConfig).root;
    if (!isSigmaConfig(cfg)) throw new PolicyError(sigmaConfig, 1, 1, 'file', "a Sigma config needs 'fieldmappings'");
    addMappings(cfg!);
  }
  for (const file of files) {
    const parsed = parseFile(file, read(file), defs);
    if (isSigmaConfig(parsed.root)) addMappings(parsed.root!);
    else if (isSigmaRule(parsed.root)) sigma.push({ file, text: parsed.text, root: parsed.root! });
    else new FileReader(file, parsed.text, defs).read(parsed.root);
  }
  for (const doc of sigma) {
    defs.upstreamFiles?.add(doc.file);
    const lines = new LineIndex(doc.text);
    for (const r of translateSigma(doc.root, sigmaFields)) {
      const at = lines.position(r.at);
      const pos = { file: doc.file, line: at.line, col: at.col };
      const item = `rule '${r.name}'`;
      // the condition is generated: every position in it is the rule's `detection`
      const src: SourceRef = { file: doc.file, item, position: () => at };
      const old = defs.rules.get(r.name);
      if (old) defs.warnings.push(`${doc.file}:${pos.line}:${pos.col}: ${item}: redefines the rule from ${old.pos.file}:${old.pos.line}`);
      defs.rules.delete(r.name);
      defs.rules.set(r.name, {
        name: r.name,
        desc: r.desc,
        condition: new Text([{ text: r.condition || 'sf.type = PE', src }]),
        output: '',
        priority: r.priority,
        tags: r.tags,
        prefilter: r.prefilter,
        enabled: true,
        actions: [],
        throttle: null,
        capture: false,
        captureDurationMs: null,
        captureBpf: null,
        exceptions: [],
        source: 'sysflow',
        skipIfUnknown: false,
        ...(r.unsupported ? { unsupported: r.unsupported } : {}),
        pos,
      });
    }
  }
  return defs;
}
