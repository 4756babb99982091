/**
 * The hand-written protobuf of the telemetry service (core/telemetry/wire.ts), the hub's shared
 * event encoding and the byte-level projection, checked against independent decoders: gRPC's own
 * deserializer from the proto (what every client uses) and a parse-and-pick reference projection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as Grpc from '@grpc/grpc-js';
import { jsonText } from '../core/export/encoders/json.js';
import type { FlatRecord } from '../core/flatten/flatrecord.js';
import { compileCondition, NO_VOCABULARY } from '../core/policy/condition.js';
import { Hub } from '../core/telemetry/hub.js';
import type { BatchMessage } from '../core/telemetry/messages.js';
import { compileProjection, projected } from '../core/telemetry/projection.js';
import { EventQueue, serializeBatch } from '../core/telemetry/event-queue.js';
import { type EventBatch, loadTelemetry } from '../core/telemetry/proto.js';
import { compileSubscription, type SubscriptionRequest } from '../core/telemetry/subscription.js';
import { Tap } from '../core/telemetry/tap.js';
import { eventHeaderSize, writeEventHeaderBefore } from '../core/telemetry/wire.js';
import { JsonEncoder } from '../core/export/encoders/json.js';
import { exactToString, parseExact } from '../core/util/i64.js';
import { SfType } from '../core/sysflow/types.js';
import { FIXTURES } from './helpers/corpus.js';
import { pe } from './helpers/records.js';
import { flatRecords } from './helpers/run-pipeline.js';
import { join } from 'node:path';

/** gRPC's deserializer for GetEvents' responses, built from the proto (not from wire.ts). */
async function decoder(): Promise<(b: Buffer) => EventBatch> {
  const { Client } = await loadTelemetry();
  return (Client as unknown as Grpc.ServiceClientConstructor).service.GetEvents!.responseDeserialize as (b: Buffer) => EventBatch;
}

/**
 * What a server stream sends for the events queued in q: every batch taken (at most `max` events
 * each) and serialized as gRPC would, decoded at once; the counts go with the first batch.
 */
function drain(decode: (b: Buffer) => EventBatch, q: EventQueue, dropped = 0, suppressed = 0, max = 1000): EventBatch[] {
  const out: EventBatch[] = [];
  do {
    out.push(decode(serializeBatch(q.take(max, dropped, suppressed))));
    dropped = suppressed = 0;
  } while (q.length > 0);
  return out;
}

function queueOf(events: readonly Buffer[]): EventQueue {
  const q = new EventQueue();
  for (const e of events) q.push(e, 0, e.length);
  return q;
}

/** An Event message: the header written before the JSON, as the hub does. */
function encodeEvent(seq: number, d: number, ns: number, type: Buffer, host: Buffer, json: Buffer): Buffer {
  const size = eventHeaderSize(seq, d, ns, type, host, json.length);
  const b = Buffer.alloc(size + json.length);
  assert.equal(writeEventHeaderBefore(b, size, seq, d, ns, type, host, json.length), 0);
  json.copy(b, size);
  return b;
}

