/**
 * Capture on request (core/capture/): a real redis-server on a loopback port, real packets on `lo`,
 * libpcap through the addon, pcap files read back by tcpdump. Each control stops a capture where it
 * should (packets exactly; bytes as pcapdaemon counts them, the pcap file's size; duration and idle
 * timeout within 200 ms), the operator's maxima lower what requests ask, bad requests are counted
 * and logged and never stop the service, identical requests share one capture, the concurrency
 * bound refuses the excess, and the service keeps serving across a Redis restart. Capturing needs
 * root and the addon (libpcap-dev); tcpdump and redis-server come from Debian. Without them the
 * tests are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { capture, pcap } from '../../core/capture/pcap.js';
import { subscribeRedis } from '../../core/capture/redis.js';
import { type CaptureLimits, DEFAULT_LIMITS } from '../../core/capture/request.js';
import { s3Uploader } from '../../core/capture/s3.js';
import { type CaptureRecord, CaptureService, type Uploader } from '../../core/capture/service.js';
import { createLogger } from '../../core/log.js';
import { REDIS_SERVER, startRedis } from '../helpers/redis.js';
import { ROOT } from '../helpers/corpus.js';

function why(): string | false {
  try {
    pcap();
  } catch (e) {
    return (e as Error).message;
  }
  if (process.getuid?.() !== 0) return 'capturing packets needs root';
  if (!REDIS_SERVER) return 'redis-server is not installed (apt-get install redis-server)';
  if (spawnSync('sh', ['-c', 'command -v tcpdump']).status !== 0) return 'tcpdump is not installed (apt-get install tcpdump)';
  return false;
}
const skip = why();
if (skip) console.log(`# capture tests skipped: ${skip}`);

/** Packets in a pcap file, by tcpdump (an independent reader). */
function tcpdumpCount(file: string): number {
  const p = spawnSync('tcpdump', ['-n', '-r', file], { encoding: 'utf8' });
  assert.equal(p.status, 0, `tcpdump -r ${file}: ${p.stderr}`);
  return p.stdout.split('\n').filter(Boolean).length;
}

/** UDP datagrams of `size` bytes to 127.0.0.1:port, one every `everyMs`, until stop() (or n sent). */
function sender(port: number, size: number, everyMs: number, n = Number.POSITIVE_INFINITY): { stop(): void; sent(): number; done: Promise<void> } {
  const s = createSocket('udp4');
  let sent = 0;
  let end!: () => void;
  const done = new Promise<void>((r) => (end = r));
  const t = setInterval(() => {
    if (sent >= n) return stop();
    s.send(Buffer.alloc(size, 0x61), port, '127.0.0.1');
    sent++;
  }, everyMs);
  const stop = () => {
    clearInterval(t);
    s.close();
    end();
  };
  return { stop, sent: () => sent, done };
}

