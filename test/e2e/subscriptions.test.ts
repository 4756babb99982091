/**
 * Live subscriptions (core/telemetry/, the `subscriptions` stage) with real gRPC clients: a
 * pipeline on the socket driver serves the telemetry socket; clients subscribe before a collector
 * sends a bundled trace, and what each receives is checked against the pipeline's own file export
 * and against the condition evaluated in-process on the same trace's flat records.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Grpc from '@grpc/grpc-js';
import { type EventBatch, loadTelemetry, type TelemetryClient } from '../../core/telemetry/proto.js';
import type { SubscriptionRequest } from '../../core/telemetry/subscription.js';
import { compileCondition } from '../../core/policy/condition.js';
import { loadVocabulary } from '../../core/policy/policyset.js';
import { FIXTURES, ROOT } from '../helpers/corpus.js';
import { CLI, ProcessorRun, childEnv, streamSend, traceMessages } from '../helpers/socket-harness.js';
import { flatRecords } from '../helpers/run-pipeline.js';
import { makeCerts } from '../helpers/certs.js';

const TMP = mkdtempSync(join(tmpdir(), 'sfp-subs-'));
after(() => {
  ProcessorRun.killAll();
  rmSync(TMP, { recursive: true, force: true });
});

const TRACE = join(FIXTURES, 'traces', 'sf-collector', 'mpm-event', 'full_capture.sf');
const POLICIES = join(ROOT, 'policies', 'runtimeintegrity');

type Client = TelemetryClient;
const { grpc, Client: Telemetry } = await loadTelemetry();

interface Received {
  events: { seq: number; type: string; host: string; json: string }[];
  batches: number;
  dropped: number;
  suppressed: number;
  status: 'end' | { code: number; details: string };
}

/** Subscribe; resolves when the stream ends (or fails), with everything received. */
function subscribe(
  socket: string,
  req: SubscriptionRequest,
  opts: { onData?: (r: Received, call: Grpc.ClientReadableStream<EventBatch>) => void } = {},
): { done: Promise<Received>; call: Grpc.ClientReadableStream<EventBatch>; client: Client } {
  const client = new Telemetry(`unix:${socket}`, grpc.credentials.createInsecure());
  const call = client.GetEvents(req);
  const got: Received = { events: [], batches: 0, dropped: 0, suppressed: 0, status: 'end' };
  const done = new Promise<Received>((resolve) => {
    call.on('data', (b: EventBatch) => {
      got.batches++;
      got.dropped += Number(b.dropped);
      got.suppressed += Number(b.suppressed);
      for (const e of b.events) got.events.push({ seq: Number(e.seq), type: e.type, host: e.host, json: e.json });
      opts.onData?.(got, call);
    });
    call.on('end', () => {
      client.close();
      resolve(got);
    });
    call.on('error', (e: Grpc.ServiceError) => {
      client.close();
      got.status = { code: e.code, details: e.details };
      resolve(got);
    });
  });
  return { done, call, client };
}

let n = 0;
/** A pipeline on the socket driver (stream framing) whose policy engine feeds a file exporter and the subscriptions stage. */
async function startPipeline(extra: Record<string, string> = {}): Promise<{ run: ProcessorRun; socket: string; collector: string; out: string; dir: string }> {
  const dir = join(TMP, String(++n));
  mkdirSync(dir);
  const socket = join(dir, 'telemetry.sock');
  const collector = join(dir, 'collector.sock');
  const out = join(dir, 'out.json');
  const config = {
    pipeline: [
      { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: ['tofile eventchan', 'tosubs eventchan'], mode: 'enrich' },
      { processor: 'exporter', in: 'tofile eventchan', export: 'file', format: 'json', 'file.path': out },
      { processor: 'subscriptions', in: 'tosubs eventchan', socket, policies: POLICIES, ...extra },
    ],
    drivers: [{ driver: 'socket', type: 'stream' }],
  };
  const cfg = join(dir, 'pipeline.json');
  writeFileSync(cfg, JSON.stringify(config));
  const run = ProcessorRun.start(['-config', cfg, '-driver', 'socket', '-log', 'info', collector]);
  await run.waitFor(/telemetry: serving GetEvents on/);
  await run.waitFor(/listening on/);
  return { run, socket, collector, out, dir };
}

