/**
 * The syslog exporter against a real rsyslog (Debian package, started by test/helpers/rsyslog.ts on
 * 127.0.0.1 with random ports, writing what it receives to a file): TCP with both framings, UDP,
 * TLS verifying the server (and with a client certificate), a wrong CA, and a 30-second outage in
 * the middle of a long stream.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../helpers/corpus.js';
import { rsyslogAvailable, startRsyslog, type ReceivedMessage } from '../helpers/rsyslog.js';
import { SEVERITY } from '../../core/export/transports/syslog.js';

const CLI = join(ROOT, 'dist/core/cli/sfprocessor.js');
const TRACE = join(FIXTURES, 'traces/sf-collector/mpm-event/full_capture.sf');
const SMALL = join(FIXTURES, 'traces/sf-collector/files/files.sf');
const UNAVAILABLE = rsyslogAvailable({ tls: true, tlsClientAuth: true });
const skip = UNAVAILABLE ? `SKIPPED: rsyslog cannot run here: ${UNAVAILABLE}` : false;

/** Rules of every priority, so severities can be checked. */
const POLICY = `
- rule: exec
  desc: any exec
  condition: sf.type = PE and sf.opflags = EXEC
  output: exec %sf.proc.name
  priority: critical
  tags: [t_exec]
- rule: etc
  desc: files below /etc
  condition: sf.type = FF and sf.file.path startswith /etc
  output: etc %sf.file.path
  priority: low
- rule: net
  desc: network flows
  condition: sf.type = NF
  output: net
  priority: medium
- rule: fe
  desc: file events
  condition: sf.type = FE
  output: fe
  priority: high
`;

let dir = '';
let policies = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sfp-syslog-'));
  policies = join(dir, 'policy.yaml');
  writeFileSync(policies, POLICY);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stderr: string;
}

