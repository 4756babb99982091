/**
 * Policy files: item kinds, errors with file:line:col and the item, Falco override/append
 * (peers-and-falco §1.3), exceptions (§1.6), required_engine_version, enabling and skipping rules,
 * filters, actions, output templates (§1.7), the stable Falco rules fixture, and the upstream
 * libsinsp grammar vectors (test/fixtures/policy/falco-parser-vectors.json).
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyError } from '../../core/errors.js';
import { ENGINE_VERSION } from '../../core/policy/definitions.js';
import { loadPolicySet, type Action, type PolicySet } from '../../core/policy/policyset.js';
import { parseCondition } from '../../core/policy/parser.js';
import type { FlatRecord, MatchedRule } from '../../core/flatten/flatrecord.js';
import { FIXTURES } from '../helpers/corpus.js';
import { definitionsFromYaml, fe, ff, initHashing, pe, policyFromYaml, tempDir, writePolicy, OpFlags } from '../helpers/records.js';

before(async () => {
  await initHashing();
});

/** Load must fail with a PolicyError; returns it after checking the message shape. */
function loadFails(yaml: string, reason: RegExp, where?: { line: number; col?: number; item?: string | RegExp }): PolicyError {
  const file = writePolicy(yaml);
  let caught: unknown;
  try {
    loadPolicySet(file);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof PolicyError, `expected a PolicyError, got ${caught instanceof Error ? `${caught.constructor.name}: ${caught.message}` : String(caught)}`);
  assert.match(caught.reason, reason);
  assert.equal(caught.file, file);
  assert.equal(caught.message, `${file}:${caught.line}:${caught.col}: ${caught.item}: ${caught.reason}`);
  assert.ok(!caught.message.includes('\n'), 'one line');
  if (where) {
    assert.equal(caught.line, where.line, `line of: ${caught.message}`);
    if (where.col !== undefined) assert.equal(caught.col, where.col, `col of: ${caught.message}`);
    if (typeof where.item === 'string') assert.equal(caught.item, where.item);
    else if (where.item) assert.match(caught.item, where.item);
  }
  return caught;
}

/** Evaluate a set on a record: [alerted, matched rule names, tags, outputs]. */
function run(set: PolicySet, r: FlatRecord): { alert: boolean; rules: string[]; tags: string[]; outputs: (string | undefined)[] } {
  r.rules = null;
  r.tags = null;
  const alert = set.evaluate(r);
  const matched: readonly MatchedRule[] = (r as { rules: MatchedRule[] | null }).rules ?? [];
  return { alert, rules: matched.map((x) => x.name), tags: (r as { tags: string[] | null }).tags ?? [], outputs: matched.map((x) => x.output) };
}
const names = (set: PolicySet, r: FlatRecord) => run(set, r).rules;
const status = (set: PolicySet) => Object.fromEntries(set.report.map((x) => [x.name, x.status]));

const BASH = () => pe({ exe: '/bin/bash', args: '-i', user: 'alice', uid: 1000 });
const SH = () => pe({ exe: '/bin/sh', user: 'bob', uid: 1001 });
const CURL = () => pe({ exe: '/usr/bin/curl', user: 'alice', uid: 1000 });

describe('items', () => {
  test('list, macro, rule, filter, drop, required_engine_version, required_plugin_versions', () => {
    const defs = definitionsFromYaml(`
- required_engine_version: 0.26.0
- required_plugin_versions:
    - name: k8saudit
      version: 0.1.0
- list: shells
  items: [bash, sh]
- macro: shell
  condition: proc.name in (shells)
- rule: Shell
  desc: a shell
  condition: shell
  output: "shell %proc.name"
  priority: WARNING
  tags: [process, T1059]
- filter: quiet
  condition: proc.name = curl
- drop: noisy
  condition: proc.name = wget
`);
    assert.deepEqual([...defs.lists.keys()], ['shells']);
    assert.deepEqual(defs.lists.get('shells')!.items, ['bash', 'sh']);
    assert.deepEqual([...defs.macros.keys()], ['shell']);
    assert.deepEqual([...defs.filters.keys()], ['quiet', 'noisy']);
    const rule = defs.rules.get('Shell')!;
    assert.equal(rule.desc, 'a shell');
    assert.equal(rule.priority, 'warning'); // case-insensitive, stored lower-case
    assert.deepEqual(rule.tags, ['process', 'T1059']);
    assert.equal(rule.pos.line, 10); // the text starts with a newline
    assert.ok(
      defs.warnings.some((w) => /required_plugin_versions: ignored/.test(w)),
      defs.warnings.join('\n'),
    );
  });

  test('an empty file has no rules; a file that is not a list is an error', () => {
    assert.equal(policyFromYaml('').rules.length, 0);
    assert.equal(policyFromYaml('# only a comment\n').rules.length, 0);
    loadFails('rule: x\n', /a policy file is a YAML list of items/, { line: 1, col: 1, item: 'file' });
    loadFails('- item: x\n', /unknown item: expected one of rule, macro, list, filter/, { line: 1, col: 3, item: 'item' });
    loadFails('- just a string\n', /each item must be a mapping/, { line: 1, item: 'item' });
    loadFails('- list: l\n', /missing 'items'/, { line: 1, item: "list 'l'" });
    loadFails('- macro: m\n', /missing 'condition'/, { line: 1, item: "macro 'm'" });
    loadFails('- rule: r\n  desc: x\n', /missing 'condition'/, { line: 1, item: "rule 'r'" });
    loadFails('- rule: ""\n  condition: x\n', /a rule needs a name/, { line: 1, item: 'rule' });
    loadFails('- rule: r\n  condition: [a]\n', /condition must be a string/, { line: 2, col: 14 });
    loadFails('- rule: r\n  condition: proc.name = bash\n  tags: notalist\n', /'tags' must be a list/, { line: 3, col: 9 });
    loadFails('- rule: r\n  condition: proc.name = bash\n  enabled: maybe\n', /'enabled' must be true or false/, { line: 3, col: 12 });
  });

  test('unknown keys are warnings', () => {
    const set = policyFromYaml('- rule: r\n  condition: proc.name = bash\n  colour: blue\n- list: l\n  items: []\n  size: 3\n');
    assert.equal(set.rules.length, 1);
    assert.ok(
      set.warnings.some((w) => /:3:3: rule 'r': unknown key 'colour' ignored$/.test(w)),
      set.warnings.join('\n'),
    );
    assert.ok(
      set.warnings.some((w) => /:6:3: list 'l': unknown key 'size' ignored$/.test(w)),
      set.warnings.join('\n'),
    );
  });

  test('a directory loads every .yaml/.yml below it, in natural order, lists and macros shared', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, '10-rules.yaml'), '- rule: r\n  condition: shell and proc.name in (shells)\n');
    writeFileSync(join(dir, '2-lists.yml'), '- list: shells\n  items: [bash]\n');
    writeFileSync(join(dir, 'sub', 'macros.yaml'), '- macro: shell\n  condition: sf.type = PE\n');
    writeFileSync(join(dir, 'notes.txt'), 'not a policy');
    const set = loadPolicySet(dir);
    assert.deepEqual(
      set.files.map((f) => f.slice(dir.length + 1)),
      ['2-lists.yml', '10-rules.yaml', 'sub/macros.yaml'],
    );
    assert.deepEqual(names(set, BASH()), ['r']);
  });
});