test('Event and EventBatch: every field decodes as written, 64-bit timestamps exactly, negative ones too', async () => {
  const decode = await decoder();
  const stamps = [
    '0',
    '1',
    '127',
    '128',
    '4294967295',
    '4294967296',
    '9007199254740991',
    '1554995026123456789',
    '1700000000999999999',
    '9223372036854775807',
    '-1',
    '-1000000000',
    '-1554995026123456789',
    '-9223372036854775808',
  ];
  const host = Buffer.from('höst-ß.example');
  for (const [i, s] of stamps.entries()) {
    const ts = parseExact(s)!;
    const json = Buffer.from(JSON.stringify({ i, text: 'ünïcode ✓', s }));
    const seq = [1, 127, 128, 16384, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER][i % 7]!;
    const e = encodeEvent(seq, ts.d, ts.ns, Buffer.from('PE'), host, json);
    const [b, ...rest] = drain(decode, queueOf([e, e]), i * 1000, i === 3 ? 2 ** 40 : 0);
    assert.ok(b && rest.length === 0);
    assert.equal(b.events.length, 2);
    for (const got of b.events) {
      assert.equal(got.ts, s, `ts ${s}`);
      assert.equal(got.ts, exactToString(ts.d, ts.ns));
      assert.equal(got.seq, String(seq));
      assert.equal(got.type, 'PE');
      assert.equal(got.host, host.toString());
      assert.equal(got.json, json.toString());
    }
    assert.equal(b.dropped, String(i * 1000));
    assert.equal(b.suppressed, String(i === 3 ? 2 ** 40 : 0));
  }
  // an event given another JSON keeps its other fields
  const long = Buffer.from(JSON.stringify({ pad: 'p'.repeat(300) }));
  const e = encodeEvent(42, 1e18, 0, Buffer.from('NF'), host, long);
  // (in a buffer with other bytes around the event)
  const around = Buffer.concat([Buffer.from('prefix'), e, Buffer.from('suffix')]);
  for (const json of ['{}', '{"a":1}', JSON.stringify({ b: 'q'.repeat(200) })]) {
    const q = new EventQueue();
    const j = Buffer.from(`..${json}`);
    q.pushWithJson(around, 6, 6 + e.length - long.length, 6 + e.length, j.subarray(2), j.length - 2);
    const got = drain(decode, q)[0]!.events[0]!;
    assert.deepEqual(got, { seq: '42', ts: '1000000000000000000', type: 'NF', host: host.toString(), json });
  }
  const [empty] = drain(decode, new EventQueue());
  assert.deepEqual([empty!.events.length, empty!.dropped, empty!.suppressed], [0, '0', '0']);
  const [counts] = drain(decode, new EventQueue(), 7, 9);
  assert.deepEqual([counts!.events.length, counts!.dropped, counts!.suppressed], [0, '7', '9']);
});

test('queued events keep their bytes while their batches wait to be serialized, across chunks going back to the pool', async () => {
  const decode = await decoder();
  const host = Buffer.from('h');
  // events of varied sizes, some larger than a chunk, so batches end at chunk ends and chunks are reused
  const events = Array.from({ length: 6000 }, (_, i) =>
    encodeEvent(i + 1, i, 0, Buffer.from('PE'), host, Buffer.from(JSON.stringify({ i, pad: 'x'.repeat(i % 97 === 0 ? (i % 3) * 200_000 : (i * 37) % 900) }))),
  );
  const q = new EventQueue();
  const waiting: ReturnType<EventQueue['take']>[] = [];
  const got: string[] = [];
  let next = 0;
  for (let round = 0; next < events.length || q.length > 0; round++) {
    for (let k = 0; k < 700 && next < events.length; k++, next++) q.push(events[next]!, 0, events[next]!.length);
    // batches are held back (a stream's buffer) and serialized a round later, after more were queued
    const held = waiting.splice(0);
    while (q.length > 0 && waiting.length < 5) waiting.push(q.take(round % 2 === 0 ? 64 : 500, 0, round % 3 === 0 ? 1 : 0));
    for (const b of held) for (const e of decode(serializeBatch(b)).events) got.push(e.seq);
  }
  for (const b of waiting) for (const e of decode(serializeBatch(b)).events) got.push(e.seq);
  assert.deepEqual(
    got,
    events.map((_, i) => String(i + 1)),
  );
  // and a queue cleared with batches still waiting leaves them intact
  const q2 = queueOf(events.slice(0, 2000));
  const first = q2.take(2000, 0, 0);
  q2.clear();
  queueOf(events.slice(2000, 4000)).take(2000, 0, 0);
  assert.ok(first.count > 0);
  assert.deepEqual(
    decode(serializeBatch(first)).events.map((e) => e.seq),
    events.slice(0, first.count).map((_, i) => String(i + 1)),
  );
  assert.equal(q2.take(1, 0, 0).count, 0);
});

/** A hub whose batches are collected, as the telemetry thread would receive them. */
function newHub(history = 0): { hub: Hub; batches: BatchMessage[] } {
  const enc = new JsonEncoder('5');
  const batches: BatchMessage[] = [];
  return {
    hub: new Hub(
      (r, out) => enc.encode(r, out),
      'test-host',
      history,
      (m) => batches.push(m),
    ),
    batches,
  };
}

/** The events stream `id` got, decoded by gRPC's deserializer, and its suppressed count. */
async function eventsOf(batches: readonly BatchMessage[], id: number): Promise<{ events: EventBatch['events']; suppressed: number }> {
  const decode = await decoder();
  const events: EventBatch['events'] = [];
  let suppressed = 0;
  for (const m of batches) {
    const q = new EventQueue();
    const buf = Buffer.from(m.buf);
    for (let i = 0; i < m.to.length; i += 2) {
      if (m.to[i] !== id) continue;
      const e = 3 * m.to[i + 1]!;
      q.push(buf, m.events[e]!, m.events[e + 2]!);
    }
    for (let i = 0; i < m.suppressed.length; i += 2) if (m.suppressed[i] === id) suppressed += m.suppressed[i + 1]!;
    for (const b of drain(decode, q)) events.push(...b.events);
  }
  return { events, suppressed };
}

