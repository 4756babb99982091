/**
 * The telemetry gRPC service (resources/proto/sfprocessor/telemetry/v1/telemetry.proto) on a Unix
 * socket. The socket file is created with mode `mode` (the umask is narrowed while binding, then the
 * mode set explicitly); an existing file is replaced only if it is a socket nobody listens on, as the
 * socket driver does.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { InputError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Vocabulary } from '../policy/condition.js';
import { checkSocketLocation, makeRoomForSocket } from '../drivers/socket-options.js';
import type { Hub } from './hub.js';
import { loadTelemetry } from './proto.js';
import { type BatchSink, Subscriber } from './subscriber.js';
import { compileSubscription, SubscriptionError, type SubscriptionRequest } from './subscription.js';
import type { WireBatch } from './wire.js';

export interface TelemetryOptions {
  readonly path: string;
  readonly mode: number;
  /** Events queued per subscriber before its events are dropped. */
  readonly queueSize: number;
  /** Events per EventBatch at most. */
  readonly batchSize: number;
  readonly vocabulary: Vocabulary;
  readonly log: Logger;
  /** Also serve on TCP, always with TLS: `host:port`, the server's certificate and key (PEM), and a CA to require client certificates from. */
  readonly tcp?: { readonly addr: string; readonly cert: Buffer; readonly key: Buffer; readonly ca: Buffer | null };
}

export interface TelemetryServer {
  /** End every stream after what is queued for it, stop serving, remove the socket file. */
  close(): Promise<void>;
}

/** Is someone listening on the socket at `path`? */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function removeSocketFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone (gRPC removes it on shutdown)
  }
}

type GetEventsCall = grpc.ServerWritableStream<SubscriptionRequest, WireBatch>;

export async function serveTelemetry(hub: Hub, o: TelemetryOptions): Promise<TelemetryServer> {
  const { grpc: grpcjs, service } = await loadTelemetry();
  const server = new grpcjs.Server();
  const live = new Set<Subscriber>();

  server.addService(service, {
    GetEvents(call: GetEventsCall) {
      let sub: ReturnType<typeof compileSubscription>;
      try {
        sub = compileSubscription(call.request, o.vocabulary);
      } catch (e) {
        if (!(e instanceof SubscriptionError)) throw e;
        call.emit('error', { code: grpcjs.status.INVALID_ARGUMENT, details: e.message });
        return;
      }
      const sink: BatchSink = {
        write: (b) => call.write(b),
        onDrain: (fn) => call.once('drain', fn),
        end: () => call.end(),
      };
      const s = new Subscriber(sub, sink, hub.host, o.queueSize, o.batchSize, (x) => {
        hub.remove(x);
        live.delete(x);
        o.log.debug(`subscriber left: ${x.totals.sent} events sent, ${x.totals.dropped} dropped, ${x.totals.suppressed} suppressed`);
      });
      live.add(s);
      hub.add(s, sub.sinceMs);
      // the client went away: free its queue at once
      call.on('cancelled', () => s.cancel());
      call.on('error', () => s.cancel());
    },
  });

  checkSocketLocation(o.path);
  if (await makeRoomForSocket(o.path, listening)) o.log.info(`telemetry: removed stale socket file ${o.path}`);
  const umask = process.umask(0o777 & ~o.mode);
  try {
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix:${o.path}`, grpcjs.ServerCredentials.createInsecure(), (err) => (err ? reject(new InputError(`${o.path}: cannot serve telemetry: ${err.message}`)) : resolve())),
    );
  } finally {
    process.umask(umask);
  }
  chmodSync(o.path, o.mode);
  o.log.info(`telemetry: serving GetEvents on ${o.path}`);
  if (o.tcp) {
    const t = o.tcp;
    const creds = grpcjs.ServerCredentials.createSsl(t.ca, [{ private_key: t.key, cert_chain: t.cert }], t.ca !== null);
    let port: number;
    try {
      port = await new Promise<number>((resolve, reject) =>
        server.bindAsync(t.addr, creds, (err, p) =>
          err
            ? reject(
                new InputError(`attribute 'addr': cannot serve telemetry on ${t.addr}: ${/No address added/.test(err.message) ? 'the port is taken or the address is not this host' : err.message}`),
              )
            : resolve(p),
        ),
      );
    } catch (e) {
      // nothing keeps serving (or holds the process) when the stage cannot start
      server.forceShutdown();
      removeSocketFile(o.path);
      throw e;
    }
    o.log.info(`telemetry: serving GetEvents on ${t.addr.replace(/:0$/, `:${port}`)} (TLS${t.ca ? ', client certificates required' : ''})`);
  }

  return {
    async close() {
      hub.finishAll();
      // the streams end once their queues are written; a client that stopped reading does not hold the exit
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          for (const s of [...live]) s.cancel();
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
      removeSocketFile(o.path);
    },
  };
}
