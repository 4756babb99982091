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
import { NO_VOCABULARY } from '../core/policy/condition.js';
import { Hub } from '../core/telemetry/hub.js';
import { compileProjection } from '../core/telemetry/projection.js';
import { type EventBatch, loadTelemetry } from '../core/telemetry/proto.js';
import { Subscriber } from '../core/telemetry/subscriber.js';
import { compileSubscription, type SubscriptionRequest } from '../core/telemetry/subscription.js';
import { encodeBatch, encodeEvent, type WireBatch } from '../core/telemetry/wire.js';
import { JsonEncoder } from '../core/export/encoders/json.js';
import { exactToString, parseExact } from '../core/util/i64.js';
import { FIXTURES } from './helpers/corpus.js';
import { pe } from './helpers/records.js';
import { flatRecords } from './helpers/run-pipeline.js';
import { join } from 'node:path';

/** gRPC's deserializer for GetEvents' responses, built from the proto (not from wire.ts). */
async function decoder(): Promise<(b: Buffer) => EventBatch> {
  const { Client } = await loadTelemetry();
  return (Client as unknown as Grpc.ServiceClientConstructor).service.GetEvents!.responseDeserialize as (b: Buffer) => EventBatch;
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
    const b = decode(encodeBatch({ events: [e, e], dropped: i * 1000, suppressed: i === 3 ? 2 ** 40 : 0 }));
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
  const empty = decode(encodeBatch({ events: [], dropped: 0, suppressed: 0 }));
  assert.deepEqual([empty.events.length, empty.dropped, empty.suppressed], [0, '0', '0']);
});

/** Subscribe to a hub with `req`, publish `records`, and return the decoded batches. */
async function through(hub: Hub, req: SubscriptionRequest, records: readonly FlatRecord[]): Promise<EventBatch[]> {
  const decode = await decoder();
  const batches: EventBatch[] = [];
  let ended!: () => void;
  const done = new Promise<void>((r) => (ended = r));
  const sink = { write: (b: WireBatch) => batches.push(decode(encodeBatch(b))) > 0, onDrain() {}, end: () => ended() };
  const s = new Subscriber(compileSubscription(req, NO_VOCABULARY), sink, hub.host, 1e7, 500, (x) => hub.remove(x));
  hub.add(s);
  for (let i = 0; i < records.length; i += 1000) hub.publish(records.slice(i, i + 1000));
  hub.finishAll();
  await done;
  return batches;
}

const newHub = (history = 0) => {
  const enc = new JsonEncoder('5');
  return new Hub((r, out) => enc.encode(r, out), 'test-host', history);
};

test('the hub encodes each record once as a whole Event, across chunk boundaries and for records larger than a chunk', async () => {
  const records = await flatRecords(join(FIXTURES, 'traces'));
  assert.ok(records.length > 1000, `${records.length} records`);
  // a record whose JSON alone exceeds the hub's 1 MiB chunks, among ordinary ones
  const big = pe({ exe: '/bin/big', args: 'x'.repeat(3 << 20) });
  const all = [...records.slice(0, 500), big, ...records.slice(500)];
  const text = jsonText('5');
  const batches = await through(newHub(), {}, all);
  const events = batches.flatMap((b) => b.events);
  assert.equal(events.length, all.length);
  for (let i = 0; i < all.length; i++) {
    const e = events[i]!;
    const r = all[i]!;
    assert.equal(e.seq, String(i + 1));
    assert.equal(e.ts, exactToString(r.rec.ts, r.rec.tsNs));
    assert.equal(e.host, 'test-host');
    assert.equal(e.json, text(r), `record ${i + 1}`);
  }
  assert.ok(batches.every((b) => b.events.length <= 500));
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
      const got = Buffer.from(project(Buffer.from(json))).toString();
      assert.deepEqual(JSON.parse(got), reference(json, include, exclude), `${include}/${exclude} on ${json}`);
      // fields keep the record's order
      const order = (s: string) => Object.keys(JSON.parse(s) as object);
      const want = order(json).filter((k) => order(got).includes(k));
      assert.deepEqual(order(got), want);
    }
  }
});

test('a held record replayed to a later subscriber is the same Event the live one got', async () => {
  const records = (await flatRecords(join(FIXTURES, 'traces'))).slice(0, 3000);
  const hub = newHub(5000);
  const live = await through(hub, {}, records);
  const decode = await decoder();
  const replayed: EventBatch[] = [];
  let ended!: () => void;
  const done = new Promise<void>((r) => (ended = r));
  const sink = { write: (b: WireBatch) => replayed.push(decode(encodeBatch(b))) > 0, onDrain() {}, end: () => ended() };
  const s = new Subscriber(compileSubscription({ since_ms: 60_000 }, NO_VOCABULARY), sink, hub.host, 1e7, 500, () => {});
  hub.add(s, 60_000);
  s.finish();
  await done;
  assert.deepEqual(
    replayed.flatMap((b) => b.events),
    live.flatMap((b) => b.events),
  );
});
