/**
 * The in-test Elasticsearch endpoint (test/helpers/es-endpoint.ts) is faithful enough for the
 * Elasticsearch exporter's tests: proven here with the REAL @elastic/elasticsearch v8 client
 * (product check, bulk API, bulk helper retries/drops, transport retries, auth, outages, gzip,
 * TLS) and with raw HTTP for what the client never sends (a body without its final newline).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Client, errors } from '@elastic/elasticsearch';
import { startEsEndpoint, type EsEndpoint, type EsEndpointOptions } from '../helpers/es-endpoint.js';

async function withEndpoint(opts: EsEndpointOptions, fn: (ep: EsEndpoint) => Promise<void>): Promise<void> {
  const ep = await startEsEndpoint(opts);
  try {
    await fn(ep);
  } finally {
    await ep.close();
  }
}

function raw(ep: EsEndpoint, method: string, path: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${ep.url}${path}`, { method, headers: { 'content-type': 'application/x-ndjson', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          /* text body */
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const docs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ seq: from + i, msg: `event ${from + i}` }));

test('info, ping and the product check', async () => {
  await withEndpoint({}, async (ep) => {
    const client = new Client({ node: ep.url });
    const { body, headers, statusCode } = await client.info({}, { meta: true });
    assert.equal(statusCode, 200);
    assert.equal(headers['x-elastic-product'], 'Elasticsearch');
    assert.match(body.version.number, /^8\./);
    assert.equal(body.tagline, 'You Know, for Search');
    assert.equal(await client.ping(), true);
    // the client sends the v8 compatibility media types
    assert.equal(ep.requests[0]!.headers.accept, 'application/vnd.elasticsearch+json; compatible-with=8,text/plain');
    assert.deepEqual(
      ep.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /', 'HEAD /'],
    );
    await client.close();
  });
});

test('client.bulk: create/index/update/delete semantics, generated ids, duplicates, refresh', async () => {
  await withEndpoint({ refreshIntervalMs: 0 }, async (ep) => {
    const client = new Client({ node: ep.url });
    const r1 = await client.bulk({
      index: 'events',
      operations: [
        { create: { _id: 'a' } },
        { n: 1 },
        { create: { _id: 'a' } },
        { n: 2 }, // duplicate → 409
        { index: {} },
        { n: 3 }, // generated _id
        { index: { _index: 'other', _id: 'x' } },
        { n: 4 },
        { index: { _index: 'other', _id: 'x' } },
        { n: 5 }, // overwrite → updated, _version 2
        { update: { _index: 'other', _id: 'x' } },
        { doc: { extra: true } },
        { update: { _index: 'other', _id: 'x' } },
        { doc: { extra: true } }, // noop
        { update: { _id: 'missing' } },
        { doc: { a: 1 } }, // 404
        { delete: { _index: 'other', _id: 'nope' } },
        { create: { _index: 'Upper' } },
        { n: 6 }, // invalid index name
      ],
    });
    assert.equal(r1.errors, true);
    const items = r1.items.map((it) => Object.entries(it)[0]!);
    assert.deepEqual(
      items.map(([op, v]) => [op, v!.status, v!.result ?? v!.error?.type]),
      [
        ['create', 201, 'created'],
        ['create', 409, 'version_conflict_engine_exception'],
        ['index', 201, 'created'],
        ['index', 201, 'created'],
        ['index', 200, 'updated'],
        ['update', 200, 'updated'],
        ['update', 200, 'noop'],
        ['update', 404, 'document_missing_exception'],
        ['delete', 404, 'not_found'],
        ['create', 400, 'invalid_index_name_exception'],
      ],
    );
    assert.match(items[1]![1]!.error!.reason!, /^\[a\]: version conflict, document already exists \(current version \[1\]\)$/);
    assert.match(items[2]![1]!._id!, /^[A-Za-z0-9_-]{20}$/);
    assert.equal(items[4]![1]!._version, 2);
    assert.equal(items[5]![1]!._version, 3);
    assert.equal(ep.duplicatesRejected, 1);
    assert.deepEqual(
      ep.docs('events').map((d) => d.source),
      [{ n: 1 }, { n: 3 }],
    );
    assert.deepEqual(ep.docs('other'), [{ index: 'other', id: 'x', source: { n: 5, extra: true }, version: 3, seqNo: 2 }]);
    // no refresh requested and no periodic refresh: not yet visible to _count
    assert.equal((await client.count({ index: 'events' })).count, 0);
    await client.indices.refresh({ index: 'events' });
    assert.equal((await client.count({ index: 'events' })).count, 2);
    // ?refresh=true: visible at once, items say forced_refresh
    const r2 = await client.bulk({ index: 'events', refresh: true, operations: [{ create: {} }, { n: 7 }, { delete: { _id: 'a' } }] });
    assert.equal(r2.errors, false);
    assert.equal(r2.items[0]!.create!.forced_refresh, true);
    assert.equal(r2.items[1]!.delete!.result, 'deleted');
    assert.equal(ep.requests.find((r) => r.path === '/events/_bulk' && r.query.refresh === 'true') !== undefined, true);
    assert.equal((await client.count({ index: 'events' })).count, 2);
    const cat = await client.cat.indices({ format: 'json' });
    assert.deepEqual(cat.map((c) => [c.index, c['docs.count']]).sort(), [
      ['events', '2'],
      ['other', '0'],
    ]);
    // the wire format: NDJSON ending with a newline, vendored content type
    const bulkReq = ep.bulkRequests()[0]!;
    assert.equal(bulkReq.headers['content-type'], 'application/vnd.elasticsearch+x-ndjson; compatible-with=8');
    assert.ok(bulkReq.body.endsWith('\n'));
    assert.equal(bulkReq.body.split('\n')[0], '{"create":{"_id":"a"}}');
    await client.close();
  });
});

