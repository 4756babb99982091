/**
 * The `ecs` encoder: one Elastic Common Schema document per record, shaped as sf-processor's ECS
 * encoder shapes it (compat §6.4): fixed top-level key order, keys inside objects sorted as Go's
 * encoding/json sorts map keys, strings escaped as Go escapes them (`<`, `>`, `&` as \u003c …).
 *
 * Fixed against upstream (docs/ecs.md): flow counters are the true values (not doubled),
 * `process.command_line` has no trailing space when there are no arguments, `event.kind` is
 * "alert" when a rule matched. Extensions: ProcessFlow and NetworkEvent records (which upstream's
 * reader drops) get a document too.
 *
 * `ecsDocId` gives the Elasticsearch `_id` of a record's document (XXH64 over its identifying fields).
 *
 * Like the json encoder, sections that depend on one entity only (header, container, pod, process,
 * file) are rendered once per entity object and copied afterwards.
 */
import { Scratch, type ByteSink } from '../../util/bytes.js';
import type { FlatRecord } from '../../flatten/flatrecord.js';
import {
  SfType,
  type Container,
  type File,
  type FileEvent,
  type FileFlow,
  type K8sEvent,
  type NetworkEvent,
  type NetworkFlow,
  type OID,
  type Pod,
  type Process,
  type ProcessEvent,
  type ProcessFlow,
  type SFHeader,
} from '../../sysflow/types.js';
import { OpFlags } from '../../sysflow/flags.js';
import { SF_PROCESSOR_TYPE_CODES } from '../../flatten/names.js';
import { baseName, dirName } from '../../flatten/paths.js';
import { filePath, ip, procCmdline } from '../../flatten/derive.js';
import type { Encoder } from '../types.js';
import { writeDuration, writeIso } from './go-time.js';
import { cachedCommunityId } from './community-id.js';
import { ecsDocId, keMessage, type ProcEv } from './ecs-doc-id.js';
import { ecsFileType, FE_CLASSES, keType, peClass, protoName } from './ecs-classes.js';
import { B, K } from './ecs-keys.js';
import { renderContainer, renderKeOrchestrator, renderPod } from './ecs-k8s.js';

export { communityId } from './community-id.js';
export { ecsDocId } from './ecs-doc-id.js';
export { isoNano } from './go-time.js';

// ---------------------------------------------------------------------------------------------
// event classification

interface EventClass {
  /** `{"event":{"action":…,"category":…,"duration":` (preceded by agent and ecs). */
  readonly head: Buffer;
  /** `,"type":…}` */
  readonly tail: Buffer;
}

// ---------------------------------------------------------------------------------------------

export class EcsEncoder implements Encoder {
  readonly name = 'ecs';
  private readonly scratch = new Scratch();
  /** `,"agent":{…},"ecs":{…},"event":{"action":` */
  private readonly preamble: Buffer;
  private readonly classMemo = new Map<string, EventClass>();
  private readonly hostMemo = new WeakMap<SFHeader, Buffer>();
  private readonly contMemo = new WeakMap<Container, Buffer>();
  private readonly podMemo = new WeakMap<Pod, Buffer>();
  private readonly procMemo = new WeakMap<Process, { pp: Process | undefined; head: Buffer; tail: Buffer }>();
  private readonly fileMemo = new WeakMap<File, Buffer[]>();
  private readonly typeCodes: Buffer[] = SF_PROCESSOR_TYPE_CODES.map((c) => B(`,"sf_type":"${c}","start":`));
  private lastKeMessage = '';
  private lastKeOrch: Buffer = Buffer.alloc(0);

  /** `version`: the product version (agent.version, omitted when empty); `ecsVersion`: ecs.version. */
  constructor(version: string, ecsVersion: string) {
    const s = this.scratch;
    s.ascii(',"agent":{"type":"SysFlow"');
    if (version !== '') {
      s.ascii(',"version":');
      s.goJsonString(version);
    }
    s.ascii('},"ecs":{');
    if (ecsVersion !== '') {
      s.ascii('"version":');
      s.goJsonString(ecsVersion);
    }
    s.ascii('},"event":{"action":');
    this.preamble = s.take();
  }

  private eventClass(action: string, category: string, type: string): EventClass {
    const key = action + '\u0000' + category + '\u0000' + type;
    let c = this.classMemo.get(key);
    if (c === undefined) {
      const s = this.scratch;
      s.bytes(this.preamble);
      s.goJsonString(action);
      s.ascii(',"category":');
      s.goJsonString(category);
      s.ascii(',"duration":');
      const head = s.take();
      s.ascii(',"type":');
      s.goJsonString(type);
      s.ascii('}');
      c = { head, tail: s.take() };
      if (this.classMemo.size < 1024) this.classMemo.set(key, c);
    }
    return c;
  }

