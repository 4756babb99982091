/**
 * docs/migration.md against what sfprocessor does: every item of sf-processor's shipped pipelines
 * and policies (test/fixtures/sfprocessor-upstream) has a row, and each row's status holds — a
 * refused driver, processor, handler, channel type, transport or format is an error naming the page,
 * refused attributes are warned about naming it, flags behave as their rows say, and every field
 * compiles to the status of its row.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { loadPolicySet } from '../../core/policy/policyset.js';
import { lookupField } from '../../core/policy/field-lookup.js';
import { UnsupportedField } from '../../core/policy/errors.js';
import { initHashing } from '../../core/util/xxh.js';
import { FIXTURES, ROOT } from '../helpers/corpus.js';

const CLI = join(ROOT, 'dist', 'core', 'cli', 'sfprocessor.js');
const UPSTREAM = join(FIXTURES, 'sfprocessor-upstream');
const PIPELINES = join(UPSTREAM, 'pipelines');
const POLICY = join(UPSTREAM, 'distribution', 'filter.yaml');
const DOC = 'docs/migration.md';
const TMP = mkdtempSync(join(tmpdir(), 'sfp-migration-'));

/** sf-processor 0.7's command-line flags (driver/main.go). */
const UPSTREAM_FLAGS = ['driver', 'config', 'log', 'perflog', 'driverdir', 'plugdir', 'test', 'version', 'cpuprofile', 'memprofile', 'traceprofile', 'help'];

type Status = 'same' | 'mapped' | 'approximated' | 'refused';
const STATUSES: readonly string[] = ['same', 'mapped', 'approximated', 'refused'];

const notes = new Map<string, string>(); // `${section}/${item}` → the row's note

/** The page's tables: section heading → item → status (every backticked name of a row's first cell). */
function readDoc(): Map<string, Map<string, Status>> {
  const sections = new Map<string, Map<string, Status>>();
  let heading = '';
  for (const line of readFileSync(join(ROOT, DOC), 'utf8').split('\n')) {
    const h = /^#{2,3} (.+)$/.exec(line);
    if (h) {
      heading = h[1]!.replaceAll('`', '');
      continue;
    }
    const row = /^\| (.+?) \| (\w+) \|(.*)\|$/.exec(line);
    if (!row || row[2] === 'status' || !heading) continue;
    assert.ok(STATUSES.includes(row[2]!), `${DOC}, ${heading}: status '${row[2]}' of ${row[1]}`);
    const items = [...row[1]!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const table = sections.get(heading) ?? new Map<string, Status>();
    for (const item of items.length ? items : [row[1]!]) {
      table.set(item, row[2] as Status);
      notes.set(`${heading}/${item}`, row[3]!.trim());
    }
    sections.set(heading, table);
  }
  return sections;
}

const doc = readDoc();
function section(name: string): Map<string, Status> {
  const s = doc.get(name);
  assert.ok(s, `${DOC} has a section '${name}' (has: ${[...doc.keys()].join(', ')})`);
  return s;
}
function statusOf(sectionName: string, item: string): Status {
  const s = section(sectionName).get(item);
  assert.ok(s, `${DOC}, section '${sectionName}', has a row for '${item}'`);
  return s;
}

interface Upstream {
  file: string;
  raw: Record<string, unknown>;
}
const upstreamConfigs: Upstream[] = readdirSync(PIPELINES)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: join(PIPELINES, f), raw: JSON.parse(readFileSync(join(PIPELINES, f), 'utf8')) as Record<string, unknown> }));