describe('errors name file:line:col and the item', () => {
  test('YAML syntax errors', () => {
    loadFails('- rule: r\n  condition: [oops\n', /^YAML syntax error: /, { line: 3, item: 'file' });
    // not YAML, and not sf-processor's token grammar either: the YAML reason, then the other grammar's, with its position
    loadFails(' - rule: a\n  condition: x\n  oops: y\n', /^YAML syntax error: bad indentation.*; nor is it sf-processor policy syntax: unknown attribute 'oops' .* at 3:3$/, { line: 2, item: 'file' });
    loadFails('- rule: r\n\tcondition: x\n\toops: 1\n', /^YAML syntax error: .*; nor is it sf-processor policy syntax: unknown attribute 'oops'/, { line: 2, item: 'file' });
    loadFails('- rule: r\n  condition: "unterminated\n', /^YAML syntax error: /, { item: 'file', line: 3 });
    loadFails('- a: 1\n---\n- b: 2\n', /one YAML document/, { line: 1, item: 'file' });
  });

  test('unknown field, with did-you-mean, at the field', () => {
    const e = loadFails('- rule: r\n  condition: proc.name = bash and proc.nme = x\n', /^unknown field 'proc\.nme' \(did you mean 'proc\.name'\?\)$/, { line: 2, col: 35, item: "rule 'r'" });
    assert.match(e.message, /:2:35: rule 'r': unknown field/);
    // an sf.* attribute that does not exist costs its rule only (sf-processor files load with them; see policy-upstream)
    const set = loadPolicySet(writePolicy('- rule: r\n  condition: sf.proc.nam = bash\n- rule: ok\n  condition: sf.proc.name = bash\n'));
    assert.deepEqual(
      set.report.map((r) => [r.name, r.status]),
      [
        ['r', 'unsupported'],
        ['ok', 'supported'],
      ],
    );
    assert.match(set.report[0]!.notes[0]!, /unknown field 'sf\.proc\.nam' \(did you mean 'sf\.proc\.name'\?\)/);
    assert.ok(
      set.warnings.some((w) => /:2:14: rule 'r': unknown field 'sf\.proc\.nam'.*rule skipped/.test(w)),
      set.warnings.join('\n'),
    );
    loadFails('- rule: r\n  condition: totally.unrelated.thing = 1\n', /^unknown field 'totally\.unrelated\.thing'$/, { line: 2, col: 14 });
  });

  test('positions inside folded and literal block conditions, and in macros', () => {
    loadFails('- rule: r\n  condition: >\n    proc.name = bash\n    and proc.nme = x\n', /unknown field 'proc\.nme'/, { line: 4, col: 9 });
    loadFails('- rule: r\n  condition: |\n    proc.name = bash\n      and proc.nme = x\n', /unknown field 'proc\.nme'/, { line: 4, col: 11 });
    loadFails('- macro: m\n  condition: proc.nme = x\n- rule: r\n  condition: m\n', /unknown field/, { line: 2, col: 14, item: "macro 'm'" });
    loadFails('- macro: m\n  condition: proc.name = (\n- rule: r\n  condition: m\n', /expected a value/, { line: 2, col: 26, item: "macro 'm'" });
  });

  test('an appended condition reports the file it came from', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.yaml'), '- rule: r\n  condition: proc.name = bash\n');
    writeFileSync(join(dir, 'b.yaml'), '- rule: r\n  condition: and\n    proc.nme = x\n  override:\n    condition: append\n');
    assert.throws(
      () => loadPolicySet(dir),
      (e: unknown) => e instanceof PolicyError && e.file === join(dir, 'b.yaml') && e.line === 3 && e.col === 5 && /unknown field 'proc.nme'/.test(e.reason),
    );
  });

  test('a condition that ends too early points at its own line', () => {
    loadFails('- rule: r\n  condition: proc.name = bash and\n- rule: s\n  condition: proc.name = sh\n', /found end of condition/, { line: 2 });
  });

  test('unknown macro; unknown list name is a literal', () => {
    loadFails('- rule: r\n  condition: proc.name = bash and undefined_macro\n', /^unknown macro 'undefined_macro'$/, { line: 2, col: 35 });
    const set = policyFromYaml('- rule: r\n  condition: proc.name in (undefined_list, bash)\n');
    assert.deepEqual(names(set, BASH()), ['r']);
    assert.deepEqual(names(set, pe({ exe: '/x/undefined_list' })), ['r']);
    assert.deepEqual(names(set, SH()), []);
  });

  test('self-referencing and mutually recursive macros and lists', () => {
    loadFails('- macro: m\n  condition: m or proc.name = x\n- rule: r\n  condition: m\n', /macro 'm' refers to itself \(m → m\)/, { line: 2, col: 14, item: "macro 'm'" });
    loadFails('- macro: a\n  condition: b\n- macro: b\n  condition: a\n- rule: r\n  condition: a\n', /refers to itself \(a → b → a\)/, { line: 4, item: "macro 'b'" });
    loadFails('- list: a\n  items: [b]\n- list: b\n  items: [a]\n- rule: r\n  condition: proc.name in (a)\n', /list refers to itself through a → b → a/, { line: 1, item: "list 'a'" });
    // a list naming itself is a literal item, not a loop
    const set = policyFromYaml('- list: a\n  items: [a, bash]\n- rule: r\n  condition: proc.name in (a)\n');
    assert.deepEqual(names(set, BASH()), ['r']);
  });

  test('bad priority, bad regex, bad prefilter, bad values', () => {
    loadFails('- rule: r\n  condition: proc.name = bash\n  priority: superbad\n', /^unknown priority 'superbad': expected one of emergency, alert, critical/, { line: 3, col: 13, item: "rule 'r'" });
    loadFails('- rule: r\n  condition: proc.name regex "(a)\\\\1"\n', /^regex rejected: .*backreferences and lookaround are not allowed/, { line: 2, col: 30 });
    loadFails("- rule: r\n  condition: proc.name regex '[a-'\n", /^regex rejected: /, { line: 2, col: 30 });
    loadFails('- rule: r\n  condition: proc.name = bash\n  prefilter: [PE, XX]\n', /^prefilter: unknown record type 'XX'/, { line: 1, item: "rule 'r'" });
    loadFails('- rule: r\n  condition: sf.proc.pid = bash\n', /^expected an integer, found 'bash'$/, { line: 2, col: 28 });
    loadFails('- rule: r\n  condition: proc.name bcontains xyz\n', /needs hex bytes/, { line: 2, col: 34 });
  });

  test('unknown field in an output template', () => {
    loadFails('- rule: r\n  condition: proc.name = bash\n  output: "%proc.nme"\n', /unknown field 'proc\.nme'/, { line: 1, item: "rule 'r'" });
  });
});

