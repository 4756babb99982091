/**
 * Compiles a file's writer schema into a specialised datum decoder.
 *
 * avsc parses and validates the schema (names, namespaces, references); we then walk avsc's type
 * tree and generate one JS function per record type. Every SysFlow layout — v1000 … v5 and the
 * legacy L4/L7/L8 captures — is normalised into the canonical shapes of core/sysflow/types.ts, so
 * the object literal for each record type has the same fields in the same order whatever the writer
 * (one hidden class per type: the hot path stays monomorphic).
 */
import avro from 'avsc';
import type { Tap } from './tap.js';
import { DecodeError } from './errors.js';
import { stamp } from '../util/slot.js';
import { SfType, type SysFlowRecord } from '../sysflow/types.js';

/** Canonical fields per record type; wide longs get a `…Ns` companion right after them. */
const CANONICAL: Record<number, readonly string[]> = {
  [SfType.H]: ['version', 'exporter', 'ip', 'filename'],
  [SfType.C]: ['id', 'name', 'image', 'imageid', 'type', 'privileged', 'podId'],
  [SfType.P]: ['state', 'oid', 'poid', 'ts', 'exe', 'exeArgs', 'uid', 'userName', 'gid', 'groupName', 'tty', 'containerId', 'entry', 'cwd', 'env'],
  [SfType.F]: ['state', 'oid', 'ts', 'restype', 'path', 'containerId'],
  [SfType.PE]: ['procOID', 'ts', 'tid', 'opFlags', 'args', 'ret'],
  [SfType.NF]: ['procOID', 'ts', 'tid', 'opFlags', 'endTs', 'sip', 'sport', 'dip', 'dport', 'proto', 'fd', 'numRRecvOps', 'numWSendOps', 'numRRecvBytes', 'numWSendBytes'],
  [SfType.FF]: ['procOID', 'ts', 'tid', 'opFlags', 'openFlags', 'endTs', 'fileOID', 'fd', 'numRRecvOps', 'numWSendOps', 'numRRecvBytes', 'numWSendBytes'],
  [SfType.FE]: ['procOID', 'ts', 'tid', 'opFlags', 'fileOID', 'ret', 'newFileOID'],
  [SfType.NE]: ['procOID', 'ts', 'tid', 'opFlags', 'sip', 'sport', 'dip', 'dport', 'proto', 'ret'],
  [SfType.PF]: ['procOID', 'ts', 'numThreadsCloned', 'opFlags', 'endTs', 'numThreadsExited', 'numCloneErrors'],
  [SfType.POD]: ['ts', 'id', 'name', 'nodeName', 'hostIP', 'internalIP', 'namespace', 'restartCount', 'labels', 'selectors', 'services'],
  [SfType.KE]: ['kind', 'action', 'ts', 'message'],
};

const ENTITY_TYPES = new Set<number>([SfType.H, SfType.C, SfType.P, SfType.F, SfType.POD]);

const BY_NAME: Record<string, number> = {
  'sysflow.entity.SFHeader': SfType.H,
  'sysflow.entity.Container': SfType.C,
  'sysflow.entity.Process': SfType.P,
  'sysflow.entity.File': SfType.F,
  'sysflow.event.ProcessEvent': SfType.PE,
  'sysflow.flow.NetworkFlow': SfType.NF,
  'sysflow.flow.FileFlow': SfType.FF,
  'sysflow.event.FileEvent': SfType.FE,
  'sysflow.event.NetworkEvent': SfType.NE,
  'sysflow.flow.ProcessFlow': SfType.PF,
  'sysflow.entity.Pod': SfType.POD,
  'sysflow.event.K8sEvent': SfType.KE,
};

const WIDE = new Set(['ts', 'endTs', 'createTS']);

/**
 * The last decoded record of each small all-integer layout (the OID), process-wide: every flow and
 * event names its process by an OID, most the same one as the record before (85% of the events in
 * the benchmark trace). Equal values give back that object instead of a new one: no allocation,
 * and consumers can compare by identity first. Decoded records are never mutated, so sharing is safe.
 */
const lastOfLayout = new Map<string, { last: unknown }>();
/** Legacy L4 EventType → op flags (CLONE, EXEC, EXIT). */
const LEGACY_EVENT_OPFLAGS: Record<string, number> = { CLONE: 1, EXEC: 2, EXIT: 4 };

/** What one writer union branch decodes to. */
export interface BranchInfo {
  index: number;
  name: string;
  /** Canonical record type, or -1 for a record this reader does not know (decoded and dropped). */
  sfType: number;
  /** Set when a legacy layout is normalised (e.g. an L7 "ProcessFlow" shaped as a ProcessEvent). */
  note?: string;
}

export interface CompiledSchema {
  /** Decode one SysFlow datum at the tap's position; null for an unknown branch. */
  decode: (t: Tap) => SysFlowRecord | null;
  branches: BranchInfo[];
  /** avsc's parsed type, for reference decoding and diagnostics. */
  avscType: avro.Type;
}

