/**
 * nextBlockAsync (blocks inflating ahead on the thread pool, used by the file driver) must deliver
 * exactly what nextBlock delivers: same blocks, records, warnings and statistics, intact or damaged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SysFlowFileReader } from '../core/avro/ocf.js';
import { FIXTURES } from './helpers/corpus.js';

const TRACES = ['sf-processor/tcp.sf', 'sf-processor/shellshock.sf', 'sf-processor/k8s_small.sf', 'sf-collector/files/files.sf'];

function summary(r: SysFlowFileReader, blocks: { offset: number; records: unknown[] }[]): string {
  return JSON.stringify({
    blocks: blocks.map((b) => [b.offset, b.records.length, JSON.stringify(b.records)]),
    warnings: r.warnings,
    stats: r.stats,
  });
}

function readSync(name: string, buf: Buffer): string {
  const r = SysFlowFileReader.fromBuffer(name, buf, { onWarning: () => {} });
  const blocks = [];
  for (let b = r.nextBlock(); b; b = r.nextBlock()) blocks.push(b);
  return summary(r, blocks);
}

async function readAsync(name: string, buf: Buffer): Promise<string> {
  const r = SysFlowFileReader.fromBuffer(name, buf, { onWarning: () => {} });
  const blocks = [];
  for (let b = await r.nextBlockAsync(); b; b = await r.nextBlockAsync()) blocks.push(b);
  assert.equal(await r.nextBlockAsync(), null);
  return summary(r, blocks);
}

/** Seeded xorshift, so a failure names a reproducible case. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

for (const t of TRACES) {
  test(`nextBlockAsync equals nextBlock: ${t}, intact, truncated and with flipped bytes`, async () => {
    const buf = readFileSync(join(FIXTURES, 'traces', t));
    assert.equal(await readAsync(t, buf), readSync(t, buf), 'intact');
    const headerSize = SysFlowFileReader.fromBuffer(t, buf).header.size;
    const rnd = prng(t.length * 7919);
    let cases = 0;
    for (let i = 0; i < 20; i++) {
      const cut = headerSize + Math.floor(rnd() * (buf.length - headerSize));
      const b = buf.subarray(0, cut);
      let sync: string;
      try {
        sync = readSync(t, b);
      } catch {
        continue; // header damaged: both refuse at open
      }
      assert.equal(await readAsync(t, b), sync, `truncated at ${cut}`);
      cases++;
    }
    for (let i = 0; i < 60; i++) {
      const b = Buffer.from(buf);
      const flips = 1 + Math.floor(rnd() * 3);
      const at: number[] = [];
      for (let j = 0; j < flips; j++) {
        const p = headerSize + Math.floor(rnd() * (buf.length - headerSize));
        b[p] = b[p]! ^ (1 + Math.floor(rnd() * 255));
        at.push(p);
      }
      let sync: string;
      try {
        sync = readSync(t, b);
      } catch {
        continue;
      }
      assert.equal(await readAsync(t, b), sync, `bytes flipped at ${at.join(', ')}`);
      cases++;
    }
    assert.ok(cases >= 60, `${cases} damaged variants compared`);
  });
}
