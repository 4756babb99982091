/**
 * Upstream sysprint's `ts` text: datetime.utcfromtimestamp(float(ns) / 1e9).isoformat().
 * The conversion goes through a double, so it is reproduced step by step rather than derived from
 * the exact integer: double → seconds.fraction → microseconds rounded half-to-even (Python round),
 * with a carry into the seconds; ".ffffff" only when the microseconds are non-zero.
 */

let cachedSec = NaN;
let cachedPrefix = '';

function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff < 0.5) return f;
  if (diff > 0.5) return f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** `d` is the timestamp in ns as the nearest double (exactly what float(ns) gives in Python). */
export function isoFromNs(d: number): string {
  const t = d / 1e9;
  let whole = Math.trunc(t);
  let us = roundHalfEven((t - whole) * 1e6);
  if (us >= 1e6) {
    whole += 1;
    us -= 1e6;
  } else if (us < 0) {
    whole -= 1;
    us += 1e6;
  }
  if (whole !== cachedSec) {
    cachedSec = whole;
    cachedPrefix = new Date(whole * 1000).toISOString().slice(0, 19);
  }
  return us === 0 ? cachedPrefix : cachedPrefix + '.' + String(us + 1e6).slice(1);
}
