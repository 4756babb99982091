/**
 * Capture requests from a Redis pub/sub channel, as pcapdaemon takes them. ioredis reconnects on
 * its own and subscribes again after a reconnect; a lost connection is logged once when it goes and
 * once when it comes back, not at every retry.
 */
import { Redis } from 'ioredis';
import type { Logger } from '../log.js';

export interface RedisSettings {
  readonly host: string;
  readonly port: number;
  readonly channel: string;
  /** pcapdaemon's `auth` */
  readonly auth?: string;
}

export interface RequestSource {
  /** Resolves once subscribed (or rejects if the first connection cannot subscribe). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

export function subscribeRedis(s: RedisSettings, onMessage: (text: string) => void, log: Logger): RequestSource {
  const r = new Redis({
    host: s.host,
    port: s.port,
    ...(s.auth ? { password: s.auth } : {}),
    // keep trying, at most every 2 s; the subscription waits for the connection and is made again after each reconnect
    retryStrategy: (times) => Math.min(100 * times, 2000),
    maxRetriesPerRequest: null,
  });
  const where = `redis ${s.host}:${s.port} channel '${s.channel}'`;
  // 'up' after a subscription; 'down' once the loss was logged, so retries stay quiet
  let state: 'new' | 'up' | 'down' = 'new';
  let everUp = false;
  r.on('ready', () => {
    if (state === 'down') log.info(`capture requests: ${everUp ? `${where} is back` : `reached ${where}`}; subscribing`);
  });
  let closing = false;
  const lost = (why: string) => {
    if (state === 'down' || closing) return;
    log.warn(`capture requests: ${state === 'up' ? 'lost' : 'cannot reach'} ${where}: ${why}; retrying`);
    state = 'down';
  };
  r.on('error', (e: Error) => lost(e.message));
  r.on('close', () => lost('connection closed'));
  r.on('message', (channel: string, message: string) => {
    if (channel === s.channel) onMessage(message);
  });
  const ready = r.subscribe(s.channel).then(() => {
    if (state === 'new') log.info(`capture requests: subscribed to ${where}`);
    state = 'up';
    everUp = true;
  });
  r.on('ready', () => {
    if (state === 'down') {
      state = 'up';
      everUp = true;
    }
  });
  return {
    ready,
    async close() {
      closing = true;
      r.disconnect(false);
    },
  };
}
