/**
 * The `json` encoder: sf-processor's JSON record shape (compat §6.3) — same keys, same order, same
 * sections — with its invalid-JSON cases fixed: records without a process get empty ancestry lists,
 * pods with several IPs or services get commas, a parent that is not cached gives empty strings.
 * Values are the trace's own (not trimmed, not quote-stripped), so they agree with sysprint.
 */
import { Scratch, type ByteSink } from '../../util/bytes.js';
import type { FlatRecord } from '../../flatten/flatrecord.js';
import {
  SfType,
  type Process,
  type Pod,
  type Container,
  type File,
  type SFHeader,
  type FileFlow,
  type FileEvent,
  type NetworkFlow,
  type NetworkEvent,
  type ProcessFlow,
  type K8sEvent,
} from '../../sysflow/types.js';
import { opFlagNames, openFlagNames, isOpenRead, isOpenWrite, SF_PROCESSOR_TYPE_CODES } from '../../flatten/names.js';
import { baseName, dirName, splitSymlink } from '../../flatten/paths.js';
import { ipStr } from '../../sysflow/flags.js';
import { oidHash } from '../../util/xxh.js';
import type { Encoder } from '../types.js';
import { B, K, bool, strList } from './json-keys.js';
import { writeContainer, writePod } from './json-k8s.js';
import { activeShare } from './json-share.js';

const oidMemo = new WeakMap<Process, string>();
function procOid(p: Process): string {
  let h = oidMemo.get(p);
  if (h === undefined) {
    h = oidHash(p.oid.hpid, p.oid.createTS, p.oid.createTSNs);
    oidMemo.set(p, h);
  }
  return h;
}

const cmdline = (p: Process) => (p.exeArgs ? p.exe + ' ' + p.exeArgs : p.exe);

/**
 * The rendered sections, shared by every JsonEncoder: they depend on the entity alone (not on the
 * schema version), so an exporter and a subscriptions stage encoding the same records render each
 * entity once.
 */
const MEMOS = {
  header: new WeakMap<SFHeader, { meta: Buffer; node: Buffer }>(),
  cont: new WeakMap<Container, Buffer>(),
  pod: new WeakMap<Pod, Buffer>(),
  pproc: new WeakMap<Process, { pp: Process | undefined; buf: Buffer }>(),
  proc: new WeakMap<readonly Process[], { head: Buffer; tail: Buffer }>(),
  file: new WeakMap<File, { head: Buffer; name: Buffer; tail: Buffer }>(),
  op: new Map<number, Buffer>(),
  open: new Map<number, Buffer>(),
};

/**
 * Sections that depend only on an entity (header, container, pod, parent, process tree, file) are
 * rendered once per entity object and then copied: entities are immutable and shared by the many
 * records that refer to them, so most of a line is a memcpy.
 */
export class JsonEncoder implements Encoder {
  readonly name = 'json';
  private readonly version: Buffer;
  /** What the output depends on besides the record (for sharing lines, see json-share.ts). */
  readonly key: string;
  private readonly scratch = new Scratch();
  private readonly headerMemo = MEMOS.header;
  private readonly contMemo = MEMOS.cont;
  private readonly podMemo = MEMOS.pod;
  private readonly pprocMemo = MEMOS.pproc;
  private readonly procMemo = MEMOS.proc;
  private readonly fileMemo = MEMOS.file;
  private readonly opMemo = MEMOS.op;
  private readonly openMemo = MEMOS.open;

  /** `schemaVersion` is the JSON export schema version written as the first key. */
  constructor(schemaVersion: string) {
    const v = /^\d+$/.test(schemaVersion) ? schemaVersion : JSON.stringify(schemaVersion);
    this.key = v;
    this.version = B('{"version":' + v);
  }

  encode(r: FlatRecord, out: ByteSink): void {
    const share = activeShare;
    if (share === null || !share.claim(this, this.key)) {
      this.line(r, out);
      return;
    }
    const from = out.pos;
    const flushes = out.flushes;
    this.line(r, out);
    share.put(r, out, from, flushes);
  }

