/**
 * Avro binary encoder for canonical SysFlow records (core/sysflow/types.ts), always in the layout of
 * SYSFLOW_SCHEMA (v5), whatever writer schema the record was originally read with.
 *
 * 64-bit values are written exactly without BigInt: a wide field (d, ns) is split into two 32-bit
 * halves with exact float arithmetic, and zig-zag/varint run on the halves with int32 bit operations.
 */
import { SYSFLOW_SCHEMA } from '../../core/sysflow/schema.js';
import type { OID, Pod, Process, SysFlowRecord } from '../../core/sysflow/types.js';

const TWO32 = 4294967296;
const TWO63 = 2 ** 63;
const SAFE = Number.MAX_SAFE_INTEGER;

type FastBuffer = Buffer & {
  utf8Write(s: string, offset: number, length?: number): number;
  hexWrite(s: string, offset: number, length: number): number;
};

/**
 * Defaults for fields a record lacks because its writer schema predates them (the field is
 * `undefined`). Where v5 declares a default we use it; otherwise the value meaning "unknown/none".
 */
export const FIELD_DEFAULTS = {
  /** SFHeader.ip: schema default. */
  ip: 'NA',
  /** SFHeader.filename (v3+): no file name known. */
  filename: '',
  /** Container.privileged (absent in legacy L4): unknown is reported as not privileged. */
  privileged: false,
  /** Container.podId (v4+): not in a pod. */
  podId: null,
  /** Process.tty (absent in legacy L4). */
  tty: false,
  /** Process.entry / cwd / env: schema defaults. */
  entry: false,
  cwd: '',
  env: [] as readonly string[],
  /** NetworkFlow.fd (absent in legacy L7/L8): -1, since 0 is a real descriptor (stdin). */
  fd: -1,
  /** FileFlow.openFlags (absent in legacy L7): no flags. */
  openFlags: 0,
} as const;

/**
 * Growable output buffer with Avro primitive writers. Reuse one instance (reset()) across records:
 * the buffer only grows, so steady-state encoding does not allocate.
 */
