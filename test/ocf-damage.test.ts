/**
 * Damaged input for the SysFlow OCF reader (core/avro/ocf.ts).
 *
 * Requirement: "Bad input: not an Avro file → one-line error naming the file; truncated file → every
 * complete record delivered, then a warning with file and byte offset; a corrupt block (bad sync
 * marker, bad deflate, bad datum) → skip to the next sync marker, warn, count, continue. Never crash,
 * never hang."
 *
 * The bad-input cases run in this thread. Every bulk case (truncations, flipped bytes, codecs, garbage,
 * fuzz) runs in a worker thread started from this same file: the worker announces each case before
 * running it, and the main thread terminates the worker and fails the test when one case takes longer
 * than CASE_TIMEOUT_MS, so a reader that loops forever is reported (with the case) instead of hanging
 * the test run.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync, constants as zc } from 'node:zlib';
import { SysFlowFileReader, type OcfBlock, type ReadStats, type ReadWarning } from '../core/avro/ocf.js';
import { InputError } from '../core/avro/errors.js';
import { Tap } from '../core/avro/tap.js';
import { compileSysFlowSchema } from '../core/avro/compile.js';
import type { SysFlowRecord } from '../core/sysflow/types.js';
import { encodeLong as encLong } from './helpers/avro-bigint.js';
import { prng } from './helpers/prng.js';

/** No single case may take longer than this (a real case takes milliseconds). */
const CASE_TIMEOUT_MS = 15_000;
/** Worker start-up and fixture loading. */
const SETUP_TIMEOUT_MS = 60_000;
const FUZZ_CASES = 2400;
const FUZZ_SEED = 0x5f10_2024;

// Compiled to dist/test/ocf-damage.test.js: the repository root is two levels up.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'fixtures', 'traces');
const SHARED = join(ROOT, '..', 'shared', 'traces');

const fx = (rel: string) => join(FIXTURES, rel);
const TCP = fx('sf-processor/tcp.sf');
const HTTPD = fx('sf-processor/httpd.sf');
const K8S = fx('sf-processor/k8s_small.sf');
const FULL_CAPTURE = fx('sf-collector/mpm-event/full_capture.sf');
const NODEJS = fx('sf-collector/nodejs/mon.1544763289.sf');
const PREFORKED = fx('sf-apis/data/mpm-preforked/mpm-preforked.sf');
const MULTI_BLOCK = [K8S, FULL_CAPTURE, NODEJS, PREFORKED];
const SMALL = [
  TCP,
  HTTPD,
  fx('sf-processor/shellshock.sf'),
  fx('sf-collector/alpine/alpine.sf'),
  fx('sf-collector/setuid/setuid.sf'),
  fx('sf-collector/nginx/nginx.sf'),
  fx('sf-collector/rename/rename.sf'),
  fx('sf-collector/files/files.sf'),
  fx('sf-apis/data/objectstore/data/play/mon.1548965896'),
];

const MAGIC = Buffer.from('Obj\x01', 'latin1');
const SYNC_SIZE = 16;

// =================================================================================================
// Avro helpers written for the test (independent of the reader)

function encBytes(b: Buffer | string): Buffer {
  const buf = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return Buffer.concat([encLong(buf.length), buf]);
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let z = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('varint runs past the end');
    const b = buf[pos++]!;
    z |= BigInt(b & 0x7f) << shift;
    shift += 7n;
    if (b < 0x80) break;
  }
  return [Number((z >> 1n) ^ -(z & 1n)), pos];
}

type Meta = [string, Buffer][];

function buildHeader(meta: Meta, sync: Buffer): Buffer {
  const parts: Buffer[] = [MAGIC];
  if (meta.length) {
    parts.push(encLong(meta.length));
    for (const [k, v] of meta) parts.push(encBytes(k), encBytes(v));
  }
  parts.push(encLong(0), sync);
  return Buffer.concat(parts);
}

function buildOcf(meta: Meta, sync: Buffer, blocks: { count: number; data: Buffer }[]): Buffer {
  const parts = [buildHeader(meta, sync)];
  for (const b of blocks) parts.push(encLong(b.count), encLong(b.data.length), b.data, sync);
  return Buffer.concat(parts);
}

function withMeta(meta: Meta, key: string, value: Buffer | string | null): Meta {
  const out: Meta = meta.filter(([k]) => k !== key);
  if (value !== null) out.push([key, typeof value === 'string' ? Buffer.from(value, 'utf8') : value]);
  return out;
}

interface BlockInfo {
  start: number;
  count: number;
  size: number;
  dataStart: number;
  dataEnd: number;
  /** After the block's sync marker. */
  end: number;
}

interface Layout {
  headerSize: number;
  sync: Buffer;
  meta: Meta;
  codec: string;
  schema: unknown;
  blocks: BlockInfo[];
}

/** The container structure, parsed by the test itself. */
function parseLayout(buf: Buffer): Layout {
  assert.ok(buf.subarray(0, 4).equals(MAGIC), 'fixture magic');
  const meta: Meta = [];
  let p = 4;
  for (;;) {
    let n: number;
    [n, p] = readVarint(buf, p);
    if (n === 0) break;
    if (n < 0) {
      n = -n;
      [, p] = readVarint(buf, p);
    }
    for (let i = 0; i < n; i++) {
      let len: number;
      [len, p] = readVarint(buf, p);
      const key = buf.toString('utf8', p, p + len);
      p += len;
      [len, p] = readVarint(buf, p);
      meta.push([key, Buffer.from(buf.subarray(p, p + len))]);
      p += len;
    }
  }
  const sync = Buffer.from(buf.subarray(p, p + SYNC_SIZE));
  const headerSize = p + SYNC_SIZE;
  const blocks: BlockInfo[] = [];
  p = headerSize;
  while (p < buf.length) {
    const start = p;
    let count: number;
    let size: number;
    [count, p] = readVarint(buf, p);
    [size, p] = readVarint(buf, p);
    const dataStart = p;
    const dataEnd = p + size;
    assert.ok(buf.subarray(dataEnd, dataEnd + SYNC_SIZE).equals(sync), `fixture block at ${start}: sync marker`);
    blocks.push({ start, count, size, dataStart, dataEnd, end: dataEnd + SYNC_SIZE });
    p = dataEnd + SYNC_SIZE;
  }
  const codecBytes = meta.find(([k]) => k === 'avro.codec')?.[1];
  const schemaBytes = meta.find(([k]) => k === 'avro.schema')?.[1];
  assert.ok(schemaBytes, 'fixture has a schema');
  return { headerSize, sync, meta, codec: codecBytes ? codecBytes.toString('utf8') : 'null', schema: JSON.parse(schemaBytes.toString('utf8')), blocks };
}

