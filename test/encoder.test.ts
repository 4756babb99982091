import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { BigLong } from './helpers/avro-bigint.js';
import { AvroWriter, encodeSysFlow } from './helpers/avro-writer.js';
import { SysFlowFileWriter, MemorySink, DEFAULT_BLOCK_BYTES } from './helpers/ocf-writer.js';
import { SysFlowFileReader } from '../core/avro/ocf.js';
import { Tap } from '../core/avro/tap.js';
import { exactToString, toHiLo } from '../core/util/i64.js';
import { SYSFLOW_SCHEMA } from '../core/sysflow/schema.js';
import { SF_TYPE_NAMES, type SysFlowRecord, type NetworkFlow, type Process, type FileEvent, type Pod } from '../core/sysflow/types.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test');
    dir = up;
  }
  return dir;
}

const TRACES = join(repoRoot(), 'test/fixtures/traces');

function allTraces(dir = TRACES): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? allTraces(p) : [p];
    });
}

const read = (path: string): SysFlowRecord[] => SysFlowFileReader.open(path).readAll();
const readBuf = (buf: Buffer): SysFlowRecord[] => {
  const r = SysFlowFileReader.fromBuffer('mem', buf);
  const recs = r.readAll();
  assert.equal(r.warnings.length, 0, JSON.stringify(r.warnings));
  return recs;
};

/** What a record read from an older schema looks like once written as v5 and read back. */
function withDefaults(r: SysFlowRecord): SysFlowRecord {
  switch (r.sfType) {
    case 0:
      return { ...r, ip: r.ip ?? 'NA', filename: r.filename ?? '' };
    case 1:
      return { ...r, privileged: r.privileged ?? false, podId: r.podId === undefined ? null : r.podId };
    case 2:
      return { ...r, tty: r.tty ?? false, entry: r.entry ?? false, cwd: r.cwd ?? '', env: r.env ?? [] };
    case 5:
      return { ...r, fd: r.fd ?? -1 };
    case 6:
      return { ...r, openFlags: r.openFlags ?? 0 };
    default:
      return r;
  }
}

/** Exact (d, ns) of a BigInt, as decoders store wide values. */
function wide(v: bigint): { d: number; ns: number } {
  return { d: Number(v), ns: Number(((v % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n) };
}

/** Reference zig-zag varint via BigInt. */
function refVarint(v: bigint): Buffer {
  let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  const out: number[] = [];
  while (z > 0x7fn) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return Buffer.from(out);
}

/** Deterministic 64-bit test values: boundaries plus an LCG spread over every magnitude. */
function testValues(): bigint[] {
  const vs = [
    0n,
    1n,
    -1n,
    63n,
    -64n,
    64n,
    -65n,
    8191n,
    8192n,
    2n ** 31n - 1n,
    -(2n ** 31n),
    2n ** 31n,
    -(2n ** 31n) - 1n,
    2n ** 32n - 1n,
    2n ** 32n,
    2n ** 53n - 1n,
    -(2n ** 53n) + 1n,
    2n ** 53n,
    2n ** 53n + 1n,
    -(2n ** 53n) - 1n,
    2n ** 63n - 1n,
    -(2n ** 63n),
    2n ** 63n - 1000n,
    -(2n ** 63n) + 999_999_999n,
    1553543280704111050n,
    -1553543280704111050n,
    1553543280704111051n,
    1_000_000_000n * 1_700_000_000n,
  ];
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 2000; i++) {
    x = BigInt.asUintN(64, x * 6364136223846793005n + 1442695040888963407n);
    const shift = BigInt(i % 64);
    vs.push(BigInt.asIntN(64, x) >> shift);
  }
  return vs;
}

function avscType(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigLong } } as Partial<avro.ForSchemaOptions>);
}

/**
 * A comparable form shared by our records and avsc values: integers of any kind as decimal strings
 * (wide fields folded from (d, ns)), fixed as hex, plain objects.
 */
