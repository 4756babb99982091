/**
 * The CEF encoder (core/export/encoders/cef.ts), read back by an independent CEF parser written
 * here from the format's rules: seven `|`-separated header fields (`\|` and `\\` escaped), then
 * `key=value` pairs whose values run to the next unescaped ` key=` (`\=` and `\\` escaped, `\n`
 * and `\r` for line breaks). Every record of the traces (the full corpus when ../shared exists)
 * encodes to one line that parses and carries the record's values; hostile strings survive.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CefEncoder } from '../core/export/encoders/cef.js';
import { eventKind } from '../core/flatten/canonical.js';
import type { FlatRecord } from '../core/flatten/flatrecord.js';
import { ipStr } from '../core/sysflow/flags.js';
import { SfType } from '../core/sysflow/types.js';
import { MemorySink } from '../core/util/bytes.js';
import { secOf } from '../core/util/i64.js';
import { CORPUS_NOTE, TRACES_DIR } from './helpers/corpus.js';
import { ff, fe, initHashing, nf, OpFlags, pe } from './helpers/records.js';
import { flatRecords } from './helpers/run-pipeline.js';

interface Cef {
  header: string[];
  ext: Map<string, string>;
}

/** Parse one CEF line; throws on anything the format does not allow. */
function parseCef(line: string): Cef {
  assert.ok(!line.includes('\n') && !line.includes('\r'), 'a line holds no raw line break');
  const header: string[] = [];
  let cur = '';
  let i = 0;
  const unesc = (c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c);
  for (; header.length < 7; i++) {
    if (i >= line.length) throw new Error(`header ends after ${header.length} fields`);
    const c = line[i]!;
    if (c === '\\') {
      const n = line[++i]!;
      if (!'\\|nr'.includes(n)) throw new Error(`bad header escape \\${n} at ${i}`);
      cur += unesc(n);
    } else if (c === '|') {
      header.push(cur);
      cur = '';
    } else cur += c;
  }
  assert.match(header[0]!, /^CEF:0$/);
  const ext = new Map<string, string>();
  const rest = line.slice(i);
  // split at unescaped "key=": walk the string, tracking escapes
  const starts: { key: string; at: number }[] = [];
  for (let j = 0; j < rest.length; j++) {
    if (rest[j] === '\\') {
      j++;
      continue;
    }
    if (rest[j] === '=') {
      let k = j - 1;
      while (k >= 0 && /[A-Za-z0-9_]/.test(rest[k]!)) k--;
      const key = rest.slice(k + 1, j);
      if (key === '' || (k >= 0 && rest[k] !== ' ')) throw new Error(`'=' without a key at ${j} in '${rest}'`);
      starts.push({ key, at: k + 1 });
    }
  }
  for (let s = 0; s < starts.length; s++) {
    const { key, at } = starts[s]!;
    const end = s + 1 < starts.length ? starts[s + 1]!.at - 1 : rest.length;
    const raw = rest.slice(at + key.length + 1, end);
    let v = '';
    for (let j = 0; j < raw.length; j++) {
      if (raw[j] === '\\') {
        const n = raw[++j]!;
        if (!'\\=nr'.includes(n)) throw new Error(`bad value escape \\${n} in ${key}`);
        v += unesc(n);
      } else v += raw[j];
    }
    assert.ok(!ext.has(key), `key ${key} once`);
    ext.set(key, v);
  }
  return { header, ext };
}

const ms = (d: number, ns: number) => String(secOf(d, ns) * 1000 + Math.floor(ns / 1e6));