describe('override and append (Falco 0.37+)', () => {
  test('list: append and replace items', () => {
    const base = '- list: l\n  items: [bash]\n';
    const app = policyFromYaml(base + '- list: l\n  items: [sh]\n  override:\n    items: append\n- rule: r\n  condition: proc.name in (l)\n');
    assert.deepEqual(names(app, BASH()), ['r']);
    assert.deepEqual(names(app, SH()), ['r']);
    const rep = policyFromYaml(base + '- list: l\n  items: [sh]\n  override:\n    items: replace\n- rule: r\n  condition: proc.name in (l)\n');
    assert.deepEqual(names(rep, BASH()), []);
    assert.deepEqual(names(rep, SH()), ['r']);
    const legacy = policyFromYaml(base + '- list: l\n  items: [sh]\n  append: true\n- rule: r\n  condition: proc.name in (l)\n');
    assert.deepEqual(names(legacy, SH()), ['r']);
    assert.ok(legacy.warnings.some((w) => /'append: true' is deprecated/.test(w)));
    loadFails(base + '- list: l\n  items: [sh]\n  override:\n    condition: append\n', /a list can only override 'items'|override lists 'condition' but the item has no 'condition'/);
  });

  test('macro: append (text + space) and replace', () => {
    const base = '- macro: m\n  condition: proc.name = bash\n';
    const app = policyFromYaml(base + '- macro: m\n  condition: or proc.name = sh\n  override:\n    condition: append\n- rule: r\n  condition: m and user.name = bob\n');
    // the macro stays one parenthesised unit: (bash or sh) and bob
    assert.deepEqual(names(app, SH()), ['r']);
    assert.deepEqual(names(app, pe({ exe: '/bin/bash', user: 'alice' })), []);
    const rep = policyFromYaml(base + '- macro: m\n  condition: proc.name = sh\n  override:\n    condition: replace\n- rule: r\n  condition: m\n');
    assert.deepEqual(names(rep, BASH()), []);
    assert.deepEqual(names(rep, SH()), ['r']);
  });

  test('rule: append condition/output/desc/tags, replace priority/enabled/tags', () => {
    const set = policyFromYaml(`
- rule: r
  desc: first
  condition: proc.name = bash
  output: "a=%proc.name"
  priority: notice
  tags: [t1]
- rule: r
  desc: second
  condition: or proc.name = sh
  output: "b=%user.name"
  tags: [t2]
  override:
    desc: append
    condition: append
    output: append
    tags: append
- rule: r
  priority: critical
  override:
    priority: replace
`);
    const rule = set.rules[0]!;
    assert.equal(rule.desc, 'first second');
    assert.equal(rule.priorityName, 'critical');
    assert.deepEqual(rule.tags, ['t1', 't2']);
    assert.deepEqual(run(set, BASH()).outputs, ['a=bash b=alice']);
    assert.deepEqual(names(set, SH()), ['r']);
    assert.deepEqual(names(set, CURL()), []);

    const rep = policyFromYaml(
      '- rule: r\n  condition: proc.name = bash\n  tags: [t1]\n- rule: r\n  condition: proc.name = sh\n  tags: [t9]\n  override:\n    condition: replace\n    tags: replace\n',
    );
    assert.deepEqual(names(rep, BASH()), []);
    assert.deepEqual(names(rep, SH()), ['r']);
    assert.deepEqual(rep.rules[0]!.tags, ['t9']);

    const off = policyFromYaml('- rule: r\n  condition: proc.name = bash\n- rule: r\n  enabled: false\n  override:\n    enabled: replace\n');
    assert.deepEqual(status(off), { r: 'disabled' });
    const on = policyFromYaml('- rule: r\n  condition: proc.name = bash\n  enabled: false\n- rule: r\n  enabled: true\n  override:\n    enabled: replace\n');
    assert.deepEqual(names(on, BASH()), ['r']);
  });

  test('legacy append: true on a rule appends the condition', () => {
    const set = policyFromYaml('- rule: r\n  condition: proc.name = bash\n- rule: r\n  condition: or proc.name = sh\n  append: true\n');
    assert.deepEqual(names(set, SH()), ['r']);
    assert.ok(
      set.warnings.some((w) => /:5:3: rule 'r': 'append: true' is deprecated/.test(w)),
      set.warnings.join('\n'),
    );
    loadFails('- rule: r\n  condition: proc.name = bash\n- rule: r\n  priority: error\n  append: true\n', /'priority' cannot be appended/, { line: 4, col: 3 });
  });

  test('errors: before the definition, append with override, unlisted or missing keys, non-appendable keys', () => {
    loadFails('- rule: r\n  condition: x\n  override:\n    condition: append\n', /cannot override: no rule 'r' is defined before this item/, { line: 1, col: 3, item: "rule 'r'" });
    loadFails('- rule: r\n  condition: x\n  append: true\n', /cannot append to: no rule 'r' is defined before this item/, { line: 1 });
    // defined later in the same file does not count
    loadFails('- macro: m\n  condition: or x\n  override:\n    condition: append\n- macro: m\n  condition: proc.name = a\n', /cannot append condition: no macro 'm' is defined before this item/, {
      line: 1,
      item: "macro 'm'",
    });
    loadFails('- list: l\n  items: [a]\n  override:\n    items: replace\n- list: l\n  items: [b]\n', /cannot replace items: no list 'l' is defined before this item/, { line: 1, item: "list 'l'" });
  });

  test('errors (continued)', () => {
    const base = '- rule: r\n  condition: proc.name = bash\n';
    loadFails(base + '- list: l\n  items: [a]\n- list: l\n  items: [b]\n  append: true\n  override:\n    items: append\n', /'append' and 'override' cannot be used together/, {
      line: 7,
      col: 3,
      item: "list 'l'",
    });
    loadFails(base + '- rule: r\n  condition: or x\n  append: true\n  override:\n    condition: append\n', /'append' and 'override' cannot be used together/, { line: 5 });
    loadFails(base + '- rule: r\n  priority: error\n  override:\n    condition: append\n', /override lists 'condition' but the item has no 'condition'/, { line: 6, col: 5 });
    loadFails(base + '- rule: r\n  condition: or proc.name = sh\n  priority: error\n  override:\n    condition: append\n', /'priority' is present but not listed under override/, { line: 5, col: 3 });
    loadFails(base + '- rule: r\n  priority: error\n  override:\n    priority: append\n', /'priority' cannot be appended \(only condition, output, desc, tags, exceptions\)/, { line: 4, col: 3 });
    loadFails(base + '- rule: r\n  condition: x\n  override:\n    condition: prepend\n', /override of 'condition' must be append or replace/, { line: 6 });
    loadFails(base + '- rule: r\n  source: k8s\n  override:\n    source: replace\n', /'source' cannot be replaced/);
    loadFails('- rule: r\n  enabled: false\n', /cannot enable\/disable: no rule 'r' is defined before this item/, { line: 1 });
  });

  test('rule redefinition replaces the rule (with a warning) and moves it to the end', () => {
    const set = policyFromYaml(
      '- rule: a\n  condition: proc.name = bash\n  priority: error\n- rule: b\n  condition: proc.name = bash\n- rule: a\n  condition: proc.name in (bash, sh)\n  priority: debug\n',
    );
    assert.deepEqual(
      set.rules.map((r) => `${r.name}:${r.priorityName}`),
      ['b:low', 'a:debug'],
    );
    assert.deepEqual(names(set, BASH()), ['b', 'a']);
    assert.deepEqual(names(set, SH()), ['a']);
    assert.ok(
      set.warnings.some((w) => /:6:3: rule 'a': redefines the rule from .*:1$/.test(w)),
      set.warnings.join('\n'),
    );
  });
});