const lines = (t: string) => t.split('\n').filter(Boolean);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

test('filters of each kind give exactly the records the pipeline exports, numbered without gaps; for and limit end the streams', async () => {
  const p = await startPipeline();
  const cond = 'sf.file.path startswith /etc or (proc.name = httpd and evt.type in (open, openat))';
  const subs = {
    all: subscribe(p.socket, {}),
    nf: subscribe(p.socket, { filter: { types: ['NF'] } }),
    exec: subscribe(p.socket, { filter: { opflags: ['EXEC'] } }),
    cond: subscribe(p.socket, { filter: { condition: cond } }),
    macro: subscribe(p.socket, { filter: { condition: 'spawned_process' } }),
    limit: subscribe(p.socket, { limit: 25 }),
    proj: subscribe(p.socket, { filter: { types: ['PE'] }, fields: { include: ['proc.exe', 'type'], exclude: [] } }),
    for: subscribe(p.socket, { for_ms: 100 }),
  };
  await sleep(300); // the streams are open before data flows
  const { messages } = traceMessages(TRACE);
  await streamSend(p.collector, messages);
  await p.run.waitFor(/collector connection #1 closed/);
  await sleep(500);
  assert.equal((await p.run.stop('SIGTERM')).code, 0, p.run.stderr);
  const exported = lines(readFileSync(p.out, 'utf8'));
  const got = Object.fromEntries(await Promise.all(Object.entries(subs).map(async ([k, s]) => [k, await s.done] as const)));
  for (const [k, r] of Object.entries(got)) assert.equal(r.status, 'end', `${k}: ended normally (${JSON.stringify(r.status)})`);

  // every record, in order, numbered 1..N, as the file exporter wrote it
  assert.deepEqual(
    got.all!.events.map((e) => e.json),
    exported,
  );
  assert.deepEqual(
    got.all!.events.map((e) => e.seq),
    exported.map((_, i) => i + 1),
  );
  assert.equal(got.all!.dropped, 0);

  // the same selections made in-process on the trace's flat records
  const flat = await flatRecords(TRACE);
  assert.equal(flat.length, exported.length);
  const vocab = loadVocabulary(POLICIES);
  const expectSeqs = (pred: (i: number) => boolean) => flat.map((_, i) => i + 1).filter((s) => pred(s - 1));
  const condFn = compileCondition(cond, vocab).test;
  const macroFn = compileCondition('spawned_process', vocab).test;
  assert.deepEqual(
    got.nf!.events.map((e) => e.seq),
    expectSeqs((i) => flat[i]!.sfType === 5),
  );
  assert.ok(got.nf!.events.length > 0 && got.nf!.events.every((e) => e.type === 'NF'));
  assert.deepEqual(
    got.exec!.events.map((e) => e.seq),
    expectSeqs((i) => JSON.parse(exported[i]!).opflags.includes('EXEC')),
  );
  assert.deepEqual(
    got.cond!.events.map((e) => e.seq),
    expectSeqs((i) => condFn(flat[i]!)),
  );
  assert.ok(got.cond!.events.length > 0, 'the condition selects something');
  assert.deepEqual(
    got.macro!.events.map((e) => e.seq),
    expectSeqs((i) => macroFn(flat[i]!)),
  );
  for (const r of [got.nf!, got.exec!, got.cond!, got.macro!]) for (const e of r.events) assert.equal(e.json, exported[e.seq - 1]);

  // limit: exactly the first 25; projection: only the fields asked for
  assert.deepEqual(
    got.limit!.events.map((e) => e.seq),
    exported.slice(0, 25).map((_, i) => i + 1),
  );
  const pe = got.proj!.events[0]!;
  const full = JSON.parse(exported[pe.seq - 1]!);
  assert.deepEqual(JSON.parse(pe.json), { type: 'PE', proc: { exe: full.proc.exe } });
  // for: the stream ended by itself before the pipeline stopped
  assert.equal(got.for!.events.length, 0, 'for 100 ms ended before the collector sent');
  assert.ok(got.all!.events.every((e) => e.host.length > 0));
});

test('throttle: one event per interval of record time per key, the rest counted exactly', async () => {
  const p = await startPipeline();
  const sub = subscribe(p.socket, { throttle: { interval_ms: 1000, key: 'PROCESS' } });
  await sleep(300);
  await streamSend(p.collector, traceMessages(TRACE).messages);
  await p.run.waitFor(/collector connection #1 closed/);
  await sleep(300);
  await p.run.stop('SIGTERM');
  const r = await sub.done;
  const exported = lines(readFileSync(p.out, 'utf8'));
  // the same throttle over the trace's flat records
  const last = new Map<string, number>();
  const expected: number[] = [];
  let suppressed = 0;
  const flatRecs = await flatRecords(TRACE);
  flatRecs.forEach((f, i) => {
    const k = f.proc ? `${f.proc.oid.hpid}:${f.proc.oid.createTS}` : '';
    const now = f.rec.ts / 1e6;
    const prev = last.get(k);
    if (prev !== undefined && now - prev < 1000) {
      suppressed++;
      return;
    }
    last.set(k, now);
    expected.push(i + 1);
  });
  assert.equal(exported.length, flatRecs.length);
  assert.deepEqual(
    r.events.map((e) => e.seq),
    expected,
  );
  assert.equal(r.suppressed, suppressed);
  assert.ok(suppressed > 0, 'the throttle held something back');
});

test('a stuck subscriber (never reads) changes neither the pipeline output nor another stream; its drops are reported', async () => {
  const p = await startPipeline({ 'queue.size': '20000', batch: '100' });
  const reader = subscribe(p.socket, {});
  let paused = false;
  const stuck = subscribe(
    p.socket,
    {},
    {
      onData: (_r, call) => {
        if (!paused) {
          paused = true;
          call.pause(); // never reads again until released
        }
      },
    },
  );
  await sleep(300);
  // ten copies of the trace, paced so that a reading client keeps up (each burst fits its queue)
  // while the stuck one's queue (20000 events) overflows
  const { messages } = traceMessages(TRACE);
  for (let i = 1; i <= 10; i++) {
    await streamSend(p.collector, messages);
    await p.run.waitFor(new RegExp(`collector connection #${i} closed`));
    await sleep(150);
  }
  await sleep(300);
  stuck.call.resume();
  await p.run.stop('SIGTERM');
  const exported = lines(readFileSync(p.out, 'utf8'));
  const r = await reader.done;
  const s = await stuck.done;
  assert.deepEqual(
    r.events.map((e) => e.json),
    exported,
    'the reading client got everything',
  );
  assert.equal(r.dropped, 0);
  assert.ok(s.dropped > 0, `the stuck client lost events (${s.dropped}) and was told`);
  assert.equal(s.events.length + s.dropped, exported.length, 'every event is either delivered or counted as dropped');
  const seqs = s.events.map((e) => e.seq);
  assert.ok(
    seqs.every((x, i) => i === 0 || x > seqs[i - 1]!),
    'what it got is in order',
  );
});

test('bad subscriptions get INVALID_ARGUMENT with a located message; the socket is 0600; -test checks the stage', async () => {
  const p = await startPipeline();
  assert.equal(statSync(p.socket).mode & 0o777, 0o600);
  const cases: [SubscriptionRequest, RegExp][] = [
    [{ filter: { condition: 'proc.nme = bash' } }, /^condition:1:1: .*proc\.nme/],
    [{ filter: { condition: 'proc.name = ' } }, /^condition:1:\d+: /],
    [{ filter: { types: ['XX'] } }, /unknown record type 'XX'/],
    [{ filter: { opflags: ['JUMP'] } }, /unknown op flag 'JUMP'/],
    [{ containers: { host_only: true, names: ['x*'] } }, /host_only selects records outside containers/],
  ];
  for (const [req, re] of cases) {
    const r = await subscribe(p.socket, req).done;
    assert.notEqual(r.status, 'end', JSON.stringify(req));
    const st = r.status as { code: number; details: string };
    assert.equal(st.code, grpc.status.INVALID_ARGUMENT);
    assert.match(st.details, re);
  }
  await p.run.stop('SIGTERM');
  const bad = join(p.dir, 'bad.json');
  writeFileSync(
    bad,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'e eventchan', mode: 'enrich' },
        { processor: 'subscriptions', in: 'e eventchan', batch: 'many' },
      ],
    }),
  );
  const t = spawnSync(process.execPath, [CLI, '-test', '-config', bad, TRACE], { env: childEnv(), encoding: 'utf8' });
  assert.equal(t.status, 1);
  assert.match(t.stderr, /plugin #2 \(subscriptions\): attribute 'batch': must be a whole number from 1 to 100000, got 'many'/);
});

