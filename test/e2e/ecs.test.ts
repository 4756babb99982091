/**
 * The `ecs` encoder (core/export/encoders/ecs.ts, docs/ecs.md):
 *  1. exact shapes on hand-built records of every type (key order, event classification, file types,
 *     rule results, escaping, missing entities);
 *  2. every record of the bundled traces (the whole corpus when ../shared is present) encodes to a
 *     document that follows the field list below, whose every leaf is mapped by the shipped
 *     Elasticsearch index template, and whose values agree with the json encoder's;
 *  3. Community ID and document id against independent computations / published vectors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import xxhash from 'xxhash-wasm';
import { EcsEncoder, communityId, ecsDocId, isoNano } from '../../core/export/encoders/ecs.js';
import { JsonEncoder } from '../../core/export/encoders/json.js';
import { MemorySink } from '../../core/util/bytes.js';
import { FlatRecord, type MatchedRule } from '../../core/flatten/flatrecord.js';
import { SfType, type FileFlow, type NetworkEvent, type NetworkFlow, type Pod, type ProcessFlow } from '../../core/sysflow/types.js';
import { pe, ff, fe, nf, ke, ipNum, mkHeader, initHashing, OpFlags } from '../helpers/records.js';
import { CORPUS_NOTE, ROOT, listTraces, parseExactJson, tracePath } from '../helpers/corpus.js';
import { flatRecords, runPipeline } from '../helpers/run-pipeline.js';

await initHashing();

type Doc = Record<string, unknown>;

const enc = new EcsEncoder('1.2.3', '8.2');

function encodeText(r: FlatRecord, e: EcsEncoder = enc): string {
  const s = new MemorySink();
  e.encode(r, s);
  return s.text();
}

function encode(r: FlatRecord): Doc {
  const text = encodeText(r);
  assert.ok(text.endsWith('}\n'), 'one line ending in a newline');
  assert.equal(text.indexOf('\n'), text.length - 1, 'exactly one line');
  return JSON.parse(text) as Doc;
}

/** Keys of an object, recursively: { key: subkeys | null }, in document order (deepEqual checks order via JSON text). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(shape);
  if (v !== null && typeof v === 'object') {
    return Object.keys(v).map((k) => [k, shape((v as Doc)[k])]);
  }
  return null;
}

const get = (d: Doc, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o as Doc | undefined)?.[k], d);

const rule = (name: string, priority: number, tags: string[] = []): MatchedRule => ({ name, desc: `${name} desc`, priority, tags });

// ---------------------------------------------------------------------------------------------
// 1. shapes

test('PE: the whole document, byte for byte', () => {
  const r = pe({
    ts: '1553543280704111050',
    exe: '/bin/ls',
    args: '-l /tmp',
    pid: 100,
    tid: 100,
    uid: 1000,
    user: 'alice',
    gid: 1000,
    group: 'staff',
    parent: { pid: 99, exe: '/bin/bash' },
  });
  assert.equal(
    encodeText(r),
    '{"@timestamp":"2019-03-25T19:48:00.70411105Z","agent":{"type":"SysFlow","version":"1.2.3"},"ecs":{"version":"8.2"},' +
      '"event":{"action":"process-start","category":"process","duration":0,"end":"2019-03-25T19:48:00.70411105Z","kind":"event",' +
      '"sf_ret":0,"sf_type":"PE","start":"2019-03-25T19:48:00.70411105Z","type":"start"},"host":{"id":"node-1","ip":"192.168.0.1"},' +
      '"process":{"args":"-l /tmp","command_line":"/bin/ls -l /tmp","executable":"/bin/ls","name":"ls",' +
      '"parent":{"args":"","command_line":"/bin/bash","executable":"/bin/bash","name":"bash","pid":99,"start":"2023-11-14T22:13:20.000099Z"},' +
      '"pid":100,"start":"2023-11-14T22:13:20.0001Z","thread":{"id":100}},"user":{"group":{"id":1000,"name":"staff"},"id":1000,"name":"alice"}}\n',
  );
});

test('PE: event.type / event.action table', () => {
  const cases: [number, number, string][] = [
    [OpFlags.EXIT, 100, 'exit'],
    [OpFlags.EXIT, 101, 'thread-exit'],
    [OpFlags.EXIT | OpFlags.EXEC, 100, 'exit'],
    [OpFlags.CLONE, 100, 'start'],
    [OpFlags.CLONE, 101, 'thread-start'],
    [OpFlags.EXEC, 100, 'start'],
    [OpFlags.EXEC, 102, 'thread-start'],
    [OpFlags.SETUID, 100, 'change'],
    [OpFlags.SETUID, 101, 'change'],
    [OpFlags.SETUID | OpFlags.CLONE, 100, 'start'],
    [OpFlags.SETNS, 100, 'start'],
    [0, 100, 'start'],
  ];
  for (const [flags, tid, type] of cases) {
    const d = encode(pe({ flags, pid: 100, tid, ret: -2 }));
    const ev = d.event as Doc;
    assert.equal(ev.category, 'process');
    assert.equal(ev.type, type, `flags ${flags} tid ${tid}`);
    assert.equal(ev.action, `process-${type}`);
    assert.equal(ev.sf_ret, -2);
    assert.equal((d.process as Doc).pid, 100);
    assert.deepEqual((d.process as Doc).thread, { id: tid });
  }
});

test('PE: top-level and nested key order', () => {
  const d = encode(pe({ container: { id: 'c0ffee', imageid: 'sha256:1' } }));
  assert.deepEqual(shape(d), [
    ['@timestamp', null],
    [
      'agent',
      [
        ['type', null],
        ['version', null],
      ],
    ],
    ['ecs', [['version', null]]],
    [
      'event',
      [
        ['action', null],
        ['category', null],
        ['duration', null],
        ['end', null],
        ['kind', null],
        ['sf_ret', null],
        ['sf_type', null],
        ['start', null],
        ['type', null],
      ],
    ],
    [
      'host',
      [
        ['id', null],
        ['ip', null],
      ],
    ],
    [
      'container',
      [
        ['id', null],
        [
          'image',
          [
            ['id', null],
            ['name', null],
          ],
        ],
        ['name', null],
        ['runtime', null],
        ['sf_privileged', null],
      ],
    ],
    [
      'process',
      [
        ['args', null],
        ['command_line', null],
        ['executable', null],
        ['name', null],
        [
          'parent',
          [
            ['args', null],
            ['command_line', null],
            ['executable', null],
            ['name', null],
            ['pid', null],
            ['start', null],
          ],
        ],
        ['pid', null],
        ['start', null],
        ['thread', [['id', null]]],
      ],
    ],
    [
      'user',
      [
        [
          'group',
          [
            ['id', null],
            ['name', null],
          ],
        ],
        ['id', null],
        ['name', null],
      ],
    ],
  ]);
});

test('process: command line without trailing space, missing parent and missing process', () => {
  let d = encode(pe({ exe: '/bin/ls', args: '' }));
  assert.equal((d.process as Doc).command_line, '/bin/ls');
  assert.equal((d.process as Doc).args, '');

  d = encode(pe({ exe: '/bin/ls', pid: 7, parent: null }));
  assert.deepEqual((d.process as Doc).parent, { args: '', command_line: '', executable: '', name: '.', pid: 0, start: '1970-01-01T00:00:00Z' });

  d = encode(pe({ proc: null, pid: 4242, tid: 4243, createTS: '1553543280000000001' }));
  assert.deepEqual(d.process, {
    args: '',
    command_line: '',
    executable: '',
    name: '.',
    parent: { args: '', command_line: '', executable: '', name: '.', pid: 0, start: '1970-01-01T00:00:00Z' },
    pid: 4242,
    start: '2019-03-25T19:48:00.000000001Z',
    thread: { id: 4243 },
  });
  assert.deepEqual(d.user, { group: { id: 0 }, id: 0 });
  assert.equal((d.event as Doc).type, 'thread-start');
});

test('user: names omitted when empty, negative ids kept', () => {
  const d = encode(pe({ uid: -1, user: '', gid: -1, group: '' }));
  assert.deepEqual(d.user, { group: { id: -1 }, id: -1 });
});

test('container: image only with an image id, runtime without CT_, privileged as a boolean', () => {
  let d = encode(pe({ container: { id: 'abc', name: 'web', image: 'nginx', imageid: 'sha256:9', type: 'CT_CRIO', privileged: true } }));
  assert.deepEqual(d.container, { id: 'abc', image: { id: 'sha256:9', name: 'nginx' }, name: 'web', runtime: 'CRIO', sf_privileged: true });
  d = encode(pe({ container: { id: 'abc', imageid: '' } }));
  assert.deepEqual(Object.keys(d.container as Doc), ['id', 'name', 'runtime', 'sf_privileged']);
  d = encode(pe({ container: { id: '' } }));
  assert.equal(d.container, undefined);
  assert.equal(encode(pe()).container, undefined);
});

function mkPod(services: Pod['services']): Pod {
  return {
    sfType: SfType.POD,
    ts: 1647543915026917000,
    tsNs: 26917000,
    id: 'pod-uid',
    name: 'web-1',
    nodeName: 'node-a',
    hostIP: [ipNum('192.168.59.100')],
    internalIP: [ipNum('172.17.0.16'), ipNum('10.0.0.5')],
    namespace: 'shop',
    restartCount: 2,
    labels: {},
    selectors: {},
    services,
  };
}

test('pod: orchestrator, pod and service sections', () => {
  const svc = [
    {
      name: 'web',
      id: 's1',
      namespace: 'shop',
      clusterIP: [ipNum('10.96.0.1')],
      portList: [
        { port: 80, targetPort: 8080, nodePort: 30080, proto: 'TCP' },
        { port: 443, targetPort: 8443, nodePort: 0, proto: 'TCP' },
      ],
    },
    { name: 'dns', id: 's2', namespace: 'kube-system', clusterIP: [], portList: [] },
  ];
  const d = encode(pe({ container: { id: 'c1', podId: 'pod-uid' }, pod: mkPod(svc) }));
  const keys = Object.keys(d);
  assert.deepEqual(keys, ['@timestamp', 'agent', 'ecs', 'event', 'host', 'container', 'orchestrator', 'pod', 'service', 'process', 'user']);
  assert.deepEqual(d.orchestrator, { namespace: 'shop', resource: { name: 'web-1', type: 'pod' }, type: 'kubernetes' });
  assert.deepEqual(d.pod, {
    hostip: ['192.168.59.100'],
    id: 'pod-uid',
    internalip: ['172.17.0.16', '10.0.0.5'],
    name: 'web-1',
    namespace: 'shop',
    nodename: 'node-a',
    restartcnt: 2,
    ts: '2022-03-17T19:05:15.026917Z',
  });
  assert.deepEqual(d.service, [
    {
      clusterip: ['10.96.0.1'],
      id: 's1',
      name: 'web',
      namespace: 'shop',
      ports: [
        { nodeport: 30080, port: 80, proto: 'TCP', targetport: 8080 },
        { nodeport: 0, port: 443, proto: 'TCP', targetport: 8443 },
      ],
    },
    { clusterip: [], id: 's2', name: 'dns', namespace: 'kube-system', ports: [] },
  ]);
  assert.deepEqual(shape((d.service as Doc[])[0]), [
    ['clusterip', [null]],
    ['id', null],
    ['name', null],
    ['namespace', null],
    [
      'ports',
      [
        [
          ['nodeport', null],
          ['port', null],
          ['proto', null],
          ['targetport', null],
        ],
        [
          ['nodeport', null],
          ['port', null],
          ['proto', null],
          ['targetport', null],
        ],
      ],
    ],
  ]);
  // no services: no service section
  const d2 = encode(pe({ pod: mkPod([]) }));
  assert.equal(d2.service, undefined);
  assert.ok(d2.pod);
});

test('FF: event classification by op flags and counters; sf_file_action with the true counters', () => {
  const R = OpFlags.READ_RECV;
  const W = OpFlags.WRITE_SEND;
  const O = OpFlags.OPEN | OpFlags.CLOSE;
  const cases: [number, number, number, number, number, string, string][] = [
    // flags, rbytes, rops, wbytes, wops, type, action
    [O | R, 832, 1, 0, 0, 'access', 'file-access-read'],
    [O | R, 0, 1, 0, 0, 'access', 'file-access-read'],
    [O | R, 0, 0, 0, 0, 'access', 'file-access'],
    [O, 100, 1, 0, 0, 'access', 'file-access'],
    [O | W, 0, 0, 5, 1, 'change', 'file-access-write'],
    [O | W, 0, 0, 0, 1, 'change', 'file-access-write'],
    [O | W, 0, 0, 0, 0, 'access', 'file-access'],
    [O | R | W, 10, 1, 20, 2, 'change', 'file-access-read-write'],
    [O | R | W, 10, 1, 0, 0, 'access', 'file-access-read'],
  ];
  for (const [flags, rbytes, rops, wbytes, wops, type, action] of cases) {
    const d = encode(ff({ flags, rbytes, rops, wbytes, wops, ts: '1553543280704262741', endTs: '1553543280704310559' }));
    const ev = d.event as Doc;
    assert.equal(ev.category, 'file');
    assert.equal(ev.type, type, action);
    assert.equal(ev.action, action);
    assert.equal(ev.duration, 47818);
    assert.equal(ev.end, '2019-03-25T19:48:00.704310559Z');
    assert.equal(ev.sf_ret, undefined, 'no sf_ret for FF');
    if (rbytes || rops || wbytes || wops) assert.deepEqual(d.sf_file_action, { bytes_read: rbytes, bytes_written: wbytes, read_ops: rops, write_ops: wops });
    else assert.equal(d.sf_file_action, undefined);
  }
});

test('FF: key order with file and sf_file_action', () => {
  const d = encode(ff({ path: '/lib64/libc.so.6' }));
  assert.deepEqual(Object.keys(d), ['@timestamp', 'agent', 'ecs', 'event', 'host', 'file', 'sf_file_action', 'process', 'user']);
  assert.deepEqual(d.file, { directory: '/lib64', name: 'libc.so.6', path: '/lib64/libc.so.6', type: 'file' });
});

test('file: type mapping, directories, symlink flag, empty path, relative names', () => {
  const types: [string, string][] = [
    ['f', 'file'],
    ['d', 'dir'],
    ['u', 'socket'],
    ['p', 'pipe'],
    ['4', 'unknown'],
    ['6', 'unknown'],
    ['?', 'unknown'],
    ['x', 'unknown'],
  ];
  for (const [restype, type] of types) {
    const d = encode(ff({ path: '/var/run/a.sock', restype }));
    if (type === 'dir') assert.deepEqual(d.file, { directory: '/var/run/a.sock', type: 'dir' });
    else assert.deepEqual(d.file, { directory: '/var/run', name: 'a.sock', path: '/var/run/a.sock', type }, restype);
  }
  // SYMLINK forces the type
  assert.equal((encode(fe({ flags: OpFlags.SYMLINK, path: '/tmp/l', newPath: '/etc/passwd' })).file as Doc).type, 'symlink');
  assert.equal((encode(fe({ flags: OpFlags.SYMLINK, path: '/tmp/d', restype: 'd', newPath: '/etc' })).file as Doc).type, 'symlink');
  // an empty path becomes /proc/<pid>/fd/<fd>, the name the fd
  assert.deepEqual(encode(ff({ path: '', pid: 321, fd: 7 })).file, { directory: '/proc/321/fd', name: '7', path: '/proc/321/fd/7', type: 'file' });
  // a bare name: no path key (path equals name)
  assert.deepEqual(encode(ff({ path: 'pipe:[1234]', restype: 'p' })).file, { directory: '.', name: 'pipe:[1234]', type: 'pipe' });
  // unix socket pairs: the path part only
  assert.deepEqual(encode(ff({ path: 'ffff8a1c2b3d4e5f->ffff8a1c2b3d4e60 /run/x.sock', restype: 'u' })).file, { directory: '/run', name: 'x.sock', path: '/run/x.sock', type: 'socket' });
  // memoised per file: the same file object with and without the symlink flag
  const a = fe({ flags: OpFlags.UNLINK, path: '/tmp/same' });
  assert.equal((encode(a).file as Doc).type, 'file');
  assert.equal((encode(a).file as Doc).type, 'file');
});

test('FE: event.type / event.action table and target_path', () => {
  const F = OpFlags;
  const cases: [number, string, string, string, boolean][] = [
    [F.MKDIR, 'directory', 'creation', 'directory-create', false],
    [F.RMDIR, 'directory', 'deletion', 'directory-delete', false],
    [F.UNLINK, 'file', 'deletion', 'file-delete', false],
    [F.SYMLINK, 'file', 'change', 'file-link', true],
    [F.LINK, 'file', 'change', 'file-link', true],
    [F.RENAME, 'file', 'change', 'file-rename', true],
    [F.MKDIR | F.UNLINK, 'directory', 'creation', 'directory-create', false],
    [F.UNLINK | F.RENAME, 'file', 'deletion', 'file-delete', false],
    [F.LINK | F.RENAME, 'file', 'change', 'file-link', true],
    [F.OPEN, 'file', 'change', 'file-change', false],
    [0, 'file', 'change', 'file-change', false],
  ];
  for (const [flags, category, type, action, target] of cases) {
    const d = encode(fe({ flags, path: '/tmp/a', newPath: '/tmp/b', ret: 0 }));
    const ev = d.event as Doc;
    assert.deepEqual([ev.category, ev.type, ev.action], [category, type, action], `flags ${flags}`);
    assert.equal(ev.sf_ret, 0);
    assert.equal(ev.duration, 0);
    assert.equal(ev.end, ev.start);
    const file = d.file as Doc;
    if (target) {
      assert.equal(file.target_path, '/tmp/b');
      assert.deepEqual(Object.keys(file), ['directory', 'name', 'path', 'target_path', 'type']);
    } else assert.equal(file.target_path, undefined);
    assert.equal(d.sf_file_action, undefined);
  }
  // rename without a new file: empty target
  assert.equal((encode(fe({ flags: OpFlags.RENAME, path: '/tmp/a' })).file as Doc).target_path, '');
  // a directory target keeps only directory + target_path
  assert.deepEqual(encode(fe({ flags: OpFlags.RENAME, restype: 'd', path: '/tmp/d1', newPath: '/tmp/d2' })).file, { directory: '/tmp/d1', target_path: '/tmp/d2', type: 'dir' });
});

test('NF: network, source, destination; counters not doubled; Community ID', () => {
  const d = encode(nf({ sip: '1.2.3.4', sport: 1122, dip: '5.6.7.8', dport: 3344, proto: 6, rbytes: 80, rops: 1, wbytes: 120, wops: 3 }));
  assert.deepEqual(Object.keys(d), ['@timestamp', 'agent', 'ecs', 'event', 'host', 'network', 'source', 'destination', 'process', 'user']);
  assert.deepEqual(d.network, { bytes: 200, community_id: '1:wCb3OG7yAFWelaUydu0D+125CLM=', iana_number: '6', protocol: 'tcp' });
  assert.deepEqual(d.source, { address: '1.2.3.4', bytes: 120, ip: '1.2.3.4', packets: 3, port: 1122 });
  assert.deepEqual(d.destination, { address: '5.6.7.8', bytes: 80, ip: '5.6.7.8', packets: 1, port: 3344 });
  const ev = d.event as Doc;
  assert.deepEqual([ev.category, ev.type, ev.action], ['network', 'connection', 'network-connection-traffic']);
  assert.equal(ev.sf_ret, undefined);
  // the reverse direction has the same Community ID
  const back = encode(nf({ sip: '5.6.7.8', sport: 3344, dip: '1.2.3.4', dport: 1122, proto: 6 }));
  assert.equal((back.network as Doc).community_id, '1:wCb3OG7yAFWelaUydu0D+125CLM=');
  for (const [proto, name] of [
    [17, 'udp'],
    [1, 'icmp'],
    [254, 'raw'],
    [132, ''],
    [0, ''],
  ] as const) {
    const n = encode(nf({ proto })).network as Doc;
    assert.equal(n.protocol, name);
    assert.equal(n.iana_number, String(proto));
  }
});

test('Community ID: published vectors (corelight/community-id-spec baseline, seed 0) and symmetry', () => {
  const v: [string, number, string, number, number, string][] = [
    ['1.2.3.4', 1122, '5.6.7.8', 3344, 6, '1:wCb3OG7yAFWelaUydu0D+125CLM='],
    ['128.232.110.120', 34855, '66.35.250.204', 80, 6, '1:LQU9qZlK+B5F3KDmev6m5PMibrg='],
    ['66.35.250.204', 80, '128.232.110.120', 34855, 6, '1:LQU9qZlK+B5F3KDmev6m5PMibrg='],
    ['192.168.1.52', 54585, '8.8.8.8', 53, 17, '1:d/FP5EW3wiY1vCndhwleRRKHowQ='],
    ['8.8.8.8', 53, '192.168.1.52', 54585, 17, '1:d/FP5EW3wiY1vCndhwleRRKHowQ='],
    ['192.168.170.8', 7, '192.168.170.56', 7, 132, '1:MP2EtRCAUIZvTw6MxJHLV7N7JDs='],
    ['192.168.170.56', 7, '192.168.170.8', 7, 132, '1:MP2EtRCAUIZvTw6MxJHLV7N7JDs='],
    // ICMP: type/code in the port positions; echo request ↔ reply is two-way, time exceeded one-way
    ['192.168.0.89', 8, '192.168.0.1', 0, 1, '1:X0snYXpgwiv9TZtqg64sgzUn6Dk='],
    ['192.168.0.1', 0, '192.168.0.89', 8, 1, '1:X0snYXpgwiv9TZtqg64sgzUn6Dk='],
    ['10.0.0.1', 11, '10.0.0.2', 0, 1, '1:YHxtAirCG//0OzkcVAukqKQN9xM='],
  ];
  for (const [s, sp, dd, dp, proto, want] of v) assert.equal(communityId(ipNum(s), sp, ipNum(dd), dp, proto), want, `${s}:${sp} → ${dd}:${dp}/${proto}`);
  // SysFlow stores IPs as signed ints: the same address either way
  assert.equal(communityId(ipNum('128.232.110.120') | 0, 34855, ipNum('66.35.250.204') | 0, 80, 6), '1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
  // same IP: the ports decide the order
  assert.equal(communityId(ipNum('10.0.0.1'), 80, ipNum('10.0.0.1'), 1234, 6), communityId(ipNum('10.0.0.1'), 1234, ipNum('10.0.0.1'), 80, 6));
});

test('KE: orchestration event, original message, orchestrator from the message', () => {
  const msg = JSON.stringify({ apiVersion: 'v1', items: [{ name: 'user-899b', namespace: 'robot-shop', uid: 'u1' }], kind: 'Pod', type: 'ADDED' });
  const cases: [string, string][] = [
    ['K8S_COMPONENT_ADDED', 'creation'],
    ['K8S_COMPONENT_DELETED', 'deletion'],
    ['K8S_COMPONENT_MODIFIED', 'change'],
    ['K8S_COMPONENT_ERROR', 'error'],
    ['K8S_COMPONENT_NONEXISTENT', 'info'],
    ['K8S_COMPONENT_UNKNOWN', 'info'],
  ];
  for (const [action, type] of cases) {
    const text = encodeText(ke({ action, message: msg + '\n\u0000', ts: '1647544504410939817' }));
    const d = JSON.parse(text) as Doc;
    assert.deepEqual(Object.keys(d), ['@timestamp', 'agent', 'ecs', 'event', 'host', 'orchestrator']);
    assert.deepEqual(d.event, {
      action,
      category: 'orchestration',
      duration: 0,
      end: '2022-03-17T19:15:04.410939817Z',
      kind: 'event',
      original: msg,
      sf_type: 'KE',
      start: '2022-03-17T19:15:04.410939817Z',
      type,
    });
    assert.deepEqual(d.orchestrator, { namespace: 'robot-shop', resource: { name: 'user-899b', type: 'pod' }, type: 'kubernetes' });
    assert.ok(!text.includes('<') && !text.includes('\\u0000'));
  }
  // a message that is not JSON: empty orchestrator values
  const d = encode(ke({ message: 'not json' }));
  assert.deepEqual(d.orchestrator, { namespace: '', resource: { name: '', type: '' }, type: 'kubernetes' });
  assert.equal((d.event as Doc).original, 'not json');
});

test('rules: event.kind alert, reason, severity (minimum 1), tags after context tags', () => {
  const r = pe();
  r.addTag('ctx:1');
  r.addRule(rule('Shell spawned', 2, ['mitre:T1059', 'shell']));
  r.addRule(rule('Second rule', 3, ['']));
  const d = encode(r);
  const ev = d.event as Doc;
  assert.equal(ev.kind, 'alert');
  assert.equal(ev.reason, 'Shell spawned, Second rule');
  assert.equal(ev.severity, 3);
  assert.deepEqual(d.tags, ['ctx:1', 'mitre:T1059', 'shell', '']);
  assert.deepEqual(Object.keys(ev), ['action', 'category', 'duration', 'end', 'kind', 'reason', 'severity', 'sf_ret', 'sf_type', 'start', 'type']);
  assert.equal(Object.keys(d).at(-1), 'tags');

  const low = pe();
  low.addRule(rule('info only', 0));
  const dl = encode(low);
  assert.equal((dl.event as Doc).severity, 1);
  assert.equal((dl.event as Doc).kind, 'alert');
  assert.equal(dl.tags, undefined, 'no tags: no key');

  const tagOnly = pe();
  tagOnly.addTag('t');
  const dt = encode(tagOnly);
  assert.equal((dt.event as Doc).kind, 'event');
  assert.equal((dt.event as Doc).reason, undefined);
  assert.deepEqual(dt.tags, ['t']);

  const k = ke({ message: '{}' });
  k.addRule(rule('k8s', 4, ['k']));
  const dk = encode(k);
  assert.equal((dk.event as Doc).severity, 4);
  assert.deepEqual(Object.keys(dk), ['@timestamp', 'agent', 'ecs', 'event', 'host', 'orchestrator', 'tags']);
});

test('strings: Go escaping (<>& \\u2028, controls, lone surrogates)', () => {
  const text = encodeText(pe({ exe: '/opt/a<b>&c', args: 'x\ty\u0001\u2028"\\\ud800' }));
  assert.ok(text.includes('"executable":"/opt/a\\u003cb\\u003e\\u0026c"'), text);
  assert.ok(text.includes('"args":"x\\ty\\u0001\\u2028\\"\\\\\ufffd"'), text);
  assert.equal((JSON.parse(text).process as Doc).name, 'a<b>&c');
});

test('agent and ecs versions from the encoder options; host from the header', () => {
  let d = JSON.parse(encodeText(pe(), new EcsEncoder('', ''))) as Doc;
  assert.deepEqual(d.agent, { type: 'SysFlow' });
  assert.deepEqual(d.ecs, {});
  d = encode(pe({ header: null }));
  assert.deepEqual(d.host, { id: '', ip: 'NA' });
  d = encode(pe({ header: { ...mkHeader({ exporter: 'old' }), ip: undefined } }));
  assert.deepEqual(d.host, { id: 'old', ip: 'NA' });
});

test('time: RFC 3339 with trimmed nanoseconds; exact 64-bit values; durations', () => {
  const iso = (v: string) => {
    const b = BigInt(v);
    const ns = Number(((b % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n);
    return isoNano(Number(b), ns);
  };
  assert.equal(iso('1553543280704111050'), '2019-03-25T19:48:00.70411105Z');
  assert.equal(iso('1553543280000000000'), '2019-03-25T19:48:00Z');
  assert.equal(iso('1553543280100000000'), '2019-03-25T19:48:00.1Z');
  assert.equal(iso('1553543280000000001'), '2019-03-25T19:48:00.000000001Z');
  assert.equal(iso('0'), '1970-01-01T00:00:00Z');
  assert.equal(iso('-1'), '1969-12-31T23:59:59.999999999Z');
  assert.equal(iso('9223372036854775807'), '2262-04-11T23:47:16.854775807Z');
  // the encoder writes the same text
  const d = encode(ff({ ts: '1553543280000000001', endTs: '1553543290999999999' }));
  assert.equal(d['@timestamp'], '2019-03-25T19:48:00.000000001Z');
  assert.equal((d.event as Doc).end, '2019-03-25T19:48:10.999999999Z');
  assert.equal((d.event as Doc).duration, 10999999998);
  // end 0 → end = start, duration 0
  const z = encode(nf({ ts: '1553543280704111050', endTs: 0 }));
  assert.equal((z.event as Doc).end, '2019-03-25T19:48:00.70411105Z');
  assert.equal((z.event as Doc).duration, 0);
});

// ---------------------------------------------------------------------------------------------
// document id

const xx = await xxhash();
function le64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt.asIntN(64, v));
  return b;
}
const i32 = (v: number) => BigInt(v | 0);

test('ecsDocId: XXH64 over the documented byte layout', () => {
  const ts = 1553543280704111050n;
  const createTS = 1553543200000000123n;
  const expect = (parts: Buffer[]) => xx.h64Raw(Buffer.concat(parts)).toString(16).padStart(16, '0');

  const p = pe({ ts: String(ts), pid: 55, tid: 56, createTS: String(createTS), flags: OpFlags.EXEC, container: { id: 'cid1' } });
  assert.equal(ecsDocId(p), expect([Buffer.from('node-1'), Buffer.from('cid1'), le64(ts), le64(56n), le64(createTS), le64(BigInt(OpFlags.EXEC))]));
  assert.match(ecsDocId(p), /^[0-9a-f]{16}$/);
  assert.equal(enc.docId(p), ecsDocId(p));

  const f = ff({ ts: String(ts), pid: 55, createTS: String(createTS) });
  const fr = f.rec as FileFlow;
  assert.equal(ecsDocId(f), expect([Buffer.from('node-1'), Buffer.alloc(0), le64(ts), le64(55n), le64(createTS), le64(BigInt(fr.opFlags)), Buffer.from(fr.fileOID)]));

  const n = nf({ ts: String(ts), pid: 55, createTS: String(createTS), sip: '10.1.2.200', dip: '192.168.1.1', sport: 40000, dport: 443, proto: 6 });
  const nr = n.rec as NetworkFlow;
  assert.equal(
    ecsDocId(n),
    expect([Buffer.from('node-1'), Buffer.alloc(0), le64(ts), le64(55n), le64(createTS), le64(BigInt(nr.opFlags)), le64(i32(nr.sip)), le64(40000n), le64(i32(nr.dip)), le64(443n), le64(6n)]),
  );

  const k = ke({ ts: String(ts), action: 'K8S_COMPONENT_DELETED', kind: 'K8S_SERVICES', message: '{"a":1}\n\u0000' });
  assert.equal(ecsDocId(k), expect([Buffer.from('node-1'), Buffer.alloc(0), le64(ts), le64(0n), le64(0n), le64(0n), le64(2n), le64(4n), Buffer.from('{"a":1}')]));

  // distinct records, distinct ids; the same record, the same id
  assert.notEqual(ecsDocId(pe({ ts: '1' })), ecsDocId(pe({ ts: '2' })));
  assert.equal(ecsDocId(p), ecsDocId(p));
});

// ---------------------------------------------------------------------------------------------
// 2. corpus validation

/**
 * The documented field list (docs/ecs.md): leaf path → JSON type; `!` = always present.
 *   date: RFC 3339 UTC string; ip: dotted IPv4 string; ips: array of those; num: decimal string;
 *   cid: Community ID string. (source/destination.address hold an IP but are keywords, as in ECS.)
 */