describe('exceptions', () => {
  test('single-field form: fields is a name, values a flat list, comp defaults to in', () => {
    const set = policyFromYaml('- rule: r\n  condition: sf.type = PE\n  exceptions:\n    - name: fetchers\n      fields: proc.name\n      values: [curl, wget]\n');
    assert.deepEqual(names(set, BASH()), ['r']);
    assert.deepEqual(names(set, CURL()), []);
    const pm = policyFromYaml('- rule: r\n  condition: sf.type = FF\n  exceptions:\n    - name: tmp\n      fields: fd.name\n      comps: pmatch\n      values: [/tmp, /var/tmp]\n');
    assert.deepEqual(names(pm, ff({ path: '/tmp/x/y' })), []);
    assert.deepEqual(names(pm, ff({ path: '/etc/passwd' })), ['r']);
  });

  test('tuple form: rows of values, comps default to =, list cells with in', () => {
    const set = policyFromYaml(`
- rule: r
  condition: sf.type = PE
  exceptions:
    - name: pairs
      fields: [proc.name, user.name]
      values:
        - [bash, alice]
        - [curl, bob]
    - name: shells_of_b
      fields: [proc.name, user.name]
      comps: [in, startswith]
      values:
        - [[sh, zsh], b]
`);
    assert.deepEqual(names(set, BASH()), []); // bash+alice
    assert.deepEqual(names(set, pe({ exe: '/bin/bash', user: 'bob' })), ['r']);
    assert.deepEqual(names(set, CURL()), ['r']); // curl+alice is not curl+bob
    assert.deepEqual(names(set, SH()), []); // sh, bob startswith b
    assert.deepEqual(names(set, pe({ exe: '/bin/sh', user: 'carol' })), ['r']);
  });

  test('no values: no effect; errors for bad exceptions', () => {
    const set = policyFromYaml('- rule: r\n  condition: sf.type = PE\n  exceptions:\n    - name: e\n      fields: [proc.name]\n');
    assert.deepEqual(names(set, BASH()), ['r']);
    const base = '- rule: r\n  condition: proc.name = bash\n  exceptions:\n    - name: e\n';
    loadFails(base + '      fields: [proc.name]\n      comps: [foo]\n      values: [[x]]\n', /unknown comp 'foo'/, { line: 4, item: "rule 'r', exception 'e'" });
    loadFails(base + '      fields: [proc.name, user.name]\n      values: [[x]]\n', /value row has 1 entries for 2 fields/, { line: 6, item: "rule 'r', exception 'e'" });
    loadFails(base + '      fields: [proc.name, user.name]\n      comps: [=]\n      values: [[x, y]]\n', /'comps' has 1 entries for 2 fields/, { line: 6 });
    loadFails(base + '      fields: "not a field"\n      values: [x]\n', /'not a field' is not a field/, { line: 4 });
    loadFails(base + '      fields: [proc.name]\n      values: [[[a, b]]]\n', /a list value needs comp 'in'/, { line: 4 });
    loadFails('- rule: r\n  condition: proc.name = bash\n  exceptions:\n    - fields: [proc.name]\n', /exception without 'name'/, { line: 4 });
  });

  test('an unknown exception field names the exception', () => {
    loadFails(
      '- rule: r\n  condition: proc.name = bash\n  exceptions:\n    - name: e\n      fields: [proc.name, tolower(user.nmae)]\n      values: [[x, y]]\n',
      /unknown field 'user\.nmae' \(did you mean 'user\.name'\?\)/,
      { line: 4, item: /exception 'e'/ },
    );
    loadFails('- rule: r\n  condition: proc.name = bash\n  exceptions:\n    - name: e\n      fields: [proc.nme]\n      values: [[x]]\n', /unknown field 'proc\.nme'/, {
      line: 4,
      item: /exception 'e'/,
    });
  });

  test('override exceptions: append adds a new exception', () => {
    const set = policyFromYaml(`
- rule: r
  condition: sf.type = PE
  exceptions:
    - name: a
      fields: [proc.name]
      values: [[bash]]
- rule: r
  exceptions:
    - name: b
      fields: [user.name]
      values: [[bob]]
  override:
    exceptions: append
`);
    assert.deepEqual(names(set, BASH()), []);
    assert.deepEqual(names(set, SH()), []);
    assert.deepEqual(names(set, CURL()), ['r']);
  });

  test('override exceptions: append adds values to the exception of the same name', () => {
    const set = policyFromYaml(`
- rule: r
  condition: sf.type = PE
  exceptions:
    - name: known
      fields: [proc.name, user.name]
      values:
        - [bash, alice]
- rule: r
  exceptions:
    - name: known
      values:
        - [sh, bob]
  override:
    exceptions: append
`);
    assert.deepEqual(names(set, BASH()), []);
    assert.deepEqual(names(set, SH()), []);
    assert.deepEqual(names(set, CURL()), ['r']);
  });

  test('override exceptions: replace', () => {
    const set = policyFromYaml(`
- rule: r
  condition: sf.type = PE
  exceptions:
    - name: a
      fields: proc.name
      values: [bash]
- rule: r
  exceptions:
    - name: b
      fields: proc.name
      values: [sh]
  override:
    exceptions: replace
`);
    assert.deepEqual(names(set, BASH()), ['r']);
    assert.deepEqual(names(set, SH()), []);
  });
});

