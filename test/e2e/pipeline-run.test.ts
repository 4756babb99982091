/**
 * The running pipeline: SIGTERM stops the input and drains (complete JSON lines, exit 0); a slow
 * consumer pauses the driver (backpressure) without losing or reordering records; exported records
 * are complete and in trace order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, validateGraph } from '../../core/pipeline/config.js';
import { Pipeline } from '../../core/pipeline/pipeline.js';
import { builtinRegistry } from '../../core/plugins/builtin.js';
import { fileDriver } from '../../core/drivers/file.js';
import { createLogger } from '../../core/log.js';
import { initHashing } from '../../core/util/xxh.js';
import { SysFlowFileReader } from '../../core/avro/ocf.js';
import { exactToString } from '../../core/util/i64.js';
import { SF_PROCESSOR_TYPE_CODES } from '../../core/flatten/names.js';
import { SfType, type SysFlowEvent, type SysFlowRecord } from '../../core/sysflow/types.js';
import type { FlatRecord } from '../../core/flatten/flatrecord.js';
import type { DriverFactory, Emit, Processor } from '../../core/pipeline/types.js';
import { ByteSink } from '../../core/util/bytes.js';
import { FIXTURES, ROOT, parseExactJson } from '../helpers/corpus.js';

const CLI = join(ROOT, 'dist', 'core', 'cli', 'sfprocessor.js');
const K8S = join(FIXTURES, 'traces', 'sf-processor', 'k8s_small.sf');
const K8S_RECORDS = 6173;
const K8S_EVENTS = 5247;
const GLOBALS = { version: 'test', jsonschemaversion: '5', ecsversion: '8.2', buildnumber: '0' };
const TMP = mkdtempSync(join(tmpdir(), 'sfp-run-test-'));
const silent = createLogger('test', 'silent');

const ENTITY_TYPES = new Set<number>([SfType.H, SfType.C, SfType.P, SfType.F, SfType.POD]);
const isEvent = (r: SysFlowRecord): r is SysFlowEvent => !ENTITY_TYPES.has(r.sfType);

/** The flows/events of a trace, in file order, as SysFlowFileReader decodes them. */
function traceEvents(path: string): SysFlowEvent[] {
  const reader = SysFlowFileReader.open(path);
  const events = reader.readAll().filter(isEvent);
  reader.close();
  return events;
}

