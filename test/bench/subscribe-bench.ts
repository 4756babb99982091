/**
 * The `subscribe` bench row (run by bench.ts in its own process, since gRPC clients are
 * asynchronous): a collector in this process sends TRACE record by record into
 * `sfprocessor -driver socket` (stream framing), whose enrich pipeline feeds a null exporter and the
 * subscriptions stage. Measured three times: at full speed without subscribers, at full speed with
 * 10 subscribers holding different filters (in a process of their own), each on its own
 * connection, and with the same subscribers at half that rate. Prints one JSON line: seconds
 * without and with subscribers (first send → the driver's log line that the connection ended),
 * the events received and dropped, and the p50/p99 latency from sending a record to a subscriber
 * receiving it in the paced run (at full speed, records also wait in front of the driver for the
 * pipeline; those figures are printed too).
 *   node dist/test/bench/subscribe-bench.js TRACE
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Grpc from '@grpc/grpc-js';
import { SysFlowFileReader } from '../../core/avro/ocf.js';
import { SfType } from '../../core/sysflow/types.js';
import { CLIENT_OPTIONS, loadTelemetry } from '../../core/telemetry/proto.js';
import type { SubscriptionRequest } from '../../core/telemetry/subscription.js';
import { AvroWriter } from '../helpers/avro-writer.js';
import { ROOT } from '../helpers/corpus.js';
import { ProcessorRun, encodeForLayout } from '../helpers/socket-harness.js';

const trace = process.argv[2];
if (!trace) throw new Error('usage: subscribe-bench.js TRACE');
// (internally also: subscribe-bench.js --clients SOCKET N, the subscribers' process)

/** The trace as length-prefixed messages, in chunks of about `chunkBytes` (one write each). */
/** Records the reader keeps in its entity cache: they never reach the subscriptions stage. */
const ENTITIES = new Set<number>([SfType.H, SfType.C, SfType.P, SfType.F, SfType.POD]);

/**
 * `firstRecord[i]`: how many records come before chunk i (for pacing); `firstEvent[i]`: how many
 * flows and events, which the subscriptions stage numbers from 1.
 */
function frames(file: string, chunkBytes: number): { chunks: Buffer[]; firstRecord: number[]; firstEvent: number[]; records: number } {
  const reader = SysFlowFileReader.open(file);
  const w = new AvroWriter();
  let version = 5;
  const chunks: Buffer[] = [];
  const firstRecord: number[] = [];
  const firstEvent: number[] = [];
  let events = 0;
  let parts: Buffer[] = [];
  let size = 0;
  let n = 0;
  // generated bench traces are v5 files whose headers may carry older version numbers
  const embeddedV5 = JSON.stringify(reader.header.schema).includes('"cwd"');
  for (let block = reader.nextBlock(); block; block = reader.nextBlock()) {
    for (const r of block.records) {
      if (r.sfType === SfType.H) version = embeddedV5 ? 5 : r.version;
      const m = encodeForLayout(w, r.sfType === SfType.H && embeddedV5 ? { ...r, version: 5 } : r, version);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(m.length);
      if (parts.length === 0) {
        firstRecord.push(n);
        firstEvent.push(events);
      }
      if (!ENTITIES.has(r.sfType)) events++;
      parts.push(len, m);
      size += 4 + m.length;
      n++;
      if (size >= chunkBytes) {
        chunks.push(Buffer.concat(parts));
        parts = [];
        size = 0;
      }
    }
  }
  if (parts.length) chunks.push(Buffer.concat(parts));
  reader.close();
  return { chunks, firstRecord, firstEvent, records: n };
}

/** Ten subscriptions a deployment might hold at once: each selects a small part of the stream. */
const SUBSCRIPTIONS: SubscriptionRequest[] = [
  { filter: { types: ['PE'] } },
  { filter: { types: ['NF'], opflags: ['CONNECT'] } },
  { filter: { opflags: ['EXEC'] } },
  { filter: { condition: 'proc.name in (bash, sh, curl, wget, nc)' } },
  { filter: { condition: 'fd.name startswith /etc/ and evt.is_open_write = true' } },
  { filter: { condition: 'sf.file.path contains passwd' } },
  { filter: { types: ['FF'], condition: 'sf.proc.uid = 0 and sf.file.path startswith /root' } },
  { containers: { host_only: true }, filter: { types: ['PE', 'NF'] } },
  { throttle: { interval_ms: 60_000, key: 'PROCESS' }, filter: { types: ['PE'] } },
  { filter: { types: ['NF'] }, fields: { include: ['proc.exe', 'net.dip', 'net.dport'], exclude: [] } },
];

interface Run {
  seconds: number;
  records: number;
  latenciesMs: number[];
  received: number;
  dropped: number;
  /** CPU time (user + system) of the processor and of the clients' process, ms. */
  processorCpuMs: number;
  clientsCpuMs: number;
}