describe('required_engine_version, enabled, skip-if-unknown-filter, source', () => {
  test('required_engine_version: legacy integer and semver, not newer than the engine', () => {
    assert.equal(ENGINE_VERSION, '0.57.0');
    for (const v of ['26', '0.26.0', '0.57.0', '0.57', '"0.10.0"']) assert.equal(policyFromYaml(`- required_engine_version: ${v}\n`).rules.length, 0, v);
    loadFails('- required_engine_version: 0.58.0\n', /needs engine version 0\.58\.0; this engine implements 0\.57\.0/, { line: 1, col: 28, item: 'required_engine_version' });
    loadFails('- required_engine_version: 99\n', /needs engine version 0\.99\.0/, { line: 1 });
    loadFails('- required_engine_version: 1.0.0\n', /needs engine version 1\.0\.0/);
    loadFails('- required_engine_version: abc\n', /expected a version such as 0\.57\.0, found 'abc'/, { line: 1 });
  });

  test('enabled: false keeps the rule out (reported disabled); the deprecated toggle form warns', () => {
    const set = policyFromYaml('- rule: r\n  condition: proc.name = bash\n  enabled: false\n- rule: s\n  condition: proc.name = bash\n');
    assert.deepEqual(status(set), { r: 'disabled', s: 'supported' });
    assert.deepEqual(names(set, BASH()), ['s']);
    const toggled = policyFromYaml('- rule: r\n  condition: proc.name = bash\n- rule: r\n  enabled: false\n');
    assert.deepEqual(status(toggled), { r: 'disabled' });
    assert.ok(toggled.warnings.some((w) => /:3:3: rule 'r': toggling a rule with only 'enabled' is deprecated/.test(w)));
    // a disabled rule must still compile: errors are not hidden
    loadFails('- rule: r\n  condition: proc.nme = bash\n  enabled: false\n', /unknown field/);
  });

  test('skip-if-unknown-filter: unknown fields skip the rule with a warning; other errors still fail', () => {
    const set = policyFromYaml('- rule: r\n  condition: proc.nme = bash\n  skip-if-unknown-filter: true\n- rule: s\n  condition: proc.name = bash\n');
    assert.deepEqual(status(set), { r: 'unsupported', s: 'supported' });
    assert.match(set.report[0]!.notes[0]!, /unknown field 'proc\.nme'/);
    assert.ok(
      set.warnings.some((w) => /:2:14: rule 'r': unknown field 'proc\.nme'.*\(rule skipped: skip-if-unknown-filter\)$/.test(w)),
      set.warnings.join('\n'),
    );
    loadFails('- rule: r\n  condition: proc.name = bash and nomacro\n  skip-if-unknown-filter: true\n', /unknown macro 'nomacro'/);
    loadFails('- rule: r\n  condition: proc.name = (\n  skip-if-unknown-filter: true\n', /expected a value/);
  });

  test('unsupported Falco fields make the rule unsupported, not the load fail', () => {
    const set = policyFromYaml('- rule: r\n  condition: spawned and evt.arg.request = 1\n- macro: spawned\n  condition: evt.type = execve\n');
    assert.deepEqual(status(set), { r: 'unsupported' });
    assert.match(set.report[0]!.notes.join(), /evt\.arg\.request: SysFlow does not record this syscall argument/);
  });

  test('a non-SysFlow source skips the rule', () => {
    const set = policyFromYaml('- rule: r\n  condition: ka.verb = create\n  source: k8s_audit\n');
    assert.deepEqual(status(set), { r: 'unsupported' });
    assert.ok(set.warnings.some((w) => /source 'k8s_audit' is not SysFlow; rule skipped/.test(w)));
  });
});

