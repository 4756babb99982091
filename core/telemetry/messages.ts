/**
 * What the pipeline thread (the hub: filters, throttles, encodes) and the telemetry thread (the
 * gRPC service: connections, queues, projections, writing) say to each other. The pipeline thread
 * never waits for the telemetry thread; batches go one way and are never answered.
 */

import type { Subscription } from './subscription.js';

/** A subscription's settings the telemetry thread applies (the filters stay with the hub). */
export type StreamSettings = Pick<Subscription, 'forMs' | 'limit' | 'projection'>;

export interface ServeOptions {
  readonly path: string;
  /** Events queued per subscriber before its events are dropped. */
  readonly queueSize: number;
  /** Events per EventBatch at most. */
  readonly batchSize: number;
  /** Also serve on TCP, always with TLS: `host:port`, the server's certificate and key (PEM), and a CA to require client certificates from. */
  readonly tcp?: { readonly addr: string; readonly cert: Uint8Array; readonly key: Uint8Array; readonly ca: Uint8Array | null };
}

/**
 * The events of one published pipeline batch: `buf` (transferred) holds the encoded Event messages;
 * `events` three offsets per event (start, start of its JSON, end); `to` pairs (stream id, event
 * index) in pipeline order; `suppressed` pairs (stream id, events its throttle held back).
 */
export interface BatchMessage {
  readonly t: 'batch';
  readonly buf: ArrayBuffer;
  readonly events: Int32Array;
  readonly to: Int32Array;
  readonly suppressed: Int32Array;
}

export type ToTelemetry =
  | { readonly t: 'serve'; readonly options: ServeOptions }
  | BatchMessage
  | { readonly t: 'accepted'; readonly id: number; readonly settings: StreamSettings }
  | { readonly t: 'refused'; readonly id: number; readonly message: string }
  /** The pipeline stops: end every stream after what is queued for it, then stop serving. */
  | { readonly t: 'finish' };

export type FromTelemetry =
  | { readonly t: 'listening'; readonly lines: readonly string[] }
  /** Serving failed to start (`input`: the socket or address; `config`: an attribute). */
  | { readonly t: 'failed'; readonly message: string }
  /** A client asked for a stream (the request as the proto decodes it). */
  | { readonly t: 'subscribe'; readonly id: number; readonly request: unknown }
  /** The stream ended (limit, for, the client left): send nothing more for it. */
  | { readonly t: 'gone'; readonly id: number }
  /** A batch's buffer back (transferred), once every stream copied what it took: the hub reuses it. */
  | { readonly t: 'recycle'; readonly buf: ArrayBuffer }
  | { readonly t: 'log'; readonly level: 'debug' | 'info' | 'warn'; readonly msg: string }
  | { readonly t: 'closed' };
