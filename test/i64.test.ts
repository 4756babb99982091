/**
 * Exact 64-bit values without BigInt (core/util/i64.ts) and the varint readers that produce them
 * (Tap.readWide / Tap.readLong), checked against BigInt arithmetic on edge and random values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tap } from '../core/avro/tap.js';
import { DecodeError } from '../core/avro/errors.js';
import { addSeconds, compareExact, exactToString, fromSecNs, nsOfSafe, parseExact, secOf, toHiLo } from '../core/util/i64.js';
import { encodeLong } from './helpers/avro-bigint.js';
import { prng } from './helpers/prng.js';

const E9 = 1_000_000_000n;
const MIN64 = -(2n ** 63n);
const MAX64 = 2n ** 63n - 1n;
const P53 = 2n ** 53n;

// ---------------------------------------------------------------------------------------------
// Reference arithmetic (BigInt); the varint encoder is in helpers/avro-bigint.ts

/** Euclidean v mod 1e9. */
function nsOfBig(v: bigint): number {
  return Number(((v % E9) + E9) % E9);
}

/** floor(v / 1e9). */
function secOfBig(v: bigint): bigint {
  return (v - BigInt(nsOfBig(v))) / E9;
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function cmpBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function randU32(rnd: () => number): bigint {
  return BigInt(Math.floor(rnd() * 4294967296));
}

/** A random signed value of random bit length (so every magnitude is covered), within int64. */
function randI64(rnd: () => number): bigint {
  const bits = BigInt(Math.floor(rnd() * 64)); // magnitude < 2^bits, bits ≤ 63
  const raw = (randU32(rnd) << 32n) | randU32(rnd);
  const mag = bits === 0n ? 0n : raw & ((1n << bits) - 1n);
  if (rnd() < 0.5) return mag === 0n && rnd() < 0.5 ? MIN64 : -mag;
  return mag;
}

// ---------------------------------------------------------------------------------------------
// Values under test

function edgeValues(): bigint[] {
  const out = new Set<bigint>();
  const add = (v: bigint) => {
    if (v >= MIN64 && v <= MAX64) out.add(v);
  };
  for (const base of [0n, 1n, E9, P53, 2n ** 52n, 2n ** 54n, 2n ** 62n, 2n ** 63n, 2n ** 32n, 2n ** 31n, 2n ** 28n, 2n ** 27n, 4294967296n * E9]) {
    for (let k = -3n; k <= 3n; k++) {
      add(base + k);
      add(-(base + k));
    }
  }
  add(MIN64);
  add(MIN64 + 1n);
  add(MAX64);
  add(MAX64 - 1n);
  // Around today's timestamps (~1.6e18 ns): whole seconds (ns = 0), ns = 1, ns = 999999999, ties.
  for (const s of [1_600_000_000n, 1_621_959_914n, 1_700_000_000n, 4_294_967_295n, 4_294_967_296n, 9_223_372_035n]) {
    for (const ns of [0n, 1n, 2n, 511n, 512n, 513n, 1023n, 1024n, 1025n, 999_999_999n, 500_000_000n]) {
      add(s * E9 + ns);
      add(-(s * E9 + ns));
      add(-s * E9 + ns); // negative with ns > 0
    }
  }
  // Halfway cases of the double rounding (spacing 256 … 2048 above 2^60).
  for (const e of [60n, 61n, 62n]) {
    const spacing = 2n ** (e - 52n);
    for (const m of [1n, 3n, 12345n, 2n ** 51n + 7n]) {
      add(2n ** e + m * spacing + spacing / 2n);
      add(-(2n ** e + m * spacing + spacing / 2n));
    }
  }
  return [...out];
}

function randomValues(seed: number, n: number): bigint[] {
  const rnd = prng(seed);
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) out.push(randI64(rnd));
  // Full-width values (most land in [2^62, 2^63) in magnitude), and values around 1.6e18.
  for (let i = 0; i < n; i++) out.push(BigInt.asIntN(64, (randU32(rnd) << 32n) | randU32(rnd)));
  for (let i = 0; i < n; i++) {
    const v = 1_600_000_000_000_000_000n + BigInt(Math.floor((rnd() - 0.5) * 2e15));
    out.push(rnd() < 0.2 ? -v : v);
  }
  return out;
}

const VALUES = [...edgeValues(), ...randomValues(20240601, 4000)];