// =================================================================================================
// Reference decode and comparison

interface RefBlock {
  info: BlockInfo;
  records: SysFlowRecord[];
  /** Canonical JSON of the records (fast deep comparison). */
  fp: string;
  /** Uncompressed datum bytes. */
  data: Buffer;
  /** End offset in `data` of each record. */
  ends: number[];
}

interface Trace {
  name: string;
  buf: Buffer;
  layout: Layout;
  blocks: RefBlock[];
  starts: Set<number>;
  total: number;
}

/** Canonical JSON: undefined, non-finite numbers and bigints kept distinct. */
function fp(records: readonly SysFlowRecord[]): string {
  return JSON.stringify(records, (_k, v: unknown) => (v === undefined ? '\u0000undefined' : typeof v === 'bigint' ? `\u0000${v}n` : typeof v === 'number' && !Number.isFinite(v) ? `\u0000${v}` : v));
}

function inflateBlock(layout: Layout, buf: Buffer, b: BlockInfo): Buffer {
  const raw = buf.subarray(b.dataStart, b.dataEnd);
  return layout.codec === 'deflate' ? inflateRawSync(raw) : Buffer.from(raw);
}

/** Decode an intact trace with the reader; check it against the container structure. */
function loadTrace(name: string, buf: Buffer): Trace {
  const layout = parseLayout(buf);
  const r = SysFlowFileReader.fromBuffer(name, buf);
  const got: OcfBlock[] = [];
  for (let b = r.nextBlock(); b; b = r.nextBlock()) got.push({ offset: b.offset, records: b.records.slice() });
  assert.deepEqual(r.warnings, [], `${name}: intact trace decodes without warnings`);
  assert.equal(r.header.size, layout.headerSize, `${name}: header size`);
  assert.deepEqual(
    got.map((b) => b.offset),
    layout.blocks.map((b) => b.start),
    `${name}: block offsets`,
  );
  const { decode } = compileSysFlowSchema(layout.schema);
  const blocks: RefBlock[] = layout.blocks.map((info, i) => {
    const data = inflateBlock(layout, buf, info);
    const t = new Tap(data);
    const ends: number[] = [];
    for (let j = 0; j < info.count; j++) {
      decode(t);
      ends.push(t.pos);
    }
    assert.equal(t.pos, data.length, `${name}: block ${i} datum bytes`);
    const records = got[i]!.records;
    assert.equal(records.length, info.count, `${name}: block ${i} record count`);
    return { info, records, fp: fp(records), data, ends };
  });
  return { name, buf, layout, blocks, starts: new Set(layout.blocks.map((b) => b.start)), total: blocks.reduce((s, b) => s + b.records.length, 0) };
}

function loadFile(path: string): Trace {
  return loadTrace(path, readFileSync(path));
}

/** The same trace with codec null: same header metadata and sync marker, inflated blocks. */
function nullCodecTrace(tr: Trace): Trace {
  const meta = withMeta(tr.layout.meta, 'avro.codec', 'null');
  const buf = buildOcf(
    meta,
    tr.layout.sync,
    tr.blocks.map((b) => ({ count: b.info.count, data: b.data })),
  );
  return loadTrace(`${tr.name} (codec null)`, buf);
}

interface ReadResult {
  blocks: OcfBlock[];
  warnings: ReadWarning[];
  stats: ReadStats;
  delivered: number;
}

/** Read a damaged buffer to the end (the reader must not throw once the header was accepted). */
function readDamaged(name: string, buf: Buffer): ReadResult {
  const seen: ReadWarning[] = [];
  const r = SysFlowFileReader.fromBuffer(name, buf, { onWarning: (w) => seen.push(w) });
  return drain(r, seen, buf.length);
}

function drain(r: SysFlowFileReader, seen: ReadWarning[], size: number): ReadResult {
  const blocks: OcfBlock[] = [];
  let delivered = 0;
  for (let b = r.nextBlock(); b; b = r.nextBlock()) {
    assert.ok(b.records.length > 0, 'a delivered block has records');
    blocks.push(b);
    delivered += b.records.length;
    assert.ok(blocks.length <= size + 1, 'more blocks than bytes: the reader does not advance');
  }
  assert.equal(r.nextBlock(), null, 'nextBlock() after the end is null');
  assert.deepEqual(seen, r.warnings, 'onWarning receives every warning');
  assert.equal(r.stats.records, delivered, 'stats.records counts the delivered records');
  for (const w of r.warnings) {
    assert.ok(['corrupt', 'truncated', 'trailing'].includes(w.kind), `warning kind ${w.kind}`);
    assert.ok(Number.isInteger(w.offset) && w.offset >= 0 && w.offset <= size, `warning offset ${w.offset} within the file`);
    assert.ok(w.message.length > 0 && !/[\r\n]/.test(w.message), 'warning message is one line');
  }
  r.close();
  return { blocks, warnings: r.warnings, stats: r.stats, delivered };
}

function assertInputError(fn: () => unknown, name: string, what: string): InputError {
  let err: unknown = null;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof InputError, `${what}: expected InputError, got ${err === null ? 'no error' : String(err)}`);
  assert.doesNotMatch(err.message, /[\r\n]/, `${what}: one-line message`);
  assert.ok(err.message.includes(name), `${what}: message names the file: ${err.message}`);
  return err;
}

// =================================================================================================
// Truncation

/** Uncompressed bytes recoverable from a prefix of a deflate stream. */
function inflatedPrefixLength(prefix: Buffer): number {
  try {
    return inflateRawSync(prefix, { finishFlush: zc.Z_SYNC_FLUSH }).length;
  } catch {
    return 0;
  }
}

interface CutOutcome {
  /** Index of the block the cut falls in, or -1 at a block boundary / end of file. */
  block: number;
  /** Records of that block delivered. */
  partial: number;
}