/** User + system CPU time of a live process so far, ms (Linux: /proc/PID/stat, in clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14 and 15 (utime, stime) of proc(5), counted from the state field (3)
  return (Number(f[11]) + Number(f[12])) * 10;
}

/**
 * One pipeline run. `paceRps` 0: the collector sends as fast as the pipeline reads (1 MB writes);
 * otherwise 64 KB writes at that many records per second, so that records do not wait in front of
 * the driver and the latency is the pipeline's and the telemetry path's alone.
 */
async function once(subscribers: number, paceRps = 0): Promise<Run> {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-subbench-'));
  const socket = join(dir, 'telemetry.sock');
  const collector = join(dir, 'collector.sock');
  const cfg = join(dir, 'pipeline.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: ['tonull eventchan', 'live eventchan'], mode: 'enrich' },
        { processor: 'exporter', in: 'tonull eventchan', export: 'null', format: 'json' },
        { processor: 'subscriptions', in: 'live eventchan', socket, history: '0', policies: join(ROOT, 'policies', 'runtimeintegrity') },
      ],
      drivers: [{ driver: 'socket', type: 'stream' }],
    }),
  );
  // SUBSCRIBE_BENCH_CPUPROFILE=FILE: a CPU profile of the full-speed run with subscribers
  const prof = subscribers > 0 && paceRps === 0 && process.env.SUBSCRIBE_BENCH_CPUPROFILE ? ['-cpuprofile', process.env.SUBSCRIBE_BENCH_CPUPROFILE] : [];
  const run = ProcessorRun.start(['-config', cfg, '-driver', 'socket', '-log', 'info', ...prof, collector]);
  try {
    await run.waitFor(/listening on/);
    const { chunks, firstRecord, firstEvent, records } = frames(trace!, paceRps > 0 ? 64 << 10 : 1 << 20);
    const sentAt = new Float64Array(chunks.length);
    const chunkOf = (seq: number) => {
      // the chunk that carried the seq-th flow or event (binary search)
      let lo = 0;
      let hi = firstEvent.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (firstEvent[mid]! <= seq - 1) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    // the subscribers run in their own process, as clients of a sensor do
    const clients = subscribers > 0 ? spawn(process.execPath, [fileURLToPath(import.meta.url), '--clients', socket, String(subscribers)], { stdio: ['ignore', 'pipe', 'inherit'] }) : null;
    let clientOut = '';
    clients?.stdout?.on('data', (d: Buffer) => (clientOut += d.toString()));
    const clientsDone = clients ? new Promise<void>((resolve) => clients.on('exit', () => resolve())) : Promise.resolve();
    if (clients) await new Promise<void>((resolve) => clients.stdout!.once('data', () => resolve()));
    const sock: Socket = netConnect(collector);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const t0 = performance.now();
    for (let i = 0; i < chunks.length; i++) {
      if (paceRps > 0) {
        const due = t0 + (firstRecord[i]! / paceRps) * 1000 - performance.now();
        if (due > 1) await new Promise((r) => setTimeout(r, due));
      }
      sentAt[i] = performance.timeOrigin + performance.now();
      if (!sock.write(chunks[i]!)) await new Promise((r) => sock.once('drain', r));
    }
    sock.end();
    await run.waitFor(/collector connection #1 closed/, 600_000);
    const seconds = (performance.now() - t0) / 1000;
    const processorCpuMs = cpuMsOf(run.child.pid!);
    await run.stop('SIGTERM', 60_000);
    await Promise.race([clientsDone, new Promise((r) => setTimeout(r, 30_000).unref())]);
    if (records === 0) throw new Error('empty trace');
    if (!clients) return { seconds, records, latenciesMs: [], received: 0, dropped: 0, processorCpuMs, clientsCpuMs: 0 };
    const res = JSON.parse(clientOut.slice(clientOut.indexOf('\n') + 1)) as ClientResult;
    if (res.failures.length) throw new Error(`subscriptions failed: ${res.failures.join('; ')}`);
    const latencies: number[] = [];
    for (let i = 0; i < res.seqs.length; i++) latencies.push(res.at[i]! - sentAt[chunkOf(res.seqs[i]!)]!);
    return { seconds, records, latenciesMs: latencies, received: res.received, dropped: res.dropped, processorCpuMs, clientsCpuMs: res.cpuMs };
  } finally {
    ProcessorRun.killAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

interface ClientResult {
  received: number;
  dropped: number;
  failures: string[];
  /** Per received event: its sequence number and arrival (epoch ms). */
  seqs: number[];
  at: number[];
  /** CPU time the clients' process used (user + system), ms. */
  cpuMs: number;
}

/** What a bench client reads of an EventBatch: each event's sequence number and the batch's drop count. */
interface LeanBatch {
  seqs: number[];
  dropped: number;
}

/**
 * Reads an EventBatch's wire bytes for the seq fields and the drop count only, skipping the rest
 * as a forwarding client would: the clients share this VM's two cores with the processor, and a
 * full decode of every event's JSON (about 1.6 s of CPU for this run) would measure the clients.
 */
function leanBatch(b: Buffer): LeanBatch {
  const out: LeanBatch = { seqs: [], dropped: 0 };
  let p = 0;
  const varint = (): number => {
    let v = 0;
    let m = 1;
    for (;;) {
      const c = b[p++]!;
      v += (c & 0x7f) * m;
      if (c < 0x80) return v;
      m *= 128;
    }
  };
  while (p < b.length) {
    const tag = varint();
    if (tag === 0x0a) {
      // events (1), length-delimited: seq (1) is the first field the server writes
      const len = varint();
      const end = p + len;
      if (b[p] !== 0x08) throw new Error('Event without seq first');
      p++;
      out.seqs.push(varint());
      p = end;
    } else if (tag === 0x10) out.dropped += varint();
    else if ((tag & 7) === 0) varint();
    else if ((tag & 7) === 2) p += varint();
    else throw new Error(`unexpected wire type in EventBatch: tag ${tag}`);
  }
  return out;
}

/** The clients' process: subscribe, say ready, collect until the streams end, print the result. */
async function clientsMain(socket: string, n: number): Promise<void> {
  const { grpc, Client: Telemetry } = await loadTelemetry();
  const method = (Telemetry as unknown as Grpc.ServiceClientConstructor).service.GetEvents!;
  const res: ClientResult = { received: 0, dropped: 0, failures: [], seqs: [], at: [], cpuMs: 0 };
  const cpu0 = process.cpuUsage();
  const ended: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    // a connection each, as subscribers in different processes have (grpc-js would otherwise share one)
    const client = new Telemetry(`unix:${socket}`, grpc.credentials.createInsecure(), { ...CLIENT_OPTIONS, 'grpc.use_local_subchannel_pool': 1 });
    const call = client.makeServerStreamRequest(method.path, method.requestSerialize, leanBatch, SUBSCRIPTIONS[i % SUBSCRIPTIONS.length]!);
    ended.push(
      new Promise((resolve) => {
        call.on('data', (b: LeanBatch) => {
          const t = performance.timeOrigin + performance.now();
          res.received += b.seqs.length;
          res.dropped += b.dropped;
          for (const seq of b.seqs) {
            res.seqs.push(seq);
            res.at.push(t);
          }
        });
        call.on('end', () => {
          client.close();
          resolve();
        });
        call.on('error', (e: Grpc.ServiceError) => {
          client.close();
          // the pipeline stopping ends streams normally; anything else is a broken bench
          if (e.code !== grpc.status.CANCELLED) res.failures.push(e.details || e.message);
          resolve();
        });
      }),
    );
  }
  await new Promise((r) => setTimeout(r, 500));
  process.stdout.write('ready\n');
  await Promise.all(ended);
  const cpu = process.cpuUsage(cpu0);
  res.cpuMs = (cpu.user + cpu.system) / 1000;
  // a pipe is written asynchronously: exit only once the result is out
  await new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(res)}\n`, () => resolve()));
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

if (process.argv[2] === '--clients') {
  await clientsMain(process.argv[3]!, Number(process.argv[4]));
} else {
  const base = await once(0);
  const subs = await once(10);
  // latency at half the rate the pipeline sustains with the subscribers
  const paceRps = Math.round(subs.records / subs.seconds / 2);
  const paced = await once(10, paceRps);
  // SUBSCRIBE_BENCH_LATENCIES=FILE: the paced run's latencies (ms, in arrival order), one per line
  if (process.env.SUBSCRIBE_BENCH_LATENCIES) writeFileSync(process.env.SUBSCRIBE_BENCH_LATENCIES, paced.latenciesMs.map((l) => l.toFixed(2)).join('\n'));
  process.stdout.write(
    `${JSON.stringify({
      secondsWithout: base.seconds,
      secondsWith: subs.seconds,
      received: subs.received,
      dropped: subs.dropped,
      p50LatencyMs: pct(paced.latenciesMs, 50),
      p99LatencyMs: pct(paced.latenciesMs, 99),
      paceRps,
      pacedDropped: paced.dropped,
      p50SaturatedMs: pct(subs.latenciesMs, 50),
      p99SaturatedMs: pct(subs.latenciesMs, 99),
      processorCpuWithout: base.processorCpuMs / 1000,
      processorCpuWith: subs.processorCpuMs / 1000,
      clientsCpu: subs.clientsCpuMs / 1000,
    })}\n`,
  );
}
