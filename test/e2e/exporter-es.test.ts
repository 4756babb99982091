/**
 * The Elasticsearch exporter (core/export/transports/es.ts) end to end: `sfprocessor` runs as a user
 * would run it and ships alerts with the real @elastic/elasticsearch client. No Elasticsearch server
 * can run on our machines, so the target is the in-test endpoint of test/helpers/es-endpoint.ts,
 * which implements `_bulk` faithfully (NDJSON, auth, per-item errors, 429s); see es-endpoint.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../helpers/corpus.js';
import { startEsEndpoint, type EsEndpoint, type EsEndpointOptions } from '../helpers/es-endpoint.js';

const CLI = join(ROOT, 'dist/core/cli/sfprocessor.js');
const TRACE = join(FIXTURES, 'traces/sf-collector/mpm-event/full_capture.sf');
const AUTH = { username: 'elastic', password: 's3cret-Pa55' };

interface Run {
  status: number | null;
  stderr: string;
}

function runCli(dir: string, exporter: Record<string, string>, policyMode: Record<string, string> = { mode: 'enrich' }, onStderr?: (text: string) => void): Promise<Run> {
  const config = join(dir, `pipeline-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', ...policyMode },
        { processor: 'exporter', in: 'evt eventchan', 'stats.interval': '0', 'retry.max': '500ms', ...exporter },
      ],
    }),
  );
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, '-config', config, '-log', 'info', TRACE], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => p.kill('SIGKILL'), 90_000);
    p.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr });
    });
  });
}

/** The records as the json encoder writes them to a file (the reference for what must arrive). */
async function reference(dir: string): Promise<string[]> {
  const out = join(dir, 'ref.json');
  const r = await runCli(dir, { export: 'file', format: 'json', 'file.path': out });
  assert.equal(r.status, 0, r.stderr);
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

async function withEs(opts: EsEndpointOptions, fn: (ep: EsEndpoint, dir: string) => Promise<void>): Promise<void> {
  const ep = await startEsEndpoint(opts);
  const dir = mkdtempSync(join(tmpdir(), 'sfp-es-'));
  try {
    await fn(ep, dir);
  } finally {
    await ep.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const counters = (stderr: string) => {
  const m = /sent=(\d+) retried=(\d+) resent=(\d+) queued=(\d+) spooled=(\d+).* failed=(\d+)/.exec(stderr);
  assert.ok(m, `counters logged: ${stderr}`);
  const [sent, retried, resent, queued, spooled, failed] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return { sent, retried, resent, queued, spooled, failed };
};

test('every record is indexed once, with basic auth, into date-pattern indices', async () => {
  await withEs({ auth: AUTH }, async (ep, dir) => {
    const want = await reference(dir);
    const r = await runCli(dir, { export: 'es', format: 'json', 'es.addresses': ep.url, 'es.index': 'sysflow-%Y.%m.%d', 'es.username': AUTH.username, 'es.password': AUTH.password });
    assert.equal(r.status, 0, r.stderr);
    const docs = ep.docs();
    assert.equal(docs.length, want.length);
    assert.deepEqual(docs.map((d) => JSON.stringify(d.source)).sort(), want.map((l) => JSON.stringify(JSON.parse(l))).sort());
    const days = new Set(want.map((l) => new Date(Number((JSON.parse(l) as { ts: number }).ts) / 1e6).toISOString().slice(0, 10).replace(/-/g, '.')));
    assert.deepEqual(
      ep
        .indices()
        .filter((i) => i.startsWith('sysflow-'))
        .sort(),
      [...days].sort().map((d) => `sysflow-${d}`),
    );
    assert.ok(!r.stderr.includes(AUTH.password), 'the password is never logged');
    assert.equal(counters(r.stderr).sent, want.length);
    assert.ok(ep.bulkRequests().every((q) => q.headers.authorization === `Basic ${Buffer.from(`${AUTH.username}:${AUTH.password}`).toString('base64')}`));
  });
});

test('per-item 429 is retried until indexed; mapping errors are counted and logged, not retried', async () => {
  let refusedOnce = 0;
  await withEs(
    {
      itemFailures: (action, doc, attempt) => {
        const d = doc as { type?: string; proc?: { pid?: number } };
        if (d.type === 'PE') return { status: 400, type: 'mapper_parsing_exception', reason: 'failed to parse field [proc.pid]' };
        if (attempt <= 3 && (action.id ?? '').charCodeAt(0) % 3 === 0) {
          refusedOnce++;
          return { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution of coordinating operation' };
        }
        return null;
      },
    },
    async (ep, dir) => {
      const want = await reference(dir);
      const pe = want.filter((l) => (JSON.parse(l) as { type: string }).type === 'PE').length;
      assert.ok(pe > 0);
      const r = await runCli(dir, { export: 'es', format: 'json', 'es.addresses': ep.url });
      assert.equal(r.status, 3, `refused records are undelivered: exit code 3: ${r.stderr.slice(-500)}`);
      assert.match(r.stderr, new RegExp(`error: ${pe} records were neither delivered nor spooled`));
      assert.ok(refusedOnce > 100, `${refusedOnce} items refused with 429`);
      const c = counters(r.stderr);
      assert.equal(ep.docs().length, want.length - pe, r.stderr.slice(-2000));
      assert.equal(c.failed, pe);
      assert.equal(c.sent, want.length - pe);
      assert.ok(c.retried > 0);
      assert.match(r.stderr, /record refused: 400 mapper_parsing_exception: failed to parse field \[proc\.pid\]/);
    },
  );
});

test('whole-request 429 and 503 answers are retried with backoff; nothing is lost or doubled', async () => {
  await withEs({ failFirstRequests: { count: 6, status: 429 } }, async (ep, dir) => {
    const want = await reference(dir);
    const r = await runCli(dir, { export: 'es', format: 'json', 'es.addresses': ep.url });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(ep.docs().length, want.length);
    assert.equal(new Set(ep.docs().map((d) => d.id)).size, want.length);
  });
});

test('an outage: records queue (and spool past queue.size) until the cluster is back; resends are deduplicated by id', async () => {
  await withEs({}, async (ep, dir) => {
    const want = await reference(dir);
    await ep.setDown(true);
    let restarted = false;
    let spoolUsed = false;
    const run = runCli(dir, { export: 'es', format: 'json', 'es.addresses': ep.url, 'queue.size': '500', 'buffer.dir': join(dir, 'spool') }, undefined, (text) => {
      if (!restarted && /records are queued until the cluster is reachable/.test(text)) {
        restarted = true;
        setTimeout(() => {
          spoolUsed = readdirSync(join(dir, 'spool')).length > 0;
          void ep.setDown(false);
        }, 1500);
      }
    });
    const r = await run;
    assert.equal(r.status, 0, r.stderr);
    assert.ok(restarted, r.stderr);
    assert.equal(ep.docs().length, want.length);
    const c = counters(r.stderr);
    assert.ok(spoolUsed, 'past queue.size, records went to the spool during the outage');
    // spooled is what is left on disk for the next run: nothing, everything was sent
    assert.deepEqual({ spooled: c.spooled, failed: c.failed, sent: c.sent }, { spooled: 0, failed: 0, sent: want.length }, r.stderr);
  });
});

test('wrong credentials stop the start with one clear line; secrets from vault files work and are not logged', async () => {
  await withEs({ auth: AUTH }, async (ep, dir) => {
    const bad = await runCli(dir, { export: 'es', format: 'json', 'es.addresses': ep.url, 'es.username': 'elastic', 'es.password': 'wrong-password' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /es http:\/\/127\.0\.0\.1:\d+: HTTP 401 security_exception.*check es\.username\/es\.password or es\.apikey/);
    assert.ok(!bad.stderr.includes('wrong-password'));

    const vault = join(dir, 'secrets');
    mkdirSync(vault);
    writeFileSync(join(vault, 'es.username'), Buffer.from(AUTH.username).toString('base64') + '\n');
    writeFileSync(join(vault, 'es.password'), Buffer.from(AUTH.password).toString('base64') + '\n');
    const ok = await runCli(dir, { export: 'es', format: 'json', 'es.addresses': ep.url, 'vault.secrets': 'true', 'vault.path': vault, 'vault.encoding': 'base64' });
    assert.equal(ok.status, 0, ok.stderr);
    assert.ok(!ok.stderr.includes(AUTH.password));
    assert.ok(ep.docs().length > 0);
  });
});

test('API key auth', async () => {
  await withEs({ auth: { apiKey: 'aWQ6a2V5' } }, async (ep, dir) => {
    const r = await runCli(dir, { export: 'es', format: 'json', 'es.addresses': ep.url, 'es.apikey': 'aWQ6a2V5' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(ep.bulkRequests().length > 0 && ep.bulkRequests().every((q) => q.headers.authorization === 'ApiKey aWQ6a2V5'));
  });
});

test('ecs format: documents carry the ECS id (a rerun indexes nothing twice) and the bundled template is installed', async () => {
  await withEs({}, async (ep, dir) => {
    const attrs = { export: 'es', format: 'ecs', 'es.addresses': ep.url, 'es.index': 'sysflow-%Y.%m.%d', 'es.template': 'true' };
    const r = await runCli(dir, attrs);
    assert.equal(r.status, 0, r.stderr);
    const n = ep.docs().length;
    assert.ok(n > 4000, `${n} documents`);
    assert.ok(ep.docs().every((d) => /^[0-9a-f]{16}$/.test(d.id) && typeof (d.source as Record<string, unknown>)['@timestamp'] === 'string'));
    assert.ok(ep.templates.has('sysflow-ecs'), 'template installed');
    assert.match(r.stderr, /index template sysflow-ecs installed/);
    // the same trace again: every create meets an existing id, ES answers 409, nothing doubles
    const again = await runCli(dir, attrs);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(ep.docs().length, n);
    assert.equal(ep.duplicatesRejected, n);
    assert.equal(counters(again.stderr).failed, 0);
  });
});

test('fan-out: one policy engine feeds file, es and a syslog server that is down; the dead target does not stall the others', async () => {
  await withEs({}, async (ep, dir) => {
    const want = await reference(dir);
    const out = join(dir, 'fan.json');
    const config = join(dir, 'fanout.json');
    writeFileSync(
      config,
      JSON.stringify({
        pipeline: [
          { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
          { processor: 'policyengine', in: 'flat flattenerchan', out: ['a eventchan', 'b eventchan', 'c eventchan'], mode: 'enrich' },
          { processor: 'exporter', in: 'a eventchan', export: 'file', format: 'json', 'file.path': out },
          { processor: 'exporter', in: 'b eventchan', export: 'es', format: 'json', 'es.addresses': ep.url, 'stats.interval': '0' },
          // nothing listens on port 9 of 127.0.0.1 (discard): refused; its queue holds the whole stream
          { processor: 'exporter', in: 'c eventchan', export: 'syslog', 'syslog.host': '127.0.0.1', 'syslog.port': '9', 'queue.size': '10000', 'drain.timeout': '1s', 'stats.interval': '0' },
        ],
      }),
    );
    const p = spawn(process.execPath, [CLI, '-config', config, '-log', 'info', TRACE], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await new Promise<number | null>((resolve) => p.on('close', resolve));
    assert.equal(status, 3, `the syslog branch delivered nothing: exit code 3: ${stderr}`);
    assert.equal(readFileSync(out, 'utf8').split('\n').filter(Boolean).length, want.length);
    assert.equal(ep.docs().length, want.length);
    assert.match(stderr, new RegExp(`syslog tcp 127\\.0\\.0\\.1:9: target unreachable at shutdown; ${want.length} messages not delivered`));
  });
});