/** Cut the trace at `cut` bytes and check everything the requirement promises. */
function checkCut(tr: Trace, cut: number): CutOutcome {
  const { name, layout } = tr;
  const buf = tr.buf.subarray(0, cut);
  if (cut < layout.headerSize) {
    assertInputError(() => SysFlowFileReader.fromBuffer(name, buf), name, `cut at ${cut} inside the header`);
    return { block: -1, partial: 0 };
  }
  const res = readDamaged(name, buf);
  let k = tr.blocks.findIndex((b) => cut < b.info.end);
  if (k >= 0 && cut === tr.blocks[k]!.info.start) k = -1; // a cut between blocks leaves a valid file
  const nFull = k < 0 ? tr.blocks.filter((b) => b.info.end <= cut).length : k;
  let partial = 0;
  if (k >= 0) {
    const b = tr.blocks[k]!;
    if (cut >= b.info.dataEnd)
      partial = b.info.count; // inside the sync marker: the data is complete
    else if (cut > b.info.dataStart) {
      const present = tr.buf.subarray(b.info.dataStart, cut);
      const avail = layout.codec === 'deflate' ? inflatedPrefixLength(present) : present.length;
      partial = b.ends.filter((e) => e <= avail).length;
    }
  }
  assert.equal(res.blocks.length, nFull + (partial > 0 ? 1 : 0), `blocks delivered (cut in block ${k}, ${partial} records of it expected)`);
  for (let j = 0; j < nFull; j++) {
    assert.equal(res.blocks[j]!.offset, tr.blocks[j]!.info.start, `block ${j} offset`);
    assert.equal(fp(res.blocks[j]!.records), tr.blocks[j]!.fp, `block ${j} delivered entirely and unchanged`);
  }
  if (partial > 0) {
    const got = res.blocks[nFull]!;
    assert.equal(got.offset, tr.blocks[k]!.info.start, 'partial block offset');
    assert.deepStrictEqual(got.records, tr.blocks[k]!.records.slice(0, partial), 'the complete records of the cut block, as in the full decode');
  }
  assert.equal(res.stats.corruptBlocks, 0, 'a truncation is not corruption');
  if (k < 0) {
    assert.deepEqual(res.warnings, [], 'no warning for a file that ends at a block boundary');
    assert.equal(res.stats.truncated, false);
  } else {
    assert.equal(res.warnings.length, 1, 'one warning for a truncated file');
    const w = res.warnings[0]!;
    assert.equal(w.kind, 'truncated');
    assert.equal(w.file, name, 'the warning names the file');
    assert.ok(w.offset >= tr.blocks[k]!.info.start && w.offset <= cut, `warning offset ${w.offset} in [${tr.blocks[k]!.info.start}, ${cut}]`);
    assert.match(w.message, /\d/, 'the message gives a byte offset');
    assert.equal(res.stats.truncated, true);
  }
  return { block: k, partial };
}

interface TruncationSummary {
  file: string;
  cuts: number;
  headerCuts: number;
  boundaryCuts: number;
  /** Cuts inside block data that still delivered some but not all of the block's records. */
  partialCuts: number;
  /** For each single block: the fewest records delivered by a cut in the last quarter of its data. */
  lateCutMin: number[];
}

function truncationCuts(tr: Trace, every: boolean): number[] {
  const len = tr.buf.length;
  const cuts = new Set<number>();
  if (every) for (let c = 0; c <= len; c++) cuts.add(c);
  else {
    const stride = Math.max(1, Math.ceil(len / 300));
    for (let c = tr.layout.headerSize; c <= len; c += stride) cuts.add(c);
    for (const c of [0, 1, 4, 5, tr.layout.headerSize >> 1, tr.layout.headerSize - SYNC_SIZE - 1, tr.layout.headerSize - 8, tr.layout.headerSize - 1]) cuts.add(c);
    for (const { info } of tr.blocks) {
      for (let d = -2; d <= 3; d++) for (const at of [info.start, info.dataStart, info.dataEnd, info.end]) cuts.add(at + d);
      for (let c = info.dataEnd; c <= info.end; c++) cuts.add(c); // every byte of the sync marker
      for (let q = 1; q < 8; q++) cuts.add(info.dataStart + Math.floor((info.size * q) / 8));
    }
  }
  cuts.add(len);
  cuts.add(len - 1);
  return [...cuts].filter((c) => c >= 0 && c <= len).sort((a, b) => a - b);
}

function truncationJob(file: string, every: boolean, step: Step): TruncationSummary {
  const tr = loadFile(file);
  const sum: TruncationSummary = { file, cuts: 0, headerCuts: 0, boundaryCuts: 0, partialCuts: 0, lateCutMin: tr.blocks.map((b) => b.info.count) };
  const lastPartial = new Map<number, number>();
  for (const cut of truncationCuts(tr, every)) {
    step(`${file} cut at ${cut} of ${tr.buf.length}`);
    const out = checkCut(tr, cut);
    sum.cuts++;
    if (cut < tr.layout.headerSize) sum.headerCuts++;
    else if (out.block < 0) sum.boundaryCuts++;
    else {
      const b = tr.blocks[out.block]!;
      // More bytes never give fewer records.
      assert.ok(out.partial >= (lastPartial.get(out.block) ?? 0), `cut at ${cut}: ${out.partial} records, fewer than a shorter cut gave`);
      lastPartial.set(out.block, out.partial);
      if (out.partial > 0 && out.partial < b.info.count) sum.partialCuts++;
      if (cut >= b.info.dataStart + (b.info.size * 3) / 4 && cut < b.info.dataEnd) {
        sum.lateCutMin[out.block] = Math.min(sum.lateCutMin[out.block]!, out.partial);
      }
    }
  }
  return sum;
}

// =================================================================================================
// Damage inside blocks

interface DamageCase {
  label: string;
  buf: Buffer;
  /** Blocks whose bytes were changed. */
  damaged: number[];
  /** The damage is in block headers or sync markers (not in the data), so it must be detected. */
  mustDetect: boolean;
}

/**
 * Undamaged blocks delivered whole and in order; damage reported as 'corrupt' with the file and the
 * damaged block's offset, and counted. Returns whether the damage was detected.
 */
function checkDamage(tr: Trace, c: DamageCase): boolean {
  const res = readDamaged(tr.name, c.buf);
  const offsets = res.blocks.map((b) => b.offset);
  for (let i = 0; i < offsets.length; i++) {
    assert.ok(tr.starts.has(offsets[i]!), `delivered block offset ${offsets[i]} is a block of the file`);
    if (i > 0) assert.ok(offsets[i]! > offsets[i - 1]!, 'blocks delivered in file order');
  }
  const byOffset = new Map(res.blocks.map((b) => [b.offset, b.records]));
  const damaged = new Set(c.damaged);
  tr.blocks.forEach((b, j) => {
    const got = byOffset.get(b.info.start);
    if (damaged.has(j)) {
      if (got && !c.mustDetect) return; // damaged datum bytes may decode into other values
      if (got) assert.equal(fp(got), fp(b.records.slice(0, got.length)), `damaged block ${j}: records kept are the block's first ones`);
      return;
    }
    assert.ok(got, `undamaged block ${j} at byte ${b.info.start} delivered`);
    assert.equal(fp(got), b.fp, `undamaged block ${j} at byte ${b.info.start} unchanged`);
  });
  assert.equal(res.stats.truncated, false, 'damage inside the file is not a truncation');
  const detected = res.warnings.length > 0;
  if (c.mustDetect) assert.ok(detected, 'damage to a block header or sync marker is detected');
  const damagedStarts = c.damaged.map((j) => tr.blocks[j]!.info.start);
  for (const w of res.warnings) {
    assert.equal(w.kind, 'corrupt', `warning kind (${w.message})`);
    assert.equal(w.file, tr.name, 'the warning names the file');
    assert.ok(damagedStarts.includes(w.offset), `warning offset ${w.offset} is a damaged block's (${damagedStarts.join(', ')}): ${w.message}`);
  }
  assert.equal(res.stats.corruptBlocks, res.warnings.length, 'each corrupt block is counted');
  if (detected) assert.ok(res.stats.corruptBlocks >= 1);
  return detected;
}

