import type { ByteSink } from '../util/bytes.js';
import type { FlatRecord } from '../flatten/flatrecord.js';

/** Turns one record into bytes (one line/document, line end included). */
export interface Encoder {
  readonly name: string;
  encode(r: FlatRecord, out: ByteSink): void;
}

/**
 * Where encoded bytes go. A transport is a ByteSink: encoders write into it, it ships chunks.
 * `ready()` returns a promise while the transport is saturated (backpressure), else null.
 */
export interface Transport {
  readonly name: string;
  readonly sink: ByteSink;
  ready(): Promise<void> | null;
  /** Flush buffered bytes and release resources. */
  close(): Promise<void>;
}