const entries = (u: Upstream) => (u.raw.pipeline as Record<string, unknown>[]) ?? [];
const drivers = (u: Upstream) => (u.raw.drivers as Record<string, unknown>[] | undefined) ?? [];
/** The template documents values as `a|b|c (default: a)`. */
const values = (v: unknown): string[] =>
  String(v)
    .replace(/\s*\(.*$/, '')
    .split('|')
    .map((s) => s.trim())
    .filter(Boolean);
const channelType = (spec: unknown): string[] => (Array.isArray(spec) ? spec : [spec]).map((s) => String(s).trim().split(/\s+/)[1]!);

function sfprocessor(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: TMP, env: { PATH: process.env.PATH ?? '', POLICYENGINE_POLICIES: POLICY, ...env }, timeout: 60_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test(`${DOC}: every status is one of ${STATUSES.join(', ')}, and the sections exist`, () => {
  for (const s of [
    'Command line',
    'Pipeline file',
    'Processors and handlers',
    'Channel types',
    'Drivers',
    'sysflowreader',
    'policyengine',
    'exporter',
    "Drivers' attributes",
    'Exporters',
    'Formats',
    'Policy language',
    'Fields',
  ])
    section(s);
});

test("every item of sf-processor's shipped pipelines has a row", () => {
  assert.ok(upstreamConfigs.length >= 9, `${upstreamConfigs.length} upstream pipelines`);
  for (const u of upstreamConfigs) {
    const where = relative(ROOT, u.file);
    for (const k of Object.keys(u.raw)) if (k !== 'pipeline' && k !== 'drivers') statusOf('Pipeline file', k);
    for (const e of entries(u)) {
      const processor = String(e.processor);
      statusOf('Processors and handlers', processor);
      for (const t of [...channelType(e.in), ...(e.out === undefined ? [] : channelType(e.out))]) statusOf('Channel types', t);
      if (e.handler !== undefined) statusOf('Processors and handlers', String(e.handler));
      if (processor === 'exporter') {
        for (const x of values(e.export ?? 'terminal')) statusOf('Exporters', x);
        for (const x of values(e.format ?? 'json')) statusOf('Formats', x);
      }
      for (const k of Object.keys(e)) {
        if (['processor', 'in', 'out'].includes(k)) continue;
        const rows = section(processor);
        assert.ok(rows.has(k) || rows.has(`${k.split('.')[0]}.*`), `${where}: ${processor} attribute '${k}' has a row in ${DOC}`);
      }
    }
    for (const d of drivers(u)) {
      statusOf('Drivers', String(d.driver));
      for (const k of Object.keys(d)) if (k !== 'driver' && k !== 'out' && !String(d.driver).startsWith('otel')) statusOf("Drivers' attributes", k);
      if (d.out !== undefined) for (const t of channelType(d.out)) statusOf('Channel types', t);
    }
  }
});

test("sf-processor's flags: accepted as their rows say; the refused one is a usage error naming the page", () => {
  const help = sfprocessor(['-help']);
  assert.equal(help.code, 0);
  for (const f of UPSTREAM_FLAGS) {
    const status = statusOf('Command line', `-${f}`);
    assert.match(help.stdout, new RegExp(`-${f}\\b`), `-help lists -${f}`);
    if (status === 'refused') {
      const r = sfprocessor([`-${f}`, 'x', '-config', join(PIPELINES, 'pipeline.terminal.json'), 'in.sf']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^sfprocessor: error: -${f}: .*\\(see docs/migration\\.md\\)$`, 'm'));
    }
  }
  // the mapped profiling flags write what they say
  const trace = join(FIXTURES, 'traces', 'sf-processor', 'tcp.sf');
  const cpu = join(TMP, 'run.cpuprofile');
  const mem = join(TMP, 'run.heapsnapshot');
  const r = sfprocessor(['-perflog', '-cpuprofile', cpu, '-memprofile', mem, '-config', join(PIPELINES, 'pipeline.terminal.json'), trace]);
  assert.equal(r.code, 0, r.stderr);
  const profile = JSON.parse(readFileSync(cpu, 'utf8')) as { nodes: unknown[]; startTime: number; endTime: number };
  assert.ok(profile.nodes.length > 10 && profile.endTime > profile.startTime, 'a V8 CPU profile');
  assert.ok((JSON.parse(readFileSync(mem, 'utf8')) as { snapshot: { node_count: number } }).snapshot.node_count > 1000, 'a V8 heap snapshot');
  assert.match(r.stderr, /^sfprocessor: 0\/1 file, [\d.]+ kB of [\d.]+ kB \(\d+%\), \d+ records, [\d,]+ records\/s, \d+ alerts?$/m, '-perflog: the plain progress line');
  const bad = sfprocessor(['-cpuprofile', join(TMP, 'no', 'such', 'dir', 'x'), '-config', join(PIPELINES, 'pipeline.terminal.json'), trace]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^sfprocessor: error: -cpuprofile .*no\/such\/dir\/x: cannot write: ENOENT$/m);
});

test('refused drivers, processors, handlers, channel types, transports and formats are errors naming the page', () => {
  const base = () => [
    { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: POLICY },
    { processor: 'exporter', in: 'evt eventchan', export: 'terminal', format: 'json' },
  ];
  const cases: [string, string, unknown][] = [];
  for (const [name, s] of section('Drivers')) if (s === 'refused') cases.push(['Drivers', name, { pipeline: base(), drivers: [{ driver: name, out: 'sysflow sysflowchan' }] }]);
  for (const [name, s] of section('Processors and handlers')) {
    if (s !== 'refused') continue;
    const p = base();
    p[0] = { ...p[0]!, processor: name };
    cases.push(['Processors and handlers', name, { pipeline: p }]);
  }
  for (const [name, s] of section('Channel types')) {
    if (s !== 'refused') continue;
    const p = base();
    p[2] = { ...p[2]!, in: `x ${name}` };
    cases.push(['Channel types', name, { pipeline: p }]);
  }
  for (const [name, s] of section('Exporters')) if (s === 'refused') cases.push(['Exporters', name, { pipeline: base().map((e, i) => (i === 2 ? { ...e, export: name } : e)) }]);
  for (const [name, s] of section('Formats')) if (s === 'refused') cases.push(['Formats', name, { pipeline: base().map((e, i) => (i === 2 ? { ...e, format: name } : e)) }]);
  // a handler that exists only as sf-processor's Go plugin
  cases.push(['Processors and handlers', 'printer', { pipeline: base().map((e, i) => (i === 0 ? { ...e, handler: 'printer' } : e)) }]);
  assert.ok(cases.length >= 9, `${cases.length} cases`);
  for (const [where, name, config] of cases) {
    const file = join(TMP, `refused-${name}.json`);
    writeFileSync(file, JSON.stringify(config));
    const r = sfprocessor(['-test', '-config', file]);
    assert.equal(r.code, 1, `${where} '${name}': ${r.stderr}`);
    const err = r.stderr.split('\n').filter((l) => l.startsWith('sfprocessor: error: '));
    assert.equal(err.length, 1, r.stderr);
    assert.ok(err[0]!.includes(`'${name}'`) && err[0]!.includes('see docs/migration.md'), `${where} '${name}': ${err[0]}`);
  }
});

test('attributes: refused ones are warned about naming the page; the others are read (or ignored where the row says so)', () => {
  const base = (): Record<string, unknown>[] => [
    { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: POLICY },
    { processor: 'exporter', in: 'evt eventchan', export: 'terminal', format: 'json' },
  ];
  let n = 0;
  for (const [i, processor] of ['sysflowreader', 'policyengine', 'exporter'].entries()) {
    for (const [attr, status] of section(processor)) {
      const key = attr.endsWith('.*') ? `${attr.slice(0, -1)}x` : attr;
      const p = base();
      // the value need not be valid: warnings about unread attributes come before any plugin is made
      if (!(key in p[i]!)) p[i]![key] = 'x';
      const file = join(TMP, `attr-${processor}-${key}.json`);
      writeFileSync(file, JSON.stringify({ pipeline: p }));
      const r = sfprocessor(['-test', '-config', file]);
      const warning = r.stderr.split('\n').find((l) => l.startsWith('sfprocessor: warn: ') && l.includes(`'${key}'`));
      const note = notes.get(`${processor}/${attr}`) ?? '';
      if (status === 'refused') assert.ok(warning?.includes('see docs/migration.md'), `${processor} '${key}' (refused): ${r.stderr}`);
      else if (/ignored with a warning/.test(note)) assert.ok(warning?.includes('see docs/migration.md'), `${processor} '${key}' (ignored, says the row): ${r.stderr}`);
      else assert.equal(warning, undefined, `${processor} '${key}' (${status}) is read`);
      n++;
    }
  }
  assert.ok(n > 40, `${n} attributes`);
});

test('drivers, processors, handlers, transports and formats that are not refused exist', () => {
  const check = (where: string, name: string, config: unknown, extra: string[] = []) => {
    const file = join(TMP, `exists-${name}.json`);
    writeFileSync(file, JSON.stringify(config));
    const r = sfprocessor(['-test', ...extra, '-config', file]);
    assert.doesNotMatch(r.stderr, new RegExp(`unknown (driver|processor|handler|transport|encoder) '${name}'`), `${where} '${name}'`);
  };
  const base = () => [
    { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', policies: POLICY },
    { processor: 'exporter', in: 'evt eventchan', export: 'terminal', format: 'json' },
  ];
  for (const [name, s] of section('Drivers')) if (s !== 'refused') check('Drivers', name, { pipeline: base(), drivers: [{ driver: name, out: 'sysflow sysflowchan' }] });
  for (const [name, s] of section('Exporters')) if (s !== 'refused') check('Exporters', name, { pipeline: base().map((e, i) => (i === 2 ? { ...e, export: name } : e)) });
  for (const [name, s] of section('Formats')) if (s !== 'refused') check('Formats', name, { pipeline: base().map((e, i) => (i === 2 ? { ...e, format: name } : e)) });
  for (const [name, s] of section('Processors and handlers')) {
    if (s === 'refused') continue;
    const plug = name === 'printer' ? ['-plugdir', join(ROOT, 'dist', 'examples', 'plugins', 'printer')] : [];
    const config = ['sysflowreader', 'policyengine', 'exporter'].includes(name) ? { pipeline: base() } : { pipeline: base().map((e, i) => (i === 0 ? { ...e, handler: name } : e)) };
    check('Processors and handlers', name, config, plug);
  }
});

test("sf-processor's shipped pipelines under -test: what the page says, and refused settings warned about naming it", () => {
  for (const u of upstreamConfigs) {
    const name = relative(PIPELINES, u.file);
    // the printer handler is mapped to the JS plugin, loaded as its row says
    const plug = entries(u).some((e) => e.handler === 'printer') ? ['-plugdir', join(ROOT, 'dist', 'examples', 'plugins', 'printer')] : [];
    const r = sfprocessor(['-test', ...plug, '-config', u.file]);
    const err = r.stderr.split('\n').filter((l) => l.startsWith('sfprocessor: error: '));
    const refusedValue = [
      ...drivers(u).map((d) => ['Drivers', String(d.driver)]),
      ...entries(u).flatMap((e) => [
        ['Processors and handlers', String(e.processor)],
        ...(e.handler !== undefined ? [['Processors and handlers', String(e.handler)]] : []),
        ...(e.processor === 'exporter'
          ? [
              ['Exporters', String(e.export ?? 'terminal')],
              ['Formats', String(e.format ?? 'json')],
            ]
          : []),
      ]),
    ].filter(([s, v]) => section(s!).get(v!) === 'refused');
    if (name === 'pipeline.template.json') {
      // its values are descriptions ("alert|enrich (default: enrich)"), not settings: it documents keys
      assert.equal(r.code, 1);
      assert.match(err[0] ?? '', /attribute 'mode': must be one of alert, enrich, got '/);
      continue;
    }
    if (refusedValue.length) {
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.ok(err.length === 1 && err[0]!.includes('see docs/migration.md') && refusedValue.some(([, v]) => err[0]!.includes(`'${v}'`)), `${name}: ${err.join(' | ')}`);
      continue;
    }
    // the rest load; refused attributes are named in a warning that points to the page
    const used = entries(u).flatMap((e) => Object.keys(e).map((k) => [String(e.processor), k] as const));
    for (const [processor, k] of used) {
      const rows = section(processor);
      const s = rows.get(k) ?? rows.get(`${k.split('.')[0]}.*`);
      const warned = r.stderr.split('\n').some((l) => l.startsWith('sfprocessor: warn: ') && l.includes(`'${k}'`) && l.includes('see docs/migration.md'));
      if (s === 'refused') assert.ok(warned, `${name}: refused '${k}' is warned about naming the page: ${r.stderr}`);
    }
    if (name === 'pipeline.findings.json') {
      // export es with the template's placeholders as values, and without es.addresses (the findings keys were its settings)
      assert.equal(r.code, 1);
      assert.match(err[0] ?? '', /attribute 'vault\.secrets': must be true or false, got 'true\|false \(set to true if using vaults\)'/);
      continue;
    }
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`${name.replace('.', '\\.')}: valid`));
  }
});

test("every policy construct of sf-processor's shipped policies has a row", () => {
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.yaml') ? [join(dir, d.name)] : []));
  const kinds = new Set<string>();
  const keys = new Set<string>();
  for (const f of files(UPSTREAM)) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/^ *- *([a-z_]+):/gm)) kinds.add(m[1]!);
    for (const m of text.matchAll(/^[ \t]+([a-z_-]+):/gm)) keys.add(m[1]!);
  }
  assert.ok(kinds.has('rule') && kinds.has('macro') && kinds.has('list') && kinds.has('filter'));
  for (const k of [...kinds, ...keys]) {
    const s = section('Policy language').get(k);
    assert.ok(s, `${DOC}, Policy language, has a row for '${k}'`);
    assert.notEqual(s, 'refused', `sf-processor's own '${k}' loads`);
  }
});

test("every field row compiles to its status; every field sf-processor's policies use has a row", async () => {
  await initHashing();
  const rows = section('Fields');
  assert.ok(rows.size > 150, `${rows.size} field rows`);
  const names = [...rows.keys()];
  const file = join(TMP, 'fields.yaml');
  writeFileSync(file, names.map((f, i) => `- rule: r${i}\n  desc: ${f}\n  condition: ${f} exists\n  output: o\n  priority: low\n`).join('\n'));
  const set = loadPolicySet(file);
  const want: Record<Status, string> = { same: 'supported', mapped: 'supported', approximated: 'approximated', refused: 'unsupported' };
  const wrong: string[] = [];
  for (const [i, f] of names.entries()) {
    const got = set.report.find((r) => r.name === `r${i}`)?.status;
    if (got !== want[rows.get(f)!]) wrong.push(`${f}: ${DOC} says ${rows.get(f)}, the compiler says ${got}`);
  }
  assert.deepEqual(wrong, []);
  // sf.* names in sf-processor's policies: a row each, unless the compiler knows no such field (their typos)
  const used = new Set<string>();
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.yaml') ? [join(dir, d.name)] : []));
  for (const f of walk(UPSTREAM)) for (const m of readFileSync(f, 'utf8').matchAll(/\bsf\.[a-z]+(?:\.[a-z_]+)+/g)) used.add(m[0]);
  assert.ok(used.size > 30, `${used.size} sf.* names used`);
  for (const f of used) {
    let known = true;
    try {
      lookupField(f, null);
    } catch (e) {
      known = e instanceof UnsupportedField;
    }
    if (known) assert.ok(rows.has(f), `${DOC}, Fields, has a row for '${f}' (used by sf-processor's policies)`);
  }
});
