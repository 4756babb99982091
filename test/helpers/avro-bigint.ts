/**
 * Reference Avro pieces built on BigInt, independent of the code under test: a zig-zag varint
 * encoder and an avsc `long` type with BigInt values (avsc README, "custom long types").
 */
import avro from 'avsc';

/** Avro long encoding: zig-zag, then little-endian base-128 varint. */
export function encodeLong(n: number | bigint): Buffer {
  const v = BigInt(n);
  let z = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
  const out: number[] = [];
  do {
    let b = Number(z & 0x7fn);
    z >>= 7n;
    if (z !== 0n) b |= 0x80;
    out.push(b);
  } while (z !== 0n);
  return Buffer.from(out);
}

export const BigLong = avro.types.LongType.__with({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(n);
    return b;
  },
  fromJSON: BigInt,
  toJSON: Number,
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a === b ? 0 : a < b ? -1 : 1),
});