  private line(r: FlatRecord, out: ByteSink): void {
    const t = r.sfType;
    const rec = r.rec;
    out.bytes(this.version);
    // top level: endts, opflags, ret, ts, type
    out.bytes(K.endts);
    if (t === SfType.FF || t === SfType.NF || t === SfType.PF) {
      const f = rec as FileFlow | NetworkFlow | ProcessFlow;
      out.exact(f.endTs, f.endTsNs);
    } else if (t === SfType.KE) out.exact(rec.ts, rec.tsNs);
    else out.bytes(K.zero);
    out.bytes(K.opflags);
    if (t === SfType.KE) out.bytes(K.emptyList);
    else {
      const net = t === SfType.NF || t === SfType.NE;
      const flags = (rec as { opFlags: number }).opFlags;
      const key = net ? -1 - flags : flags;
      let b = this.opMemo.get(key);
      if (b === undefined) {
        b = this.scratch.render((o) => strList(o, opFlagNames(flags, net)));
        if (this.opMemo.size < 4096) this.opMemo.set(key, b);
      }
      out.bytes(b);
    }
    out.bytes(K.ret);
    if (t === SfType.PE || t === SfType.FE || t === SfType.NE) out.number((rec as { ret: number }).ret);
    else out.bytes(K.zero);
    out.bytes(K.ts);
    out.exact(rec.ts, rec.tsNs);
    out.bytes(K.type);
    out.goJsonString(SF_PROCESSOR_TYPE_CODES[t] ?? '');
    if (t === SfType.KE) {
      const ke = rec as K8sEvent;
      out.bytes(K.ke);
      out.goJsonString(ke.action);
      out.bytes(K.kind);
      out.goJsonString(ke.kind);
      out.bytes(K.message);
      out.goJsonString(ke.message);
      out.bytes(K.close);
      this.meta(r, out);
      this.node(r, out);
      this.results(r, out);
      out.bytes(K.endLine);
      return;
    }
    const c = r.container;
    if (c && c.id !== '') {
      let b = this.contMemo.get(c);
      if (b === undefined) this.contMemo.set(c, (b = this.scratch.render((o) => writeContainer(c, o))));
      out.bytes(b);
    }
    if (t === SfType.FF || t === SfType.FE) this.file(r, out);
    if (t === SfType.FF || t === SfType.NF) {
      const f = rec as FileFlow | NetworkFlow;
      out.bytes(K.flow);
      out.number(f.numRRecvBytes);
      out.bytes(K.rops);
      out.number(f.numRRecvOps);
      out.bytes(K.wbytes);
      out.number(f.numWSendBytes);
      out.bytes(K.wops);
      out.number(f.numWSendOps);
      out.bytes(K.close);
    }
    this.meta(r, out);
    if (t === SfType.NF || t === SfType.NE) this.net(rec as NetworkFlow | NetworkEvent, out);
    this.node(r, out);
    if (t === SfType.PF) {
      const f = rec as ProcessFlow;
      out.bytes(K.pf);
      out.number(f.numThreadsCloned);
      out.bytes(K.nexits);
      out.number(f.numThreadsExited);
      out.bytes(K.nerrors);
      out.number(f.numCloneErrors);
      out.bytes(K.close);
    }
    const pod = r.pod;
    if (pod && pod.id !== '') {
      let b = this.podMemo.get(pod);
      if (b === undefined) this.podMemo.set(pod, (b = this.scratch.render((o) => writePod(pod, o))));
      out.bytes(b);
    }
    this.pproc(r, out);
    this.proc(r, out);
    this.results(r, out);
    out.bytes(K.endLine);
  }

  private headerParts(r: FlatRecord): { meta: Buffer; node: Buffer } | null {
    const h = r.header;
    if (h === null) return null;
    let m = this.headerMemo.get(h);
    if (m === undefined) {
      m = { meta: this.scratch.render((o) => this.metaRaw(r, o)), node: this.scratch.render((o) => this.nodeRaw(r, o)) };
      this.headerMemo.set(h, m);
    }
    return m;
  }

  private meta(r: FlatRecord, out: ByteSink): void {
    const m = this.headerParts(r);
    if (m) out.bytes(m.meta);
    else this.metaRaw(r, out);
  }