export class AvroWriter {
  buf: FastBuffer;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialSize)) as FastBuffer;
  }

  reset(): void {
    this.pos = 0;
  }

  get length(): number {
    return this.pos;
  }

  /** The bytes written so far; a view, valid until the next write or reset. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Make room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size) as FastBuffer;
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Avro int or long. Any integer-valued number in [-2^63, 2^63); exact for the value given. */
  writeLong(n: number): void {
    if (this.pos + 10 > this.buf.length) this.grow(10);
    if ((n | 0) === n) {
      // int32: the zig-zag value fits in an unsigned 32-bit word.
      let z = ((n << 1) ^ (n >> 31)) >>> 0;
      const buf = this.buf;
      let pos = this.pos;
      while (z > 0x7f) {
        buf[pos++] = (z & 0x7f) | 0x80;
        z >>>= 7;
      }
      buf[pos++] = z;
      this.pos = pos;
      return;
    }
    if (!Number.isInteger(n) || n < -TWO63 || n >= TWO63) throw new RangeError(`cannot encode ${n} as an Avro long`);
    // Power-of-two division and the subtraction are exact for integer-valued doubles.
    const hi = Math.floor(n / TWO32);
    this.writeHiLo(hi, n - hi * TWO32);
  }

  /** Avro int (same wire form as long). */
  writeInt(n: number): void {
    this.writeLong(n);
  }

  /**
   * The 64-bit two's-complement value hi·2^32 + lo (hi: signed 32-bit, lo: unsigned 32-bit) as a
   * zig-zag varint.
   */
  writeHiLo(hi: number, lo: number): void {
    if (this.pos + 10 > this.buf.length) this.grow(10);
    const sign = hi >> 31; // 0 or -1: zig-zag XORs every bit with the sign
    let zHi = (((hi << 1) | (lo >>> 31)) ^ sign) >>> 0;
    let zLo = ((lo << 1) ^ sign) >>> 0;
    const buf = this.buf;
    let pos = this.pos;
    while (zHi !== 0 || zLo > 0x7f) {
      buf[pos++] = (zLo & 0x7f) | 0x80;
      zLo = ((zLo >>> 7) | ((zHi & 0x7f) << 25)) >>> 0;
      zHi >>>= 7;
    }
    buf[pos++] = zLo;
    this.pos = pos;
  }

  /**
   * A wide long stored as (nearest double d, exact value mod 1e9 ns), see core/util/i64.ts.
   * Same arithmetic as i64.toHiLo, inlined so the hot path allocates no {hi, lo} object.
   */
  writeWide(d: number, ns: number): void {
    if (d <= SAFE && d >= -SAFE) {
      this.writeLong(d);
      return;
    }
    // v = sec·1e9 + ns and 1e9 = 2^9·1953125, so v mod 2^32 = ((sec·1953125) mod 2^23)·2^9 + ns
    // (mod 2^32), with every product below 2^53.
    const sec = Math.round((d - ns) / 1e9);
    const secMod = ((sec % 8388608) + 8388608) % 8388608;
    const lo = (((secMod * 1953125) % 8388608) * 512 + ns) % TWO32;
    // |v - d| ≤ 1024, so the high word is the nearest integer to (d - lo) / 2^32.
    const hi = Math.round((d - lo) / TWO32);
    this.writeHiLo(hi, lo);
  }

  writeBoolean(b: boolean): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b ? 1 : 0;
  }

  writeString(s: string): void {
    const len = s.length;
    if (len < 64) {
      // Short ASCII (most SysFlow strings): byte length = len < 64, so the length is one varint
      // byte and a plain loop beats the native utf8 call.
      if (this.pos + 1 + len > this.buf.length) this.grow(1 + len);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[start + i] = c;
      }
      if (i === len) {
        buf[start - 1] = len << 1;
        this.pos = start + len;
        return;
      }
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.writeLong(n);
    this.ensure(n);
    this.buf.utf8Write(s, this.pos, n);
    this.pos += n;
  }

  /** Avro `bytes`. */
  writeBytes(b: Uint8Array): void {
    this.writeLong(b.length);
    this.writeRaw(b);
  }

  /** Raw bytes with no length prefix (Avro `fixed`, container framing). */
  writeRaw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Avro `fixed(size)` given as hex (FOIDs). */
  writeFixedHex(hex: string, size: number): void {
    if (hex.length !== size * 2) throw new RangeError(`fixed(${size}) needs ${size * 2} hex digits, got ${hex.length}`);
    this.ensure(size);
    if (this.buf.hexWrite(hex, this.pos, size) !== size) throw new RangeError(`invalid hex for fixed(${size}): ${JSON.stringify(hex)}`);
    this.pos += size;
  }

  writeDouble(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  writeFloat(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.pos);
    this.pos += 4;
  }
}

// ---------------------------------------------------------------------------------------------
// SysFlow records

/** Symbol → index of a named enum of SYSFLOW_SCHEMA, so encoder and embedded schema cannot drift. */
function enumIndex(name: string): Map<string, number> {
  let found: readonly string[] | undefined;
  const walk = (node: unknown): void => {
    if (found || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach(walk);
      return;
    }
    const o = node as { type?: unknown; name?: unknown; symbols?: readonly string[] };
    if (o.type === 'enum' && o.name === name && o.symbols) found = o.symbols;
    else Object.values(o).forEach(walk);
  };
  walk(SYSFLOW_SCHEMA);
  if (!found) throw new Error(`enum ${name} not in SYSFLOW_SCHEMA`);
  return new Map(found.map((s, i) => [s, i]));
}

const STATE = enumIndex('SFObjectState');
const CONTAINER_TYPE = enumIndex('ContainerType');
const K8S_COMPONENT = enumIndex('K8sComponent');
const K8S_ACTION = enumIndex('K8sAction');
const FOID_SIZE = 20;

