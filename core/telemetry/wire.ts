/**
 * The telemetry messages in protobuf wire format, written by hand. An `Event` is encoded once per
 * record, around its JSON bytes, and every subscriber that takes it copies those bytes into its
 * queue already framed as an `EventBatch` field (event-queue.ts), so a batch needs no encoding at
 * all. protobufjs would encode every event again for every subscriber, with its 64-bit numbers as
 * strings. Field numbers are the proto's (resources/proto/sfprocessor/telemetry/v1/telemetry.proto);
 * clients decode with any protobuf library.
 */
import { toHiLo } from '../util/i64.js';

// tags: (field number << 3) | wire type (0 varint, 2 length-delimited)
const EVENT_SEQ = 0x08;
const EVENT_TS = 0x10;
const EVENT_TYPE = 0x1a;
const EVENT_HOST = 0x22;
export const EVENT_JSON = 0x2a;
export const BATCH_EVENTS = 0x0a;
export const BATCH_DROPPED = 0x10;
export const BATCH_SUPPRESSED = 0x18;

/** Bytes of the varint of a non-negative safe integer. */
export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Write the varint of a non-negative safe integer at p; the position after it. */
export function writeVarint(buf: Uint8Array, p: number, v: number): number {
  while (v >= 128) {
    buf[p++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[p++] = v;
  return p;
}

/** The ts of the Event being written, as the unsigned halves of its two's complement. */
const halves = new Uint32Array(2);

function setHalves(d: number, ns: number): void {
  const { hi, lo } = toHiLo(d, ns);
  halves[0] = lo;
  halves[1] = hi >>> 0;
}

function int64Size(lo: number, hi: number): number {
  if (hi === 0) return varintSize(lo);
  // 32 bits of lo, then hi's bits from position 32 on
  let n = 5;
  let h = hi >>> 3;
  while (h > 0) {
    h >>>= 7;
    n++;
  }
  return n;
}

function writeInt64(buf: Uint8Array, p: number, lo: number, hi: number): number {
  if (hi === 0) return writeVarint(buf, p, lo);
  for (let i = 0; i < 4; i++) {
    buf[p++] = (lo & 127) | 128;
    lo >>>= 7;
  }
  // bits 28–34: four of lo, three of hi
  let b = lo | ((hi & 7) << 4);
  hi >>>= 3;
  while (hi > 0) {
    buf[p++] = b | 128;
    b = hi & 127;
    hi >>>= 7;
  }
  buf[p++] = b;
  return p;
}

/** The bytes of an Event's fields 1–4 and the tag and length of its json field (`jsonLength` bytes). */
export function eventHeaderSize(seq: number, tsD: number, tsNs: number, type: Uint8Array, host: Uint8Array, jsonLength: number): number {
  setHalves(tsD, tsNs);
  return 1 + varintSize(seq) + 1 + int64Size(halves[0]!, halves[1]!) + 1 + varintSize(type.length) + type.length + 1 + varintSize(host.length) + host.length + 1 + varintSize(jsonLength);
}

/**
 * Write an Event's header so that it ends exactly at `end`, where its json field's `jsonLength`
 * bytes already are; returns where the message starts.
 */
export function writeEventHeaderBefore(buf: Uint8Array, end: number, seq: number, tsD: number, tsNs: number, type: Uint8Array, host: Uint8Array, jsonLength: number): number {
  const start = end - eventHeaderSize(seq, tsD, tsNs, type, host, jsonLength);
  let p = start;
  buf[p++] = EVENT_SEQ;
  p = writeVarint(buf, p, seq);
  buf[p++] = EVENT_TS;
  p = writeInt64(buf, p, halves[0]!, halves[1]!);
  buf[p++] = EVENT_TYPE;
  p = writeVarint(buf, p, type.length);
  buf.set(type, p);
  p += type.length;
  buf[p++] = EVENT_HOST;
  p = writeVarint(buf, p, host.length);
  buf.set(host, p);
  p += host.length;
  buf[p++] = EVENT_JSON;
  writeVarint(buf, p, jsonLength);
  return start;
}