test('bulk helper: per-item 429 retried and stored once, per-item 400 dropped to onDrop', async () => {
  await withEndpoint(
    {
      itemFailures: (action, doc, attempt) => {
        const seq = (doc as { seq: number }).seq;
        assert.equal(action.op, 'create');
        assert.equal(action.index, 'sf');
        if (seq % 10 === 3) return { status: 400, type: 'document_parsing_exception', reason: `[1:9] failed to parse field [seq] of type [long] in document with id '${action.id}'` };
        if (seq % 4 === 0 && attempt === 1) return { status: 429, type: 'es_rejected_execution_exception', reason: 'rejected execution of primary operation' };
        return null;
      },
    },
    async (ep) => {
      const client = new Client({ node: ep.url });
      const dropped: { status: number; type: string | undefined; seq: number; retried: boolean }[] = [];
      const stats = await client.helpers.bulk({
        datasource: docs(60),
        onDocument: (d) => ({ create: { _index: 'sf', _id: `id-${d.seq}` } }),
        onDrop: (d) => dropped.push({ status: d.status, type: d.error?.type, seq: d.document.seq, retried: d.retried }),
        retries: 3,
        wait: 10,
        flushBytes: 1000,
        concurrency: 2,
      });
      const expectedDrops = docs(60)
        .filter((d) => d.seq % 10 === 3)
        .map((d) => d.seq);
      assert.deepEqual(
        dropped.map((d) => d.seq).sort((a, b) => a - b),
        expectedDrops,
      );
      assert.ok(dropped.every((d) => d.status === 400 && d.type === 'document_parsing_exception'));
      assert.equal(stats.total, 60);
      assert.equal(stats.failed, expectedDrops.length);
      assert.equal(stats.successful, 60 - expectedDrops.length);
      // the helper's stats.retry counts NDJSON lines (action + source), not documents
      assert.equal(stats.retry, 2 * docs(60).filter((d) => d.seq % 4 === 0 && d.seq % 10 !== 3).length);
      const stored = ep
        .docs('sf')
        .map((d) => (d.source as { seq: number }).seq)
        .sort((a, b) => a - b);
      assert.deepEqual(
        stored,
        docs(60)
          .map((d) => d.seq)
          .filter((s) => s % 10 !== 3),
      );
      assert.equal(ep.duplicatesRejected, 0);
      assert.ok(ep.bulkRequests().length > 2);
      // the helper's retry request holds exactly the 429'd operations
      const seqsOf = (body: string) =>
        body
          .split('\n')
          .filter((_, i) => i % 2 === 0 && _ !== '')
          .map((l) => Number((JSON.parse(l) as { create: { _id: string } }).create._id.slice(3)));
      const retryBodies = ep.bulkRequests().filter((r) => seqsOf(r.body).every((s) => s % 4 === 0 && s % 10 !== 3));
      assert.ok(retryBodies.length >= 1);
      assert.deepEqual(
        retryBodies.flatMap((r) => seqsOf(r.body)).sort((a, b) => a - b),
        docs(60)
          .map((d) => d.seq)
          .filter((s) => s % 4 === 0 && s % 10 !== 3),
      );
      await client.close();
    },
  );
});

