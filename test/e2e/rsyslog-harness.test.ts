/**
 * Smoke tests for the real-rsyslog harness (test/helpers/rsyslog.ts), with plain node:net,
 * node:dgram and node:tls clients: every framing and transport delivers each message once with the
 * right header fields and an exact body, TLS rejects the wrong CA (and, with client auth, clients
 * without a good cert), and stop()/start() keeps the ports and the messages received so far.
 * Skipped, with the reason, when rsyslogd is not usable here.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, createServer, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { rsyslogAvailable, startRsyslog, type ReceivedMessage, type Rsyslog } from '../helpers/rsyslog.js';

const unavailable = rsyslogAvailable();
if (unavailable) console.warn(`# SKIPPING rsyslog harness tests: ${unavailable}`);
const skip = unavailable ? `rsyslog unavailable: ${unavailable}` : false;

const BODY = '{"a":"b \\"q\\" ü","tab":"\t","bs":"\\\\","emoji":"🦀","slash":"/"}';
const line = (tag: string, body = BODY) => `<25>1 2024-05-01T12:00:00Z myhost sfprocessor 123 ${tag} - ${body}`;
const octet = (m: string) => `${Buffer.byteLength(m)} ${m}`;

/** Writes the chunks on a fresh connection, ends it and waits for the close (10 s cap). */
function sendStream(open: () => Socket, chunks: string[], timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = open();
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error('send timeout'));
    }, timeoutMs);
    s.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.once(s.constructor.name === 'TLSSocket' ? 'secureConnect' : 'connect', () => {
      for (const c of chunks) s.write(c);
      s.end();
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve();
    });
    s.resume();
  });
}
const tcp = (port: number) => () => netConnect({ port, host: '127.0.0.1' });
const tls = (port: number, o: ConnectionOptions) => () => tlsConnect({ port, host: '127.0.0.1', ...o });

function sendUdp(port: number, msg: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    s.send(msg, port, '127.0.0.1', (e) => {
      s.close();
      if (e) reject(e);
      else resolve();
    });
  });
}

/** p, or a rejection after ms (timer cleared either way). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms)))]);
  } finally {
    clearTimeout(t);
  }
}

/** Waits until a message with this msgid arrived (or timeout) and returns all with it. */
async function arrived(rs: Rsyslog, msgid: string, n = 1, timeoutMs = 10_000): Promise<ReceivedMessage[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = rs.messages().filter((m) => m.msgid === msgid);
    if (got.length >= n || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 25));
  }
}

function assertHeader(m: ReceivedMessage, msgid: string, proto: ReceivedMessage['proto']): void {
  assert.equal(m.facility, 3);
  assert.equal(m.severity, 1);
  assert.equal(m.hostname, 'myhost');
  assert.equal(m.appName, 'sfprocessor');
  assert.equal(m.procid, '123');
  assert.equal(m.msgid, msgid);
  assert.equal(m.proto, proto);
  assert.equal(m.protocolVersion, '1', 'parsed as RFC 5424');
  assert.equal(m.structuredData, '-');
}