/** (d, ns) as readWide produces it. */
function wide(v: bigint): { d: number; ns: number } {
  const t = new Tap(encodeLong(v));
  const d = t.readWide();
  return { d, ns: t.ns };
}

// ---------------------------------------------------------------------------------------------

test('encodeLong (test helper) matches known Avro encodings', () => {
  assert.deepEqual([...encodeLong(0n)], [0x00]);
  assert.deepEqual([...encodeLong(-1n)], [0x01]);
  assert.deepEqual([...encodeLong(1n)], [0x02]);
  assert.deepEqual([...encodeLong(-64n)], [0x7f]);
  assert.deepEqual([...encodeLong(64n)], [0x80, 0x01]);
  assert.deepEqual([...encodeLong(MIN64)], [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  assert.deepEqual([...encodeLong(MAX64)], [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
});

test(`Tap.readWide: double = Number(v), ns = v mod 1e9 (${VALUES.length} values)`, () => {
  // alone (the careful path, near the end of the data) and followed by 10 bytes (the unrolled path)
  for (const pad of [0, 10]) {
    for (const v of VALUES) {
      const enc = encodeLong(v);
      const t = new Tap(Buffer.concat([enc, Buffer.alloc(pad, 0xff)]));
      const d = t.readWide();
      assert.equal(d, Number(v), `readWide(${v}) double, ${pad} bytes after`);
      assert.equal(t.ns, nsOfBig(v), `readWide(${v}) ns, ${pad} bytes after`);
      assert.equal(t.pos, enc.length, `readWide(${v}) consumed, ${pad} bytes after`);
    }
  }
});

test('Tap.readWide: a varint of more than 10 bytes is an error on either path', () => {
  for (const pad of [0, 10]) {
    const bad = Buffer.concat([Buffer.alloc(10, 0x80), Buffer.from([0x01]), Buffer.alloc(pad)]);
    assert.throws(() => new Tap(bad).readWide(), /varint longer than 10 bytes/);
  }
  assert.throws(() => new Tap(Buffer.from([0x80, 0x80])).readWide(), /runs past the end/);
});

test('Tap.readWide / readLong read consecutive values from one buffer', () => {
  const vals = VALUES.slice(0, 500);
  const buf = Buffer.concat(vals.map(encodeLong));
  const t = new Tap(buf);
  for (const v of vals) {
    assert.equal(t.readWide(), Number(v));
    assert.equal(t.ns, nsOfBig(v));
  }
  assert.equal(t.pos, buf.length);
  const small = VALUES.filter((v) => v <= P53 && v >= -P53).slice(0, 500);
  const buf2 = Buffer.concat(small.map(encodeLong));
  const t2 = new Tap(buf2);
  for (const v of small) assert.equal(t2.readLong(), Number(v));
  assert.equal(t2.pos, buf2.length);
});

test('Tap.readLong is exact for |v| ≤ 2^53', () => {
  const rnd = prng(7);
  const vals = VALUES.filter((v) => v <= P53 && v >= -P53);
  // Dense coverage of the top of the range, where the zig-zag value exceeds 2^53.
  for (let i = 0; i < 3000; i++) {
    const mag = P53 - 1n - BigInt(Math.floor(rnd() * 2 ** 52));
    vals.push(mag, -mag, mag - 1n, -(mag - 1n));
  }
  for (const v of vals) {
    const buf = encodeLong(v);
    const t = new Tap(buf);
    assert.equal(t.readLong(), Number(v), `readLong(${v})`);
    assert.equal(t.pos, buf.length, `readLong(${v}) consumed`);
  }
});

test('Tap varint readers reject truncated and over-long varints with DecodeError', () => {
  for (const v of [64n, -1000000n, 2n ** 40n, MIN64, MAX64, 1_600_000_000_123_456_789n]) {
    const buf = encodeLong(v);
    for (let cut = 0; cut < buf.length; cut++) {
      assert.throws(() => new Tap(buf, 0, cut).readLong(), DecodeError, `readLong(${v}) cut at ${cut}`);
      assert.throws(() => new Tap(buf, 0, cut).readWide(), DecodeError, `readWide(${v}) cut at ${cut}`);
    }
  }
  const eleven = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
  assert.throws(() => new Tap(eleven).readLong(), DecodeError);
  assert.throws(() => new Tap(eleven).readWide(), DecodeError);
  const endless = Buffer.alloc(1000, 0xff);
  assert.throws(() => new Tap(endless).readLong(), DecodeError);
  assert.throws(() => new Tap(endless).readWide(), DecodeError);
});

test('exactToString(d, ns) equals BigInt toString', () => {
  for (const v of VALUES) {
    const { d, ns } = wide(v);
    assert.equal(exactToString(d, ns), v.toString(), `exactToString for ${v}`);
  }
});

test('secOf(d, ns) is floor(v / 1e9)', () => {
  for (const v of VALUES) {
    const { d, ns } = wide(v);
    assert.equal(secOf(d, ns), Number(secOfBig(v)), `secOf for ${v}`);
  }
});

test('compareExact agrees with BigInt comparison', () => {
  const rnd = prng(99);
  const pairs: [bigint, bigint][] = [];
  for (let i = 0; i < VALUES.length; i++) {
    const a = VALUES[i]!;
    pairs.push([a, a]);
    pairs.push([a, VALUES[Math.floor(rnd() * VALUES.length)]!]);
    // Neighbours: mostly the same double above 2^53, so ns has to decide.
    for (const k of [1n, 2n, 7n, 511n, 1023n, 1024n, 2047n]) {
      if (a + k <= MAX64) pairs.push([a, a + k], [a + k, a]);
      if (a - k >= MIN64) pairs.push([a, a - k]);
    }
  }
  for (const [a, b] of pairs) {
    const x = wide(a);
    const y = wide(b);
    assert.equal(sign(compareExact(x.d, x.ns, y.d, y.ns)), cmpBig(a, b), `compareExact(${a}, ${b})`);
  }
});

test('parseExact gives the nearest double and v mod 1e9', () => {
  for (const v of VALUES) {
    const s = v.toString();
    const p = parseExact(s);
    assert.ok(p, `parseExact(${s})`);
    assert.equal(p.d, Number(v), `parseExact(${s}).d`);
    assert.equal(p.ns, nsOfBig(v), `parseExact(${s}).ns`);
    const w = wide(v);
    assert.equal(exactToString(p.d, p.ns), s);
    assert.equal(compareExact(p.d, p.ns, w.d, w.ns), 0, `parseExact(${s}) equals readWide`);
  }
  // Accepted spellings.
  assert.deepEqual(parseExact('+42'), { d: 42, ns: 42 });
  assert.deepEqual(parseExact('  0001600000000000000001 '), { d: Number(1600000000000000001n), ns: 1 });
  const negZero = parseExact('-0');
  assert.ok(negZero);
  assert.equal(negZero.d, 0);
  assert.equal(negZero.ns, 0);
  assert.deepEqual(parseExact('-1'), { d: -1, ns: 999_999_999 });
  // Malformed.
  for (const bad of ['', '-', '+', '1.5', '1e9', 'abc', '12a', '--1', '0x10', '12345678901234567890']) {
    assert.equal(parseExact(bad), null, `parseExact(${JSON.stringify(bad)})`);
  }
});

test('fromSecNs is the nearest double of sec·1e9 + ns', () => {
  for (const v of VALUES) {
    const sec = secOfBig(v);
    assert.equal(fromSecNs(Number(sec), nsOfBig(v)), Number(v), `fromSecNs for ${v}`);
  }
});

test('addSeconds adds whole seconds exactly', () => {
  const rnd = prng(5);
  for (const v of VALUES) {
    const { d, ns } = wide(v);
    for (const s of [0, 1, -1, 3600, -86400, Math.floor((rnd() - 0.5) * 2e9)]) {
      const r = v + BigInt(s) * E9;
      if (r < MIN64 || r > MAX64) continue;
      assert.equal(addSeconds(d, ns, s), Number(r), `addSeconds(${v}, ${s})`);
    }
  }
});

test('toHiLo splits into signed high and unsigned low 32 bits', () => {
  for (const v of VALUES) {
    const { d, ns } = wide(v);
    const { hi, lo } = toHiLo(d, ns);
    assert.equal(hi, Number(v >> 32n), `toHiLo(${v}).hi`);
    assert.equal(lo, Number(v & 0xffffffffn), `toHiLo(${v}).lo`);
  }
});

test('nsOfSafe is the Euclidean remainder for safe integers', () => {
  for (const v of VALUES) {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) continue;
    const r = nsOfSafe(Number(v));
    assert.ok(Object.is(r, nsOfBig(v)), `nsOfSafe(${v}) = ${r}`);
  }
  assert.ok(Object.is(nsOfSafe(-0), 0));
  assert.ok(Object.is(nsOfSafe(-1e9), 0));
});
