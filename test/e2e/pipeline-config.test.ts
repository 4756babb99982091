/**
 * Pipeline configuration and the sfprocessor command line: every configuration error is found before
 * data flows, exits non-zero and is ONE line on stderr naming the file, the plugin (index and
 * processor) and the attribute; flags in all four spellings; environment overrides; fan-out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { CONFIG_SCHEMA, ConfigError, conformsToSchema, envOverrides, loadConfig, validateGraph } from '../../core/pipeline/config.js';
import { builtinRegistry } from '../../core/plugins/builtin.js';
import { VERSION, AVRO_SCHEMA_VERSION, JSON_SCHEMA_VERSION, ECS_VERSION } from '../../core/version.js';
import { FIXTURES, ROOT } from '../helpers/corpus.js';
import { prng } from '../helpers/prng.js';

const CLI = join(ROOT, 'dist', 'core', 'cli', 'sfprocessor.js');
const TCP = join(FIXTURES, 'traces', 'sf-processor', 'tcp.sf');
const K8S = join(FIXTURES, 'traces', 'sf-processor', 'k8s_small.sf');
const K8S_EVENTS = 5247;
const GLOBALS = { version: VERSION, jsonschemaversion: '5', ecsversion: '8.2', buildnumber: '1' };

const TMP = mkdtempSync(join(tmpdir(), 'sfp-config-test-'));
let seq = 0;
/** A fresh directory per case, so output files never collide. */
const caseDir = (): string => {
  const d = join(TMP, `c${++seq}`);
  mkdirSync(d);
  return d;
};

/** The environment of the child without any override variable inherited from ours. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(sysflowreader|policyengine|exporter)_/i.test(k) && k !== 'CLUSTER_ID') env[k] = v;
  return { ...env, ...extra };
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): Result {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? TMP, env: cleanEnv(opts.env), encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const reader = () => ({ processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' });
const engine = (extra: Record<string, unknown> = {}) => ({ processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich', ...extra });
const exporter = (path: string, extra: Record<string, unknown> = {}) => ({ processor: 'exporter', in: 'evt eventchan', export: 'file', format: 'json', 'file.path': path, ...extra });

/** Write a config (an object is JSON-encoded, a string written as is); returns its path. */
function writeConfig(dir: string, content: unknown, name = 'pipeline.json'): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

