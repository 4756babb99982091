/**
 * Live collection end to end: the native collector (native/build/sfcollector) traces a scripted
 * workload and streams it over SOCK_SEQPACKET into `sfprocessor -driver socket`, whose policy
 * engine must raise exactly the expected alerts. Needs root and eBPF (skipped loudly otherwise, with
 * the reason, like test/e2e/collector.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectorAvailability, parseSummary, runCollector, tempDir } from '../helpers/collector.js';
import { ProcessorRun, childEnv, connectionClosed } from '../helpers/socket-harness.js';
import { unixpacket } from '../../core/drivers/socket-native.js';

function skipReason(): string | false {
  try {
    unixpacket();
  } catch (e) {
    return `socket driver addon unavailable: ${(e as Error).message}`;
  }
  const a = collectorAvailability();
  return a.live ?? false;
}

const skip = skipReason();
if (skip) console.log(`# SKIPPED live end-to-end test: ${skip}`);

interface Alert {
  type: string;
  opflags: string[];
  proc?: { exe?: string; name?: string; args?: string };
  pproc?: { exe?: string };
  file?: { path?: string };
  net?: { sip?: string; dip?: string; dport?: number };
  policies?: { id: string; priority: number }[];
  tags?: string[];
}

test('collector → socket driver → policy engine: the workload raises exactly the expected alerts', { skip }, async () => {
  const dir = tempDir('sfc-e2e-');
  const sock = join(dir, 'sysflow.sock');
  const out = join(dir, 'alerts.json');
  const secret = join(dir, 'secret.txt');
  writeFileSync(secret, 'hunter2\n');
  // rules on what only this workload does (the collector traces just its tree, but paths make the
  // expectations independent of the shell's own start-up)
  writeFileSync(
    join(dir, 'policy.yaml'),
    `
- rule: Secret read by cat
  desc: a file of this test read by cat
  condition: sf.type = FF and sf.opflags contains READ and sf.file.path = "${secret}" and sf.proc.name = cat
  priority: high
  tags: [e2e, credential]
- rule: Directory made in the test dir
  desc: mkdir below the test directory
  condition: sf.opflags = MKDIR and sf.file.path startswith "${dir}/"
  priority: low
  tags: [e2e]
- rule: true run by the workload shell
  desc: exec of true whose parent is sh
  condition: sf.opflags = EXEC and sf.proc.name = true and sf.pproc.name in (sh, dash, bash)
  priority: medium
- rule: never
  desc: a rule that must not fire
  condition: sf.opflags = EXEC and sf.proc.name = no-such-program
`,
  );
  writeFileSync(
    join(dir, 'pipeline.json'),
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'alert', policies: join(dir, 'policy.yaml') },
        { processor: 'exporter', in: 'evt eventchan', export: 'file', format: 'json', 'file.path': out },
      ],
    }),
  );
  const run = ProcessorRun.start(['-config', join(dir, 'pipeline.json'), '-driver', 'socket', '-log', 'info', sock], { env: childEnv() });
  try {
    await run.waitFor(/listening on /);
    const workload = `cat "${secret}" >/dev/null; /bin/true; mkdir "${dir}/made"; rmdir "${dir}/made"; exit 7`;
    const c = await runCollector(['-u', sock, '-e', 'e2e-node', '--', '/bin/sh', '-c', workload], 120_000);
    assert.equal(c.status, 7, `the collector exits with the workload's status; stderr:\n${c.stderr}`);
    const summary = parseSummary(c.stderr);
    assert.equal(summary.drops, 0, 'no ring-buffer drops');
    assert.equal(summary.sockDropped, 0, 'nothing dropped on the socket');
    assert.ok(summary.sockSent > 10, `${summary.sockSent} records sent`);
    // every record the collector sent arrived and decoded
    const conn = await connectionClosed(run, 1);
    assert.deepEqual({ messages: conn.messages, bad: conn.bad, oversize: conn.oversize }, { messages: summary.sockSent, bad: 0, oversize: 0 });
  } finally {
    const exit = await run.stop('SIGTERM');
    assert.equal(exit.code, 0, run.stderr);
  }
  assert.ok(!existsSync(sock), 'socket file removed at shutdown');
  const alerts = readFileSync(out, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Alert);
  const byRule = new Map<string, Alert[]>();
  for (const a of alerts) for (const p of a.policies ?? []) byRule.set(p.id, [...(byRule.get(p.id) ?? []), a]);
  assert.deepEqual([...byRule.keys()].sort(), ['Directory made in the test dir', 'Secret read by cat', 'true run by the workload shell'], JSON.stringify(alerts));
  const [read] = byRule.get('Secret read by cat')!;
  assert.equal(byRule.get('Secret read by cat')!.length, 1);
  assert.equal(read!.file?.path, secret);
  assert.ok(read!.opflags.includes('OPEN') && read!.opflags.includes('CLOSE'), `aggregated flow: ${read!.opflags}`);
  assert.deepEqual(read!.tags, ['e2e', 'credential']);
  assert.equal(read!.policies![0]!.priority, 3, 'high');
  const mk = byRule.get('Directory made in the test dir')!;
  assert.deepEqual(
    mk.map((a) => [a.type, a.file?.path]),
    [['FE', `${dir}/made`]],
  );
  const tr = byRule.get('true run by the workload shell')!;
  assert.equal(tr.length, 1);
  assert.match(tr[0]!.proc?.exe ?? '', /\/true$/);
  assert.match(tr[0]!.pproc?.exe ?? '', /\/(sh|dash|bash)$/);
  rmSync(dir, { recursive: true, force: true });
});