function lines(text: string): string[] {
  const l = text.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

const pipelineFor = (out: string) => ({
  pipeline: [
    { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich' },
    { processor: 'exporter', in: 'evt eventchan', export: 'file', format: 'json', 'file.path': out },
  ],
});

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(sysflowreader|policyengine|exporter)_/i.test(k)) env[k] = v;
  return env;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('order and completeness: k8s_small.sf exports 5247 JSON lines in trace order', () => {
  const dir = mkdtempSync(join(TMP, 'order-'));
  const out = join(dir, 'out.json');
  const config = join(dir, 'pipeline.json');
  writeFileSync(config, JSON.stringify(pipelineFor(out)));
  const r = spawnSync(process.execPath, [CLI, '-config', config, '-log', 'warn', K8S], { env: childEnv(), encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  const text = readFileSync(out, 'utf8');
  assert.ok(text.endsWith('\n'), 'the last line is complete');
  const got = lines(text);
  const want = traceEvents(K8S);
  assert.equal(want.length, K8S_EVENTS);
  assert.equal(got.length, K8S_EVENTS);
  const asDigits = (v: unknown) => (typeof v === 'number' ? String(v) : String(v).replace(/^#int:/, ''));
  for (let i = 0; i < got.length; i++) {
    const o = parseExactJson(got[i]!) as { ts: unknown; type: string };
    const e = want[i]!;
    assert.equal(asDigits(o.ts), exactToString(e.ts, e.tsNs), `line ${i + 1}: ts`);
    assert.equal(o.type, SF_PROCESSOR_TYPE_CODES[e.sfType], `line ${i + 1}: type`);
  }
});

for (const SIG of ['SIGTERM', 'SIGINT'] as const)
  test(`${SIG}: stops the input, drains, exits 0 with complete JSON lines`, async () => {
    const dir = mkdtempSync(join(TMP, 'signal-'));
    const input = join(dir, 'input');
    mkdirSync(input);
    const COPIES = 60;
    for (let i = 0; i < COPIES; i++) copyFileSync(K8S, join(input, `k8s_${i}.sf`));
    const out = join(dir, 'out.json');
    const config = join(dir, 'pipeline.json');
    writeFileSync(config, JSON.stringify(pipelineFor(out)));

    const child = spawn(process.execPath, [CLI, '-config', config, input], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.stdout.resume();
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));

    // Wait until the output has started growing and ~0.5 s have passed, then signal.
    const started = Date.now();
    const size = () => (existsSync(out) ? statSync(out).size : 0);
    while ((size() === 0 || Date.now() - started < 500) && child.exitCode === null && Date.now() - started < 20_000) await sleep(20);
    assert.equal(child.exitCode, null, `still running when signalled (stderr: ${stderr})`);
    const sizeAtSignal = size();
    assert.ok(sizeAtSignal > 0, 'the output file has started growing');
    child.kill(SIG);
    const { code, signal } = await exited;

    assert.equal(signal, null, 'exited by itself, not killed by the signal');
    assert.equal(code, 0, stderr);
    assert.match(stderr, new RegExp(`${SIG}: stopping input`));
    const m = /processed (\d+) records .*stopped by signal/.exec(stderr);
    assert.ok(m, `the run reports it stopped by signal: ${stderr}`);
    assert.ok(Number(m![1]) < COPIES * K8S_RECORDS, 'the driver stopped reading early');

    const text = readFileSync(out, 'utf8');
    assert.ok(text.length >= sizeAtSignal);
    assert.ok(text.endsWith('\n'), 'the last line is complete');
    const got = lines(text);
    for (const [i, l] of got.entries()) assert.doesNotThrow(() => JSON.parse(l), `line ${i + 1} parses`);
    assert.ok(got.length > 0);
    assert.ok(got.length < COPIES * K8S_EVENTS, `stopped early: ${got.length} of ${COPIES * K8S_EVENTS} lines`);
    // Whole input files' worth of records plus a prefix of the next: records in trace order throughout.
    const want = traceEvents(K8S);
    for (let i = 0; i < got.length; i += 997) {
      const o = parseExactJson(got[i]!) as { ts: unknown };
      const e = want[i % K8S_EVENTS]!;
      assert.equal(typeof o.ts === 'number' ? String(o.ts) : String(o.ts).replace(/^#int:/, ''), exactToString(e.ts, e.tsNs), `line ${i + 1}`);
    }
  });

/**
 * A slow consumer: keeps what it receives in a queue and consumes CHUNK records per timer tick;
 * while anything is queued beyond LIMIT, ready() returns a promise resolved by that timer.
 */
class SlowSink implements Processor<FlatRecord, never> {
  static readonly CHUNK = 300;
  static readonly LIMIT = 0;
  static readonly TICK_MS = 3;
  queue: FlatRecord[] = [];
  consumed: FlatRecord[] = [];
  maxQueue = 0;
  readyCalls = 0;
  pendingReadies = 0;
  private timer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];

  process(batch: readonly FlatRecord[]): void {
    for (const r of batch) this.queue.push(r);
    this.maxQueue = Math.max(this.maxQueue, this.queue.length);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      for (const r of this.queue.splice(0, SlowSink.CHUNK)) this.consumed.push(r);
      if (this.queue.length <= SlowSink.LIMIT) for (const w of this.waiters.splice(0)) w();
      this.schedule();
    }, SlowSink.TICK_MS);
  }

  ready(): Promise<void> | null {
    this.readyCalls++;
    if (this.queue.length <= SlowSink.LIMIT) return null;
    this.pendingReadies++;
    return new Promise<void>((r) => this.waiters.push(r));
  }

  end(_emit: Emit<never>): Promise<void> {
    return new Promise<void>((resolve) => {
      const poll = () => (this.queue.length === 0 ? resolve() : setTimeout(poll, SlowSink.TICK_MS));
      poll();
    });
  }
}

test('backpressure: a slow consumer pauses the driver; nothing is lost or reordered', async () => {
  await initHashing();
  const registry = builtinRegistry();
  const sinks: SlowSink[] = [];
  registry.processors.add({
    name: 'slowsink',
    description: 'test: consumes records slowly',
    inType: 'eventchan',
    outType: null,
    config: { properties: {} },
    create: () => {
      const s = new SlowSink();
      sinks.push(s);
      return s as Processor;
    },
  });
  // A driver that delegates to the file driver and looks at the consumer before every push.
  const observed: { queued: number; outstanding: number; batchEvents: number }[] = [];
  let pushedEvents = 0;
  const counting: DriverFactory = {
    ...fileDriver,
    name: 'counting',
    run: (path, ctx) =>
      fileDriver.run(path, {
        ...ctx,
        push: (batch) => {
          const sink = sinks[0]!;
          const batchEvents = batch.filter(isEvent).length;
          pushedEvents += batchEvents;
          // Records pushed earlier (before this batch) but not yet consumed.
          observed.push({ queued: sink.queue.length, outstanding: pushedEvents - batchEvents - sink.consumed.length, batchEvents });
          return ctx.push(batch);
        },
      }),
  };
  const dir = mkdtempSync(join(TMP, 'bp-'));
  const file = join(dir, 'pipeline.json');
  writeFileSync(
    file,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich' },
        { processor: 'slowsink', in: 'evt eventchan' },
      ],
    }),
  );
  const cfg = loadConfig(file, {}, GLOBALS);
  validateGraph(cfg, registry, counting.outType);
  const pipeline = await Pipeline.build(cfg, registry, silent);
  const t0 = Date.now();
  const stats = await pipeline.run(counting, K8S, {}, new AbortController().signal);
  const elapsed = Date.now() - t0;
  const sink = sinks[0]!;
  const blocks = observed.length;

  assert.ok(blocks >= 4, `a multi-block trace (${blocks} blocks)`);
  assert.equal(stats.batches, blocks);
  assert.equal(stats.records, K8S_RECORDS);
  // (a) the driver waited for the consumer.
  assert.ok(stats.waits > 0, 'the driver waited');
  assert.ok(stats.waits >= blocks - 1, `the driver waited after (almost) every block: ${stats.waits} of ${blocks}`);
  assert.ok(sink.pendingReadies > 0);
  // (b) when the driver pushes, everything pushed before has been consumed (LIMIT = 0): at most one
  // batch is ever outstanding.
  for (const [i, o] of observed.entries()) {
    assert.ok(o.queued <= SlowSink.LIMIT, `push #${i}: ${o.queued} records still queued at the consumer`);
    assert.ok(o.outstanding <= SlowSink.LIMIT, `push #${i}: ${o.outstanding} records pushed earlier not yet consumed`);
  }
  const maxBatch = Math.max(...observed.map((o) => o.batchEvents));
  assert.ok(sink.maxQueue <= maxBatch + SlowSink.LIMIT, `consumer queue peaked at ${sink.maxQueue} (> one batch, ${maxBatch})`);
  // (c) every record arrived, in order.
  const want = traceEvents(K8S);
  assert.equal(sink.consumed.length, K8S_EVENTS);
  assert.equal(sink.queue.length, 0);
  for (let i = 0; i < want.length; i++) {
    const got = sink.consumed[i]!;
    assert.equal(got.sfType, want[i]!.sfType, `record ${i}: type`);
    assert.deepEqual(got.rec, want[i], `record ${i}: the same record`);
    assert.equal(exactToString(got.rec.ts, got.rec.tsNs), exactToString(want[i]!.ts, want[i]!.tsNs), `record ${i}: ts`);
  }
  assert.ok(elapsed < 5000, `fast enough (${elapsed} ms)`);
});