  private node(r: FlatRecord, out: ByteSink): void {
    const m = this.headerParts(r);
    if (m) out.bytes(m.node);
    else this.nodeRaw(r, out);
  }

  private metaRaw(r: FlatRecord, out: ByteSink): void {
    out.bytes(K.meta);
    out.number(r.header ? r.header.version : 0);
    out.bytes(K.tracename);
    const fn = r.header?.filename;
    if (fn) out.goJsonString(baseName(fn));
    else out.bytes(K.dot);
    out.bytes(K.close);
  }

  private nodeRaw(r: FlatRecord, out: ByteSink): void {
    out.bytes(K.node);
    out.goJsonString(r.header ? r.header.exporter : '');
    out.bytes(K.nip);
    const ip = r.header?.ip;
    if (ip === undefined) out.bytes(K.na);
    else out.goJsonString(ip);
    out.bytes(K.close);
  }

  private openFlagList(flags: number, out: ByteSink): void {
    let b = this.openMemo.get(flags);
    if (b === undefined) {
      b = this.scratch.render((o) => strList(o, openFlagNames(flags)));
      if (this.openMemo.size < 4096) this.openMemo.set(flags, b);
    }
    out.bytes(b);
  }

  private file(r: FlatRecord, out: ByteSink): void {
    const t = r.sfType;
    const f = r.file;
    const nf = r.newFile;
    if (f !== undefined && nf === undefined && (t === SfType.FF || (r.rec as FileEvent).newFileOID === null)) {
      // Common case: one known file, no second one — file-derived parts come from the memo.
      let m = this.fileMemo.get(f);
      if (m === undefined) {
        const p = splitSymlink(f.path);
        m = {
          head: this.scratch.render((o) => {
            o.bytes(K.file);
            o.goJsonString(p.path === '' ? '.' : dirName(p.path));
          }),
          name: this.scratch.render((o) => {
            o.bytes(K.fname);
            o.goJsonString(baseName(p.path));
            o.ascii(',"newdirectory":".","newname":".","newoid":"","newpath":"","newsymlink":"","oid":');
            o.goJsonString(f.oid);
          }),
          tail: this.scratch.render((o) => {
            o.bytes(K.path);
            o.goJsonString(p.path);
            o.bytes(K.symlink);
            o.goJsonString(p.symlink);
            o.bytes(K.ftype);
            o.goJsonString(String.fromCharCode(f.restype));
            o.bytes(K.close);
          }),
        };
        this.fileMemo.set(f, m);
      }
      const ff = t === SfType.FF ? (r.rec as FileFlow) : null;
      const openFlags = ff ? (ff.openFlags ?? 0) : 0;
      out.bytes(m.head);
      out.bytes(K.fd);
      out.number(ff ? ff.fd : 0);
      out.bytes(K.isr);
      bool(out, ff !== null && isOpenRead(openFlags));
      out.bytes(K.isw);
      bool(out, ff !== null && isOpenWrite(openFlags));
      out.bytes(m.name);
      out.bytes(K.openflags);
      this.openFlagList(openFlags, out);
      out.bytes(m.tail);
      return;
    }
    const p = splitSymlink(f ? f.path : '');
    const np = splitSymlink(nf ? nf.path : '');
    const ff = t === SfType.FF ? (r.rec as FileFlow) : null;
    const openFlags = ff ? (ff.openFlags ?? 0) : 0;
    out.bytes(K.file);
    out.goJsonString(p.path === '' ? '.' : dirName(p.path));
    out.bytes(K.fd);
    out.number(ff ? ff.fd : 0);
    out.bytes(K.isr);
    bool(out, ff !== null && isOpenRead(openFlags));
    out.bytes(K.isw);
    bool(out, ff !== null && isOpenWrite(openFlags));
    out.bytes(K.fname);
    out.goJsonString(baseName(p.path));
    out.bytes(K.newdir);
    out.goJsonString(np.path === '' ? '.' : dirName(np.path));
    out.bytes(K.newname);
    out.goJsonString(baseName(np.path));
    out.bytes(K.newoid);
    out.goJsonString(t === SfType.FE ? ((r.rec as FileEvent).newFileOID ?? '') : '');
    out.bytes(K.newpath);
    out.goJsonString(nf ? nf.path : '');
    out.bytes(K.newsym);
    out.goJsonString(np.symlink);
    out.bytes(K.oid);
    out.goJsonString((r.rec as FileFlow | FileEvent).fileOID);
    out.bytes(K.openflags);
    this.openFlagList(openFlags, out);
    out.bytes(K.path);
    out.goJsonString(p.path);
    out.bytes(K.symlink);
    out.goJsonString(p.symlink);
    out.bytes(K.ftype);
    out.goJsonString(f ? String.fromCharCode(f.restype) : '');
    out.bytes(K.close);
  }