function runCli(input: string, engine: Record<string, string>, exporter: Record<string, string>, onStderr?: (s: string, p: ChildProcess) => void): Promise<Run> {
  const config = join(dir, `pipeline-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', ...engine },
        { processor: 'exporter', in: 'evt eventchan', format: 'json', 'stats.interval': '0', ...exporter },
      ],
    }),
  );
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, '-config', config, '-log', 'info', input], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, p);
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 240_000);
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

/** What must arrive: the JSON lines the file transport writes for the same pipeline. */
async function expected(input: string, engine: Record<string, string>): Promise<string[]> {
  const out = join(dir, `ref-${Math.random().toString(36).slice(2)}.json`);
  const r = await runCli(input, engine, { export: 'file', 'file.path': out });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

const ALERT = () => ({ mode: 'alert', policies });
const maxPriority = (line: string) => Math.max(0, ...((JSON.parse(line) as { policies?: { priority: number }[] }).policies ?? []).map((p) => p.priority));

function checkExactlyOnce(got: ReceivedMessage[], want: string[], proto: string): void {
  assert.equal(got.length, want.length, `${proto}: ${got.length} messages for ${want.length} alerts`);
  const byBody = new Map<string, number>();
  for (const w of want) byBody.set(w, (byBody.get(w) ?? 0) + 1);
  for (const m of got) {
    const left = byBody.get(m.msg);
    assert.ok(left, `${proto}: unexpected or repeated message body: ${m.msg.slice(0, 200)}`);
    byBody.set(m.msg, left - 1);
    assert.equal(m.severity, SEVERITY[maxPriority(m.msg)], `${proto}: severity from the rule priority`);
    assert.equal(m.facility, 3, 'daemon');
    assert.equal(m.hostname, 'sfp-test-host');
    assert.equal(m.appName, 'sfprocessor');
    assert.equal(m.msgid, 'sysflow-test', 'the tag in the MSGID position');
    assert.equal(m.protocolVersion, '1', 'RFC 5424');
    assert.equal(m.proto, proto.startsWith('tcp') ? 'tcp' : proto.startsWith('tls') ? 'tls' : 'udp');
  }
}

const COMMON = { export: 'syslog', 'syslog.host': '127.0.0.1', 'syslog.source': 'sfp-test-host', 'syslog.tag': 'sysflow-test' };

test('TCP (newline and octet-counting framing), UDP, TLS: every alert once, right tag, severity, host, body', { skip, timeout: 180_000 }, async () => {
  const rs = await startRsyslog({ tcp: true, udp: true, tls: true });
  try {
    const want = await expected(TRACE, ALERT());
    assert.ok(want.length > 100, `${want.length} alerts`);
    assert.deepEqual(new Set(want.map(maxPriority)), new Set([1, 2, 3, 4]));
    const cases: [string, Record<string, string>][] = [
      ['tcp', { 'syslog.proto': 'tcp', 'syslog.port': String(rs.tcpPort) }],
      ['tcp octet-counting', { 'syslog.proto': 'tcp', 'syslog.port': String(rs.tcpPort), 'syslog.framing': 'octet-counting' }],
      ['tls', { 'syslog.proto': 'tls', 'syslog.port': String(rs.tlsPort), 'syslog.tls.ca': rs.ca }],
    ];
    let seen = 0;
    for (const [name, attrs] of cases) {
      const r = await runCli(TRACE, ALERT(), { ...COMMON, ...attrs });
      assert.equal(r.status, 0, `${name}: ${r.stderr}`);
      const all = await rs.waitFor(seen + want.length, 20_000);
      checkExactlyOnce(all.slice(seen), want, name);
      seen = all.length;
    }
    // UDP is one datagram per message and may lose under load by design: a small trace
    const small = await expected(SMALL, ALERT());
    assert.ok(small.length > 0);
    const r = await runCli(SMALL, ALERT(), { ...COMMON, 'syslog.proto': 'udp', 'syslog.port': String(rs.udpPort) });
    assert.equal(r.status, 0, r.stderr);
    const all = await rs.waitFor(seen + small.length, 10_000);
    checkExactlyOnce(all.slice(seen), small, 'udp');
  } finally {
    await rs.close();
  }
});

test('TLS with a client certificate; a wrong CA is a clear error and nothing is sent', { skip, timeout: 120_000 }, async () => {
  const rs = await startRsyslog({ tcp: false, udp: false, tls: true, tlsClientAuth: true });
  try {
    const want = await expected(SMALL, ALERT());
    const tlsAttrs = { ...COMMON, 'syslog.proto': 'tls', 'syslog.port': String(rs.tlsPort), 'syslog.tls.ca': rs.ca };
    const ok = await runCli(SMALL, ALERT(), { ...tlsAttrs, 'syslog.tls.cert': rs.clientCert, 'syslog.tls.key': rs.clientKey });
    assert.equal(ok.status, 0, ok.stderr);
    checkExactlyOnce(await rs.waitFor(want.length, 10_000), want, 'tls');

    const wrong = await runCli(SMALL, ALERT(), { ...tlsAttrs, 'syslog.tls.ca': rs.wrongCa, 'syslog.tls.cert': rs.clientCert, 'syslog.tls.key': rs.clientKey });
    assert.notEqual(wrong.status, 0);
    const line = wrong.stderr.trim().split('\n').pop()!;
    assert.match(line, /syslog tls 127\.0\.0\.1:\d+: TLS certificate check failed: .*(self.signed|unable to|certificate)/i);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(rs.messages().length, want.length, 'nothing more arrived');
  } finally {
    await rs.close();
  }
});

test('rsyslog down for 30 s in the middle of a long stream: every record arrives, duplicates counted, memory bounded', { skip, timeout: 300_000 }, async () => {
  const rs = await startRsyslog({ tcp: true, udp: false, tls: false });
  try {
    // a long stream: the bundled trace 12 times (every record is a message in enrich mode)
    const many = join(dir, 'many');
    mkdirSync(many);
    for (let i = 0; i < 12; i++) symlinkSync(TRACE, join(many, `part-${String(i).padStart(2, '0')}.sf`));
    const want = await expected(many, { mode: 'enrich' });
    assert.ok(want.length > 50_000);

    let stopped = false;
    let downAt = 0;
    let outage: Promise<void> = Promise.resolve();
    const poll = setInterval(() => {
      if (!stopped && rs.count() >= 5_000) {
        stopped = true;
        outage = (async () => {
          await rs.stop();
          downAt = Date.now();
          await new Promise((r) => setTimeout(r, 30_000));
          await rs.start();
        })();
      }
    }, 50);
    const r = await runCli(many, { mode: 'enrich' }, { ...COMMON, 'syslog.proto': 'tcp', 'syslog.port': String(rs.tcpPort), 'queue.size': '2000', 'retry.max': '2s' });
    const endedAt = Date.now();
    clearInterval(poll);
    await outage;
    assert.equal(r.status, 0, r.stderr);
    assert.ok(stopped && downAt > 0 && endedAt - downAt >= 29_000, 'the stream ran on through the outage');
    const got = await rs.waitFor(want.length, 30_000);

    const need = new Map<string, number>();
    for (const w of want) need.set(w, (need.get(w) ?? 0) + 1);
    let missing = 0;
    for (const m of got) need.set(m.msg, (need.get(m.msg) ?? 0) - 1);
    for (const v of need.values()) if (v > 0) missing += v;
    const duplicates = got.length - (want.length - missing);
    const c = /sent=(\d+) retried=(\d+) resent=(\d+)/.exec(r.stderr);
    assert.ok(c, r.stderr);
    const resent = Number(c[3]);
    const why = /syslog tcp [^:]+:\d+: ([^;]+); retrying/.exec(r.stderr)?.[1] ?? '?';
    console.log(`# outage: ${want.length} records, ${got.length} received, ${missing} missing, ${duplicates} duplicates, ${resent} resent by the exporter (break seen as: ${why})`);
    assert.equal(missing, 0, 'every record arrives');
    assert.ok(duplicates <= resent, `duplicates (${duplicates}) only from counted resends (${resent})`);
    const rss = /peak RSS (\d+) MB/.exec(r.stderr);
    assert.ok(rss && Number(rss[1]) < 400, `memory bounded: ${rss?.[1]} MB`);
  } finally {
    await rs.close();
  }
});

