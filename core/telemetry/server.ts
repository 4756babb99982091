/**
 * The telemetry gRPC service (resources/proto/sfprocessor/telemetry/v1/telemetry.proto), on the
 * telemetry thread: each GetEvents call becomes a stream id that the hub, on the pipeline thread,
 * compiles and feeds; the streams' queues, projections and writes all happen here, so neither a
 * slow client nor the network ever takes the pipeline's time.
 */
import type * as grpc from '@grpc/grpc-js';
import type { BatchMessage, FromTelemetry, ServeOptions, StreamSettings } from './messages.js';
import { loadTelemetry } from './proto.js';
import { type BatchSink, Subscriber } from './subscriber.js';
import type { SubscriptionRequest } from './subscription.js';
import type { WireBatch } from './event-queue.js';

type GetEventsCall = grpc.ServerWritableStream<SubscriptionRequest, WireBatch>;

export interface TelemetryService {
  accepted(id: number, settings: StreamSettings): void;
  refused(id: number, message: string): void;
  batch(m: BatchMessage): void;
  /** End every stream after what is queued for it and stop serving. */
  finish(): Promise<void>;
}

export async function serve(o: ServeOptions, post: (m: FromTelemetry) => void, recycle: (buf: ArrayBuffer) => void): Promise<TelemetryService | string> {
  const { grpc: grpcjs, service } = await loadTelemetry();
  const server = new grpcjs.Server();
  /** Calls the hub has not answered yet. */
  const pending = new Map<number, GetEventsCall>();
  const live = new Map<number, Subscriber>();
  let nextId = 1;

  server.addService(service, {
    GetEvents(call: GetEventsCall) {
      const id = nextId++;
      pending.set(id, call);
      const gone = () => {
        if (pending.delete(id)) post({ t: 'gone', id });
        else live.get(id)?.cancel();
      };
      // the client went away: free its queue at once
      call.on('cancelled', gone);
      call.on('error', gone);
      post({ t: 'subscribe', id, request: call.request });
    },
  });

  const lines: string[] = [];
  const bind = (addr: string, creds: grpc.ServerCredentials) => new Promise<number>((resolve, reject) => server.bindAsync(addr, creds, (err, port) => (err ? reject(err) : resolve(port))));
  try {
    await bind(`unix:${o.path}`, grpcjs.ServerCredentials.createInsecure()).catch((e: Error) => {
      throw new Error(`${o.path}: cannot serve telemetry: ${e.message}`);
    });
    lines.push(`telemetry: serving GetEvents on ${o.path}`);
    if (o.tcp) {
      const t = o.tcp;
      const creds = grpcjs.ServerCredentials.createSsl(t.ca ? Buffer.from(t.ca) : null, [{ private_key: Buffer.from(t.key), cert_chain: Buffer.from(t.cert) }], t.ca !== null);
      const port = await bind(t.addr, creds).catch((e: Error) => {
        const why = /No address added/.test(e.message) ? 'the port is taken or the address is not this host' : e.message;
        throw new Error(`attribute 'addr': cannot serve telemetry on ${t.addr}: ${why}`);
      });
      lines.push(`telemetry: serving GetEvents on ${t.addr.replace(/:0$/, `:${port}`)} (TLS${t.ca ? ', client certificates required' : ''})`);
    }
  } catch (e) {
    // nothing keeps serving (or holds the process) when the stage cannot start
    server.forceShutdown();
    return (e as Error).message;
  }
  post({ t: 'listening', lines });

  return {
    accepted(id, settings) {
      const call = pending.get(id);
      if (!call) return;
      pending.delete(id);
      const sink: BatchSink = {
        write: (b) => call.write(b),
        onDrain: (fn) => call.once('drain', fn),
        end: () => call.end(),
      };
      const s = new Subscriber(id, settings, sink, o.queueSize, o.batchSize, (x) => {
        live.delete(x.id);
        post({ t: 'gone', id: x.id });
        post({ t: 'log', level: 'debug', msg: `subscriber left: ${x.totals.sent} events sent, ${x.totals.dropped} dropped, ${x.totals.suppressed} suppressed` });
      });
      live.set(id, s);
    },

    refused(id, message) {
      const call = pending.get(id);
      if (!call) return;
      pending.delete(id);
      call.emit('error', { code: grpcjs.status.INVALID_ARGUMENT, details: message });
    },

    batch(m) {
      const { events, to, suppressed } = m;
      // each stream copies the events it takes into its own queue
      const buf = Buffer.from(m.buf);
      let id = -1;
      let s: Subscriber | undefined;
      for (let i = 0; i < to.length; i += 2) {
        if (to[i] !== id) {
          id = to[i]!;
          s = live.get(id);
        }
        if (s === undefined) continue;
        const e = 3 * to[i + 1]!;
        s.offer(buf, events[e]!, events[e + 1]!, events[e + 2]!);
      }
      for (let i = 0; i < suppressed.length; i += 2) live.get(suppressed[i]!)?.suppress(suppressed[i + 1]!);
      // nothing refers to the buffer now: the hub writes its next batches into it
      recycle(m.buf);
    },

    async finish() {
      for (const call of pending.values()) call.end();
      pending.clear();
      for (const s of [...live.values()]) s.finish();
      // the streams end once their queues are written; a client that stopped reading does not hold the exit
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          for (const s of [...live.values()]) s.cancel();
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}