/** Delete `logicalType` everywhere: SysFlow's timestamp-millis tags are wrong (values are ns). */
export function stripLogicalTypes(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(stripLogicalTypes);
  if (schema && typeof schema === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'logicalType') continue;
      out[k] = stripLogicalTypes(v);
    }
    return out;
  }
  return schema;
}

// avsc's type classes are not fully typed; this is the subset we walk.
interface AType {
  typeName: string;
  name?: string;
  fields?: { name: string; type: AType }[];
  types?: AType[];
  symbols?: string[];
  size?: number;
  itemsType?: AType;
  valuesType?: AType;
}

class Generator {
  private lines: string[] = [];
  private consts: unknown[] = [];
  private fnByType = new Map<AType, string>();
  private counter = 0;

  constant(v: unknown): string {
    this.consts.push(v);
    return `K[${this.consts.length - 1}]`;
  }

  private fresh(prefix: string): string {
    return `${prefix}${this.counter++}`;
  }

  /** Minimum encoded size of a value of this type (guards array counts). */
  private minBytes(t: AType): number {
    switch (t.typeName) {
      case 'null':
        return 0;
      case 'fixed':
        return t.size ?? 0;
      case 'record':
        return (t.fields ?? []).reduce((s, f) => s + this.minBytes(f.type), 0);
      default:
        return 1;
    }
  }

  /** Expression reading one value of type t. */
  expr(t: AType, wide = false): string {
    switch (t.typeName) {
      case 'null':
        return 'null';
      case 'boolean':
        return 't.readBoolean()';
      case 'int':
        return 't.readLong()';
      case 'long':
        return wide ? 't.readWide()' : 't.readLong()';
      case 'float':
        return 't.readFloat()';
      case 'double':
        return 't.readDouble()';
      case 'bytes':
        return 't.readBytes()';
      case 'string':
        return 't.readString()';
      case 'fixed':
        return `t.readFixedHex(${t.size})`;
      case 'enum': {
        const syms = this.constant(t.symbols);
        return `${syms}[t.readIndex(${t.symbols!.length}, ${JSON.stringify('enum ' + t.name)})]`;
      }
      case 'array':
        return `${this.arrayFn(t)}(t)`;
      case 'map':
        return `${this.mapFn(t)}(t)`;
      case 'record':
      case 'error':
        return `${this.recordFn(t, -1)}(t)`;
      default:
        if (t.typeName.startsWith('union')) return `${this.unionFn(t)}(t)`;
        throw new Error(`unsupported Avro type ${t.typeName}`);
    }
  }

  private arrayFn(t: AType): string {
    const name = this.fresh('arr');
    const min = this.minBytes(t.itemsType!);
    this.lines.push(`function ${name}(t) { const a = []; let n; while ((n = t.readBlockCount(${min})) !== 0) { for (let i = 0; i < n; i++) a.push(${this.expr(t.itemsType!)}); } return a; }`);
    return name;
  }

  private mapFn(t: AType): string {
    const name = this.fresh('map');
    const min = 1 + this.minBytes(t.valuesType!);
    this.lines.push(
      `function ${name}(t) { const o = Object.create(null); let n; while ((n = t.readBlockCount(${min})) !== 0) { for (let i = 0; i < n; i++) { const k = t.readString(); o[k] = ${this.expr(t.valuesType!)}; } } return o; }`,
    );
    return name;
  }

  private unionFn(t: AType): string {
    const name = this.fresh('uni');
    const types = t.types!;
    const cases = types.map((b, i) => `case ${i}: return ${this.expr(b)};`).join(' ');
    this.lines.push(`function ${name}(t) { switch (t.readIndex(${types.length}, 'union')) { ${cases} } }`);
    return name;
  }

