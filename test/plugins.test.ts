/**
 * Run-time plugins, loaded the way a user loads them: the compiled examples (dist/examples/plugins) copied
 * into a fresh -plugdir, and hand-written plugin modules, run through the real CLI. What each
 * example does is checked against upstream's documented output or against the built-in path;
 * broken plugins must give one error line naming the file.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT } from './helpers/corpus.js';
import { ENRICH_TO_MEMORY, runPipeline } from './helpers/run-pipeline.js';
import { cli, cliAsync, configFile, examplePlugdir, lines, removeTemp, tempDir, webhookEndpoint, writeFiles, type CliResult } from './helpers/plugin-cli.js';

after(removeTemp);

const TCP = join(FIXTURES, 'traces', 'sf-processor', 'tcp.sf');
const K8S = join(FIXTURES, 'traces', 'sf-processor', 'k8s_small.sf');

const READER = { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' };
const ENRICH = { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich' };
/** A valid pipeline that uses no plugin (load errors come before the graph is checked). */
const BASIC = [READER, ENRICH, { processor: 'exporter', in: 'evt eventchan', export: 'null' }];

/** The single error line of a failed run. */
function oneError(r: CliResult): string {
  assert.equal(r.status, 1, `exit status (stderr: ${r.stderr})`);
  const l = lines(r.stderr);
  assert.equal(l.length, 1, `one error line, got: ${r.stderr}`);
  assert.match(l[0]!, /^sfprocessor: error: /);
  return l[0]!.slice('sfprocessor: error: '.length);
}

interface JsonRecord {
  type: string;
  opflags: string[];
  proc?: { exe: string; tid: number };
  policies?: { id: string; desc: string; priority: number }[];
  tags?: string[];
}

const parse = (text: string) => lines(text).map((l) => JSON.parse(l) as JsonRecord);

// ---------------------------------------------------------------------------------------------
// Examples