function writeEnum(w: AvroWriter, symbols: Map<string, number>, what: string, s: string): void {
  const i = symbols.get(s);
  if (i === undefined) throw new RangeError(`${JSON.stringify(s)} is not a ${what} symbol`);
  w.writeLong(i);
}

function writeOID(w: AvroWriter, oid: OID): void {
  w.writeWide(oid.createTS, oid.createTSNs);
  w.writeLong(oid.hpid);
}

function writeNullableString(w: AvroWriter, s: string | null | undefined): void {
  if (s === null || s === undefined) {
    w.writeLong(0);
  } else {
    w.writeLong(1);
    w.writeString(s);
  }
}

function writeStringArray(w: AvroWriter, a: readonly string[]): void {
  if (a.length > 0) {
    w.writeLong(a.length);
    for (let i = 0; i < a.length; i++) w.writeString(a[i]!);
  }
  w.writeLong(0);
}

function writeLongArray(w: AvroWriter, a: readonly number[]): void {
  if (a.length > 0) {
    w.writeLong(a.length);
    for (let i = 0; i < a.length; i++) w.writeLong(a[i]!);
  }
  w.writeLong(0);
}

function writeStringMap(w: AvroWriter, m: Record<string, string>): void {
  const keys = Object.keys(m);
  if (keys.length > 0) {
    w.writeLong(keys.length);
    for (const k of keys) {
      w.writeString(k);
      w.writeString(m[k]!);
    }
  }
  w.writeLong(0);
}

function writeProcess(w: AvroWriter, r: Process): void {
  writeEnum(w, STATE, 'SFObjectState', r.state);
  writeOID(w, r.oid);
  if (r.poid === null) {
    w.writeLong(0);
  } else {
    w.writeLong(1);
    writeOID(w, r.poid);
  }
  w.writeWide(r.ts, r.tsNs);
  w.writeString(r.exe);
  w.writeString(r.exeArgs);
  w.writeLong(r.uid);
  w.writeString(r.userName);
  w.writeLong(r.gid);
  w.writeString(r.groupName);
  w.writeBoolean(r.tty ?? FIELD_DEFAULTS.tty);
  writeNullableString(w, r.containerId);
  w.writeBoolean(r.entry ?? FIELD_DEFAULTS.entry);
  w.writeString(r.cwd ?? FIELD_DEFAULTS.cwd);
  writeStringArray(w, r.env ?? FIELD_DEFAULTS.env);
}

function writePod(w: AvroWriter, r: Pod): void {
  w.writeWide(r.ts, r.tsNs);
  w.writeString(r.id);
  w.writeString(r.name);
  w.writeString(r.nodeName);
  writeLongArray(w, r.hostIP);
  writeLongArray(w, r.internalIP);
  w.writeString(r.namespace);
  w.writeLong(r.restartCount);
  writeStringMap(w, r.labels);
  writeStringMap(w, r.selectors);
  if (r.services.length > 0) {
    w.writeLong(r.services.length);
    for (const s of r.services) {
      w.writeString(s.name);
      w.writeString(s.id);
      w.writeString(s.namespace);
      if (s.portList.length > 0) {
        w.writeLong(s.portList.length);
        for (const p of s.portList) {
          w.writeLong(p.port);
          w.writeLong(p.targetPort);
          w.writeLong(p.nodePort);
          w.writeString(p.proto);
        }
      }
      w.writeLong(0);
      writeLongArray(w, s.clusterIP);
    }
  }
  w.writeLong(0);
}

/** The fields every process-referencing event starts with: procOID, ts, tid, opFlags. */
function writeEventHead(w: AvroWriter, r: { procOID: OID; ts: number; tsNs: number; tid: number; opFlags: number }): void {
  writeOID(w, r.procOID);
  w.writeWide(r.ts, r.tsNs);
  w.writeLong(r.tid);
  w.writeLong(r.opFlags);
}

function writeCounters(w: AvroWriter, r: { numRRecvOps: number; numWSendOps: number; numRRecvBytes: number; numWSendBytes: number }): void {
  w.writeLong(r.numRRecvOps);
  w.writeLong(r.numWSendOps);
  w.writeLong(r.numRRecvBytes);
  w.writeLong(r.numWSendBytes);
}

