/**
 * A subscriber's queued events, on the telemetry thread, as the bytes gRPC will send: each event is
 * copied once, already framed as an EventBatch `events` field, into chunks of 256 KiB, so a batch
 * is a range of one chunk and its serializer hands that range to gRPC as it is. No per-event
 * object, no per-message encoding, and queued events never keep a whole hub batch alive.
 *
 * A chunk goes back to a small thread-wide pool once the queue has moved past it and every batch
 * cut from it has been serialized. That is safe because grpc-js copies what a serializer returns
 * into its own framed message in the same synchronous call; a batch still waiting in the stream's
 * buffer keeps its chunk out of the pool until it is serialized (a cancelled call's chunks are
 * simply left to the garbage collector).
 */
import { BATCH_DROPPED, BATCH_EVENTS, BATCH_SUPPRESSED, EVENT_JSON, varintSize, writeVarint } from './wire.js';

const CHUNK_SIZE = 1 << 18;
const POOL_MAX = 64;

class Chunk {
  /** Bytes written so far. */
  used = 0;
  /** Batches cut from it and not serialized yet. */
  refs = 0;
  /** The queue no longer reads or writes it. */
  retired = false;
  constructor(readonly buf: Buffer) {}
}

const pool: Chunk[] = [];

function chunkFor(bytes: number): Chunk {
  if (bytes > CHUNK_SIZE) return new Chunk(Buffer.allocUnsafeSlow(bytes));
  const c = pool.pop();
  if (c === undefined) return new Chunk(Buffer.allocUnsafeSlow(CHUNK_SIZE));
  c.used = 0;
  c.retired = false;
  return c;
}

function retire(c: Chunk): void {
  c.retired = true;
  if (c.refs === 0 && c.buf.length === CHUNK_SIZE && pool.length < POOL_MAX) pool.push(c);
}

/** What a subscriber sends: a run of framed events in one chunk (none: `chunk` null) and its two counts. */
export interface WireBatch {
  readonly chunk: Chunk | null;
  readonly start: number;
  readonly end: number;
  /** Events in [start, end). */
  readonly count: number;
  readonly dropped: number;
  readonly suppressed: number;
}

export class EventQueue {
  /** In queue order: read from the first, written to the last. */
  private chunks: Chunk[] = [];
  private readAt = 0;
  /** Events queued. */
  length = 0;

  /** Room for `bytes` more at the end of the last chunk. */
  private room(bytes: number): Chunk {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined) {
      // everything read and sent: start the chunk over
      if (this.chunks.length === 1 && this.readAt === last.used && last.refs === 0) last.used = this.readAt = 0;
      if (last.used + bytes <= last.buf.length) return last;
    }
    const c = chunkFor(bytes);
    this.chunks.push(c);
    return c;
  }

  /** Queue the Event message src[start, end). */
  push(src: Buffer, start: number, end: number): void {
    const n = end - start;
    const c = this.room(1 + varintSize(n) + n);
    const buf = c.buf;
    buf[c.used] = BATCH_EVENTS;
    const p = writeVarint(buf, c.used + 1, n);
    c.used = p + src.copy(buf, p, start, end);
    this.length++;
  }

  /**
   * Queue the Event message src[start, end) with another JSON: its fields before the json field
   * (which starts at `jsonAt`) as they are, then `json[0, jsonLength)`.
   */
  pushWithJson(src: Buffer, start: number, jsonAt: number, end: number, json: Buffer, jsonLength: number): void {
    const fieldsEnd = jsonAt - 1 - varintSize(end - jsonAt);
    const n = fieldsEnd - start + 1 + varintSize(jsonLength) + jsonLength;
    const c = this.room(1 + varintSize(n) + n);
    const buf = c.buf;
    buf[c.used] = BATCH_EVENTS;
    let p = writeVarint(buf, c.used + 1, n);
    p += src.copy(buf, p, start, fieldsEnd);
    buf[p] = EVENT_JSON;
    p = writeVarint(buf, p + 1, jsonLength);
    c.used = p + json.copy(buf, p, 0, jsonLength);
    this.length++;
  }

  /** The next batch: up to `max` queued events (fewer at a chunk's end), with the two counts. */
  take(max: number, dropped: number, suppressed: number): WireBatch {
    const chunks = this.chunks;
    while (chunks.length > 1 && this.readAt === chunks[0]!.used) {
      retire(chunks.shift()!);
      this.readAt = 0;
    }
    const c = chunks[0];
    if (c === undefined || this.length === 0 || max === 0) return { chunk: null, start: 0, end: 0, count: 0, dropped, suppressed };
    const buf = c.buf;
    const start = this.readAt;
    let p = start;
    let k = 0;
    while (k < max && p < c.used) {
      // a tag byte, then the event's length as a varint
      let q = p + 1;
      let len = 0;
      let scale = 1;
      let b: number;
      do {
        b = buf[q++]!;
        len += (b & 127) * scale;
        scale *= 128;
      } while (b >= 128);
      p = q + len;
      k++;
    }
    // a chunk read to its end is retired by the next take, or started over by room()
    this.readAt = p;
    this.length -= k;
    c.refs++;
    return { chunk: c, start, end: p, count: k, dropped, suppressed };
  }

  /** Drop everything queued (the client left). */
  clear(): void {
    for (const c of this.chunks) retire(c);
    this.chunks = [];
    this.readAt = 0;
    this.length = 0;
  }
}

/** Where batches with counts are put together (gRPC copies it before the next one). */
let scratch = Buffer.allocUnsafeSlow(1 << 16);

/** An EventBatch message: gRPC's serializer for GetEvents' responses. */
export function serializeBatch(b: WireBatch): Buffer {
  const { chunk, start, end, dropped, suppressed } = b;
  let out: Buffer;
  if (chunk !== null && dropped === 0 && suppressed === 0) out = chunk.buf.subarray(start, end);
  else {
    const size = end - start + 1 + varintSize(dropped) + 1 + varintSize(suppressed);
    if (scratch.length < size) scratch = Buffer.allocUnsafeSlow(Math.max(size, 2 * scratch.length));
    let p = chunk === null ? 0 : chunk.buf.copy(scratch, 0, start, end);
    if (dropped > 0) {
      scratch[p++] = BATCH_DROPPED;
      p = writeVarint(scratch, p, dropped);
    }
    if (suppressed > 0) {
      scratch[p++] = BATCH_SUPPRESSED;
      p = writeVarint(scratch, p, suppressed);
    }
    out = scratch.subarray(0, p);
  }
  if (chunk !== null && --chunk.refs === 0 && chunk.retired) retire(chunk);
  return out;
}
