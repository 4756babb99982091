/**
 * The delivery queue of network exporters (core/export/delivery.ts, core/export/spool.ts) against
 * scripted links: order, retries, backpressure, the disk spool across outages and restarts, the
 * resend window of links without receipts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Delivery, noFailures, type DeliveryCounters, type Link, type SendResult } from '../../core/export/delivery.js';
import { Spool } from '../../core/export/spool.js';
import type { Message } from '../../core/export/types.js';
import { createLogger } from '../../core/log.js';

const log = createLogger('test', 'silent');
const msg = (i: number): Message => ({ body: Buffer.from(`{"n":${i}}`), priority: i % 5, ts: 1_700_000_000_000 + i, ...(i % 2 ? { id: `id-${i}` } : {}) });
const pick = ({ in: i, sent, spooled, failed, queued, earlier }: DeliveryCounters) => ({ in: i, sent, spooled, failed, queued, earlier });
const num = (m: Message) => (JSON.parse(m.body.toString()) as { n: number }).n;
const until = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

/** A target that records what it accepted; scripted failures. */
class Target {
  got: Message[] = [];
  up = true;
  sends = 0;
  failEvery = 0;
  connects = 0;
  connect = async (): Promise<Link> => {
    this.connects++;
    if (!this.up) throw new Error('connection refused');
    return {
      send: async (batch: readonly Message[]): Promise<SendResult> => {
        this.sends++;
        if (!this.up || (this.failEvery && this.sends % this.failEvery === 0)) throw new Error('connection reset');
        this.got.push(...batch);
        return noFailures;
      },
      close: async () => {},
    };
  };
}

test('in order, exactly once through a link that fails every third send', async () => {
  const t = new Target();
  t.failEvery = 3;
  const d = new Delivery({ name: 't', connect: t.connect, log, batchSize: 7, backoffMs: { initial: 1, max: 5 }, statsIntervalMs: 0 });
  for (let i = 0; i < 500; i++) d.push(msg(i));
  await d.close();
  assert.deepEqual(
    t.got.map(num),
    Array.from({ length: 500 }, (_, i) => i),
  );
  assert.equal(d.stats.sent, 500);
  assert.ok(d.stats.retried > 0 && d.stats.reconnects > 0, JSON.stringify(d.stats));
});