describe('filters, actions, outputs', () => {
  test('filter and drop items drop records; enabled: false and later toggles', () => {
    const set = policyFromYaml('- filter: quiet\n  condition: proc.name = curl\n- drop: noisy\n  condition: sf.type = FF and fd.name startswith /proc\n- rule: r\n  condition: sf.type in (PE, FF)\n');
    assert.equal(set.filterCount, 2);
    assert.equal(set.dropped(CURL()), true);
    assert.equal(set.dropped(BASH()), false);
    assert.equal(set.dropped(ff({ path: '/proc/1/stat' })), true);
    assert.equal(set.dropped(ff({ path: '/etc/passwd' })), false);
    const off = policyFromYaml('- filter: quiet\n  condition: proc.name = curl\n  enabled: false\n');
    assert.equal(off.filterCount, 0);
    assert.equal(off.dropped(CURL()), false);
    const toggled = policyFromYaml('- filter: quiet\n  condition: proc.name = curl\n- filter: quiet\n  enabled: false\n');
    assert.equal(toggled.dropped(CURL()), false);
    loadFails('- filter: f\n  condition: evt.arg.request = 1\n', /a filter must be fully supported/, { line: 1, item: "filter 'f'" });
    loadFails('- filter: f\n  enabled: false\n', /missing 'condition'/, { line: 1 });
  });

  test("actions: tag adds the rule's tags without alerting; alert is the default", () => {
    const set = policyFromYaml(`
- rule: tagger
  condition: proc.name = bash
  tags: [t1, t2]
  actions: [tag]
- rule: both
  condition: proc.name = bash
  tags: [t3]
  actions: [tag, alert]
- rule: plain
  condition: proc.name in (bash, sh)
  tags: [t4]
- rule: odd
  condition: proc.name = sh
  action: bogus
`);
    const r = run(set, BASH());
    assert.equal(r.alert, true);
    assert.deepEqual(r.rules, ['both', 'plain']);
    assert.deepEqual(r.tags, ['t1', 't2', 't3']);
    const s = run(set, SH());
    assert.deepEqual(s.rules, ['plain', 'odd']); // an unknown action leaves the rule alerting
    assert.ok(set.warnings.some((w) => /rule 'odd': unknown action 'bogus' ignored \(known: alert, tag\)/.test(w)));
    const onlyTag = policyFromYaml('- rule: t\n  condition: proc.name = bash\n  tags: [x]\n  actions: [tag]\n');
    const o = run(onlyTag, BASH());
    assert.equal(o.alert, false);
    assert.deepEqual(o.tags, ['x']);
  });

  test('prefilter restricts a rule to record types', () => {
    const set = policyFromYaml('- rule: r\n  condition: proc.name = cat\n  prefilter: [FF, ne]\n');
    assert.deepEqual(names(set, pe({ exe: '/bin/cat' })), []);
    assert.deepEqual(names(set, ff({ exe: '/bin/cat' })), ['r']);
    const typed = policyFromYaml('- rule: r\n  condition: sf.type = PE or proc.name = cat\n  prefilter: [FF]\n');
    assert.deepEqual(names(typed, ff({ exe: '/bin/cat' })), ['r']);
    assert.deepEqual(names(typed, ff({ exe: '/bin/ls' })), []);
    assert.deepEqual(names(typed, pe({ exe: '/bin/ls' })), []);
  });

  test('plugin actions run on matches, and the rule is still reported (as upstream); only [tag] is not', () => {
    const seen: string[] = [];
    const act: Action = { name: 'record', run: (r, rule) => seen.push(`${rule.name}:${r.proc?.exe}`) };
    const set = policyFromYaml('- rule: r\n  condition: proc.name = bash\n  actions: [record]\n', { actions: new Map([['record', act]]) });
    const r = run(set, BASH());
    assert.equal(r.alert, true);
    assert.deepEqual(seen, ['r:/bin/bash']);
    const both = policyFromYaml('- rule: r\n  condition: proc.name = bash\n  tags: [t]\n  actions: [tag, record]\n', { actions: new Map([['record', act]]) });
    assert.equal(run(both, BASH()).alert, true);
    const tagOnly = policyFromYaml('- rule: r\n  condition: proc.name = bash\n  tags: [t]\n  actions: [tag]\n');
    assert.equal(run(tagOnly, BASH()).alert, false);
  });

  test('output templates: %field, %field[arg], %transformer(), width, <NA>, 64-bit times', () => {
    const set = policyFromYaml(`
- rule: r
  condition: sf.type in (PE, FF)
  output: >
    %proc.name by %user.name (uid %user.uid) parent=%proc.pname gp=%proc.aname[2] a9=%proc.aname[9]
    up=%toupper(proc.name) low=%tolower(proc.exe) base=%basename(proc.exe) len=%len(proc.name) w=[%8proc.name] cut=[%2proc.name]
    fd=%fd.name login=%user.loginuid info=%container.info ts=%evt.time anc=%sf.proc.aname cid=%container.id
    100% literal, fd_proto=fd.l4proto
`);
    const r = pe({ exe: '/BIN/bash', user: 'alice', uid: 1000, ts: '1700000000123456789', parent: { pid: 99, exe: '/usr/sbin/sshd' }, ancestors: [{ pid: 1, exe: '/sbin/init' }] });
    const [out] = run(set, r).outputs;
    assert.equal(
      out,
      // the folded scalar joins the lines with spaces
      'bash by alice (uid 1000) parent=sshd gp=init a9=<NA> ' +
        'up=BASH low=/bin/bash base=bash len=4 w=[bash    ] cut=[ba] ' +
        'fd=<NA> login=<NA> info=<NA> ts=1700000000123456789 anc=bash,sshd,init cid=host ' +
        '100% literal, fd_proto=fd.l4proto',
    );
    assert.match(set.report[0]!.notes.join(), /output prints <NA> for user\.loginuid, container\.info/);
    const [fout] = run(set, ff({ exe: '/bin/cat', path: '/etc/shadow' })).outputs;
    assert.match(fout!, /^cat by root .* fd=\/etc\/shadow /);
  });
});

