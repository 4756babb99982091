/**
 * The socket driver: trace records sent as collector messages (SEQPACKET, one datum each, or
 * length-prefixed STREAM) give exactly the file driver's JSON; reconnects, queued collectors, bad and
 * oversize messages, back-pressure, socket-file safety and shutdown. Clients: our addon, Node's net,
 * and Python's socket module as an independent peer.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { AvroWriter, encodeSysFlow } from '../helpers/avro-writer.js';
import { Tap } from '../../core/avro/tap.js';
import { SfType, type Process, type SysFlowRecord } from '../../core/sysflow/types.js';
import type { Logger } from '../../core/log.js';
import { socketDriver, socketOptions } from '../../core/drivers/socket.js';
import { PacketClient, unixpacket, isAddonError } from '../../core/drivers/socket-native.js';
import { socketDecoder } from '../../core/drivers/socket-schemas.js';
import { FIXTURES, SHARED } from '../helpers/corpus.js';
import { prng } from '../helpers/prng.js';
import { CLI, ProcessorRun, childEnv, connectionClosed, encodeForLayout, isEntity, pipelineConfig, streamSend, traceMessages } from '../helpers/socket-harness.js';

const TMP = mkdtempSync(join(tmpdir(), 'sfp-sock-'));
after(async () => {
  ProcessorRun.killAll();
  rmSync(TMP, { recursive: true, force: true });
});
const BUNDLED = join(FIXTURES, 'traces');
const SHARED_TRACES = join(SHARED, 'traces');
const HAVE_SHARED = existsSync(SHARED_TRACES);

/** Traces whose header version has a layout (5, 4, 3, 2, 1000), bundled with the repository. */
const BUNDLED_TRACES = [
  'sf-processor/k8s_small.sf', // v4, pods and k8s events
  'sf-processor/shellshock.sf', // v4
  'sf-processor/httpd.sf', // v2
  'sf-processor/tcp.sf', // v1000
  'sf-collector/setuid/setuid.sf', // v5
  'sf-collector/files/files.sf',
  'sf-collector/rename/rename.sf',
  'sf-collector/alpine/alpine.sf',
  'sf-collector/mpm-event/full_capture.sf',
  'sf-apis/data/files/files.sf', // v1000, 6 container types
  'sf-apis/data/mpm-preforked/mpm-preforked.sf',
].map((t) => join(BUNDLED, t));
/** More from the shared corpus when it is there. */
const SHARED_EXTRA = [
  'sf-processor/1621959914', // v3
  'sf-processor/mon.1531776682.sf', // v1000, 20k records
  'sf-collector/namespaces/setns.sf',
  'sf-collector/objectstore/download.sf',
  'sf-collector/client-server/tcp-client-server.sf',
  'sf-apis/data/namespaces/setns.sf',
].map((t) => join(SHARED_TRACES, t));
/**
 * Not sent: their header version has no single layout (1001) or they use pre-public layouts under
 * version 1000 (7/8/4 branches), which no collector ever sent over a socket.
 */
const NOT_SENDABLE = ['sf-collector/nginx/nginx.sf (1001)', 'sf-collector/nodejs/* (legacy L8)', 'sf-apis/data/objectstore/data/play/* (legacy L4/L7)'];

const SHELLSHOCK = join(BUNDLED, 'sf-processor/shellshock.sf');
const SETUID = join(BUNDLED, 'sf-collector/setuid/setuid.sf');
const K8S = join(BUNDLED, 'sf-processor/k8s_small.sf');
const MPM = join(BUNDLED, 'sf-collector/mpm-event/full_capture.sf');

let seq = 0;
function workdir(name: string): string {
  const d = join(TMP, `${++seq}-${name}`);
  mkdirSync(d, { recursive: true });
  return d;
}

function writeConfig(dir: string, out: string, driver?: Record<string, string>): string {
  const f = join(dir, `pipeline-${basename(out)}.json`);
  writeFileSync(f, JSON.stringify(pipelineConfig(out, driver)));
  return f;
}

