/**
 * Socket driver throughput, against the file driver on the same trace and pipeline:
 *   node dist/test/helpers/socket-bench.js [TRACE] [--pipeline null|file] [--type seqpacket|stream]
 *
 * A client in this process encodes the trace block by block and sends every record as one message
 * into `sfprocessor -driver socket`; the rate is records / (first send → the driver's log line that
 * the connection ended, i.e. everything was read and pushed). The file driver's figure is the
 * pipeline's own "processed … records/s" line. Default trace: the largest file in bench-data/.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AvroWriter } from './avro-writer.js';
import { SysFlowFileReader } from '../../core/avro/ocf.js';
import { SfType } from '../../core/sysflow/types.js';
import { PacketClient } from '../../core/drivers/socket-native.js';
import { ROOT } from './corpus.js';
import { CLI, ProcessorRun, childEnv, connectionClosed, encodeForLayout } from './socket-harness.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { pipeline: { type: 'string', default: 'null' }, type: { type: 'string', default: 'seqpacket' } } });
const trace =
  positionals[0] ??
  (() => {
    const dir = join(ROOT, 'bench-data');
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.sf'))
      .map((f) => join(dir, f));
    files.sort((a, b) => statSync(b).size - statSync(a).size);
    if (!files[0]) throw new Error('no trace given and none in bench-data/ (npm run bench generates one)');
    return files[0];
  })();
const type = values.type === 'stream' ? 'stream' : 'seqpacket';

const dir = mkdtempSync(join(tmpdir(), 'sfp-sockbench-'));
const out = join(dir, 'out.json');
const exporter =
  values.pipeline === 'file'
    ? { processor: 'exporter', in: 'evt eventchan', export: 'file', format: 'json', 'file.path': out }
    : { processor: 'exporter', in: 'evt eventchan', export: 'null', format: 'json' };
const pipeline = [
  { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
  { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich' },
  exporter,
];
const config = join(dir, 'pipeline.json');
writeFileSync(config, JSON.stringify({ pipeline, drivers: [{ driver: 'socket', type }] }));
const fileConfig = join(dir, 'pipeline-file.json');
writeFileSync(fileConfig, JSON.stringify({ pipeline }));

function fileDriverRate(): { records: number; rate: number } {
  const r = spawnSync(process.execPath, [CLI, '-config', fileConfig, '-log', 'info', trace], { env: childEnv(), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const m = /processed (\d+) records in [\d.]+ s \((\d+) records\/s\)/.exec(r.stderr);
  if (!m) throw new Error(`no rate in: ${r.stderr}`);
  return { records: Number(m[1]), rate: Number(m[2]) };
}

/** Send every record of the trace, block by block; returns records sent and when sending started. */
async function sendTrace(sock: string): Promise<{ sent: number; t0: number }> {
  const reader = SysFlowFileReader.open(trace);
  const embeddedV5 = JSON.stringify(reader.header.schema).includes('"cwd"');
  const w = new AvroWriter(1 << 20);
  const bw = new AvroWriter(1 << 16);
  let version = 5;
  let sent = 0;
  const client = type === 'seqpacket' ? await PacketClient.connect(sock, { timeoutMs: 10_000 }) : null;
  const stream: Socket | null = type === 'stream' ? netConnect(sock) : null;
  const t0 = performance.now();
  for (let b = reader.nextBlock(); b; b = reader.nextBlock()) {
    w.reset();
    const ends: number[] = [];
    for (const r of b.records) {
      // Generated bench traces are v5 files whose headers may carry older version numbers.
      const m = encodeForLayout(bw, r.sfType === SfType.H && embeddedV5 ? { ...r, version: 5 } : r, embeddedV5 ? 5 : r.sfType === SfType.H ? (version = r.version) : version);
      if (stream) {
        w.ensure(4);
        w.buf.writeUInt32BE(m.length, w.pos);
        w.pos += 4;
      }
      w.ensure(m.length);
      m.copy(w.buf, w.pos);
      w.pos += m.length;
      ends.push(w.pos);
    }
    if (client) {
      const views: Buffer[] = [];
      let start = 0;
      for (const e of ends) {
        views.push(w.buf.subarray(start, e));
        start = e;
      }
      await client.sendAll(views);
    } else if (!stream!.write(Buffer.from(w.bytes()))) {
      await new Promise((r) => stream!.once('drain', r));
    }
    sent += b.records.length;
  }
  client?.close();
  if (stream) await new Promise<void>((r) => stream.end(r));
  reader.close();
  return { sent, t0 };
}

const file = fileDriverRate();
const run = ProcessorRun.start(['-config', config, '-driver', 'socket', '-log', 'info', join(dir, 'bench.sock')]);
await run.waitFor(/listening on /);
const { sent, t0 } = await sendTrace(join(dir, 'bench.sock'));
const closed = await connectionClosed(run, 1);
const secs = (performance.now() - t0) / 1000;
const exit = await run.stop('SIGTERM', 120_000);
rmSync(dir, { recursive: true, force: true });
if (exit.code !== 0 || closed.records !== sent || sent !== file.records) throw new Error(`bad run: ${JSON.stringify({ exit, closed, sent, file })}\n${run.stderr}`);
const rss = /peak RSS (\d+) MB/.exec(run.stderr)?.[1];
console.log(`trace ${trace}: ${sent} records, pipeline reader → policyengine(enrich) → exporter(json, ${values.pipeline})`);
console.log(`file driver:   ${file.rate} records/s`);
console.log(`socket driver (${type}): ${Math.round(sent / secs)} records/s (${secs.toFixed(2)} s from first send to end of connection), peak RSS ${rss} MB`);