type FieldSpec = Record<string, string>;
const COMMON: FieldSpec = {
  '@timestamp': 'date!',
  'agent.type': 'str!',
  'agent.version': 'str',
  'ecs.version': 'str!',
  'event.action': 'str!',
  'event.category': 'str!',
  'event.duration': 'int!',
  'event.end': 'date!',
  'event.kind': 'str!',
  'event.reason': 'str',
  'event.severity': 'int',
  'event.sf_type': 'str!',
  'event.start': 'date!',
  'event.type': 'str!',
  'host.id': 'str!',
  'host.ip': 'str!',
  tags: 'strs',
};
const PROCESS_CONTEXT: FieldSpec = {
  'container.id': 'str',
  'container.image.id': 'str',
  'container.image.name': 'str',
  'container.name': 'str',
  'container.runtime': 'str',
  'container.sf_privileged': 'bool',
  'orchestrator.namespace': 'str',
  'orchestrator.resource.name': 'str',
  'orchestrator.resource.type': 'str',
  'orchestrator.type': 'str',
  'pod.hostip': 'ips',
  'pod.id': 'str',
  'pod.internalip': 'ips',
  'pod.name': 'str',
  'pod.namespace': 'str',
  'pod.nodename': 'str',
  'pod.restartcnt': 'int',
  'pod.ts': 'date',
  'service.clusterip': 'ips',
  'service.id': 'str',
  'service.name': 'str',
  'service.namespace': 'str',
  'service.ports.nodeport': 'int',
  'service.ports.port': 'int',
  'service.ports.proto': 'str',
  'service.ports.targetport': 'int',
  'process.args': 'str!',
  'process.command_line': 'str!',
  'process.executable': 'str!',
  'process.name': 'str!',
  'process.parent.args': 'str!',
  'process.parent.command_line': 'str!',
  'process.parent.executable': 'str!',
  'process.parent.name': 'str!',
  'process.parent.pid': 'int!',
  'process.parent.start': 'date!',
  'process.pid': 'int!',
  'process.start': 'date!',
  'process.thread.id': 'int!',
  'user.group.id': 'int!',
  'user.group.name': 'str',
  'user.id': 'int!',
  'user.name': 'str',
};
const FILE: FieldSpec = { 'file.directory': 'str!', 'file.name': 'str', 'file.path': 'str', 'file.type': 'str!' };
const ENDPOINTS = (counters: boolean): FieldSpec => {
  const s: FieldSpec = {};
  for (const side of ['source', 'destination']) {
    s[`${side}.address`] = 'ip!';
    s[`${side}.ip`] = 'ip!';
    s[`${side}.port`] = 'int!';
    if (counters) {
      s[`${side}.bytes`] = 'int!';
      s[`${side}.packets`] = 'int!';
    }
  }
  return s;
};
const FIELDS: Record<string, FieldSpec> = {
  PE: { ...COMMON, ...PROCESS_CONTEXT, 'event.sf_ret': 'int!' },
  FF: {
    ...COMMON,
    ...PROCESS_CONTEXT,
    ...FILE,
    'sf_file_action.bytes_read': 'int',
    'sf_file_action.bytes_written': 'int',
    'sf_file_action.read_ops': 'int',
    'sf_file_action.write_ops': 'int',
  },
  FE: { ...COMMON, ...PROCESS_CONTEXT, ...FILE, 'file.target_path': 'str', 'event.sf_ret': 'int!' },
  NF: {
    ...COMMON,
    ...PROCESS_CONTEXT,
    ...ENDPOINTS(true),
    'network.bytes': 'int!',
    'network.community_id': 'cid!',
    'network.iana_number': 'num!',
    'network.protocol': 'str!',
  },
  NE: { ...COMMON, ...PROCESS_CONTEXT, ...ENDPOINTS(false), 'network.community_id': 'cid!', 'network.iana_number': 'num!', 'network.protocol': 'str!', 'event.sf_ret': 'int!' },
  PF: { ...COMMON, ...PROCESS_CONTEXT },
  KE: {
    ...COMMON,
    'event.original': 'str!',
    'orchestrator.namespace': 'str!',
    'orchestrator.resource.name': 'str!',
    'orchestrator.resource.type': 'str!',
    'orchestrator.type': 'str!',
  },
};
const TOP_ORDER = [
  '@timestamp',
  'agent',
  'ecs',
  'event',
  'host',
  'container',
  'orchestrator',
  'pod',
  'service',
  'file',
  'sf_file_action',
  'network',
  'source',
  'destination',
  'process',
  'user',
  'tags',
];
const CATEGORIES: Record<string, string[]> = {
  PE: ['process'],
  FF: ['file'],
  FE: ['file', 'directory'],
  NF: ['network'],
  NE: ['network'],
  PF: ['process'],
  KE: ['orchestration'],
};

