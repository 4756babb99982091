/**
 * Native eBPF collector (native/): build, self-tests, command line, and live collection.
 *
 * Live tests run the collector as `sfcollector -w FILE -- WORKLOAD`, where the workloads are tiny C
 * programs with exact syscalls (test/fixtures/collector/*.c), and assert on meaning through our own
 * reader (core/avro/ocf.ts) and plain avsc. They need root and a kernel whose tracepoint programs
 * load; anywhere else they are skipped with the reason printed. The self-tests (Avro encoder, OCF,
 * SHA-1, engine semantics) need only a C compiler and zlib.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { SysFlowFileReader } from '../../core/avro/ocf.js';
import { exactToString } from '../../core/util/i64.js';
import { OpFlags, OpenFlags } from '../../core/sysflow/flags.js';
import { SYSFLOW_SCHEMA } from '../../core/sysflow/schema.js';
import type { FileEvent, FileFlow, NetworkFlow, Process, ProcessEvent, ProcessFlow, SFHeader, SysFlowRecord, File as SfFile } from '../../core/sysflow/types.js';
import {
  COLLECTOR,
  SELFTEST,
  buildWorkload,
  checkReferences,
  collectorAvailability,
  decodeDatum,
  decodeWithAvsc,
  oidKey,
  parseSummary,
  readRecords,
  runCollector,
  sleep,
  splitCapture,
  startListener,
  stopProcess,
  tempDir,
} from '../helpers/collector.js';

const avail = collectorAvailability();
for (const [what, reason] of [
  ['self-tests', avail.selftest],
  ['command-line tests', avail.build],
  ['live eBPF tests', avail.live],
] as const) {
  if (reason) console.warn(`# SKIPPING native collector ${what}: ${reason}`);
}

const dirs: string[] = [];
function scratch(): string {
  const d = tempDir('sfc-test-');
  dirs.push(d);
  return realpathSync(d);
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const foid = (path: string) => createHash('sha1').update(path).digest('hex');
const IP_127_0_0_1 = 16777343; // network-order bytes read as a little-endian int
const has = (flags: number, ...bits: number[]) => bits.every((b) => (flags & b) === b);
const ts = (r: { ts: number; tsNs: number }) => BigInt(exactToString(r.ts, r.tsNs));

const isH = (r: SysFlowRecord): r is SFHeader => r.sfType === 0;
const isP = (r: SysFlowRecord): r is Process => r.sfType === 2;
const isF = (r: SysFlowRecord): r is SfFile => r.sfType === 3;
const isPE = (r: SysFlowRecord): r is ProcessEvent => r.sfType === 4;
const isNF = (r: SysFlowRecord): r is NetworkFlow => r.sfType === 5;
const isFF = (r: SysFlowRecord): r is FileFlow => r.sfType === 6;
const isFE = (r: SysFlowRecord): r is FileEvent => r.sfType === 7;
const isPF = (r: SysFlowRecord): r is ProcessFlow => r.sfType === 9;

/** The latest definition of each process/file seen before index i (as a streaming reader resolves). */
function resolver(recs: SysFlowRecord[]) {
  return {
    procAt(i: number, key: string): Process | undefined {
      for (let j = i - 1; j >= 0; j--) {
        const r = recs[j]!;
        if (isH(r)) return undefined;
        if (isP(r) && oidKey(r.oid) === key) return r;
      }
      return undefined;
    },
    fileAt(i: number, oid: string): SfFile | undefined {
      for (let j = i - 1; j >= 0; j--) {
        const r = recs[j]!;
        if (isH(r)) return undefined;
        if (isF(r) && r.oid === oid) return r;
      }
      return undefined;
    },
  };
}

// ---------------------------------------------------------------------------------------------------

// Skips are per test, so the runner's skipped count shows them.
const selftestSkip = avail.selftest ?? false;
const buildSkip = avail.build ?? false;
const liveSkip = avail.live ?? false;