/** Resolves once a capture in dir is live (libpcap opened its output file). */
async function live(dir: string, n = 1): Promise<void> {
  const until = Date.now() + 5000;
  while (readdirSync(dir).filter((f) => f.endsWith('.pcap.part')).length < n) {
    if (Date.now() > until) throw new Error(`no capture became live in ${dir}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let portSeq = 40_000 + (process.pid % 10_000);
const nextPort = () => portSeq++;

interface Rig {
  dir: string;
  service: CaptureService;
  lines: string[];
}

function rig(limits: Partial<CaptureLimits> = {}, opts: { concurrency?: number; queue?: number; upload?: Uploader } = {}): Rig {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-capture-'));
  const lines: string[] = [];
  const log = createLogger('test', 'silent');
  // the lines the service logs, kept to check them
  for (const lvl of ['info', 'warn', 'error', 'debug'] as const) {
    const orig = log[lvl].bind(log);
    (log as unknown as Record<string, unknown>)[lvl] = (m: string) => {
      lines.push(`${lvl}: ${m}`);
      orig(m);
    };
  }
  const addon = pcap();
  const service = new CaptureService({
    node: 'node-a',
    dir,
    devices: new Set(addon.devices().map((d) => d.name)),
    aliases: new Map([['local', ['lo']]]),
    limits: { ...DEFAULT_LIMITS, ...limits },
    checkFilter: (b) => addon.checkFilter(b, 1, 65535),
    concurrency: opts.concurrency ?? 4,
    queue: opts.queue ?? 16,
    capture,
    ...(opts.upload ? { upload: opts.upload } : {}),
    log,
  });
  return { dir, service, lines };
}

const req = (o: Record<string, unknown>) => JSON.stringify({ node: 'any', interface: ['lo'], ...o });

test('packets: the capture stops at exactly that many, and tcpdump reads them back; logrequest and packetdebug log', { skip }, async () => {
  const r = rig();
  const port = nextPort();
  const done = r.service.submit(req({ bpf: `udp dst port ${port}`, packets: 25, alertid: 7, logrequest: true, packetdebug: true }));
  await live(r.dir);
  const s = sender(port, 100, 2);
  const [rec] = (await done) as CaptureRecord[];
  s.stop();
  assert.ok(rec);
  assert.equal(rec.stopped, 'packets');
  assert.equal(rec.packets, 25);
  assert.ok(s.sent() > 25, `${s.sent()} sent`);
  const file = join(r.dir, rec.file);
  assert.equal(tcpdumpCount(file), 25);
  assert.equal(statSync(file).size, rec.bytes);
  assert.match(rec.file, /^node-a-7-lo-\d{8}T\d{6}\.\d{3}Z\.pcap$/);
  const side = JSON.parse(readFileSync(file.replace(/\.pcap$/, '.json'), 'utf8')) as CaptureRecord;
  assert.deepEqual(side, rec);
  assert.equal(side.requests[0]!.alertid, 7);
  assert.deepEqual(readdirSync(r.dir).sort(), [rec.file.replace(/\.pcap$/, '.json'), rec.file].sort(), 'no .part left');
  // logrequest and packetdebug: the request, then a line per packet
  assert.ok(r.lines.some((l) => l.startsWith('info: capture request (alertid 7): {"node":"any"')));
  const pkts = r.lines.filter((l) => /^info: capture .*: packet \d+ at \d{4}-\d\d-\d\dT.*Z, 142 of 142 bytes$/.test(l));
  assert.equal(pkts.length, 25);
  rmSync(r.dir, { recursive: true, force: true });
});

test('bytes: the capture stops at the packet that brings the pcap file to that size', { skip }, async () => {
  const r = rig();
  const port = nextPort();
  // a 100-byte datagram on lo is 142 bytes on the wire, 158 in the file with its record header
  const done = r.service.submit(req({ bpf: `udp dst port ${port}`, bytes: 2000, snap: 1500 }));
  await live(r.dir);
  const s = sender(port, 100, 2);
  const [rec] = (await done) as CaptureRecord[];
  s.stop();
  assert.equal(rec!.stopped, 'bytes');
  const size = statSync(join(r.dir, rec!.file)).size;
  assert.equal(size, rec!.bytes);
  assert.ok(size >= 2000 && size - 158 < 2000, `file of ${size} bytes`);
  assert.equal(rec!.packets, (size - 24) / 158);
  assert.equal(tcpdumpCount(join(r.dir, rec!.file)), rec!.packets);
  rmSync(r.dir, { recursive: true, force: true });
});

test('duration and idle timeout end the capture on time (within 200 ms)', { skip }, async () => {
  const r = rig();
  const p1 = nextPort();
  const p2 = nextPort();
  const dur = r.service.submit(req({ bpf: `udp dst port ${p1}`, duration: 1, alertid: 1 }));
  const idle = r.service.submit(req({ bpf: `udp dst port ${p2}`, timeout: 1, alertid: 2 }));
  await live(r.dir, 2);
  const steady = sender(p1, 50, 10);
  const burst = sender(p2, 50, 5, 10);
  const [d] = (await dur) as CaptureRecord[];
  steady.stop();
  const [t] = (await idle) as CaptureRecord[];
  await burst.done;
  assert.equal(d!.stopped, 'duration');
  const took = Date.parse(d!.ended) - Date.parse(d!.started);
  assert.ok(took >= 1000 && took < 1200, `duration capture took ${took} ms`);
  assert.ok(d!.packets > 50, `${d!.packets} packets in the duration capture`);
  assert.equal(t!.stopped, 'timeout');
  assert.equal(t!.packets, 10);
  const idleFor = Date.parse(t!.ended) - Date.parse(t!.lastPacket!);
  assert.ok(idleFor >= 1000 && idleFor < 1200, `ended ${idleFor} ms after the last packet`);
  rmSync(r.dir, { recursive: true, force: true });
});

test("the operator's maxima lower what a request asks, and the sidecar says what was asked", { skip }, async () => {
  const r = rig({ maxpackets: 10, maxsnap: 64, maxtimeout: 2 });
  const port = nextPort();
  const done = r.service.submit(req({ bpf: `udp dst port ${port}`, packets: 1000, snap: 1500, timeout: 99 }));
  await live(r.dir);
  const s = sender(port, 200, 2);
  const [rec] = (await done) as CaptureRecord[];
  s.stop();
  assert.equal(rec!.packets, 10);
  assert.deepEqual(rec!.clamped, { packets: 1000, snap: 1500, timeout: 99 });
  assert.deepEqual(rec!.controls, { packets: 10, bytes: DEFAULT_LIMITS.maxbytes, timeout: 2, duration: DEFAULT_LIMITS.duration });
  const file = readFileSync(join(r.dir, rec!.file));
  assert.equal(file.readUInt32LE(16), 64, 'the file header carries the lowered snap length');
  // every record holds at most 64 bytes of its 242-byte packet
  assert.equal(file.length, 24 + 10 * (16 + 64));
  rmSync(r.dir, { recursive: true, force: true });
});

test('bad requests are refused with one line naming the alertid, counted, and the service goes on', { skip }, async () => {
  const r = rig();
  const bad: [string, RegExp][] = [
    ['{"node": "any", "interface": ["lo"]', /not JSON: .* at line 1, column 36/],
    [req({ nodere: 'node-.*', alertid: 11 }), /alertid 11\): both node and nodere/],
    [JSON.stringify({ interface: ['lo'], alertid: 12 }), /alertid 12\): neither node nor nodere/],
    [req({ alias: ['local'], alertid: 13 }), /alertid 13\): both interface and alias/],
    [req({ interface: ['nosuch0'], alertid: 14 }), /alertid 14\): interface: no interface 'nosuch0' here/],
    [JSON.stringify({ node: 'any', alias: ['dmz'], alertid: 15 }), /alertid 15\): alias: no alias 'dmz' here \(known: local\)/],
    [req({ packets: -5, alertid: 16 }), /alertid 16\): packets: expected an integer ≥ 0, got -5/],
    [req({ duration: 1.5, alertid: 17 }), /alertid 17\): duration: expected an integer ≥ 0, got 1.5/],
    [req({ bytes: '100', alertid: 18 }), /alertid 18\): bytes: expected an integer ≥ 0, got "100"/],
    [req({ bpf: 'tcp prt 80', alertid: 19 }), /alertid 19\): bpf: 'tcp prt 80' does not compile: .*syntax error/],
    [JSON.stringify({ node: 'any' }), /neither interface nor alias/],
    ['[1, 2]', /expected a JSON object/],
  ];
  for (const [m] of bad) assert.deepEqual(await r.service.submit(m), []);
  assert.equal(r.service.counters.invalid, bad.length);
  const warned = r.lines.filter((l) => l.startsWith('warn: capture request refused'));
  assert.equal(warned.length, bad.length);
  for (const [i, [, re]] of bad.entries()) assert.match(warned[i]!, re);
  for (const l of warned) assert.ok(!l.includes('\n'), 'one line each');
  // not ours: counted apart, not an error
  assert.deepEqual(await r.service.submit(JSON.stringify({ node: 'node-b', interface: ['lo'] })), []);
  assert.deepEqual(await r.service.submit(JSON.stringify({ nodere: '^web-', interface: ['lo'] })), []);
  assert.equal(r.service.counters.otherNode, 2);
  // and a good one is still served
  const port = nextPort();
  const done = r.service.submit(JSON.stringify({ nodere: '^node-[a-c]$', alias: ['local'], bpf: `udp dst port ${port}`, packets: 3 }));
  await live(r.dir);
  const s = sender(port, 10, 5);
  const [rec] = (await done) as CaptureRecord[];
  s.stop();
  assert.equal(rec!.packets, 3);
  assert.equal(rec!.alias, 'local');
  assert.equal(r.service.counters.completed, 1);
  rmSync(r.dir, { recursive: true, force: true });
});

test('identical requests share one capture; beyond the concurrency bound and queue, requests are refused', { skip }, async () => {
  const r = rig({}, { concurrency: 1, queue: 0 });
  const port = nextPort();
  const a = r.service.submit(req({ bpf: `udp dst port ${port}`, packets: 5, alertid: 21 }));
  const b = r.service.submit(req({ bpf: `udp dst port ${port}`, packets: 5, alertid: 22, tags: 'second' }));
  const c = r.service.submit(req({ bpf: `udp dst port ${port + 1}`, packets: 5, alertid: 23 }));
  assert.deepEqual(await c, [null], 'the third (different) request finds no free slot');
  await live(r.dir);
  const s = sender(port, 10, 5);
  const [ra] = (await a) as CaptureRecord[];
  const [rb] = (await b) as CaptureRecord[];
  s.stop();
  assert.equal(ra, rb, 'one capture serves both');
  assert.deepEqual(
    ra!.requests.map((m) => m.alertid),
    [21, 22],
  );
  assert.equal(r.service.counters.merged, 1);
  assert.equal(r.service.counters.busy, 1);
  assert.equal(r.service.counters.started, 1);
  assert.equal(readdirSync(r.dir).filter((f) => f.endsWith('.pcap')).length, 1);
  rmSync(r.dir, { recursive: true, force: true });
});

test('requests over Redis pub/sub, also after the Redis server restarted', { skip }, async () => {
  const redis = await startRedis();
  const r = rig();
  const got: Promise<(CaptureRecord | null)[]>[] = [];
  const source = subscribeRedis({ host: '127.0.0.1', port: redis.port, channel: 'capture' }, (m) => got.push(r.service.submit(m)), createLogger('test', 'silent'));
  try {
    await source.ready;
    const port = nextPort();
    assert.equal(await redis.publish('capture', req({ bpf: `udp dst port ${port}`, packets: 4, alertid: 31 })), 1);
    await redis.publish('capture', 'not json at all');
    await live(r.dir);
    const s = sender(port, 10, 5);
    while (got.length < 2) await new Promise((res) => setTimeout(res, 10));
    const [first] = await got[0]!;
    s.stop();
    assert.equal(first!.packets, 4);
    assert.deepEqual(await got[1]!, []);
    assert.equal(r.service.counters.invalid, 1);

    await redis.kill();
    await new Promise((res) => setTimeout(res, 300));
    await redis.restart();
    // the client reconnects and subscribes again on its own
    const until = Date.now() + 10_000;
    while ((await redis.subscribers('capture')) < 1) {
      assert.ok(Date.now() < until, 'subscribed again within 10 s');
      await new Promise((res) => setTimeout(res, 100));
    }
    const port2 = nextPort();
    assert.equal(await redis.publish('capture', req({ bpf: `udp dst port ${port2}`, packets: 2, alertid: 32 })), 1);
    while (got.length < 3) await new Promise((res) => setTimeout(res, 10));
    await live(r.dir);
    const s2 = sender(port2, 10, 5);
    const [second] = await got[2]!;
    s2.stop();
    assert.equal(second!.alertid, 32);
    assert.equal(second!.packets, 2);
  } finally {
    await source.close();
    await r.service.close();
    await redis.stop();
    rmSync(r.dir, { recursive: true, force: true });
  }
});

test('sfprocessor capture -request serves one request from a file; a bad one exits 1 with one line', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-capture-cli-'));
  const cfg = join(dir, 'capture.json');
  writeFileSync(cfg, JSON.stringify({ node: 'cli-node', localdir: join(dir, 'out'), interface: [{ name: 'lo', alias: ['local'] }], maxpackets: 3 }));
  const port = nextPort();
  const good = join(dir, 'good.json');
  writeFileSync(good, JSON.stringify({ node: 'cli-node', alias: ['local'], bpf: `udp dst port ${port}`, packets: 50, alertid: 41 }));
  const cli = join(ROOT, 'dist/core/cli/sfprocessor.js');
  const s = sender(port, 10, 5);
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [cli, 'capture', '-config', cfg, '-request', good], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((res) => child.on('exit', res));
  s.stop();
  assert.equal(code, 0, err);
  const out = readdirSync(join(dir, 'out'));
  assert.equal(out.filter((f) => /^cli-node-41-lo-.*\.pcap$/.test(f)).length, 1, out.join(' '));
  assert.equal(tcpdumpCount(join(dir, 'out', out.find((f) => f.endsWith('.pcap'))!)), 3);
  assert.match(err, /1 requests, 1 captures written/);

  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ node: 'cli-node', interface: ['lo'], snap: -1, alertid: 42 }));
  const p = spawnSync(process.execPath, [cli, 'capture', '-config', cfg, '-request', bad], { encoding: 'utf8' });
  assert.equal(p.status, 1);
  assert.match(p.stderr, /capture request refused \(alertid 42\): snap: expected an integer ≥ 0, got -1/);
  const c2 = spawnSync(process.execPath, [cli, 'capture', '-config', join(dir, 'nosuch.json')], { encoding: 'utf8' });
  assert.equal(c2.status, 1);
  assert.equal(c2.stderr.trim().split('\n').length, 1, c2.stderr);
  assert.match(c2.stderr, /nosuch\.json: cannot read: ENOENT/);
  writeFileSync(cfg, JSON.stringify({ localdir: join(dir, 'out'), maxpacket: 3 }));
  const c3 = spawnSync(process.execPath, [cli, 'capture', '-config', cfg, '-request', good], { encoding: 'utf8' });
  assert.equal(c3.status, 1);
  assert.match(c3.stderr, /capture\.json: .*maxpacket.*maxpackets/);
  assert.ok(existsSync(join(dir, 'out')));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * An in-test S3 endpoint (no S3 server runs here): it takes path-style PUTs, checks that each is
 * signed (SigV4) with the configured access key and that the signed payload hash is the body's,
 * and keeps what it got; `fail` makes it answer 500.
 */
async function s3Endpoint(opts: { fail?: boolean } = {}) {
  const puts: { path: string; headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const problems: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method !== 'PUT') problems.push(`${req.method} ${req.url}`);
      const auth = String(req.headers.authorization ?? '');
      if (!/^AWS4-HMAC-SHA256 Credential=AKIDCAPTURE\/\d{8}\/eu-test-1\/s3\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.test(auth)) problems.push(`authorization: ${auth}`);
      const sha = req.headers['x-amz-content-sha256'];
      if (sha !== 'UNSIGNED-PAYLOAD' && sha !== createHash('sha256').update(body).digest('hex')) problems.push(`payload hash ${sha} is not the body's`);
      puts.push({ path: decodeURIComponent(req.url!.split('?')[0]!), headers: req.headers, body });
      if (opts.fail) {
        res.writeHead(500, { 'content-type': 'application/xml' });
        res.end('<Error><Code>InternalError</Code><Message>test</Message></Error>');
        return;
      }
      res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, puts, problems, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test("uploads: each capture's pcap and sidecar are PUT, signed, under the request's bucket and folder with its acl; a failed upload keeps the files and says so", { skip }, async () => {
  const ep = await s3Endpoint();
  const s3 = { endpoint: ep.url, region: 'eu-test-1', bucket: 'default-bucket', folder: 'pcaps', accessId: 'AKIDCAPTURE', accessKey: 'secret', encryption: false, requestEndpoint: false };
  const r = rig({}, { upload: s3Uploader(s3, 'node-a') });
  try {
    const port = nextPort();
    const done = r.service.submit(
      req({ bpf: `udp dst port ${port}`, packets: 3, alertid: 51, bucket: 'forensics', folder: 'site-1/', acl: 'private', encryption: true, endpoint: 'https://elsewhere.example' }),
    );
    await live(r.dir);
    const s = sender(port, 10, 5);
    const [rec] = (await done) as CaptureRecord[];
    s.stop();
    assert.deepEqual(ep.problems, []);
    assert.deepEqual(
      ep.puts.map((p) => p.path),
      [`/forensics/site-1/${rec!.file}`, `/forensics/site-1/${rec!.file.replace(/\.pcap$/, '.json')}`],
      'path-style PUTs to the configured endpoint (a request may not pick another)',
    );
    const [pcapPut, sidePut] = ep.puts;
    assert.deepEqual(pcapPut!.body, readFileSync(join(r.dir, rec!.file)));
    assert.equal(pcapPut!.headers['x-amz-acl'], 'private');
    assert.equal(pcapPut!.headers['x-amz-server-side-encryption'], 'AES256');
    assert.equal(pcapPut!.headers['x-amz-meta-alertid'], '51');
    assert.equal(pcapPut!.headers['x-amz-meta-node'], 'node-a');
    assert.equal(JSON.parse(sidePut!.body.toString()).file, rec!.file);
    assert.deepEqual(rec!.upload, { location: `s3://forensics/site-1/${rec!.file}` });
    assert.equal(r.service.counters.uploaded, 1);
  } finally {
    await ep.close();
    rmSync(r.dir, { recursive: true, force: true });
  }

  const bad = await s3Endpoint({ fail: true });
  const r2 = rig({}, { upload: s3Uploader({ ...s3, endpoint: bad.url }, 'node-a') });
  try {
    const port = nextPort();
    const done = r2.service.submit(req({ bpf: `udp dst port ${port}`, packets: 2, alertid: 52 }));
    await live(r2.dir);
    const s = sender(port, 10, 5);
    const [rec] = (await done) as CaptureRecord[];
    s.stop();
    assert.ok(bad.puts.length >= 1 && bad.puts.every((p) => p.path === `/default-bucket/pcaps/${rec!.file}`), 'retried, then given up');
    assert.match(rec!.upload!.error!, /InternalError|500|test/);
    assert.equal(r2.service.counters.uploadFailed, 1);
    assert.ok(existsSync(join(r2.dir, rec!.file)));
    assert.equal((JSON.parse(readFileSync(join(r2.dir, rec!.file.replace(/\.pcap$/, '.json')), 'utf8')) as CaptureRecord).upload!.error, rec!.upload!.error);
    assert.ok(r2.lines.some((l) => /^warn: capture .*: upload failed, the files stay in /.test(l)));
  } finally {
    await bad.close();
    rmSync(r2.dir, { recursive: true, force: true });
  }
});