test('bulk helper: 429 with retries exhausted → onDrop with status 429', async () => {
  await withEndpoint({ itemFailures: () => ({ status: 429, type: 'es_rejected_execution_exception', reason: 'queue full' }) }, async (ep) => {
    const client = new Client({ node: ep.url });
    const dropped: number[] = [];
    const stats = await client.helpers.bulk({
      datasource: docs(3),
      onDocument: () => ({ index: { _index: 'sf' } }),
      onDrop: (d) => dropped.push(d.status),
      retries: 2,
      wait: 5,
    });
    assert.deepEqual(dropped, [429, 429, 429]);
    assert.equal(stats.failed, 3);
    assert.equal(ep.bulkRequests().length, 3); // first try + 2 retries
    assert.equal(ep.docs().length, 0);
    await client.close();
  });
});

test('whole-request failures: 502/503/504 are retried by the transport, 429 and 500 are not', async () => {
  for (const status of [502, 503, 504] as const) {
    await withEndpoint({ failFirstRequests: { count: 2, status } }, async (ep) => {
      const client = new Client({ node: ep.url }); // maxRetries 3 by default
      const r = await client.bulk({ index: 'sf', operations: [{ create: {} }, { a: 1 }] });
      assert.equal(r.errors, false);
      assert.equal(ep.bulkRequests().length, 3, `status ${status}`);
      assert.deepEqual(
        ep.bulkRequests().map((q) => q.status),
        [status, status, 200],
      );
      assert.equal(ep.docs('sf').length, 1);
      await client.close();
    });
  }
  // retries exhausted
  await withEndpoint({ failFirstRequests: { count: 5, status: 503 } }, async (ep) => {
    const client = new Client({ node: ep.url, maxRetries: 1 });
    await assert.rejects(client.bulk({ index: 'sf', operations: [{ create: {} }, { a: 1 }] }), (e: unknown) => {
      assert.ok(e instanceof errors.ResponseError);
      assert.equal(e.statusCode, 503);
      assert.equal(e.body.error.type, 'cluster_block_exception');
      return true;
    });
    assert.equal(ep.bulkRequests().length, 2);
    await client.close();
  });
  for (const status of [429, 500] as const) {
    await withEndpoint({ failFirstRequests: { count: 1, status } }, async (ep) => {
      const client = new Client({ node: ep.url });
      await assert.rejects(client.bulk({ index: 'sf', operations: [{ create: {} }, { a: 1 }] }), (e: unknown) => {
        assert.ok(e instanceof errors.ResponseError);
        assert.equal(e.statusCode, status);
        return true;
      });
      assert.equal(ep.bulkRequests().length, 1, `status ${status} is not retried by the client`);
      // the bulk helper does not retry a whole-request 429 either: it rejects (aborts)
      ep.failNextBulk(1, status);
      await assert.rejects(
        client.helpers.bulk({ datasource: docs(2), onDocument: () => ({ create: { _index: 'sf' } }), wait: 5 }),
        (e: unknown) => e instanceof errors.ResponseError && e.statusCode === status,
      );
      assert.equal(ep.bulkRequests().length, 2);
      assert.equal(ep.docs().length, 0);
      await client.close();
    });
  }
  // the bulk helper rides over 503s through the transport's retries
  await withEndpoint({ failFirstRequests: { count: 2, status: 503 } }, async (ep) => {
    const client = new Client({ node: ep.url });
    const stats = await client.helpers.bulk({ datasource: docs(5), onDocument: () => ({ create: { _index: 'sf' } }) });
    assert.equal(stats.successful, 5);
    assert.equal(ep.docs('sf').length, 5);
    await client.close();
  });
});

