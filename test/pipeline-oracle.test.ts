/**
 * The processor end to end on every trace: one valid JSON object per flow/event/K8s-event record, in
 * trace order, whose values agree with upstream sysprint (the oracle where it exists, else our own
 * sysprint, which the oracle tests pin to upstream) on every field the two formats share.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSysprint } from '../core/sysprint/sysprint.js';
import { MemorySink } from '../core/util/bytes.js';
import { createLogger } from '../core/log.js';
import { CORPUS_NOTE, listOracle, listTraces, parseExactJson, readOracle, tracePath } from './helpers/corpus.js';
import { TRACE_TABLE } from './helpers/trace-table.js';
import { ENRICH_TO_MEMORY, runPipeline } from './helpers/run-pipeline.js';
import { splitSymlink } from '../core/flatten/paths.js';

type J = Record<string, unknown>;
const oracleTraces = new Set(listOracle('json'));
const log = createLogger('test', 'silent');

async function reference(trace: string): Promise<string[]> {
  let text: string;
  if (oracleTraces.has(trace) && !trace.includes('mon.1544763379')) text = readOracle(trace, 'json');
  else {
    const sink = new MemorySink();
    await runSysprint({ format: 'json', files: [tracePath(trace)] }, sink, log);
    text = sink.text();
  }
  return text.split('\n').filter(Boolean);
}

const num = (v: unknown): string => (typeof v === 'string' && v.startsWith('#int:') ? v.slice(5) : String(v));

/** Field pairs: [path in our JSON, path in sysprint JSON, applies to these types or all]. */
const SHARED_FIELDS: [string, string, string[]?][] = [
  ['type', 'type'],
  ['ts', 'ts_uts'],
  ['endts', 'endts_uts', ['FF', 'NF']],
  ['proc.pid', 'proc.pid', ['PE', 'NF', 'FF', 'FE']],
  ['proc.tid', 'proc.tid', ['PE', 'NF', 'FF', 'FE']],
  ['proc.exe', 'proc.exe', ['PE', 'NF', 'FF', 'FE']],
  ['proc.args', 'proc.args', ['PE', 'NF', 'FF', 'FE']],
  ['proc.uid', 'proc.uid', ['PE', 'NF', 'FF', 'FE']],
  ['proc.gid', 'proc.gid', ['PE', 'NF', 'FF', 'FE']],
  ['proc.user', 'proc.user', ['PE', 'NF', 'FF', 'FE']],
  ['proc.group', 'proc.group', ['PE', 'NF', 'FF', 'FE']],
  ['proc.createts', 'proc.createts', ['PE', 'NF', 'FF', 'FE']],
  ['file.path', 'file.path', ['FF', 'FE']],
  ['file.newpath', 'file.newpath', ['FE']],
  ['file.fd', 'file.fd', ['FF']],
  ['file.type', 'file.type', ['FF', 'FE']],
  ['net.sport', 'net.sport', ['NF']],
  ['net.dport', 'net.dport', ['NF']],
  ['net.sip', 'net.sip', ['NF']],
  ['net.dip', 'net.dip', ['NF']],
  ['net.proto', 'net.proto', ['NF']],
  ['flow.rbytes', 'flow.rbytes', ['FF', 'NF']],
  ['flow.rops', 'flow.rops', ['FF', 'NF']],
  ['flow.wbytes', 'flow.wbytes', ['FF', 'NF']],
  ['flow.wops', 'flow.wops', ['FF', 'NF']],
  ['ret', 'ret', ['PE', 'FE']],
  ['node.id', 'node.id'],
  ['meta.schema', 'schema'],
  ['ke.action', 'k8s.action', ['KE']],
  ['ke.kind', 'k8s.kind', ['KE']],
  ['ke.message', 'k8s.msg', ['KE']],
];

const get = (o: J, path: string): unknown => path.split('.').reduce<unknown>((x, k) => (x as J | undefined)?.[k], o);

test(`corpus: ${CORPUS_NOTE}`, () => assert.ok(listTraces().length > 0));

for (const trace of listTraces()) {
  test(`pipeline JSON agrees with sysprint: ${trace}`, async () => {
    const { text } = await runPipeline(tracePath(trace), ENRICH_TO_MEMORY);
    const ours = text.split('\n');
    assert.equal(ours.pop(), '', 'output ends with a newline');
    const ref = await reference(trace);
    assert.equal(ours.length, ref.length, 'one object per flow/event record');
    const facts = TRACE_TABLE[trace];
    if (facts?.sysprintLines != null) assert.equal(ours.length, facts.sysprintLines);
    for (let i = 0; i < ours.length; i++) {
      const a = parseExactJson(ours[i]!) as J; // also proves it is valid JSON
      const b = parseExactJson(ref[i]!) as J;
      const type = a.type as string;
      if (type === 'PE' || type === 'FE') assert.ok(Array.isArray(get(a, 'proc.aname')), `line ${i + 1}: proc.aname is a list`);
      for (const [ours_, theirs, types] of SHARED_FIELDS) {
        if (types && !types.includes(type)) continue;
        const va = get(a, ours_);
        let vb = get(b, theirs);
        if (vb === null || vb === '') continue; // sysprint has no value (e.g. entity not cached)
        // sf-processor splits unix-socket pair notation "<hex>-><hex> <path>" into path and symlink.
        if (ours_ === 'file.path' || ours_ === 'file.newpath') {
          const sp = splitSymlink(vb as string);
          vb = sp.path;
          if (ours_ === 'file.path') assert.equal(get(a, 'file.symlink'), sp.symlink, `line ${i + 1} file.symlink`);
        }
        assert.equal(num(va), num(vb), `line ${i + 1} (${type}) ${ours_}`);
      }
    }
  });
}