describe('native collector: self-tests (no privileges needed)', () => {
  test('C self-tests: Avro encodings, SHA-1 vectors, paths, open flags, OCF deflate round trip, 16 KiB cap', { skip: selftestSkip }, () => {
    const r = spawnSync(SELFTEST, [], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /selftest: \d+ checks passed/);
  });

  test('engine scenario: decodes with our reader and avsc; sf-collector semantics hold', { skip: selftestSkip }, async () => {
    const out = join(scratch(), 'scenario.sf');
    const r = spawnSync(SELFTEST, ['--scenario', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);

    const reader = SysFlowFileReader.open(out);
    assert.equal(reader.header.codec, 'deflate');
    assert.equal(reader.header.metadata.get('avro.schema')!.toString(), JSON.stringify(SYSFLOW_SCHEMA), 'the embedded schema is core/sysflow/schema.ts');
    assert.deepEqual([...reader.header.sync], [...Array(16).keys()]);
    reader.close();
    const recs = readRecords(out);
    const viaAvsc = await decodeWithAvsc(out);
    assert.equal(viaAvsc.length, recs.length, 'avsc decodes every datum');
    assert.deepEqual(checkReferences(recs), [], 'entities before references');

    const types = recs.map((x) => x.sfType).join(',');
    // header; exec of an unknown process: ancestors 1 and 50 REUP root first, then CREATED; PE EXEC
    const procs = recs.filter(isP);
    assert.deepEqual(
      procs.slice(0, 3).map((p) => [p.oid.hpid, p.state, p.poid?.hpid ?? null]),
      [
        [1, 'REUP', null],
        [50, 'REUP', 1],
        [100, 'CREATED', 50],
      ],
    );
    assert.ok(types.startsWith('0,2,2,2,4,4,2,4,2,4,4'), `record order: ${types}`);
    const p100 = procs[2]!;
    assert.equal(p100.exe, '/usr/bin/app');
    assert.equal(p100.exeArgs, '-x 1');
    assert.deepEqual(p100.env, ['A=1']);
    assert.equal(p100.userName === '' || typeof p100.userName === 'string', true);
    // clone: parent-side CLONE (ret = child pid), child CREATED, child-side CLONE (ret 0); exec MODIFIED; exit
    const pes = recs.filter(isPE);
    assert.deepEqual(
      pes.slice(0, 5).map((e) => [e.procOID.hpid, e.opFlags, e.ret]),
      [
        [100, OpFlags.EXEC, 0],
        [100, OpFlags.CLONE, 101],
        [101, OpFlags.CLONE, 0],
        [101, OpFlags.EXEC, 0],
        [101, OpFlags.EXIT, 0],
      ],
    );
    assert.deepEqual(
      procs.filter((p) => p.oid.hpid === 101).map((p) => [p.state, p.exe, p.poid?.hpid]),
      [
        ['CREATED', '/usr/bin/app', 100],
        ['MODIFIED', '/bin/true', 100],
      ],
    );
    // 12 bytes written to /work/x: File REUP then FileFlow OPEN|WRITE|CLOSE with PPM open flags
    const ffx = recs.filter(isFF).find((f) => f.fileOID === foid('/work/x'))!;
    assert.ok(has(ffx.opFlags, OpFlags.OPEN, OpFlags.WRITE_SEND, OpFlags.CLOSE) && !(ffx.opFlags & OpFlags.TRUNCATE));
    assert.equal(ffx.numWSendBytes, 12);
    assert.equal(ffx.numWSendOps, 1);
    assert.equal(ffx.openFlags, OpenFlags.WRONLY | OpenFlags.CREAT | OpenFlags.TRUNC | 16384);
    assert.equal(recs.filter(isF).find((f) => f.oid === foid('/work/x'))!.state, 'REUP');
    // rename (old REUP, new CREATED), unlink, mkdir (restype 'd', failed: ret -17 kept)
    const fes = recs.filter(isFE);
    assert.deepEqual(
      fes.map((e) => [e.opFlags, e.fileOID, e.newFileOID, e.ret]),
      [
        [OpFlags.RENAME, foid('/work/x'), foid('/work/y'), 0],
        [OpFlags.UNLINK, foid('/work/y'), null, 0],
        [OpFlags.MKDIR, foid('/work/d'), null, -17],
      ],
    );
    const fy = recs.filter(isF).find((f) => f.oid === foid('/work/y'))!;
    assert.equal(fy.state, 'CREATED');
    assert.equal(String.fromCharCode(recs.filter(isF).find((f) => f.oid === foid('/work/d'))!.restype), 'd');
    // TCP both ends: sip/sport = client side on both
    const nfs = recs.filter(isNF);
    const client = nfs.find((n) => n.fd === 4)!;
    const server = nfs.find((n) => n.fd === 5)!;
    for (const n of [client, server]) {
      assert.deepEqual([n.sip, n.sport, n.dip, n.dport, n.proto], [IP_127_0_0_1, 40000, IP_127_0_0_1, 8080, 6]);
    }
    assert.ok(has(client.opFlags, OpFlags.CONNECT, OpFlags.READ_RECV, OpFlags.WRITE_SEND, OpFlags.CLOSE));
    assert.deepEqual([client.numWSendBytes, client.numRRecvBytes], [5, 9]);
    assert.ok(has(server.opFlags, OpFlags.ACCEPT, OpFlags.READ_RECV, OpFlags.WRITE_SEND, OpFlags.CLOSE));
    assert.deepEqual([server.numWSendBytes, server.numRRecvBytes], [9, 5]);
    // library load under /usr/lib: read-only, not written (FILE_READ_MODE=2); native IPv6: not written;
    // IPv4-mapped IPv6: written as IPv4
    assert.equal(recs.filter(isFF).filter((f) => f.fileOID === foid('/usr/lib/libz.so')).length, 0);
    assert.equal(nfs.filter((n) => n.fd === 7).length, 0);
    const mapped = nfs.find((n) => n.fd === 8)!;
    assert.deepEqual([mapped.sip, mapped.sport, mapped.dip, mapped.dport], [0x0200000a, 50000, 0x0100000a, 443]);
    // failed setuid(0): Process MODIFIED, PE SETUID args ['root'] ret -1
    const su = pes.find((e) => e.opFlags === OpFlags.SETUID)!;
    assert.deepEqual([su.args, su.ret], [['root'], -1]);
    // opened by thread 103, closed by the main thread: 103's flow truncated first, then a CLOSE-only
    // record for the closing thread, on the opened (lexical) path, not the kernel's dentry walk
    const mt = recs.filter(isFF).filter((f) => f.fd === 11);
    assert.deepEqual(
      mt.map((f) => [f.tid, f.opFlags, f.fileOID]),
      [
        [103, OpFlags.OPEN | OpFlags.TRUNCATE, foid('/work/mt')],
        [100, OpFlags.CLOSE, foid('/work/mt')],
      ],
    );
    // the long-lived flow: exported at +41 s (OPEN, no CLOSE), then after the header...
    const long = recs.map((x, i) => [x, i] as const).filter(([x]) => isFF(x) && x.fileOID === foid('/work/long')) as [FileFlow, number][];
    assert.equal(long.length, 2);
    assert.equal(long[0]![0]!.opFlags, OpFlags.OPEN);
    assert.equal(ts({ ts: long[0]![0]!.endTs, tsNs: long[0]![0]!.endTsNs }), 1700000041000000000n);
    // ... a second header resets: ancestors and the file are re-emitted (REUP) before the CLOSE flow
    const h2 = recs.findIndex((x, i) => i > 0 && isH(x));
    assert.ok(h2 > long[0]![1]! && h2 < long[1]![1]!);
    assert.deepEqual(
      recs.slice(h2 + 1, h2 + 5).map((x) => (isP(x) ? `P${x.oid.hpid}:${x.state}` : isF(x) ? `F:${x.path}:${x.state}` : `${x.sfType}`)),
      ['P1:REUP', 'P50:REUP', 'P100:REUP', 'F:/work/long:REUP'],
    );
    assert.equal(long[1]![0]!.opFlags, OpFlags.READ_RECV | OpFlags.CLOSE);
    assert.deepEqual([long[1]![0]!.numRRecvOps, long[1]![0]!.numRRecvBytes], [2, 100]);
    // ProcessFlow for the thread (cloned 1, exited 1), written by the periodic export
    const pf = recs.filter(isPF);
    assert.deepEqual(
      pf.map((x) => [x.procOID.hpid, x.numThreadsCloned, x.numThreadsExited]),
      [[100, 1, 1]],
    );
    // exit with status 3: open flow written with TRUNCATE before EXIT, ret = wait status
    const exit = recs.findIndex((x) => isPE(x) && x.procOID.hpid === 100 && x.opFlags === OpFlags.EXIT);
    assert.equal((recs[exit] as ProcessEvent).ret, 3 << 8);
    const fz = recs.findIndex((x) => isFF(x) && x.fileOID === foid('/work/z'));
    assert.ok(fz >= 0 && fz < exit);
    assert.equal((recs[fz] as FileFlow).opFlags, OpFlags.OPEN | OpFlags.TRUNCATE);
    assert.equal(recs.filter(isH).length, 2);
  });
});

describe('native collector: command line', () => {
  test('-v prints the version and SysFlow schema version 5', { skip: buildSkip }, () => {
    const r = spawnSync(COLLECTOR, ['-v'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^sfcollector \S+ .*SysFlow schema version 5$/m);
  });

  test('unsupported sf-collector flags are rejected with a reason; -k ebpf-core is accepted', { skip: buildSkip }, () => {
    for (const [args, re] of [
      [['-r', 'x.scap'], /-r: offline scap replay is not supported/],
      [['-f', 'proc.name=sh'], /-f: sysdig filter expressions are not supported/],
      [['-s', '2'], /-s: sampling/],
      [['-c'], /-c: container-only mode is not supported/],
      [['-p', '/run/crio.sock'], /-p: CRI/],
      [['-t', '10'], /-t: CRI/],
      [['-k', 'kmod'], /unsupported driver/],
      [['-w', '/tmp/x.sf', 'stray'], /unexpected argument 'stray'/],
      [[], /no output/],
    ] as const) {
      const r = spawnSync(COLLECTOR, [...args], { encoding: 'utf8' });
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
    const ok = spawnSync(COLLECTOR, ['-k', 'ebpf-core', '-h'], { encoding: 'utf8' });
    assert.equal(ok.status, 0);
    assert.match(ok.stdout, /usage: sfcollector/);
  });
});

describe('native collector: live eBPF collection', () => {
  test('scripted workload: file flow, file events, exec of /bin/true, loopback TCP — via our reader and avsc', { skip: liveSkip }, async () => {
    const dir = scratch();
    const work = buildWorkload('workload', dir);
    const data = join(dir, 'data');
    mkdirSync(data);
    const out = join(dir, 'out.sf');
    const r = await runCollector(['-w', out, '-e', 'ci-node', '--', work, data]);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { pid: number; true_pid: number; x: string; y: string; server_port: number; client_port: number };
    const sum = parseSummary(r.stderr);
    assert.equal(sum.drops, 0, 'no ring-buffer drops');
    assert.ok(existsSync(out) && !existsSync(`${out}.0`), '-w without -G writes exactly FILE');

    const recs = readRecords(out);
    assert.equal(sum.fileRecords, recs.length, 'the summary counts what the file holds');
    const h = recs[0]!;
    assert.ok(isH(h), 'first record is the SFHeader');
    assert.deepEqual([h.version, h.exporter, h.filename], [5, 'ci-node', out]);
    assert.deepEqual(checkReferences(recs), [], 'every OID/FOID referenced after the header was defined before');
    const res = resolver(recs);

    // the workload process itself
    const wl = recs
      .filter(isP)
      .filter((p) => p.oid.hpid === info.pid)
      .pop()!;
    assert.equal(wl.exe, work);
    assert.equal(wl.exeArgs, data);
    const wlKey = oidKey(wl.oid);
    const mine = (x: { procOID: { hpid: number } }) => x.procOID.hpid === info.pid;

    // FileFlow: OPEN|WRITE|CLOSE, 12 bytes, on x
    const ffs = recs.map((x, i) => [x, i] as const).filter(([x]) => isFF(x) && mine(x) && x.fileOID === foid(info.x)) as [FileFlow, number][];
    assert.equal(ffs.length, 1, 'one aggregated flow, not one record per write');
    const [ff, ffi] = ffs[0]!;
    assert.ok(has(ff.opFlags, OpFlags.OPEN, OpFlags.WRITE_SEND, OpFlags.CLOSE) && !(ff.opFlags & (OpFlags.READ_RECV | OpFlags.TRUNCATE)), `flags ${ff.opFlags}`);
    assert.deepEqual([ff.numWSendOps, ff.numWSendBytes, ff.numRRecvOps, ff.numRRecvBytes], [1, 12, 0, 0]);
    assert.ok(has(ff.openFlags!, OpenFlags.WRONLY, OpenFlags.CREAT, OpenFlags.TRUNC), `openFlags ${ff.openFlags}`);
    assert.ok(ts({ ts: ff.endTs, tsNs: ff.endTsNs }) >= ts(ff));
    assert.equal(res.fileAt(ffi, ff.fileOID)!.path, info.x);
    assert.equal(String.fromCharCode(res.fileAt(ffi, ff.fileOID)!.restype), 'f');

    // FileEvents: RENAME x -> y, UNLINK y
    const fes = recs.map((x, i) => [x, i] as const).filter(([x]) => isFE(x) && mine(x)) as [FileEvent, number][];
    const ren = fes.find(([e]) => e.opFlags === OpFlags.RENAME)!;
    assert.ok(ren, 'RENAME event');
    assert.deepEqual([ren[0].ret, res.fileAt(ren[1], ren[0].fileOID)!.path, res.fileAt(ren[1], ren[0].newFileOID!)!.path], [0, info.x, info.y]);
    const unl = fes.find(([e]) => e.opFlags === OpFlags.UNLINK)!;
    assert.ok(unl, 'UNLINK event');
    assert.deepEqual([unl[0].ret, res.fileAt(unl[1], unl[0].fileOID)!.path, unl[0].newFileOID], [0, info.y, null]);
    assert.ok(ffi < ren[1] && ren[1] < unl[1], 'in program order');

    // PE CLONE by the workload, then PE EXEC of /bin/true with the workload as its parent, then EXIT 0
    const clone = recs.find((x) => isPE(x) && mine(x) && x.opFlags === OpFlags.CLONE && x.ret === info.true_pid);
    assert.ok(clone, 'parent-side CLONE with ret = child pid');
    const execs = recs.map((x, i) => [x, i] as const).filter(([x]) => isPE(x) && x.procOID.hpid === info.true_pid && x.opFlags === OpFlags.EXEC) as [ProcessEvent, number][];
    assert.equal(execs.length, 1);
    const tp = res.procAt(execs[0]![1]!, oidKey(execs[0]![0]!.procOID))!;
    assert.equal(tp.exe, '/bin/true');
    assert.equal(tp.state, 'MODIFIED');
    assert.equal(oidKey(tp.poid!), wlKey, 'parent is the workload');
    const texit = recs.find((x) => isPE(x) && x.procOID.hpid === info.true_pid && x.opFlags === OpFlags.EXIT) as ProcessEvent;
    assert.equal(texit.ret, 0);

    // NetworkFlows on 127.0.0.1, client side first in both records, exact byte counts
    const nfs = recs.filter(isNF).filter((n) => mine(n) && n.dport === info.server_port && n.sport === info.client_port);
    assert.equal(nfs.length, 2, 'client and server flows');
    for (const n of nfs) assert.deepEqual([n.sip, n.dip, n.proto], [IP_127_0_0_1, IP_127_0_0_1, 6]);
    const cl = nfs.find((n) => n.opFlags & OpFlags.CONNECT)!;
    const sv = nfs.find((n) => n.opFlags & OpFlags.ACCEPT)!;
    assert.ok(has(cl.opFlags, OpFlags.CONNECT, OpFlags.WRITE_SEND, OpFlags.READ_RECV, OpFlags.CLOSE), `client flags ${cl.opFlags}`);
    assert.deepEqual([cl.numWSendOps, cl.numWSendBytes, cl.numRRecvOps, cl.numRRecvBytes], [1, 5, 1, 9]);
    assert.ok(has(sv.opFlags, OpFlags.ACCEPT, OpFlags.WRITE_SEND, OpFlags.READ_RECV, OpFlags.CLOSE), `server flags ${sv.opFlags}`);
    assert.deepEqual([sv.numWSendOps, sv.numWSendBytes, sv.numRRecvOps, sv.numRRecvBytes], [1, 9, 1, 5]);
    assert.notEqual(cl.fd, sv.fd);

    // the workload's own exit, after its flows
    const wexit = recs.findIndex((x) => isPE(x) && mine(x) && x.opFlags === OpFlags.EXIT);
    assert.ok(wexit > recs.indexOf(sv) && (recs[wexit] as ProcessEvent).ret === 0);

    // plain avsc reads the same file, record for record
    const viaAvsc = await decodeWithAvsc(out);
    assert.equal(viaAvsc.length, recs.length);
    const cl2 = viaAvsc[recs.indexOf(cl)]!.rec['sysflow.flow.NetworkFlow'] as Record<string, unknown>;
    assert.deepEqual([cl2.sip, cl2.sport, cl2.dport, cl2.numWSendBytes, cl2.numRRecvBytes], [IP_127_0_0_1, info.client_port, info.server_port, 5n, 9n]);
    const ff2 = viaAvsc[ffi]!.rec['sysflow.flow.FileFlow'] as Record<string, unknown>;
    assert.equal((ff2.fileOID as Buffer).toString('hex'), foid(info.x));
    assert.equal(ff2.numWSendBytes, 12n);
  });

  test('exit status passes through: exit 3, and death by signal as 128+N', { skip: liveSkip }, async () => {
    const out = join(scratch(), 'st.sf');
    const r3 = await runCollector(['-w', out, '--', 'sh', '-c', 'exit 3']);
    assert.equal(r3.status, 3, r3.stderr);
    const recs = readRecords(out);
    const exit = recs.filter(isPE).find((e) => e.opFlags === OpFlags.EXIT)!;
    assert.equal(exit.ret, 3 << 8, 'EXIT ret is the wait status');
    const rk = await runCollector(['-w', out, '--', 'sh', '-c', 'kill -9 $$']);
    assert.equal(rk.status, 128 + 9, rk.stderr);
    const rn = await runCollector(['-w', out, '--', '/nonexistent/cmd']);
    assert.equal(rn.status, 127);
    assert.match(rn.stderr, /nonexistent\/cmd: No such file/);
    // -w DIR/ names the file by its start time
    const dir = scratch();
    const rd = await runCollector(['-w', `${dir}/`, '--', 'true']);
    assert.equal(rd.status, 0, rd.stderr);
    const names = readdirSync(dir);
    assert.equal(names.length, 1);
    assert.match(names[0]!, /^\d{10}$/);
    assert.equal((readRecords(join(dir, names[0]!))[0] as SFHeader).filename, join(dir, names[0]!));
  });

  test('file events with relative paths and directory fds (mkdir, symlink, link, rename, rm -r) and setuid', { skip: liveSkip }, async () => {
    const dir = scratch();
    const out = join(dir, 'fe.sf');
    const work = join(dir, 'w');
    mkdirSync(work);
    const setpriv = spawnSync('sh', ['-c', 'command -v setpriv'], { encoding: 'utf8' }).stdout.trim();
    const script = `cd ${work} && mkdir sub && touch sub/f && ln -s sub/f link && ln sub/f hard && mv hard sub/moved && rm link && rm -r sub${setpriv ? ` && ${setpriv} --reuid=65534 /bin/true` : ''}`;
    const r = await runCollector(['-w', out, '--', 'sh', '-c', script]);
    assert.equal(r.status, 0, r.stderr);
    const recs = readRecords(out);
    assert.deepEqual(checkReferences(recs), []);
    const res = resolver(recs);
    const p = (x: string) => join(work, x);
    const events = recs
      .map((x, i) => [x, i] as const)
      .filter(([x]) => isFE(x))
      .map(([x, i]) => {
        const e = x as FileEvent;
        const f1 = res.fileAt(i, e.fileOID)!;
        const f2 = e.newFileOID ? res.fileAt(i, e.newFileOID)! : null;
        return [e.opFlags, f1.path, f2?.path ?? null, e.ret];
      });
    assert.deepEqual(events, [
      [OpFlags.MKDIR, p('sub'), null, 0],
      [OpFlags.SYMLINK, p('sub/f'), p('link'), 0], // the relative target, resolved against the link's directory
      [OpFlags.LINK, p('sub/f'), p('hard'), 0],
      [OpFlags.RENAME, p('hard'), p('sub/moved'), 0],
      [OpFlags.UNLINK, p('link'), null, 0],
      [OpFlags.UNLINK, p('sub/moved'), null, 0], // rm -r: unlinkat on a directory fd
      [OpFlags.UNLINK, p('sub/f'), null, 0],
      [OpFlags.RMDIR, p('sub'), null, 0], // unlinkat(AT_REMOVEDIR)
    ]);
    const mkdir = recs.find((x) => isF(x) && x.path === p('sub')) as SfFile;
    assert.equal(String.fromCharCode(mkdir.restype), 'd');
    if (setpriv) {
      const su = recs.map((x, i) => [x, i] as const).find(([x]) => isPE(x) && x.opFlags === OpFlags.SETUID) as [ProcessEvent, number];
      assert.ok(su, 'SETUID event');
      assert.equal(su[0].ret, 0);
      assert.deepEqual(su[0].args, [res.procAt(su[1], oidKey(su[0].procOID))!.userName || '65534']);
      const modified = res.procAt(su[1], oidKey(su[0].procOID))!;
      assert.deepEqual([modified.state, modified.uid], ['MODIFIED', 65534], 'Process MODIFIED with the new uid before the event');
    }
  });

  test('-G rotation: FILE.<epoch> files, each self-contained and starting with its own header', { skip: liveSkip }, async () => {
    const dir = scratch();
    const base = join(dir, 'rot.sf');
    const f = join(dir, 'f');
    const r = await runCollector(['-w', base, '-G', '1', '--', 'sh', '-c', `for i in 1 2 3 4 5 6 7 8 9 10; do echo $i > ${f}; sleep 0.35; done`]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!existsSync(base), 'with -G the bare name is not written');
    const files = readdirSync(dir)
      .filter((n) => n.startsWith('rot.sf.'))
      .sort();
    assert.ok(files.length >= 3, `rotated files: ${files.join(' ')}`);
    assert.equal(parseSummary(r.stderr).files, files.length);
    let sleeps = 0;
    let total = 0;
    for (const name of files) {
      assert.match(name, /^rot\.sf\.\d{10}$/);
      const path = join(dir, name);
      const recs = readRecords(path);
      total += recs.length;
      assert.ok(isH(recs[0]!), `${name} starts with a header`);
      assert.equal((recs[0] as SFHeader).filename, path);
      assert.equal(recs.filter(isH).length, 1);
      assert.deepEqual(checkReferences(recs), [], `${name} is self-contained`);
      sleeps += recs.filter((x) => isP(x) && x.state === 'MODIFIED' && x.exe.endsWith('/sleep')).length;
    }
    assert.equal(sleeps, 10, 'every exec of sleep is in exactly one file');
    assert.equal(parseSummary(r.stderr).fileRecords, total);
  });

  test('long-lived flows are exported periodically (--export-interval 1) and once more on close', { skip: liveSkip }, async () => {
    const dir = scratch();
    const prog = buildWorkload('longflow', dir);
    const f = join(dir, 'long.txt');
    const out = join(dir, 'long.sf');
    const r = await runCollector(['-w', out, '--export-interval', '1', '--', prog, f, '2600']);
    assert.equal(r.status, 0, r.stderr);
    const { fd } = JSON.parse(r.stdout.trim()) as { fd: number };
    const recs = readRecords(out);
    const ffs = recs.filter(isFF).filter((x) => x.fileOID === foid(f) && x.fd === fd);
    assert.ok(ffs.length >= 2, `${ffs.length} records for the long flow`);
    assert.ok(has(ffs[0]!.opFlags, OpFlags.OPEN, OpFlags.WRITE_SEND) && !(ffs[0]!.opFlags & OpFlags.CLOSE), `first export while open: ${ffs[0]!.opFlags}`);
    const last = ffs[ffs.length - 1]!;
    assert.ok(has(last.opFlags, OpFlags.WRITE_SEND, OpFlags.CLOSE) && !(last.opFlags & OpFlags.OPEN), `last: ${last.opFlags}`);
    assert.equal(
      ffs.reduce((s, x) => s + x.numWSendBytes, 0),
      4,
      'counters reset after each export: nothing counted twice',
    );
    assert.equal(
      ffs.reduce((s, x) => s + x.numWSendOps, 0),
      2,
    );
    for (let i = 1; i < ffs.length; i++) assert.ok(ts(ffs[i]!) >= ts({ ts: ffs[i - 1]!.endTs, tsNs: ffs[i - 1]!.endTsNs }), 'exports do not overlap');
  });

  test('IPv6: IPv4-mapped flows are written as IPv4; native IPv6 flows are counted, not written', { skip: liveSkip }, async (t) => {
    if (spawnSync('python3', ['--version']).status !== 0) return t.skip('python3 not available');
    const dir = scratch();
    const out = join(dir, 'v6.sf');
    const py = `
import json, socket
s6 = socket.socket(socket.AF_INET6); s6.bind(('::1', 0)); s6.listen(1); p6 = s6.getsockname()[1]
c6 = socket.socket(socket.AF_INET6); c6.connect(('::1', p6)); a6, _ = s6.accept()
c6.sendall(b'abc'); a6.recv(3); c6.close(); a6.close(); s6.close()
d = socket.socket(socket.AF_INET6); d.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
d.bind(('::', 0)); d.listen(1); p4 = d.getsockname()[1]
c4 = socket.create_connection(('127.0.0.1', p4)); a4, _ = d.accept()
c4.sendall(b'12345678'); n = len(a4.recv(8)); c4.close(); a4.close(); d.close()
print(json.dumps({'p6': p6, 'p4': p4, 'n': n}))
`;
    const r = await runCollector(['-w', out, '--', 'python3', '-c', py]);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout.trim().split('\n').pop()!) as { p6: number; p4: number; n: number };
    const sum = parseSummary(r.stderr);
    assert.ok(sum.ipv6NotExported >= 2, `IPv6 flows counted: ${sum.ipv6NotExported}`);
    const recs = readRecords(out);
    const nfs = recs.filter(isNF);
    assert.equal(nfs.filter((n) => n.dport === info.p6 || n.sport === info.p6).length, 0, 'no NetworkFlow for ::1');
    const mappedServer = nfs.find((n) => n.dport === info.p4 && n.opFlags & OpFlags.ACCEPT)!;
    assert.ok(mappedServer, 'accepted IPv4 client on a dual-stack socket');
    assert.deepEqual([mappedServer.sip, mappedServer.dip, mappedServer.numRRecvBytes], [IP_127_0_0_1, IP_127_0_0_1, 8]);
  });

  test('socket sink (SOCK_SEQPACKET): header first, one datum per message, reconnect after a listener restart', { skip: liveSkip }, async () => {
    const dir = scratch();
    const sock = join(dir, 'sf.sock');
    const cap1 = join(dir, 'cap1.bin');
    const cap2 = join(dir, 'cap2.bin');
    let l1 = await startListener(sock, cap1);
    const col = spawn(
      COLLECTOR,
      ['-u', sock, '-e', 'sock-test', '--reconnect-interval', '0.3', '--', 'sh', '-c', `i=0; while [ $i -lt 60 ]; do echo $i > ${join(dir, 'f')}; sleep 0.1; i=$((i+1)); done`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    col.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((resolve) => col.on('close', (code) => resolve(code)));
    try {
      for (let i = 0; i < 25 && (!existsSync(cap1) || statSync(cap1).size < 3000); i++) await sleep(100);
      await stopProcess(l1); // the connection drops; the socket file stays, so reconnects are refused
      await sleep(700);
      l1 = await startListener(sock, cap2);
      const code = await done;
      assert.equal(code, 0, stderr);
    } finally {
      await stopProcess(l1);
      if (col.exitCode === null) col.kill('SIGKILL');
    }
    const sum = parseSummary(stderr);
    assert.equal(sum.drops, 0);
    assert.ok(sum.reconnects >= 1, `reconnects ${sum.reconnects}`);
    assert.ok(sum.sockDropped > 0, 'records produced while disconnected are counted');
    assert.match(stderr, /reconnected \(\d+ records dropped while disconnected so far\)/);
    const c1 = splitCapture(readFileSync(cap1));
    const c2 = splitCapture(readFileSync(cap2));
    assert.equal(c1.length, 1);
    assert.equal(c2.length, 1);
    let received = 0;
    for (const msgs of [c1[0]!, c2[0]!]) {
      assert.ok(msgs.length > 1);
      received += msgs.length;
      const datums = msgs.map((m) => {
        assert.ok(m.length < 16384, `message of ${m.length} bytes`);
        return decodeDatum(m); // throws unless the message is exactly one datum
      });
      const hdr = datums[0]!.rec['sysflow.entity.SFHeader'] as Record<string, unknown>;
      assert.ok(hdr, 'first message of every connection is an SFHeader');
      assert.deepEqual([hdr.version, hdr.exporter, hdr.filename], [5n, 'sock-test', '']);
      assert.deepEqual(avscReferences(datums.map((d) => d.rec)), [], 'entities re-sent after the new header');
    }
    assert.ok(received <= sum.sockSent, `${received} received, ${sum.sockSent} sent`);
  });

  test('--sock-stream with -w: length-prefixed datums, the same records as the file, header names the file', { skip: liveSkip }, async () => {
    const dir = scratch();
    const sock = join(dir, 'st.sock');
    const cap = join(dir, 'cap.bin');
    const out = join(dir, 'multi.sf');
    const l = await startListener(sock, cap, true);
    try {
      const r = await runCollector(['-w', out, '-u', sock, '--sock-stream', '--', 'sh', '-c', `echo hi > ${join(dir, 'g')}; /bin/true`]);
      assert.equal(r.status, 0, r.stderr);
      const sum = parseSummary(r.stderr);
      assert.equal(sum.sockDropped + sum.sockFull, 0);
      await sleep(200);
      const conns = splitCapture(readFileSync(cap));
      assert.equal(conns.length, 1);
      const datums = conns[0]!.map(decodeDatum);
      const recs = readRecords(out);
      assert.equal(datums.length, recs.length);
      assert.equal(sum.sockSent, recs.length);
      const hdr = datums[0]!.rec['sysflow.entity.SFHeader'] as Record<string, unknown>;
      assert.equal(hdr.filename, out);
      const names = datums.map((d) => Object.keys(d.rec)[0]!);
      const branch = ['SFHeader', 'Container', 'Process', 'File', 'ProcessEvent', 'NetworkFlow', 'FileFlow', 'FileEvent', 'NetworkEvent', 'ProcessFlow'];
      assert.deepEqual(
        names.map((n) => branch.indexOf(n.split('.').pop()!)),
        recs.map((x) => x.sfType),
      );
    } finally {
      await stopProcess(l);
    }
  });
});

/** checkReferences for avsc-decoded datums ({ 'sysflow.x.Y': fields }). */
function avscReferences(recs: Record<string, unknown>[]): string[] {
  const bad: string[] = [];
  const procs = new Set<string>();
  const files = new Set<string>();
  const key = (o: { createTS: bigint; hpid: bigint }) => `${o.hpid}@${o.createTS}`;
  recs.forEach((w, i) => {
    const [name, v] = Object.entries(w)[0] as [string, Record<string, unknown>];
    if (name.endsWith('SFHeader')) {
      procs.clear();
      files.clear();
      return;
    }
    if (name.endsWith('.Process')) {
      // avsc unwraps ["null", X] unions: poid is the OID record or null
      const poid = v.poid as { createTS: bigint; hpid: bigint } | null;
      if (poid && !procs.has(key(poid))) bad.push(`${i}: parent not defined`);
      procs.add(key(v.oid as { createTS: bigint; hpid: bigint }));
      return;
    }
    if (name.endsWith('.File')) {
      files.add((v.oid as Buffer).toString('hex'));
      return;
    }
    if (v.procOID && !procs.has(key(v.procOID as { createTS: bigint; hpid: bigint }))) bad.push(`${i} ${name}: process not defined`);
    if (v.fileOID && !files.has((v.fileOID as Buffer).toString('hex'))) bad.push(`${i} ${name}: file not defined`);
    if (v.newFileOID && !files.has((v.newFileOID as Buffer).toString('hex'))) bad.push(`${i} ${name}: new file not defined`);
  });
  return bad;
}