test('UDP to a port nobody listens on: ICMP refusals are counted as failed, the queue waits, counts add up', { timeout: 120_000 }, async () => {
  // a free UDP port on loopback: bound and released, so the kernel answers with port unreachable
  const dgram = await import('node:dgram');
  const probe = dgram.createSocket('udp4');
  await new Promise<void>((res) => probe.bind(0, '127.0.0.1', () => res()));
  const port = probe.address().port;
  await new Promise<void>((res) => probe.close(() => res()));
  const want = await expected(SMALL, ALERT());
  assert.ok(want.length > 5);
  const counters = (stderr: string) => {
    const m = /sent=(\d+) retried=(\d+) resent=(\d+) queued=(\d+) spooled=(\d+)(?: \(on disk \d+ bytes\))? failed=(\d+)/.exec(stderr);
    assert.ok(m, stderr);
    return { sent: Number(m[1]), queued: Number(m[4]), spooled: Number(m[5]), failed: Number(m[6]) };
  };
  const base = { export: 'syslog', 'syslog.host': '127.0.0.1', 'syslog.port': String(port), 'syslog.proto': 'udp', 'drain.timeout': '2s' };
  const r = await runCli(SMALL, ALERT(), base);
  assert.equal(r.status, 3, `refused datagrams are undelivered: exit code 3: ${r.stderr}`);
  assert.match(r.stderr, /error: \d+ records? (was|were) neither delivered nor spooled \(see the exporter's counters above\); exit code 3\n[^\n]*processed \d+ records[^\n]*\n$/);
  assert.match(r.stderr, /refused 1 datagram \(ICMP port unreachable: nothing listens there\), counted as failed/);
  const c = counters(r.stderr);
  // before: sent=<every alert> failed=0 although nothing was received
  assert.ok(c.failed >= 1, r.stderr);
  assert.ok(c.sent <= 1, `at most the last datagram, whose refusal came after the end, is counted sent: ${r.stderr}`);
  assert.equal(c.sent + c.failed + c.queued + c.spooled, want.length, 'every alert is counted once');
  // with a spool, what waits is kept for the next run instead of being lost
  const spoolDir = join(dir, 'udp-spool');
  const r2 = await runCli(SMALL, ALERT(), { ...base, 'buffer.dir': spoolDir });
  assert.equal(r2.status, 3, r2.stderr);
  const c2 = counters(r2.stderr);
  assert.ok(c2.spooled > 0, r2.stderr);
  assert.equal(c2.sent + c2.failed + c2.queued + c2.spooled, want.length, r2.stderr);
});

test('SIGTERM while rsyslog is down: everything queued is spooled, the next run sends it first, the counts add up', { skip, timeout: 240_000 }, async () => {
  const rs = await startRsyslog({ tcp: true, udp: false, tls: false });
  try {
    await rs.stop();
    const many = join(dir, 'sigterm-input');
    mkdirSync(many);
    for (let i = 0; i < 4; i++) symlinkSync(TRACE, join(many, `part-${i}.sf`));
    const want = await expected(many, { mode: 'enrich' });
    const spoolDir = join(dir, 'sigterm-spool');
    const exporter = { ...COMMON, 'syslog.proto': 'tcp', 'syslog.port': String(rs.tcpPort), 'queue.size': '500', 'buffer.dir': spoolDir, 'buffer.maxsize': '3M', 'drain.timeout': '1s' };
    // the spool fills and holds the pipeline back; then SIGTERM
    let signalled = false;
    const r1 = await runCli(many, { mode: 'enrich' }, exporter, (stderr, p) => {
      if (!signalled && /retrying with backoff/.test(stderr)) {
        signalled = true;
        setTimeout(() => p.kill('SIGTERM'), 2000);
      }
    });
    assert.ok(signalled, r1.stderr);
    assert.equal(r1.status, 0, `everything was kept, so the run succeeded: ${r1.stderr}`);
    assert.match(r1.stderr, /SIGTERM: stopping input/);
    assert.match(r1.stderr, /target unreachable at shutdown; \d+ messages spooled in /);
    const c1 = counts(r1.stderr);
    assert.ok(c1.in > 500 && c1.in < want.length, `stopped part way: ${c1.in} of ${want.length}`);
    assert.deepEqual({ sent: c1.sent, failed: c1.failed, queued: c1.queued, spooled: c1.spooled }, { sent: 0, failed: 0, queued: 0, spooled: c1.in }, r1.stderr);
    assert.ok(readdirSync(spoolDir).length > 0);

    await rs.start();
    const small = await expected(SMALL, { mode: 'enrich' });
    const r2 = await runCli(SMALL, { mode: 'enrich' }, exporter);
    assert.equal(r2.status, 0, r2.stderr);
    const c2 = counts(r2.stderr);
    assert.deepEqual(
      { in: c2.in, earlier: c2.earlier, sent: c2.sent, failed: c2.failed, spooled: c2.spooled },
      { in: small.length, earlier: c1.in, sent: c1.in + small.length, failed: 0, spooled: 0 },
      r2.stderr,
    );
    assert.deepEqual(readdirSync(spoolDir), [], 'spool emptied, no torn record left behind');
    const got = await rs.waitFor(c1.in + small.length, 30_000);
    // the first run delivered nothing, so it had queued the first c1.in records of the input, in order
    assert.deepEqual(
      got.map((m) => m.msg),
      [...want.slice(0, c1.in), ...small],
      "the spooled messages arrive first, in order, then the new run's",
    );
  } finally {
    await rs.close();
  }
});

/** The final counters an exporter logs. */
function counts(stderr: string) {
  const m = [...stderr.matchAll(/in=(\d+) sent=(\d+) retried=\d+ resent=\d+ queued=(\d+) spooled=(\d+)(?: \(on disk \d+ bytes\))? failed=(\d+) reconnects=\d+(?: earlier=(\d+))?/g)].pop();
  assert.ok(m, stderr);
  return { in: Number(m[1]), sent: Number(m[2]), queued: Number(m[3]), spooled: Number(m[4]), failed: Number(m[5]), earlier: Number(m[6] ?? 0) };
}