test('auth: basic and API key accepted, wrong or missing credentials → 401 security_exception', async () => {
  const encoded = Buffer.from('key-id:key-secret').toString('base64');
  await withEndpoint({ auth: [{ username: 'elastic', password: 'changeme' }, { apiKey: encoded }] }, async (ep) => {
    const basic = new Client({ node: ep.url, auth: { username: 'elastic', password: 'changeme' } });
    assert.equal((await basic.bulk({ index: 'sf', operations: [{ create: {} }, { a: 1 }] })).errors, false);
    const keyString = new Client({ node: ep.url, auth: { apiKey: encoded } });
    assert.match((await keyString.info()).version.number, /^8\./);
    const keyObject = new Client({ node: ep.url, auth: { apiKey: { id: 'key-id', api_key: 'key-secret' } } });
    assert.match((await keyObject.info()).version.number, /^8\./);
    const sent = ep.requests.map((r) => r.headers.authorization);
    assert.deepEqual(sent, [`Basic ${Buffer.from('elastic:changeme').toString('base64')}`, `ApiKey ${encoded}`, `ApiKey ${encoded}`]);

    const expect401 = async (client: Client, reason: RegExp) => {
      await assert.rejects(client.bulk({ index: 'sf', operations: [{ create: {} }, { a: 2 }] }), (e: unknown) => {
        assert.ok(e instanceof errors.ResponseError);
        assert.equal(e.statusCode, 401);
        assert.equal(e.body.error.type, 'security_exception');
        assert.match(e.body.error.reason, reason);
        assert.ok(String(e.headers?.['www-authenticate']).includes('Basic realm="security"'));
        return true;
      });
      await client.close();
    };
    await expect401(new Client({ node: ep.url, auth: { username: 'elastic', password: 'wrong' } }), /^unable to authenticate user \[elastic\] for REST request \[\/sf\/_bulk\]$/);
    await expect401(new Client({ node: ep.url, auth: { apiKey: 'bm9wZTpub3Bl' } }), /^unable to authenticate with provided credentials/);
    await expect401(new Client({ node: ep.url }), /^missing authentication credentials for REST request \[\/sf\/_bulk\]$/);
    assert.equal(ep.bulkRequests().filter((r) => r.status === 401).length, 3); // 401 is not retried
    assert.equal(ep.docs().length, 1);
    await Promise.all([basic.close(), keyString.close(), keyObject.close()]);
  });
});

test('outage: setDown(true) → ConnectionError (ECONNREFUSED), recovery after setDown(false); destroyed sockets are retried', async () => {
  await withEndpoint({}, async (ep) => {
    const client = new Client({ node: ep.url });
    await client.info(); // keep-alive connection open
    await ep.setDown(true);
    await assert.rejects(client.info({}, { maxRetries: 0 }), (e: unknown) => {
      assert.ok(e instanceof errors.ConnectionError);
      assert.match(e.message, /ECONNREFUSED|other side closed|socket/i);
      return true;
    });
    await assert.rejects(client.helpers.bulk({ datasource: docs(2), onDocument: () => ({ create: { _index: 'sf' } }) }, { maxRetries: 0 }), (e: unknown) => e instanceof errors.ConnectionError);
    await ep.setDown(false);
    const r = await client.bulk({ index: 'sf', operations: [{ create: {} }, { a: 1 }] });
    assert.equal(r.errors, false);
    assert.equal(ep.docs('sf').length, 1);

    // a socket destroyed mid-request is a ConnectionError, which the transport retries
    ep.options.bulkReply = ({ n }) => (n === 2 ? 'destroy' : null);
    const r2 = await client.bulk({ index: 'sf', operations: [{ create: {} }, { a: 2 }] }, { retryBackoff: () => 0 });
    assert.equal(r2.errors, false);
    assert.deepEqual(
      ep.bulkRequests().map((q) => q.status),
      [200, 0, 200],
    );
    assert.equal(ep.docs('sf').length, 2);
    await client.close();
  });
});

