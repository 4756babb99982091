/**
 * The documentation stays true to the code: generated references equal what the code generates,
 * every attribute and flag in the reference tables exists and every one that exists is listed,
 * every pipeline config shown or referenced loads with `sfprocessor -test`, the example commands of
 * README.md and docs/configuration.md run from the repository root, and relative links resolve.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fieldsMarkdown } from '../../core/policy/fields-doc.js';
import { builtinRegistry } from '../../core/plugins/builtin.js';
import { ROOT } from '../helpers/corpus.js';
import { attributeReference, CONFIG_DOC, currentReference, deliveryAttributes, exporterOwnAttributes, transportAttributes } from '../helpers/docs-reference.js';
import { brokenLinks, codeBlocks, codeSpans, markdownFiles, section, synopsisFlags, tableRows, usageFlags } from '../helpers/docs-markdown.js';

const TMP = mkdtempSync(join(tmpdir(), 'sfp-docs-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const read = (rel: string) => readFileSync(join(ROOT, rel), 'utf8');
const README = () => read('README.md');
const SFPROCESSOR = join(ROOT, 'dist', 'core', 'cli', 'sfprocessor.js');
const SYSPRINT = join(ROOT, 'dist', 'core', 'cli', 'sysprint.js');

/** The environment without attribute overrides a developer's shell might set (they would change what -test sees). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const registry = builtinRegistry();
  const processors = new Set([...registry.processors.names(), 'summary', 'execcount'].map((n) => n.toLowerCase()));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    const us = k.indexOf('_');
    if (us > 0 && processors.has(k.slice(0, us).toLowerCase())) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function sfprocessor(args: string[]): Run {
  const r = spawnSync(process.execPath, [SFPROCESSOR, ...args], { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The docs that make up the documentation set. */