function flipped(buf: Buffer, pos: number, mask: number): Buffer {
  const b = Buffer.from(buf);
  b[pos] = b[pos]! ^ mask;
  return b;
}

function overwritten(buf: Buffer, from: number, to: number, value: number): Buffer {
  const b = Buffer.from(buf);
  b.fill(value, from, to);
  return b;
}

function blocksTouching(tr: Trace, from: number, to: number): number[] {
  return tr.blocks.flatMap((b, j) => (b.info.start < to && from < b.info.end ? [j] : []));
}

/** Flips at every block header byte and sync marker byte and across the data of each block. */
function flipCases(tr: Trace, dataPositions: number): DamageCase[] {
  const cases: DamageCase[] = [];
  const at = (pos: number, mask: number, what: string, mustDetect: boolean, k: number) =>
    cases.push({ label: `${tr.name}: block ${k} ${what}: byte ${pos} ^= 0x${mask.toString(16)}`, buf: flipped(tr.buf, pos, mask), damaged: [k], mustDetect });
  tr.blocks.forEach(({ info }, k) => {
    for (let p = info.start; p < info.dataStart; p++) for (const m of [0x01, 0x02, 0x40, 0x80, 0xff]) at(p, m, 'count/size varint', true, k);
    for (let p = info.dataEnd; p < info.end; p++) at(p, p === info.dataEnd ? 0x01 : 0xff, 'sync marker', true, k);
    const ps = new Set<number>();
    for (let i = 0; i < dataPositions; i++) ps.add(info.dataStart + Math.floor((info.size * i) / dataPositions));
    ps.add(info.dataEnd - 1);
    ps.add(info.dataEnd - 2);
    for (const p of ps) for (const m of [0xff, 0x10]) at(p, m, 'data', false, k);
  });
  // Wider damage: a whole sync marker destroyed; a run across the end of one block and the start of
  // the next (both damaged, the others intact).
  tr.blocks.forEach(({ info }, k) => {
    cases.push({ label: `${tr.name}: block ${k} sync marker zeroed`, buf: overwritten(tr.buf, info.dataEnd, info.end, 0), damaged: [k], mustDetect: true });
    const from = info.dataEnd - 8;
    const to = Math.min(tr.buf.length, info.end + 8);
    cases.push({ label: `${tr.name}: bytes ${from}..${to} zeroed`, buf: overwritten(tr.buf, from, to, 0), damaged: blocksTouching(tr, from, to), mustDetect: true });
  });
  return cases;
}

interface DamageSummary {
  file: string;
  cases: number;
  detected: number;
  undetectedDataFlips: number;
}

function runDamage(tr: Trace, cases: DamageCase[], step: Step): DamageSummary {
  const sum: DamageSummary = { file: tr.name, cases: 0, detected: 0, undetectedDataFlips: 0 };
  for (const c of cases) {
    step(c.label);
    const detected = checkDamage(tr, c);
    sum.cases++;
    if (detected) sum.detected++;
    else sum.undetectedDataFlips++;
  }
  return sum;
}

function flipJob(file: string, step: Step): DamageSummary {
  const tr = loadFile(file);
  return runDamage(tr, flipCases(tr, 16), step);
}

// =================================================================================================
// Codec null

interface NullCodecSummary {
  files: number;
  records: number;
  datumCases: number;
  flipCases: number;
  flipDetected: number;
  cuts: number;
}

function nullCodecJob(step: Step): NullCodecSummary {
  const sum: NullCodecSummary = { files: 0, records: 0, datumCases: 0, flipCases: 0, flipDetected: 0, cuts: 0 };
  for (const file of [...SMALL, ...MULTI_BLOCK]) {
    step(`${file}: re-encode with codec null`);
    const orig = loadFile(file);
    const tr = nullCodecTrace(orig);
    assert.equal(tr.layout.codec, 'null');
    assert.equal(tr.blocks.length, orig.blocks.length);
    tr.blocks.forEach((b, i) => assert.deepStrictEqual(b.records, orig.blocks[i]!.records, `${file}: block ${i} decodes identically with codec null`));
    sum.files++;
    sum.records += tr.total;
    if (!MULTI_BLOCK.includes(file) && file !== TCP) continue;

    // A bad union index in record m of block k: records before it kept, the block reported, the
    // other blocks intact.
    tr.blocks.forEach((b, k) => {
      for (const m of new Set([0, b.info.count >> 1, b.info.count - 1])) {
        const pos = b.info.dataStart + (m === 0 ? 0 : b.ends[m - 1]!);
        const label = `${tr.name}: block ${k} record ${m}: union index byte at ${pos} set to 63`;
        step(label);
        const buf = Buffer.from(tr.buf);
        buf[pos] = 0x7e; // zig-zag 63: no SysFlow union has 64 branches
        const res = readDamaged(tr.name, buf);
        assert.ok(checkDamage(tr, { label, buf, damaged: [k], mustDetect: true }));
        const got = res.blocks.find((x) => x.offset === b.info.start);
        assert.equal(got?.records.length ?? 0, m, `${label}: the ${m} records before the damage are kept`);
        if (got) assert.deepStrictEqual(got.records, b.records.slice(0, m));
        assert.equal(res.stats.corruptBlocks, 1);
        assert.equal(res.stats.lostRecords, b.info.count - m, 'lost records counted');
        const w = res.warnings[0]!;
        assert.equal(w.offset, b.info.start);
        sum.datumCases++;
      }
    });

    // Flipped datum bytes: never a crash, the other blocks intact.
    const cases: DamageCase[] = [];
    tr.blocks.forEach(({ info }, k) => {
      for (let i = 0; i < 12; i++) {
        const p = info.dataStart + Math.floor((info.size * i) / 12);
        cases.push({ label: `${tr.name}: block ${k} datum byte ${p} ^= 0xff`, buf: flipped(tr.buf, p, 0xff), damaged: [k], mustDetect: false });
      }
      for (let p = info.dataEnd; p < info.end; p += 5) {
        cases.push({ label: `${tr.name}: block ${k} sync byte ${p} ^= 0xff`, buf: flipped(tr.buf, p, 0xff), damaged: [k], mustDetect: true });
      }
    });
    const d = runDamage(tr, cases, step);
    sum.flipCases += d.cases;
    sum.flipDetected += d.detected;

    // Truncation: a record is delivered exactly when all its bytes are present.
    for (const cut of truncationCuts(tr, false).filter((_c, i) => i % 6 === 0)) {
      step(`${tr.name}: cut at ${cut}`);
      checkCut(tr, cut);
      sum.cuts++;
    }
  }
  return sum;
}

