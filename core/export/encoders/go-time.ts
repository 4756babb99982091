/** Times as Go writes them: RFC3339Nano in UTC (fraction without trailing zeros, none at all when zero), and exact ns durations. */
import type { ByteSink } from '../../util/bytes.js';
import { secOf } from '../../util/i64.js';

const B = (s: string) => Buffer.from(s, 'utf8');

const ISO_SLOTS = 1024;
const isoSec = new Float64Array(ISO_SLOTS).fill(NaN);
const isoPrefix: Buffer[] = new Array<Buffer>(ISO_SLOTS);

/** `"YYYY-MM-DDTHH:MM:SS` (opening quote included) for whole seconds since the epoch. */
function isoPrefixOf(sec: number): Buffer {
  const slot = ((sec % ISO_SLOTS) + ISO_SLOTS) % ISO_SLOTS;
  if (isoSec[slot] === sec) return isoPrefix[slot]!;
  const b = B('"' + new Date(sec * 1000).toISOString().slice(0, 19));
  isoSec[slot] = sec;
  isoPrefix[slot] = b;
  return b;
}

/** Writes the nanosecond time (d, ns) as a quoted RFC 3339 string. */
export function writeIso(out: ByteSink, d: number, ns: number): void {
  out.bytes(isoPrefixOf(secOf(d, ns)));
  if (ns !== 0) {
    out.byte(46);
    let div = 100000000;
    let v = ns;
    while (v !== 0) {
      const q = Math.floor(v / div);
      out.byte(48 + q);
      v -= q * div;
      div /= 10;
    }
  }
  out.byte(90); // Z
  out.byte(34);
}

/** The nanosecond time (d, ns) as Go's RFC3339Nano text (UTC). */
export function isoNano(d: number, ns: number): string {
  const frac =
    ns === 0
      ? ''
      : '.' +
        String(ns + 1e9)
          .slice(1)
          .replace(/0+$/, '');
  return new Date(secOf(d, ns) * 1000).toISOString().slice(0, 19) + frac + 'Z';
}

/** end − start in ns, exactly, for two (d, ns) values. */
export function writeDuration(out: ByteSink, sd: number, sns: number, ed: number, ens: number): void {
  const ds = secOf(ed, ens) - secOf(sd, sns);
  if (ds > -9e6 && ds < 9e6) {
    out.number(ds * 1e9 + (ens - sns));
    return;
  }
  out.ascii(String(BigInt(ds) * 1000000000n + BigInt(ens - sns)));
}
