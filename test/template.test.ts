/**
 * The template encoder (core/export/encoders/template.ts): every documented placeholder and every
 * policy field renders on every bundled record, the placeholders agree with the canonical fields
 * and the record, each time format is exact, and a bad template is a load error naming its column.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { compileTemplate, PLACEHOLDERS, TIME_FORMATS } from '../core/export/encoders/template.js';
import { eventCategory, eventHost, eventKind } from '../core/flatten/canonical.js';
import { SF_FIELDS } from '../core/flatten/fields.js';
import { FALCO_FIELDS } from '../core/policy/falco-fields.js';
import { exactToString } from '../core/util/i64.js';
import { FIXTURES } from './helpers/corpus.js';
import { flatRecords } from './helpers/run-pipeline.js';
import { CLI } from './helpers/socket-harness.js';

test('every placeholder renders on every bundled record and agrees with the record', async () => {
  const records = await flatRecords(join(FIXTURES, 'traces'));
  const render = compileTemplate(PLACEHOLDERS.map((p) => `{{ .${p} }}`).join('\t'), 'rfc3339');
  for (const r of records) {
    const cells = render(r).split('\t');
    assert.equal(cells.length, PLACEHOLDERS.length);
    const v = Object.fromEntries(PLACEHOLDERS.map((p, i) => [p, cells[i]!]));
    assert.equal(v.Seq, String(r.seq));
    assert.equal(v.Name, eventKind(r).name);
    assert.equal(v.Description, eventKind(r).description);
    assert.equal(v.Category, eventCategory(r));
    assert.equal(v.Host, eventHost(r));
    const ns = exactToString(r.rec.ts, r.rec.tsNs);
    assert.equal(v.Timestamp!.slice(-10), `${ns.slice(-9)}Z`, 'nanoseconds exact');
    assert.equal(Math.floor(Date.parse(v.Timestamp!) / 1000), Number(ns.slice(0, -9)), 'seconds');
    if (r.proc) {
      assert.equal(v.Exe, r.proc.exe);
      assert.equal(v.Pid, String(r.proc.oid.hpid));
    }
    assert.ok(v.Params!.length > 0 || r.sfType === 9, `params of a ${r.sfType}`);
  }
});

test('time formats: rfc3339 (ns), rfc3339ms, unix, unixms, unixns', async () => {
  const r = (await flatRecords(join(FIXTURES, 'traces', 'sf-processor', 'tcp.sf')))[0]!;
  const ns = exactToString(r.rec.ts, r.rec.tsNs);
  const got = Object.fromEntries(TIME_FORMATS.map((f) => [f, compileTemplate('{{ .Timestamp }}', f)(r)]));
  assert.deepEqual(got, {
    rfc3339: '2019-03-25T19:48:00.704111050Z',
    rfc3339ms: '2019-03-25T19:48:00.704Z',
    unix: ns.slice(0, -9),
    unixms: ns.slice(0, -6),
    unixns: ns,
  });
});

test('every policy field renders as %field on every bundled record', async () => {
  const records = await flatRecords(join(FIXTURES, 'traces'));
  const names = [...SF_FIELDS.values(), ...FALCO_FIELDS.values()].filter((d) => !d.withArg).map((d) => d.name);
  assert.ok(names.length > 150, `${names.length} fields`);
  const render = compileTemplate(names.map((n) => `%${n}`).join('\t'), 'rfc3339');
  for (const r of records) {
    const cells = render(r).split('\t');
    assert.ok(cells.length >= names.length, 'a cell per field');
  }
  assert.equal(
    compileTemplate('%evt.seq %evt.name %sf.proc.exe %5proc.pid 100% done', 'unix')(records[0]!),
    `1 ExecProcess ${records[0]!.proc!.exe} ${String(records[0]!.proc!.oid.hpid).padEnd(5)} 100% done`,
  );
});

test('a bad template is a load error naming its column', () => {
  const err = (t: string) => {
    try {
      compileTemplate(t, 'rfc3339');
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  assert.equal(err('{{ .Seq }} %proc.nme'), "attribute 'template.text': column 13: unknown field 'proc.nme' (did you mean 'proc.name'?)");
  assert.match(err('x {{ .Sek }}'), /^attribute 'template\.text': column 3: unknown placeholder \{\{ \.Sek \}\} \(did you mean \.Seq\?\); known: \.Seq /);
  assert.equal(err('{{ .Seq } x'), "attribute 'template.text': column 1: '{{' does not start a placeholder such as {{ .Name }}");
  assert.match(err('a\nb'), /cannot contain a line break/);
  // through the CLI: one line, exit 1
  const p = spawnSync(process.execPath, [CLI, '-config', 'pipelines/pipeline.terminal.json', join(FIXTURES, 'traces', 'sf-processor', 'tcp.sf')], {
    encoding: 'utf8',
    cwd: join(FIXTURES, '..', '..'),
    env: { ...process.env, EXPORTER_FORMAT: 'template', EXPORTER_TEMPLATE_TEXT: '%proc.nme' },
  });
  assert.equal(p.status, 1);
  assert.match(p.stderr, /plugin #2 \(exporter\): attribute 'template\.text': column 2: unknown field 'proc\.nme'/);
  const ok = spawnSync(process.execPath, [CLI, '-config', 'pipelines/pipeline.terminal.json', join(FIXTURES, 'traces', 'sf-processor', 'tcp.sf')], {
    encoding: 'utf8',
    cwd: join(FIXTURES, '..', '..'),
    env: { ...process.env, POLICYENGINE_MODE: 'enrich', EXPORTER_FORMAT: 'template', EXPORTER_TEMPLATE_TEXT: '{{ .Seq }} {{ .Name }} %sf.proc.name', EXPORTER_TEMPLATE_TIMEFORMAT: 'unix' },
  });
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.split('\n')[0], '1 ExecProcess server');
});