// =================================================================================================
// Garbage after the last block

interface GarbageSummary {
  cases: number;
  extraRecords: number;
}

function garbageJob(step: Step): GarbageSummary {
  const rnd = prng(0xbad);
  const sum: GarbageSummary = { cases: 0, extraRecords: 0 };
  const tcp = loadFile(TCP);
  for (const tr of [tcp, loadFile(K8S), loadFile(FULL_CAPTURE), nullCodecTrace(tcp)]) {
    const garbage: [string, Buffer][] = [
      ['text', Buffer.from('this is not part of an Avro file\n'.repeat(40))],
      ['1 zero byte', Buffer.alloc(1)],
      ['64 zero bytes', Buffer.alloc(64)],
      ['5000 zero bytes', Buffer.alloc(5000)],
      ['100 0xff bytes', Buffer.alloc(100, 0xff)],
      ['the header again', Buffer.from(tr.buf.subarray(0, tr.layout.headerSize))],
      ['the sync marker', Buffer.from(tr.layout.sync)],
      ['a block header and the sync marker', Buffer.concat([encLong(3), encLong(5), Buffer.from('abcde'), tr.layout.sync, Buffer.from('x')])],
    ];
    for (const n of [1, 2, 3, 7, 19, 20, 21, 100, 1000, 4096]) {
      for (let rep = 0; rep < 3; rep++) garbage.push([`${n} random bytes #${rep}`, Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)))]);
    }
    for (const [what, g] of garbage) {
      step(`${tr.name} + ${what}`);
      const res = readDamaged(tr.name, Buffer.concat([tr.buf, g]));
      const all = res.blocks.flatMap((b) => b.records);
      assert.ok(all.length >= tr.total, `${what}: all ${tr.total} records delivered (got ${all.length})`);
      for (let j = 0; j < tr.blocks.length; j++) {
        assert.equal(res.blocks[j]?.offset, tr.blocks[j]!.info.start, `${what}: block ${j} offset`);
        assert.equal(fp(res.blocks[j]!.records), tr.blocks[j]!.fp, `${what}: block ${j} unchanged`);
      }
      assert.ok(res.warnings.length >= 1, `${what}: a warning`);
      const w = res.warnings[0]!;
      assert.equal(w.file, tr.name);
      assert.equal(w.offset, tr.buf.length, `${what}: the warning points at the garbage (${w.message})`);
      sum.extraRecords += all.length - tr.total;
      sum.cases++;
    }
  }
  return sum;
}

// =================================================================================================
// Fuzz

function mutate(src: Buffer, headerSize: number, sync: Buffer, rnd: () => number): { buf: Buffer; ops: string[] } {
  let buf = Buffer.from(src);
  const ops: string[] = [];
  const int = (n: number) => Math.floor(rnd() * n);
  const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const nOps = 1 + int(3);
  for (let i = 0; i < nOps; i++) {
    const len = buf.length;
    // Mostly inside the blocks (the header's damage is an InputError), sometimes anywhere.
    const blockArea = len > headerSize - SYNC_SIZE && rnd() < 0.85;
    const pos = len === 0 ? 0 : blockArea ? headerSize - SYNC_SIZE + int(len - headerSize + SYNC_SIZE) : int(len);
    const n = 1 + int(rnd() < 0.8 ? 8 : 64);
    const op = len === 0 ? 2 : int(9);
    switch (op) {
      case 0: {
        const bit = int(8);
        buf[pos] = buf[pos]! ^ (1 << bit);
        ops.push(`flip bit ${bit} at ${pos}`);
        break;
      }
      case 1: {
        const v = int(256);
        buf[pos] = v;
        ops.push(`set ${pos} = ${v}`);
        break;
      }
      case 2:
        buf = Buffer.concat([buf.subarray(0, pos), randomBytes(n), buf.subarray(pos)]);
        ops.push(`insert ${n} random bytes at ${pos}`);
        break;
      case 3:
        buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(pos + n)]);
        ops.push(`delete ${n} bytes at ${pos}`);
        break;
      case 4:
        buf = buf.subarray(0, pos);
        ops.push(`truncate at ${pos}`);
        break;
      case 5: {
        const from = int(len);
        buf = Buffer.concat([buf.subarray(0, pos), buf.subarray(from, from + n * 8), buf.subarray(pos)]);
        ops.push(`copy ${n * 8} bytes from ${from} to ${pos}`);
        break;
      }
      case 6:
        buf = Buffer.concat([buf.subarray(0, pos), sync, buf.subarray(pos)]);
        ops.push(`insert the sync marker at ${pos}`);
        break;
      case 7: {
        const v = rnd() < 0.5 ? 0 : 0xff;
        buf = Buffer.from(buf);
        buf.fill(v, pos, Math.min(len, pos + n));
        ops.push(`fill ${n} bytes at ${pos} with ${v}`);
        break;
      }
      default: {
        // Several single-byte flips at once.
        const k = 2 + int(6);
        for (let j = 0; j < k; j++) {
          const p = blockArea ? headerSize + int(Math.max(1, len - headerSize)) : int(len);
          if (p < buf.length) buf[p] = buf[p]! ^ (1 + int(255));
        }
        ops.push(`${k} random byte flips`);
      }
    }
  }
  return { buf: Buffer.from(buf), ops };
}

interface FuzzSummary {
  cases: number;
  inputErrors: number;
  clean: number;
  warned: number;
  viaFile: number;
  records: number;
  slowestMs: number;
  slowest: string;
}