test('latency: delayMs beyond requestTimeout → TimeoutError', async () => {
  await withEndpoint({ delayMs: 150 }, async (ep) => {
    const client = new Client({ node: ep.url });
    // per-request timeout (undici's own constructor-level timers are too coarse for 40 ms); not retried by default
    await assert.rejects(client.info({}, { requestTimeout: 40 }), (e: unknown) => e instanceof errors.TimeoutError);
    assert.equal(ep.requests.length, 1);
    ep.options.delayMs = 0;
    assert.equal(await client.ping(), true);
    await client.close();
  });
});

test('gzip request bodies (client compression) and gzip responses', async () => {
  await withEndpoint({}, async (ep) => {
    const client = new Client({ node: ep.url, compression: true });
    const r = await client.bulk({ index: 'sf', operations: [{ create: { _id: '1' } }, { a: 'é' }] });
    assert.equal(r.errors, false);
    const q = ep.bulkRequests()[0]!;
    assert.equal(q.headers['content-encoding'], 'gzip');
    assert.equal(q.headers['accept-encoding'], 'gzip,deflate');
    assert.equal(q.body, '{"create":{"_id":"1"}}\n{"a":"é"}\n');
    assert.deepEqual(ep.docs('sf')[0]!.source, { a: 'é' });
    await client.close();
  });
});

test('index templates, index create/exists, _doc get', async () => {
  await withEndpoint({}, async (ep) => {
    const client = new Client({ node: ep.url });
    const ack = await client.indices.putIndexTemplate({
      name: 'sysflow',
      index_patterns: ['sysflow-*'],
      template: { mappings: { properties: { ts: { type: 'date_nanos' } } } },
    });
    assert.equal(ack.acknowledged, true);
    assert.deepEqual(ep.templates.get('sysflow'), { index_patterns: ['sysflow-*'], template: { mappings: { properties: { ts: { type: 'date_nanos' } } } } });
    assert.equal(await client.indices.existsIndexTemplate({ name: 'sysflow' }), true);
    assert.equal(await client.indices.existsIndexTemplate({ name: 'nope' }), false);
    const got = await client.indices.getIndexTemplate({ name: 'sysflow' });
    assert.equal(got.index_templates[0]!.name, 'sysflow');
    assert.equal(await client.indices.exists({ index: 'sysflow-1' }), false);
    await client.indices.create({ index: 'sysflow-1' });
    assert.equal(await client.indices.exists({ index: 'sysflow-1' }), true);
    await assert.rejects(
      client.indices.create({ index: 'sysflow-1' }),
      (e: unknown) => e instanceof errors.ResponseError && e.statusCode === 400 && e.body.error.type === 'resource_already_exists_exception',
    );
    await client.bulk({ operations: [{ index: { _index: 'sysflow-1', _id: 'z' } }, { k: 1 }] });
    assert.deepEqual((await client.get({ index: 'sysflow-1', id: 'z' }))._source, { k: 1 });
    await client.close();
  });
});