const DOCS = () => [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

// ---------------------------------------------------------------------------------------------
// Generated references

test('docs/fields.md equals `sfprocessor -listfields` (regenerate with: node dist/core/cli/sfprocessor.js -listfields > docs/fields.md)', () => {
  assert.equal(read('docs/fields.md'), fieldsMarkdown());
});

test(`${CONFIG_DOC}: the attribute reference equals the one generated from the registry (regenerate with: node dist/test/helpers/docs-reference.js --write)`, () => {
  const current = currentReference(read(CONFIG_DOC));
  assert.ok(current !== null, `${CONFIG_DOC} has the generated:attributes markers`);
  assert.equal(current, attributeReference());
});

// ---------------------------------------------------------------------------------------------
// Reference tables against the code

test('README: the attribute table lists every built-in plugin and every attribute, and nothing else', () => {
  const registry = builtinRegistry();
  const rows = tableRows(section(README(), 'attributes'));
  assert.ok(rows.length > 0, 'the table between <!-- attributes:begin --> and <!-- attributes:end --> has rows');
  const names: Record<string, string[]> = { processor: [], handler: [], driver: [], transport: [], encoder: [] };
  const exporterSeen: string[] = [];
  for (const cells of rows) {
    const kind = cells[0]!.split(/\s/)[0]!;
    const name = codeSpans(cells[0]!)[0];
    assert.ok(name, `row '${cells.join(' | ')}' names its plugin in backticks`);
    const attrs = codeSpans(cells[cells.length - 1]!);
    const where = `README attribute table, ${kind} '${name}'`;
    if (kind === 'delivery') {
      assert.deepEqual([...attrs].sort(), deliveryAttributes().sort(), `${where}: the delivery attributes (core/export/options.ts)`);
      exporterSeen.push(...attrs);
      continue;
    }
    assert.ok(kind in names, `${where}: kind must be one of ${Object.keys(names).join(', ')}, delivery`);
    names[kind]!.push(name);
    let expected: string[];
    if (kind === 'processor') expected = name === 'exporter' ? exporterOwnAttributes(registry) : Object.keys(registry.processors.get(name)?.config.properties ?? {});
    else if (kind === 'handler') expected = Object.keys(registry.handlers.get(name)?.config.properties ?? {});
    else if (kind === 'driver') expected = Object.keys(registry.drivers.get(name)?.config.properties ?? {});
    else if (kind === 'transport') expected = transportAttributes(registry, name);
    else expected = Object.keys(registry.encoders.get(name)?.config?.properties ?? {});
    assert.deepEqual([...attrs].sort(), [...expected].sort(), `${where}: the attributes registered`);
    if (kind === 'processor' && name === 'exporter') exporterSeen.push(...attrs);
    if (kind === 'transport' || kind === 'encoder') exporterSeen.push(...attrs);
  }
  assert.deepEqual(names.processor!.sort(), registry.processors.names(), 'every built-in processor has a row');
  assert.deepEqual(names.handler!.sort(), registry.handlers.names(), 'every built-in handler has a row');
  assert.deepEqual(names.driver!.sort(), registry.drivers.names(), 'every built-in driver has a row');
  assert.deepEqual(names.transport!.sort(), registry.transports.names(), 'every built-in transport has a row');
  assert.deepEqual(names.encoder!.sort(), registry.encoders.names(), 'every built-in encoder has a row');
  assert.deepEqual(exporterSeen.sort(), Object.keys(registry.processors.get('exporter')!.config.properties).sort(), 'every exporter attribute is in exactly one row');
});

function cliTable(tool: 'sfprocessor' | 'sysprint', usage: string) {
  const text = section(README(), `cli:${tool}`);
  const real = usageFlags(usage);
  assert.ok(real.size >= 8, `${tool}: flags parsed from the usage text (${[...real].join(' ')})`);
  const listed = new Set<string>();
  for (const cells of tableRows(text)) {
    for (const span of codeSpans(cells[0]!)) {
      const m = /^--?(\w+)/.exec(span);
      assert.ok(m, `README ${tool} flag table: '${span}' is a flag`);
      listed.add(m[1]!);
    }
  }
  for (const f of listed) assert.ok(real.has(f), `README ${tool} flag table: -${f} is not a flag of ${tool} (its usage lists: ${[...real].join(' ')})`);
  for (const f of real) assert.ok(listed.has(f), `${tool} has -${f}, but the README flag table does not list it`);
  const synopsis = codeBlocks(text)
    .map((b) => b.text)
    .join('\n');
  assert.ok(synopsis.includes(tool), `README ${tool}: the synopsis block is inside the markers`);
  for (const f of synopsisFlags(synopsis)) assert.ok(real.has(f), `README ${tool} synopsis: -${f} is not a flag of ${tool}`);
}

test('README: the sfprocessor flag table and synopsis match `sfprocessor -help`', () => {
  const r = sfprocessor(['-help']);
  assert.equal(r.status, 0, r.stderr);
  cliTable('sfprocessor', r.stdout);
});

test('README: the sysprint flag table and synopsis match `sysprint -h`', () => {
  const r = spawnSync(process.execPath, [SYSPRINT, '-h'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  cliTable('sysprint', r.stdout);
});

// ---------------------------------------------------------------------------------------------
// Pipeline configs

function assertValid(args: string[], what: string) {
  const r = sfprocessor(['-test', '-log', 'warn', ...args]);
  assert.equal(r.status, 0, `${what}: sfprocessor -test ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  assert.match(r.stdout, /: valid — driver /, `${what}: -test reports the config valid`);
}

test('every shipped pipeline config (pipelines/*.json) loads with -test and is described in docs/configuration.md', () => {
  const doc = read(CONFIG_DOC);
  const files = readdirSync(join(ROOT, 'pipelines'))
    .filter((f) => f.endsWith('.json'))
    .sort();
  assert.ok(files.length >= 1);
  for (const f of files) {
    assertValid(['-config', `pipelines/${f}`], `pipelines/${f}`);
    assert.ok(doc.includes(`(../pipelines/${f})`), `${CONFIG_DOC} lists pipelines/${f} in its table of shipped configs`);
  }
});

test('every example plugin config (examples/plugins/<name>/pipeline.json) loads with -test and -plugdir dist/examples/plugins/<name>', () => {
  const names = readdirSync(join(ROOT, 'examples', 'plugins'))
    .filter((d) => existsSync(join(ROOT, 'examples', 'plugins', d, 'pipeline.json')))
    .sort();
  assert.ok(names.length >= 1);
  for (const n of names) assertValid(['-plugdir', `dist/examples/plugins/${n}`, '-config', `examples/plugins/${n}/pipeline.json`], `examples/plugins/${n}/pipeline.json`);
});

test('every pipeline config shown in README.md and docs/*.md (a json block with a "pipeline" key) loads with -test', () => {
  let shown = 0;
  for (const doc of DOCS()) {
    const blocks = codeBlocks(read(doc));
    // plugin modules the same doc defines (`<!-- example: name.js -->` before the block) form its -plugdir
    const plugins = blocks.filter((b) => /^example: [\w-]+\.m?js$/.test(b.marker ?? '') && (b.lang === 'js' || b.lang === 'javascript'));
    let plugdir: string | null = null;
    if (plugins.length) {
      plugdir = mkdtempSync(join(TMP, 'plugdir-'));
      for (const p of plugins) writeFileSync(join(plugdir, p.marker!.slice('example: '.length)), p.text);
    }
    for (const b of blocks) {
      if (b.lang !== 'json' || !/"pipeline"/i.test(b.text)) continue;
      const where = `${doc}:${b.line}`;
      let parsed: unknown;
      try {
        parsed = JSON.parse(b.text);
      } catch (e) {
        assert.fail(`${where}: a pipeline config that is not valid JSON: ${(e as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || !Object.keys(parsed).some((k) => k.toLowerCase() === 'pipeline')) continue;
      const file = join(mkdtempSync(join(TMP, 'config-')), 'pipeline.json');
      writeFileSync(file, b.text);
      assertValid([...(plugdir ? ['-plugdir', plugdir] : []), '-config', file], where);
      shown++;
    }
  }
  assert.ok(shown >= 2, `found the pipeline configs shown in the docs (${shown})`);
});

test('every pipeline config path mentioned in README.md, docs/ and examples/plugins/ READMEs exists', () => {
  let mentioned = 0;
  for (const doc of markdownFiles()) {
    for (const m of read(doc).matchAll(/(?<![\w/.-])(pipelines\/[\w.-]+\.json|examples\/plugins\/[\w-]+\/pipeline\.json)\b/g)) {
      mentioned++;
      assert.ok(existsSync(join(ROOT, m[1]!)), `${doc}: mentions ${m[1]}, which does not exist`);
    }
  }
  assert.ok(mentioned >= 5, `found the mentions (${mentioned})`);
});

// ---------------------------------------------------------------------------------------------
// Examples

test('every YAML policy example in README.md and docs/*.md loads with all rules supported', async () => {
  const { loadPolicySet } = await import('../../core/policy/policyset.js');
  const { initHashing } = await import('../../core/util/xxh.js');
  await initHashing();
  const dir = mkdtempSync(join(TMP, 'yaml-'));
  let examples = 0;
  for (const doc of DOCS()) {
    const text = read(doc);
    for (const m of text.matchAll(/```yaml\n([\s\S]*?)```/g)) {
      const file = join(dir, `example-${examples++}.yaml`);
      writeFileSync(file, m[1]!);
      const set = loadPolicySet(file);
      assert.ok(set.report.length > 0, `${doc}: example has rules`);
      for (const r of set.report) assert.ok(r.status === 'supported' || r.status === 'approximated', `${doc}: rule '${r.name}' is ${r.status}: ${r.notes.join('; ')}`);
    }
  }
  assert.ok(examples >= 1, 'found the examples');
});

/**
 * A directory that looks like the repository root (a symlink to each top-level entry), so example
 * commands resolve their relative paths as written while whatever they write lands in the sandbox.
 */
function sandbox(): string {
  const dir = mkdtempSync(join(TMP, 'root-'));
  for (const e of readdirSync(ROOT)) if (e !== '.git') symlinkSync(join(ROOT, e), join(dir, e));
  return dir;
}

test('the example commands of README.md and docs/configuration.md (npx sfprocessor / npx sysprint in sh blocks) run from the repository root', () => {
  const cwd = sandbox();
  let ran = 0;
  for (const doc of ['README.md', CONFIG_DOC]) {
    for (const b of codeBlocks(read(doc))) {
      if ((b.lang !== 'sh' && b.lang !== 'bash') || b.marker === 'docs-test: skip') continue;
      const commands = b.text.replace(/\\\n\s*/g, ' ').split('\n');
      for (const command of commands) {
        if (!/\bnpx (sfprocessor|sysprint)\b/.test(command)) continue;
        const real = command.replace(/\bnpx sfprocessor\b/g, `"${process.execPath}" "${SFPROCESSOR}"`).replace(/\bnpx sysprint\b/g, `"${process.execPath}" "${SYSPRINT}"`);
        const r = spawnSync('bash', ['-c', real], { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 });
        assert.equal(r.status, 0, `${doc}:${b.line}: \`${command.trim()}\` exited ${r.status}:\n${r.stderr}`);
        assert.ok(r.stdout.length > 0, `${doc}:${b.line}: \`${command.trim()}\` printed nothing`);
        ran++;
      }
    }
  }
  assert.ok(ran >= 5, `found the example commands (${ran})`);
});

// ---------------------------------------------------------------------------------------------
// Links

test('relative links in README.md, docs/ and examples/plugins/ READMEs point to existing files and headings', () => {
  const problems = markdownFiles().flatMap((f) => brokenLinks(f));
  assert.deepEqual(problems, []);
});