  /** The Elasticsearch `_id` of the record's document (see ecsDocId). */
  docId(r: FlatRecord): string {
    return ecsDocId(r);
  }

  encode(r: FlatRecord, out: ByteSink): void {
    const t = r.sfType;
    const rec = r.rec;
    out.bytes(K.ts);
    writeIso(out, rec.ts, rec.tsNs);

    // ---- event
    let cls: EventClass;
    let endD = rec.ts;
    let endNs = rec.tsNs;
    const flags = (rec as ProcEv).opFlags ?? 0;
    switch (t) {
      case SfType.PE: {
        const pe = rec as ProcessEvent;
        const ty = peClass(flags, pe.procOID.hpid, pe.tid);
        cls = this.eventClass('process-' + ty, 'process', ty);
        break;
      }
      case SfType.FF: {
        const f = rec as FileFlow;
        let ty = 'access';
        let action = 'file-access';
        if (flags & OpFlags.READ_RECV && (f.numRRecvBytes > 0 || f.numRRecvOps > 0)) action += '-read';
        if (flags & OpFlags.WRITE_SEND && (f.numWSendBytes > 0 || f.numWSendOps > 0)) {
          ty = 'change';
          action += '-write';
        }
        cls = this.eventClass(action, 'file', ty);
        break;
      }
      case SfType.FE: {
        let c: readonly [number, string, string, string] | undefined;
        for (const fc of FE_CLASSES) {
          if (flags & fc[0]) {
            c = fc;
            break;
          }
        }
        cls = c ? this.eventClass(c[3], c[1], c[2]) : this.eventClass('file-change', 'file', 'change');
        break;
      }
      case SfType.NF:
        cls = this.eventClass('network-connection-traffic', 'network', 'connection');
        break;
      case SfType.NE:
        cls = this.eventClass('network-connection', 'network', 'connection');
        break;
      case SfType.PF:
        cls = this.eventClass('process-flow', 'process', 'info');
        break;
      case SfType.KE: {
        const action = (rec as K8sEvent).action;
        cls = this.eventClass(action, 'orchestration', keType(action));
        break;
      }
      default:
        cls = this.eventClass('', '', '');
    }
    if (t === SfType.FF || t === SfType.NF || t === SfType.PF) {
      const f = rec as FileFlow | NetworkFlow | ProcessFlow;
      if (f.endTs !== 0 || f.endTsNs !== 0) {
        endD = f.endTs;
        endNs = f.endTsNs;
      }
    }
    out.bytes(cls.head);
    writeDuration(out, rec.ts, rec.tsNs, endD, endNs);
    out.bytes(K.end);
    writeIso(out, endD, endNs);
    const rules = r.rules;
    const alert = rules !== null && rules.length > 0;
    out.bytes(alert ? K.kindAlert : K.kindEvent);
    if (t === SfType.KE) {
      out.bytes(K.original);
      out.goJsonString(keMessage((rec as K8sEvent).message));
    }
    if (alert) {
      out.bytes(K.reason);
      let severity = 1;
      if (rules.length === 1) {
        out.goJsonString(rules[0]!.name);
        severity = Math.max(severity, rules[0]!.priority);
      } else {
        let reason = '';
        for (let i = 0; i < rules.length; i++) {
          if (i) reason += ', ';
          reason += rules[i]!.name;
          if (rules[i]!.priority > severity) severity = rules[i]!.priority;
        }
        out.goJsonString(reason);
      }
      out.bytes(K.severity);
      out.number(severity);
    }
    if (t === SfType.PE || t === SfType.FE || t === SfType.NE) {
      out.bytes(K.sfRet);
      out.number((rec as ProcessEvent | FileEvent | NetworkEvent).ret);
    }
    out.bytes(this.typeCodes[t] ?? this.typeCodes[0]!);
    writeIso(out, rec.ts, rec.tsNs);
    out.bytes(cls.tail);

    // ---- host
    this.host(r, out);

    if (t === SfType.KE) {
      this.keOrchestrator(rec as K8sEvent, out);
      this.tags(r, out);
      out.bytes(K.endLine);
      return;
    }

    // ---- container, orchestrator, pod, service
    const c = r.container;
    if (c !== undefined && c.id !== '') {
      let b = this.contMemo.get(c);
      if (b === undefined) this.contMemo.set(c, (b = renderContainer(this.scratch, c)));
      out.bytes(b);
    }
    const pod = r.pod;
    if (pod !== undefined && pod.id !== '') {
      let b = this.podMemo.get(pod);
      if (b === undefined) this.podMemo.set(pod, (b = renderPod(this.scratch, pod)));
      out.bytes(b);
    }

    // ---- file, sf_file_action
    if (t === SfType.FF || t === SfType.FE) this.file(r, flags, out);
    if (t === SfType.FF) {
      const f = rec as FileFlow;
      if (f.numRRecvBytes > 0 || f.numRRecvOps > 0 || f.numWSendBytes > 0 || f.numWSendOps > 0) {
        out.bytes(K.fileAction);
        out.number(f.numRRecvBytes);
        out.bytes(K.bytesWritten);
        out.number(f.numWSendBytes);
        out.bytes(K.readOps);
        out.number(f.numRRecvOps);
        out.bytes(K.writeOps);
        out.number(f.numWSendOps);
        out.bytes(K.close);
      }
    }

    // ---- network, source, destination
    if (t === SfType.NF || t === SfType.NE) this.network(rec as NetworkFlow | NetworkEvent, t === SfType.NF, out);

    // ---- process, user
    this.process(r, out);
    this.tags(r, out);
    out.bytes(K.endLine);
  }

