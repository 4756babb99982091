/**
 * Canonical event fields (core/flatten/canonical.ts) as rules and outputs see them: evt.seq is 1, 2,
 * 3, … without a gap over a whole run — a directory of traces with the file driver, two collector
 * connections with the socket driver, a policy reload between them — and evt.name, evt.category
 * and evt.host follow the documented table on every bundled record.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { EVENT_TABLE } from '../../core/flatten/canonical.js';
import { OpFlags } from '../../core/sysflow/flags.js';
import { FIXTURES } from '../helpers/corpus.js';
import { CLI, pipelineConfig, ProcessorRun, streamSend, traceMessages } from '../helpers/socket-harness.js';

const TRACES = join(FIXTURES, 'traces');

function setup(output: string, socket = false): { dir: string; cfg: string; out: string; policy: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-canon-'));
  const policy = join(dir, 'policy.yaml');
  writeFileSync(policy, ['- rule: every record', '  desc: all', '  condition: evt.seq > 0', `  output: "${output}"`, '  priority: low', ''].join('\n'));
  const out = join(dir, 'out.json');
  const cfg = join(dir, 'pipeline.json');
  writeFileSync(cfg, JSON.stringify(pipelineConfig(out, socket ? { type: 'stream' } : undefined, { policies: policy, mode: 'alert', monitor: 'local', 'monitor.interval': '0.2' })));
  return { dir, cfg, out, policy };
}

interface Line {
  type: string;
  opflags: string[];
  node: { id: string };
  policies: { output: string }[];
}
const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);

const CODES: Record<string, number> = { PE: 4, NF: 5, FF: 6, FE: 7, NE: 8, PF: 9, KE: 11 };
const FLAG_BITS: Record<string, number> = { ...OpFlags, WRITE: OpFlags.WRITE_SEND, READ: OpFlags.READ_RECV, SEND: OpFlags.WRITE_SEND, RECV: OpFlags.READ_RECV };

test('file driver over a directory of traces: evt.seq counts every record from 1 without a gap; evt.name/category/host follow the table', () => {
  const s = setup('%evt.seq|%evt.name|%evt.category|%evt.host|%evt.num');
  try {
    const p = spawnSync(process.execPath, [CLI, '-config', s.cfg, '-log', 'warn', TRACES], { encoding: 'utf8', env: { ...process.env, POLICYENGINE_MONITOR: 'none' } });
    assert.equal(p.status, 0, p.stderr);
    const got = lines(s.out);
    assert.ok(got.length > 5000, `${got.length} records`);
    const types = new Set<string>();
    for (const [i, l] of got.entries()) {
      const [seq, name, category, host, num] = l.policies[0]!.output.split('|');
      assert.equal(Number(seq), i + 1, `record ${i + 1}`);
      assert.equal(num, seq, 'evt.num is evt.seq');
      assert.equal(host, l.node.id);
      // the table, applied independently: the first of the type's ops the record has, else the fallback
      const t = EVENT_TABLE.get(CODES[l.type]!)!;
      const bits = l.opflags.reduce((m, f) => m | (FLAG_BITS[f] ?? 0), 0);
      const want = t.ops.find(([bit]) => (bits & bit) !== 0)?.[1] ?? t.fallback;
      assert.equal(name, want.name, `record ${i + 1}: ${l.type} ${l.opflags}`);
      assert.equal(category, t.category);
      types.add(l.type);
    }
    assert.ok(
      ['PE', 'FF', 'NF', 'FE'].every((t) => types.has(t)),
      [...types].join(),
    );
  } finally {
    rmSync(s.dir, { recursive: true, force: true });
  }
});

test('socket driver: evt.seq continues over two collector connections and a policy reload between them', async () => {
  const s = setup('%evt.seq', true);
  const collector = join(s.dir, 'collector.sock');
  const run = ProcessorRun.start(['-config', s.cfg, '-driver', 'socket', '-log', 'info', collector]);
  try {
    await run.waitFor(/listening on/);
    const { messages, records } = traceMessages(join(TRACES, 'sf-processor', 'tcp.sf'));
    await streamSend(collector, messages);
    await run.waitFor(/collector connection #1 closed/);
    writeFileSync(s.policy, readFileSync(s.policy, 'utf8').replace('desc: all', 'desc: all, reloaded'));
    await run.waitFor(/policies reloaded/, 20_000);
    await streamSend(collector, messages);
    await run.waitFor(/collector connection #2 closed/);
    await run.stop('SIGTERM', 30_000);
    const got = lines(s.out);
    const events = records.filter((r) => r.sfType >= 4).length;
    assert.equal(got.length, 2 * events);
    assert.deepEqual(
      got.map((l) => Number(l.policies[0]!.output)),
      got.map((_, i) => i + 1),
    );
  } finally {
    ProcessorRun.killAll();
    rmSync(s.dir, { recursive: true, force: true });
  }
});
