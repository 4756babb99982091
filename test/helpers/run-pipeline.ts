/** Runs a pipeline in-process with the built-in plugins plus a `memory` transport that keeps the output. */
import { builtinRegistry } from '../../core/plugins/builtin.js';
import { loadConfig, validateGraph } from '../../core/pipeline/config.js';
import { Pipeline, type RunStats } from '../../core/pipeline/pipeline.js';
import { MemorySink } from '../../core/util/bytes.js';
import { createLogger } from '../../core/log.js';
import { initHashing } from '../../core/util/xxh.js';
import type { FlatRecord } from '../../core/flatten/flatrecord.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface InProcessRun {
  text: string;
  stats: RunStats;
}

export async function runPipeline(input: string, pipeline: object[], env: NodeJS.ProcessEnv = {}): Promise<InProcessRun> {
  await initHashing();
  const registry = builtinRegistry();
  const sinks: MemorySink[] = [];
  registry.transports.add({
    name: 'memory',
    create: () => {
      const sink = new MemorySink();
      sinks.push(sink);
      return { name: 'memory', sink, ready: () => null, close: async () => sink.flush() };
    },
  });
  const dir = mkdtempSync(join(tmpdir(), 'sfp-test-'));
  const file = join(dir, 'pipeline.json');
  writeFileSync(file, JSON.stringify({ pipeline }));
  const cfg = loadConfig(file, env, { version: 'test', jsonschemaversion: '5', ecsversion: '8.2', buildnumber: '0' });
  validateGraph(cfg, registry, 'sysflowchan');
  const log = createLogger('test', 'silent');
  const p = await Pipeline.build(cfg, registry, log);
  const stats = await p.run(registry.drivers.get('file')!, input, {}, new AbortController().signal);
  return { text: sinks.map((s) => s.text()).join(''), stats };
}

/** reader → policyengine (enrich, no policies) → exporter(json, memory) */
export const ENRICH_TO_MEMORY = [
  { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
  { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich' },
  { processor: 'exporter', in: 'evt eventchan', export: 'memory', format: 'json' },
];

/** The flat records the reader produces for a trace, collected in order (entities as the cache had them). */
export async function flatRecords(input: string): Promise<FlatRecord[]> {
  await initHashing();
  const registry = builtinRegistry();
  const out: FlatRecord[] = [];
  registry.processors.add({
    name: 'collect',
    description: 'keeps every flat record (tests)',
    inType: 'flattenerchan',
    outType: null,
    config: { properties: {} },
    create: () => ({ process: (batch: readonly FlatRecord[]) => void out.push(...batch) }),
  });
  const dir = mkdtempSync(join(tmpdir(), 'sfp-test-'));
  const file = join(dir, 'pipeline.json');
  writeFileSync(
    file,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'collect', in: 'flat flattenerchan' },
      ],
    }),
  );
  const cfg = loadConfig(file, {}, { version: 'test', jsonschemaversion: '5', ecsversion: '8.2', buildnumber: '0' });
  validateGraph(cfg, registry, 'sysflowchan');
  const p = await Pipeline.build(cfg, registry, createLogger('test', 'silent'));
  await p.run(registry.drivers.get('file')!, input, {}, new AbortController().signal);
  return out;
}