  private host(r: FlatRecord, out: ByteSink): void {
    const h = r.header;
    if (h === null) {
      this.hostRaw(null, out);
      return;
    }
    let b = this.hostMemo.get(h);
    if (b === undefined) {
      this.hostRaw(h, this.scratch);
      this.hostMemo.set(h, (b = this.scratch.take()));
    }
    out.bytes(b);
  }

  private hostRaw(h: SFHeader | null, out: ByteSink): void {
    out.bytes(K.host);
    out.goJsonString(h ? h.exporter : '');
    out.bytes(K.hostIp);
    if (h === null || h.ip === undefined) out.bytes(K.na);
    else out.goJsonString(h.ip);
    out.bytes(K.close);
  }

  private keOrchestrator(k: K8sEvent, out: ByteSink): void {
    if (k.message !== this.lastKeMessage || this.lastKeOrch.length === 0) {
      this.lastKeOrch = renderKeOrchestrator(this.scratch, k.message);
      this.lastKeMessage = k.message;
    }
    out.bytes(this.lastKeOrch);
  }

  /** The file section. Memoised per file for the usual case (a known, non-empty path, no target). */
  private file(r: FlatRecord, flags: number, out: ByteSink): void {
    const f = r.file;
    const symlink = (flags & OpFlags.SYMLINK) !== 0;
    let target: string | null = null;
    if (r.sfType === SfType.FE && !(flags & (OpFlags.MKDIR | OpFlags.RMDIR | OpFlags.UNLINK)) && flags & (OpFlags.SYMLINK | OpFlags.LINK | OpFlags.RENAME)) {
      target = filePath(r.newFile);
    }
    const path = filePath(f);
    if (f !== undefined && path !== '' && target === null) {
      let m = this.fileMemo.get(f);
      if (m === undefined) this.fileMemo.set(f, (m = []));
      const k = symlink ? 1 : 0;
      let b = m[k];
      if (b === undefined) {
        this.fileRaw(path, '', symlink ? 'symlink' : ecsFileType(f.restype), null, this.scratch);
        b = m[k] = this.scratch.take();
      }
      out.bytes(b);
      return;
    }
    const type = symlink ? 'symlink' : ecsFileType(f?.restype);
    let fd = '';
    if (path === '') fd = String(r.sfType === SfType.FF ? (r.rec as FileFlow).fd : 0);
    this.fileRaw(path, fd, type, target, out, (r.rec as FileFlow | FileEvent).procOID.hpid);
  }

  /** `fd` is used (with `pid`) when the path is empty: /proc/<pid>/fd/<fd>. */
  private fileRaw(path: string, fd: string, type: string, target: string | null, out: ByteSink, pid = 0): void {
    let name: string;
    if (path !== '') name = baseName(path);
    else {
      path = `/proc/${pid}/fd/${fd}`;
      name = fd;
    }
    out.bytes(K.fileDir);
    if (type === 'dir') out.goJsonString(path);
    else {
      out.goJsonString(dirName(path));
      out.bytes(K.fileName);
      out.goJsonString(name);
      if (path !== name) {
        out.bytes(K.filePath);
        out.goJsonString(path);
      }
    }
    if (target !== null) {
      out.bytes(K.fileTarget);
      out.goJsonString(target);
    }
    out.bytes(K.fileType);
    out.goJsonString(type);
    out.bytes(K.close);
  }

