/**
 * The contract every network transport keeps, run against each one and a real or faithful server:
 * syslog (rsyslogd over TCP), es (the in-test Elasticsearch endpoint: no server can run here) and
 * the webhook example plugin (an in-test HTTP server). Each transport is made from the registry the
 * way the exporter makes it, and fed numbered messages:
 * - order: what arrives, taken at each message's first arrival, is in the order sent;
 * - at least once: across a server outage every message arrives, none is counted as lost;
 * - drain at close: close() resolves once everything was handed to the server;
 * - back-pressure: while the server is away, ready() holds the producer at queue.size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { builtinRegistry } from '../../core/plugins/builtin.js';
import { loadPlugins } from '../../core/plugins/loader.js';
import { createLogger } from '../../core/log.js';
import { isMessageTransport, type Message, type MessageTransport } from '../../core/export/types.js';
import { rsyslogAvailable, startRsyslog } from '../helpers/rsyslog.js';
import { startEsEndpoint } from '../helpers/es-endpoint.js';
import { examplePlugdir, removeTemp } from '../helpers/plugin-cli.js';

const log = createLogger('test', 'silent');

/** A server a transport delivers to. */
interface Server {
  /** The exporter entry's attributes that point the transport at it. */
  readonly attrs: Record<string, string>;
  /** Numbers of the messages received so far, in arrival order (a resent one appears again). */
  received(): number[];
  /** Refuse connections (and drop open ones) until up(). */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

interface Subject {
  readonly transport: string;
  /** Why it cannot run here, or null. */
  readonly skip: () => string | null;
  readonly plugdir?: () => string;
  start(): Promise<Server>;
}

const numberOf = (body: string): number => (JSON.parse(body) as { n: number }).n;

/** An HTTP endpoint for the webhook plugin: records the bodies of answered requests, with outages on one port. */
async function startHttpSink(): Promise<Server> {
  const got: number[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server: HttpServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      for (const r of JSON.parse(Buffer.concat(chunks).toString('utf8')) as { n: number }[]) got.push(r.n);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  return {
    attrs: { 'webhook.url': `http://127.0.0.1:${port}/hook`, 'webhook.batch': '50', 'webhook.timeout': '2' },
    received: () => got,
    down: stop,
    up: () => listen(port),
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}

const SUBJECTS: Subject[] = [
  {
    transport: 'syslog',
    skip: () => rsyslogAvailable({ udp: false, tls: false }),
    async start() {
      const r = await startRsyslog({ udp: false, tls: false });
      return {
        attrs: { 'syslog.proto': 'tcp', 'syslog.host': '127.0.0.1', 'syslog.port': String(r.tcpPort) },
        received: () => r.messages().map((m) => numberOf(m.msg)),
        down: () => r.stop(),
        up: () => r.start(),
        close: () => r.close(),
      };
    },
  },
  {
    transport: 'es',
    skip: () => null,
    async start() {
      const es = await startEsEndpoint({ refreshIntervalMs: 0 });
      return {
        // one bulk request at a time: concurrent requests may land in any order
        attrs: { 'es.addresses': es.url, 'es.index': 'contract', 'es.bulk.numWorkers': '1', 'es.bulk.flushTimeout': '20ms' },
        received: () =>
          es
            .bulkRequests()
            .filter((r) => r.status === 200)
            .flatMap((r) =>
              r.body
                .split('\n')
                .filter((l, i) => l !== '' && i % 2 === 1)
                .map(numberOf),
            ),
        down: () => es.setDown(true),
        up: () => es.setDown(false),
        close: () => es.close(),
      };
    },
  },
  {
    transport: 'webhook',
    skip: () => null,
    plugdir: () => examplePlugdir('webhook'),
    start: startHttpSink,
  },
];

/** Fast retries so outages are short; counters only at exit. */
const DELIVERY = { 'retry.max': '200ms', 'drain.timeout': '30s', 'stats.interval': '0' };

test.after(removeTemp);

async function open(subject: Subject, server: Server, extra: Record<string, string> = {}): Promise<{ t: MessageTransport; cleanup: () => void }> {
  const registry = builtinRegistry();
  const dir = subject.plugdir?.();
  if (dir) await loadPlugins(registry, { plugdir: dir }, log);
  const factory = registry.transports.get(subject.transport);
  assert.ok(factory, `transport ${subject.transport} is registered`);
  const t = await factory.create({ export: subject.transport, ...DELIVERY, ...server.attrs, ...extra }, log);
  assert.ok(isMessageTransport(t), `${subject.transport} takes messages`);
  return { t, cleanup: () => {} };
}

const PAD = 'x'.repeat(120);
const message = (n: number): Message => ({ body: Buffer.from(JSON.stringify({ n, pad: PAD })), priority: 0, ts: Date.now(), id: `contract-${n}` });

/** Send messages [from, to), honouring ready() as the exporter does. */
async function feed(t: MessageTransport, from: number, to: number): Promise<void> {
  for (let n = from; n < to; n++) {
    const wait = t.ready();
    if (wait) await wait;
    t.send(message(n));
  }
}

async function until(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The numbers received, each at its first arrival. */
const firstArrivals = (got: readonly number[]) => [...new Set(got)];
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

for (const subject of SUBJECTS) {
  const skip = subject.skip();
  const name = (s: string) => `${subject.transport}: ${s}`;

  test(name('every message arrives once, in the order sent; close() drains the queue'), { skip: skip ?? false, timeout: 60_000 }, async () => {
    const server = await subject.start();
    const { t, cleanup } = await open(subject, server);
    try {
      await feed(t, 0, 3000);
      await t.close();
      assert.equal(t.undelivered?.() ?? 0, 0, 'nothing undelivered');
      // syslog cannot confirm receipt: rsyslogd writes what it read a moment later
      await until('every message at the server', () => server.received().length >= 3000);
      assert.deepEqual(server.received(), range(3000));
    } finally {
      await server.close();
      cleanup();
    }
  });

  test(name('across a server outage every message arrives at least once, first arrivals in order'), { skip: skip ?? false, timeout: 60_000 }, async () => {
    const server = await subject.start();
    const { t, cleanup } = await open(subject, server);
    try {
      await feed(t, 0, 1000);
      await until('the first messages at the server', () => server.received().length > 0);
      await server.down();
      await feed(t, 1000, 2000);
      await new Promise((r) => setTimeout(r, 400));
      await server.up();
      await feed(t, 2000, 3000);
      await t.close();
      assert.equal(t.undelivered?.() ?? 0, 0, 'nothing undelivered');
      await until('every message at the server', () => new Set(server.received()).size >= 3000);
      assert.deepEqual(firstArrivals(server.received()), range(3000));
    } finally {
      await server.close();
      cleanup();
    }
  });

  test(name('while the server is away, ready() holds the producer at queue.size; it goes on when the server is back'), { skip: skip ?? false, timeout: 60_000 }, async () => {
    const server = await subject.start();
    await server.down();
    const { t, cleanup } = await open(subject, server, { 'queue.size': '100' });
    try {
      let accepted = 0;
      while (t.ready() === null && accepted < 10_000) t.send(message(accepted++));
      assert.ok(accepted >= 100 && accepted <= 101, `held back after ${accepted} messages (queue.size 100)`);
      let resumed = false;
      const wait = t.ready()!.then(() => {
        resumed = true;
      });
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(resumed, false, 'still held back while the server is away');
      await server.up();
      await wait;
      await feed(t, accepted, 1000);
      await t.close();
      assert.equal(t.undelivered?.() ?? 0, 0, 'nothing undelivered');
      await until('every message at the server', () => new Set(server.received()).size >= 1000);
      assert.deepEqual(firstArrivals(server.received()), range(1000));
    } finally {
      await server.close();
      cleanup();
    }
  });
}
