/** The Elasticsearch `_id` of a record's ECS document (XXH64 over its identifying fields). */
import type { FlatRecord } from '../../flatten/flatrecord.js';
import { SfType, K8S_ACTIONS, K8S_COMPONENTS, type FileEvent, type FileFlow, type K8sEvent, type NetworkFlow, type OID } from '../../sysflow/types.js';
import { toHiLo } from '../../util/i64.js';
import { h64Hex } from '../../util/xxh.js';

let idBuf = Buffer.allocUnsafe(1024);
let idPos = 0;

function idRoom(n: number): void {
  if (idPos + n <= idBuf.length) return;
  const nb = Buffer.allocUnsafe(Math.max(idBuf.length * 2, idPos + n));
  idBuf.copy(nb, 0, 0, idPos);
  idBuf = nb;
}
function idStr(s: string): void {
  idRoom(s.length * 3);
  idPos += idBuf.write(s, idPos, 'utf8');
}
/** A 64-bit value in (d, ns) form, little-endian. */
function idI64(d: number, ns: number): void {
  idRoom(8);
  const { hi, lo } = toHiLo(d, ns);
  idBuf.writeUInt32LE(lo >>> 0, idPos);
  idBuf.writeInt32LE(hi | 0, idPos + 4);
  idPos += 8;
}
/** A 32-bit signed integer, sign-extended to 8 bytes little-endian. */
function idI32(v: number): void {
  idRoom(8);
  v |= 0;
  idBuf.writeInt32LE(v, idPos);
  idBuf.writeInt32LE(v < 0 ? -1 : 0, idPos + 4);
  idPos += 8;
}

/** What carries a process OID, thread id and op flags. */
export interface ProcEv {
  procOID?: OID;
  tid?: number;
  opFlags?: number;
}

/**
 * The Elasticsearch document id of a record (compat §6.4): XXH64 (seed 0), as 16 lowercase hex
 * digits, over the node id, the container id, then 8-byte little-endian ts, tid, process createTS
 * and op flags; then for FF/FE the file OID, for NF sip, sport, dip, dport, proto (8 bytes each),
 * for KE the action and kind ordinals (8 bytes each) and the message.
 */
export function ecsDocId(r: FlatRecord): string {
  const t = r.sfType;
  const rec = r.rec;
  const ev = rec as ProcEv;
  idPos = 0;
  idStr(r.header ? r.header.exporter : '');
  idStr(r.container ? r.container.id : '');
  idI64(rec.ts, rec.tsNs);
  idI32(ev.tid ?? 0);
  const oid = ev.procOID;
  if (oid) idI64(oid.createTS, oid.createTSNs);
  else idI64(0, 0);
  idI32(ev.opFlags ?? 0);
  if (t === SfType.FF || t === SfType.FE) idStr((rec as FileFlow | FileEvent).fileOID);
  else if (t === SfType.NF) {
    const n = rec as NetworkFlow;
    idI32(n.sip);
    idI32(n.sport);
    idI32(n.dip);
    idI32(n.dport);
    idI32(n.proto);
  } else if (t === SfType.KE) {
    const k = rec as K8sEvent;
    idI32((K8S_ACTIONS as readonly string[]).indexOf(k.action));
    idI32((K8S_COMPONENTS as readonly string[]).indexOf(k.kind));
    idStr(keMessage(k.message));
  }
  return h64Hex(idBuf.subarray(0, idPos));
}

/** A K8s event message without the "\n\0" the collector appends (sf-processor's reader strips it). */
export function keMessage(m: string): string {
  let e = m.length;
  while (e > 0) {
    const c = m.charCodeAt(e - 1);
    if (c !== 0 && c !== 10) break;
    e--;
  }
  return e === m.length ? m : m.slice(0, e);
}