  private network(n: NetworkFlow | NetworkEvent, flow: boolean, out: ByteSink): void {
    const sip = ip(n.sip);
    const dip = ip(n.dip);
    const f = flow ? (n as NetworkFlow) : null;
    if (f) {
      out.bytes(K.network);
      out.number(f.numRRecvBytes + f.numWSendBytes);
      out.bytes(K.cid);
    } else {
      out.bytes(K.netNoBytes);
      out.bytes(K.cidFirst);
    }
    out.goJsonString(cachedCommunityId(n.sip, n.sport, n.dip, n.dport, n.proto));
    out.bytes(K.iana);
    out.number(n.proto);
    out.bytes(K.protocol);
    out.goJsonString(protoName(n.proto));
    out.bytes(K.close);
    this.endpoint(K.source, sip, f ? f.numWSendBytes : -1, f ? f.numWSendOps : -1, n.sport, out);
    this.endpoint(K.destination, dip, f ? f.numRRecvBytes : -1, f ? f.numRRecvOps : -1, n.dport, out);
  }

  /** bytes/packets < 0: not written (network events have no counters). */
  private endpoint(key: Buffer, addr: string, bytes: number, packets: number, port: number, out: ByteSink): void {
    out.bytes(key);
    out.goJsonString(addr);
    if (bytes >= 0) {
      out.bytes(K.epBytes);
      out.number(bytes);
    }
    out.bytes(K.epIp);
    out.goJsonString(addr);
    if (packets >= 0) {
      out.bytes(K.epPackets);
      out.number(packets);
    }
    out.bytes(K.epPort);
    out.number(port);
    out.bytes(K.close);
  }

  private process(r: FlatRecord, out: ByteSink): void {
    const rec = r.rec as ProcEv;
    const tid = rec.tid ?? rec.procOID?.hpid ?? 0;
    const p = r.proc;
    if (p !== undefined) {
      let m = this.procMemo.get(p);
      if (m === undefined || m.pp !== r.pproc) {
        this.processHead(p, r.pproc, p.oid, this.scratch);
        const head = this.scratch.take();
        this.processTail(p, this.scratch);
        m = { pp: r.pproc, head, tail: this.scratch.take() };
        this.procMemo.set(p, m);
      }
      out.bytes(m.head);
      out.number(tid);
      out.bytes(m.tail);
      return;
    }
    this.processHead(undefined, undefined, rec.procOID ?? ZERO_OID, out);
    out.number(tid);
    this.processTail(undefined, out);
  }

  /** The process section up to `"thread":{"id":`. */
  private processHead(p: Process | undefined, pp: Process | undefined, oid: OID, out: ByteSink): void {
    out.bytes(K.procHead);
    out.goJsonString(p ? p.exeArgs : '');
    out.bytes(K.cmdline);
    out.goJsonString(procCmdline(p));
    out.bytes(K.exe);
    out.goJsonString(p ? p.exe : '');
    out.bytes(K.name);
    out.goJsonString(baseName(p ? p.exe : ''));
    out.bytes(K.parent);
    out.goJsonString(pp ? pp.exeArgs : '');
    out.bytes(K.cmdline);
    out.goJsonString(procCmdline(pp));
    out.bytes(K.exe);
    out.goJsonString(pp ? pp.exe : '');
    out.bytes(K.name);
    out.goJsonString(baseName(pp ? pp.exe : ''));
    const poid = p?.poid ?? ZERO_OID;
    out.bytes(K.pid);
    out.number(poid.hpid);
    out.bytes(K.pstart);
    writeIso(out, poid.createTS, poid.createTSNs);
    out.bytes(K.parentEnd);
    out.number(oid.hpid);
    out.bytes(K.pstart);
    writeIso(out, oid.createTS, oid.createTSNs);
    out.bytes(K.threadId);
  }

  /** After the thread id: closes process, then the user section. */
  private processTail(p: Process | undefined, out: ByteSink): void {
    out.bytes(K.procTail);
    out.bytes(K.user);
    out.number(p ? p.gid : 0);
    if (p && p.groupName !== '') {
      out.ascii(',"name":');
      out.goJsonString(p.groupName);
    }
    out.bytes(K.userId);
    out.number(p ? p.uid : 0);
    if (p && p.userName !== '') {
      out.ascii(',"name":');
      out.goJsonString(p.userName);
    }
    out.bytes(K.close);
  }

  private tags(r: FlatRecord, out: ByteSink): void {
    const rules = r.rules;
    let n = r.tags ? r.tags.length : 0;
    if (rules) for (let i = 0; i < rules.length; i++) n += rules[i]!.tags.length;
    if (n === 0) return;
    out.bytes(K.tags);
    let first = true;
    if (r.tags) {
      for (const tag of r.tags) {
        if (!first) out.bytes(K.comma);
        first = false;
        out.goJsonString(tag);
      }
    }
    if (rules) {
      for (const rule of rules) {
        for (const tag of rule.tags) {
          if (!first) out.bytes(K.comma);
          first = false;
          out.goJsonString(tag);
        }
      }
    }
    out.bytes(K.rbr);
  }
}

const ZERO_OID: OID = Object.freeze({ hpid: 0, createTS: 0, createTSNs: 0 });
