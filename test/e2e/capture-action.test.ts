/**
 * The `capture` rule action (core/capture/action.ts) in a running sfprocessor: in redis mode over a
 * bundled trace, every matched flow's request reaches a real redis-server in pcapdaemon's format
 * with the flow's 5-tuple as its filter, once per flow within the window, and each alert carries
 * the request's id; Falco's `capture: true` and `capture_duration` work the same way. In service
 * mode, end to end through the socket driver: a record for a live loopback TCP connection raises an
 * alert, and the capture of that connection's packets appears, read back by tcpdump.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { flowFilter } from '../../core/capture/action.js';
import { pcap } from '../../core/capture/pcap.js';
import type { CaptureMessage } from '../../core/capture/request.js';
import { SysFlowFileReader } from '../../core/avro/ocf.js';
import { SfType, type NetworkFlow } from '../../core/sysflow/types.js';
import type { FlatRecord } from '../../core/flatten/flatrecord.js';
import { AvroWriter } from '../helpers/avro-writer.js';
import { FIXTURES } from '../helpers/corpus.js';
import { REDIS_SERVER, startRedis } from '../helpers/redis.js';
import { ipNum } from '../helpers/records.js';
import { CLI, encodeForLayout, pipelineConfig, ProcessorRun } from '../helpers/socket-harness.js';

const TRACE = join(FIXTURES, 'traces', 'sf-processor', 'tcp.sf');
const redisSkip = REDIS_SERVER ? false : 'redis-server is not installed (apt-get install redis-server)';

function liveSkip(): string | false {
  try {
    pcap();
  } catch (e) {
    return (e as Error).message;
  }
  if (process.getuid?.() !== 0) return 'capturing packets needs root';
  if (spawnSync('sh', ['-c', 'command -v tcpdump']).status !== 0) return 'tcpdump is not installed';
  return false;
}

/** One policy rule as YAML: desc and output are the name, priority low unless given. */
function rule(name: string, condition: string, extra: string[] = [], priority = 'low'): string {
  return [`- rule: ${name}`, `  desc: ${name}`, `  condition: ${condition}`, `  output: ${name}`, `  priority: ${priority}`, ...extra.map((l) => `  ${l}`), ''].join('\n');
}

/** Whether libpcap compiles the filter (true where the addon is not built: nothing to check with). */
function pcapCompiles(bpf: string): boolean {
  try {
    return pcap().checkFilter(bpf) === null;
  } catch (e) {
    if ((e as Error).message.includes('libpcap addon')) return true;
    throw e;
  }
}

/** The trace's NF records' filters, in order, as the action derives them. */
function traceFilters(): string[] {
  const r = SysFlowFileReader.open(TRACE);
  const out: string[] = [];
  for (const rec of r.readAll()) if (rec.sfType === SfType.NF) out.push(flowFilter({ sfType: SfType.NF, rec } as unknown as FlatRecord)!);
  r.close();
  return out;
}