function lines(text: string): string[] {
  const l = text.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

/**
 * Run the CLI and check the failure: exit code, exactly one stderr line starting `sfprocessor: error: `
 * that matches every pattern.
 */
function expectFailure(args: string[], patterns: (RegExp | string)[], opts: { code?: number; env?: Record<string, string> } = {}): string {
  const r = cli(args, { env: opts.env });
  const err = lines(r.stderr);
  assert.equal(r.code, opts.code ?? 1, `exit code (stderr: ${r.stderr})`);
  assert.equal(err.length, 1, `one stderr line, got:\n${r.stderr}`);
  assert.match(err[0]!, /^sfprocessor: error: /);
  for (const p of patterns) {
    if (typeof p === 'string') assert.ok(err[0]!.includes(p), `stderr mentions ${JSON.stringify(p)}: ${err[0]}`);
    else assert.match(err[0]!, p);
  }
  return err[0]!;
}

/** A config error for `pipeline`: exit 1, one line naming the file and the given fragments. */
function expectConfigError(pipeline: unknown, patterns: (RegExp | string)[], opts: { env?: Record<string, string>; log?: string } = {}): string {
  const file = writeConfig(caseDir(), pipeline);
  const args = ['-config', file, ...(opts.log ? ['-log', opts.log] : []), TCP];
  const msg = expectFailure(args, [file, ...patterns], { env: opts.env });
  // -test finds the same error.
  const t = cli(['-test', ...args.slice(0, -1)], { env: opts.env });
  assert.equal(t.code, 1, `-test exit code (stderr: ${t.stderr})`);
  assert.ok(t.stderr.includes(msg.replace(/^sfprocessor: error: /, '')), `-test reports the same error: ${t.stderr}`);
  return msg;
}

// ---------------------------------------------------------------------------------------------
// The file itself
// ---------------------------------------------------------------------------------------------

test('config: missing file', () => {
  const file = join(caseDir(), 'nosuch.json');
  expectFailure(['-config', file, TCP], [file, /not found/]);
});

test('config: a directory is not a config file', () => {
  const dir = caseDir();
  expectFailure(['-config', dir, TCP], [dir, /directory/]);
});

test('config: invalid JSON reports line and column (every V8 message shape), on one line', () => {
  const cases: { text: string; line: number; col: number }[] = [
    // "Expected double-quoted property name … at position N"
    { text: '{"pipeline": [\n  {"processor": "exporter",\n   "in": "a b", }\n]}\n', line: 3, col: 17 },
    // "Unexpected token '}', "…" is not valid JSON": V8 gives no position, and quotes the text
    { text: '{"pipeline": [\n  {"processor": "exporter", "in": "a b"}\n], "x": }\n', line: 3, col: 9 },
    // unexpected token that is a line break inside the quoted snippet
    { text: '{"pipeline": [\n  {"processor": "exporter", "in": "a b"}\n], "x": tru\n}\n', line: 3, col: 12 },
    // the same in a long text, which V8 quotes in part ("…"…"… is not valid JSON")
    { text: `{"pipeline": "${'y'.repeat(200)}", "x": }, "z": "${'z'.repeat(200)}"}`, line: 1, col: 223 },
    // "Unexpected end of JSON input": the position is the end of the text
    { text: '{"pipeline": [\n  {"processor": "exporter",\n', line: 3, col: 1 },
    // bad escape in a string
    { text: '{"pipeline": "\\q"}', line: 1, col: 16 },
    // nothing at all
    { text: '', line: 1, col: 1 },
  ];
  for (const c of cases) {
    const file = writeConfig(caseDir(), c.text);
    const msg = expectFailure(['-config', file, TCP], [file, /invalid JSON/, `line ${c.line}, column ${c.col}`]);
    // The reason, without V8's quotation of the text.
    assert.doesNotMatch(msg, /is not valid JSON|\.\.\.|"x"/, msg);
  }
});

test('config: the top level must be an object with a non-empty pipeline array', () => {
  expectConfigError({}, [/missing 'pipeline'/]);
  expectConfigError({ drivers: [] }, [/missing 'pipeline'/]);
  expectConfigError({ pipeline: [] }, [/'pipeline'/, /empty/]);
  expectConfigError([1, 2], [/"pipeline"/]);
  expectConfigError({ pipeline: 'x' }, [/'pipeline'/]);
});

test('config: an entry without processor / without in', () => {
  const d = caseDir();
  expectConfigError({ pipeline: [reader(), { in: 'flat flattenerchan', out: 'evt eventchan' }, exporter(join(d, 'o'))] }, ['plugin #1', /missing 'processor'/]);
  expectConfigError({ pipeline: [reader(), { processor: 'policyengine', out: 'evt eventchan', mode: 'enrich' }, exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', /missing 'in'/]);
  expectConfigError({ pipeline: [reader(), engine({ in: 42 }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', /attribute 'in'/]);
});

// ---------------------------------------------------------------------------------------------
// The graph
// ---------------------------------------------------------------------------------------------

test('graph: unknown processor', () => {
  const d = caseDir();
  expectConfigError({ pipeline: [reader(), { processor: 'nosuch', in: 'flat flattenerchan', out: 'evt eventchan' }, exporter(join(d, 'o'))] }, [
    'plugin #1 (nosuch)',
    /unknown processor 'nosuch'/,
    /policyengine/,
  ]);
});

test('graph: sysflowreader without handler / with an unknown handler', () => {
  const d = caseDir();
  const { handler: _h, ...noHandler } = reader();
  void _h;
  expectConfigError({ pipeline: [noHandler, engine(), exporter(join(d, 'o'))] }, ['plugin #0 (sysflowreader)', /'handler'/, /flattener/]);
  expectConfigError({ pipeline: [{ ...reader(), handler: 'nosuch' }, engine(), exporter(join(d, 'o'))] }, ['plugin #0 (sysflowreader)', "attribute 'handler'", /unknown handler 'nosuch'/]);
  // Through the environment too.
  expectConfigError({ pipeline: [reader(), engine(), exporter(join(d, 'o'))] }, ['plugin #0 (sysflowreader)', "attribute 'handler'", /unknown handler 'viaenv'/], {
    env: { SYSFLOWREADER_HANDLER: 'viaenv' },
  });
});

test("graph: a 'handler' attribute does not change the channel types of a processor that takes no handler", () => {
  // policyengine writes eventchan whatever stray attributes it carries; it must not pass as a
  // flattenerchan writer (which would let it feed another policyengine, or form a cycle).
  const d = caseDir();
  expectConfigError(
    {
      pipeline: [
        reader(),
        { processor: 'policyengine', handler: 'flattener', in: 'flat flattenerchan', out: 'f2 flattenerchan', mode: 'enrich' },
        { processor: 'policyengine', in: 'f2 flattenerchan', out: 'evt eventchan', mode: 'enrich' },
        exporter(join(d, 'o')),
      ],
    },
    ['plugin #1 (policyengine)', "attribute 'out'", /writes 'eventchan'/, /'f2' is 'flattenerchan'/],
  );
});

test('graph: unknown channel type', () => {
  const d = caseDir();
  expectConfigError({ pipeline: [{ ...reader(), out: 'flat nosuchchan' }, engine(), exporter(join(d, 'o'))] }, ['plugin #0 (sysflowreader)', "attribute 'out'", /unknown channel type 'nosuchchan'/]);
  expectConfigError({ pipeline: [reader(), engine({ in: 'flat nosuchchan' }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'in'", /unknown channel type 'nosuchchan'/]);
});

test('graph: malformed channel specs (one word, three words, in a list)', () => {
  const d = caseDir();
  expectConfigError({ pipeline: [reader(), engine({ in: 'flat' }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'in'", /<name> <type>/, /'flat'/]);
  expectConfigError({ pipeline: [reader(), engine({ out: 'evt eventchan extra' }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'out'", /<name> <type>/]);
  expectConfigError({ pipeline: [reader(), engine({ out: ['evt eventchan', 'e2'] }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'out'", /'e2'/]);
  expectConfigError({ pipeline: [reader(), engine({ out: '' }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'out'"]);
});

test('graph: an input that no output feeds', () => {
  const d = caseDir();
  expectConfigError({ pipeline: [reader(), engine(), exporter(join(d, 'o'), { in: 'other eventchan' })] }, ['plugin #2 (exporter)', "attribute 'in'", /no plugin writes channel 'other'/]);
});

test('graph: channel type mismatch (exporter reading a flattenerchan)', () => {
  const d = caseDir();
  expectConfigError({ pipeline: [reader(), exporter(join(d, 'o'), { in: 'flat flattenerchan' })] }, ['plugin #1 (exporter)', "attribute 'in'", /reads 'eventchan'/, /'flattenerchan'/]);
  // A sink has no output.
  expectConfigError({ pipeline: [reader(), engine(), exporter(join(d, 'o'), { out: 'more eventchan' })] }, ['plugin #2 (exporter)', "attribute 'out'", /has no output/]);
  // The first plugin must read what the driver writes.
  expectConfigError({ pipeline: [engine({ in: 'sysflow flattenerchan' }), exporter(join(d, 'o'))] }, ['plugin #0 (policyengine)', "attribute 'in'", /driver writes 'sysflowchan'/]);
});

test('graph: a channel read by two plugins / written by two plugins / declared with two types', () => {
  const d = caseDir();
  expectConfigError({ pipeline: [reader(), engine({ out: 'e1 eventchan' }), engine({ out: 'e2 eventchan' }), exporter(join(d, 'o'), { in: 'e1 eventchan' })] }, [
    'plugin #2 (policyengine)',
    "attribute 'in'",
    /'flat' is already read by plugin #1/,
  ]);
  expectConfigError({ pipeline: [{ ...reader(), out: ['f1 flattenerchan', 'f2 flattenerchan'] }, engine({ in: 'f1 flattenerchan' }), engine({ in: 'f2 flattenerchan' }), exporter(join(d, 'o'))] }, [
    'plugin #2 (policyengine)',
    "attribute 'out'",
    /'evt' is already written by plugin #1/,
  ]);
  expectConfigError({ pipeline: [reader(), engine({ in: 'flat eventchan' }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'in'", /'flat'/, /'flattenerchan'/, /'eventchan'/]);
  // The same channel twice in one 'out'.
  expectConfigError({ pipeline: [reader(), engine({ out: ['evt eventchan', 'evt eventchan'] }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'out'", /'evt' is listed twice/]);
});

test('graph: cycles (with a user processor `loop`, flattenerchan → flattenerchan)', () => {
  // No cycle is expressible with the built-ins alone: every plugin reads one channel, the reader's
  // sysflowchan has no writer but the driver, and policyengine turns flattenerchan into eventchan.
  const registry = builtinRegistry();
  registry.processors.add({
    name: 'loop',
    description: 'test: passes flat records on',
    inType: 'flattenerchan',
    outType: 'flattenerchan',
    config: { properties: {} },
    create: () => ({ process: (b, emit) => emit(b as unknown[]) }),
  });
  const d = caseDir();
  const loop = (i: string, o: string | string[]) => ({ processor: 'loop', in: `${i} flattenerchan`, out: Array.isArray(o) ? o.map((x) => `${x} flattenerchan`) : `${o} flattenerchan` });
  const check = (pipeline: object[]) => validateGraph(loadConfig(writeConfig(caseDir(), { pipeline }), {}, GLOBALS), registry, 'sysflowchan');
  // A valid chain through loop plugins passes.
  const types = check([reader(), loop('flat', 'l1'), loop('l1', 'l2'), engine({ in: 'l2 flattenerchan' }), exporter(join(d, 'o'))]);
  assert.deepEqual(
    types.map((t) => t.outType),
    ['flattenerchan', 'flattenerchan', 'flattenerchan', 'eventchan', null],
  );
  // Two plugins feeding each other.
  assert.throws(
    () => check([reader(), engine(), exporter(join(d, 'o')), loop('a', 'b'), loop('b', 'a')]),
    (e: Error) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /pipeline\.json: /);
      assert.match(e.message, /cycle/);
      assert.match(e.message, /#3 → #4 → #3/);
      return true;
    },
  );
  // A plugin feeding itself.
  assert.throws(() => check([reader(), engine(), exporter(join(d, 'o')), loop('a', 'a')]), /cycle: plugins #3 → #3/);
  // A longer cycle with a side branch out of it.
  assert.throws(() => check([reader(), engine(), exporter(join(d, 'o')), loop('a', 'b'), loop('b', ['c', 'side']), loop('c', 'a'), loop('side', 'sink')]), /cycle: plugins #3 → #4 → #5 → #3/);
});

// ---------------------------------------------------------------------------------------------
// Bad attribute values: found when the plugins are created (before data flows, and by -test)
// ---------------------------------------------------------------------------------------------

test('plugin creation: exporter export / format / buffer', () => {
  const d = caseDir();
  const out = join(d, 'o');
  // -log warn: the enrich bypass logs an info line before the exporter is created.
  expectConfigError({ pipeline: [reader(), engine(), exporter(out, { export: 'nosuch' })] }, ['plugin #2 (exporter)', "attribute 'export'", /'nosuch'/, /file/], { log: 'warn' });
  expectConfigError({ pipeline: [reader(), engine(), exporter(out, { format: 'nosuch' })] }, ['plugin #2 (exporter)', "attribute 'format'", /'nosuch'/, /json/], { log: 'warn' });
  expectConfigError({ pipeline: [reader(), engine(), exporter(out, { buffer: 'x' })] }, ['plugin #2 (exporter)', "attribute 'buffer'", /'x'/], { log: 'warn' });
  expectConfigError({ pipeline: [reader(), engine(), exporter(out, { buffer: -1 })] }, ['plugin #2 (exporter)', "attribute 'buffer'", /'-1'/], { log: 'warn' });
  assert.equal(existsSync(out), false, 'nothing exported');
});

test('plugin creation: policyengine mode bogus / alert mode without policies', () => {
  const d = caseDir();
  expectConfigError({ pipeline: [reader(), engine({ mode: 'bogus' }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'mode'", /'bogus'/]);
  const { mode: _m, ...noMode } = engine();
  void _m;
  expectConfigError({ pipeline: [reader(), noMode, exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'policies'", /alert/]);
  expectConfigError({ pipeline: [reader(), engine({ mode: 'alert' }), exporter(join(d, 'o'))] }, ['plugin #1 (policyengine)', "attribute 'policies'", /alert/]);
});

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

test('cli: -test on a valid config exits 0 and says what was checked; on an invalid one exits 1', () => {
  const d = caseDir();
  const file = writeConfig(d, { pipeline: [reader(), engine(), exporter(join(d, 'out.json'))] });
  const r = cli(['-test', '-config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(file), r.stdout);
  assert.match(r.stdout, /valid/);
  assert.match(r.stdout, /driver file/);
  assert.match(r.stdout, /#0 sysflowreader\(flattener\) sysflow → flat/);
  assert.match(r.stdout, /#1 policyengine flat → evt/);
  assert.match(r.stdout, /#2 exporter evt → ∅/);
  // With an input path, the path is checked too (but nothing is processed).
  const r2 = cli(['-test', '-config', file, TCP]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(!existsSync(join(d, 'out.json')) || readFileSync(join(d, 'out.json'), 'utf8') === '', 'nothing exported by -test');
  const r3 = cli(['-test', '-config', file, join(d, 'nosuch.sf')]);
  assert.equal(r3.code, 1);
  assert.match(r3.stderr, /nosuch\.sf/);

  const bad = writeConfig(d, { pipeline: [reader(), engine({ mode: 'bogus' }), exporter(join(d, 'out.json'))] }, 'bad.json');
  const b = cli(['-test', '-config', bad]);
  assert.equal(b.code, 1);
  assert.equal(b.stdout, '');
  assert.equal(lines(b.stderr).length, 1, b.stderr);
  assert.match(b.stderr, /bad\.json: plugin #1 \(policyengine\): attribute 'mode'/);
});

test('cli: -version, -help, unknown flag, missing input', () => {
  const v = cli(['-version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout, `Version: ${VERSION}, Avro Schema Version: ${AVRO_SCHEMA_VERSION}, Export Schema Version: ${JSON_SCHEMA_VERSION} (JSON), ${ECS_VERSION} (ECS)\n`);
  assert.match(v.stdout, /^Version: \d+\.\d+\.\d+\S*, Avro Schema Version: 5, Export Schema Version: 5 \(JSON\), 8\.2 \(ECS\)\n$/);
  assert.equal(v.stderr, '');
  for (const h of ['-help', '--help', '-h']) {
    const r = cli([h]);
    assert.equal(r.code, 0, h);
    assert.match(r.stdout, /^Usage:/);
    assert.match(r.stdout, /-config FILE/);
    assert.match(r.stdout, /-test/);
  }
  const u = cli(['-nosuchflag', 'x', TCP]);
  assert.equal(u.code, 2);
  assert.equal(u.stderr, 'sfprocessor: error: unknown flag -nosuchflag; see sfprocessor -h\n');
  assert.equal(u.stdout, '');
  // one line, with the flag meant (the usage text used to follow)
  const typo = cli(['-confg', 'x.json', TCP]);
  assert.equal(typo.code, 2);
  assert.equal(typo.stderr, 'sfprocessor: error: unknown flag -confg (did you mean -config?); see sfprocessor -h\n');
  const lv = cli(['-log', 'loud', TCP]);
  assert.equal(lv.code, 2);
  assert.equal(lv.stderr, "sfprocessor: error: unknown log level 'loud' (use trace, debug, info, warn, error, fatal, quiet); see sfprocessor -h\n");
  const m = cli(['-config', join(ROOT, 'pipelines', 'pipeline.local.json')]);
  assert.equal(m.code, 1);
  assert.match(m.stderr, /no input PATH/);
  const dr = cli(['-driver', 'nosuch', '-config', join(ROOT, 'pipelines', 'pipeline.local.json'), TCP]);
  assert.equal(dr.code, 1);
  assert.equal(lines(dr.stderr).length, 1, dr.stderr);
  assert.match(dr.stderr, /^sfprocessor: error: .*unknown driver 'nosuch'/);
  const nv = cli(['-config']);
  assert.equal(nv.code, 2);
  assert.equal(nv.stderr, 'sfprocessor: error: flag -config needs a value; see sfprocessor -h\n');
});

test('cli: the four flag spellings -config x, --config x, -config=x, --config=x', () => {
  const d = caseDir();
  for (const [i, spell] of [(f: string) => ['-config', f], (f: string) => ['--config', f], (f: string) => [`-config=${f}`], (f: string) => [`--config=${f}`]].entries()) {
    const out = join(d, `out${i}.json`);
    const file = writeConfig(d, { pipeline: [reader(), engine(), exporter(out)] }, `p${i}.json`);
    const r = cli([...spell(file), '-log=error', TCP]);
    assert.equal(r.code, 0, `${spell(file).join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, '', '-log=error keeps stderr quiet');
    assert.ok(lines(readFileSync(out, 'utf8')).length > 0, `${spell(file).join(' ')}: the config named was used`);
  }
  // And the same for -log in its spellings: a bad level is refused whichever spelling carries it.
  for (const spell of [['-log', 'nosuch'], ['--log', 'nosuch'], ['-log=nosuch'], ['--log=nosuch']]) {
    const r = cli([...spell, '-version=false', '-config', join(ROOT, 'pipelines', 'pipeline.local.json'), TCP]);
    assert.equal(r.code, 2, spell.join(' '));
    assert.match(r.stderr, /unknown log level 'nosuch'/);
  }
});

// ---------------------------------------------------------------------------------------------
// Environment overrides
// ---------------------------------------------------------------------------------------------

test('env: envOverrides maps <PLUGIN>_<ATTR> to attributes, "_" → "."', () => {
  const env = {
    EXPORTER_FILE_PATH: '/x/out.json',
    EXPORTER_EXPORT: 'null',
    exporter_format: 'json',
    EXPORTER_ES_BULK_NUMWORKERS: '3',
    EXPORTER_: 'empty attribute: ignored',
    EXPORTER: 'no underscore: ignored',
    EXPORTERS_EXPORT: 'other prefix: ignored',
    _EXPORTER_EXPORT: 'leading underscore: ignored',
    POLICYENGINE_MODE: 'alert',
    SYSFLOWREADER_FILTER_ENABLED: 'on',
    PATH: '/usr/bin',
  };
  assert.deepEqual(envOverrides('exporter', env), { 'file.path': '/x/out.json', export: 'null', format: 'json', 'es.bulk.numworkers': '3' });
  assert.deepEqual(envOverrides('policyengine', env), { mode: 'alert' });
  assert.deepEqual(envOverrides('sysflowreader', env), { 'filter.enabled': 'on' });
  assert.deepEqual(envOverrides('nosuch', env), {});
  // Only the first '_' separates the processor: POLICYENGINE_MONITOR_INTERVAL → monitor.interval.
  assert.deepEqual(envOverrides('policyengine', { POLICYENGINE_MONITOR_INTERVAL: '30' }), { 'monitor.interval': '30' });
});

test('env: loadConfig applies overrides per processor, then the globals; values are strings', () => {
  const d = caseDir();
  const file = writeConfig(d, { pipeline: [reader(), engine(), exporter(join(d, 'o'), { buffer: 10, 'x.flag': true, 'x.obj': { a: 1 } })] });
  const cfg = loadConfig(file, { EXPORTER_FILE_PATH: '/env/out.json', EXPORTER_VERSION: '9.9', POLICYENGINE_MODE: 'alert', CLUSTER_ID: 'c1' }, GLOBALS);
  const [r, e, x] = cfg.plugins;
  assert.equal(x!.attrs['file.path'], '/env/out.json');
  assert.equal(x!.attrs.buffer, '10');
  assert.equal(x!.attrs['x.flag'], 'true');
  assert.equal(x!.attrs['x.obj'], '{"a":1}');
  assert.equal(x!.attrs.version, VERSION, 'globals win over the environment');
  assert.equal(x!.attrs.jsonschemaversion, '5');
  assert.equal(x!.attrs['cluster.id'], 'c1');
  assert.equal(e!.attrs.mode, 'alert');
  assert.equal(e!.attrs['file.path'], undefined, 'EXPORTER_* does not reach the policy engine');
  assert.equal(r!.attrs.mode, undefined);
  assert.equal(r!.attrs['cluster.id'], 'c1');
  // Top-level keys are case-insensitive.
  const upper = loadConfig(writeConfig(d, { Pipeline: [reader()] }, 'upper.json'), {}, GLOBALS);
  assert.equal(upper.plugins.length, 1);
});

test('env: EXPORTER_FILE_PATH redirects the file transport', () => {
  const d = caseDir();
  const inFile = join(d, 'configured.json');
  const viaEnv = join(d, 'env', 'out.json');
  const file = writeConfig(d, { pipeline: [reader(), engine(), exporter(inFile)] });
  const r = cli(['-config', file, TCP], { env: { EXPORTER_FILE_PATH: viaEnv } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(inFile), false, 'the configured path is not used');
  const out = lines(readFileSync(viaEnv, 'utf8'));
  assert.ok(out.length > 0);
  for (const l of out) JSON.parse(l);
});

test('env: POLICYENGINE_MODE=alert without policies fails with the alert-mode error', () => {
  const d = caseDir();
  const out = join(d, 'out.json');
  const file = writeConfig(d, { pipeline: [reader(), engine(), exporter(out)] });
  expectFailure(['-config', file, TCP], [file, 'plugin #1 (policyengine)', "attribute 'policies'", /alert/], { env: { POLICYENGINE_MODE: 'alert' } });
  assert.equal(existsSync(out), false);
  // Case-insensitive variable name.
  expectFailure(['-config', file, TCP], ['plugin #1 (policyengine)', "attribute 'policies'"], { env: { policyengine_Mode: 'alert' } });
});

test('env: a variable for another processor name does not apply', () => {
  const d = caseDir();
  const out = join(d, 'out.json');
  const file = writeConfig(d, { pipeline: [reader(), engine(), exporter(out)] });
  const r = cli(['-config', file, '-log', 'warn', TCP], {
    env: { EXPORTER_MODE: 'alert', SYSFLOWREADER_MODE: 'bogus', POLICYENGINEX_MODE: 'alert', POLICY_ENGINE_MODE: 'alert', POLICYENGINE: 'alert', SYSFLOWREADER_EXPORT: 'nosuch' },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok(lines(readFileSync(out, 'utf8')).length > 0);
});

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

test('fan-out: policyengine writing two eventchans feeds two exporters; both get every record', () => {
  const d = caseDir();
  const o1 = join(d, 'one.json');
  const o2 = join(d, 'two.json');
  const file = writeConfig(d, {
    pipeline: [reader(), engine({ out: ['e1 eventchan', 'e2 eventchan'] }), exporter(o1, { in: 'e1 eventchan' }), exporter(o2, { in: 'e2 eventchan' })],
  });
  const r = cli(['-config', file, K8S]);
  assert.equal(r.code, 0, r.stderr);
  const a = readFileSync(o1, 'utf8');
  const b = readFileSync(o2, 'utf8');
  assert.equal(lines(a).length, K8S_EVENTS);
  assert.equal(lines(b).length, K8S_EVENTS);
  assert.ok(a === b, 'both exporters wrote the same records');
  for (const l of lines(a)) JSON.parse(l);
});

test('a JSON number / boolean attribute value is accepted (stringified)', () => {
  const d = caseDir();
  const out = join(d, 'out.json');
  const file = writeConfig(d, { pipeline: [{ ...reader(), 'cache.processes': 100000 }, engine(), exporter(out, { buffer: 10, 'x.unused': false })] });
  const r = cli(['-config', file, K8S]);
  assert.equal(r.code, 0, r.stderr);
  const l = lines(readFileSync(out, 'utf8'));
  assert.equal(l.length, K8S_EVENTS);
  for (const x of l) JSON.parse(x);
});

test('config: attributes no built-in reads are warned about, once each, naming the entry', () => {
  const dir = caseDir();
  const file = writeConfig(dir, {
    pipeline: [
      { ...reader(), 'cache.process': 5 },
      engine({ plicies: 'x' }),
      // syslog.* belongs to the syslog transport: not unknown even when export is file
      exporter(join(dir, 'out.json'), { 'fiel.path': 'x', 'syslog.host': 'h' }),
    ],
  });
  const r = cli(['-test', '-config', file]);
  assert.equal(r.code, 0, r.stderr);
  const warns = lines(r.stderr).filter((l) => l.includes('unknown attribute'));
  assert.deepEqual(
    warns.map((l) => /plugin #\d \(\w+\): unknown attribute '([^']+)' ignored/.exec(l)?.[1]),
    ['cache.process', 'plicies', 'fiel.path'],
  );
  for (const w of warns) assert.ok(w.includes(file), w);
  // the shipped configs have none
  for (const f of ['pipeline.terminal.json', 'pipeline.fanout.json', 'pipeline.syslog.json']) {
    const ok = cli(['-test', '-config', join(ROOT, 'pipelines', f)], { cwd: ROOT });
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(!ok.stderr.includes('unknown attribute'), `${f}: ${ok.stderr}`);
  }
});

test('config: the drivers entry may give the input path instead of the command line', () => {
  const dir = caseDir();
  const out = join(dir, 'out.json');
  const file = writeConfig(dir, { drivers: [{ driver: 'file', path: TCP }], pipeline: [reader(), engine(), exporter(out)] });
  const r = cli(['-config', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(readFileSync(out, 'utf8')).length, 10, 'every record of tcp.sf');
});

test('the pipeline config schema is a valid JSON Schema (it is compiled without meta-validation)', () => {
  const ajv = new Ajv({ strict: false });
  assert.equal(ajv.validateSchema(CONFIG_SCHEMA), true, JSON.stringify(ajv.errors));
  assert.equal(ajv.validateSchema({ ...CONFIG_SCHEMA, required: 'pipeline' }), false, 'a broken schema is refused');
});

test('conformsToSchema (the check without Ajv) answers as Ajv does on 20,000 generated configs', () => {
  const validate = new Ajv({ allErrors: true, strict: false }).compile(CONFIG_SCHEMA);
  const rnd = prng(20261205);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const scalar = (): unknown => pick(['', 'x', 'flat flattenerchan', 0, 1.5, -3, true, false, null, [], ['a', 'b'], [1], ['a', 2], {}, { a: 1 }, [[]]]);
  const entry = (keys: readonly string[]): Record<string, unknown> => {
    const e: Record<string, unknown> = {};
    for (const k of keys) if (rnd() < 0.97) e[k] = rnd() < 0.93 ? pick(['p', 'sysflow sysflowchan', 'a b']) : scalar();
    if (rnd() < 0.3) e.out = pick([['a b'], ['a b', 'c d'], 'x y', 'x y', [], ['a b', ''], '', 3]);
    for (let i = Math.floor(rnd() * 3); i > 0; i--) e[pick(['mode', 'policies', 'file.path', 'buffer', '__proto__', 'constructor'])] = rnd() < 0.7 ? pick(['x', 3, true, { a: 1 }, ['s']]) : scalar();
    return e;
  };
  let valid = 0;
  for (let i = 0; i < 20000; i++) {
    const doc: Record<string, unknown> = {};
    if (rnd() < 0.95) doc.pipeline = rnd() < 0.9 ? Array.from({ length: Math.floor(rnd() * 4) }, () => (rnd() < 0.95 ? entry(['processor', 'handler', 'in']) : scalar())) : scalar();
    if (rnd() < 0.4) doc.drivers = rnd() < 0.9 ? Array.from({ length: Math.floor(rnd() * 3) }, () => (rnd() < 0.95 ? entry(['driver']) : scalar())) : scalar();
    if (rnd() < 0.2) doc.other = scalar();
    const expected = validate(doc) as boolean;
    assert.equal(conformsToSchema(doc), expected, JSON.stringify(doc));
    if (expected) valid++;
  }
  assert.ok(valid > 1000 && valid < 19000, `${valid} of 20000 valid: both answers occur often`);
});

test('cli: warnings about a damaged trace name its file; a cut header says what ran past the end', () => {
  const d = caseDir();
  const full = readFileSync(join(FIXTURES, 'traces', 'sf-collector', 'mpm-event', 'full_capture.sf'));
  const cut = join(d, 'cut.sf');
  writeFileSync(cut, full.subarray(0, 50_000));
  const head = join(d, 'head.sf');
  writeFileSync(head, full.subarray(0, 38 + 100));
  const config = writeConfig(d, { pipeline: [reader(), engine(), exporter(join(d, 'out.json'))] });
  const r = cli(['-config', config, '-log', 'warn', cut]);
  assert.equal(r.code, 0, r.stderr);
  // before: "warn: file truncated at byte 50000 …", no file
  assert.match(r.stderr, new RegExp(`^sfprocessor: warn: ${cut.replace(/[.]/g, '\\.')}: file truncated at byte 50000: `, 'm'));
  const s = spawnSync(process.execPath, [join(ROOT, 'dist/core/cli/sysprint.js'), cut], { encoding: 'utf8' });
  assert.match(s.stderr, new RegExp(`^sysprint: warn: ${cut.replace(/[.]/g, '\\.')}: file truncated at byte 50000: `, 'm'));
  const h = cli(['-config', config, head]);
  assert.equal(h.code, 1);
  // before: "(bytes of 6075 runs past the end of the data)"
  assert.match(h.stderr, /head\.sf: truncated or corrupt Avro header at byte \d+ \(a \d+-byte value runs past the end of the data\)/);
});

test('cli: a directory with unreadable files still ends on the summary of what was processed; exit 1', () => {
  const d = caseDir();
  const input = join(d, 'in');
  mkdirSync(input);
  writeFileSync(join(input, '1-tcp.sf'), readFileSync(TCP));
  writeFileSync(join(input, '2-notes.sf'), 'not a trace\n');
  writeFileSync(join(input, '3-k8s.sf'), readFileSync(K8S));
  writeFileSync(join(input, '4-empty.sf'), '');
  const out = join(d, 'out.json');
  const config = writeConfig(d, { pipeline: [reader(), engine(), exporter(out)] });
  const r = cli(['-config', config, input]);
  assert.equal(r.code, 1, r.stderr);
  const err = lines(r.stderr);
  // before: the run ended on the error line, without "processed N records"
  assert.match(err.at(-2) ?? '', /^sfprocessor: error: 2 of 4 input files could not be read \(.*2-notes\.sf, .*4-empty\.sf\)$/);
  const summary = /^sfprocessor: info: processed (\d+) records in [\d.]+ s \(\d+ records\/s\)/.exec(err.at(-1) ?? '');
  assert.ok(summary, `last line is the summary: ${err.at(-1)}`);
  const tcp = spawnSync(process.execPath, [CLI, '-config', writeConfig(d, { pipeline: [reader(), engine(), exporter(join(d, 'tcp.json'))] }, 'tcp-pipeline.json'), TCP], { encoding: 'utf8' });
  assert.equal(tcp.status, 0, tcp.stderr);
  const tcpEvents = lines(readFileSync(join(d, 'tcp.json'), 'utf8')).length;
  assert.equal(lines(readFileSync(out, 'utf8')).length, tcpEvents + K8S_EVENTS, 'the readable files were exported in full');
});

test("cli: an unknown driver names where it was asked for; sf-processor's otelkafka driver and findings exporter are named as such", () => {
  const d = caseDir();
  const kafka = writeConfig(d, { pipeline: [reader(), engine(), exporter(join(d, 'o.json'))], drivers: [{ driver: 'otelkafka', out: 'sysflow sysflowchan' }] }, 'kafka.json');
  const r = cli(['-config', kafka, TCP]);
  assert.equal(r.code, 1);
  // before: "sfprocessor: error: unknown driver 'otelkafka' (available: file, socket)", no file
  assert.equal(
    r.stderr,
    `sfprocessor: error: ${kafka}: drivers entry: unknown driver 'otelkafka' (sf-processor's driver for SysFlow over Kafka in OpenTelemetry envelopes; not available in sfprocessor; see docs/migration.md) (available: file, socket)\n`,
  );
  const findings = writeConfig(d, { pipeline: [reader(), engine(), exporter(join(d, 'o.json'), { export: 'findings' })] }, 'findings.json');
  const f = cli(['-config', findings, '-test']);
  assert.equal(f.code, 1);
  assert.match(
    f.stderr,
    /^sfprocessor: error: .*findings\.json: .*attribute 'export': unknown transport 'findings' \(sf-processor's exporter to the IBM Cloud Security and Compliance Center Findings API \(removed in sf-processor 0\.7\); not available in sfprocessor; see docs\/migration\.md\) \(available: /,
  );
  assert.equal(f.stderr.split('\n').length, 2, f.stderr);
});
