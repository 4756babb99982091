/**
 * Every trace of the corpus: decoded record counts by type equal the reference table, sysprint line
 * counts equal upstream's (for the 49 traces upstream reads), every line is valid JSON with the 75
 * fields, and the raw decode equals upstream's datum dump (oracle *.records.jsonl) field by field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SysFlowFileReader } from '../core/avro/ocf.js';
import { runSysprint } from '../core/sysprint/sysprint.js';
import { MemorySink } from '../core/util/bytes.js';
import { createLogger } from '../core/log.js';
import { exactToString } from '../core/util/i64.js';
import { SF_TYPE_CODES, SfType } from '../core/sysflow/types.js';
import { CORPUS_NOTE, listOracle, listTraces, parseExactJson, readOracle, tracePath } from './helpers/corpus.js';
import { TRACE_TABLE } from './helpers/trace-table.js';

const log = createLogger('test', 'silent');

test(`corpus: ${CORPUS_NOTE}`, () => {
  assert.ok(listTraces().length > 0);
});

for (const trace of listTraces()) {
  const facts = TRACE_TABLE[trace];
  test(`decode and print: ${trace}`, async () => {
    assert.ok(facts, `${trace} is in the reference table`);
    const reader = SysFlowFileReader.open(tracePath(trace));
    const recs = reader.readAll();
    assert.equal(reader.warnings.length, 0, 'no damage reported');
    assert.equal(recs.length, facts.records);
    const counts = new Map<string, number>();
    for (const r of recs) counts.set(SF_TYPE_CODES[r.sfType], (counts.get(SF_TYPE_CODES[r.sfType]) ?? 0) + 1);
    // The table writes legacy ProcessEvent-shaped "ProcessFlow" records as PF*; we read them as PE.
    const expected = facts.byType
      .replace('PF*=', 'PE=')
      .split(' ')
      .map((kv) => kv.split('=') as [string, string]);
    for (const [code, n] of expected) assert.equal(counts.get(code) ?? 0, Number(n), `${code} records`);

    const sink = new MemorySink();
    await runSysprint({ format: 'json', files: [tracePath(trace)] }, sink, log);
    const lines = sink.text().split('\n');
    lines.pop();
    const events = recs.filter((r) => r.sfType >= SfType.PE && r.sfType !== SfType.POD).length;
    assert.equal(lines.length, events, 'one line per flow/event record');
    if (facts.sysprintLines !== null) assert.equal(lines.length, facts.sysprintLines, 'upstream line count');
    for (const l of lines) {
      const o = JSON.parse(l) as Record<string, unknown>;
      assert.equal(Object.keys(o).length, 24); // 75 fields nested into 24 top-level keys
      assert.equal(typeof o.ts_uts, 'number');
    }
  });
}

/** Compare one decoded value with upstream's dump of it (exact ints arrive as "#int:digits"). */
function same(ours: unknown, theirs: unknown, path: string, owner?: Record<string, unknown>, key?: string): void {
  if (typeof theirs === 'string' && theirs.startsWith('#int:')) {
    assert.ok(owner && key, path);
    assert.equal(exactToString(owner[key] as number, owner[key + 'Ns'] as number), theirs.slice(5), path);
  } else if (theirs === null || typeof theirs !== 'object') {
    if (owner && key && (key === 'ts' || key === 'endTs' || key === 'createTS') && typeof theirs === 'number') {
      assert.equal(exactToString(owner[key] as number, owner[key + 'Ns'] as number), String(theirs), path);
    } else assert.equal(ours, theirs, path);
  } else if (Array.isArray(theirs)) {
    assert.ok(Array.isArray(ours), path);
    assert.equal(ours.length, theirs.length, path);
    theirs.forEach((t, i) => same((ours as unknown[])[i], t, `${path}[${i}]`));
  } else {
    const o = ours as Record<string, unknown>;
    assert.ok(o && typeof o === 'object', path);
    for (const [k, t] of Object.entries(theirs)) same(o[k], t, `${path}.${k}`, o, k);
  }
}

const LEGACY_EVENT_FLAGS: Record<string, number> = { CLONE: 1, EXEC: 2, EXIT: 4 };

for (const trace of listOracle('records.jsonl')) {
  test(`raw decode equals upstream's datum dump: ${trace}`, () => {
    const recs = SysFlowFileReader.open(tracePath(trace)).readAll() as unknown as Record<string, unknown>[];
    const lines = readOracle(trace, 'records.jsonl').split('\n').filter(Boolean);
    assert.equal(recs.length, lines.length);
    lines.forEach((line, i) => {
      const d = parseExactJson(line) as { i: number; type: string; rec: Record<string, unknown> };
      const ours = recs[i]!;
      const rec = { ...d.rec };
      // Legacy layouts: L4 Process.type is the state; L4 "ProcessFlow".type is an event kind.
      if (ours.sfType === SfType.P && 'type' in rec) {
        assert.equal(ours.state, rec.type);
        delete rec.type;
      }
      if (ours.sfType === SfType.PE && 'type' in rec) {
        assert.equal(ours.opFlags, LEGACY_EVENT_FLAGS[rec.type as string]);
        delete rec.type;
      }
      delete rec.imagerepo; // v1001 Container field, dropped by design
      const name = d.type === 'sysflow.flow.ProcessFlow' && 'args' in d.rec ? 'sysflow.event.ProcessEvent' : d.type;
      assert.equal(
        SF_TYPE_CODES[ours.sfType as number],
        SF_TYPE_CODES[
          [
            'sysflow.entity.SFHeader',
            'sysflow.entity.Container',
            'sysflow.entity.Process',
            'sysflow.entity.File',
            'sysflow.event.ProcessEvent',
            'sysflow.flow.NetworkFlow',
            'sysflow.flow.FileFlow',
            'sysflow.event.FileEvent',
            'sysflow.event.NetworkEvent',
            'sysflow.flow.ProcessFlow',
            'sysflow.entity.Pod',
            'sysflow.event.K8sEvent',
          ].indexOf(name)
        ],
        `datum ${i} type`,
      );
      same(ours, rec, `datum ${i} (${d.type})`);
    });
  });
}