const DATE_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$/;
const IP_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const isIp = (v: unknown) => typeof v === 'string' && IP_RE.test(v) && v.split('.').every((o) => Number(o) <= 255);

function typeOk(t: string, v: unknown): boolean {
  switch (t) {
    case 'str':
      return typeof v === 'string';
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'bool':
      return typeof v === 'boolean';
    case 'date':
      return typeof v === 'string' && DATE_RE.test(v);
    case 'ip':
      return isIp(v);
    case 'ips':
      return Array.isArray(v) && v.every(isIp);
    case 'strs':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'num':
      return typeof v === 'string' && /^-?\d+$/.test(v); // SysFlow's proto is an int: -1 occurs
    case 'cid':
      return typeof v === 'string' && /^1:[A-Za-z0-9+/]{27}=$/.test(v);
    default:
      throw new Error(`unknown type ${t}`);
  }
}

/** Leaves as [dotted path, value]; arrays of objects are walked per element under the same path. */
function leaves(v: unknown, path: string, out: [string, unknown][]): void {
  if (Array.isArray(v) && v.some((x) => x !== null && typeof x === 'object')) {
    for (const x of v) leaves(x, path, out);
    return;
  }
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
    return;
  }
  out.push([path, v]);
}

/** Every object below the top level has its keys in byte order (Go's map encoding). */
function checkSorted(v: unknown, path: string): void {
  if (Array.isArray(v)) {
    for (const x of v) checkSorted(x, path);
    return;
  }
  if (v === null || typeof v !== 'object') return;
  const keys = Object.keys(v);
  if (path !== '') {
    const sorted = [...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(keys, sorted, `keys of ${path} sorted`);
  }
  for (const k of keys) checkSorted((v as Doc)[k], path ? `${path}.${k}` : k);
}

// the shipped index template
interface Mapping {
  type?: string;
  properties?: Record<string, Mapping>;
  index?: boolean;
  ignore_malformed?: boolean;
}
const TEMPLATE = JSON.parse(readFileSync(join(ROOT, 'resources', 'elasticsearch', 'sysflow-ecs-template.json'), 'utf8')) as {
  index_patterns: string[];
  template: { mappings: { properties: Record<string, Mapping>; dynamic?: unknown } };
};

function mappingOf(path: string): Mapping | undefined {
  let props: Record<string, Mapping> | undefined = TEMPLATE.template.mappings.properties;
  let m: Mapping | undefined;
  for (const part of path.split('.')) {
    m = props?.[part];
    if (m === undefined) return undefined;
    props = m.properties;
  }
  return m;
}

/** Can ES index this JSON value into a field of this mapping type (without coercion failures)? */
function mappingAccepts(m: Mapping, v: unknown, path: string): boolean {
  const vals = Array.isArray(v) ? v : [v];
  return vals.every((x) => {
    switch (m.type) {
      case 'keyword':
        return typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
      case 'text':
      case 'match_only_text':
        return typeof x === 'string';
      case 'long':
        return typeof x === 'number' && Number.isInteger(x);
      case 'boolean':
        return typeof x === 'boolean';
      case 'date':
        return typeof x === 'string' && DATE_RE.test(x);
      case 'ip':
        return isIp(x) || (m.ignore_malformed === true && path === 'host.ip');
      default:
        return false;
    }
  });
}

/** The leaf paths a field spec (and so the template) must cover. */
const ALL_SPEC_PATHS = [...new Set(Object.values(FIELDS).flatMap((s) => Object.keys(s)))];

test('index template: composable, sysflow-*, maps every documented field with the right type', () => {
  assert.deepEqual(TEMPLATE.index_patterns, ['sysflow-*']);
  const want: Record<string, string> = {
    date: 'date',
    int: 'long',
    bool: 'boolean',
    ip: 'ip',
    ips: 'ip',
    cid: 'keyword',
    num: 'keyword',
    strs: 'keyword',
  };
  const keywordIds = new Set(['user.id', 'user.group.id', 'host.ip', 'source.address', 'destination.address']);
  for (const path of ALL_SPEC_PATHS) {
    const m = mappingOf(path);
    assert.ok(m?.type, `template maps ${path}`);
    const t = Object.values(FIELDS)
      .map((s) => s[path])
      .find((x) => x !== undefined)!
      .replace('!', '');
    if (path === 'event.original') {
      assert.equal(m.type, 'text');
      assert.equal(m.index, false);
    } else if (keywordIds.has(path)) {
      if (path === 'host.ip') {
        assert.equal(m.type, 'ip');
        assert.equal(m.ignore_malformed, true, 'host.ip of old traces is "NA"');
      } else assert.equal(m.type, 'keyword', `${path}: ECS keyword`);
    } else if (t === 'str') assert.equal(m.type, 'keyword', path);
    else assert.equal(m.type, want[t], path);
  }
  assert.equal(mappingOf('network.transport'), undefined, 'network.protocol, not upstream’s network.transport');
  assert.equal(mappingOf('network.protocol')?.type, 'keyword');
  // nothing mapped that the encoder never writes
  const mapped: string[] = [];
  const walk = (props: Record<string, Mapping>, prefix: string) => {
    for (const [k, m] of Object.entries(props)) {
      const p = prefix ? `${prefix}.${k}` : k;
      if (m.properties) walk(m.properties, p);
      else mapped.push(p);
    }
  };
  walk(TEMPLATE.template.mappings.properties, '');
  assert.deepEqual(
    mapped.filter((p) => !ALL_SPEC_PATHS.includes(p)),
    [],
  );
});

/** Independent RFC 3339 text of an exact nanosecond count. */
function isoOfBig(n: bigint): string {
  let sec = n / 1_000_000_000n;
  let frac = n % 1_000_000_000n;
  if (frac < 0n) {
    frac += 1_000_000_000n;
    sec -= 1n;
  }
  const f = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return new Date(Number(sec) * 1000).toISOString().slice(0, 19) + f + 'Z';
}
const big = (v: unknown): bigint => (typeof v === 'string' && v.startsWith('#int:') ? BigInt(v.slice(5)) : BigInt(v as number));

function validate(d: Doc, type: string, where: string): void {
  const spec = FIELDS[type];
  assert.ok(spec, `${where}: a field list for ${type}`);
  // top-level order: a subsequence of the fixed order
  let last = -1;
  for (const k of Object.keys(d)) {
    const i = TOP_ORDER.indexOf(k);
    assert.ok(i > last, `${where}: top-level key ${k} in order`);
    last = i;
  }
  checkSorted(d, '');
  const ls: [string, unknown][] = [];
  leaves(d, '', ls);
  const seen = new Set<string>();
  for (const [path, v] of ls) {
    const t = spec[path];
    assert.ok(t !== undefined, `${where}: ${type} documents have no ${path}`);
    assert.ok(typeOk(t.replace('!', ''), v), `${where}: ${path} = ${JSON.stringify(v)} is not ${t}`);
    const m = mappingOf(path);
    assert.ok(m?.type, `${where}: template maps ${path}`);
    assert.ok(mappingAccepts(m, v, path), `${where}: ${path} = ${JSON.stringify(v)} fits the ${m.type} mapping`);
    seen.add(path);
  }
  for (const [path, t] of Object.entries(spec)) if (t.endsWith('!')) assert.ok(seen.has(path), `${where}: ${type} documents have ${path}`);
  const ev = d.event as Doc;
  assert.equal(ev.sf_type, type);
  assert.ok(CATEGORIES[type]!.includes(ev.category as string), `${where}: category ${ev.category}`);
  // sections all-or-nothing
  if (d.sf_file_action) assert.equal(Object.keys(d.sf_file_action as Doc).length, 4);
  if (d.pod) assert.ok(d.orchestrator, `${where}: pod implies orchestrator`);
}

/** Values that must agree with the json encoder's document for the same record. */
function compareWithJson(d: Doc, j: Doc, type: string, where: string): void {
  const ev = d.event as Doc;
  assert.equal(d['@timestamp'], isoOfBig(big(j.ts)), `${where}: @timestamp`);
  assert.equal(ev.start, d['@timestamp']);
  const endts = big(j.endts);
  assert.equal(ev.end, endts === 0n ? d['@timestamp'] : isoOfBig(endts), `${where}: event.end`);
  assert.equal(BigInt(ev.duration as number), endts === 0n ? 0n : endts - big(j.ts), `${where}: event.duration`);
  assert.equal(ev.sf_type, j.type);
  if (ev.sf_ret !== undefined) assert.equal(ev.sf_ret, j.ret);
  const node = j.node as Doc;
  assert.deepEqual(d.host, { id: node.id, ip: node.ip });
  if (type === 'KE') {
    const k = j.ke as Doc;
    assert.equal(ev.action, k.action);
    assert.equal(ev.original, (k.message as string).replace(/[\n\u0000]+$/, ''));
    return;
  }
  const jp = j.proc as Doc;
  const p = d.process as Doc;
  assert.equal(p.pid, jp.pid, `${where}: pid`);
  assert.equal((p.thread as Doc).id, jp.tid, `${where}: tid`);
  assert.equal(p.executable, jp.exe);
  assert.equal(p.args, jp.args);
  assert.equal(p.name, jp.exe === '' ? '.' : jp.name);
  assert.equal(p.start, isoOfBig(big(jp.createts)));
  assert.equal(p.command_line, jp.args === '' ? jp.exe : `${jp.exe} ${jp.args}`);
  const user = d.user as Doc;
  assert.equal(user.id, jp.uid);
  assert.equal((user.group as Doc).id, jp.gid);
  assert.equal(user.name, jp.user === '' ? undefined : jp.user);
  const jpp = j.pproc as Doc | undefined;
  const pp = p.parent as Doc;
  assert.equal(pp.pid, jpp ? jpp.pid : 0);
  if (jpp) {
    assert.equal(pp.executable, jpp.exe);
    assert.equal(pp.command_line, jpp.cmdline);
    assert.equal(pp.start, isoOfBig(big(jpp.createts)));
  }
  const jc = j.container as Doc | undefined;
  if (jc) assert.equal((d.container as Doc).id, jc.id);
  else assert.equal(d.container, undefined);
  const jpod = j.pod as Doc | undefined;
  if (jpod) {
    assert.equal((d.pod as Doc).id, jpod.id);
    assert.deepEqual((d.pod as Doc).hostip, jpod.hostip);
  } else assert.equal(d.pod, undefined);
  if (type === 'FF' || type === 'FE') {
    const jf = j.file as Doc;
    const f = d.file as Doc;
    const path = jf.path as string;
    if (path === '') assert.match(f.directory as string, /^\/proc\/\d+\/fd$/);
    else if (f.type === 'dir') assert.equal(f.directory, path);
    else {
      assert.equal(f.name, jf.name, `${where}: file.name`);
      assert.equal(f.directory, jf.directory, `${where}: file.directory`);
      assert.equal(f.path ?? f.name, path);
    }
    if (f.target_path !== undefined) assert.equal(f.target_path, jf.newpath);
  }
  if (type === 'FF') {
    const fl = j.flow as Doc;
    const a = d.sf_file_action as Doc | undefined;
    if (a) assert.deepEqual(a, { bytes_read: fl.rbytes, bytes_written: fl.wbytes, read_ops: fl.rops, write_ops: fl.wops }, `${where}: true counters`);
    else assert.deepEqual([fl.rbytes, fl.rops, fl.wbytes, fl.wops], [0, 0, 0, 0]);
  }
  if (type === 'NF') {
    const fl = j.flow as Doc;
    const net = j.net as Doc;
    assert.equal((d.network as Doc).bytes, (fl.rbytes as number) + (fl.wbytes as number));
    assert.equal((d.network as Doc).iana_number, String(net.proto));
    assert.equal((d.network as Doc).community_id, communityId(ipNum(net.sip as string), net.sport as number, ipNum(net.dip as string), net.dport as number, net.proto as number));
    assert.deepEqual(d.source, { address: net.sip, bytes: fl.wbytes, ip: net.sip, packets: fl.wops, port: net.sport });
    assert.deepEqual(d.destination, { address: net.dip, bytes: fl.rbytes, ip: net.dip, packets: fl.rops, port: net.dport });
  }
}

test('NE and PF (extensions): documents that follow the field list', () => {
  const base = nf({ sip: '10.0.0.1', dip: '10.0.0.2', sport: 5000, dport: 53, proto: 17, container: { id: 'c1' } });
  const n = base.rec as NetworkFlow;
  const neRec: NetworkEvent = {
    sfType: SfType.NE,
    procOID: n.procOID,
    ts: n.ts,
    tsNs: n.tsNs,
    tid: n.tid,
    opFlags: OpFlags.CONNECT,
    sip: n.sip,
    sport: n.sport,
    dip: n.dip,
    dport: n.dport,
    proto: n.proto,
    ret: -111,
  };
  const ne = new FlatRecord(SfType.NE, neRec, base.header, base.proc, base.pproc, base.container, base.pod, undefined, undefined, () => base.ptree);
  const d = encode(ne);
  validate(d, 'NE', 'NE');
  assert.deepEqual(d.network, { community_id: communityId(n.sip, 5000, n.dip, 53, 17), iana_number: '17', protocol: 'udp' });
  assert.deepEqual(d.source, { address: '10.0.0.1', ip: '10.0.0.1', port: 5000 });
  assert.deepEqual(d.destination, { address: '10.0.0.2', ip: '10.0.0.2', port: 53 });
  assert.deepEqual([(d.event as Doc).action, (d.event as Doc).sf_ret], ['network-connection', -111]);

  const pfRec: ProcessFlow = {
    sfType: SfType.PF,
    procOID: n.procOID,
    ts: n.ts,
    tsNs: n.tsNs,
    numThreadsCloned: 3,
    opFlags: OpFlags.CLONE | OpFlags.EXIT,
    endTs: n.ts + 2000,
    endTsNs: n.tsNs + 2000,
    numThreadsExited: 2,
    numCloneErrors: 0,
  };
  const pf = new FlatRecord(SfType.PF, pfRec, base.header, base.proc, base.pproc, base.container, base.pod, undefined, undefined, () => base.ptree);
  const dp = encode(pf);
  validate(dp, 'PF', 'PF');
  assert.deepEqual([(dp.event as Doc).category, (dp.event as Doc).type, (dp.event as Doc).action, (dp.event as Doc).duration], ['process', 'info', 'process-flow', 2000]);
  assert.equal((dp.process as Doc).pid, n.procOID.hpid);
  assert.match(ecsDocId(pf), /^[0-9a-f]{16}$/);
});

const TRACES = listTraces();

test(`corpus: every record validates against the field list and the template (${CORPUS_NOTE})`, async (t) => {
  const json = new JsonEncoder('5');
  const e = new EcsEncoder('test', '8.2');
  const total: Record<string, number> = {};
  let dupIds = 0;
  for (const trace of TRACES) {
    const recs = await flatRecords(tracePath(trace));
    const ids = new Set<string>();
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i]!;
      const type = ['', '', '', '', 'PE', 'NF', 'FF', 'FE', 'NE', 'PF', '', 'KE'][r.sfType]!;
      const where = `${trace}#${i} (${type})`;
      const s = new MemorySink();
      e.encode(r, s);
      const text = s.text();
      assert.equal(text.indexOf('\n'), text.length - 1, `${where}: one line`);
      let d: Doc;
      try {
        d = JSON.parse(text) as Doc;
      } catch (err) {
        assert.fail(`${where}: invalid JSON ${(err as Error).message}: ${text.slice(0, 200)}`);
      }
      validate(d, type, where);
      const js = new MemorySink();
      json.encode(r, js);
      compareWithJson(d, parseExactJson(js.text()) as Doc, type, where);
      const id = ecsDocId(r);
      assert.match(id, /^[0-9a-f]{16}$/);
      if (ids.has(id)) dupIds++;
      ids.add(id);
      total[type] = (total[type] ?? 0) + 1;
    }
  }
  t.diagnostic(
    `${TRACES.length} traces: ${Object.entries(total)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  assert.equal(dupIds, 0, 'document ids are unique within a trace');
  assert.ok((total.PE ?? 0) > 0 && (total.FF ?? 0) > 0 && (total.NF ?? 0) > 0, 'the traces exercise PE, FF and NF');
});

test('pipeline: exporter with format ecs writes one document per record', async () => {
  const trace = TRACES.find((t) => t.endsWith('tcp.sf')) ?? TRACES[0]!;
  const pipeline = [
    { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
    { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich' },
    { processor: 'exporter', in: 'evt eventchan', export: 'memory', format: 'ecs' },
  ];
  const { text } = await runPipeline(tracePath(trace), pipeline);
  const lines = text.split('\n');
  assert.equal(lines.pop(), '');
  const recs = await flatRecords(tracePath(trace));
  assert.equal(lines.length, recs.length);
  for (const line of lines) {
    const d = JSON.parse(line) as Doc;
    assert.deepEqual(d.agent, { type: 'SysFlow', version: 'test' });
    assert.deepEqual(d.ecs, { version: '8.2' });
  }
  const first = JSON.parse(lines[0]!) as Doc;
  assert.equal(get(first, 'event.sf_type'), ['', '', '', '', 'PE', 'NF', 'FF', 'FE', 'NE', 'PF', '', 'KE'][recs[0]!.sfType]);
});