test("redis mode: pcapdaemon requests with the flow's 5-tuple, the process's flows or the rule's filter; one per flow within the window; alerts carry the request id", {
  skip: redisSkip,
}, async () => {
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'sfp-capact-'));
  const sub = new Redis({ host: '127.0.0.1', port: redis.port });
  let got: CaptureMessage[] = [];
  try {
    await sub.subscribe('capture');
    sub.on('message', (_c: string, m: string) => got.push(JSON.parse(m) as CaptureMessage));
    // tcp.sf: ./server (exec, opens, flow 127.0.0.1:40556 → :8080, exit) and ./client (the same)
    writeFileSync(
      join(dir, 'policy.yaml'),
      [
        rule('client connects', 'sf.type = NF and sf.net.dport = 8080 and sf.proc.name = client', ['tags: [network]', 'actions: [capture]'], 'high'),
        rule('server flow', 'sf.type = NF and sf.proc.name = server', ['capture: true', 'capture_duration: 5000']),
        rule('client exits', 'sf.type = PE and sf.opflags contains EXIT and sf.proc.name = client', ['actions: [capture]']),
        // a file record of a process with a flow: the flow wins over the rule's own filter
        rule('server reads ld cache', 'sf.type = FF and sf.file.path = /etc/ld.so.cache and sf.proc.name = server', ['actions: [capture]', 'capture_bpf: tcp port 8080']),
      ].join(''),
    );
    const out = join(dir, 'alerts.json');
    const cfg = join(dir, 'pipeline.json');
    // shellshock.sf has no flows: a rule's own filter, and a rule with none
    writeFileSync(
      join(dir, 'noflows.yaml'),
      rule('exec with own filter', 'sf.type = PE and sf.opflags contains EXEC', ['actions: [capture]', 'capture.bpf: tcp port 80']) +
        rule('open without filter', 'sf.type = FF', ['actions: [capture]']),
    );
    const config = (window: string | null, policies = 'policy.yaml') =>
      JSON.stringify(
        pipelineConfig(out, undefined, {
          policies: join(dir, policies),
          mode: 'alert',
          'capture.mode': 'redis',
          'capture.redis': `127.0.0.1:${redis.port}`,
          'capture.node': 'edge-1',
          'capture.interface': 'eth0,lo',
          'capture.packets': '500',
          'capture.maxpackets': '200',
          'capture.duration': '20',
          'capture.timeout': '3',
          'capture.customer': 'acme',
          ...(window !== null ? { 'capture.window': window } : {}),
        }),
      );
    const runOnce = async (window: string | null, want: number, trace = TRACE, policies = 'policy.yaml') => {
      got = [];
      writeFileSync(cfg, config(window, policies));
      const p = spawnSync(process.execPath, [CLI, '-config', cfg, '-log', 'info', trace], { encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr);
      const until = Date.now() + 5000;
      while (got.length < want && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200));
      const alerts = readFileSync(out, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { tags?: string[]; policies: { id: string }[] });
      return { stderr: p.stderr, alerts, byRule: (name: string) => alerts.find((a) => a.policies.some((x) => x.id === name))! };
    };
    const flow = 'tcp and host 127.0.0.1 and host 127.0.0.1 and port 40556 and port 8080';
    assert.deepEqual([...new Set(traceFilters())], [flow]);

    // the default window (the duration): the flow is requested once; the later matches refer to it
    const a = await runOnce(null, 1);
    assert.equal(a.alerts.length, 4);
    assert.deepEqual(
      got.map((m) => [m.tags, m.bpf]),
      [['server reads ld cache', flow]],
    );
    for (const rule of ['server reads ld cache', 'client connects', 'server flow', 'client exits'])
      assert.ok(a.byRule(rule).tags?.includes(`capture:${got[0]!.alertid}`), `${rule}: ${a.byRule(rule).tags}`);
    assert.match(a.stderr, /capture action: 1 captures requested \(redis\), 3 matches referred to one in progress, 0 without a filter, 0 failed/);
    for (const m of got) {
      assert.equal(m.node, 'edge-1');
      assert.deepEqual(m.interface, ['eth0', 'lo']);
      assert.equal(m.packets, 200, 'capture.maxpackets bounds capture.packets');
      assert.equal(m.timeout, 3);
      assert.equal(m.customer, 'acme');
      assert.equal(pcapCompiles(m.bpf!), true);
    }

    // no window: every match asks; capture_duration (ms) applies to its rule; the exit uses the client's flow
    const b = await runOnce('0', 4);
    assert.deepEqual(
      got.map((m) => [m.tags, m.bpf, m.duration]),
      [
        ['server reads ld cache', flow, 20],
        ['client connects,network', flow, 20],
        ['client exits', flow, 20],
        ['server flow', flow, 5],
      ],
    );
    assert.equal(new Set(got.map((m) => m.alertid)).size, 4, 'ids are unique');
    for (const m of got) assert.ok(b.alerts.some((x) => x.tags?.includes(`capture:${m.alertid}`)));

    // no flows: the rule's capture_bpf; a rule with no filter warns once and counts
    const c = await runOnce(null, 1, join(FIXTURES, 'traces', 'sf-processor', 'shellshock.sf'), 'noflows.yaml');
    assert.deepEqual(
      got.map((m) => [m.tags, m.bpf]),
      [['exec with own filter', 'tcp port 80']],
    );
    assert.equal(c.stderr.match(/capture action: rule 'open without filter' matched a record that is not a network flow, of a process with no flows seen/g)?.length, 1);
    const execs = c.alerts.filter((x) => x.policies.some((p) => p.id === 'exec with own filter')).length;
    const opens = c.alerts.filter((x) => x.policies.some((p) => p.id === 'open without filter')).length;
    assert.ok(execs > 1 && opens > 1);
    assert.match(c.stderr, new RegExp(`capture action: 1 captures requested \\(redis\\), ${execs - 1} matches referred to one in progress, ${opens} without a filter, 0 failed`));

    // a bad capture attribute is a load error naming it
    const bad = spawnSync(process.execPath, [CLI, '-test', '-config', cfg, TRACE], { encoding: 'utf8', env: { ...process.env, POLICYENGINE_CAPTURE_MODE: 'kafka' } });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /capture\.mode/);
  } finally {
    sub.disconnect();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('service mode, end to end: a record for a live loopback connection raises an alert and the capture of its packets appears', { skip: liveSkip() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-capact-live-'));
  const pcaps = join(dir, 'pcaps');
  // a live TCP connection on lo: an echo server and a client
  const server = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dport = (server.address() as { port: number }).port;
  const client: Socket = netConnect(dport, '127.0.0.1');
  await new Promise<void>((r) => client.once('connect', r));
  client.resume();
  const sport = client.localPort!;
  let run: ProcessorRun | null = null;
  try {
    writeFileSync(join(dir, 'policy.yaml'), rule('loopback connection', `sf.type = NF and sf.net.dport = ${dport}`, ['actions: [capture]'], 'high'));
    const out = join(dir, 'alerts.json');
    const collector = join(dir, 'collector.sock');
    const cfg = join(dir, 'pipeline.json');
    writeFileSync(
      cfg,
      JSON.stringify(
        pipelineConfig(
          out,
          { type: 'stream' },
          { policies: join(dir, 'policy.yaml'), mode: 'alert', 'capture.interface': 'lo', 'capture.dir': pcaps, 'capture.node': 'edge-live', 'capture.duration': '2', 'capture.snap': '256' },
        ),
      ),
    );
    run = ProcessorRun.start(['-config', cfg, '-driver', 'socket', '-log', 'info', collector]);
    await run.waitFor(/listening on/);
    // the trace's header, entities and first flow, the flow rewritten to the live connection
    const reader = SysFlowFileReader.open(TRACE);
    const recs = reader.readAll();
    reader.close();
    const nfAt = recs.findIndex((r) => r.sfType === SfType.NF);
    const nf = { ...(recs[nfAt] as NetworkFlow), sip: ipNum('127.0.0.1'), dip: ipNum('127.0.0.1'), sport, dport, proto: 6 };
    const w = new AvroWriter();
    let version = 5;
    const frames: Buffer[] = [];
    for (const r of [...recs.slice(0, nfAt), nf]) {
      if (r.sfType === SfType.H) version = r.version;
      const m = encodeForLayout(w, r, version);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(m.length);
      frames.push(len, m);
    }
    const sock = netConnect(collector);
    await new Promise<void>((r) => sock.once('connect', r));
    sock.write(Buffer.concat(frames));
    // the capture is live once libpcap opened its file
    const until = Date.now() + 10_000;
    while (!existsSync(pcaps) || !readdirSync(pcaps).some((f) => f.endsWith('.pcap.part'))) {
      assert.ok(Date.now() < until, `a capture started; sfprocessor said: ${run.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (let i = 0; i < 20; i++) {
      client.write(Buffer.alloc(100, 0x62));
      await new Promise((r) => setTimeout(r, 20));
    }
    while (!readdirSync(pcaps).some((f) => f.endsWith('.json'))) {
      assert.ok(Date.now() < until, 'the capture ended');
      await new Promise((r) => setTimeout(r, 50));
    }
    sock.end();
    await run.waitFor(/collector connection #1 closed/);
    await run.stop('SIGTERM', 30_000);
    const side = JSON.parse(readFileSync(join(pcaps, readdirSync(pcaps).find((f) => f.endsWith('.json'))!), 'utf8')) as {
      file: string;
      alertid: number;
      packets: number;
      stopped: string;
      bpf: string;
    };
    assert.equal(side.stopped, 'duration');
    assert.equal(side.bpf, `tcp and host 127.0.0.1 and host 127.0.0.1 and port ${sport} and port ${dport}`);
    const dump = spawnSync('tcpdump', ['-n', '-r', join(pcaps, side.file)], { encoding: 'utf8' });
    assert.equal(dump.status, 0, dump.stderr);
    const lines = dump.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, side.packets);
    // 20 writes of 100 bytes, each echoed: 4000 bytes of payload on this connection, both ways
    const payload = (from: number, to: number) => lines.filter((l) => l.includes(`127.0.0.1.${from} > 127.0.0.1.${to}:`)).reduce((n, l) => n + Number(/ length (\d+)$/.exec(l)?.[1] ?? 0), 0);
    assert.equal(payload(sport, dport), 2000, dump.stdout);
    assert.equal(payload(dport, sport), 2000, dump.stdout);
    const alert = JSON.parse(readFileSync(out, 'utf8').split('\n')[0]!) as { tags: string[] };
    assert.ok(alert.tags.includes(`capture:${side.alertid}`), `alert tags ${alert.tags}`);
    assert.match(side.file, new RegExp(`^edge-live-${side.alertid}-lo-`));
  } finally {
    client.destroy();
    server.close();
    ProcessorRun.killAll();
    rmSync(dir, { recursive: true, force: true });
  }
});