describe('rsyslog harness: plain TCP, UDP, anonymous TLS', { skip }, () => {
  let rs: Rsyslog;
  before(async () => {
    rs = await startRsyslog({ tcp: true, udp: true, tls: true });
  });
  after(async () => {
    await rs?.close();
  });

  test('ports are distinct and allocated', () => {
    assert.ok(rs.tcpPort > 0 && rs.udpPort > 0 && rs.tlsPort > 0);
    assert.notEqual(rs.tcpPort, rs.tlsPort);
  });

  test('TCP newline framing: each message once, header and body exact', async () => {
    await sendStream(tcp(rs.tcpPort), [line('nl1') + '\n', line('nl2') + '\n' + line('nl3') + '\n']);
    for (const id of ['nl1', 'nl2', 'nl3']) {
      const got = await arrived(rs, id);
      assert.equal(got.length, 1, `${id} once\n${rs.diagnostics()}`);
      assertHeader(got[0]!, id, 'tcp');
      assert.equal(got[0]!.msg, BODY);
      assert.equal(got[0]!.raw, line(id));
      assert.equal(got[0]!.timestamp, '2024-05-01T12:00:00Z');
    }
  });

  test('TCP octet-counting framing (RFC 6587), LF inside a frame kept, split writes', async () => {
    const multi = line('oc2', 'first line\nsecond line');
    const frames = octet(line('oc1')) + octet(multi);
    // split mid-frame and mid-count to exercise reassembly
    await sendStream(tcp(rs.tcpPort), [frames.slice(0, 3), frames.slice(3, 100), frames.slice(100)]);
    const a = await arrived(rs, 'oc1');
    const b = await arrived(rs, 'oc2');
    assert.equal(a.length, 1, rs.diagnostics());
    assert.equal(b.length, 1, rs.diagnostics());
    assertHeader(a[0]!, 'oc1', 'tcp');
    assert.equal(a[0]!.msg, BODY);
    assert.equal(b[0]!.msg, 'first line\nsecond line');
  });

  test('TCP octet-counted 60 KB message is not truncated', async () => {
    const big = 'x'.repeat(60_000) + 'END';
    await sendStream(tcp(rs.tcpPort), [octet(line('big', big))]);
    const got = await arrived(rs, 'big');
    assert.equal(got.length, 1, rs.diagnostics());
    assert.equal(got[0]!.msg.length, big.length);
    assert.equal(got[0]!.msg, big);
  });

  test('UDP', async () => {
    await sendUdp(rs.udpPort, line('udp1'));
    const got = await arrived(rs, 'udp1');
    assert.equal(got.length, 1, rs.diagnostics());
    assertHeader(got[0]!, 'udp1', 'udp');
    assert.equal(got[0]!.msg, BODY);
  });

  test('TLS verified against the harness CA (by IP and by localhost)', async () => {
    const ca = readFileSync(rs.ca);
    await sendStream(tls(rs.tlsPort, { ca }), [octet(line('tls1')), line('tls2') + '\n']);
    await sendStream(() => tlsConnect({ port: rs.tlsPort, host: '127.0.0.1', servername: 'localhost', ca }), [line('tls3') + '\n']);
    for (const id of ['tls1', 'tls2', 'tls3']) {
      const got = await arrived(rs, id);
      assert.equal(got.length, 1, `${id}\n${rs.diagnostics()}`);
      assertHeader(got[0]!, id, 'tls');
      assert.equal(got[0]!.msg, BODY);
    }
  });

  test('TLS client verifying against the wrong CA fails the handshake', async () => {
    await assert.rejects(sendStream(tls(rs.tlsPort, { ca: readFileSync(rs.wrongCa) }), [line('wrongca') + '\n']), (e: NodeJS.ErrnoException) => {
      assert.match(String(e.code ?? e.message), /CERT|SIGNATURE|VERIFY|ISSUER/i);
      return true;
    });
    await sendStream(tcp(rs.tcpPort), [line('after-wrongca') + '\n']);
    assert.equal((await arrived(rs, 'after-wrongca')).length, 1);
    assert.equal(rs.messages().filter((m) => m.msgid === 'wrongca').length, 0);
  });

  test('20000 messages on one connection: all arrive once, in order (incremental parsing)', async () => {
    const before = rs.count();
    const N = 20_000;
    const frames: string[] = [];
    for (let i = 0; i < N; i++) frames.push(octet(line('bulk', `n=${i}`)));
    const t0 = Date.now();
    await sendStream(tcp(rs.tcpPort), [frames.join('')]);
    const all = await rs.waitFor(before + N, 30_000);
    const bulk = all.slice(before).filter((m) => m.msgid === 'bulk');
    assert.equal(bulk.length, N, `got ${bulk.length} in ${Date.now() - t0} ms\n${rs.diagnostics()}`);
    bulk.forEach((m, i) => assert.equal(m.msg, `n=${i}`));
  });

  test('waitFor returns at the timeout with what arrived', async () => {
    const have = rs.messages().length;
    const t0 = Date.now();
    const got = await rs.waitFor(have + 1000, 300);
    assert.ok(Date.now() - t0 >= 290);
    assert.equal(got.length, have);
  });

  test('stop() then start() reuses the ports and keeps earlier messages', async () => {
    const ports = [rs.tcpPort, rs.udpPort, rs.tlsPort];
    await sendStream(tcp(rs.tcpPort), [line('before-stop') + '\n']);
    // connections still open at stop() (like an exporter's) are closed by rsyslogd, not waited for
    const held = [tcp(rs.tcpPort)(), tls(rs.tlsPort, { ca: readFileSync(rs.ca) })()];
    const closed = held.map(
      (s) =>
        new Promise<void>((r) => {
          s.on('error', () => undefined);
          s.on('close', () => r());
          s.resume();
        }),
    );
    held[0]!.write(line('held-tcp') + '\n');
    held[1]!.write(line('held-tls') + '\n');
    for (const id of ['before-stop', 'held-tcp', 'held-tls']) assert.equal((await arrived(rs, id)).length, 1, id);
    const t0 = Date.now();
    await rs.stop();
    assert.ok(Date.now() - t0 < 5000, `stop took ${Date.now() - t0} ms`);
    await within(Promise.all(closed), 5000, 'held connections closed by rsyslogd');
    assert.equal(rs.running, false);
    await assert.rejects(sendStream(tcp(rs.tcpPort), [line('while-down') + '\n']), /ECONNREFUSED/);
    await rs.start();
    assert.equal(rs.running, true);
    assert.deepEqual([rs.tcpPort, rs.udpPort, rs.tlsPort], ports);
    await sendStream(tcp(rs.tcpPort), [line('after-start') + '\n']);
    await sendUdp(rs.udpPort, line('after-start-udp'));
    await sendStream(tls(rs.tlsPort, { ca: readFileSync(rs.ca) }), [line('after-start-tls') + '\n']);
    for (const id of ['before-stop', 'after-start', 'after-start-udp', 'after-start-tls']) {
      assert.equal((await arrived(rs, id)).length, 1, `${id}\n${rs.diagnostics()}`);
    }
    assert.equal(rs.messages().filter((m) => m.msgid === 'while-down').length, 0);
    assert.equal(rs.messages().filter((m) => m.appName === 'sfp-harness-probe').length, 0, 'probes never in messages()');
  });

  test('start() fails fast, with the reason, when its port is taken; works again once free', async () => {
    await rs.stop();
    const squatter = createServer((c) => c.destroy());
    await new Promise<void>((r) => squatter.listen(rs.tcpPort, '127.0.0.1', () => r()));
    try {
      const t0 = Date.now();
      await assert.rejects(rs.start(), /could not open a listener.*port/s);
      assert.ok(Date.now() - t0 < 10_000, `took ${Date.now() - t0} ms`);
      assert.equal(rs.running, false);
    } finally {
      await new Promise<void>((r) => squatter.close(() => r()));
    }
    await rs.start();
    await sendStream(tcp(rs.tcpPort), [line('after-squat') + '\n']);
    assert.equal((await arrived(rs, 'after-squat')).length, 1, rs.diagnostics());
  });
});