function canon(v: unknown): unknown {
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o)) {
      if (k === 'sfType' || (k.endsWith('Ns') && k.slice(0, -2) in o)) continue;
      const ns = o[k + 'Ns'];
      out[k] = typeof ns === 'number' ? exactToString(o[k] as number, ns) : canon(o[k]);
    }
    return out;
  }
  return v;
}

function decodeWithAvscFile(path: string): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const out: unknown[] = [];
    avro
      .createFileDecoder(path, { parseHook: (s: unknown) => avscType(s) } as Partial<avro.DecoderOptions>)
      .on('data', (d: unknown) => out.push(d))
      .on('error', reject)
      .on('end', () => resolve(out));
  });
}

test('i64.toHiLo splits exact values like BigInt', () => {
  for (const v of testValues()) {
    const { d, ns } = wide(v);
    const { hi, lo } = toHiLo(d, ns);
    assert.equal(BigInt(hi) * 2n ** 32n + BigInt(lo), v, `toHiLo(${v})`);
    assert.ok(lo >= 0 && lo < 2 ** 32 && hi >= -(2 ** 31) && hi < 2 ** 31);
  }
});

test('writeWide and writeLong produce the exact zig-zag varint of 64-bit values', () => {
  const w = new AvroWriter(16);
  for (const v of testValues()) {
    const { d, ns } = wide(v);
    w.reset();
    w.writeWide(d, ns);
    assert.deepEqual(w.bytes(), refVarint(v), `writeWide(${v})`);
    // readWide gives back the same (d, ns)
    const t = new Tap(Buffer.from(w.bytes()));
    assert.equal(t.readWide(), d);
    assert.equal(t.ns, ns);
    if (Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v) {
      w.reset();
      w.writeLong(Number(v));
      assert.deepEqual(w.bytes(), refVarint(v), `writeLong(${v})`);
    }
  }
  assert.throws(() => w.writeLong(2 ** 63), RangeError);
  assert.throws(() => w.writeLong(1.5), RangeError);
  assert.throws(() => w.writeLong(Number.NaN), RangeError);
});

test('writeString handles ASCII, multi-byte and long strings; writeFixedHex validates', () => {
  const samples = [
    '',
    'a',
    'x'.repeat(42),
    'x'.repeat(43),
    'x'.repeat(63),
    'x'.repeat(64),
    'x'.repeat(62) + 'é',
    'é',
    'ab\u00e9cd',
    '日本語'.repeat(14),
    '😀'.repeat(21),
    'y'.repeat(5000) + 'ü',
    'line\n\u0000',
  ];
  const w = new AvroWriter(4); // forces growth
  for (const s of samples) w.writeString(s);
  const t = new Tap(Buffer.from(w.bytes()));
  for (const s of samples) assert.equal(t.readString(), s);
  assert.equal(t.pos, w.length);
  w.reset();
  assert.throws(() => w.writeFixedHex('ab', 20), RangeError);
  assert.throws(() => w.writeFixedHex('zz'.repeat(20), 20), RangeError);
  w.writeFixedHex('00ff'.repeat(10), 20);
  assert.equal(w.bytes().toString('hex'), '00ff'.repeat(10));
});

test('every bundled trace round-trips through encoder, OCF writer and reader', () => {
  const traces = allTraces();
  assert.ok(traces.length >= 10, `found ${traces.length} traces`);
  const mustCover = ['sf-processor/k8s_small.sf', 'sf-collector/alpine/alpine.sf'];
  for (const m of mustCover)
    assert.ok(
      traces.some((p) => p.endsWith(m)),
      `fixture ${m} missing`,
    );
  const seen = new Set<number>();
  for (const path of traces) {
    const name = relative(TRACES, path);
    const original = read(path);
    assert.ok(original.length > 0, name);
    for (const codec of ['deflate', 'null'] as const) {
      const buf = SysFlowFileWriter.toBuffer(original, { codec });
      const back = readBuf(buf);
      assert.equal(back.length, original.length, `${name} (${codec}) record count`);
      for (let i = 0; i < original.length; i++) {
        assert.deepStrictEqual(back[i], withDefaults(original[i]!), `${name} (${codec}) record ${i}`);
      }
    }
    for (const r of original) seen.add(r.sfType);
  }
  // The bundled fixtures have every record type except NetworkEvent and ProcessFlow (see the
  // synthetic test below).
  for (const t of [0, 1, 2, 3, 4, 5, 6, 7, 10, 11]) assert.ok(seen.has(t), `no fixture record of sfType ${t}`);
});