/**
 * Append one `sysflow.SysFlow` datum: the union branch (= sfType) and the record's fields in v5
 * order. On error the writer may hold a partial datum; callers that keep going must rewind `pos`.
 */
export function encodeSysFlow(w: AvroWriter, rec: SysFlowRecord): void {
  w.writeLong(rec.sfType);
  switch (rec.sfType) {
    case 0:
      w.writeLong(rec.version);
      w.writeString(rec.exporter);
      w.writeString(rec.ip ?? FIELD_DEFAULTS.ip);
      w.writeString(rec.filename ?? FIELD_DEFAULTS.filename);
      return;
    case 1:
      w.writeString(rec.id);
      w.writeString(rec.name);
      w.writeString(rec.image);
      w.writeString(rec.imageid);
      writeEnum(w, CONTAINER_TYPE, 'ContainerType', rec.type);
      w.writeBoolean(rec.privileged ?? FIELD_DEFAULTS.privileged);
      writeNullableString(w, rec.podId);
      return;
    case 2:
      writeProcess(w, rec);
      return;
    case 3:
      writeEnum(w, STATE, 'SFObjectState', rec.state);
      w.writeFixedHex(rec.oid, FOID_SIZE);
      w.writeWide(rec.ts, rec.tsNs);
      w.writeLong(rec.restype);
      w.writeString(rec.path);
      writeNullableString(w, rec.containerId);
      return;
    case 4:
      writeEventHead(w, rec);
      writeStringArray(w, rec.args);
      w.writeLong(rec.ret);
      return;
    case 5:
      writeEventHead(w, rec);
      w.writeWide(rec.endTs, rec.endTsNs);
      w.writeLong(rec.sip);
      w.writeLong(rec.sport);
      w.writeLong(rec.dip);
      w.writeLong(rec.dport);
      w.writeLong(rec.proto);
      w.writeLong(rec.fd ?? FIELD_DEFAULTS.fd);
      writeCounters(w, rec);
      return;
    case 6:
      writeEventHead(w, rec);
      w.writeLong(rec.openFlags ?? FIELD_DEFAULTS.openFlags);
      w.writeWide(rec.endTs, rec.endTsNs);
      w.writeFixedHex(rec.fileOID, FOID_SIZE);
      w.writeLong(rec.fd);
      writeCounters(w, rec);
      return;
    case 7:
      writeEventHead(w, rec);
      w.writeFixedHex(rec.fileOID, FOID_SIZE);
      w.writeLong(rec.ret);
      if (rec.newFileOID === null) {
        w.writeLong(0);
      } else {
        w.writeLong(1);
        w.writeFixedHex(rec.newFileOID, FOID_SIZE);
      }
      return;
    case 8:
      writeEventHead(w, rec);
      w.writeLong(rec.sip);
      w.writeLong(rec.sport);
      w.writeLong(rec.dip);
      w.writeLong(rec.dport);
      w.writeLong(rec.proto);
      w.writeLong(rec.ret);
      return;
    case 9:
      writeOID(w, rec.procOID);
      w.writeWide(rec.ts, rec.tsNs);
      w.writeLong(rec.numThreadsCloned);
      w.writeLong(rec.opFlags);
      w.writeWide(rec.endTs, rec.endTsNs);
      w.writeLong(rec.numThreadsExited);
      w.writeLong(rec.numCloneErrors);
      return;
    case 10:
      writePod(w, rec);
      return;
    case 11:
      writeEnum(w, K8S_COMPONENT, 'K8sComponent', rec.kind);
      writeEnum(w, K8S_ACTION, 'K8sAction', rec.action);
      w.writeWide(rec.ts, rec.tsNs);
      w.writeString(rec.message);
      return;
    default:
      throw new RangeError(`unknown sfType ${(rec as { sfType: unknown }).sfType}`);
  }
}