/** The file driver's JSON for these traces, read in this order. */
function fileDriverJson(traces: string[]): string {
  const dir = workdir('expected');
  const inputs = join(dir, 'in');
  mkdirSync(inputs);
  traces.forEach((t, i) => symlinkSync(t, join(inputs, `${String(i).padStart(3, '0')}-${basename(t)}`)));
  const out = join(dir, 'expected.json');
  const r = spawnSync(process.execPath, [CLI, '-config', writeConfig(dir, out), '-log', 'warn', inputs], { env: childEnv(), encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out, 'utf8');
}

function lines(text: string): string[] {
  const l = text.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

/** Equal outputs; on a difference, name the first differing line instead of dumping megabytes. */
function assertSameJson(got: string, want: string, what: string): void {
  if (got === want) return;
  const g = lines(got);
  const w = lines(want);
  const i = g.findIndex((l, k) => l !== w[k]);
  const at = i < 0 ? Math.min(g.length, w.length) : i;
  assert.fail(`${what}: output differs from the file driver's at line ${at + 1} (got ${g.length} lines, want ${w.length})\n got: ${g[at]?.slice(0, 400)}\nwant: ${w[at]?.slice(0, 400)}`);
}

/** Start `sfprocessor -driver socket` on a fresh socket path; resolves once it listens. */
async function startSocketRun(name: string, driver?: Record<string, string>, opts: { umask?: string; sockPath?: string } = {}) {
  const dir = workdir(name);
  const out = join(dir, 'out.json');
  const sock = opts.sockPath ?? join(dir, 'run', 'sysflow.sock');
  const run = ProcessorRun.start(['-config', writeConfig(dir, out, driver), '-driver', 'socket', '-log', 'info', sock], { umask: opts.umask });
  await run.waitFor(/listening on /);
  return { run, sock, out, dir };
}

async function sendPackets(sock: string, messages: readonly Buffer[]): Promise<void> {
  const c = await PacketClient.connect(sock, { timeoutMs: 10_000 });
  try {
    await c.sendAll(messages);
  } finally {
    c.close();
  }
}

async function stopClean(run: ProcessorRun): Promise<void> {
  const exit = await run.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, run.stderr);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(what: string, pred: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await sleep(5);
  }
}

test(`seqpacket: every trace gives the file driver's JSON (${HAVE_SHARED ? `bundled traces plus ${SHARED_EXTRA.length} from ${SHARED_TRACES}` : `bundled traces only; SKIPPED the shared-corpus traces: ${SHARED_TRACES} not found`})`, async (t) => {
  const traces = [...BUNDLED_TRACES, ...(HAVE_SHARED ? SHARED_EXTRA.filter((p) => existsSync(p)) : [])];
  if (!HAVE_SHARED) console.log(`socket driver: SKIPPED ${SHARED_EXTRA.length} shared-corpus traces (${SHARED_TRACES} not found)`);
  t.diagnostic(`not sent (no collector layout): ${NOT_SENDABLE.join(', ')}`);
  const want = fileDriverJson(traces);
  assert.ok(lines(want).length > 5_000);
  const { run, sock, out } = await startSocketRun('equivalence');
  const versions = new Set<number>();
  for (const [i, trace] of traces.entries()) {
    const tm = traceMessages(trace);
    tm.versions.forEach((v) => versions.add(v));
    await sendPackets(sock, tm.messages);
    const c = await connectionClosed(run, i + 1);
    assert.deepEqual(c, { reason: 'end of stream', messages: tm.messages.length, records: tm.messages.length, bad: 0, oversize: 0 }, trace);
  }
  const v3 = traces.some((p) => basename(p) === '1621959914');
  assert.deepEqual(
    [...versions].sort((a, b) => a - b),
    v3 ? [2, 3, 4, 5, 1000] : [2, 4, 5, 1000],
    'layouts exercised',
  );
  await stopClean(run);
  assertSameJson(readFileSync(out, 'utf8'), want, `${traces.length} traces`);
  assert.ok(!existsSync(sock), 'socket file removed at exit');
  assert.match(run.stderr, new RegExp(`socket driver: ${traces.length} connections, `));
});

test('reconnect mid-stream: the second collector sends a header and re-sends entities; nothing lost or duplicated', async () => {
  const tm = traceMessages(MPM);
  const n = tm.records.length;
  let k = n >> 1;
  while (tm.records[k]!.sfType === SfType.H || isEntity(tm.records[k]!)) k++;
  const header = tm.messages[0]!;
  assert.equal(tm.records[0]!.sfType, SfType.H);
  // As sf-collector after a reconnect: a fresh header, then the entities again before their events.
  const resent = tm.records.slice(1, k).flatMap((r, i) => (isEntity(r) ? [tm.messages[i + 1]!] : []));
  assert.ok(resent.length > 10);
  const second = [header, ...resent, ...tm.messages.slice(k)];
  const want = fileDriverJson([MPM]);
  const { run, sock, out } = await startSocketRun('reconnect');
  await sendPackets(sock, tm.messages.slice(0, k));
  assert.deepEqual(await connectionClosed(run, 1), { reason: 'end of stream', messages: k, records: k, bad: 0, oversize: 0 });
  await sendPackets(sock, second);
  assert.deepEqual(await connectionClosed(run, 2), { reason: 'end of stream', messages: second.length, records: second.length, bad: 0, oversize: 0 });
  await stopClean(run);
  assertSameJson(readFileSync(out, 'utf8'), want, 'reconnect');
});

/** Random bytes that our decoder cannot read as one whole datum. */
function garbage(rand: () => number): Buffer {
  const decode = socketDecoder(4)!.decode;
  for (;;) {
    const b = Buffer.alloc(1 + Math.floor(rand() * 120));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
    const t = new Tap(b);
    try {
      decode(t);
      if (t.pos !== b.length) return b;
    } catch {
      return b;
    }
  }
}

test('bad and oversize messages are counted, logged with their index and dropped; good records all arrive; the connection stays up', async () => {
  const tm = traceMessages(SHELLSHOCK);
  const rand = prng(20261123);
  const max = 4096;
  const event = tm.messages.findIndex((_, i) => !isEntity(tm.records[i]!) && tm.records[i]!.sfType !== SfType.H);
  const sample = tm.messages[event]!;
  const bad: { kind: string; msg: Buffer; oversize?: true }[] = [
    { kind: 'random', msg: garbage(rand) },
    { kind: 'truncated', msg: sample.subarray(0, sample.length - 3) },
    { kind: 'trailing', msg: Buffer.concat([sample, Buffer.from([0, 1, 2])]) },
    { kind: 'random', msg: garbage(rand) },
    { kind: 'oversize', msg: Buffer.alloc(max + 1, 0x41), oversize: true },
    { kind: 'empty', msg: Buffer.alloc(0) },
    { kind: 'union index 24', msg: Buffer.from([0x30, 0, 0]) },
    { kind: 'oversize', msg: Buffer.alloc(3 * max, 0x02), oversize: true },
  ];
  const messages: Buffer[] = [];
  const badIndex: number[] = [];
  tm.messages.forEach((m, i) => {
    messages.push(m);
    if (i % 10 === 5 && bad.length > badIndex.length) {
      messages.push(bad[badIndex.length]!.msg);
      badIndex.push(messages.length); // 1-based index of the bad message
    }
  });
  assert.equal(badIndex.length, bad.length);
  const want = fileDriverJson([SHELLSHOCK]);
  const { run, sock, out } = await startSocketRun('garbage', { maxsize: String(max) });
  await sendPackets(sock, messages);
  const c = await connectionClosed(run, 1);
  const nOversize = bad.filter((b) => b.oversize).length;
  assert.deepEqual(c, { reason: 'end of stream', messages: messages.length, records: tm.messages.length, bad: bad.length - nOversize, oversize: nOversize });
  bad.forEach((b, i) => {
    const re = b.oversize
      ? new RegExp(`connection #1, message ${badIndex[i]}: oversize message of ${b.msg.length} bytes \\(max ${max}\\), dropped`)
      : new RegExp(`connection #1, message ${badIndex[i]}: bad message \\(${b.msg.length} bytes[^)]*\\), dropped: `);
    assert.match(run.stderr, re, b.kind);
  });
  assert.doesNotMatch(run.stderr, /accepted collector connection #2/);
  await stopClean(run);
  assertSameJson(readFileSync(out, 'utf8'), want, 'garbage interleaved');
});

test("messages beyond upstream's 16 KiB are accepted; beyond the default maximum (1 MiB) they are counted as oversize", async (t) => {
  const tm = traceMessages(SETUID);
  const pi = tm.records.findIndex((r) => r.sfType === SfType.P);
  const big: Process = { ...(tm.records[pi] as Process), exeArgs: 'A'.repeat(100_000) };
  const w = new AvroWriter();
  const bigMsg = encodeForLayout(w, big, 5);
  assert.ok(bigMsg.length > 100_000);
  const { run, sock, out } = await startSocketRun('large');
  const client = await PacketClient.connect(sock, { sndbuf: 4 << 20, timeoutMs: 10_000 });
  const messages = [...tm.messages.slice(0, pi), bigMsg, ...tm.messages.slice(pi + 1)];
  await client.sendAll(messages.slice(0, pi + 1));
  let oversizeSent = false;
  try {
    await client.send(Buffer.alloc((1 << 20) + 1, 7));
    oversizeSent = true;
  } catch (e) {
    if (!isAddonError(e, 'EMSGSIZE')) throw e;
    t.diagnostic('SKIPPED the 1 MiB + 1 message: the kernel caps the send buffer (net.core.wmem_max) below it');
  }
  await client.sendAll(messages.slice(pi + 1));
  client.close();
  assert.deepEqual(await connectionClosed(run, 1), { reason: 'end of stream', messages: messages.length + (oversizeSent ? 1 : 0), records: messages.length, bad: 0, oversize: oversizeSent ? 1 : 0 });
  await stopClean(run);
  const text = readFileSync(out, 'utf8');
  assert.ok(text.includes(`"${'A'.repeat(100_000)}"`), 'the 100 KB argument string reached the output');
});

test('two collectors at once: the second waits in the backlog until the first disconnects, then is served', async () => {
  const x = traceMessages(SHELLSHOCK);
  const y = traceMessages(SETUID);
  const want = fileDriverJson([SHELLSHOCK, SETUID]);
  const { run, sock, out } = await startSocketRun('two-clients');
  const a = await PacketClient.connect(sock, { timeoutMs: 10_000 });
  const half = x.messages.length >> 1;
  await a.sendAll(x.messages.slice(0, half));
  await run.waitFor(/accepted collector connection #1\b/);
  const b = await PacketClient.connect(sock, { timeoutMs: 10_000 });
  await b.sendAll(y.messages); // queued in the kernel: the connection is not accepted yet
  await sleep(300);
  assert.doesNotMatch(run.stderr, /accepted collector connection #2/, 'the second collector is not served while the first is connected');
  await a.sendAll(x.messages.slice(half));
  a.close();
  assert.equal((await connectionClosed(run, 1)).records, x.messages.length);
  await run.waitFor(/accepted collector connection #2\b/);
  b.close();
  assert.deepEqual(await connectionClosed(run, 2), { reason: 'end of stream', messages: y.messages.length, records: y.messages.length, bad: 0, oversize: 0 });
  await stopClean(run);
  assertSameJson(readFileSync(out, 'utf8'), want, 'two clients');
});

test('stream mode: length-prefixed datums give the same JSON; an oversize length closes only that connection; a cut-off frame is counted', async () => {
  const k8s = traceMessages(K8S);
  const shell = traceMessages(SHELLSHOCK);
  const want = fileDriverJson([K8S, SHELLSHOCK]);
  const { run, sock, out } = await startSocketRun('stream', { type: 'stream' });
  assert.match(run.stderr, /listening on .* \(stream, mode 0600, max message 1048576 bytes\)/);
  await streamSend(sock, k8s.messages);
  assert.deepEqual(await connectionClosed(run, 1), { reason: 'end of stream', messages: k8s.messages.length, records: k8s.messages.length, bad: 0, oversize: 0 });
  // A header, then a length over the maximum: the rest of the stream cannot be framed, so it is dropped.
  const huge = Buffer.alloc(4);
  huge.writeUInt32BE(0x7fffffff);
  await streamSend(sock, [shell.messages[0]!], { raw: Buffer.concat([huge, Buffer.alloc(1000, 1), ...shell.messages.slice(1)]) });
  const c2 = await connectionClosed(run, 2);
  assert.deepEqual(c2, { reason: 'oversize length prefix; the stream cannot be resynchronised', messages: 2, records: 1, bad: 0, oversize: 1 });
  assert.match(run.stderr, /connection #2, message 2: oversize message of 2147483647 bytes \(max 1048576\), dropped/);
  await streamSend(sock, shell.messages);
  assert.equal((await connectionClosed(run, 3)).records, shell.messages.length);
  // A frame cut off by the end of the stream.
  const partial = Buffer.alloc(14);
  partial.writeUInt32BE(100);
  await streamSend(sock, [shell.messages[0]!], { raw: partial });
  assert.deepEqual(await connectionClosed(run, 4), { reason: 'end of stream', messages: 2, records: 1, bad: 1, oversize: 0 });
  assert.match(run.stderr, /connection #4, message 2: stream ended inside a message \(14 bytes received\), dropped/);
  await stopClean(run);
  assertSameJson(readFileSync(out, 'utf8'), want, 'stream mode');
});

test('python3 as an independent SOCK_SEQPACKET client gives the same JSON; a descriptor it passes (SCM_RIGHTS) is not kept', async (t) => {
  const py = spawnSync('python3', ['-c', 'import socket; print(socket.SOCK_SEQPACKET)'], { encoding: 'utf8' });
  if (py.status !== 0) {
    t.skip('python3 not available');
    return;
  }
  const tm = traceMessages(K8S);
  const want = fileDriverJson([K8S]);
  const { run, sock, out, dir } = await startSocketRun('python');
  const framed = join(dir, 'messages.bin');
  writeFileSync(framed, Buffer.concat(tm.messages.flatMap((m) => [Buffer.from([m.length >>> 24, (m.length >>> 16) & 255, (m.length >>> 8) & 255, m.length & 255]), m])));
  const script = [
    'import socket, struct, sys',
    'data = open(sys.argv[2], "rb").read()',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)',
    's.connect(sys.argv[1])',
    'passed = open(sys.argv[3], "rb")',
    'pos = n = 0',
    'while pos < len(data):',
    '    (size,) = struct.unpack(">I", data[pos:pos + 4])',
    '    if n == 0:',
    '        socket.send_fds(s, [data[pos + 4:pos + 4 + size]], [passed.fileno()])',
    '    else:',
    '        s.send(data[pos + 4:pos + 4 + size])',
    '    pos += 4 + size',
    '    n += 1',
    's.close()',
    'print(n)',
  ].join('\n');
  const passed = join(dir, 'passed-descriptor.txt');
  writeFileSync(passed, 'a file whose descriptor the client passes along with its first message');
  const r = spawnSync('python3', ['-c', script, sock, framed, passed], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Number(r.stdout.trim()), tm.messages.length);
  assert.deepEqual(await connectionClosed(run, 1), { reason: 'end of stream', messages: tm.messages.length, records: tm.messages.length, bad: 0, oversize: 0 });
  const fdDir = `/proc/${run.child.pid}/fd`;
  const open = readdirSync(fdDir).map((fd) => {
    try {
      return readlinkSync(join(fdDir, fd));
    } catch {
      return '';
    }
  });
  assert.ok(open.length > 3 && !open.includes(passed), `the server holds no descriptor of ${passed}`);
  await stopClean(run);
  assertSameJson(readFileSync(out, 'utf8'), want, 'python client');
});

test('SIGTERM while a collector is connected: the run ends cleanly, output is a complete prefix, the socket file is removed', async () => {
  const tm = traceMessages(K8S);
  const want = lines(fileDriverJson([K8S]));
  const { run, sock, out } = await startSocketRun('sigterm');
  const c = await PacketClient.connect(sock, { timeoutMs: 10_000 });
  await c.sendAll(tm.messages.slice(0, 3000));
  await run.waitFor(/accepted collector connection #1\b/);
  await sleep(200);
  const exit = await run.stop('SIGTERM', 10_000);
  assert.deepEqual(exit, { code: 0, signal: null }, run.stderr);
  c.close();
  const c1 = await connectionClosed(run, 1);
  assert.equal(c1.reason, 'shutdown');
  assert.ok(c1.records > 0 && c1.records <= 3000);
  const got = lines(readFileSync(out, 'utf8'));
  assert.ok(got.length > 0);
  assert.deepEqual(got, want.slice(0, got.length), 'complete lines, in order, a prefix of the full output');
  assert.ok(!existsSync(sock), 'socket file removed');
});

test('the summary of a socket run gives the rate over the time it was busy, not over the idle wall time', async () => {
  const tm = traceMessages(K8S);
  const { run, sock } = await startSocketRun('rate');
  await sendPackets(sock, tm.messages);
  await connectionClosed(run, 1);
  await sleep(3000); // idle: the collector is gone and the socket driver waits for the next one
  await stopClean(run);
  // before: "processed 24 records in 18.07 s (1 records/s)"
  const m = /processed (\d+) records in ([\d.]+) s \((\d+) records\/s over ([\d.]+) s active; idle the rest, waiting for input\)/.exec(run.stderr);
  assert.ok(m, run.stderr);
  const [records, wall, rps, active] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  assert.equal(records, tm.messages.length, 'every datum (the header too) is a record');
  assert.ok(wall >= 3 && active < wall / 2, `active ${active} s of ${wall} s`);
  // active is printed to 0.01 s
  assert.ok(rps >= records / (active + 0.005) - 1 && rps <= records / Math.max(active - 0.005, 1e-3) + 1, `rate ${rps} is records over active time`);
  assert.ok(rps > (records / wall) * 2, 'higher than the wall-time rate');
});

test('socket file: stale socket replaced, live socket refused, regular file and directory refused, modes', async (t) => {
  const u = unixpacket();
  await t.test('a stale socket file is replaced; mode 0600 by default even with umask 000; removed at exit', async () => {
    const dir = workdir('stale');
    const path = join(dir, 'sysflow.sock');
    u.close(u.listen(path, 'seqpacket', 1, 0o644)); // closed without unlink: stale
    assert.ok(statSync(path).isSocket());
    const { run } = await startSocketRun('stale-run', undefined, { sockPath: path, umask: '000' });
    assert.match(run.stderr, /removed stale socket file /);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(u.probe(path, 'seqpacket'), true);
    await stopClean(run);
    assert.ok(!existsSync(path));
  });
  await t.test('a configured mode is honoured whatever the umask', async () => {
    const { run, sock } = await startSocketRun('mode', { mode: '0660' }, { umask: '077' });
    assert.equal(statSync(sock).mode & 0o777, 0o660);
    await stopClean(run);
  });
  await t.test('a socket someone listens on (of either type) is refused with one line, and left alone', async () => {
    for (const type of ['seqpacket', 'stream'] as const) {
      const dir = workdir(`live-${type}`);
      const path = join(dir, 'sysflow.sock');
      const fd = u.listen(path, type, 4, 0o600);
      try {
        const run = ProcessorRun.start(['-config', writeConfig(dir, join(dir, 'out.json')), '-driver', 'socket', '-log', 'info', path]);
        const exit = await run.exited;
        assert.equal(exit.code, 1);
        const errors = lines(run.stderr).filter((l) => /error/.test(l));
        assert.deepEqual(errors, [`sfprocessor: error: ${path}: already in use (another process is listening on this socket)`]);
        assert.equal(u.probe(path, type), true, 'the other listener still works');
      } finally {
        u.close(fd);
      }
    }
  });
  await t.test('a regular file or a directory at the path is refused, not deleted; -test checks without creating', async () => {
    const dir = workdir('notsock');
    const file = join(dir, 'file.sock');
    writeFileSync(file, 'precious');
    const sub = join(dir, 'dir.sock');
    mkdirSync(join(sub, 'inner'), { recursive: true });
    const cfg = writeConfig(dir, join(dir, 'out.json'));
    for (const [path, kind] of [
      [file, 'a regular file'],
      [sub, 'a directory'],
    ] as const) {
      for (const extra of [[], ['-test']]) {
        const r = spawnSync(process.execPath, [CLI, ...extra, '-config', cfg, '-driver', 'socket', path], { env: childEnv(), encoding: 'utf8' });
        assert.equal(r.status, 1, r.stderr);
        assert.equal(r.stderr, `sfprocessor: error: ${path}: exists and is ${kind}, not a socket; refusing to replace it (remove it or choose another path)\n`);
      }
    }
    assert.equal(readFileSync(file, 'utf8'), 'precious');
    assert.ok(statSync(join(sub, 'inner')).isDirectory());
    const fresh = join(dir, 'new', 'deeper', 'sysflow.sock');
    const r = spawnSync(process.execPath, [CLI, '-test', '-config', cfg, '-driver', 'socket', fresh], { env: childEnv(), encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!existsSync(join(dir, 'new')), '-test creates nothing');
    const bad = spawnSync(process.execPath, [CLI, '-test', '-config', writeConfig(dir, join(dir, 'o2.json'), { type: 'dgram' }), '-driver', 'socket', fresh], { env: childEnv(), encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr, "sfprocessor: error: socket driver: attribute 'type': must be one of seqpacket, stream, got 'dgram'\n");
  });
});

test('socketOptions: defaults, octal modes, limits and unknown attributes', () => {
  assert.deepEqual(socketOptions('/run/x.sock', {}), { path: '/run/x.sock', type: 'seqpacket', mode: 0o600, maxSize: 1 << 20, backlog: 16 });
  assert.deepEqual(socketOptions('/run/x.sock', { driver: 'socket', path: '/tmp/y.sock', type: 'STREAM', mode: '660', maxsize: '65536', backlog: '2' }), {
    path: '/tmp/y.sock',
    type: 'stream',
    mode: 0o660,
    maxSize: 65536,
    backlog: 2,
  });
  assert.equal(socketOptions('/x', { mode: '0o640' }).mode, 0o640);
  assert.throws(() => socketOptions('/x', { mode: '0999' }), /attribute 'mode'/);
  assert.throws(() => socketOptions('/x', { mode: '4755' }), /attribute 'mode'/);
  assert.throws(() => socketOptions('/x', { maxsize: '1e6' }), /attribute 'maxsize'/);
  assert.throws(() => socketOptions('/x', { maxsize: String(128 << 20) }), /attribute 'maxsize': must be a whole number from 16 to 67108864/);
  assert.throws(() => socketOptions('/x', { pathh: '/y' }), /unknown attribute 'pathh'/);
  assert.throws(() => socketOptions(undefined, {}), /no socket path/);
  assert.throws(() => socketOptions(`/tmp/${'x'.repeat(120)}`, {}), /limited to 107 bytes/);
});

// ---- in-process: the driver with a controllable pipeline ----

function captureLogger(): { log: Logger; lines: string[] } {
  const out: string[] = [];
  const log = pino({ level: 'debug', base: undefined, timestamp: false }, { write: (s: string) => void out.push(String((JSON.parse(s) as { msg: string }).msg)) });
  return { log, lines: out };
}

interface InProcess {
  records: SysFlowRecord[];
  pushes: number[];
  lines: string[];
  abort: AbortController;
  done: Promise<void>;
}

function runInProcess(path: string, push: (batch: SysFlowRecord[], self: InProcess) => Promise<void>, attrs: Record<string, string> = {}): InProcess {
  const { log, lines: logged } = captureLogger();
  const abort = new AbortController();
  const self: InProcess = { records: [], pushes: [], lines: logged, abort, done: Promise.resolve() };
  self.done = socketDriver.run(path, {
    log,
    attrs,
    signal: abort.signal,
    progress: { filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesRead: 0 },
    push: (batch) => {
      self.pushes.push(batch.length);
      self.records.push(...batch);
      return push(batch, self);
    },
  });
  return self;
}

test('back-pressure: while push() is pending nothing more is read and the collector blocks; records arrive in batches, in order', async (t) => {
  const tm = traceMessages(K8S);
  const path = join(workdir('backpressure'), 'bp.sock');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const p = runInProcess(path, () => gate);
  t.after(() => p.abort.abort());
  await until('socket file', () => existsSync(path));
  const client = await PacketClient.connect(path, { timeoutMs: 10_000 });
  let sent = false;
  const sending = client.sendAll(tm.messages).then(() => (sent = true));
  await until('first push', () => p.pushes.length > 0);
  await sleep(300);
  assert.equal(p.pushes.length, 1, 'no further push while the first is pending');
  assert.equal(sent, false, 'the collector is blocked by the full socket buffer');
  release();
  await sending;
  client.close();
  await until('all records', () => p.records.length === tm.records.length);
  assert.ok(p.pushes.length * 5 < tm.records.length, `batched: ${p.pushes.length} pushes for ${tm.records.length} records`);
  assert.deepEqual(p.records, tm.records);
  await until('connection closed', () => p.lines.some((l) => l.startsWith('collector connection #1 closed (end of stream)')));
  p.abort.abort();
  await p.done;
  assert.ok(!existsSync(path));
  assert.ok(p.lines.includes(`socket driver: 1 connections, ${tm.records.length} messages, ${tm.records.length} records, 0 bad, 0 oversize`), p.lines.join('\n'));
});

test('layouts follow the header version: v5 before any header, v4 and v1000 after theirs; an unknown version is a bad message that changes nothing', async (t) => {
  const trace = traceMessages(SETUID);
  const header = trace.records[0] as Extract<SysFlowRecord, { sfType: 0 }>;
  const proc = trace.records.find((r) => r.sfType === SfType.P) as Process;
  const old: Process = { ...proc, cwd: undefined, env: undefined, entry: undefined } as unknown as Process;
  const w = new AvroWriter();
  const v5 = (r: SysFlowRecord) => {
    w.reset();
    encodeSysFlow(w, r);
    return Buffer.from(w.bytes());
  };
  const messages = [
    v5(proc), // before any header: v5
    encodeForLayout(w, { ...header, version: 4, filename: header.filename }, 4),
    encodeForLayout(w, { ...old, entry: false }, 4),
    v5(proc), // v5 bytes under a v4 header: cwd and env are left over → bad
    encodeForLayout(w, { ...header, version: 1000, ip: undefined, filename: undefined } as SysFlowRecord, 1000),
    encodeForLayout(w, old, 1000),
    v5({ ...header, version: 99 }), // unknown: dropped, the layout stays v1000
    v5(proc), // so v5 bytes are read as v1000 and left over → bad
    v5({ ...header, version: 3743377987 }), // a forged version number
    encodeForLayout(w, old, 1000),
  ];
  const path = join(workdir('layouts'), 'l.sock');
  const p = runInProcess(path, () => Promise.resolve());
  t.after(() => p.abort.abort());
  await until('socket file', () => existsSync(path));
  await sendPackets(path, messages);
  await until('connection closed', () => p.lines.some((l) => l.startsWith('collector connection #1 closed')));
  p.abort.abort();
  await p.done;
  assert.deepEqual(
    p.records.map((r) => [r.sfType, r.sfType === SfType.H ? r.version : (r as Process).cwd]),
    [
      [SfType.P, proc.cwd],
      [SfType.H, 4],
      [SfType.P, undefined],
      [SfType.H, 1000],
      [SfType.P, undefined],
      [SfType.P, undefined],
    ],
  );
  assert.equal((p.records[4] as Process).entry, undefined, 'v1000 Process has no entry');
  assert.equal((p.records[2] as Process).entry, false);
  // v5 bytes read with the v4 layout: the datum ends before cwd and env, which are left over.
  const v4Length = encodeForLayout(w, { ...proc, cwd: undefined, env: undefined } as unknown as Process, 4).length;
  const extra = messages[3]!.length - v4Length;
  assert.ok(p.lines.includes(`connection #1, message 4: bad message (${messages[3]!.length} bytes at byte ${v4Length}), dropped: ${extra} bytes left over after the datum`), p.lines.join('\n'));
  const unknown = (i: number, v: number) =>
    `connection #1, message ${i}: bad message (${messages[i - 1]!.length} bytes at byte 0), dropped: SFHeader version ${v} has no known layout (known: 5, 4, 3, 2, 1000); the connection keeps v1000`;
  assert.ok(p.lines.includes(unknown(7, 99)), p.lines.join('\n'));
  assert.ok(p.lines.includes(unknown(9, 3743377987)), p.lines.join('\n'));
  assert.ok(
    p.lines.some((l) => l.startsWith('connection #1, message 8: bad message') && l.endsWith('bytes left over after the datum')),
    p.lines.join('\n'),
  );
  assert.ok(
    p.lines.some((l) => /10 messages, 6 records, 4 bad, 0 oversize/.test(l)),
    p.lines.join('\n'),
  );
});

test('a pipeline failure ends the run with that error; the connection is closed and the socket file removed', async (t) => {
  const tm = traceMessages(SHELLSHOCK);
  const path = join(workdir('pipeline-failure'), 'f.sock');
  const p = runInProcess(path, () => Promise.reject(new Error('plugin #2 (exporter): disk full')));
  t.after(() => p.abort.abort());
  await until('socket file', () => existsSync(path));
  const client = await PacketClient.connect(path, { timeoutMs: 10_000 });
  const sending = client.sendAll(tm.messages).catch((e: Error) => e);
  await assert.rejects(p.done, /disk full/);
  assert.equal(p.pushes.length, 1, 'nothing is pushed after the failure');
  assert.ok(!existsSync(path), 'socket file removed');
  assert.ok(
    p.lines.some((l) => /^collector connection #1 closed \(pipeline failed\): \d+ messages/.test(l)),
    p.lines.join('\n'),
  );
  await sending;
  client.close();
});