test('raw HTTP: ES request errors (no final newline, malformed lines, media types)', async () => {
  await withEndpoint({}, async (ep) => {
    const noNewline = await raw(ep, 'POST', '/_bulk', '{"index":{"_index":"sf"}}\n{"a":1}');
    assert.equal(noNewline.status, 400);
    assert.equal(noNewline.headers['x-elastic-product'], 'Elasticsearch');
    assert.deepEqual(noNewline.body, {
      error: {
        root_cause: [{ type: 'illegal_argument_exception', reason: 'The bulk request must be terminated by a newline [\\n]' }],
        type: 'illegal_argument_exception',
        reason: 'The bulk request must be terminated by a newline [\\n]',
      },
      status: 400,
    });
    const badJson = await raw(ep, 'POST', '/sf/_bulk', '{"index":{]\n{"a":1}\n');
    assert.equal(badJson.status, 400);
    assert.equal(badJson.body.error.type, 'x_content_parse_exception');
    assert.match(badJson.body.error.reason, /^\[1:\d+\] /);
    const badAction = await raw(ep, 'POST', '/sf/_bulk', '{"upsert":{}}\n{"a":1}\n');
    assert.equal(badAction.body.error.type, 'illegal_argument_exception');
    assert.equal(badAction.body.error.reason, 'Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found [upsert]');
    const unknownParam = await raw(ep, 'POST', '/sf/_bulk', '{"index":{"_type":"doc"}}\n{"a":1}\n');
    assert.equal(unknownParam.body.error.reason, 'Action/metadata line [1] contains an unknown parameter [_type]');
    const noIndex = await raw(ep, 'POST', '/_bulk', '{"index":{}}\n{"a":1}\n');
    assert.equal(noIndex.body.error.type, 'action_request_validation_exception');
    assert.equal(noIndex.body.error.reason, 'Validation Failed: 1: index is missing;');
    const empty = await raw(ep, 'POST', '/_bulk', '');
    assert.equal(empty.body.error.type, 'parse_exception');
    // a malformed source line fails only its item; CRLF and blank lines are tolerated
    const mixed = await raw(ep, 'POST', '/sf/_bulk?refresh=wait_for&pretty&unknown=1', '{"index":{"_id":"1"}}\r\n{"a":\r\n\n{"index":{"_id":"2"}}\n{"a":2}\n');
    assert.equal(mixed.status, 200);
    assert.equal(mixed.body.errors, true);
    assert.equal(mixed.body.items[0].index.status, 400);
    assert.equal(mixed.body.items[0].index.error.type, 'document_parsing_exception');
    assert.equal(mixed.body.items[1].index.status, 201);
    assert.deepEqual(
      ep.docs('sf').map((d) => d.id),
      ['2'],
    );
    const plain = await raw(ep, 'POST', '/_bulk', '{"index":{"_index":"sf"}}\n{"a":1}\n', { 'content-type': 'text/plain' });
    assert.equal(plain.status, 406);
    assert.deepEqual(plain.body, { error: 'Content-Type header [text/plain] is not supported', status: 406 });
    // a v9 client's media types against this 8.x "server"
    const v9 = await raw(ep, 'POST', '/_bulk', '{"index":{"_index":"sf"}}\n{"a":1}\n', {
      'content-type': 'application/vnd.elasticsearch+x-ndjson; compatible-with=9',
      accept: 'application/vnd.elasticsearch+json; compatible-with=9',
    });
    assert.equal(v9.status, 400);
    assert.equal(v9.body.error.type, 'media_type_header_exception');
    const gz = await raw(ep, 'POST', '/sf/_bulk', gzipSync('{"create":{"_id":"g"}}\n{"g":1}\n'), { 'content-encoding': 'gzip', 'content-type': 'application/x-ndjson' });
    assert.equal(gz.status, 200);
    assert.equal(gz.body.items[0].create.result, 'created');
    const get = await raw(ep, 'GET', '/_bulk', '', {});
    assert.equal(get.status, 405);
    assert.equal(ep.requests.length, 11);
  });
});

test('TLS: HTTPS with a self-signed certificate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'es-endpoint-tls-'));
  try {
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=IP:127.0.0.1,DNS:localhost',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        { stdio: 'ignore' },
      );
    } catch {
      t.skip('openssl unavailable');
      return;
    }
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    await withEndpoint({ tls: { cert, key: join(dir, 'key.pem') }, auth: { username: 'u', password: 'p' } }, async (ep) => {
      assert.match(ep.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const client = new Client({ node: ep.url, auth: { username: 'u', password: 'p' }, tls: { ca: cert } });
      assert.equal((await client.bulk({ index: 'sf', operations: [{ create: {} }, { a: 1 }] })).errors, false);
      assert.equal(ep.docs('sf').length, 1);
      await client.close();
      const untrusted = new Client({ node: ep.url, auth: { username: 'u', password: 'p' }, maxRetries: 0 });
      await assert.rejects(untrusted.info(), (e: unknown) => e instanceof errors.ConnectionError);
      await untrusted.close();
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