test("summary: prints process events like upstream's example processor, then the report", () => {
  const r = cli(['-plugdir', examplePlugdir('summary'), '-config', 'examples/plugins/summary/pipeline.json', '-log', 'warn', TCP]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  // upstream docs/PLUGINS.md: the example plugin on tcp.sf (compat §7.3.1)
  assert.equal(
    r.stdout,
    [
      'Process Event: ./server, 13823',
      'Process Event: ./client, 13824',
      'Process Event: ./client, 13824',
      'Process Event: ./server, 13823',
      'summary: 10 records (4 FF, 4 PE, 2 NF)',
      'top processes:',
      '         5  ./client',
      '         5  ./server',
      '',
    ].join('\n'),
  );
});

test('summary: passes records on unchanged; its JSON report agrees with what was exported; env override of a typed setting', () => {
  const dir = tempDir('summary');
  const report = join(dir, 'report.json');
  const out = join(dir, 'out.json');
  const cfg = configFile([
    READER,
    ENRICH,
    { processor: 'summary', in: 'evt eventchan', out: 'evt2 eventchan', format: 'json', path: report },
    { processor: 'exporter', in: 'evt2 eventchan', export: 'file', 'file.path': out },
  ]);
  const r = cli(['-plugdir', examplePlugdir('summary'), '-config', cfg, '-log', 'warn', K8S], { SUMMARY_TOP: '3' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '', 'the report went to summary.path');
  const exported = parse(readFileSync(out, 'utf8'));
  assert.equal(exported.length, 5247);
  const types = new Map<string, number>();
  const procs = new Map<string, number>();
  for (const rec of exported) {
    types.set(rec.type, (types.get(rec.type) ?? 0) + 1);
    if (rec.proc?.exe) procs.set(rec.proc.exe, (procs.get(rec.proc.exe) ?? 0) + 1);
  }
  const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const got = JSON.parse(readFileSync(report, 'utf8')) as { records: number; types: Record<string, number>; processes: { exe: string; records: number }[]; rules: unknown[] };
  assert.equal(got.records, 5247);
  assert.deepEqual(got.types, Object.fromEntries(ranked(types)));
  assert.deepEqual(
    got.processes,
    ranked(procs)
      .slice(0, 3)
      .map(([exe, n]) => ({ exe, records: n })),
    'SUMMARY_TOP=3 → the top 3',
  );
  assert.deepEqual(got.rules, []);
});

test('summary: bad settings fail before data flows, naming the entry and the attribute (run and -test)', () => {
  const plugdir = examplePlugdir('summary');
  const cases: [Record<string, unknown>, string][] = [
    [{ top: 'abc' }, "attribute 'top': must be a whole number of at least 1, got 'abc'"],
    [{ top: 0 }, "attribute 'top': must be a whole number of at least 1, got '0'"],
    [{ print: 'all' }, "attribute 'print': must be one of none, pe, got 'all'"],
    [{ tpo: 3 }, "unknown attribute 'tpo' (known: top, print, format, path)"],
  ];
  for (const [attrs, msg] of cases) {
    const cfg = configFile([READER, ENRICH, { processor: 'summary', in: 'evt eventchan', ...attrs }]);
    for (const args of [['-test'], [TCP]]) {
      const r = cli(['-plugdir', plugdir, '-config', cfg, '-log', 'warn', ...args]);
      assert.equal(oneError(r), `${cfg}: plugin #2 (summary): ${msg}`);
      assert.equal(r.stdout, '', 'no record was processed');
    }
  }
});

test("printer: prints what upstream's printer handler prints for tcp.sf", () => {
  const r = cli(['-plugdir', examplePlugdir('printer'), '-config', 'examples/plugins/printer/pipeline.json', '-log', 'warn', TCP]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  // upstream plugins/handlers/printer/README.md (without the log prefixes)
  assert.deepEqual(lines(r.stdout), [
    'ProcEvt ./server, 13823',
    'FileFlow ./server, 3',
    'FileFlow ./server, 3',
    'ProcEvt ./client, 13824',
    'FileFlow ./client, 3',
    'FileFlow ./client, 3',
    'NetworkFlow ./client, 8080',
    'ProcEvt ./client, 13824',
    'NetworkFlow ./server, 8080',
    'ProcEvt ./server, 13823',
  ]);
});

test("printer: the records it passes on are exactly the built-in flattener's", () => {
  const dir = tempDir('printer');
  const plugdir = examplePlugdir('printer');
  const run = (handler: string, out: string, extra: object = {}) => {
    const cfg = configFile([{ ...READER, handler, ...extra }, ENRICH, { processor: 'exporter', in: 'evt eventchan', export: 'file', 'file.path': out }]);
    const r = cli(['-plugdir', plugdir, '-config', cfg, '-log', 'warn', K8S]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '');
  };
  const printed = join(dir, 'printed.txt');
  run('printer', join(dir, 'printer.json'), { 'printer.path': printed });
  run('flattener', join(dir, 'flattener.json'));
  const viaPrinter = readFileSync(join(dir, 'printer.json'), 'utf8');
  assert.equal(viaPrinter, readFileSync(join(dir, 'flattener.json'), 'utf8'));
  // one printed line per record that has a process (K8s events have none)
  const withProcess = parse(viaPrinter).filter((r) => r.type !== 'KE');
  assert.ok(withProcess.length > 1000);
  const printedLines = lines(readFileSync(printed, 'utf8'));
  assert.equal(printedLines.length, withProcess.length);
  const label: Record<string, string> = { PE: 'ProcEvt', NF: 'NetworkFlow', FF: 'FileFlow', FE: 'FileEvt', NE: 'NetEvt', PF: 'ProcFlow' };
  for (const [i, rec] of withProcess.entries()) assert.ok(printedLines[i]!.startsWith(`${label[rec.type]} ${rec.proc?.exe ?? ''}, `), `line ${i + 1}: ${printedLines[i]}`);
});

test('now: a rule with actions [now] tags the records it matches, and only those', () => {
  const before = BigInt(Date.now()) * 1_000_000n;
  const r = cli(['-plugdir', examplePlugdir('now'), '-config', 'examples/plugins/now/pipeline.json', '-log', 'warn', TCP]);
  const after = BigInt(Date.now()) * 1_000_000n + 1_000_000n;
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const recs = parse(r.stdout);
  assert.equal(recs.length, 10, 'enrich mode: every record');
  const tagged = recs.filter((x) => x.tags);
  assert.deepEqual(
    tagged.map((x) => [x.type, x.proc?.exe]),
    [
      ['PE', './server'],
      ['PE', './client'],
    ],
  );
  for (const x of recs) assert.equal(x.tags !== undefined, x.opflags.includes('EXEC'), `tagged iff EXEC: ${JSON.stringify(x.opflags)}`);
  for (const x of tagged) {
    assert.equal(x.tags!.length, 1);
    const m = /^now_in_nanos:(\d+)$/.exec(x.tags![0]!);
    assert.ok(m, x.tags![0]);
    const ns = BigInt(m![1]!);
    assert.ok(ns >= before && ns <= after, `the time of the run in ns: ${ns} in [${before}, ${after}]`);
    assert.deepEqual(x.policies, [{ id: 'Action example', desc: 'user-defined action example', priority: 1 }], 'as upstream, the rule is reported too');
  }
});

test("now: in alert mode the records carry the rule and the tag (upstream's example output), with [now] as with [alert, now]; now.tag renames the tag", () => {
  let policy = '';
  for (const actions of ['[now]', '[alert, now]']) {
    const dir = tempDir('now');
    policy = writeFiles(dir, {
      'policy.yaml': `- rule: Action example\n  desc: user-defined action example\n  condition: sf.opflags = EXEC\n  actions: ${actions}\n`,
    });
    const cfg = configFile([
      READER,
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'alert', policies: join(policy, 'policy.yaml'), 'now.tag': 'exec_seen' },
      { processor: 'exporter', in: 'evt eventchan', export: 'terminal' },
    ]);
    const r = cli(['-plugdir', examplePlugdir('now'), '-config', cfg, '-log', 'warn', TCP]);
    assert.equal(r.status, 0, r.stderr);
    const recs = parse(r.stdout);
    assert.deepEqual(
      recs.map((x) => x.proc?.exe),
      ['./server', './client'],
      actions,
    );
    for (const x of recs) {
      assert.deepEqual(x.policies, [{ id: 'Action example', desc: 'user-defined action example', priority: 1 }], actions);
      assert.equal(x.tags?.length, 1);
      assert.match(x.tags![0]!, /^exec_seen:\d{19}$/);
    }
  }
  // an invalid setting of the action is the policy engine entry's error
  const bad = configFile([READER, { ...ENRICH, policies: join(policy, 'policy.yaml'), 'now.tag': 'a:b' }, BASIC[2]!]);
  assert.equal(
    oneError(cli(['-plugdir', examplePlugdir('now'), '-config', bad, '-log', 'warn', '-test'])),
    `${bad}: plugin #1 (policyengine): attribute 'now.tag': must match pattern "^[^:]+$", got 'a:b'`,
  );
});

test('now: without the plugin the action is unknown (a warning) and nothing is tagged', () => {
  const r = cli(['-config', 'examples/plugins/now/pipeline.json', '-log', 'warn', TCP]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /rule 'Action example': unknown action 'now' ignored/);
  const recs = parse(r.stdout);
  assert.equal(recs.length, 10);
  assert.ok(recs.every((x) => x.tags === undefined));
});

test('webhook: every record arrives exactly once and in order, despite refused requests and a dropped connection', async () => {
  const faults = new Map<number, 503 | 500 | 429 | 'drop'>([
    [1, 503],
    [2, 503],
    [3, 503],
    [8, 500],
    [12, 'drop'],
    [15, 429],
  ]);
  const hook = await webhookEndpoint((n) => faults.get(n) ?? 200);
  try {
    const r = await cliAsync(['-plugdir', examplePlugdir('webhook'), '-config', 'examples/plugins/webhook/pipeline.json', K8S], {
      EXPORTER_WEBHOOK_URL: hook.url,
      EXPORTER_WEBHOOK_TOKEN: 's3cret',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      hook.refused.map((x) => [x.n, x.reply]),
      [...faults],
    );
    assert.match(r.stderr, /webhook http:\/\/127\.0\.0\.1:\d+\/hook: POST answered HTTP 503 Service Unavailable; retrying with backoff/);
    assert.match(r.stderr, /POST failed: .*; retrying with backoff/, 'the dropped connection is retried too');
    assert.doesNotMatch(r.stderr, /s3cret/, 'the token is not logged');
    const got: unknown[] = [];
    for (const req of hook.accepted) {
      assert.equal(req.headers['content-type'], 'application/json');
      assert.equal(req.headers.authorization, 'Bearer s3cret');
      const batch = JSON.parse(req.body) as unknown[];
      assert.ok(batch.length >= 1 && batch.length <= 100, `batch of ${batch.length} (webhook.batch 100)`);
      got.push(...batch);
    }
    const want = lines((await runPipeline(K8S, ENRICH_TO_MEMORY)).text).map((l) => JSON.parse(l) as unknown);
    assert.equal(got.length, want.length, 'as many records as the built-in JSON export');
    assert.deepEqual(got, want, 'the same records, in the same order: none lost, none twice');
    assert.match(r.stderr, new RegExp(`sent=${want.length} retried=\\d+ resent=0 queued=0 spooled=0 failed=0`));
  } finally {
    await hook.close();
  }
});

test('webhook: records the endpoint refuses for good (4xx) are counted and logged, not retried', async () => {
  const hook = await webhookEndpoint(() => 400);
  try {
    const r = await cliAsync(['-plugdir', examplePlugdir('webhook'), '-config', 'examples/plugins/webhook/pipeline.json', TCP], { EXPORTER_WEBHOOK_URL: hook.url });
    assert.equal(r.status, 3, `refused for good: undelivered, exit code 3: ${r.stderr}`);
    assert.equal(hook.refused.length, 1, 'one batch of 10, sent once');
    assert.match(r.stderr, /record refused: HTTP 400 Bad Request/);
    assert.match(r.stderr, /sent=0 retried=0 resent=0 queued=0 spooled=0 failed=10/);
  } finally {
    await hook.close();
  }
});

test('webhook: -test checks the URL and the required setting', () => {
  const plugdir = examplePlugdir('webhook');
  const exp = (attrs: object) => configFile([READER, ENRICH, { processor: 'exporter', in: 'evt eventchan', export: 'webhook', ...attrs }]);
  let cfg = exp({ 'webhook.url': 'ftp://example.com/x' });
  assert.equal(
    oneError(cli(['-plugdir', plugdir, '-config', cfg, '-log', 'warn', '-test'])),
    `${cfg}: plugin #2 (exporter): ${join(plugdir, 'webhook.js')}: transport 'webhook': check() failed: attribute 'webhook.url': expected an http:// or https:// URL, got 'ftp://example.com/x'`,
  );
  cfg = exp({});
  assert.equal(oneError(cli(['-plugdir', plugdir, '-config', cfg, '-log', 'warn', '-test'])), `${cfg}: plugin #2 (exporter): missing attribute 'webhook.url' (endpoint URL (http:// or https://))`);
  cfg = exp({ 'webhook.url': 'https://example.com/x', 'webhook.batchsize': 5 });
  assert.match(
    oneError(cli(['-plugdir', plugdir, '-config', cfg, '-log', 'warn', '-test'])),
    /: unknown attribute 'webhook\.batchsize' \(known: webhook\.url, webhook\.method, webhook\.body, webhook\.batch, webhook\.timeout, webhook\.token\)$/,
  );
});

// ---------------------------------------------------------------------------------------------
// Loading

test('-test loads every example from one -plugdir, validates a pipeline using them all and lists them', () => {
  const plugdir = examplePlugdir('summary', 'printer', 'now', 'webhook');
  const cfg = configFile([
    { processor: 'sysflowreader', handler: 'printer', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich', policies: 'examples/plugins/now/policy.yaml' },
    { processor: 'summary', in: 'evt eventchan', out: 'evt2 eventchan' },
    { processor: 'exporter', in: 'evt2 eventchan', export: 'webhook', 'webhook.url': 'http://localhost:9/none' },
  ]);
  const r = cli(['-plugdir', plugdir, '-config', cfg, '-log', 'warn', '-test']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const out = lines(r.stdout);
  assert.deepEqual(
    out.filter((l) => l.startsWith('plugin ')),
    [
      `plugin action 'now' 1.0.0 from ${join(plugdir, 'now.js')}`,
      `plugin handler 'printer' 1.0.0 from ${join(plugdir, 'printer.js')}`,
      `plugin processor 'summary' 1.0.0 from ${join(plugdir, 'summary.js')}`,
      `plugin transport 'webhook' 1.0.0 from ${join(plugdir, 'webhook.js')}`,
    ],
  );
  assert.match(out[out.length - 1]!, /: valid — driver file; #0 sysflowreader\(printer\) sysflow → flat; #1 policyengine flat → evt; #2 summary evt → evt2; #3 exporter evt2 → ∅$/);
  assert.ok(
    out.some((l) => /supported\s+Action example/.test(l)),
    'the policy report of the engine that runs the action',
  );
});

const SYNTH_DRIVER = `
// a driver that makes up a process and a few exec events (no input file)
export default {
  kind: 'driver',
  name: 'synth',
  version: '0.1.0',
  config: { properties: { count: { type: 'integer', minimum: 1, default: 3 } } },
  check(path) {
    if (!path) throw new Error('give a name for the synthetic trace');
  },
  async run(path, ctx) {
    const oid = { createTS: 1000, createTSNs: 1000, hpid: 42 };
    const batch = [
      { sfType: 0, version: 5, exporter: 'synth', ip: '10.0.0.1', filename: path },
      { sfType: 2, state: 'CREATED', oid, poid: null, ts: 1000, tsNs: 1000, exe: '/bin/synth', exeArgs: '-x', uid: 0, userName: 'root',
        gid: 0, groupName: 'root', tty: false, containerId: null, entry: false, cwd: '/', env: [] },
    ];
    for (let i = 0; i < ctx.config.count; i++) batch.push({ sfType: 4, procOID: oid, ts: 2000 + i, tsNs: 2000 + i, tid: 100 + i, opFlags: 2, args: [], ret: 0 });
    ctx.log.info('pushing ' + batch.length + ' records');
    await ctx.push(batch);
  },
};
`;

const KINDS_MODULE = `
import { writeFileSync } from 'node:fs';
export default [
  { kind: 'channel', name: 'textchan', version: '1.0.0', element: 'one line of text' },
  {
    kind: 'encoder', name: 'csv', version: '1.0.0',
    config: { properties: { 'csv.fields': { type: 'string', default: 'sf.type,sf.proc.exe,sf.proc.tid' } } },
    create(ctx) {
      const get = ctx.config['csv.fields'].split(',').map((f) => ctx.field(f));
      return { encode: (r) => get.map((g) => String(g(r))).join(',') };
    },
  },
  {
    kind: 'processor', name: 'totext', version: '1.0.0', in: 'eventchan', out: 'textchan',
    create(ctx) {
      return { process(batch, emit) { emit(batch.map((r) => ctx.json(r))); } };
    },
  },
  {
    kind: 'processor', name: 'textsink', version: '1.0.0', in: 'textchan',
    config: { properties: { path: { type: 'string' } }, required: ['path'] },
    create(ctx) {
      const text = [];
      return { process(batch) { text.push(...batch); }, end() { writeFileSync(ctx.config.path, text.map((l) => l + '\\n').join('')); } };
    },
  },
];
`;

test('every kind: a driver from -driverdir; a channel type, an encoder and processors from one -plugdir module', () => {
  const driverdir = writeFiles(tempDir('driverdir'), { 'synth.js': SYNTH_DRIVER });
  const plugdir = writeFiles(tempDir('plugdir'), { 'kinds.js': KINDS_MODULE });
  const dir = tempDir('kinds');
  const [csv, text, json] = ['out.csv', 'out.txt', 'out.json'].map((f) => join(dir, f)) as [string, string, string];
  const cfg = configFile(
    [
      READER,
      { ...ENRICH, out: ['evt1 eventchan', 'evt2 eventchan', 'evt3 eventchan'] },
      { processor: 'exporter', in: 'evt1 eventchan', format: 'csv', export: 'file', 'file.path': csv },
      { processor: 'totext', in: 'evt2 eventchan', out: 'text textchan' },
      { processor: 'textsink', in: 'text textchan', path: text },
      { processor: 'exporter', in: 'evt3 eventchan', format: 'json', export: 'file', 'file.path': json },
    ],
    { drivers: [{ driver: 'synth', out: 'sysflow sysflowchan', count: 4 }] },
  );
  const t = cli(['-driverdir', driverdir, '-plugdir', plugdir, '-config', cfg, '-log', 'warn', '-test', 'synthetic-trace']);
  assert.equal(t.status, 0, t.stderr);
  assert.match(t.stdout, /valid — driver synth;/);
  const r = cli(['-driverdir', driverdir, '-plugdir', plugdir, '-config', cfg, 'synthetic-trace']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /loaded driver 'synth' 0\.1\.0 from .*synth\.js/);
  assert.match(r.stderr, /pushing 6 records/);
  assert.equal(readFileSync(csv, 'utf8'), 'PE,/bin/synth,100\nPE,/bin/synth,101\nPE,/bin/synth,102\nPE,/bin/synth,103\n');
  assert.equal(readFileSync(text, 'utf8'), readFileSync(json, 'utf8'), 'ctx.json() is the built-in json format');
  assert.equal(parse(readFileSync(json, 'utf8')).length, 4);
  // a driver setting of the wrong type is an error of the drivers entry, found by -test
  const bad = configFile([READER, ENRICH, BASIC[2]!], { drivers: [{ driver: 'synth', count: 'many' }] });
  assert.equal(oneError(cli(['-driverdir', driverdir, '-config', bad, '-log', 'warn', '-test', 'x'])), "driver 'synth': attribute 'count': must be a whole number of at least 1, got 'many'");
  // the plugin driver's own check: the CLI path is required here
  assert.equal(
    oneError(cli(['-driverdir', driverdir, '-config', cfg, '-plugdir', plugdir, '-log', 'warn', '-test'])),
    `${join(driverdir, 'synth.js')}: driver 'synth': check() failed: give a name for the synthetic trace`,
  );
  // and in a run: a plugin driver decides itself whether it needs a PATH (not the CLI's usage text)
  assert.equal(
    oneError(cli(['-driverdir', driverdir, '-config', cfg, '-plugdir', plugdir, '-log', 'warn'])),
    `${join(driverdir, 'synth.js')}: driver 'synth': check() failed: give a name for the synthetic trace`,
  );
});

test('directory rules: *.js and *.mjs directly in the directory, in name order; other files and subdirectories are not loaded', () => {
  const plugdir = writeFiles(tempDir('plugdir'), {
    'b.mjs': "export default { kind: 'processor', name: 'bee', version: '1.0.0', in: 'eventchan', create: () => ({ process() {} }) };",
    // a.js keeps a helper in a subdirectory: the helper has no default export and is not loaded itself
    'a.js': "import { NAME } from './lib/name.js';\nexport default { kind: 'processor', name: NAME, version: '2.1.0-rc.1', in: 'eventchan', create: () => ({ process() {} }) };",
    'lib/name.js': "export const NAME = 'ay';",
    'README.md': '# not a plugin',
    'a.d.ts': 'export {};',
    'a.js.map': '{}',
    'c.cjs': 'module.exports = 42;',
    'dir.js/index.js': 'throw new Error("never loaded");',
  });
  const r = cli(['-plugdir', plugdir, '-config', configFile(BASIC), '-log', 'warn', '-test']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    lines(r.stdout).filter((l) => l.startsWith('plugin ')),
    [`plugin processor 'ay' 2.1.0-rc.1 from ${join(plugdir, 'a.js')}`, `plugin processor 'bee' 1.0.0 from ${join(plugdir, 'b.mjs')}`],
  );
  const dbg = cli(['-plugdir', plugdir, '-config', configFile(BASIC), '-log', 'debug', '-test']);
  assert.match(dbg.stderr, /'README\.md' is not a plugin module \(\*\.js, \*\.mjs\); not loaded/);
  assert.match(dbg.stderr, /'lib' is not a plugin module/);
});

/** Broken plugin modules and the one line each must give (%F: the module's path). */
const BROKEN: [string, Record<string, string>, string | RegExp][] = [
  ['no default export', { 'p.js': "export const plugin = { kind: 'processor' };" }, '%F: no default export (export default a plugin descriptor or an array of them; found only named exports: plugin)'],
  ['not an object', { 'p.js': 'export default 42;' }, '%F: expected a plugin descriptor object ({ kind, name, version, … }), got number 42'],
  ['a factory instead of a descriptor', { 'p.js': 'export default function create() {}' }, '%F: expected a plugin descriptor object ({ kind, name, version, … }), got a function'],
  ['empty array', { 'p.js': 'export default [];' }, '%F: the default export is an empty array (expected plugin descriptors)'],
  [
    'unknown kind',
    { 'p.js': "export default { kind: 'filter', name: 'x', version: '1.0.0' };" },
    "%F: field 'kind' must be one of processor, handler, channel, driver, encoder, transport, action (got 'filter')",
  ],
  [
    'bad name',
    { 'p.js': "export default { kind: 'processor', name: 'my plugin', version: '1.0.0' };" },
    "%F: field 'name' must be letters, digits, '_', '.' or '-', starting with a letter (got 'my plugin')",
  ],
  [
    'bad version',
    { 'p.js': "export default { kind: 'processor', name: 'p', version: 1, in: 'eventchan', create() {} };" },
    "%F: processor 'p': field 'version' must be a semantic version such as 1.0.0 (got number 1)",
  ],
  ['missing factory', { 'p.js': "export default { kind: 'processor', name: 'p', version: '1.0.0', in: 'eventchan' };" }, "%F: processor 'p': missing field 'create' (a function)"],
  ['wrong field type', { 'p.js': "export default { kind: 'processor', name: 'p', version: '1.0.0', in: 5, create() {} };" }, "%F: processor 'p': field 'in' must be a string (got number 5)"],
  [
    'unknown field (typo)',
    { 'p.js': "export default { kind: 'action', name: 'p', version: '1.0.0', create() {}, confg: {} };" },
    "%F: action 'p': unknown field 'confg' for an action (fields: kind, name, version, description, api, create, config)",
  ],
  [
    'array item',
    { 'p.js': "export default [{ kind: 'channel', name: 'c1', version: '1.0.0' }, null];" },
    '%F: default export [1]: expected a plugin descriptor object ({ kind, name, version, … }), got null',
  ],
  [
    'invalid config schema',
    { 'p.js': "export default { kind: 'processor', name: 'p', version: '1.0.0', in: 'eventchan', create() {}, config: { properties: { n: { type: 'integer', maximun: 3 } } } };" },
    "%F: processor 'p': field 'config': invalid schema: attribute 'n': unknown keyword 'maximun' (did you mean maximum? keywords: type, description, default, enum, minimum, maximum, exclusiveMinimum, exclusiveMaximum, pattern, minLength, maxLength, format)",
  ],
  [
    'unprefixed attribute of a shared entry',
    { 'p.js': "export default { kind: 'transport', name: 'p', version: '1.0.0', create() {}, config: { properties: { url: { type: 'string' } } } };" },
    "%F: transport 'p': field 'config': attribute 'url' must start with 'p.' (a transport's attributes share the entry with other plugins)",
  ],
  [
    'required attribute not described',
    { 'p.js': "export default { kind: 'processor', name: 'p', version: '1.0.0', in: 'eventchan', create() {}, config: { properties: {}, required: ['x'] } };" },
    "%F: processor 'p': field 'config': required attribute 'x' is not in 'properties'",
  ],
  [
    'clash with a built-in processor',
    { 'p.js': "export default { kind: 'processor', name: 'exporter', version: '1.0.0', in: 'eventchan', create() {} };" },
    "%F: processor 'exporter': duplicate name: 'exporter' is a built-in processor; choose another name",
  ],
  [
    'clash with a built-in action',
    { 'p.js': "export default { kind: 'action', name: 'tag', version: '1.0.0', create() {} };" },
    "%F: action 'tag': duplicate name: 'tag' is a built-in action; choose another name",
  ],
  [
    'clash with a built-in transport',
    { 'p.js': "export default { kind: 'transport', name: 'syslog', version: '1.0.0', create() {} };" },
    "%F: transport 'syslog': duplicate name: 'syslog' is a built-in transport; choose another name",
  ],
  ['throw at import', { 'p.js': "throw new Error('cannot start: no licence');\nexport default {};" }, '%F: failed to load: cannot start: no licence'],
  ['syntax error', { 'p.js': 'export default { kind: ;' }, "%F: failed to load: Unexpected token ';'"],
  ['missing import', { 'p.js': "import './nothere.js';\nexport default {};" }, /^%F: failed to load: Cannot find module '.*nothere\.js' imported from .*p\.js$/],
  [
    'unknown channel type',
    { 'p.js': "export default { kind: 'processor', name: 'p', version: '1.0.0', in: 'nochan', create() {} };" },
    "%F: processor 'p': field 'in': unknown channel type 'nochan' (known: eventchan, flattenerchan, sysflowchan)",
  ],
  ['driver in -plugdir', { 'p.js': "export default { kind: 'driver', name: 'd', version: '1.0.0', async run() {} };" }, "%F: driver 'd': drivers are loaded from -driverdir, not -plugdir"],
];

for (const [what, files, want] of BROKEN) {
  test(`broken plugin: ${what} → one line naming the file, exit 1`, () => {
    const plugdir = writeFiles(tempDir('broken'), files);
    const file = join(plugdir, 'p.js');
    const got = oneError(cli(['-plugdir', plugdir, '-config', configFile(BASIC), '-log', 'warn', '-test']));
    if (typeof want === 'string') assert.equal(got, want.replace('%F', file));
    else assert.match(got, new RegExp(want.source.replace('%F', file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))));
  });
}

test('broken plugin: the same name in two files names both files', () => {
  const p = (name: string) => `export default { kind: 'processor', name: '${name}', version: '1.0.0', in: 'eventchan', create: () => ({ process() {} }) };`;
  const plugdir = writeFiles(tempDir('dup'), { 'a.js': p('dup'), 'b.js': p('dup') });
  assert.equal(
    oneError(cli(['-plugdir', plugdir, '-config', configFile(BASIC), '-log', 'warn', '-test'])),
    `${join(plugdir, 'b.js')}: processor 'dup': duplicate name: processor 'dup' is already defined by ${join(plugdir, 'a.js')}`,
  );
  // an action and a processor may share a name: names are per kind
  const ok = writeFiles(tempDir('dup'), { 'a.js': p('same'), 'b.js': "export default { kind: 'action', name: 'same', version: '1.0.0', create: () => () => {} };" });
  assert.equal(cli(['-plugdir', ok, '-config', configFile(BASIC), '-log', 'warn', '-test']).status, 0);
});

test('broken plugin: a processor in -driverdir, and a missing directory', () => {
  const driverdir = writeFiles(tempDir('driverdir'), { 'p.js': "export default { kind: 'processor', name: 'p', version: '1.0.0', in: 'eventchan', create() {} };" });
  assert.equal(
    oneError(cli(['-driverdir', driverdir, '-config', configFile(BASIC), '-log', 'warn', '-test'])),
    `${join(driverdir, 'p.js')}: processor 'p': -driverdir holds drivers only; load a processor from -plugdir`,
  );
  const missing = join(tempDir('missing'), 'nothere');
  assert.equal(oneError(cli(['-plugdir', missing, '-config', configFile(BASIC), '-log', 'warn', TCP])), `-plugdir ${missing}: directory not found`);
  // one directory for both flags holds every kind
  const both = writeFiles(tempDir('both'), { 'p.js': "export default { kind: 'processor', name: 'p', version: '1.0.0', in: 'eventchan', create() {} };", 'd.js': SYNTH_DRIVER });
  assert.equal(cli(['-driverdir', both, '-plugdir', both, '-config', configFile(BASIC), '-log', 'warn', '-test']).status, 0);
});

const CRASHING = (body: string) => `export default { kind: 'processor', name: 'crash', version: '1.0.0', in: 'eventchan', create(ctx) { ${body} } };`;

test('broken plugin: a throw in create names the config entry, the file and the plugin; nothing is processed', () => {
  const cases: [string, string][] = [
    ["throw new Error('kaboom');", 'create() failed: kaboom'],
    ['return Promise.reject(new TypeError("no socket"));', 'create() failed: no socket'],
    ['return null;', 'create() must return an object with a process(batch, emit) method (got null)'],
    ['return { proces() {} };', 'create() must return an object with a process(batch, emit) method (got an object)'],
  ];
  for (const [body, msg] of cases) {
    const plugdir = writeFiles(tempDir('crash'), { 'crash.js': CRASHING(body) });
    const cfg = configFile([READER, ENRICH, { processor: 'crash', in: 'evt eventchan' }]);
    for (const args of [['-test'], [TCP]]) {
      const r = cli(['-plugdir', plugdir, '-config', cfg, '-log', 'warn', ...args]);
      assert.equal(oneError(r), `${cfg}: plugin #2 (crash): ${join(plugdir, 'crash.js')}: processor 'crash': ${msg}`);
      assert.equal(r.stdout, '');
    }
  }
});

test('broken plugin: a throw while processing stops the run with the file and plugin named', () => {
  const plugdir = writeFiles(tempDir('crash'), { 'crash.js': CRASHING("return { process(batch) { if (batch.length) throw new RangeError('bad record'); } };") });
  const cfg = configFile([READER, ENRICH, { processor: 'crash', in: 'evt eventchan' }]);
  assert.equal(oneError(cli(['-plugdir', plugdir, '-config', cfg, '-log', 'warn', TCP])), `plugin #2 (crash): ${join(plugdir, 'crash.js')}: processor 'crash': bad record`);
});

test('a failing action is logged with its file and rule, and the records go on (as upstream)', () => {
  const dir = tempDir('action');
  writeFiles(dir, {
    'plug/flaky.js': "export default { kind: 'action', name: 'flaky', version: '1.0.0', create: () => (r) => { if (r.rec.tid === 13824) throw new Error('no luck'); r.addTag('flaky'); } };",
    'policy.yaml': '- rule: Execs\n  desc: every exec\n  condition: sf.opflags = EXEC\n  actions: [alert, flaky]\n',
  });
  const cfg = configFile([READER, { ...ENRICH, policies: join(dir, 'policy.yaml') }, { processor: 'exporter', in: 'evt eventchan', export: 'terminal' }]);
  const r = cli(['-plugdir', join(dir, 'plug'), '-config', cfg, '-log', 'warn', TCP]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(lines(r.stderr).length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`error: ${join(dir, 'plug', 'flaky.js').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: action 'flaky': rule 'Execs': no luck`));
  const recs = parse(r.stdout);
  assert.equal(recs.length, 10);
  assert.deepEqual(
    recs.filter((x) => x.policies).map((x) => [x.proc?.exe, x.tags]),
    [
      ['./server', ['flaky']],
      ['./client', undefined],
    ],
  );
});

// ---------------------------------------------------------------------------------------------
// What authors get

test("the public entry: 'sfprocessor/plugin' and 'sfprocessor' resolve through package.json exports to the API and its declarations", async () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { types: string; exports: Record<string, { types: string; default: string }> };
  for (const entry of ['.', './plugin']) {
    assert.ok(existsSync(join(ROOT, pkg.exports[entry]!.types)), `${entry} types`);
    assert.ok(existsSync(join(ROOT, pkg.exports[entry]!.default)), `${entry} runtime`);
  }
  assert.ok(existsSync(join(ROOT, pkg.types)));
  const d = readFileSync(join(ROOT, pkg.exports['./plugin']!.types), 'utf8');
  for (const name of ['ProcessorPlugin', 'HandlerPlugin', 'ChannelPlugin', 'DriverPlugin', 'EncoderPlugin', 'TransportPlugin', 'ActionPlugin', 'PluginContext', 'ConfigSchema', 'FlatRecord']) {
    assert.match(d, new RegExp(`\\b${name}\\b`), `declares ${name}`);
  }
  const api = (await import('sfprocessor/plugin')) as typeof import('../core/api.js');
  assert.equal(api.PLUGIN_API_VERSION, '1.0.0');
  assert.deepEqual(api.PLUGIN_KINDS, ['processor', 'handler', 'channel', 'driver', 'encoder', 'transport', 'action']);
});

test('the compiled examples import nothing but Node built-ins, so they run from any directory', () => {
  const dist = join(ROOT, 'dist', 'examples', 'plugins');
  const names = readdirSync(join(ROOT, 'examples', 'plugins'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  assert.deepEqual(names, ['now', 'printer', 'summary', 'webhook']);
  for (const n of names) {
    const src = readFileSync(join(dist, n, `${n}.js`), 'utf8');
    const specs = [...src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2]!);
    for (const s of specs) assert.match(s, /^node:/, `${n}.js imports ${s}`);
    assert.ok(existsSync(join(ROOT, 'examples', 'plugins', n, 'pipeline.json')), `${n} has its pipeline config`);
    assert.ok(existsSync(join(ROOT, 'examples', 'plugins', n, 'README.md')), `${n} has a README`);
  }
});

test('docs/plugins.md: the minimal example works as printed', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'plugins.md'), 'utf8');
  const block = (name: string) => {
    const m = new RegExp(`<!-- example: ${name.replace(/\./g, '\\.')} -->\\s*\`\`\`\\w*\\n([\\s\\S]*?)\`\`\``).exec(doc);
    assert.ok(m, `docs/plugins.md has the block ${name}`);
    return m![1]!;
  };
  const dir = tempDir('doc');
  mkdirSync(join(dir, 'plugins'));
  writeFiles(dir, { 'plugins/execcount.js': block('execcount.js'), 'pipeline.json': block('pipeline.json') });
  const cmd = block('command').trim();
  assert.equal(cmd, 'sfprocessor -plugdir plugins -config pipeline.json -log warn tcp.sf');
  const r = cli(['-plugdir', join(dir, 'plugins'), '-config', join(dir, 'pipeline.json'), '-log', 'warn', TCP]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, block('output'));
});