  /**
   * A record decoder. sfType ≥ 0 builds the canonical shape for that SysFlow type; -1 builds a plain
   * object of the writer's fields (nested records: OID, Service, Port …).
   */
  recordFn(t: AType, sfType: number, legacyEventShape = false): string {
    const cached = this.fnByType.get(t);
    if (cached && sfType < 0) return cached;
    const name = this.fresh('rec');
    if (sfType < 0) this.fnByType.set(t, name);
    const body: string[] = [];
    const locals = new Map<string, string>();
    for (const f of t.fields ?? []) {
      const v = this.fresh('v');
      let target = f.name;
      let expr: string;
      if (legacyEventShape && f.name === 'type' && f.type.typeName === 'enum') {
        // L4 "ProcessFlow": EventType {CLONE, EXEC, EXIT} becomes opFlags.
        const map = this.constant((f.type.symbols ?? []).map((s) => LEGACY_EVENT_OPFLAGS[s] ?? 0));
        target = 'opFlags';
        expr = `${map}[t.readIndex(${f.type.symbols!.length}, 'enum EventType')]`;
      } else if (sfType === SfType.P && f.name === 'type' && f.type.typeName === 'enum') {
        target = 'state'; // L4 Process: ActionType {CREATED, MODIFIED, REUP}
        expr = this.expr(f.type);
      } else {
        expr = this.expr(f.type, WIDE.has(f.name) && f.type.typeName === 'long');
      }
      body.push(`const ${v} = ${expr};`);
      locals.set(target, v);
      if (WIDE.has(f.name)) {
        const ns = this.fresh('n');
        body.push(f.type.typeName === 'long' ? `const ${ns} = t.ns;` : `const ${ns} = nsOf(${v});`);
        locals.set(f.name + 'Ns', ns);
      }
    }
    const fields = sfType >= 0 ? CANONICAL[sfType]! : (t.fields ?? []).map((f) => f.name);
    const pairs: [string, string][] = sfType >= 0 ? [['sfType', String(sfType)]] : [];
    for (const f of fields) {
      pairs.push([f, locals.get(f) ?? 'undefined']);
      if (WIDE.has(f)) pairs.push([f + 'Ns', locals.get(f + 'Ns') ?? (locals.has(f) ? '0' : 'undefined')]);
    }
    const props = pairs.map(([k, v]) => `${JSON.stringify(k)}: ${v}`);
    const all = t.fields ?? [];
    if (sfType < 0 && all.length > 0 && all.length <= 3 && all.every((f) => f.type.typeName === 'long' || f.type.typeName === 'int')) {
      // a small value record such as the OID: the last one is reused when equal (lastOfLayout)
      const key = JSON.stringify([t.name, ...all.map((f) => `${f.name}:${f.type.typeName}`)]);
      let holder = lastOfLayout.get(key);
      if (holder === undefined) lastOfLayout.set(key, (holder = { last: undefined }));
      const H = this.constant(holder);
      const same = pairs.map(([k, v]) => `L[${JSON.stringify(k)}] === ${v}`).join(' && ');
      this.lines.push(`function ${name}(t) { ${body.join(' ')} const L = ${H}.last; if (L !== undefined && ${same}) return L; const o = { ${props.join(', ')} }; ${H}.last = o; return o; }`);
      return name;
    }
    // entities carry memos of the records that refer to them (core/util/slot.ts)
    const wrap = ENTITY_TYPES.has(sfType) ? [`${this.constant(stamp)}(`, ')'] : ['', ''];
    this.lines.push(`function ${name}(t) { ${body.join(' ')} return ${wrap[0]}{ ${props.join(', ')} }${wrap[1]}; }`);
    return name;
  }

  /** Function body: every generated helper, then the entry function, returned. */
  source(entry: string): string {
    return `${this.lines.join('\n')}\n${entry}\nreturn datum;`;
  }

  get constants(): unknown[] {
    return this.consts;
  }
}

function nsOf(v: number): number {
  const r = v % 1e9;
  return r < 0 ? r + 1e9 : r;
}

/** Compile a writer schema (the JSON from a file's `avro.schema`). Throws Error with a clear message. */
export function compileSysFlowSchema(writerSchema: unknown): CompiledSchema {
  const schema = stripLogicalTypes(writerSchema);
  const type = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: true }) as unknown as AType & avro.Type;
  if (type.typeName !== 'record' || type.name !== 'sysflow.SysFlow') {
    throw new Error(`writer schema is ${type.name ?? type.typeName}, not the SysFlow record`);
  }
  const recField = type.fields?.find((f) => f.name === 'rec');
  if (!recField?.type.typeName.startsWith('union')) {
    throw new Error('writer schema has no SysFlow "rec" union');
  }
  const gen = new Generator();
  const branches: BranchInfo[] = [];
  const cases: string[] = [];
  recField.type.types!.forEach((b, index) => {
    const bname = b.name ?? b.typeName;
    let sfType = b.typeName === 'record' ? (BY_NAME[bname] ?? -1) : -1;
    let legacy = false;
    let note: string | undefined;
    if (sfType === SfType.PF && (b.fields ?? []).some((f) => f.name === 'args')) {
      // Legacy L4/L7: a record named ProcessFlow with ProcessEvent's fields.
      sfType = SfType.PE;
      legacy = true;
      note = 'legacy "ProcessFlow" with ProcessEvent fields, read as ProcessEvent';
    }
    branches.push(note ? { index, name: bname, sfType, note } : { index, name: bname, sfType });
    if (b.typeName === 'record' && sfType >= 0) {
      cases.push(`case ${index}: r = ${gen.recordFn(b, sfType, legacy)}(t); break;`);
    } else {
      cases.push(`case ${index}: ${gen.expr(b)}; break;`);
    }
  });
  // Fields of the SysFlow wrapper other than rec (none in practice) are read and ignored.
  const all = type.fields ?? [];
  const at = all.indexOf(recField);
  const skip = (fs: typeof all) => fs.map((f) => `${gen.expr(f.type)};`).join(' ');
  const entry = `function datum(t) { ${skip(all.slice(0, at))} let r = null; switch (t.readIndex(${branches.length}, 'SysFlow union')) { ${cases.join(' ')} } ${skip(all.slice(at + 1))} return r; }`;
  const factory = new Function('K', 'nsOf', 'DecodeError', gen.source(entry));
  const decode = factory(gen.constants, nsOf, DecodeError) as (t: Tap) => SysFlowRecord | null;
  return { decode, branches, avscType: type };
}