test('v5 fixture keeps cwd/env; K8s fixture keeps pods and events', () => {
  const alpine = readBuf(SysFlowFileWriter.toBuffer(read(join(TRACES, 'sf-collector/alpine/alpine.sf'))));
  const proc = alpine.find((r): r is Process => r.sfType === 2 && (r.env?.length ?? 0) > 0);
  assert.ok(proc, 'a Process with env');
  assert.ok(proc.cwd && proc.cwd.length > 0);
  assert.ok(proc.env!.some((e) => e.startsWith('PATH=')));
  const k8s = readBuf(SysFlowFileWriter.toBuffer(read(join(TRACES, 'sf-processor/k8s_small.sf'))));
  assert.equal(k8s.filter((r) => r.sfType === 10).length, 19);
  assert.equal(k8s.filter((r) => r.sfType === 11).length, 4);
  const pod = k8s.find((r): r is Pod => r.sfType === 10 && r.services.length > 0 && Object.keys(r.labels).length > 0);
  assert.ok(pod, 'a Pod with services and labels');
});

function syntheticRecords(): SysFlowRecord[] {
  const big = wide(1553543280704111050n);
  const neg = wide(-1553543280704111051n);
  const max = wide(2n ** 63n - 1n);
  const min = wide(-(2n ** 63n));
  const proc: Process = {
    sfType: 2,
    state: 'REUP',
    oid: { createTS: max.d, createTSNs: max.ns, hpid: -(2 ** 53) + 1 },
    poid: { createTS: min.d, createTSNs: min.ns, hpid: 2 ** 40 },
    ts: big.d,
    tsNs: big.ns,
    exe: '/bin/sh',
    exeArgs: '-c "echo é"',
    uid: -1,
    userName: '',
    gid: 2147483647,
    groupName: 'g',
    tty: true,
    containerId: null,
    entry: true,
    cwd: '/tmp',
    env: ['A=1', 'B=ü'],
  };
  const nf: NetworkFlow = {
    sfType: 5,
    procOID: proc.oid,
    ts: big.d,
    tsNs: big.ns,
    tid: 2 ** 53 - 1,
    opFlags: -2147483648,
    endTs: neg.d,
    endTsNs: neg.ns,
    sip: -2147483648,
    sport: 65535,
    dip: -1062731775,
    dport: 0,
    proto: -1,
    fd: -1,
    numRRecvOps: 0,
    numWSendOps: 1,
    numRRecvBytes: 2 ** 53 - 1,
    numWSendBytes: -(2 ** 53) + 1,
  };
  const fe: FileEvent = {
    sfType: 7,
    procOID: proc.oid,
    ts: 0,
    tsNs: 0,
    tid: 1,
    opFlags: 4096,
    fileOID: 'ab'.repeat(20),
    ret: -2,
    newFileOID: '0f'.repeat(20),
  };
  return [
    { sfType: 0, version: 5, exporter: 'node', ip: '10.0.0.1', filename: '/x.sf' },
    proc,
    nf,
    fe,
    { sfType: 8, procOID: proc.poid!, ts: neg.d, tsNs: neg.ns, tid: 3, opFlags: 1, sip: 1, sport: 2, dip: 3, dport: 4, proto: 6, ret: -110 },
    { sfType: 9, procOID: proc.oid, ts: min.d, tsNs: min.ns, numThreadsCloned: 3, opFlags: 0, endTs: max.d, endTsNs: max.ns, numThreadsExited: 2, numCloneErrors: 0 },
    { sfType: 11, kind: 'K8S_UNKNOWN', action: 'K8S_COMPONENT_ERROR', ts: big.d, tsNs: big.ns, message: '{"a":1}\n\u0000' },
  ];
}