test('sfprocessor subscribe prints JSON lines or text lines and exits 0 at its limit, 1 with one line without a service', async () => {
  const p = await startPipeline();
  const client = (args: string[]) => {
    const child = spawnSync(process.execPath, [CLI, 'subscribe', '-socket', p.socket, ...args], { env: childEnv(), encoding: 'utf8', timeout: 30_000 });
    return child;
  };
  // the clients must be connected before data flows: they run in the background
  const bg = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [CLI, 'subscribe', '-socket', p.socket, ...args], { env: childEnv() });
      let stdout = '';
      let stderr = '';
      c.stdout.on('data', (d) => (stdout += d));
      c.stderr.on('data', (d) => (stderr += d));
      c.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const j = bg(['-limit', '5', '-types', 'PE']);
  const t = bg(['-limit', '3', '-o', 'text', '-filter', 'sf.opflags contains EXEC']);
  await sleep(800);
  await streamSend(p.collector, traceMessages(TRACE).messages);
  const jr = await j;
  const tr = await t;
  await p.run.stop('SIGTERM');
  assert.equal(jr.code, 0, jr.stderr);
  const js = lines(jr.stdout).map((l) => JSON.parse(l) as { seq: number; host: string; record: { type: string } });
  assert.equal(js.length, 5);
  assert.ok(js.every((e) => e.record.type === 'PE' && e.seq > 0 && e.host));
  assert.equal(tr.code, 0, tr.stderr);
  const tl = lines(tr.stdout);
  assert.equal(tl.length, 3);
  for (const l of tl) assert.match(l, /^#\d+ \d{4}-\d\d-\d\dT[\d:.]+Z PE \S+ \S+\[\d+\] .*EXEC/);
  const none = client(['-limit', '1']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^sfprocessor: error: .*telemetry\.sock: no telemetry service/);
  assert.equal(lines(none.stderr).length, 1);
});

