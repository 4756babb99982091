/** Community ID v1 (https://github.com/corelight/community-id-spec) of IPv4 flows, as gommunityid computes it. */
import { createHash } from 'node:crypto';

/** ICMPv4 types that have a counterpart (request ↔ reply): such flows are two-way. */
const ICMP_COUNTERPART = new Map<number, number>([
  [8, 0],
  [0, 8],
  [13, 14],
  [14, 13],
  [15, 16],
  [16, 15],
  [10, 9],
  [9, 10],
  [17, 18],
  [18, 17],
]);
const cidBuf = Buffer.alloc(16);

/**
 * Community ID v1 of an IPv4 flow. IPs are SysFlow's integers (first octet in the lowest byte).
 * For ICMP (proto 1) the ports are the ICMP type and code, mapped as Zeek/gommunityid map them.
 */
export function communityId(sip: number, sport: number, dip: number, dport: number, proto: number, seed = 0): string {
  // network-order 32-bit values: first octet most significant
  let a = (sip & 0xff) * 0x1000000 + ((sip >>> 8) & 0xff) * 0x10000 + ((sip >>> 16) & 0xff) * 0x100 + ((sip >>> 24) & 0xff);
  let b = (dip & 0xff) * 0x1000000 + ((dip >>> 8) & 0xff) * 0x10000 + ((dip >>> 16) & 0xff) * 0x100 + ((dip >>> 24) & 0xff);
  let p = sport & 0xffff;
  let q = dport & 0xffff;
  let oneWay = false;
  if (proto === 1) {
    const t = p & 0xff;
    const c = ICMP_COUNTERPART.get(t);
    p = t;
    if (c === undefined) {
      q = q & 0xff;
      oneWay = true;
    } else q = c;
  }
  if (!oneWay && !(a < b || (a === b && p < q))) {
    const ta = a;
    a = b;
    b = ta;
    const tp = p;
    p = q;
    q = tp;
  }
  const buf = cidBuf;
  buf.writeUInt16BE(seed & 0xffff, 0);
  buf.writeUInt32BE(a, 2);
  buf.writeUInt32BE(b, 6);
  buf[10] = proto & 0xff;
  buf[11] = 0;
  buf.writeUInt16BE(p, 12);
  buf.writeUInt16BE(q, 14);
  return '1:' + createHash('sha1').update(buf).digest('base64');
}

/** Flows repeat their 5-tuples: a small direct-mapped cache saves most SHA-1 computations. */
const CID_SLOTS = 4096;
const cidKeys = new Int32Array(CID_SLOTS * 5);
const cidVals: (string | undefined)[] = new Array<string | undefined>(CID_SLOTS);

export function cachedCommunityId(sip: number, sport: number, dip: number, dport: number, proto: number): string {
  sip |= 0;
  dip |= 0;
  sport |= 0;
  dport |= 0;
  proto |= 0;
  let h = Math.imul(sip ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(dip, 0xc2b2ae35) ^ Math.imul(sport * 65599 + dport, 0x27d4eb2f) ^ proto;
  h ^= h >>> 15;
  const slot = h & (CID_SLOTS - 1);
  const k = slot * 5;
  const v = cidVals[slot];
  if (v !== undefined && cidKeys[k] === sip && cidKeys[k + 1] === sport && cidKeys[k + 2] === dip && cidKeys[k + 3] === dport && cidKeys[k + 4] === proto) return v;
  const id = communityId(sip, sport, dip, dport, proto);
  cidKeys[k] = sip;
  cidKeys[k + 1] = sport;
  cidKeys[k + 2] = dip;
  cidKeys[k + 3] = dport;
  cidKeys[k + 4] = proto;
  cidVals[slot] = id;
  return id;
}