test('a full queue holds the producer back (ready) and releases it when the target drains', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const got: Message[] = [];
  const d = new Delivery({
    name: 't',
    log,
    queueLimit: 100,
    batchSize: 10,
    statsIntervalMs: 0,
    connect: async () => ({
      send: async (b) => {
        await gate;
        got.push(...b);
        return noFailures;
      },
      close: async () => {},
    }),
  });
  let n = 0;
  while (d.ready() === null && n < 1000) {
    d.push(msg(n++));
    await new Promise((r) => setImmediate(r));
  }
  assert.ok(n > 100 && n <= 110, `full at 100 queued plus the batch in flight (${n})`);
  const r = d.ready()!;
  let released = false;
  void r.then(() => (released = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(released, false);
  release();
  await until(() => released);
  await d.close();
  assert.equal(got.length, n);
});

test('an outage longer than memory holds goes to the disk spool, then everything arrives in order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-spool-'));
  try {
    const t = new Target();
    t.up = false;
    const d = new Delivery({ name: 't', connect: t.connect, log, queueLimit: 1000, batchSize: 200, backoffMs: { initial: 5, max: 20 }, spool: new Spool(dir, 64 << 20), statsIntervalMs: 0 });
    for (let i = 0; i < 25_000; i++) {
      d.push(msg(i));
      assert.equal(d.ready(), null, 'the spool has room: no backpressure');
    }
    assert.ok(d.stats.queued <= 1000, `memory bounded: ${d.stats.queued} queued`);
    assert.ok(d.stats.spooled >= 24_000, `${d.stats.spooled} spooled`);
    assert.ok(readdirSync(dir).length > 0);
    t.up = true;
    await d.close();
    assert.deepEqual(
      t.got.map(num),
      Array.from({ length: 25_000 }, (_, i) => i),
    );
    // spooled, read back and sent: counted once (spooled is what is on disk now)
    assert.deepEqual(pick(d.stats), { in: 25_000, sent: 25_000, spooled: 0, failed: 0, queued: 0, earlier: 0 });
    assert.deepEqual(
      t.got.slice(0, 3).map((m) => [m.priority, m.ts, m.id]),
      [
        [0, 1_700_000_000_000, undefined],
        [1, 1_700_000_000_001, 'id-1'],
        [2, 1_700_000_000_002, undefined],
      ],
    );
    assert.deepEqual(readdirSync(dir), [], 'spool emptied');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full spool slows the producer instead of dropping', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-spool-'));
  try {
    const t = new Target();
    t.up = false;
    const d = new Delivery({ name: 't', connect: t.connect, log, queueLimit: 10, spool: new Spool(dir, 300 << 10), backoffMs: { initial: 5, max: 10 }, statsIntervalMs: 0 });
    let i = 0;
    while (d.ready() === null && i < 100_000) d.push(msg(i++));
    assert.ok(i < 100_000, 'backpressure started');
    const pending = d.ready()!;
    t.up = true;
    await pending;
    await d.close();
    assert.equal(t.got.length, i);
    assert.equal(d.stats.failed, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unreachable at shutdown: the queue is spooled and the next run sends it first', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-spool-'));
  try {
    const down = new Target();
    down.up = false;
    const first = new Delivery({ name: 't', connect: down.connect, log, queueLimit: 50, drainTimeoutMs: 100, backoffMs: { initial: 5, max: 10 }, spool: new Spool(dir, 64 << 20), statsIntervalMs: 0 });
    for (let i = 0; i < 120; i++) first.push(msg(i));
    await first.close();
    assert.deepEqual(pick(first.stats), { in: 120, sent: 0, spooled: 120, failed: 0, queued: 0, earlier: 0 });

    const up = new Target();
    const second = new Delivery({ name: 't', connect: up.connect, log, spool: new Spool(dir, 64 << 20), statsIntervalMs: 0 });
    for (let i = 120; i < 130; i++) second.push(msg(i));
    await second.close();
    // the 50 that were in memory at shutdown are older than the spooled 70: they go first, and the
    // new run's messages queue behind the spool
    assert.deepEqual(
      up.got.map(num),
      Array.from({ length: 130 }, (_, i) => i),
    );
    assert.deepEqual(pick(second.stats), { in: 10, sent: 130, spooled: 0, failed: 0, queued: 0, earlier: 120 });
    assert.deepEqual(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('without a spool, what cannot be delivered at shutdown is counted as failed (not silently dropped)', async () => {
  const t = new Target();
  t.up = false;
  const d = new Delivery({ name: 't', connect: t.connect, log, drainTimeoutMs: 50, backoffMs: { initial: 5, max: 10 }, statsIntervalMs: 0 });
  for (let i = 0; i < 10; i++) d.push(msg(i));
  await d.close();
  assert.equal(d.stats.failed, 10);
});

test('per-item results: temporary refusals are retried, permanent ones counted as failed', async () => {
  const got: number[] = [];
  const seen = new Set<number>();
  const d = new Delivery({
    name: 't',
    log,
    batchSize: 50,
    backoffMs: { initial: 1, max: 2 },
    statsIntervalMs: 0,
    connect: async () => ({
      send: async (batch) => {
        const retry: Message[] = [];
        const failed: { m: Message; reason: string }[] = [];
        for (const m of batch) {
          const n = num(m);
          if (n % 10 === 3) failed.push({ m, reason: '400 mapper_parsing_exception' });
          else if (n % 7 === 0 && !seen.has(n)) {
            seen.add(n);
            retry.push(m);
          } else got.push(n);
        }
        return { retry, failed };
      },
      close: async () => {},
    }),
  });
  for (let i = 0; i < 200; i++) d.push(msg(i));
  await d.close();
  const want = Array.from({ length: 200 }, (_, i) => i).filter((n) => n % 10 !== 3);
  assert.deepEqual(
    [...got].sort((a, b) => a - b),
    want,
  );
  assert.equal(d.stats.failed, 20);
  assert.equal(d.stats.sent, want.length);
  assert.ok(d.stats.retried >= 25);
});

test('links without receipts: what was sent just before a break is sent again (at least once, counted)', async () => {
  const got: number[] = [];
  let link: Link | null = null;
  const d = new Delivery({
    name: 't',
    log,
    batchSize: 10,
    resendWindowMs: 60_000,
    backoffMs: { initial: 1, max: 2 },
    statsIntervalMs: 0,
    connect: async () =>
      (link = {
        send: async (b) => {
          got.push(...b.map(num));
          return noFailures;
        },
        close: async () => {},
      }),
  });
  for (let i = 0; i < 30; i++) d.push(msg(i));
  await until(() => got.length === 30);
  link!.onBreak!(new Error('the server closed the connection'));
  for (let i = 30; i < 40; i++) d.push(msg(i));
  await d.close();
  assert.equal(d.stats.resent, 30);
  assert.deepEqual(got, [...Array.from({ length: 30 }, (_, i) => i), ...Array.from({ length: 40 }, (_, i) => i)]);
});

/** A 1 MiB tmpfs (needs root and mount); null when it cannot be had, with the reason in `tmpfsWhy`. */
let tmpfsWhy = '';
function mountTmpfs(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    tmpfsWhy = `cannot mount a tmpfs (${(r.stderr || r.error?.message || '').trim() || `exit ${r.status}`})`;
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return dir;
}

test('a full filesystem under the spool behaves like a full spool: back-pressure, a warning, no torn record, every message counted', { timeout: 60_000 }, async (t) => {
  const dir = process.getuid?.() === 0 ? mountTmpfs() : null;
  if (dir === null) {
    t.skip(`SKIPPED: ${tmpfsWhy || 'needs root to mount a tmpfs'}`);
    return;
  }
  try {
    const lines: string[] = [];
    const capture = { warn: (s: string) => lines.push(s), error: (s: string) => lines.push(s), info: () => {}, debug: () => {} } as unknown as typeof log;
    const target = new Target();
    target.up = false;
    // the spool cap is far above the filesystem: the disk fills first
    const d = new Delivery({
      name: 't',
      connect: target.connect,
      log: capture,
      queueLimit: 20,
      drainTimeoutMs: 50,
      backoffMs: { initial: 5, max: 10 },
      spool: new Spool(dir, 1 << 30),
      statsIntervalMs: 0,
    });
    const big = (i: number): Message => ({ ...msg(i), body: Buffer.from(`{"n":${i},"pad":"${'x'.repeat(3000)}"}`) });
    let i = 0;
    while (d.ready() === null && i < 5000) d.push(big(i++));
    assert.ok(i < 5000, `back-pressure started (${i} pushed)`);
    assert.ok(
      lines.some((l) => l.includes(`spool directory ${dir} is full (ENOSPC: `) && /\d+ bytes free on the filesystem/.test(l)),
      lines.join('\n'),
    );
    await d.close(); // the target never comes back
    const s = d.stats;
    assert.equal(s.sent, 0);
    assert.equal(s.spooled + s.failed + s.queued, i, `every message counted once: ${JSON.stringify(s)}`);
    assert.ok(
      lines.some((l) => /target unreachable at shutdown; \d+ messages spooled .* not kept \(filesystem full: ENOSPC/.test(l)),
      lines.join('\n'),
    );
    // what is on disk is whole: read it back, no damaged tail
    const again = new Spool(dir, 1 << 30);
    let back = 0;
    for (let seg = again.shift(); seg.length; seg = again.shift()) {
      assert.equal(again.damage, null, 'no torn record');
      back += seg.length;
    }
    assert.equal(back, s.spooled);
  } finally {
    spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('queue.bytes bounds the memory queue by size, whichever limit comes first', async () => {
  const t = new Target();
  t.up = false;
  const d = new Delivery({ name: 't', connect: t.connect, log, queueLimit: 10_000, queueBytes: 64 << 10, backoffMs: { initial: 5, max: 10 }, statsIntervalMs: 0, drainTimeoutMs: 50 });
  const big = (i: number): Message => ({ ...msg(i), body: Buffer.alloc(4096, 0x61) });
  let i = 0;
  while (d.ready() === null && i < 10_000) d.push(big(i++));
  assert.equal(i, 16, '64 KiB of 4 KiB messages, far below queue.size');
  const pending = d.ready()!;
  t.up = true;
  await pending;
  await d.close();
  assert.equal(t.got.length, i);
});

test('a send that never returns at shutdown: its batch is counted as not delivered, and nothing is logged after the counters', async () => {
  const lines: string[] = [];
  const capture = { warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`), info: (m: string) => lines.push(`info ${m}`), debug() {} } as unknown as typeof log;
  let release: (() => void) | null = null;
  const hanging: Link = {
    send: () =>
      new Promise<SendResult>((_, reject) => {
        release = () => reject(new Error('There are no living connections'));
      }),
    close: async () => {},
  };
  const d = new Delivery({ name: 'es x', connect: async () => hanging, log: capture, drainTimeoutMs: 50, statsIntervalMs: 0 });
  for (let i = 0; i < 13; i++) d.push(msg(i));
  await until(() => release !== null);
  await d.close();
  assert.deepEqual(pick(d.stats), { in: 13, sent: 0, spooled: 0, failed: 13, queued: 0, earlier: 0 });
  assert.equal(d.undelivered, 13);
  const summary = lines.length;
  assert.match(lines[summary - 1]!, /^info es x: in=13 sent=0 .* failed=13/);
  assert.ok(
    lines.some((l) => /^error es x: target unreachable at shutdown; 13 messages not delivered/.test(l)),
    lines.join('\n'),
  );
  release!();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(lines.length, summary, `logged after the final counters: ${lines.slice(summary).join(' | ')}`);
});

test('an outage: each warning once, its repeats as a count; "connected again" only after a send went through', async () => {
  const lines: string[] = [];
  const capture = { warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m), info: (m: string) => lines.push(m), debug() {} } as unknown as typeof log;
  const t = new Target();
  t.up = false;
  // the link names itself as the queue does: said once
  const connect = async () => {
    try {
      return await t.connect();
    } catch {
      throw new Error('syslog tcp h:1: connect ECONNREFUSED');
    }
  };
  const d = new Delivery({ name: 'syslog tcp h:1', connect, log: capture, backoffMs: { initial: 2, max: 4 }, statsIntervalMs: 0 });
  d.push(msg(0));
  await until(() => t.connects >= 30);
  assert.deepEqual(lines, ['syslog tcp h:1: connect ECONNREFUSED; retrying with backoff (1 queued)']);
  t.up = true;
  await until(() => t.got.length === 1);
  await d.close();
  assert.match(lines[1]!, /^syslog tcp h:1: connect ECONNREFUSED; retrying with backoff \(1 queued\) \(repeated \d+ times in \d+ s\)$/);
  assert.equal(lines[2], 'syslog tcp h:1: connected again, delivering (0 queued)');
  assert.match(lines[3]!, /^syslog tcp h:1: in=1 sent=1 /);
  assert.equal(lines.length, 4, lines.join('\n'));
});