/** A transport whose sink hands chunks to a "network" that ships one chunk per timer tick. */
class SlowSink2 extends ByteSink {
  chunks: Buffer[] = [];
  shipped: Buffer[] = [];
  maxChunks = 0;
  private timer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];
  protected emit(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
    this.maxChunks = Math.max(this.maxChunks, this.chunks.length);
    this.schedule();
  }
  private schedule(): void {
    if (this.timer || this.chunks.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.shipped.push(this.chunks.shift()!);
      if (this.chunks.length === 0) for (const w of this.waiters.splice(0)) w();
      this.schedule();
    }, 3);
  }
  ready(): Promise<void> | null {
    return this.chunks.length === 0 ? null : new Promise<void>((r) => this.waiters.push(r));
  }
}

test('backpressure through the exporter: a slow transport pauses the driver; output complete and in order', async () => {
  await initHashing();
  const registry = builtinRegistry();
  const sinks: SlowSink2[] = [];
  registry.transports.add({
    name: 'slow',
    create: () => {
      const sink = new SlowSink2(64 << 10);
      sinks.push(sink);
      return {
        name: 'slow',
        sink,
        ready: () => sink.ready(),
        close: async () => {
          sink.flush();
          while (sink.ready()) await sink.ready();
        },
      };
    },
  });
  const atPush: number[] = [];
  const counting: DriverFactory = {
    ...fileDriver,
    name: 'counting',
    run: (path, ctx) =>
      fileDriver.run(path, {
        ...ctx,
        push: (batch) => {
          atPush.push(sinks[0]!.chunks.length);
          return ctx.push(batch);
        },
      }),
  };
  const dir = mkdtempSync(join(TMP, 'bp2-'));
  const file = join(dir, 'pipeline.json');
  const p = pipelineFor('unused');
  p.pipeline[2] = { processor: 'exporter', in: 'evt eventchan', export: 'slow', format: 'json' } as (typeof p.pipeline)[2];
  writeFileSync(file, JSON.stringify(p));
  const cfg = loadConfig(file, {}, GLOBALS);
  validateGraph(cfg, registry, counting.outType);
  const pipeline = await Pipeline.build(cfg, registry, silent);
  const stats = await pipeline.run(counting, K8S, {}, new AbortController().signal);
  const sink = sinks[0]!;
  assert.equal(stats.records, K8S_RECORDS);
  assert.ok(stats.waits > 0, 'the driver waited for the transport');
  assert.deepEqual(
    atPush,
    atPush.map(() => 0),
    `nothing left unshipped when the driver pushes: ${atPush.join(',')}`,
  );
  assert.equal(sink.chunks.length, 0);
  const got = lines(Buffer.concat(sink.shipped).toString('utf8'));
  const want = traceEvents(K8S);
  assert.equal(got.length, K8S_EVENTS);
  for (let i = 0; i < got.length; i++) {
    const o = parseExactJson(got[i]!) as { ts: unknown };
    assert.equal(typeof o.ts === 'number' ? String(o.ts) : String(o.ts).replace(/^#int:/, ''), exactToString(want[i]!.ts, want[i]!.tsNs), `line ${i + 1}`);
  }
});
