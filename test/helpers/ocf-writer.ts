/**
 * Avro object container file writer for SysFlow records, laid out like the collector's files:
 * magic, metadata {avro.schema, avro.codec}, 16-byte sync, then blocks
 * `[count][byteSize][data][sync]`, each flushed once its uncompressed data reaches ~80,000 bytes.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { deflateRawSync, constants as zc } from 'node:zlib';
import { AvroWriter, encodeSysFlow } from './avro-writer.js';
import { SYSFLOW_SCHEMA } from '../../core/sysflow/schema.js';
import type { SysFlowRecord } from '../../core/sysflow/types.js';
import type { Codec } from '../../core/avro/ocf.js';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);
const SYNC_SIZE = 16;
/** sf-collector's COMPRESS_BLOCK_SIZE. */
export const DEFAULT_BLOCK_BYTES = 80_000;

export interface OcfWriterOptions {
  /** 'deflate' (raw RFC 1951, the default, as the collector writes) or 'null'. */
  codec?: Codec;
  /** 16-byte sync marker; random by default. */
  sync?: Buffer;
  /** Flush a block once its uncompressed data reaches this many bytes. */
  blockBytes?: number;
  /** zlib level for deflate. */
  level?: number;
}

/** Where container bytes go. Chunks passed to write() are reused by the caller after it returns. */
export interface ByteSink {
  write(chunk: Buffer): void;
  close(): void;
}

/** Synchronous writes to a file descriptor. */
export class FdSink implements ByteSink {
  constructor(
    private fd: number,
    private readonly ownsFd = true,
  ) {}

  write(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
  }

  close(): void {
    if (this.ownsFd && this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Collects the container in memory (tests, small outputs). */
export class MemorySink implements ByteSink {
  private chunks: Buffer[] = [];

  write(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
  }

  close(): void {}

  toBuffer(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }
}

export class SysFlowFileWriter {
  readonly codec: Codec;
  readonly sync: Buffer;
  /** Records and blocks written so far (records still buffered included in `records`). */
  records = 0;
  blocks = 0;
  private readonly blockBytes: number;
  private readonly level: number;
  private readonly data = new AvroWriter(128 * 1024);
  private readonly frame = new AvroWriter(32);
  private pending = 0;
  private closed = false;

  /** Write to a new file (truncating an existing one). */
  static create(path: string, opts: OcfWriterOptions = {}): SysFlowFileWriter {
    const sink = new FdSink(openSync(path, 'w'));
    try {
      return new SysFlowFileWriter(sink, opts);
    } catch (e) {
      sink.close();
      throw e;
    }
  }

  /** Encode records into an in-memory container. */
  static toBuffer(records: Iterable<SysFlowRecord>, opts: OcfWriterOptions = {}): Buffer {
    const sink = new MemorySink();
    const w = new SysFlowFileWriter(sink, opts);
    for (const r of records) w.write(r);
    w.close();
    return sink.toBuffer();
  }

  constructor(
    private readonly sink: ByteSink,
    opts: OcfWriterOptions = {},
  ) {
    this.codec = opts.codec ?? 'deflate';
    if (this.codec !== 'deflate' && this.codec !== 'null') throw new RangeError(`unsupported codec ${String(this.codec)}`);
    this.sync = opts.sync ?? randomBytes(SYNC_SIZE);
    if (this.sync.length !== SYNC_SIZE) throw new RangeError(`sync marker must be ${SYNC_SIZE} bytes`);
    this.blockBytes = opts.blockBytes ?? DEFAULT_BLOCK_BYTES;
    this.level = opts.level ?? zc.Z_DEFAULT_COMPRESSION;
    this.writeHeader();
  }

  private writeHeader(): void {
    const h = new AvroWriter(8192);
    h.writeRaw(MAGIC);
    h.writeLong(2);
    h.writeString('avro.schema');
    h.writeBytes(Buffer.from(JSON.stringify(SYSFLOW_SCHEMA), 'utf8'));
    h.writeString('avro.codec');
    h.writeBytes(Buffer.from(this.codec, 'utf8'));
    h.writeLong(0);
    h.writeRaw(this.sync);
    this.sink.write(h.bytes());
  }

  write(rec: SysFlowRecord): void {
    if (this.closed) throw new Error('SysFlowFileWriter is closed');
    const data = this.data;
    const mark = data.pos;
    try {
      encodeSysFlow(data, rec);
    } catch (e) {
      data.pos = mark; // drop the partial datum so the block stays decodable
      throw e;
    }
    this.pending++;
    this.records++;
    if (data.pos >= this.blockBytes) this.flush();
  }

  /** Write out buffered records as a block (no-op when there are none). */
  flush(): void {
    if (this.pending === 0) return;
    const raw = this.data.bytes();
    const body = this.codec === 'deflate' ? deflateRawSync(raw, { level: this.level }) : raw;
    const f = this.frame;
    f.reset();
    f.writeLong(this.pending);
    f.writeLong(body.length);
    this.sink.write(f.bytes());
    this.sink.write(body);
    this.sink.write(this.sync);
    this.blocks++;
    this.pending = 0;
    this.data.reset();
  }

  /** Flush and close the sink. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.sink.close();
  }
}
