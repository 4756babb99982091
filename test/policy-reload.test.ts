/**
 * Hot reload (`monitor: local`): policies edited while a long input streams. A probe processor after
 * the policy engine counts records and makes the edits at set points; the output must hold every
 * record exactly once, each evaluated by exactly one policy set, the sets switching once, and a bad
 * edit in between must leave the old set working.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinRegistry } from '../core/plugins/builtin.js';
import { loadConfig, validateGraph } from '../core/pipeline/config.js';
import { Pipeline } from '../core/pipeline/pipeline.js';
import { pino } from 'pino';
import { initHashing } from '../core/util/xxh.js';
import type { FlatRecord } from '../core/flatten/flatrecord.js';
import { tracePath } from './helpers/corpus.js';

const COPIES = 80;
const PER_COPY = 5247; // flattened records of k8s_small.sf

const rule = (name: string) => `- rule: ${name}\n  desc: every event\n  condition: sf.type in (PE, FF, NF, FE, KE)\n  priority: low\n`;

test('policies reloaded mid-stream: no record lost or doubled, bad edit keeps the old set', async () => {
  await initHashing();
  const dir = mkdtempSync(join(tmpdir(), 'sfp-reload-'));
  try {
    const input = join(dir, 'input');
    const policies = join(dir, 'policies');
    mkdirSync(input);
    mkdirSync(policies);
    const trace = tracePath('sf-processor/k8s_small.sf');
    for (let i = 0; i < COPIES; i++) symlinkSync(trace, join(input, `part.${String(i).padStart(3, '0')}.sf`));
    writeFileSync(join(policies, 'rules.yaml'), rule('Gen1'));

    const names: string[] = [];
    const errors: string[] = []; // log lines
    let seen = 0;
    let stage = 0;
    const registry = builtinRegistry();
    registry.processors.add({
      name: 'probe',
      description: 'records what the policy engine forwarded and edits the policies at set points',
      inType: 'eventchan',
      outType: null,
      config: { properties: {} },
      create: () => ({
        process(batch: readonly unknown[]) {
          for (const r of batch as FlatRecord[]) names.push((r.rules ?? []).map((m) => m.name).join('+'));
          seen += batch.length;
          if (stage === 0 && seen > COPIES * PER_COPY * 0.15) {
            stage = 1;
            writeFileSync(join(policies, 'rules.yaml'), rule('Gen1') + '- rule: [broken\n'); // YAML error
          } else if (stage === 1 && seen > COPIES * PER_COPY * 0.35) {
            stage = 2;
            writeFileSync(join(policies, 'rules.yaml'), rule('Gen2'));
          }
        },
      }),
    });
    const cfgFile = join(dir, 'pipeline.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        pipeline: [
          { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
          { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich', policies, monitor: 'local', 'monitor.interval': '0.05' },
          { processor: 'probe', in: 'evt eventchan' },
        ],
      }),
    );
    const cfg = loadConfig(cfgFile, {}, { version: 'test', jsonschemaversion: '5', ecsversion: '8.2', buildnumber: '0' });
    validateGraph(cfg, registry, 'sysflowchan');
    const log = pino({ level: 'info' }, { write: (s: string) => void errors.push(s) });
    const p = await Pipeline.build(cfg, registry, log);
    await p.run(registry.drivers.get('file')!, input, {}, new AbortController().signal);

    assert.equal(names.length, COPIES * PER_COPY, 'every record exactly once');
    assert.ok(
      names.every((n) => n === 'Gen1' || n === 'Gen2'),
      `each record evaluated by exactly one set: ${[...new Set(names)].join(' | ')}`,
    );
    const firstGen2 = names.indexOf('Gen2');
    assert.ok(firstGen2 > COPIES * PER_COPY * 0.35, `the switch happened after the good edit (at ${firstGen2})`);
    assert.ok(firstGen2 < names.length, 'the new set was used before the end');
    assert.equal(names.slice(firstGen2).indexOf('Gen1'), -1, 'no record went back to the old set');
    assert.ok(
      errors.some((e) => /reload failed, keeping the previous policies/.test(e) && /rules\.yaml:\d+:\d+/.test(e)),
      `bad edit reported with a position: ${errors.join(' | ')}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
