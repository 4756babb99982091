/**
 * Starts and stops the telemetry thread (worker.ts) for a hub, on the pipeline thread: the socket
 * file's location, a stale file left by a dead process (replaced only if it is a socket nobody
 * listens on, as the socket driver does) and its mode (the umask is narrowed while binding, then
 * the mode set explicitly) are settled here; subscriptions are compiled here, against the policies'
 * macros and lists, and their errors sent back as the stream's INVALID_ARGUMENT.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';
import { checkSocketLocation, makeRoomForSocket } from '../drivers/socket-options.js';
import { InputError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Vocabulary } from '../policy/condition.js';
import type { BatchPost, Hub } from './hub.js';
import type { FromTelemetry, ServeOptions, ToTelemetry } from './messages.js';
import { compileSubscription, SubscriptionError, type SubscriptionRequest } from './subscription.js';
import { Tap } from './tap.js';

export interface TelemetryOptions extends ServeOptions {
  readonly mode: number;
  readonly vocabulary: Vocabulary;
  readonly log: Logger;
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

/** The telemetry thread, and the post a hub for it sends its batches with. */
export function telemetryThread(): { worker: Worker; post: BatchPost } {
  const worker = new Worker(new URL('./worker.js', import.meta.url));
  return { worker, post: (m, transfer) => worker.postMessage(m, transfer) };
}

export async function serveTelemetry(worker: Worker, hub: Hub, o: TelemetryOptions): Promise<TelemetryServer> {
  const send = (m: ToTelemetry) => worker.postMessage(m);
  let started: (m: FromTelemetry) => void = () => {};
  let closed: () => void = () => {};
  worker.on('message', (m: FromTelemetry) => {
    switch (m.t) {
      case 'listening':
      case 'failed':
        started(m);
        break;
      case 'subscribe': {
        try {
          const sub = compileSubscription(m.request as SubscriptionRequest, o.vocabulary);
          send({ t: 'accepted', id: m.id, settings: { forMs: sub.forMs, limit: sub.limit, projection: sub.projection } });
          hub.add(new Tap(m.id, sub), sub.sinceMs);
        } catch (e) {
          if (!(e instanceof SubscriptionError)) throw e;
          send({ t: 'refused', id: m.id, message: e.message });
        }
        break;
      }
      case 'gone':
        hub.remove(m.id);
        break;
      case 'recycle':
        hub.recycle(m.buf);
        break;
      case 'log':
        o.log[m.level](m.msg);
        break;
      case 'closed':
        closed();
        break;
    }
  });
  // a failure of the telemetry thread ends the subscriptions, not the pipeline
  let exited = false;
  worker.on('error', (e) => {
    o.log.error(`telemetry: ${e.message}`);
    started({ t: 'failed', message: `telemetry: ${e.message}` });
  });
  worker.on('exit', () => {
    exited = true;
    started({ t: 'failed', message: 'telemetry: the telemetry thread stopped' });
    closed();
  });

  checkSocketLocation(o.path);
  if (await makeRoomForSocket(o.path, listening)) o.log.info(`telemetry: removed stale socket file ${o.path}`);
  const { mode, vocabulary: _v, log: _l, ...options } = o;
  // the umask is the process's: narrowed here while the telemetry thread binds
  const umask = process.umask(0o777 & ~mode);
  let first: FromTelemetry;
  try {
    first = await new Promise<FromTelemetry>((resolve) => {
      started = resolve;
      send({ t: 'serve', options });
    });
  } finally {
    process.umask(umask);
  }
  if (first.t === 'failed') {
    await worker.terminate();
    removeSocketFile(o.path);
    throw new InputError(first.message);
  }
  if (first.t === 'listening') for (const line of first.lines) o.log.info(line);
  chmodSync(o.path, mode);
  // the thread runs as long as the stage; it does not hold the process open on its own
  worker.unref();

  return {
    async close() {
      // the process waits for the streams to end
      worker.ref();
      if (!exited)
        await new Promise<void>((resolve) => {
          closed = resolve;
          send({ t: 'finish' });
        });
      await worker.terminate();
      removeSocketFile(o.path);
    },
  };
}