const tap = (id: number, req: SubscriptionRequest) => new Tap(id, compileSubscription(req, NO_VOCABULARY));

function publish(hub: Hub, records: readonly FlatRecord[]): void {
  for (let i = 0; i < records.length; i += 1000) hub.publish(records.slice(i, i + 1000));
}

test('the hub encodes each record once as a whole Event, across chunk boundaries and for records larger than a chunk', async () => {
  const records = await flatRecords(join(FIXTURES, 'traces'));
  assert.ok(records.length > 1000, `${records.length} records`);
  // a record whose JSON alone exceeds the hub's 1 MiB chunks, among ordinary ones
  const big = pe({ exe: '/bin/big', args: 'x'.repeat(3 << 20) });
  const all = [...records.slice(0, 500), big, ...records.slice(500)];
  const text = jsonText('5');
  const { hub, batches } = newHub();
  hub.add(tap(1, {}));
  hub.add(tap(2, { filter: { types: ['NF'] } }));
  publish(hub, all);
  const { events } = await eventsOf(batches, 1);
  assert.equal(events.length, all.length);
  // an event two streams take is encoded once
  const nf = all.filter((r) => r.sfType === 5).length;
  assert.ok(nf > 0);
  assert.equal((await eventsOf(batches, 2)).events.length, nf);
  assert.equal(
    batches.reduce((n, m) => n + m.events.length / 3, 0),
    all.length,
  );
  for (let i = 0; i < all.length; i++) {
    const e = events[i]!;
    const r = all[i]!;
    assert.equal(e.seq, String(i + 1));
    assert.equal(e.ts, exactToString(r.rec.ts, r.rec.tsNs));
    assert.equal(e.host, 'test-host');
    assert.equal(e.json, text(r), `record ${i + 1}`);
  }
});

/** The projection as documented, on parsed JSON: pick the includes (in their order), then drop the excludes. */
function reference(json: string, include: readonly string[], exclude: readonly string[]): unknown {
  type Obj = Record<string, unknown>;
  const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
  const segs = (p: string) => (p.endsWith('.') ? p.slice(0, -1) : p).split('.');
  const doc = JSON.parse(json) as Obj;
  let out: Obj = doc;
  if (include.length) {
    out = {};
    for (const path of include.map(segs)) {
      let src: unknown = doc;
      let dst = out;
      for (let i = 0; i < path.length; i++) {
        const k = path[i]!;
        if (!isObj(src) || !(k in src)) break;
        src = src[k];
        if (i === path.length - 1) dst[k] = src;
        else dst = (isObj(dst[k]) ? dst[k] : (dst[k] = {})) as Obj;
      }
    }
  }
  for (const path of exclude.map(segs)) {
    let cur: unknown = out;
    for (let i = 0; i < path.length - 1 && isObj(cur); i++) cur = cur[path[i]!];
    if (isObj(cur)) delete cur[path[path.length - 1]!];
  }
  return out;
}

test('projections over every bundled record give what the documented pick-then-drop gives, in record order', async () => {
  const records = await flatRecords(join(FIXTURES, 'traces'));
  const text = jsonText('5');
  const specs: [string[], string[]][] = [
    [['proc.exe', 'net.dip', 'net.dport'], []],
    [['proc.'], ['proc.args', 'proc.cmdline']],
    [['type', 'ts', 'proc.exe', 'file.path', 'container.'], ['container.id']],
    [[], ['proc', 'pproc', 'node.']],
    [['proc.exe.deeper', 'nosuch', 'nosuch.field', 'policies'], []],
    [
      ['proc', 'proc.pid', 'file'],
      ['proc.exe', 'file.path'],
    ],
  ];
  for (const [include, exclude] of specs) {
    const project = compileProjection({ include, exclude });
    for (const r of records) {
      const json = text(r);
      // the JSON among other bytes, as it is in a batch's buffer
      const b = Buffer.from(`{"x":1}${json}"{\\"`);
      const got = projected().toString('utf8', 0, project(b, 7, 7 + Buffer.byteLength(json)));
      assert.deepEqual(JSON.parse(got), reference(json, include, exclude), `${include}/${exclude} on ${json}`);
      // fields keep the record's order
      const order = (s: string) => Object.keys(JSON.parse(s) as object);
      const want = order(json).filter((k) => order(got).includes(k));
      assert.deepEqual(order(got), want);
    }
  }
});

