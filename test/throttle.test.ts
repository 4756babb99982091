/**
 * Rule throttles (core/policy/throttle.ts): on the trace corpus the engine alerts and suppresses
 * exactly what an independent count in this file says; the next alert of a key carries the
 * suppressed count and its window's start; keys stay under the cap with a million distinct ones;
 * state survives a reload while the throttle is unchanged; bad throttles are load errors at
 * file:line:col; the engine's default throttle applies to rules without one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FlatRecord } from '../core/flatten/flatrecord.js';
import { procName } from '../core/flatten/derive.js';
import { SfType } from '../core/sysflow/types.js';
import { Throttle, ThrottleStore } from '../core/policy/throttle.js';
import { CORPUS_NOTE, FIXTURES, TRACES_DIR } from './helpers/corpus.js';
import { policyFromYaml, writePolicy } from './helpers/records.js';
import { loadPolicySet } from '../core/policy/policyset.js';
import { flatRecords } from './helpers/run-pipeline.js';
import { CLI } from './helpers/socket-harness.js';

const RULE = ['- rule: file flows', '  desc: d', '  condition: sf.type = FF', '  priority: low', '  throttle: {key: [proc.name, sf.file.type], window: 30s, max: 3}', ''].join('\n');

/** The throttle's semantics, written again independently: per key, windows of record time opened by an alert. */
function expected(records: readonly FlatRecord[]) {
  const win = new Map<string, { start: number; n: number; sup: number }>();
  const out: { alert: boolean; suppressed: number; start: number }[] = [];
  for (const r of records) {
    if (r.sfType !== SfType.FF) {
      out.push({ alert: false, suppressed: 0, start: 0 });
      continue;
    }
    const t = r.rec.ts / 1e6;
    const k = `${procName(r.proc)}\u0000${String.fromCharCode(r.file?.restype ?? 0)}`;
    const w = win.get(k);
    if (w && t - w.start < 30_000) {
      if (w.n < 3) {
        w.n++;
        out.push({ alert: true, suppressed: 0, start: 0 });
      } else {
        w.sup++;
        out.push({ alert: false, suppressed: 0, start: 0 });
      }
      continue;
    }
    out.push({ alert: true, suppressed: w?.sup ?? 0, start: w?.start ?? 0 });
    win.set(k, { start: t, n: 1, sup: 0 });
  }
  return out;
}

test(`throttle counts are exact on the traces against an independent count (${CORPUS_NOTE})`, async () => {
  const records = await flatRecords(TRACES_DIR);
  const want = expected(records);
  const set = policyFromYaml(RULE);
  let alerts = 0;
  let carried = 0;
  for (const [i, r] of records.entries()) {
    const alerted = set.evaluate(r);
    const w = want[i]!;
    assert.equal(alerted, w.alert, `record ${i + 1}`);
    if (!alerted) continue;
    alerts++;
    const m = r.rules![0]!;
    assert.equal(m.suppressed ?? 0, w.suppressed, `record ${i + 1}: suppressed`);
    if (w.suppressed > 0) {
      assert.equal(m.windowStart, w.start);
      carried += w.suppressed;
    }
  }
  const ff = records.filter((r) => r.sfType === SfType.FF).length;
  const suppressed = set.rules[0]!.throttle!.suppressedTotal;
  assert.equal(alerts + suppressed, ff, 'every match alerted or was suppressed');
  assert.ok(suppressed > 1000 && carried > 0, `${suppressed} suppressed, ${carried} reported by later alerts`);
});

test('a million distinct keys stay under the cap; the dropped ones are counted', () => {
  const store = new ThrottleStore(10_000);
  let n = 0;
  const t = store.get('r', { key: ['x'], windowMs: 60_000, max: 1 }, () => String(n));
  const r = { rec: { ts: 0 } } as unknown as FlatRecord;
  for (n = 0; n < 1_000_000; n++) {
    (r.rec as { ts: number }).ts = n * 1e6;
    assert.equal(t.admit(r).alert, true);
  }
  assert.equal(t.keys, 10_000);
  assert.equal(store.evicted, 990_000);
});

test("throttle state survives a reload while the rule's throttle is unchanged", () => {
  const store = new ThrottleStore();
  const file = writePolicy(RULE);
  const a = loadPolicySet(file, { throttles: store });
  const b = loadPolicySet(file, { throttles: store });
  assert.ok(a.rules[0]!.throttle instanceof Throttle);
  assert.equal(a.rules[0]!.throttle, b.rules[0]!.throttle, 'the same state');
  const c = loadPolicySet(writePolicy(RULE.replace('max: 3', 'max: 4')), { throttles: store });
  assert.notEqual(c.rules[0]!.throttle, a.rules[0]!.throttle, 'a changed throttle starts afresh');
});

test('bad throttles are load errors at file:line:col', () => {
  const err = (t: string) => {
    try {
      policyFromYaml(RULE.replace('{key: [proc.name, sf.file.type], window: 30s, max: 3}', t));
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.match(err('{key: [proc.nme], window: 30s}'), /policy\.yaml:5:20: rule 'file flows': throttle\.key: unknown field 'proc\.nme' \(did you mean 'proc\.name'\?\)/);
  assert.match(err('{key: [proc.name], window: soon}'), /:5:\d+: rule 'file flows': throttle\.window: expected a duration such as 60s, 5m or 1h, got 'soon'/);
  assert.match(err('{key: [proc.name], window: 30s, max: 0}'), /throttle\.max' must be a whole number of at least 1/);
  assert.match(err('{keys: [proc.name], window: 30s}'), /throttle: unknown key 'keys' \(key, window, max\)/);
  assert.match(err('5'), /'throttle' must be a mapping/);
});

test("the engine's default throttle (throttle.* attributes) applies to rules without their own", () => {
  const p = spawnSync(process.execPath, [CLI, '-config', 'pipelines/pipeline.terminal.json', '-log', 'info', join(FIXTURES, 'traces', 'sf-processor', 'k8s_small.sf')], {
    encoding: 'utf8',
    cwd: join(FIXTURES, '..', '..'),
    env: {
      ...process.env,
      POLICYENGINE_POLICIES: writePolicy(RULE.replace(/ {2}throttle:.*\n/, '')),
      POLICYENGINE_THROTTLE_MAX: '1',
      POLICYENGINE_THROTTLE_KEY: 'proc.name',
      POLICYENGINE_THROTTLE_WINDOW: '1h',
    },
  });
  assert.equal(p.status, 0, p.stderr);
  const alerts = p.stdout.split('\n').filter(Boolean);
  const names = new Set(alerts.map((l) => (JSON.parse(l) as { proc: { exe: string } }).proc.exe));
  assert.equal(alerts.length, names.size, 'one alert per process name within the hour');
  assert.match(p.stderr, /throttle: \d+ matches suppressed by 1 rule throttles, 0 keys dropped/);
  const bad = spawnSync(process.execPath, [CLI, '-test', '-config', 'pipelines/pipeline.terminal.json'], {
    encoding: 'utf8',
    cwd: join(FIXTURES, '..', '..'),
    env: { ...process.env, POLICYENGINE_THROTTLE_MAX: '1', POLICYENGINE_THROTTLE_KEY: 'proc.nam' },
  });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /attribute 'throttle\.key': unknown field 'proc\.nam'/);
});
