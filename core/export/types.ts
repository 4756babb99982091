import type { ByteSink } from '../util/bytes.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import type { Attributes } from '../pipeline/types.js';
import type { Logger } from '../log.js';
import type { ConfigSchema } from '../pipeline/settings.js';

/** Turns one record into bytes (one line/document, line end included). */
export interface Encoder {
  readonly name: string;
  encode(r: FlatRecord, out: ByteSink): void;
  /** A stable document id for the record (ECS: the Elasticsearch _id), when the format has one. */
  docId?(r: FlatRecord): string;
}

/**
 * Where encoded bytes go. A transport is a ByteSink: encoders write into it, it ships chunks.
 * `ready()` returns a promise while the transport is saturated (backpressure), else null.
 */
export interface Transport {
  readonly name: string;
  readonly sink: ByteSink;
  ready(): Promise<void> | null;
  /** Called after the exporter flushed a batch: records are whole here (file rotation). */
  boundary?(): void;
  /** Flush buffered bytes and release resources. */
  close(): Promise<void>;
}

/** One encoded record as a network transport ships it, with what it frames and routes by. */
export interface Message {
  /** The encoded record, without a line end. */
  readonly body: Buffer;
  /** Highest priority among the rules the record matched (0: none; 1 low … 4 critical). */
  readonly priority: number;
  /** Record time, ms since the epoch (index date patterns). */
  readonly ts: number;
  /** Document id, when the encoder defines one (ECS). */
  readonly id?: string;
}

/**
 * A transport that takes records one at a time (syslog, es): each message needs its own framing or
 * metadata. The exporter encodes each record separately for it.
 */
export interface MessageTransport {
  readonly name: string;
  readonly messages: true;
  send(m: Message): void;
  ready(): Promise<void> | null;
  close(): Promise<void>;
  /** After close(): messages it was given and neither delivered nor kept for a later run. */
  undelivered?(): number;
}

export const isMessageTransport = (t: Transport | MessageTransport): t is MessageTransport => (t as MessageTransport).messages === true;

export interface EncoderFactory {
  readonly name: string;
  /** Attributes it reads from the exporter's entry (`<name>.x`; the exporter's help lists them). */
  readonly config?: ConfigSchema;
  create(attrs: Attributes): Encoder;
}

export interface TransportFactory {
  readonly name: string;
  /** Attributes it reads from the exporter's entry (the exporter's help lists them). */
  readonly config?: ConfigSchema;
  /** Validate settings without connecting or creating anything (`-test`). */
  check?(attrs: Attributes): void;
  create(attrs: Attributes, log: Logger): Transport | MessageTransport | Promise<Transport | MessageTransport>;
}