test('wide and negative values survive exactly (our reader and avsc with BigInt longs)', async () => {
  const recs = syntheticRecords();
  const back = readBuf(SysFlowFileWriter.toBuffer(recs));
  assert.deepStrictEqual(back, recs);
  const nf = back[2] as NetworkFlow;
  assert.equal(exactToString(nf.ts, nf.tsNs), '1553543280704111050');
  assert.equal(exactToString(nf.endTs, nf.endTsNs), '-1553543280704111051');
  const p = back[1] as Process;
  assert.equal(exactToString(p.oid.createTS, p.oid.createTSNs), String(2n ** 63n - 1n));
  assert.equal(exactToString(p.poid!.createTS, p.poid!.createTSNs), String(-(2n ** 63n)));

  const dir = mkdtempSync(join(tmpdir(), 'sfenc-'));
  try {
    const file = join(dir, 'synthetic.sf');
    writeFileSync(file, SysFlowFileWriter.toBuffer(recs));
    const vals = (await decodeWithAvscFile(file)) as { rec: Record<string, Record<string, unknown>> }[];
    assert.equal(vals.length, recs.length);
    const v2 = vals[2]!.rec['sysflow.flow.NetworkFlow']!;
    assert.equal(v2.ts, 1553543280704111050n);
    assert.equal(v2.endTs, -1553543280704111051n);
    assert.equal(v2.sip, -2147483648);
    assert.equal(v2.numWSendBytes, -(2n ** 53n) + 1n);
    const v1 = vals[1]!.rec['sysflow.entity.Process']!;
    assert.deepEqual({ ...(v1.oid as object) }, { createTS: 2n ** 63n - 1n, hpid: -(2n ** 53n) + 1n });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('plain avsc decodes our files to the same values (fixtures and synthetic)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfenc-'));
  try {
    const inputs: [string, SysFlowRecord[]][] = [
      ['k8s_small', read(join(TRACES, 'sf-processor/k8s_small.sf'))],
      ['alpine', read(join(TRACES, 'sf-collector/alpine/alpine.sf'))],
      ['tcp', read(join(TRACES, 'sf-processor/tcp.sf'))],
      ['synthetic', syntheticRecords()],
    ];
    for (const [name, recs] of inputs) {
      const file = join(dir, `${name}.sf`);
      writeFileSync(file, SysFlowFileWriter.toBuffer(recs));
      const vals = (await decodeWithAvscFile(file)) as { rec: Record<string, unknown> }[];
      assert.equal(vals.length, recs.length, name);
      for (let i = 0; i < recs.length; i++) {
        const r = withDefaults(recs[i]!);
        const branch = vals[i]!.rec;
        assert.deepEqual(Object.keys(branch), [SF_TYPE_NAMES[r.sfType]], `${name} ${i} branch`);
        assert.deepStrictEqual(canon(branch[SF_TYPE_NAMES[r.sfType]]), canon(r), `${name} record ${i}`);
      }
    }
    // The plain avsc Type of the embedded schema decodes a bare datum as well.
    const t = avscType(SYSFLOW_SCHEMA);
    const w = new AvroWriter();
    encodeSysFlow(w, syntheticRecords()[2]!);
    const { value, offset } = t.decode(Buffer.from(w.bytes()), 0) as { value: { rec: Record<string, { ts: bigint }> }; offset: number };
    assert.equal(offset, w.length);
    assert.equal(value.rec['sysflow.flow.NetworkFlow']!.ts, 1553543280704111050n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('container layout: header metadata, sync, ~80 kB blocks, empty file', () => {
  const recs = read(join(TRACES, 'sf-collector/mpm-event/full_capture.sf'));
  const sync = Buffer.alloc(16, 0xa5);
  const sink = new MemorySink();
  const w = new SysFlowFileWriter(sink, { sync });
  for (const r of recs) w.write(r);
  w.close();
  const buf = sink.toBuffer();
  const reader = SysFlowFileReader.fromBuffer('mem', buf);
  assert.equal(reader.header.codec, 'deflate');
  assert.deepEqual([...reader.header.metadata.keys()].sort(), ['avro.codec', 'avro.schema']);
  assert.deepEqual(reader.header.schema, JSON.parse(JSON.stringify(SYSFLOW_SCHEMA)));
  assert.deepEqual(reader.header.sync, sync);
  // Walk the blocks by hand: every block but the last holds ≥ 80,000 uncompressed bytes and no more
  // than one record beyond the threshold.
  const t = new Tap(buf, reader.header.size, buf.length);
  const sizes: number[] = [];
  let total = 0;
  while (t.pos < buf.length) {
    const count = t.readLong();
    const bytes = t.readLong();
    const data = inflateRawSync(buf.subarray(t.pos, t.pos + bytes));
    t.pos += bytes;
    assert.deepEqual(buf.subarray(t.pos, t.pos + 16), sync);
    t.pos += 16;
    assert.ok(count > 0);
    sizes.push(data.length);
    total += count;
  }
  assert.equal(total, recs.length);
  assert.equal(sizes.length, w.blocks);
  assert.ok(sizes.length >= 3, `blocks: ${sizes.join(',')}`);
  for (const s of sizes.slice(0, -1)) assert.ok(s >= DEFAULT_BLOCK_BYTES && s < DEFAULT_BLOCK_BYTES + 2000, `block of ${s} bytes`);
  assert.ok(sizes.at(-1)! < DEFAULT_BLOCK_BYTES);

  const empty = SysFlowFileWriter.toBuffer([]);
  assert.equal(SysFlowFileReader.fromBuffer('empty', empty).readAll().length, 0);
  assert.equal(empty.length, SysFlowFileReader.fromBuffer('empty', empty).header.size);
});

test('fields an older writer schema lacks are written as the documented defaults', () => {
  const [h, p, nf] = syntheticRecords() as [SysFlowRecord, Process, NetworkFlow];
  const recs: SysFlowRecord[] = [
    { ...h, ip: undefined, filename: undefined } as SysFlowRecord,
    { sfType: 1, id: 'c', name: 'n', image: 'i', imageid: 'd', type: 'CT_BPM', privileged: undefined, podId: undefined },
    { ...p, tty: undefined, entry: undefined, cwd: undefined, env: undefined },
    { ...nf, fd: undefined },
    {
      sfType: 6,
      procOID: p.oid,
      ts: 5,
      tsNs: 5,
      tid: 1,
      opFlags: 1,
      openFlags: undefined,
      endTs: 6,
      endTsNs: 6,
      fileOID: '11'.repeat(20),
      fd: 3,
      numRRecvOps: 0,
      numWSendOps: 0,
      numRRecvBytes: 0,
      numWSendBytes: 0,
    },
  ];
  const back = readBuf(SysFlowFileWriter.toBuffer(recs));
  assert.deepStrictEqual(back.map(withDefaults), back, 'nothing left undefined');
  assert.deepStrictEqual(back, recs.map(withDefaults));
});

test('a record that fails to encode leaves the block intact', () => {
  const recs = syntheticRecords();
  const sink = new MemorySink();
  const w = new SysFlowFileWriter(sink);
  w.write(recs[0]!);
  const bad = { ...recs[3]!, fileOID: 'not hex' } as SysFlowRecord;
  assert.throws(() => w.write(bad), RangeError);
  assert.throws(() => w.write({ ...recs[1]!, state: 'GONE' } as unknown as SysFlowRecord), /SFObjectState/);
  w.write(recs[2]!);
  w.close();
  assert.throws(() => w.write(recs[0]!), /closed/);
  assert.deepStrictEqual(readBuf(sink.toBuffer()), [recs[0], recs[2]]);
});
