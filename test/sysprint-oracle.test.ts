/**
 * sysprint against upstream's output: every JSON line and every CSV byte must equal what upstream
 * sysprint 0.6.1 printed (shared/oracle), for every oracle trace. Where upstream crashed part-way
 * (legacy L7 files), the lines it did print must be our first lines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSysprint } from '../core/sysprint/sysprint.js';
import { MemorySink } from '../core/util/bytes.js';
import { createLogger } from '../core/log.js';
import { CORPUS_NOTE, listOracle, readOracle, tracePath, HAVE_SHARED } from './helpers/corpus.js';

const log = createLogger('test', 'silent');
/** Traces on which upstream sysprint fails part-way (sysflow-format.md §4.8). */
const UPSTREAM_FAILS = new Set(['sf-apis/data/objectstore/data/play/mon.1544763379']);

async function sysprint(trace: string, format: 'json' | 'csv'): Promise<string> {
  const sink = new MemorySink();
  const r = await runSysprint({ format, files: [tracePath(trace)] }, sink, log);
  assert.equal(r.failedFiles, 0);
  return sink.text();
}

test(`corpus: ${CORPUS_NOTE}`, () => {
  assert.ok(listOracle('json').length >= (HAVE_SHARED ? 19 : 5));
});

for (const trace of listOracle('json')) {
  test(`sysprint -o json equals upstream: ${trace}`, async () => {
    const ours = (await sysprint(trace, 'json')).split('\n');
    ours.pop();
    const theirs = readOracle(trace, 'json').split('\n');
    theirs.pop();
    if (UPSTREAM_FAILS.has(trace)) assert.ok(ours.length > theirs.length, 'we print past the point where upstream failed');
    else assert.equal(ours.length, theirs.length, 'line count');
    for (let i = 0; i < theirs.length; i++) {
      if (ours[i] !== theirs[i]) {
        const a = JSON.parse(ours[i]!) as Record<string, unknown>;
        const b = JSON.parse(theirs[i]!) as Record<string, unknown>;
        assert.deepEqual(a, b, `line ${i + 1} differs`);
        assert.fail(`line ${i + 1}: same values, different text:\n ours ${ours[i]!.slice(0, 300)}\ntheirs ${theirs[i]!.slice(0, 300)}`);
      }
    }
  });
}

for (const trace of listOracle('csv')) {
  test(`sysprint -o csv equals upstream: ${trace}`, async () => {
    const ours = await sysprint(trace, 'csv');
    const theirs = readOracle(trace, 'csv');
    if (UPSTREAM_FAILS.has(trace)) assert.equal(ours.slice(0, theirs.length), theirs);
    else if (ours !== theirs) {
      let i = 0;
      while (ours[i] === theirs[i]) i++;
      assert.fail(`first difference at char ${i}:\n ours …${JSON.stringify(ours.slice(Math.max(0, i - 60), i + 60))}\ntheirs …${JSON.stringify(theirs.slice(Math.max(0, i - 60), i + 60))}`);
    }
  });
}