describe('the stable Falco rules (test/fixtures/falco/falco_rules.yaml)', () => {
  const file = join(FIXTURES, 'falco', 'falco_rules.yaml');
  let set: PolicySet;
  before(() => {
    set = loadPolicySet(file);
  });

  test('loads with a report: counts by status', () => {
    assert.equal(set.report.length, 25);
    // evt.num is the record's sequence number (evt.seq), so never_true (evt.num = 0) is exact, not an approximation
    assert.deepEqual(set.summary(), { supported: 10, approximated: 5, unsupported: 10, disabled: 0 });
    assert.equal(set.rules.length, 15);
    for (const r of set.report) {
      assert.equal(r.file, file);
      if (r.status === 'unsupported') assert.ok(r.notes.length > 0, `${r.name} says why`);
    }
  });

  test("'PTRACE attached to process' is unsupported because of evt.arg.request", () => {
    const r = set.report.find((x) => x.name === 'PTRACE attached to process')!;
    assert.equal(r.status, 'unsupported');
    assert.ok(
      r.notes.some((n) => /^evt\.arg\.request: /.test(n)),
      r.notes.join('; '),
    );
    const byName = Object.fromEntries(set.report.map((x) => [x.name, x]));
    assert.match(byName['Linux Kernel Module Injection Detected']!.notes.join(), /thread\.cap_effective/);
    assert.match(byName['Redirect STDOUT/STDIN to Network Connection in Container']!.notes.join(), /can never be true.*does not record dup, dup2, dup3/);
    assert.equal(byName['Netcat Remote Code Execution in Container']!.status, 'supported');
  });

  test('detects on SysFlow records', () => {
    const ctr = { id: 'abcdef012345', name: 'web', privileged: true };
    const nc = pe({ exe: '/usr/bin/nc', args: '-e /bin/sh 10.0.0.9 4444', container: ctr });
    assert.ok(names(set, nc).includes('Netcat Remote Code Execution in Container'), names(set, nc).join());
    assert.ok(!names(set, pe({ exe: '/usr/bin/nc', args: '-e /bin/sh 10.0.0.9 4444' })).includes('Netcat Remote Code Execution in Container'), 'on the host: not in a container');
    assert.ok(names(set, pe({ exe: '/sbin/debugfs', container: ctr })).includes('Debugfs Launched in Privileged Container'));
    assert.ok(!names(set, pe({ exe: '/sbin/debugfs', container: { ...ctr, privileged: false } })).includes('Debugfs Launched in Privileged Container'));
    assert.ok(names(set, pe({ exe: '/usr/bin/find', args: '/ -name .aws/credentials' })).includes('Find AWS Credentials'));
    assert.ok(names(set, fe({ flags: OpFlags.LINK, path: '/etc/shadow', newPath: '/tmp/s' })).includes('Create Hardlink Over Sensitive Files'));
    assert.deepEqual(names(set, pe({ exe: '/bin/ls' })), []);
  });
});

// ---------------------------------------------------------------------------------------------
// upstream grammar vectors

interface Vector {
  expr: string;
  accept: boolean;
  test: string;
  feature: string;
  whitespace_variants?: boolean;
}

/**
 * Vectors where our parser legitimately disagrees with libsinsp's. Exact expressions, so that any
 * *new* disagreement fails; an entry that starts agreeing fails too (remove it from the list).
 */
const ALLOW: ReadonlyArray<{ why: string; exprs?: readonly string[]; family?: (e: string) => boolean }> = [
  {
    why: 'join(sep, (list)) transformer (Falco 0.44) is not implemented',
    family: (e) => e.includes('join('),
  },
  {
    why: 'list operators against a field or transformer instead of a literal list are not implemented',
    exprs: [
      'some.field in val(test.field)',
      'some.field in b64(test.field)',
      'some.field intersects val(test.field)',
      'some.field intersects b64(test.field)',
      'some.field pmatch val(test.field)',
      'some.field pmatch b64(test.field)',
    ],
  },
  {
    why: "upstream quirk: its quoted-string scanner ends at a quote not preceded by a backslash, so \\\\' does not close; we read \\\\ as an escaped backslash and the quote closes",
    exprs: ["test.str = 'multiple escape single quote \\' \\\\''"],
  },
  {
    why: "upstream quirk: 'existsand' lexes as 'exists' + 'and'; for us a word is a word",
    exprs: ['test.op existsand macro'],
  },
  {
    why: 'field arguments are checked by the field (lookupField / withArg), not the parser: the compiler rejects these for every field that takes no or a numeric argument',
    exprs: ['evt.arg[] contains /bin', 'test.str[] = testval', 'test.str[[] = testval', "test.str['''] = a", 'test.str[aaa"] = a', 'test.str[   test   ] = testval'],
  },
  {
    why: 'an undotted name before an operator parses as a field; the compiler rejects it (unknown field)',
    exprs: ['macro > 12'],
  },
  {
    why: 'numbers after < <= > >= are checked by the compiler against the field type (expected an integer)',
    exprs: ['test.num < 0xAAA.1', 'test.num >= 0aaaaa', 'test.num <= a', 'test.num > !0.1222e+10'],
  },
  {
    why: 'deliberate leniency: a trailing comma in a list is accepted',
    exprs: ['test.list in (value,)'],
  },
  {
    why: 'leniency: val() accepts a transformer operand',
    exprs: ['some.field = val(toupper(test.field))'],
  },
];

