/**
 * Writer schemas for the socket driver. A collector sends datums without their schema; the only hint
 * is the `version` in its SFHeader, so the layout is chosen by that number. The layouts are derived
 * from SYSFLOW_SCHEMA (v5) by the changes listed in the format history: each version removes what
 * the next one added, and only at record ends or union ends, so the derivation is exact.
 *
 *   v5    current (sf-collector 0.5.1+): Process ends with cwd, env
 *   v4    Process without cwd, env
 *   v3    v4 without the Pod and K8sEvent branches and Container.podId
 *   v2    v3 without SFHeader.filename
 *   1000  the first public layout: v2 without SFHeader.ip, Process.entry and the ProcessFlow branch
 *
 * Other versions (1001's two incompatible layouts, pre-public captures, future versions) have no
 * layout here; the driver decodes them as v5 and says so.
 */
import { SYSFLOW_SCHEMA, SYSFLOW_SCHEMA_VERSION } from '../sysflow/schema.js';
import { compileSysFlowSchema, type CompiledSchema } from '../avro/compile.js';

interface Removal {
  /** Union branches (record short names) the version does not have. */
  branches?: readonly string[];
  /** Fields (record short name → field names) the version does not have. */
  fields?: Readonly<Record<string, readonly string[]>>;
}

/** What each version lacks compared with the next newer one (ordered newest first). */
const STEPS: readonly (readonly [number, Removal])[] = [
  [4, { fields: { Process: ['cwd', 'env'] } }],
  [3, { branches: ['Pod', 'K8sEvent'], fields: { Container: ['podId'] } }],
  [2, { fields: { SFHeader: ['filename'] } }],
  [1000, { branches: ['ProcessFlow'], fields: { SFHeader: ['ip'], Process: ['entry'] } }],
];

/** Header versions with a known layout, newest first. */
export const SOCKET_SCHEMA_VERSIONS: readonly number[] = [SYSFLOW_SCHEMA_VERSION, ...STEPS.map(([v]) => v)];

type Json = Record<string, unknown>;

function applyRemoval(schema: Json, r: Removal): Json {
  const copy = structuredClone(schema) as Json;
  const rec = (copy.fields as Json[])[0]!;
  let branches = rec.type as Json[];
  // A named type defined inside a removed branch would vanish with it; none of the removed ones
  // defines a type used elsewhere (Pod's Service/Port are Pod's own).
  if (r.branches) branches = branches.filter((b) => !r.branches!.includes(b.name as string));
  for (const b of branches) {
    const drop = r.fields?.[b.name as string];
    if (drop) b.fields = (b.fields as Json[]).filter((f) => !drop.includes(f.name as string));
  }
  rec.type = branches;
  return copy;
}

/** The writer schema JSON of a header version, or undefined when the version has no known layout. */
export function socketWriterSchema(version: number): object | undefined {
  let schema = SYSFLOW_SCHEMA as unknown as Json;
  if (version === SYSFLOW_SCHEMA_VERSION) return schema;
  for (const [v, removal] of STEPS) {
    schema = applyRemoval(schema, removal);
    if (v === version) return schema;
  }
  return undefined;
}

const compiled = new Map<number, CompiledSchema>();

/** The compiled decoder for a header version with a known layout (compiled once, on first use). */
export function socketDecoder(version: number): CompiledSchema | undefined {
  let c = compiled.get(version);
  if (!c) {
    const schema = socketWriterSchema(version);
    if (!schema) return undefined;
    c = compileSysFlowSchema(schema);
    compiled.set(version, c);
  }
  return c;
}
