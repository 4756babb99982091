/** The telemetry service's proto, loaded once with gRPC (both imported only when first needed: ~60 ms). */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Grpc from '@grpc/grpc-js';
import type { SubscriptionRequest } from './subscription.js';
import { serializeBatch } from './event-queue.js';

export const PROTO_FILE = join(dirname(fileURLToPath(import.meta.url)), '../../../resources/proto/sfprocessor/telemetry/v1/telemetry.proto');

/**
 * Channel options for clients: a 16 MiB HTTP/2 receive window instead of 64 KiB, so the server can
 * send a burst of events without waiting for the client's window updates.
 */
export const CLIENT_OPTIONS = { 'grpc-node.flow_control_window': 16 << 20 } as const;

/** An Event as a client decodes it (proto-loader: 64-bit numbers as strings). */
export interface TelemetryEvent {
  readonly seq: string;
  readonly ts: string;
  readonly type: string;
  readonly host: string;
  readonly json: string;
}

export interface EventBatch {
  readonly events: TelemetryEvent[];
  readonly dropped: string;
  readonly suppressed: string;
}

export type TelemetryClient = Grpc.Client & { GetEvents(r: SubscriptionRequest): Grpc.ClientReadableStream<EventBatch> };

export interface Telemetry {
  readonly grpc: typeof Grpc;
  /** The service as the server serves it: responses are WireBatches, serialized by serializeBatch. */
  readonly service: Grpc.ServiceDefinition;
  readonly Client: new (address: string, credentials: Grpc.ChannelCredentials, options?: Grpc.ChannelOptions) => TelemetryClient;
}

let loaded: Promise<Telemetry> | null = null;

export function loadTelemetry(): Promise<Telemetry> {
  loaded ??= (async () => {
    const [grpc, loader] = await Promise.all([import('@grpc/grpc-js'), import('@grpc/proto-loader')]);
    // gRPC's own log lines would break the one-line errors; its failures reach us as errors anyway
    if (process.env.GRPC_VERBOSITY === undefined) grpc.setLogVerbosity(grpc.logVerbosity.NONE);
    // keepCase: the proto's field names as written; 64-bit numbers and enums as strings
    const def = await loader.load(PROTO_FILE, { keepCase: true, longs: String, enums: String, defaults: true });
    const Client = (grpc.loadPackageDefinition(def) as unknown as { sfprocessor: { telemetry: { v1: { Telemetry: Telemetry['Client'] & Grpc.ServiceClientConstructor } } } }).sfprocessor.telemetry.v1
      .Telemetry;
    const service = { ...Client.service, GetEvents: { ...Client.service.GetEvents!, responseSerialize: serializeBatch } } as Grpc.ServiceDefinition;
    return { grpc, service, Client };
  })();
  return loaded;
}