function accepts(src: string): boolean {
  try {
    parseCondition(src);
    return true;
  } catch {
    return false;
  }
}

describe('libsinsp parser vectors', () => {
  const data = JSON.parse(readFileSync(join(FIXTURES, 'policy', 'falco-parser-vectors.json'), 'utf8')) as { vectors: Vector[] };

  test('every vector agrees with upstream, or is on the commented allow-list', (t) => {
    let agree = 0;
    let agreeJoin = 0;
    const unexpected: string[] = [];
    const stale: string[] = [];
    const allowedHits = new Map<string, number>();
    for (const v of data.vectors) {
      const variants = [v.expr];
      if (v.accept && v.whitespace_variants !== false) {
        // upstream test_accept also parses ' e ', then with spaces → \n, then \n → \t
        const w = ` ${v.expr} `;
        variants.push(w, w.replace(/ /g, '\n'), w.replace(/ /g, '\n').replace(/\n/g, '\t'));
      }
      const ours = variants.every(accepts);
      const allow = ALLOW.find((a) => a.exprs?.includes(v.expr) || a.family?.(v.expr));
      if (ours === v.accept) {
        agree++;
        if (v.expr.includes('join(')) agreeJoin++;
        if (allow?.exprs) stale.push(`${JSON.stringify(v.expr)} now agrees: remove it from the allow-list`);
      } else if (allow) allowedHits.set(allow.why, (allowedHits.get(allow.why) ?? 0) + 1);
      else unexpected.push(`${v.test} [${v.feature}] upstream ${v.accept ? 'accepts' : 'rejects'}, we ${ours ? 'accept' : 'reject'}: ${JSON.stringify(v.expr)}`);
    }
    const total = data.vectors.length;
    const join = data.vectors.filter((v) => v.expr.includes('join(')).length;
    t.diagnostic(
      `agreement ${agree}/${total} (${((100 * agree) / total).toFixed(1)}%); without the ${join} join() vectors (not implemented) ${agree - agreeJoin}/${total - join} (${((100 * (agree - agreeJoin)) / (total - join)).toFixed(1)}%)`,
    );
    for (const [why, n] of allowedHits) t.diagnostic(`allowed ×${n}: ${why}`);
    assert.deepEqual(unexpected, [], 'new disagreements with upstream');
    assert.deepEqual(stale, [], 'stale allow-list entries');
    // pinned so that a change in the join() family (no per-vector stale check) is noticed too
    assert.equal(agree, 365);
  });

  test('allow-listed "the compiler rejects" claims hold with real fields', () => {
    for (const src of ['evt.arg[] contains /bin', 'proc.aname[] = a', 'proc.name[x] = a', 'macro > 12', 'sf.proc.pid < 0xAAA.1', 'sf.proc.pid >= 0aaaaa', 'sf.proc.pid <= a']) {
      assert.doesNotThrow(() => parseCondition(src), src);
      let failed = false;
      try {
        const set = policyFromYaml(`- rule: r\n  condition: '${src.replace(/'/g, "''")}'\n`);
        failed = set.rules.length === 0; // evt.arg: unsupported, never evaluated
      } catch (err) {
        failed = err instanceof PolicyError;
      }
      assert.ok(failed, `${src} compiles`);
    }
  });
});

describe('size and depth: big lists load, deep nesting is an error with a position, never a stack overflow', () => {
  test('a list of 1,000,000 items (flow and block style) loads, and `in` matches it', () => {
    const n = 1_000_000;
    const items0 = Array.from({ length: n }, (_, i) => `h${i}`);
    for (const style of ['flow', 'block'] as const) {
      const items = style === 'flow' ? `[${items0.join(', ')}]` : '\n' + items0.map((x) => `    - ${x}`).join('\n');
      const t0 = performance.now();
      const set = policyFromYaml(`- list: big\n  items: ${items}\n- rule: r\n  condition: proc.name in (big)\n`);
      const ms = performance.now() - t0;
      assert.ok(ms < 30_000, `${style}: loaded in ${Math.round(ms)} ms`);
      assert.deepEqual(names(set, pe({ exe: `/usr/bin/h${n - 1}` })), ['r']);
      assert.deepEqual(names(set, pe({ exe: '/usr/bin/h-1' })), []);
    }
  });
  test('macros nested deeper than 500 levels name the file, position and chain', () => {
    const chain = Array.from({ length: 800 }, (_, i) => `- macro: m${i}\n  condition: m${i + 1} or proc.pid = ${i}\n`).join('');
    loadFails(`${chain}- macro: m800\n  condition: proc.name = a\n- rule: r\n  condition: m0\n`, /^macros nested deeper than 500 levels \(m0 → m1 → m2 → …\)$/, {
      line: 1000,
      col: 14,
      item: "macro 'm499'",
    });
  });
  test('parentheses and `not` nested 20,000 deep are errors at the place, not a crash', () => {
    loadFails(`- rule: r\n  condition: ${'('.repeat(20_000)}proc.name = a${')'.repeat(20_000)}\n`, /nested deeper than 500 levels/, { line: 2, item: "rule 'r'" });
    loadFails(`- rule: r\n  condition: ${'not '.repeat(50_000)}proc.name = a\n`, /nested deeper than 500 levels/, { line: 2, item: "rule 'r'" });
  });
});
