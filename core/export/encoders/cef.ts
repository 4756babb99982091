/**
 * CEF (ArcSight Common Event Format, version 0): one line per record, for the syslog transport or
 * files.
 *
 *   CEF:0|SysFlow|sfprocessor|<version>|<signature>|<name>|<severity>|<extension>
 *
 * The signature is the first matched rule's name, or else the record's canonical event name
 * (evt.name). The name is the rule's rendered output (or its description), or else evt.description.
 * The severity comes from the rule's priority (no rule: 1). Header fields escape `\` and `|`;
 * extension values escape `\` and `=`; newlines are written as `\n` and `\r` everywhere.
 * The extension keys are CEF's standard dictionary plus labelled custom strings; the mapping is in
 * docs/formats.md#cef.
 *
 * Sections that depend only on an entity (process, file, container) are rendered once per entity
 * object and copied, as in the JSON encoder.
 */
import { eventCategory, eventHost, eventKind } from '../../flatten/canonical.js';
import { SF_PROCESSOR_TYPE_CODES } from '../../flatten/names.js';
import type { FlatRecord } from '../../flatten/flatrecord.js';
import { ipStr } from '../../sysflow/flags.js';
import { type Container, type File, type Process, SfType } from '../../sysflow/types.js';
import type { ByteSink } from '../../util/bytes.js';
import { msOf } from '../../util/i64.js';
import type { Encoder } from '../types.js';

/** Our priorities (0 informational … 4 critical) on CEF's 0–10 scale. */
const SEVERITY = [1, 3, 5, 8, 10];
const PROTO: Record<number, string> = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };
const HEADER_SPECIAL = /[\\|\r\n]/;
const VALUE_SPECIAL = /[\\=\r\n]/;

/** A header field, escaped. */
export function cefHeader(s: string): string {
  if (!HEADER_SPECIAL.test(s)) return s;
  return s.replace(/[\\|]/g, '\\$&').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** An extension value, escaped. */
export function cefValue(s: string): string {
  if (!VALUE_SPECIAL.test(s)) return s;
  return s.replace(/[\\=]/g, '\\$&').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

export class CefEncoder implements Encoder {
  readonly name = 'cef';
  private readonly head: string;
  private readonly procMemo = new WeakMap<Process, string>();
  private readonly fileMemo = new WeakMap<File, string>();
  private readonly contMemo = new WeakMap<Container, string>();

  constructor(version: string) {
    this.head = `CEF:0|SysFlow|sfprocessor|${cefHeader(version)}|`;
  }

  private proc(p: Process): string {
    let s = this.procMemo.get(p);
    if (s === undefined) {
      const cmd = p.exeArgs === '' ? p.exe : `${p.exe} ${p.exeArgs}`;
      s = ` spid=${p.oid.hpid} sproc=${cefValue(p.exe)} suid=${p.uid} suser=${cefValue(p.userName)}` + ` cs1Label=cmdline cs1=${cefValue(cmd)}`;
      this.procMemo.set(p, s);
    }
    return s;
  }

  private fileSection(f: File): string {
    let s = this.fileMemo.get(f);
    if (s === undefined) {
      const slash = f.path.lastIndexOf('/');
      s = ` fname=${cefValue(slash >= 0 ? f.path.slice(slash + 1) : f.path)} filePath=${cefValue(f.path)}`;
      this.fileMemo.set(f, s);
    }
    return s;
  }

  private cont(c: Container): string {
    let s = this.contMemo.get(c);
    if (s === undefined) {
      s = ` cs2Label=containerId cs2=${cefValue(c.id)} cs3Label=containerName cs3=${cefValue(c.name)} cs4Label=containerImage cs4=${cefValue(c.image)}`;
      this.contMemo.set(c, s);
    }
    return s;
  }

  encode(r: FlatRecord, out: ByteSink): void {
    const kind = eventKind(r);
    const rule = r.rules?.[0];
    const rec = r.rec;
    let line = this.head;
    if (rule) line += `${cefHeader(rule.name)}|${cefHeader(rule.output ?? rule.desc)}|${SEVERITY[rule.priority] ?? 5}|`;
    else line += `${kind.name}|${cefHeader(kind.description)}|1|`;
    line += `rt=${msOf(rec.ts, rec.tsNs)} externalId=${r.seq} act=${kind.name} cat=${eventCategory(r)} cs6Label=sfType cs6=${SF_PROCESSOR_TYPE_CODES[r.sfType] ?? r.sfType}`;
    const host = eventHost(r);
    if (host !== '') line += ` dvchost=${cefValue(host)}`;
    const t = r.sfType;
    if (t === SfType.FF || t === SfType.NF || t === SfType.PF) {
      const f = rec as { endTs: number; endTsNs: number };
      line += ` end=${msOf(f.endTs, f.endTsNs)}`;
    }
    if (r.proc) line += this.proc(r.proc);
    if (r.pproc) line += ` cn1Label=ppid cn1=${r.pproc.oid.hpid}`;
    if (t === SfType.NF || t === SfType.NE) {
      const n = rec as { sip: number; sport: number; dip: number; dport: number; proto: number; numRRecvBytes?: number; numWSendBytes?: number };
      line += ` src=${ipStr(n.sip)} spt=${n.sport} dst=${ipStr(n.dip)} dpt=${n.dport} proto=${PROTO[n.proto] ?? n.proto}`;
      if (n.numRRecvBytes !== undefined) line += ` in=${n.numRRecvBytes} out=${n.numWSendBytes}`;
    } else if (t === SfType.FF) {
      const f = rec as { numRRecvBytes: number; numWSendBytes: number };
      line += ` in=${f.numRRecvBytes} out=${f.numWSendBytes}`;
    }
    // a rename or link: the file it created is the file; the one it started from, the old one
    if (r.newFile) {
      line += this.fileSection(r.newFile);
      if (r.file) line += ` oldFilePath=${cefValue(r.file.path)}`;
    } else if (r.file) line += this.fileSection(r.file);
    if (t === SfType.PE || t === SfType.FE) line += ` outcome=${(rec as { ret: number }).ret === 0 ? 'success' : `failure ${(rec as { ret: number }).ret}`}`;
    if (r.container) line += this.cont(r.container);
    let tags = '';
    if (r.tags) tags = r.tags.join(',');
    if (r.rules) for (const m of r.rules) for (const x of m.tags) tags += tags === '' ? x : `,${x}`;
    if (tags !== '') line += ` cs5Label=tags cs5=${cefValue(tags)}`;
    if (rule) line += ` msg=${cefValue(rule.output ?? rule.desc)}`;
    out.write(line);
    out.ascii('\n');
  }
}