describe('rsyslog harness: TLS with client certificate required', { skip }, () => {
  let rs: Rsyslog;
  before(async () => {
    rs = await startRsyslog({ tcp: false, udp: false, tls: true, tlsClientAuth: true });
  });
  after(async () => {
    await rs?.close();
  });

  test('only the TLS port is open', () => {
    assert.equal(rs.tcpPort, 0);
    assert.equal(rs.udpPort, 0);
    assert.ok(rs.tlsPort > 0);
  });

  test('client cert signed by the CA is accepted', async () => {
    await sendStream(tls(rs.tlsPort, { ca: readFileSync(rs.ca), cert: readFileSync(rs.clientCert), key: readFileSync(rs.clientKey) }), [line('mtls1') + '\n']);
    const got = await arrived(rs, 'mtls1');
    assert.equal(got.length, 1, rs.diagnostics());
    assertHeader(got[0]!, 'mtls1', 'tls');
    assert.equal(got[0]!.msg, BODY);
  });

  test('no client cert, or one from the wrong CA, delivers nothing', async () => {
    const ca = readFileSync(rs.ca);
    // rsyslog may finish the handshake and drop the connection afterwards, so a send may "succeed"
    await sendStream(tls(rs.tlsPort, { ca }), [line('nocert') + '\n']).catch(() => undefined);
    await sendStream(tls(rs.tlsPort, { ca, cert: readFileSync(rs.wrongClientCert), key: readFileSync(rs.wrongClientKey) }), [line('badcert') + '\n']).catch(() => undefined);
    await sendStream(tls(rs.tlsPort, { ca, cert: readFileSync(rs.clientCert), key: readFileSync(rs.clientKey) }), [line('mtls2') + '\n']);
    assert.equal((await arrived(rs, 'mtls2')).length, 1, rs.diagnostics());
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      rs.messages().filter((m) => m.msgid === 'nocert' || m.msgid === 'badcert'),
      [],
    );
  });
});