test('a held record replayed to a later stream is the same Event the live one got; throttled records are counted', async () => {
  const records = (await flatRecords(join(FIXTURES, 'traces'))).slice(0, 3000);
  const { hub, batches } = newHub(5000);
  hub.add(tap(1, {}));
  hub.add(tap(2, { throttle: { interval_ms: 3_600_000, key: 'PROCESS' } }));
  publish(hub, records);
  hub.add(tap(3, { since_ms: 60_000 }), 60_000);
  const live = await eventsOf(batches, 1);
  assert.deepEqual((await eventsOf(batches, 3)).events, live.events);
  // one event per process key within the hour; the rest suppressed
  const throttled = await eventsOf(batches, 2);
  const keys = new Set(records.map((r) => (r.proc ? `${r.proc.oid.hpid}:${r.proc.oid.createTS}` : '')));
  assert.equal(throttled.events.length, keys.size);
  assert.equal(throttled.suppressed, records.length - keys.size);
});

test('filters worked out while the exporter wrote the batch give the same streams, also when the exporter saw other records or a stream came in between', async () => {
  // every k-th bundled record: a mix of all types in each batch
  const all = await flatRecords(join(FIXTURES, 'traces'));
  const records = all.filter((_, i) => i % Math.ceil(all.length / 4000) === 0);
  const reqs: SubscriptionRequest[] = [
    { filter: { types: ['PE'] } },
    { filter: { opflags: ['EXEC', 'OPEN'] } },
    { filter: { condition: 'sf.file.path contains /etc' } },
    { throttle: { interval_ms: 3_600_000, key: 'FILE' }, filter: { types: ['FF'] } },
    {},
  ];
  const late: SubscriptionRequest = { filter: { types: ['FF', 'NF'] } };
  const ids = [1, 2, 3, 4, 5, 6];
  // plain: publish alone; prematched: as the subscriptions stage runs beside an exporter
  const plain = newHub();
  const pre = newHub();
  for (const [i, q] of reqs.entries()) {
    plain.hub.add(tap(i + 1, q));
    pre.hub.add(tap(i + 1, q));
  }
  let prematched = 0;
  for (let i = 0, n = 0; i < records.length; i += 500, n++) {
    const batch = records.slice(i, i + 500);
    if (n === 3) plain.hub.add(tap(6, late));
    // batch 1: the exporter saw other records (the next batch); batch 3: a stream came after prematch
    const seen = n === 1 ? records.slice(i + 500, i + 1000) : n === 2 ? batch.slice(100) : batch;
    for (const r of seen) if (pre.hub.prematch(r)) prematched++;
    if (n === 3) pre.hub.add(tap(6, late));
    pre.hub.publish(batch);
    plain.hub.publish(batch);
  }
  assert.ok(prematched > 0 && prematched < records.length, `${prematched} records prematched`);
  for (const id of ids) {
    const want = await eventsOf(plain.batches, id);
    assert.ok(want.events.length > 0, `stream ${id} got events`);
    assert.deepEqual(await eventsOf(pre.batches, id), want, `stream ${id}`);
  }
  assert.ok((await eventsOf(plain.batches, 4)).suppressed > 0, 'the throttle suppressed some');
});

test('a condition that only some record types can meet is shown only those types, and selects what it selects on all', async () => {
  const records = await flatRecords(join(FIXTURES, 'traces'));
  const cond = 'evt.type in (connect, accept) or (sf.type = PE and sf.proc.name = bash)';
  const sub = compileSubscription({ filter: { condition: cond } }, NO_VOCABULARY);
  const bits = (...ts: number[]) => ts.reduce((m, t) => m | (1 << t), 0);
  // connect and accept are network flows' and (unix sockets) file flows' op flags
  assert.equal(sub.types, bits(SfType.PE, SfType.NF, SfType.FF));
  const { hub, batches } = newHub();
  hub.add(new Tap(1, sub));
  publish(hub, records);
  const test = compileCondition(cond, NO_VOCABULARY).test;
  const want = records.flatMap((r, i) => (test(r) ? [String(i + 1)] : []));
  assert.ok(want.length > 0);
  assert.deepEqual(
    (await eventsOf(batches, 1)).events.map((e) => e.seq),
    want,
  );
});
