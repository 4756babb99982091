/**
 * The rule gate (core/policy/gate.ts) decides parts of conditions once per process context or per
 * file. These tests hold it to two promises on real traces:
 *  - a field declared context- or file-scoped really is a function of that scope only;
 *  - gated evaluation matches every rule exactly like evaluating each rule's whole condition, for the
 *    shipped policies and for generated rules mixing context, file and record conditions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SF_FIELDS, Scope, type FieldDef } from '../core/flatten/fields.js';
import { FALCO_FIELDS } from '../core/policy/falco-fields.js';
import { loadPolicySet, type PolicySet } from '../core/policy/policyset.js';
import { FileIndex } from '../core/policy/gate.js';
import { Interner, attributesRead, contextChainKey } from '../core/policy/context-key.js';
import { lookupField } from '../core/policy/field-lookup.js';
import { initHashing } from '../core/util/xxh.js';
import { FlatRecord } from '../core/flatten/flatrecord.js';
import { SfType, type Process, type ProcessEvent } from '../core/sysflow/types.js';
import { EntityCache } from '../core/sysflow/cache.js';
import { OpFlags } from '../core/sysflow/flags.js';
import { CORPUS_NOTE, HAVE_SHARED, ROOT, listTraces, tracePath } from './helpers/corpus.js';
import { flatRecords } from './helpers/run-pipeline.js';
import { mkProc, policyFromYaml } from './helpers/records.js';
import { prng } from './helpers/prng.js';
import { Slot, stamp } from '../core/util/slot.js';

/** Bundled traces always; with ../shared, the whole corpus. */
const TRACES = listTraces().filter((t) => t.endsWith('.sf'));

const scoped = (scope: Scope): FieldDef[] => {
  const all = [...SF_FIELDS.values(), ...FALCO_FIELDS.values()].filter((d) => (d.scope ?? 0) & scope);
  // the [arg] forms keep the scope
  for (const d of [...all]) {
    if (!d.withArg) continue;
    if (/^(sf\.pod\.services)$/.test(d.name)) all.push(d.withArg('0.name'));
    else if (/aname|aexe|acmdline|apid/.test(d.name)) for (const i of ['0', '1', '3']) all.push(d.withArg(i));
  }
  return all;
};