function fuzzJob(seed: number, n: number, tmp: string, step: Step): FuzzSummary {
  const rnd = prng(seed);
  const sources: Trace[] = SMALL.map(loadFile);
  for (const tr of sources.slice(0, 4)) sources.push(nullCodecTrace(tr));
  const sum: FuzzSummary = { cases: 0, inputErrors: 0, clean: 0, warned: 0, viaFile: 0, records: 0, slowestMs: 0, slowest: '' };
  for (let i = 0; i < n; i++) {
    const tr = sources[i % sources.length]!;
    step(`fuzz #${i} (seed ${seed}) of ${tr.name}: mutating`);
    const { buf, ops } = mutate(tr.buf, tr.layout.headerSize, tr.layout.sync, rnd);
    const viaFile = i % 10 === 0;
    const name = viaFile ? join(tmp, `fuzz-${i}.sf`) : `${tr.name} [fuzz #${i}]`;
    const label = `fuzz #${i} (seed ${seed}) of ${tr.name}: ${ops.join('; ')}`;
    step(label);
    const t0 = performance.now();
    let reader: SysFlowFileReader | null = null;
    const seen: ReadWarning[] = [];
    try {
      if (viaFile) {
        writeFileSync(name, buf);
        reader = SysFlowFileReader.open(name, { onWarning: (w) => seen.push(w) });
      } else reader = SysFlowFileReader.fromBuffer(name, buf, { onWarning: (w) => seen.push(w) });
    } catch (e) {
      if (!(e instanceof InputError)) throw new Error(`open threw ${(e as Error)?.name ?? typeof e} (not InputError): ${(e as Error)?.message ?? e}`);
      assert.doesNotMatch(e.message, /[\r\n]/, 'one-line error');
      assert.ok(e.message.includes(name), `error names the file: ${e.message}`);
      sum.inputErrors++;
    }
    if (reader) {
      let res: ReadResult;
      try {
        res = drain(reader, seen, buf.length);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        throw new Error(`reading threw ${(e as Error)?.name ?? typeof e}: ${(e as Error)?.message ?? e}`);
      }
      for (const w of res.warnings) assert.equal(w.file, name, 'warnings name the file');
      if (res.warnings.length) sum.warned++;
      else sum.clean++;
      sum.records += res.delivered;
    }
    if (viaFile) {
      rmSync(name, { force: true });
      sum.viaFile++;
    }
    const ms = performance.now() - t0;
    if (ms > sum.slowestMs) {
      sum.slowestMs = ms;
      sum.slowest = label;
    }
    sum.cases++;
  }
  return sum;
}

// =================================================================================================
// The shared traces (optional)

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listFiles(p));
    else if (e.isFile()) out.push(p);
  }
  return out.sort();
}

interface SharedSummary {
  files: number;
  records: number;
  cuts: number;
  damage: number;
}

function sharedJob(step: Step): SharedSummary {
  const sum: SharedSummary = { files: 0, records: 0, cuts: 0, damage: 0 };
  for (const file of listFiles(SHARED)) {
    step(`${file}: full decode`);
    const tr = loadFile(file);
    sum.files++;
    sum.records += tr.total;
    const nb = tr.blocks.length;
    const pick = [...new Set([0, nb >> 1, nb - 1])].filter((k) => k >= 0 && k < nb);
    const cuts = new Set<number>([tr.layout.headerSize - 1, tr.buf.length - 1]);
    const cases: DamageCase[] = [];
    for (const k of pick) {
      const { info } = tr.blocks[k]!;
      for (const c of [info.start + 1, info.dataStart + (info.size >> 1), info.dataEnd + 3]) cuts.add(c);
      cases.push({ label: `${file}: block ${k} sync byte ^= 0xff`, buf: flipped(tr.buf, info.dataEnd + 9, 0xff), damaged: [k], mustDetect: true });
      cases.push({ label: `${file}: block ${k} size varint ^= 0x01`, buf: flipped(tr.buf, info.dataStart - 1, 0x01), damaged: [k], mustDetect: true });
      cases.push({ label: `${file}: block ${k} data ^= 0xff`, buf: flipped(tr.buf, info.dataStart + (info.size >> 1), 0xff), damaged: [k], mustDetect: false });
    }
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      step(`${file}: cut at ${cut}`);
      checkCut(tr, cut);
      sum.cuts++;
    }
    sum.damage += runDamage(tr, cases, step).cases;
  }
  return sum;
}

// =================================================================================================
// Worker side

type Step = (label: string) => void;

type JobParams =
  | { job: 'truncate'; file: string; every: boolean }
  | { job: 'flip'; file: string }
  | { job: 'null-codec' }
  | { job: 'garbage' }
  | { job: 'fuzz'; seed: number; n: number; tmp: string }
  | { job: 'shared' }
  | { job: 'selftest-hang' };

function runJobHere(p: JobParams, step: Step): unknown {
  switch (p.job) {
    case 'truncate':
      return truncationJob(p.file, p.every, step);
    case 'flip':
      return flipJob(p.file, step);
    case 'null-codec':
      return nullCodecJob(step);
    case 'garbage':
      return garbageJob(step);
    case 'fuzz':
      return fuzzJob(p.seed, p.n, p.tmp, step);
    case 'shared':
      return sharedJob(step);
    case 'selftest-hang':
      step('an endless loop');
      for (;;);
  }
}

const WORKER_KEY = 'ocfDamageJob';

if (!isMainThread && workerData && typeof workerData === 'object' && WORKER_KEY in workerData) {
  const port = parentPort!;
  let label = '(setup)';
  const step: Step = (l) => {
    label = l;
    port.postMessage({ t: 'case', label: l });
  };
  try {
    const summary = runJobHere((workerData as Record<string, JobParams>)[WORKER_KEY]!, step);
    port.postMessage({ t: 'done', summary });
  } catch (e) {
    const err = e as Error;
    port.postMessage({ t: 'fail', label, message: String(err?.message ?? e).slice(0, 6000), stack: String(err?.stack ?? '').slice(0, 6000) });
  }
}

// =================================================================================================
// Main thread

/** Run a job in a worker; fail (and stop the worker) when one case exceeds CASE_TIMEOUT_MS. */
function runJob<T>(params: JobParams, caseTimeoutMs = CASE_TIMEOUT_MS): Promise<T & { elapsedMs: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { [WORKER_KEY]: params } });
    let label = '(worker start-up and fixture loading)';
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (err: Error | null, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err);
      else resolve({ ...(value as T), elapsedMs: Math.round(performance.now() - t0) });
    };
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(new Error(`${params.job}: case did not finish within ${ms} ms (hang?): ${label}`)), ms);
    };
    worker.on('message', (m: { t: string; label?: string; summary?: T; message?: string; stack?: string }) => {
      if (m.t === 'case') {
        label = m.label!;
        arm(caseTimeoutMs);
      } else if (m.t === 'done') finish(null, m.summary);
      else if (m.t === 'fail') {
        const e = new Error(`${params.job}: failed on case ${m.label}:\n${m.message}`);
        e.stack = `${e.message}\n--- worker stack ---\n${m.stack}`;
        finish(e);
      }
    });
    worker.on('error', (e) => finish(new Error(`${params.job}: worker error on case ${label}: ${e.message}`)));
    worker.on('exit', (code) => finish(new Error(`${params.job}: worker exited (code ${code}) during case ${label}`)));
    arm(SETUP_TIMEOUT_MS);
  });
}

const POOL_SIZE = Math.max(1, Math.min(2, availableParallelism()));
let poolRunning = 0;
const poolQueue: (() => void)[] = [];

