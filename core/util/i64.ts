/**
 * Exact 64-bit integers without BigInt.
 *
 * SysFlow timestamps and process creation times are nanoseconds since the epoch (~1.6e18), beyond
 * the 2^53 range a JS number holds exactly. Decoders store such a value as two numbers:
 *   - `d`:  the nearest double (round-half-even, like Number(bigint)); exact when |v| < 2^53;
 *   - `ns`: the exact value modulo 1e9 (0 ≤ ns < 1e9), i.e. the nanosecond-of-second.
 * Together they determine v exactly for |v| < 2^63: |v - d| ≤ 1024 ≪ 1e9, so
 * sec = round((d - ns) / 1e9) and v = sec·1e9 + ns. This costs two float fields and no allocation,
 * where a BigInt costs ~50 ns and a heap object per value (see README, "64-bit values").
 */

export const NS_PER_SEC = 1e9;
const SAFE = Number.MAX_SAFE_INTEGER;
const TWO32 = 4294967296;

/** Euclidean v mod 1e9 for a safe integer. */
export function nsOfSafe(v: number): number {
  const r = v % NS_PER_SEC;
  return r < 0 ? r + NS_PER_SEC : r === 0 ? 0 : r;
}

/** Whole seconds: floor(v / 1e9). */
export function secOf(d: number, ns: number): number {
  return Math.round((d - ns) / NS_PER_SEC);
}

/** Whole milliseconds: floor(v / 1e6). */
export function msOf(d: number, ns: number): number {
  return secOf(d, ns) * 1000 + Math.floor(ns / 1e6);
}

/** Decimal digits of the exact value. */
export function exactToString(d: number, ns: number): string {
  if (d <= SAFE && d >= -SAFE) return String(d);
  const sec = secOf(d, ns);
  if (sec >= 0) return String(sec) + String(ns + NS_PER_SEC).slice(1);
  // v = sec·1e9 + ns < 0  ⇒  |v| = (-sec-1)·1e9 + (1e9-ns) when ns > 0
  if (ns === 0) return '-' + String(-sec) + '000000000';
  const hi = -sec - 1;
  const lo = String(NS_PER_SEC - ns + NS_PER_SEC).slice(1);
  return hi === 0 ? '-' + String(NS_PER_SEC - ns) : '-' + String(hi) + lo;
}

/** Exact comparison of two values in (d, ns) form: negative, zero or positive. */
export function compareExact(d1: number, ns1: number, d2: number, ns2: number): number {
  if (d1 !== d2) return d1 < d2 ? -1 : 1;
  if (ns1 === ns2) return 0;
  // Equal doubles ⇒ the values differ by < 2048, so the modular difference decides.
  let diff = ns1 - ns2;
  if (diff > NS_PER_SEC / 2) diff -= NS_PER_SEC;
  else if (diff < -NS_PER_SEC / 2) diff += NS_PER_SEC;
  return diff < 0 ? -1 : 1;
}

/** Parse a decimal integer string (optionally signed) into (d, ns). Returns null if malformed. */
export function parseExact(text: string): { d: number; ns: number } | null {
  const m = /^([+-]?)(\d+)$/.exec(text.trim());
  if (!m) return null;
  const neg = m[1] === '-';
  const digits = m[2]!.replace(/^0+(?=\d)/, '');
  if (digits.length > 19) return null;
  const secDigits = digits.length > 9 ? digits.slice(0, -9) : '0';
  const nsDigits = digits.length > 9 ? digits.slice(-9) : digits;
  const sec = Number(secDigits);
  const nsv = Number(nsDigits);
  if (!neg) return { d: fromSecNs(sec, nsv), ns: nsv };
  // -(sec·1e9 + nsv)
  if (nsv === 0) return { d: sec === 0 ? 0 : -fromSecNs(sec, 0), ns: 0 }; // '-0' is 0, not -0
  return { d: -fromSecNs(sec, nsv), ns: NS_PER_SEC - nsv };
}

/** Nearest double of sec·1e9 + ns (0 ≤ ns < 1e9, |sec·1e9 + ns| < 2^63), rounded once. */
export function fromSecNs(sec: number, ns: number): number {
  // |sec| < 2^32: sec·1e9 = sec·1953125·2^9 is exact, so there is one rounding.
  if (sec < TWO32 && sec > -TWO32) return sec * NS_PER_SEC + ns;
  // Beyond, sec·1e9 may not be a double (two roundings would be wrong): rounding is symmetric, so
  // work on |v|, split it exactly as hi·2^32 + lo (lo < 2^32) and round once in the final sum.
  if (sec < 0) return ns === 0 ? -fromSecNs(-sec, 0) : -fromSecNs(-sec - 1, NS_PER_SEC - ns);
  const a = Math.floor(sec / 65536); // sec = a·2^16 + b
  const x = a * NS_PER_SEC; // < 2^48: exact
  const xh = Math.floor(x / 65536);
  const low = (x - xh * 65536) * 65536 + (sec - a * 65536) * NS_PER_SEC + ns; // < 2^48: exact
  const carry = Math.floor(low / TWO32);
  return (xh + carry) * TWO32 + (low - carry * TWO32);
}

/** Add whole seconds to a (d, ns) value, exactly. */
export function addSeconds(d: number, ns: number, seconds: number): number {
  return fromSecNs(secOf(d, ns) + seconds, ns);
}

/** Split an exact value into its high signed 32 bits and low unsigned 32 bits (for encoders). */
export function toHiLo(d: number, ns: number): { hi: number; lo: number } {
  if (d <= SAFE && d >= -SAFE) {
    const hi = Math.floor(d / 4294967296);
    return { hi, lo: d - hi * 4294967296 };
  }
  // v = sec·1e9 + ns; compute v mod 2^32 exactly via 1e9 = 2^9 · 1953125
  const sec = secOf(d, ns);
  const TWO32 = 4294967296;
  // sec·1e9 mod 2^32 = ((sec mod 2^23) · 1953125 mod 2^23) · 2^9 — keep products below 2^53
  const secMod = ((sec % 8388608) + 8388608) % 8388608;
  const prod = (secMod * 1953125) % 8388608; // < 2^23·2^21 = 2^44: exact
  let lo = (prod * 512 + ns) % TWO32;
  if (lo < 0) lo += TWO32;
  const hi = Math.round((d - lo) / TWO32);
  return { hi, lo };
}
