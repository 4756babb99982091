/**
 * Reading with the inflate worker (blocks located ahead and inflated on a second core, as the file
 * driver reads large files) must deliver exactly what reading on one thread delivers: the same
 * blocks, records, warnings and statistics, for intact, truncated and damaged input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SysFlowFileReader, type ReaderOptions } from '../core/avro/ocf.js';
import { SysFlowFileWriter } from './helpers/ocf-writer.js';
import { inflater } from '../core/avro/inflater.js';
import { CORPUS_NOTE, FIXTURES, TRACES_DIR, listTraces } from './helpers/corpus.js';
import { prng } from './helpers/prng.js';

const WORKER: ReaderOptions = { inflate: 'worker', onWarning: () => {} };

function summary(r: SysFlowFileReader, blocks: { offset: number; records: unknown[] }[]): string {
  return JSON.stringify({
    blocks: blocks.map((b) => [b.offset, b.records.length, JSON.stringify(b.records)]),
    warnings: r.warnings,
    stats: r.stats,
  });
}

function readSync(name: string, buf: Buffer): string {
  const r = SysFlowFileReader.fromBuffer(name, buf, { inflate: 'here', onWarning: () => {} });
  const blocks = [];
  for (let b = r.nextBlock(); b; b = r.nextBlock()) blocks.push(b);
  return summary(r, blocks);
}

function readAhead(name: string, buf: Buffer, opts: ReaderOptions = WORKER): string {
  const seen: string[] = [];
  const r = SysFlowFileReader.fromBuffer(name, buf, { ...opts, onWarning: (w) => seen.push(w.message) });
  const blocks = [];
  for (let b = r.nextBlock(); b; b = r.nextBlock()) blocks.push(b);
  assert.equal(r.nextBlock(), null, 'null again after the end');
  r.close();
  assert.deepEqual(
    seen,
    r.warnings.map((w) => w.message),
    'onWarning called in order, once per warning',
  );
  return summary(r, blocks);
}

/** Equal summaries, or a failure showing where they part (whole summaries are megabytes). */
function same(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let i = 0;
  while (i < actual.length && actual[i] === expected[i]) i++;
  assert.fail(`${what}: differs at character ${i}:\n  worker:     …${actual.slice(Math.max(0, i - 200), i + 300)}\n  one thread: …${expected.slice(Math.max(0, i - 200), i + 300)}`);
}

/** k8s_small.sf rewritten in small blocks: many more blocks than the read-ahead holds. */
function manyBlocks(): Buffer {
  const records = SysFlowFileReader.fromBuffer('k8s', readFileSync(join(FIXTURES, 'traces/sf-processor/k8s_small.sf'))).readAll();
  return SysFlowFileWriter.toBuffer(records, { blockBytes: 3000, sync: Buffer.from('0123456789abcdef') }); // fixed: the same bytes every run
}

/** Truncations and byte flips of `buf`, each read both ways. */
function compareDamaged(name: string, buf: Buffer, seed: number, cuts: number, flips: number): number {
  const headerSize = SysFlowFileReader.fromBuffer(name, buf).header.size;
  const rnd = prng(seed);
  let cases = 0;
  const variants: [string, Buffer][] = [];
  for (let i = 0; i < cuts; i++) {
    const cut = headerSize + Math.floor(rnd() * (buf.length - headerSize));
    variants.push([`truncated at ${cut}`, buf.subarray(0, cut)]);
  }
  for (let i = 0; i < flips; i++) {
    const b = Buffer.from(buf);
    const at: number[] = [];
    for (let j = 0, n = 1 + Math.floor(rnd() * 3); j < n; j++) {
      const p = headerSize + Math.floor(rnd() * (buf.length - headerSize));
      b[p] = b[p]! ^ (1 + Math.floor(rnd() * 255));
      at.push(p);
    }
    variants.push([`bytes flipped at ${at.join(', ')}`, b]);
  }
  for (const [what, b] of variants) {
    let sync: string;
    try {
      sync = readSync(name, b);
    } catch {
      continue; // header damaged: both refuse at open
    }
    same(readAhead(name, b), sync, `${name}: ${what}`);
    cases++;
  }
  return cases;
}

for (const t of ['sf-processor/tcp.sf', 'sf-processor/shellshock.sf', 'sf-processor/k8s_small.sf', 'sf-collector/mpm-event/full_capture.sf']) {
  test(`the inflate worker reads as one thread does: ${t}, intact, truncated and with flipped bytes`, () => {
    const buf = readFileSync(join(FIXTURES, 'traces', t));
    same(readAhead(t, buf), readSync(t, buf), 'intact');
    assert.ok(compareDamaged(t, buf, t.length * 7919, 20, 60) >= 60);
  });
}

test('the inflate worker reads as one thread does on a many-block file, intact and damaged', () => {
  const buf = manyBlocks();
  const sync = readSync('many', buf);
  assert.ok((JSON.parse(sync) as { stats: { blocks: number } }).stats.blocks > 40, 'more blocks than the read-ahead');
  same(readAhead('many', buf), sync, 'worker');
  same(readAhead('many', buf, { inflate: 'auto' }), sync, 'auto (here: a small file)');
  same(readAhead('many', buf, { inflate: 'here' }), sync, 'here');
  assert.ok(compareDamaged('many', buf, 424242, 20, 120) >= 120);
});

test('blocks whose inflate fails with the sync pattern inside their data: reading ahead is undone', () => {
  const buf = manyBlocks();
  const sync = SysFlowFileReader.fromBuffer('many', buf).header.sync;
  // the sync marker written into the data of blocks 5 to 14, at several places each: the reader then
  // resumes at that inner marker, behind the blocks already read ahead
  const starts: number[] = [];
  for (let at = buf.indexOf(sync) + 16; at > 15 && starts.length < 16; at = buf.indexOf(sync, at) + 16) starts.push(at);
  let undone = 0;
  for (let b = 5; b < 15; b++) {
    for (let k = 1; k < 8; k++) {
      const mid = starts[b]! + Math.floor(((starts[b + 1]! - 16 - starts[b]!) * k) / 8);
      const damaged = Buffer.from(buf);
      sync.copy(damaged, mid);
      const expected = readSync('many', damaged);
      const warnings = (JSON.parse(expected) as { warnings: { message: string }[] }).warnings.map((w) => w.message);
      if (warnings.some((w) => /deflate data/.test(w) && w.includes(`to the next sync marker at byte ${mid}`))) undone++;
      same(readAhead('many', damaged), expected, `sync pattern at byte ${mid} (block ${b})`);
    }
  }
  assert.ok(undone >= 10, `${undone} cases resumed at an inner marker`);
});

test(`the inflate worker reads as one thread does on every corpus trace (${CORPUS_NOTE})`, () => {
  let n = 0;
  for (const t of listTraces()) {
    const buf = readFileSync(join(TRACES_DIR, t));
    let sync: string;
    try {
      sync = readSync(t, buf);
    } catch {
      continue;
    }
    same(readAhead(t, buf), sync, t);
    n++;
  }
  assert.ok(n > 10, `${n} traces`);
});

test('the worker did inflate blocks in these tests (they are not all inflated here)', () => {
  const { worker, here } = inflater().stats;
  assert.ok(worker > 1000, `worker ${worker}, here ${here}`);
});