  private net(n: NetworkFlow | NetworkEvent, out: ByteSink): void {
    const sip = ipStr(n.sip);
    const dip = ipStr(n.dip);
    out.bytes(K.net);
    out.goJsonString(dip);
    out.bytes(K.dport);
    out.number(n.dport);
    out.bytes(K.ip);
    out.goJsonString(sip);
    out.bytes(K.comma);
    out.goJsonString(dip);
    out.bytes(K.port);
    out.number(n.sport);
    out.bytes(K.comma);
    out.number(n.dport);
    out.bytes(K.proto);
    out.number(n.proto);
    out.bytes(K.sip);
    out.goJsonString(sip);
    out.bytes(K.sport);
    out.number(n.sport);
    out.bytes(K.close);
  }

  private pproc(r: FlatRecord, out: ByteSink): void {
    const proc = r.proc;
    if (proc === undefined) return;
    let m = this.pprocMemo.get(proc);
    if (m === undefined || m.pp !== r.pproc) {
      m = { pp: r.pproc, buf: this.scratch.render((o) => this.pprocRaw(proc, r.pproc, o)) };
      this.pprocMemo.set(proc, m);
    }
    out.bytes(m.buf);
  }

  private pprocRaw(proc: Process, pp: Process | undefined, out: ByteSink): void {
    const poid = proc.poid;
    if (!poid || poid.hpid === 0) return;
    out.bytes(K.pproc);
    this.processFields(pp, poid, pp ? cmdline(pp) : '', out);
    this.procTail(pp, out);
  }

  /**
   * The fields proc and pproc share, from the value of "args" through "pid". `oid` gives pid and
   * createts (from the referring record when the process itself is not cached).
   */
  private processFields(p: Process | undefined, oid: Process['oid'], cmd: string, out: ByteSink): void {
    out.goJsonString(p ? p.exeArgs : '');
    out.bytes(K.cmdline);
    out.goJsonString(cmd);
    out.bytes(K.createts);
    out.exact(oid.createTS, oid.createTSNs);
    out.bytes(K.entry);
    bool(out, p?.entry);
    out.bytes(K.exe);
    out.goJsonString(p ? p.exe : '');
    out.bytes(K.gid);
    out.number(p ? p.gid : 0);
    out.bytes(K.group);
    out.goJsonString(p ? p.groupName : '');
    out.bytes(K.name);
    out.goJsonString(p ? baseName(p.exe) : '');
    out.bytes(K.poid);
    out.goJsonString(p ? procOid(p) : oidHash(oid.hpid, oid.createTS, oid.createTSNs));
    out.bytes(K.ppid);
    out.number(oid.hpid);
  }

  private proc(r: FlatRecord, out: ByteSink): void {
    const tree = r.ptree;
    const tid = r.sfType === SfType.PF ? (r.rec as ProcessFlow).procOID.hpid : (r.rec as { tid: number }).tid;
    if (tree.length > 0) {
      let m = this.procMemo.get(tree);
      if (m === undefined) {
        const p = tree[0]!;
        m = {
          head: this.scratch.render((o) => this.procHead(p, tree, p.oid, o)),
          tail: this.scratch.render((o) => this.procTail(p, o)),
        };
        this.procMemo.set(tree, m);
      }
      out.bytes(m.head);
      out.number(tid);
      out.bytes(m.tail);
      return;
    }
    this.procHead(r.proc, tree, (r.rec as { procOID: Process['oid'] }).procOID, out);
    out.number(tid);
    this.procTail(r.proc, out);
  }

