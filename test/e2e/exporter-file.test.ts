/** The file transport's rotation, run through the CLI the way a user would. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../helpers/corpus.js';

const CLI = join(ROOT, 'dist/core/cli/sfprocessor.js');
const TRACE = join(FIXTURES, 'traces/sf-collector/mpm-event/full_capture.sf');

function run(dir: string, exporter: Record<string, string>): { status: number | null; stderr: string } {
  const config = join(dir, 'pipeline.json');
  writeFileSync(
    config,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich' },
        { processor: 'exporter', in: 'evt eventchan', export: 'file', format: 'json', ...exporter },
      ],
    }),
  );
  const p = spawnSync(process.execPath, [CLI, '-config', config, '-log', 'warn', TRACE], { encoding: 'utf8', timeout: 60_000 });
  return { status: p.status, stderr: p.stderr };
}

/** Rotated files oldest first, then the current one. */
function inOrder(dir: string, base: string): string[] {
  const rotated = readdirSync(dir)
    .filter((f) => f.startsWith(base + '.'))
    .map((f) => Number(f.slice(base.length + 1)))
    .filter(Number.isInteger)
    .sort((a, b) => b - a);
  return [...rotated.map((n) => join(dir, `${base}.${n}`)), join(dir, base)];
}

test('rotation by size: whole records in every file, nothing lost or reordered, keep N', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-rot-'));
  try {
    assert.equal(run(dir, { 'file.path': join(dir, 'plain.json') }).status, 0);
    const plain = readFileSync(join(dir, 'plain.json'), 'utf8');
    const total = plain.split('\n').length - 1;
    assert.ok(total > 4000);

    let r = run(dir, { 'file.path': join(dir, 'all.json'), 'file.rotate.size': '200K', 'file.rotate.keep': '100' });
    assert.equal(r.status, 0, r.stderr);
    const files = inOrder(dir, 'all.json');
    assert.ok(files.length >= 3, `${files.length} files`);
    const texts = files.map((f) => readFileSync(f, 'utf8'));
    for (const [i, t] of texts.entries()) if (t.length) assert.ok(t.endsWith('}\n') && t.startsWith('{"version"'), `${files[i]} holds whole records`);
    assert.equal(texts.join(''), plain, 'rotated files concatenated = unrotated output');

    r = run(dir, { 'file.path': join(dir, 'few.json'), 'file.rotate.size': '200K', 'file.rotate.keep': '2' });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      readdirSync(dir)
        .filter((f) => f.startsWith('few.json'))
        .sort(),
      ['few.json', 'few.json.1', 'few.json.2'],
    );
    const kept = inOrder(dir, 'few.json')
      .map((f) => readFileSync(f, 'utf8'))
      .join('');
    assert.ok(plain.endsWith(kept), 'the newest records are kept');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('rotation by age, and bad rotation settings are clear errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-rot-'));
  try {
    const r = run(dir, { 'file.path': join(dir, 'age.json'), 'file.rotate.interval': '1ms', 'file.rotate.keep': '1000' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'age.json.2')), 'rotated at batch boundaries');
    const bad = run(dir, { 'file.path': join(dir, 'x.json'), 'file.rotate.size': 'lots' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /file\.rotate\.size': must be a size such as 4096, 512K, 10M or 1G, got 'lots'/);
    assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