function check(r: FlatRecord, c: Cef, where: string): void {
  const e = c.ext;
  assert.deepEqual(c.header.slice(1, 4), ['SysFlow', 'sfprocessor', '1.2.3'], where);
  const kind = eventKind(r);
  const rule = r.rules?.[0];
  assert.equal(c.header[4], rule ? rule.name : kind.name, where);
  assert.equal(c.header[5], rule ? (rule.output ?? rule.desc) : kind.description, where);
  assert.match(c.header[6]!, /^(10|[0-9])$/, where);
  assert.equal(e.get('act'), kind.name, where);
  assert.equal(e.get('externalId'), String(r.seq), where);
  assert.equal(e.get('rt'), ms(r.rec.ts, r.rec.tsNs), where);
  if (r.proc) {
    assert.equal(e.get('sproc'), r.proc.exe, where);
    assert.equal(e.get('spid'), String(r.proc.oid.hpid), where);
    assert.equal(e.get('cs1'), r.proc.exeArgs === '' ? r.proc.exe : `${r.proc.exe} ${r.proc.exeArgs}`, where);
    assert.equal(e.get('suser'), r.proc.userName, where);
  } else assert.ok(!e.has('sproc'), where);
  const f = r.newFile ?? r.file;
  if (f) assert.equal(e.get('filePath'), f.path, where);
  if (r.newFile && r.file) assert.equal(e.get('oldFilePath'), r.file.path, where);
  if (r.sfType === SfType.NF) {
    const n = r.rec as { sip: number; dip: number; sport: number; dport: number };
    assert.deepEqual([e.get('src'), e.get('spt'), e.get('dst'), e.get('dpt')], [ipStr(n.sip), String(n.sport), ipStr(n.dip), String(n.dport)], where);
  }
  if (r.container) assert.equal(e.get('cs2'), r.container.id, where);
}

function encodeAll(records: readonly FlatRecord[]): string[] {
  const out = new MemorySink();
  const enc = new CefEncoder('1.2.3');
  for (const r of records) enc.encode(r, out);
  const text = out.text();
  assert.ok(text.endsWith('\n'));
  return text.slice(0, -1).split('\n');
}

test(`every record of the traces encodes to one CEF line that parses back to its values (${CORPUS_NOTE})`, async () => {
  const records = await flatRecords(TRACES_DIR);
  assert.ok(records.length > 5000, `${records.length} records`);
  const lines = encodeAll(records);
  assert.equal(lines.length, records.length);
  for (let i = 0; i < records.length; i++) check(records[i]!, parseCef(lines[i]!), `record ${i + 1}`);
});

test('escaping: |, \\, = and line breaks in header fields and values come back unchanged; severity follows the priority', async () => {
  await initHashing();
  const nasty = 'a|b\\c=d\ne\rf g=h \\=';
  const records = [
    pe({ exe: `/bin/${nasty}`, args: `--x=${nasty} | tee`, user: 'us=er|x' }),
    ff({ path: `/tmp/${nasty}` }),
    fe({ flags: OpFlags.RENAME, path: `/tmp/old=${nasty}`, newPath: `/tmp/new|${nasty}` }),
    nf({ sip: '10.1.2.3', dip: '192.168.7.9', sport: 5555, dport: 443 }),
  ];
  records[0]!.addRule({ name: `rule ${nasty}`, desc: 'd', priority: 4, tags: ['t=1', 'x|y'], output: `out ${nasty}` });
  records[1]!.addRule({ name: 'low one', desc: `desc ${nasty}`, priority: 1, tags: [] });
  const lines = encodeAll(records);
  const parsed = lines.map(parseCef);
  for (let i = 0; i < records.length; i++) check(records[i]!, parsed[i]!, `record ${i}`);
  assert.equal(parsed[0]!.header[4], `rule ${nasty}`);
  assert.equal(parsed[0]!.header[5], `out ${nasty}`);
  assert.equal(parsed[0]!.header[6], '10');
  assert.equal(parsed[0]!.ext.get('msg'), `out ${nasty}`);
  assert.equal(parsed[0]!.ext.get('cs5'), 't=1,x|y');
  assert.equal(parsed[0]!.ext.get('suser'), 'us=er|x');
  assert.equal(parsed[1]!.header[5], `desc ${nasty}`);
  assert.equal(parsed[1]!.header[6], '3');
  assert.equal(parsed[2]!.ext.get('act'), 'RenameFile');
  assert.equal(parsed[3]!.ext.get('proto'), 'TCP');
  assert.equal(parsed[3]!.header[6], '1', 'no rule: severity 1');
});