test('since replays the held history, then continues live with no gap and no duplicate', async () => {
  const p = await startPipeline({ history: '100000' });
  const { messages } = traceMessages(TRACE);
  await streamSend(p.collector, messages);
  await p.run.waitFor(/collector connection #1 closed/);
  await sleep(300);
  const past = subscribe(p.socket, { since_ms: 3_600_000 });
  const live = subscribe(p.socket, {});
  await sleep(300);
  await streamSend(p.collector, messages);
  await p.run.waitFor(/collector connection #2 closed/);
  await sleep(500);
  await p.run.stop('SIGTERM');
  const exported = lines(readFileSync(p.out, 'utf8'));
  const half = exported.length / 2;
  const a = await past.done;
  const b = await live.done;
  assert.deepEqual(
    a.events.map((e) => e.seq),
    exported.map((_, i) => i + 1),
    'the first copy from history, the second live',
  );
  assert.deepEqual(
    a.events.map((e) => e.json),
    exported,
  );
  assert.deepEqual(
    b.events.map((e) => e.seq),
    exported.slice(half).map((_, i) => half + i + 1),
    'live only: the second copy',
  );
});

test('a history smaller than the past asked for replays what it holds: the newest records', async () => {
  const p = await startPipeline({ history: '1000' });
  const { messages } = traceMessages(TRACE);
  await streamSend(p.collector, messages);
  await p.run.waitFor(/collector connection #1 closed/);
  await sleep(300);
  const past = subscribe(p.socket, { since_ms: 3_600_000, limit: 1000 });
  const r = await past.done;
  await p.run.stop('SIGTERM');
  const n = lines(readFileSync(p.out, 'utf8')).length;
  assert.deepEqual(
    r.events.map((e) => e.seq),
    Array.from({ length: 1000 }, (_, i) => n - 999 + i),
  );
});

test('container filters: globs on name, id and image, or only the host', async () => {
  // a Kubernetes trace: 22 containers, and a few records of the host
  const trace = join(FIXTURES, 'traces', 'sf-processor', 'k8s_small.sf');
  const flat = await flatRecords(trace);
  const c = flat.find((f) => f.container !== undefined)!.container!;
  const namePrefix = c.name.slice(0, 6);
  const imageSuffix = c.image.slice(-6);
  const p = await startPipeline();
  const subs = {
    name: subscribe(p.socket, { containers: { names: [`${namePrefix}*`] } }),
    id: subscribe(p.socket, { containers: { ids: [`${c.id.slice(0, -1)}?`] } }),
    image: subscribe(p.socket, { containers: { images: [`*${imageSuffix}`] } }),
    either: subscribe(p.socket, { containers: { ids: [c.id], names: ['no-such-*'] } }),
    none: subscribe(p.socket, { containers: { names: ['no-such-*'] } }),
    host: subscribe(p.socket, { containers: { host_only: true } }),
  };
  await sleep(300);
  await streamSend(p.collector, traceMessages(trace).messages);
  await p.run.waitFor(/collector connection #1 closed/);
  await sleep(300);
  await p.run.stop('SIGTERM');
  const seqs = (pred: (f: (typeof flat)[number]) => boolean) => flat.map((f, i) => (pred(f) ? i + 1 : 0)).filter(Boolean);
  const byName = seqs((f) => f.container?.name.startsWith(namePrefix) ?? false);
  const byId = seqs((f) => f.container?.id === c.id);
  const byImage = seqs((f) => f.container?.image.endsWith(imageSuffix) ?? false);
  const onHost = seqs((f) => f.container === undefined);
  assert.ok(byId.length > 0 && onHost.length > 0 && byName.length < flat.length, 'the trace has several containers and the host');
  const got = Object.fromEntries(await Promise.all(Object.entries(subs).map(async ([k, s]) => [k, (await s.done).events.map((e) => e.seq)] as const)));
  assert.deepEqual(got.name, byName);
  assert.deepEqual(got.id, byId);
  assert.deepEqual(got.image, byImage);
  assert.deepEqual(got.either, byId);
  assert.deepEqual(got.none, []);
  assert.deepEqual(got.host, onHost);
});

/** Open file descriptors and resident memory of a process (Linux /proc). */
function usage(pid: number): { fds: number; rssKb: number } {
  const fds = readdirSync(`/proc/${pid}/fd`).length;
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { fds, rssKb: Number(rss?.[1] ?? 0) };
}

test('50 clients connecting and leaving in a loop leave no descriptors behind and no memory growth', async () => {
  const p = await startPipeline();
  const pid = p.run.child.pid!;
  const round = async () => {
    for (let i = 0; i < 50; i++) {
      const s = subscribe(p.socket, { filter: { condition: 'proc.name = httpd' } });
      await sleep(5);
      s.call.cancel();
      await s.done;
    }
  };
  await round(); // warm-up: gRPC's and V8's one-time allocations
  await sleep(500);
  const before = usage(pid);
  await round();
  await round();
  await sleep(500);
  const after = usage(pid);
  await p.run.stop('SIGTERM');
  assert.ok(after.fds <= before.fds + 1, `descriptors: ${before.fds} → ${after.fds}`);
  assert.ok(after.rssKb - before.rssKb < 20_000, `RSS: ${before.rssKb} → ${after.rssKb} kB`);
});

test('TCP with TLS: a client certificate from the configured CA is served, one from another CA is refused', async () => {
  const certs = join(TMP, 'certs');
  mkdirSync(certs);
  await makeCerts(certs);
  const c = (f: string) => join(certs, f);
  const p = await startPipeline({ addr: '127.0.0.1:0', 'tls.cert': c('server.pem'), 'tls.key': c('server.key'), 'tls.ca': c('ca.pem') });
  const port = Number((await p.run.waitFor(/serving GetEvents on 127\.0\.0\.1:(\d+) \(TLS, client certificates required\)/))[1]);
  const tls = (key: string, cert: string) => new Telemetry(`127.0.0.1:${port}`, grpc.credentials.createSsl(readFileSync(c('ca.pem')), readFileSync(c(key)), readFileSync(c(cert))));
  const consume = (client: Client, req: SubscriptionRequest) =>
    new Promise<{ n: number; err: Grpc.ServiceError | null }>((resolve) => {
      let n = 0;
      const call = client.GetEvents(req);
      call.on('data', (b: EventBatch) => (n += b.events.length));
      call.on('end', () => resolve({ n, err: null }));
      call.on('error', (e: Grpc.ServiceError) => resolve({ n, err: e }));
    });
  const good = consume(tls('client.key', 'client.pem'), { limit: 5 });
  const rogue = await consume(tls('wrong-client.key', 'wrong-client.pem'), { limit: 5 });
  await sleep(300);
  await streamSend(p.collector, traceMessages(TRACE).messages);
  const g = await good;
  await p.run.stop('SIGTERM');
  assert.deepEqual(g, { n: 5, err: null });
  assert.ok(rogue.err, 'refused');
  assert.equal(rogue.err.code, grpc.status.UNAVAILABLE);
  assert.equal(rogue.n, 0);
  // TCP without TLS is refused when the stage starts
  const plain = join(p.dir, 'plain.json');
  writeFileSync(
    plain,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'e eventchan', mode: 'enrich' },
        { processor: 'subscriptions', in: 'e eventchan', addr: '127.0.0.1:0' },
      ],
    }),
  );
  const t = spawnSync(process.execPath, [CLI, '-test', '-config', plain, TRACE], { env: childEnv(), encoding: 'utf8' });
  assert.equal(t.status, 1);
  assert.match(t.stderr, /attribute 'addr': TCP is served with TLS only/);
  // a port already taken: one line, exit 1, no socket file left behind, no hanging server
  const taken = createNetServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const busy = (taken.address() as AddressInfo).port;
  const dir = join(TMP, 'busy');
  mkdirSync(dir);
  const busyCfg = join(dir, 'pipeline.json');
  const sock = join(dir, 'telemetry.sock');
  writeFileSync(
    busyCfg,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'e eventchan', mode: 'enrich' },
        { processor: 'subscriptions', in: 'e eventchan', socket: sock, addr: `127.0.0.1:${busy}`, 'tls.cert': c('server.pem'), 'tls.key': c('server.key') },
      ],
    }),
  );
  const b = spawnSync(process.execPath, [CLI, '-config', busyCfg, '-driver', 'socket', join(dir, 'collector.sock')], { env: childEnv(), encoding: 'utf8', timeout: 20_000 });
  taken.close();
  assert.equal(b.status, 1, b.stderr);
  assert.match(b.stderr, new RegExp(`attribute 'addr': cannot serve telemetry on 127\\.0\\.0\\.1:${busy}: the port is taken`));
  assert.equal(lines(b.stderr).filter((l) => l.includes('error')).length, 1);
  assert.equal(existsSync(sock), false, 'the socket file is removed');
});