  /** The proc section up to and including the "tid" key. */
  private procHead(p: Process | undefined, tree: readonly Process[], oid: Process['oid'], out: ByteSink): void {
    out.bytes(K.proc);
    out.bytes(K.lbr);
    for (let i = 0; i < tree.length; i++) {
      if (i) out.bytes(K.comma);
      out.goJsonString(cmdline(tree[i]!));
    }
    out.bytes(K.rbr);
    out.bytes(K.aexe);
    out.bytes(K.lbr);
    for (let i = 0; i < tree.length; i++) {
      if (i) out.bytes(K.comma);
      out.goJsonString(tree[i]!.exe);
    }
    out.bytes(K.rbr);
    out.bytes(K.aname);
    out.bytes(K.lbr);
    for (let i = 0; i < tree.length; i++) {
      if (i) out.bytes(K.comma);
      out.goJsonString(baseName(tree[i]!.exe));
    }
    out.bytes(K.rbr);
    out.bytes(K.apid);
    out.bytes(K.lbr);
    for (let i = 0; i < tree.length; i++) {
      if (i) out.bytes(K.comma);
      out.number(tree[i]!.oid.hpid);
    }
    out.bytes(K.rbr);
    out.bytes(K.args);
    // sf-processor's proc cmdline always has the space (pproc's only when there are args).
    this.processFields(p, oid, p ? p.exe + ' ' + p.exeArgs : '', out);
    out.bytes(K.tid);
  }

  private procTail(p: Process | undefined, out: ByteSink): void {
    out.bytes(K.tty);
    bool(out, p?.tty);
    out.bytes(K.uid);
    out.number(p ? p.uid : 0);
    out.bytes(K.user);
    out.goJsonString(p ? p.userName : '');
    out.bytes(K.close);
  }

  private results(r: FlatRecord, out: ByteSink): void {
    const rules = r.rules;
    if (rules !== null && rules.length > 0) {
      out.bytes(K.policies);
      for (let i = 0; i < rules.length; i++) {
        const rule = rules[i]!;
        if (i) out.bytes(K.comma);
        out.ascii('{"id":');
        out.goJsonString(rule.name);
        out.ascii(',"desc":');
        out.goJsonString(rule.desc);
        out.ascii(',"priority":');
        out.number(rule.priority);
        if (rule.output !== undefined) {
          out.ascii(',"output":');
          out.goJsonString(rule.output);
        }
        if (rule.suppressed !== undefined) {
          out.ascii(',"suppressed":');
          out.number(rule.suppressed);
          out.ascii(',"window_start":"');
          out.ascii(new Date(rule.windowStart!).toISOString());
          out.ascii('"');
        }
        out.ascii('}');
      }
      out.bytes(K.rbr);
    }
    let nTags = r.tags ? r.tags.length : 0;
    if (rules) for (const rule of rules) nTags += rule.tags.length;
    if (nTags > 0) {
      out.bytes(K.tags);
      let first = true;
      const emit = (tag: string) => {
        if (!first) out.bytes(K.comma);
        first = false;
        out.goJsonString(tag);
      };
      if (r.tags) for (const tag of r.tags) emit(tag);
      if (rules) for (const rule of rules) for (const tag of rule.tags) emit(tag);
      out.bytes(K.rbr);
    }
  }
}

/**
 * Records as JSON text, one object without the line's newline, for consumers that want a string
 * (plugins' ctx.json, live subscriptions). The encoder is made at the first record.
 */
export function jsonText(schemaVersion: string): (r: FlatRecord) => string {
  let enc: JsonEncoder | null = null;
  const scratch = new Scratch();
  return (r) => {
    enc ??= new JsonEncoder(schemaVersion);
    enc.encode(r, scratch);
    const b = scratch.take();
    return b.toString('utf8', 0, b.length && b[b.length - 1] === 10 ? b.length - 1 : b.length);
  };
}