/** Start a job now, or when one of POOL_SIZE workers is free; the test awaits the promise later. */
function schedule<T>(params: JobParams): Promise<T & { elapsedMs: number }> {
  const p = new Promise<T & { elapsedMs: number }>((resolve, reject) => {
    const start = () => {
      poolRunning++;
      runJob<T>(params)
        .then(resolve, reject)
        .finally(() => {
          poolRunning--;
          poolQueue.shift()?.();
        });
    };
    if (poolRunning < POOL_SIZE) start();
    else poolQueue.push(start);
  });
  p.catch(() => {}); // reported by the test that awaits it
  return p;
}

function registerTests(): void {
  const tmp = mkdtempSync(join(tmpdir(), 'sfprocessor-ocf-damage-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  let seq = 0;
  /** Write `buf` to a temp file (the name ends with `base`) and return the path. */
  const file = (base: string, buf: Buffer) => {
    const dir = join(tmp, String(seq++));
    mkdirSync(dir);
    const p = join(dir, base);
    writeFileSync(p, buf);
    return p;
  };
  /** The bad input must be refused both from a buffer and from a file, naming the file each time. */
  const refused = (base: string, buf: Buffer, what: string, expect?: RegExp): void => {
    const name = `bad-input/${base}`;
    const e1 = assertInputError(() => SysFlowFileReader.fromBuffer(name, buf), name, `${what} (buffer)`);
    const path = file(base, buf);
    const e2 = assertInputError(() => SysFlowFileReader.open(path), path, `${what} (file)`);
    if (expect) {
      assert.match(e1.message, expect, what);
      assert.match(e2.message, expect, what);
    }
  };

  const tcpBuf = readFileSync(TCP);
  const tcp = parseLayout(tcpBuf);
  const tcpBlocks = tcp.blocks.map((b) => ({ count: b.count, data: Buffer.from(tcpBuf.subarray(b.dataStart, b.dataEnd)) }));
  const schemaText = tcp.meta.find(([k]) => k === 'avro.schema')![1].toString('utf8');

  test('bad input: the test-built header reproduces the fixture byte for byte', () => {
    assert.ok(buildOcf(tcp.meta, tcp.sync, tcpBlocks).equals(tcpBuf));
    const r = SysFlowFileReader.fromBuffer('rebuilt.sf', buildOcf(tcp.meta, tcp.sync, tcpBlocks));
    assert.equal(r.readAll().length, 23);
    assert.deepEqual(r.warnings, []);
  });

  test('bad input: empty, not Avro, text, wrong magic, too short', () => {
    refused('empty.sf', Buffer.alloc(0), 'empty file', /empty/);
    refused('text.sf', Buffer.from('#!/bin/sh\necho "not a trace"\n'), 'text file');
    refused('trace.json', Buffer.from('{"type":"SysFlow","records":[]}\n'), 'JSON file');
    refused('gzip.sf.gz', Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 'gzip file');
    refused('one-byte.sf', Buffer.from('O'), 'one byte');
    refused('three-bytes.sf', Buffer.from('Obj'), 'three bytes of magic');
    refused('magic-only.sf', MAGIC, 'magic bytes only');
    refused('version2.sf', Buffer.concat([Buffer.from('Obj\x02', 'latin1'), tcpBuf.subarray(4)]), 'wrong OCF version byte');
    for (const i of [0, 1, 2, 3]) refused(`magic${i}.sf`, flipped(tcpBuf, i, 0x20), `magic byte ${i} changed`, /magic/);
    refused('zeros.sf', Buffer.alloc(4096), '4096 zero bytes');
  });

  test('bad input: a directory and a missing file', () => {
    const dir = join(tmp, 'a-directory.sf');
    mkdirSync(dir);
    assertInputError(() => SysFlowFileReader.open(dir), dir, 'a directory');
    const missing = join(tmp, 'no-such-file.sf');
    assertInputError(() => SysFlowFileReader.open(missing), missing, 'a missing file');
  });

  test(`bad input: the header cut at every offset inside the metadata and the sync marker (${tcp.headerSize} cuts)`, () => {
    for (let cut = 0; cut < tcp.headerSize; cut++) {
      const name = `tcp-cut-${cut}.sf`;
      assertInputError(() => SysFlowFileReader.fromBuffer(name, tcpBuf.subarray(0, cut)), name, `header cut at ${cut}`);
    }
    // A few through files too, inside the metadata and inside the sync marker.
    for (const cut of [5, 40, tcp.headerSize >> 1, tcp.headerSize - SYNC_SIZE - 1, tcp.headerSize - SYNC_SIZE, tcp.headerSize - 9, tcp.headerSize - 1]) {
      refused(`tcp-cut-${cut}.sf`, tcpBuf.subarray(0, cut), `header cut at ${cut}`);
    }
  });

  test('bad input: hostile header fields', () => {
    const sync = tcp.sync;
    refused('huge-map-count.sf', Buffer.concat([MAGIC, encLong(2 ** 40), encBytes('avro.codec'), encBytes('null'), encLong(0), sync]), 'map count 2^40');
    refused('negative-map-count.sf', Buffer.concat([MAGIC, encLong(-(2 ** 40)), encLong(12), encBytes('k'), encBytes('v'), encLong(0), sync]), 'negative map count, huge');
    refused('huge-key.sf', Buffer.concat([MAGIC, encLong(1), encLong(2 ** 50), Buffer.from('avro'), encLong(0), sync]), 'key length 2^50');
    refused('negative-key.sf', Buffer.concat([MAGIC, encLong(1), encLong(-5), Buffer.from('avro.codec'), encLong(0), sync]), 'negative key length');
    refused('huge-value.sf', Buffer.concat([MAGIC, encLong(1), encBytes('avro.schema'), encLong(2 ** 45), Buffer.from('{}'), encLong(0), sync]), 'value length 2^45');
    refused('long-varint.sf', Buffer.concat([MAGIC, Buffer.alloc(20, 0xff), sync]), 'endless varint');
    refused('no-schema.sf', buildOcf(withMeta(tcp.meta, 'avro.schema', null), sync, tcpBlocks), 'no avro.schema', /schema/);
    refused('no-metadata.sf', buildHeader([], sync), 'no metadata at all', /schema/);
  });

  test('bad input: unknown codec', () => {
    for (const codec of ['snappy', 'zstandard', 'bzip2', 'xz', 'Deflate', 'deflate ', '', 'gzip', 'null\u0000']) {
      const buf = buildOcf(withMeta(tcp.meta, 'avro.codec', codec), tcp.sync, tcpBlocks);
      refused(`codec-${codec.replace(/[^a-z]/gi, '_') || 'empty'}.sf`, buf, `codec ${JSON.stringify(codec)}`, /codec/);
    }
  });

  test('bad input: a schema that is not SysFlow', () => {
    const schemas: [string, string][] = [
      ['string', '"string"'],
      ['array', '{"type":"array","items":"int"}'],
      ['other-record', '{"type":"record","name":"Foo","namespace":"bar","fields":[{"name":"rec","type":["int","string"]}]}'],
      ['no-rec', '{"type":"record","name":"SysFlow","namespace":"sysflow","fields":[{"name":"x","type":"int"}]}'],
      ['rec-not-union', '{"type":"record","name":"SysFlow","namespace":"sysflow","fields":[{"name":"rec","type":"int"}]}'],
      ['unknown-type', '{"type":"record","name":"SysFlow","namespace":"sysflow","fields":[{"name":"rec","type":["sysflow.Nope"]}]}'],
      ['bad-type', '{"type":"nope"}'],
      ['empty-union', '[]'],
      ['null', 'null'],
      ['number', '42'],
      ['object', '{}'],
    ];
    for (const [base, s] of schemas) {
      refused(`schema-${base}.sf`, buildOcf(withMeta(tcp.meta, 'avro.schema', s), tcp.sync, tcpBlocks), `schema ${s}`, /schema/);
    }
  });

  test('bad input: invalid schema JSON', () => {
    const texts = ['', 'not json', '{"type": "record",', schemaText.slice(0, schemaText.length >> 1), schemaText.replace(/"/, ''), '\u0000\u0001\u0002', "{'type': 'string'}"];
    texts.forEach((s, i) => {
      refused(`schema-json-${i}.sf`, buildOcf(withMeta(tcp.meta, 'avro.schema', s), tcp.sync, tcpBlocks), `schema text ${JSON.stringify(s.slice(0, 40))}`, /schema/);
    });
    // Invalid UTF-8 in the schema bytes.
    refused('schema-bytes.sf', buildOcf(withMeta(tcp.meta, 'avro.schema', Buffer.from([0xff, 0xfe, 0x7b])), tcp.sync, tcpBlocks), 'schema bytes not UTF-8', /schema/);
  });

  // The worker jobs start now, two at a time; each test awaits its own.
  const tcpJob = schedule<TruncationSummary>({ job: 'truncate', file: TCP, every: true });
  const httpdJob = schedule<TruncationSummary>({ job: 'truncate', file: HTTPD, every: true });
  const cutJobs = MULTI_BLOCK.map((file) => schedule<TruncationSummary>({ job: 'truncate', file, every: false }));
  const flipJobs = MULTI_BLOCK.map((file) => schedule<DamageSummary>({ job: 'flip', file }));
  const nullJob = schedule<NullCodecSummary>({ job: 'null-codec' });
  const garbageJob = schedule<GarbageSummary>({ job: 'garbage' });
  const fuzz = schedule<FuzzSummary>({ job: 'fuzz', seed: FUZZ_SEED, n: FUZZ_CASES, tmp });
  const shared = existsSync(SHARED) && statSync(SHARED).isDirectory();
  const sharedJob = shared ? schedule<SharedSummary>({ job: 'shared' }) : null;

  test('the per-case time bound stops a case that never ends', async () => {
    await assert.rejects(runJob({ job: 'selftest-hang' }, 300), /case did not finish within 300 ms \(hang\?\): an endless loop/);
  });

  test('truncation: tcp.sf cut at every offset', async (t) => {
    const s = await tcpJob;
    t.diagnostic(JSON.stringify(s));
    assert.equal(s.cuts, tcpBuf.length + 1);
    assert.ok(s.partialCuts > 0, 'some cuts inside the deflate data deliver part of the block');
    assert.ok(
      s.lateCutMin.every((n) => n > 0),
      `cuts late in the block keep records (fewest: ${s.lateCutMin})`,
    );
  });

  test('truncation: httpd.sf cut at every offset', async (t) => {
    const s = await httpdJob;
    t.diagnostic(JSON.stringify(s));
    assert.ok(s.partialCuts > 0);
    assert.ok(
      s.lateCutMin.every((n) => n > 0),
      `cuts late in the block keep records (fewest: ${s.lateCutMin})`,
    );
  });

  MULTI_BLOCK.forEach((file, i) => {
    test(`truncation: ${relative(FIXTURES, file)} at a stride, at every block boundary and inside every sync marker`, async (t) => {
      const s = await cutJobs[i]!;
      t.diagnostic(JSON.stringify(s));
      assert.ok(s.cuts > 300);
      assert.ok(s.boundaryCuts >= parseLayout(readFileSync(file)).blocks.length, 'cuts at block boundaries');
      assert.ok(s.partialCuts > 0);
      assert.ok(
        s.lateCutMin.every((n) => n > 0),
        `cuts late in a block keep records (fewest per block: ${s.lateCutMin})`,
      );
    });
  });

  MULTI_BLOCK.forEach((file, i) => {
    test(`flipped bytes: ${relative(FIXTURES, file)} (block headers, sync markers, deflate data)`, async (t) => {
      const s = await flipJobs[i]!;
      t.diagnostic(JSON.stringify(s));
      assert.ok(s.cases >= 60 * parseLayout(readFileSync(file)).blocks.length);
      assert.ok(s.detected > s.cases / 2);
    });
  });

  test('codec null: every fixture decodes identically; bad datums and flips are contained', async (t) => {
    const s = await nullJob;
    t.diagnostic(JSON.stringify(s));
    assert.equal(s.files, SMALL.length + MULTI_BLOCK.length);
    assert.ok(s.datumCases >= 30 && s.flipCases >= 100 && s.cuts >= 50);
  });

  test('garbage after the last block: every record delivered, a warning', async (t) => {
    const s = await garbageJob;
    t.diagnostic(JSON.stringify(s));
    assert.ok(s.cases >= 100);
  });

  test(`fuzz: ${FUZZ_CASES} seeded mutations of small traces`, async (t) => {
    const s = await fuzz;
    t.diagnostic(JSON.stringify(s));
    assert.equal(s.cases, FUZZ_CASES);
    assert.ok(s.clean + s.warned + s.inputErrors === s.cases);
    assert.ok(s.warned > FUZZ_CASES / 2, 'most mutations are detected');
    assert.ok(s.slowestMs < CASE_TIMEOUT_MS);
  });

  if (!shared) console.log(`# note: ${SHARED} not found; the damage tests over the shared traces are skipped (the bundled fixtures are still tested)`);
  test('shared traces: truncations and damaged blocks over every trace in ../shared/traces', { skip: shared ? false : `${SHARED} not found` }, async (t) => {
    const s = await sharedJob!;
    t.diagnostic(JSON.stringify(s));
    assert.ok(s.files > 0);
  });
}

if (isMainThread) registerTests();