/** A field by name, `name[arg]` forms included. */
const lookup = (name: string): FieldDef => {
  const m = /^([^[]+)(?:\[(.*)\])?$/.exec(name)!;
  return lookupField(m[1]!, m[2] ?? null);
};

/** Identity numbers for entity objects, to build keys from them. */
function ids() {
  const m = new WeakMap<object, number>();
  let n = 0;
  return (o: object | undefined | null) => {
    if (o === undefined || o === null) return 0;
    let v = m.get(o);
    if (v === undefined) m.set(o, (v = ++n));
    return v;
  };
}

test(`context- and file-scoped fields depend on their scope only (${CORPUS_NOTE})`, async () => {
  const ctxFields = scoped(Scope.Context);
  const fileFields = scoped(Scope.File);
  assert.ok(ctxFields.length > 60 && fileFields.length > 20, `${ctxFields.length} context, ${fileFields.length} file fields`);
  let records = 0;
  let checks = 0;
  for (const trace of TRACES) {
    const id = ids();
    // the gate shares file outcomes between files alike in value (FileIndex), not by identity
    const alike = new FileIndex<object>(false, () => ({}));
    const alikeOid = new FileIndex<object>(true, () => ({}));
    const seen = new Map<string, string>();
    for (const r of await flatRecords(tracePath(trace))) {
      records++;
      const ctxKey = `c${id(r.ptree)}.${id(r.pproc)}.${id(r.container)}.${id(r.pod)}.${id(r.header)}`;
      const withFile = r.file !== undefined && (r.sfType === SfType.FF || r.sfType === SfType.FE);
      const fileKey = `f${r.sfType}.${id(r.file)}.${id(r.newFile)}`;
      const check = (key: string, d: FieldDef) => {
        const v = JSON.stringify(d.get(r));
        const k = `${key}|${d.name}`;
        const prev = seen.get(k);
        if (prev === undefined) seen.set(k, v);
        else assert.equal(v, prev, `${trace}: ${d.name} differs between records of one ${key.startsWith('c') ? 'process context' : 'file'}`);
        checks++;
      };
      for (const d of ctxFields) check(ctxKey, d);
      if (withFile) {
        for (const d of fileFields) check(fileKey, d);
        const byValue = `v${r.sfType}.${id(alike.get(r.file!, r.newFile))}`;
        const byValueOid = `w${r.sfType}.${id(alikeOid.get(r.file!, r.newFile))}`;
        for (const d of fileFields) check(/oid$/.test(d.name) ? byValueOid : byValue, d);
      }
    }
  }
  assert.ok(records > 1000, `${records} records`);
  console.log(`# ${TRACES.length} traces, ${records} records, ${checks} field checks`);
});

/** Rule names a set matches on a record: gated (the engine) and naive (every rule's whole test). */
function compare(set: PolicySet, r: FlatRecord, where: string): string[] {
  r.rules = null;
  set.evaluate(r);
  const gated = ((r.rules as { name: string }[] | null) ?? []).map((m) => m.name);
  r.rules = null;
  const naive = set
    .rulesFor(r.sfType)
    .filter((rule) => rule.alert && rule.test(r))
    .map((rule) => rule.name);
  assert.deepEqual(gated, naive, `${where}: gated and whole-condition evaluation differ`);
  return naive;
}

test(`gated evaluation equals whole-condition evaluation: shipped policies (${CORPUS_NOTE})`, async () => {
  const sets = [loadPolicySet(join(ROOT, 'policies/runtimeintegrity')), loadPolicySet(join(ROOT, 'policies/distribution'))];
  let matches = 0;
  let records = 0;
  for (const trace of TRACES) {
    const rs = await flatRecords(tracePath(trace));
    records += rs.length;
    rs.forEach((r, i) => {
      for (const set of sets) matches += compare(set, r, `${trace} record ${i}`).length;
    });
  }
  assert.ok(matches > 0, 'some rule matched');
  console.log(`# ${records} records, ${matches} matches`);
});

// ---- generated rules ----

const CONTEXT_ATOMS = [
  'sf.proc.name in (bash, sh, node, python, httpd, nginx, apache2, java, sshd, curl)',
  'proc.aname in (bash, sh, sshd, containerd-shim, node)',
  'proc.aname[2] = bash',
  'sf.pproc.name = bash',
  'sf.pproc.name exists',
  'sf.container.id exists',
  'container.id = host',
  'proc.cmdline contains "-c"',
  'sf.proc.args regex ".*[0-9]+.*"',
  'sf.proc.uid = 0',
  'sf.proc.exe startswith /usr/',
  'sf.proc.name = val(sf.pproc.name)',
  'sf.proc.tty = true',
  'sf.node.id exists',
];
const FILE_ATOMS = [
  'fd.name startswith /etc',
  'fd.name pmatch (/usr/lib, /lib)',
  'sf.file.name endswith .so',
  'fd.directory in (/tmp, /etc, /usr/bin)',
  'sf.file.type = f',
  'fd.type = file',
  'fs.path.target exists',
  'sf.file.newname exists',
  'fd.name glob "*.conf"',
  'sf.file.path contains log',
];
const EVENT_ATOMS = [
  'sf.opflags = READ',
  'sf.opflags in (WRITE, OPEN)',
  'sf.type = FF',
  'sf.type in (FE, FF, PE)',
  'sf.flow.rbytes > 100',
  'sf.ret < 0',
  'evt.type = open',
  'sf.net.dport in (80, 443, 8080)',
  'fd.name contains ":"', // on network flows fd.name is the connection: record-scoped there
  'sf.file.name = val(sf.proc.name)', // a file field against a context field: neither scope alone
  'sf.file.is_open_write = true',
  'proc.duration > 1000000',
];

function generateRules(seed: number, n: number): string {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  const atom = () => {
    const u = rnd();
    return u < 0.4 ? pick(CONTEXT_ATOMS) : u < 0.75 ? pick(FILE_ATOMS) : pick(EVENT_ATOMS);
  };
  const expr = (depth: number): string => {
    const u = rnd();
    if (depth === 0 || u < 0.3) return u < 0.05 ? `m${Math.floor(rnd() * 4)}` : atom();
    if (u < 0.4) return `not (${expr(depth - 1)})`;
    const k = 2 + Math.floor(rnd() * 3);
    const op = u < 0.75 ? ' and ' : ' or ';
    return '(' + Array.from({ length: k }, () => expr(depth - 1)).join(op) + ')';
  };
  const macros = Array.from({ length: 4 }, (_, i) => `- macro: m${i}\n  condition: ${expr(1)}\n`);
  const rules = Array.from({ length: n }, (_, i) => `- rule: g${i}\n  desc: generated\n  condition: ${expr(3)}\n  output: x\n  priority: low\n`);
  return macros.join('') + rules.join('');
}

test(`gated evaluation equals whole-condition evaluation: generated rules mixing scopes (${CORPUS_NOTE})`, async () => {
  const set = policyFromYaml(generateRules(20261123, 400));
  const traces = HAVE_SHARED ? TRACES.filter((_, i) => i % 3 === 0) : TRACES;
  let matches = 0;
  let records = 0;
  const perRule = new Set<string>();
  for (const trace of traces) {
    for (const [i, r] of (await flatRecords(tracePath(trace))).entries()) {
      records++;
      const names = compare(set, r, `${trace} record ${i}`);
      matches += names.length;
      for (const n of names) perRule.add(n);
    }
  }
  // the generated set must exercise matches broadly, or the comparison proves little
  assert.ok(matches > 1000 && perRule.size > 100, `${matches} matches of ${perRule.size} rules over ${records} records`);
  console.log(`# ${traces.length} traces, ${records} records, ${matches} matches of ${perRule.size} of 400 rules`);
});

test('an ancestry keeps its array while unchanged, gets a new one when an ancestor changes; the gate follows', () => {
  const cache = new EntityCache();
  const sshd = mkProc({ pid: 1, exe: '/usr/sbin/sshd' });
  const bash = mkProc({ pid: 2, exe: '/bin/bash' }, sshd);
  cache.update(sshd);
  cache.update(bash);
  const record = () => {
    const proc = cache.process(bash.oid)!;
    const rec: ProcessEvent = { sfType: SfType.PE, procOID: bash.oid, ts: 1, tsNs: 1, tid: 2, opFlags: OpFlags.EXEC, args: [], ret: 0 };
    return new FlatRecord(SfType.PE, rec, null, proc, cache.parent(proc), undefined, undefined, undefined, undefined, (p) => cache.ancestryOf(p));
  };
  const set = policyFromYaml('- rule: below sshd\n  desc: d\n  condition: sf.type = PE and proc.aname[1] = sshd\n  output: x\n  priority: low\n');
  const first = record();
  assert.deepEqual(compare(set, first, 'first'), ['below sshd']);

  cache.update(mkProc({ pid: 3, exe: '/bin/true' })); // an unrelated process: same ancestry, same array
  const second = record();
  assert.equal(second.ptree, first.ptree);
  assert.deepEqual(compare(set, second, 'unrelated change'), ['below sshd']);

  cache.update({ ...sshd, exe: '/usr/bin/node' }); // the parent re-executed: a new array, a new decision
  const third = record();
  assert.notEqual(third.ptree, first.ptree);
  assert.equal(third.ptree[1]!.exe, '/usr/bin/node');
  assert.deepEqual(compare(set, third, 'parent changed'), []);
});

// ---- entity-chain keys (core/policy/context-key.ts) ----

test('the probe finds which entity attributes a field reads', async () => {
  await initHashing();
  const read = (name: string) => {
    const d = lookup(name);
    const a = attributesRead([d]);
    return Object.entries(a)
      .filter(([, v]) => v.length)
      .map(([k, v]) => `${k}:${v.join('+')}`)
      .join(' ');
  };
  assert.equal(read('sf.proc.name'), 'self:exe');
  assert.equal(read('sf.proc.cmdline'), 'self:exe+exeArgs');
  assert.equal(read('sf.pproc.name'), 'parent:exe');
  assert.equal(read('proc.aname'), 'parent:exe ancestor:exe'); // Falco: ancestors only
  assert.equal(read('proc.aname[1]'), 'parent:exe');
  assert.equal(read('proc.aname[40]'), 'ancestor:exe'); // deep indexes reach the probe's ancestors too
  assert.equal(read('sf.proc.apid'), 'self:oid+poid parent:oid+poid ancestor:oid+poid');
  assert.equal(read('sf.pproc.pid'), 'self:oid+poid'); // the parent pid is the process's poid
  assert.equal(read('proc.env'), 'self:env');
  assert.equal(read('sf.container.image'), 'container:image');
  assert.equal(read('sf.pod.ts'), 'pod:ts+tsNs');
  assert.equal(read('sf.node.id'), 'header:exporter');
  assert.equal(read('sf.proc.oid'), ''); // read from the event, not the context
});

test(`entity-chain keys: contexts with one key have equal values in the fields it is made for (${CORPUS_NOTE})`, async () => {
  await initHashing();
  const fields = scoped(Scope.Context);
  // one key for all fields, and one per field (which leaves out more, so shares more)
  const all = contextChainKey(attributesRead(fields));
  const single = fields.map((d) => contextChainKey(attributesRead([d])));
  let records = 0;
  let keys = 0;
  for (const trace of TRACES) {
    const interner = new Interner();
    const seen = new Map<string, string>();
    const rs = await flatRecords(tracePath(trace));
    rs.forEach((r, i) => {
      records++;
      const check = (key: string, d: FieldDef) => {
        const v = JSON.stringify(d.get(r)) + (d.ns ? d.ns(r) : '');
        const k = `${key}|${d.name}`;
        const prev = seen.get(k);
        if (prev === undefined) seen.set(k, v);
        else assert.equal(v, prev, `${trace} record ${i}: ${d.name} differs between contexts with one key`);
      };
      const k = 'a' + all(r, interner);
      for (const d of fields) check(k, d);
      // per field on a sample: the narrow keys are the ones that could wrongly share
      if (i % 7 === 0) fields.forEach((d, j) => check(`s${j}.` + single[j]!(r, interner), d));
      keys = seen.size;
    });
  }
  assert.ok(records > 1000, `${records} records`);
  console.log(`# ${TRACES.length} traces, ${records} records, ${keys} keys in the last trace`);
});

test('rule and filter gates keep their own entity codes (an entity coded by one is not misread by the other)', () => {
  // Filters see PE records only, rules FF only: the gates meet the processes in different orders,
  // so an entity's code made by one gate must not stand for another entity in the other gate.
  const set = policyFromYaml(
    ['- filter: drop A\n  condition: sf.type = PE and sf.proc.exe = /bin/A\n', '- rule: any file\n  desc: d\n  condition: sf.type = FF and sf.proc.exe exists\n  output: x\n  priority: low\n'].join(
      '',
    ),
  );
  const cache = new EntityCache();
  const procs = ['/bin/A', '/bin/B'].map((exe, i) => mkProc({ pid: 10 + i, exe }));
  for (const p of procs) cache.update(p);
  const record = (type: number, p: (typeof procs)[number]) => {
    const proc = cache.process(p.oid)!;
    const rec =
      type === SfType.PE
        ? { sfType: SfType.PE, procOID: p.oid, ts: 1, tsNs: 1, tid: 1, opFlags: OpFlags.EXEC, args: [], ret: 0 }
        : {
            sfType: SfType.FF,
            procOID: p.oid,
            ts: 1,
            tsNs: 1,
            tid: 1,
            opFlags: OpFlags.READ_RECV,
            openFlags: 0,
            endTs: 2,
            endTsNs: 2,
            fileOID: 'f',
            fd: 3,
            numRRecvOps: 1,
            numWSendOps: 0,
            numRRecvBytes: 1,
            numWSendBytes: 0,
          };
    return new FlatRecord(type, rec as never, null, proc, undefined, undefined, undefined, undefined, undefined, (q) => cache.ancestryOf(q));
  };
  const [a, b] = procs as [Process, Process];
  const seen: string[] = [];
  for (const [type, p] of [
    [SfType.FF, a],
    [SfType.PE, b],
    [SfType.PE, a],
    [SfType.FF, b],
  ] as const) {
    const r = record(type, p);
    seen.push(`${p.exe} ${type === SfType.PE ? 'PE' : 'FF'}: ${set.dropped(r) ? 'dropped' : set.evaluate(r) ? 'alert' : 'kept'}`);
  }
  assert.deepEqual(seen, ['/bin/A FF: alert', '/bin/B PE: kept', '/bin/A PE: dropped', '/bin/B FF: alert']);
});

test('Slot: memos on stamped objects (shared by name, invisible to keys, JSON, spread and deep equality), a WeakMap for others', () => {
  const a = new Slot<object, string>('test', 'a');
  const b = new Slot<object, string>('test', 'b');
  const o = stamp({ x: 1 });
  assert.equal(a.get(o), undefined);
  a.set(o, 'A');
  b.set(o, 'B');
  assert.deepEqual([a.get(o), b.get(o)], ['A', 'B']);
  assert.deepEqual(Object.keys(o), ['x']);
  assert.equal(JSON.stringify(o), '{"x":1}');
  assert.deepStrictEqual(o, { x: 1 });
  assert.deepStrictEqual({ ...o }, { x: 1 });
  const a2 = new Slot<object, string>('test', 'a'); // e.g. a gate of a reloaded policy set
  assert.equal(a2.get(o), 'A', 'one place per name: values must say whose they are');
  a2.set(o, 'A2');
  assert.equal(a.get(o), 'A2');
  // not stamped (built by a test or a plugin): each Slot a WeakMap of its own
  const plain = { y: 2 };
  a.set(plain, 'P');
  assert.deepEqual([a.get(plain), a2.get(plain), b.get(plain)], ['P', undefined, undefined]);
  assert.deepEqual(Object.getOwnPropertySymbols(plain), []);
});

test('the decoder stamps entities (memos on them) and not flows or events', async () => {
  const rs = await flatRecords(tracePath(TRACES[0]!));
  const s = new Slot<object, number>('test', 'decoder');
  const r = rs.find((x) => x.proc !== undefined)!;
  s.set(r.proc!, 1);
  s.set(r.rec, 2);
  assert.equal(s.get(r.proc!), 1);
  assert.equal(new Slot<object, number>('test', 'decoder').get(r.proc!), 1, 'stamped: the place is on the object');
  assert.equal(new Slot<object, number>('test', 'decoder').get(r.rec), undefined, 'not stamped: a WeakMap of the Slot');
});

test(`policy sets taking turns on the same records (a reload and back) each decide as whole-condition evaluation (${CORPUS_NOTE})`, async () => {
  const sets = [loadPolicySet(join(ROOT, 'policies/runtimeintegrity')), policyFromYaml(generateRules(4242, 120)), loadPolicySet(join(ROOT, 'policies/distribution'))];
  let matches = 0;
  for (const trace of TRACES.slice(0, 12)) {
    const rs = await flatRecords(tracePath(trace));
    rs.forEach((r, i) => {
      // a different set first each time, so every set finds entries of another on the entities
      for (let k = 0; k < sets.length; k++) matches += compare(sets[(i + k) % sets.length]!, r, `${trace} record ${i}, set ${(i + k) % sets.length}`).length;
    });
  }
  assert.ok(matches > 100, `${matches} matches`);
});
