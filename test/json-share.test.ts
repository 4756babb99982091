/**
 * Lines shared between an exporter's json encoder and the subscriptions stage
 * (core/export/encoders/json-share.ts): what the consumer gets is byte for byte what it would
 * encode itself, on every bundled record, also when the exporter's buffer flushes mid-line; a
 * record changed after its line was kept, a batch the exporter did not see, and another schema
 * version are encoded afresh; sharing stops when it keeps missing; only lines the consumer wants
 * are kept.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { JsonEncoder } from '../core/export/encoders/json.js';
import { type LineShare, shareLines, stopSharing } from '../core/export/encoders/json-share.js';
import type { FlatRecord } from '../core/flatten/flatrecord.js';
import { MemorySink } from '../core/util/bytes.js';
import { FIXTURES } from './helpers/corpus.js';
import { flatRecords } from './helpers/run-pipeline.js';

/** The consumer's side, as the subscriptions stage writes: the kept line, else its own encoding. */
function consume(share: LineShare, own: JsonEncoder, batch: readonly FlatRecord[]): { text: string; copied: number } {
  const out = new MemorySink();
  let copied = 0;
  for (const r of batch) {
    if (share.copy(r, out)) copied++;
    else own.encode(r, out);
  }
  return { text: out.text(), copied };
}

function ownText(enc: JsonEncoder, batch: readonly FlatRecord[]): string {
  const out = new MemorySink();
  for (const r of batch) enc.encode(r, out);
  return out.text();
}

function withShare(fn: (share: LineShare, own: JsonEncoder) => void): void {
  const own = new JsonEncoder('5');
  const share = shareLines(own.key, own);
  assert.ok(share);
  try {
    fn(share, own);
  } finally {
    stopSharing(share);
  }
}

test('shared lines are the bytes the consumer would write, for every bundled record, with small and large exporter buffers', async () => {
  const records = await flatRecords(join(FIXTURES, 'traces'));
  assert.ok(records.length > 1000);
  // what the stage would write on its own, computed while no share is active
  const reference = new JsonEncoder('5');
  const expected: string[] = [];
  for (let i = 0; i < records.length; i += 700) expected.push(ownText(reference, records.slice(i, i + 700)));
  for (const capacity of [64 << 20, 16 << 10]) {
    withShare((share, own) => {
      const exporter = new JsonEncoder('5');
      let copied = 0;
      share.endBatch(true);
      for (let i = 0; i < records.length; i += 700) {
        const batch = records.slice(i, i + 700);
        const sink = new MemorySink(capacity);
        for (const r of batch) exporter.encode(r, sink);
        const got = consume(share, own, batch);
        share.endBatch(true);
        copied += got.copied;
        assert.equal(got.text, expected[i / 700], `batch at record ${i}`);
        assert.equal(sink.text(), got.text, 'the exporter wrote the same');
      }
      if (capacity === 64 << 20) assert.equal(copied, records.length, 'with a buffer larger than any batch every line is shared');
      else assert.ok(copied > 0 && copied < records.length, `lines split by a flush are encoded again (${copied} of ${records.length} shared)`);
    });
  }
});

test('a record whose rules grew after its line was kept, a batch the exporter did not see and another schema version are encoded afresh', async () => {
  const records = (await flatRecords(join(FIXTURES, 'traces'))).slice(0, 400);
  withShare((share, own) => {
    share.endBatch(true);
    const exporter = new JsonEncoder('5');
    const sink = new MemorySink();
    for (const r of records) exporter.encode(r, sink);
    // a later policy engine adds a rule to one record after the exporter wrote it
    const changed = records[10]!;
    changed.addRule({ name: 'late rule', desc: 'added after export', priority: 2, tags: ['t'] });
    const got = consume(share, own, records);
    assert.equal(got.copied, records.length - 1);
    assert.match(got.text.split('\n')[10]!, /late rule/);
    share.endBatch(true);

    // the exporter runs after the consumer (or elsewhere): nothing matches, the consumer encodes
    for (let k = 0; k < 8; k++) {
      assert.equal(share.wanted, true, `still sharing after ${k} missed batches`);
      const batch = records.slice(k * 40, k * 40 + 40);
      const next = records.slice(k * 40 + 40, k * 40 + 80);
      for (const r of next) exporter.encode(r, new MemorySink());
      assert.equal(consume(share, own, batch).copied, 0);
      share.endBatch(true);
    }
    assert.equal(share.wanted, false, 'sharing stops after 8 batches in a row that missed');
    for (const r of records.slice(0, 5)) exporter.encode(r, new MemorySink());
    assert.equal(consume(share, own, records.slice(0, 5)).copied, 0, 'and nothing is kept any more');
  });
  withShare((share, own) => {
    share.endBatch(true);
    const other = new JsonEncoder('4');
    for (const r of records) other.encode(r, new MemorySink());
    assert.equal(consume(share, own, records).copied, 0, 'a schema-4 exporter gives no lines to a schema-5 stage');
  });
  withShare((share, own) => {
    share.endBatch(false);
    const exporter = new JsonEncoder('5');
    for (const r of records) exporter.encode(r, new MemorySink());
    assert.equal(consume(share, own, records).copied, 0, 'while the consumer has no streams, nothing is kept');
  });
});

test('one consumer at a time: a second stage gets no share until the first stops', () => {
  const a = new JsonEncoder('5');
  const s = shareLines(a.key, a);
  assert.ok(s);
  assert.equal(shareLines(a.key, new JsonEncoder('5')), null);
  stopSharing(s);
  const again = shareLines(a.key, a);
  assert.ok(again);
  stopSharing(again);
});

test('only the lines the consumer wants are kept; a line it asks for anyway is encoded afresh', async () => {
  const records = (await flatRecords(join(FIXTURES, 'traces'))).slice(0, 1000);
  const expected = ownText(new JsonEncoder('5'), records);
  withShare((share, own) => {
    share.wants = (r) => r.sfType !== 6;
    share.endBatch(true);
    const exporter = new JsonEncoder('5');
    const wanted = records.filter((r) => r.sfType !== 6);
    assert.ok(wanted.length > 0 && wanted.length < records.length);
    for (const r of records) exporter.encode(r, new MemorySink());
    const asked = consume(share, own, wanted);
    assert.equal(asked.copied, wanted.length, 'every wanted line was kept');
    assert.equal(asked.text, ownText(own, wanted));
    share.endBatch(true);
    for (const r of records) exporter.encode(r, new MemorySink());
    const got = consume(share, own, records);
    // the first unwanted record asked for misses, and the rest of the batch is encoded afresh
    const firstUnwanted = records.findIndex((r) => r.sfType === 6);
    assert.ok(firstUnwanted > 0);
    assert.equal(got.copied, firstUnwanted);
    assert.equal(got.text, expected);
  });
});
