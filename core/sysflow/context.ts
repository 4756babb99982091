/**
 * Joining an event with the entities the cache holds for it, the way upstream's readers do:
 * process by procOID, parent by the process's poid, container by the process's containerId, pod by
 * the container's podId, files by fileOID/newFileOID. sysprint and the flattener both use it.
 *
 * Most events name the same process as the one before (85% in the benchmark trace), so the holder
 * remembers what it resolved and for which OID, and reuses it while the cache is unchanged. The
 * decoder shares OID objects by value (core/avro/compile.ts), so the test is mostly one comparison.
 */
import type { EntityCache } from './cache.js';
import { SfType, type Container, type File, type OID, type Pod, type Process, type SFHeader, type SysFlowEvent } from './types.js';

/** An event and the entities the cache joined to it (a reusable holder: resolve() overwrites it). */
export interface EventContext {
  rec: SysFlowEvent;
  header: SFHeader | null;
  proc: Process | undefined;
  pproc: Process | undefined;
  cont: Container | undefined;
  pod: Pod | undefined;
  file1: File | undefined;
  file2: File | undefined;
  /** What proc…pod were resolved for: the OID and the cache version (reuse, see above). */
  procKey: OID | null;
  procVersion: number;
  /** What file1 was resolved for. */
  fileKey: string | null;
  fileVersion: number;
}

const sameOid = (a: OID, b: OID | null): boolean => a === b || (b !== null && a.hpid === b.hpid && a.createTS === b.createTS && a.createTSNs === b.createTSNs);

/** Resolve an event's entities the way upstream's FlattenedSFReader does. */
export function resolve(cache: EntityCache, rec: SysFlowEvent, ctx: EventContext): EventContext {
  ctx.rec = rec;
  ctx.header = cache.header;
  ctx.file2 = undefined;
  if (rec.sfType === SfType.KE) {
    ctx.proc = ctx.pproc = undefined;
    ctx.cont = undefined;
    ctx.pod = undefined;
    ctx.file1 = undefined;
    ctx.procKey = ctx.fileKey = null;
    return ctx;
  }
  const oid = rec.procOID;
  if (ctx.procVersion !== cache.version || !sameOid(oid, ctx.procKey)) {
    const proc = cache.process(oid);
    ctx.proc = proc;
    ctx.pproc = proc ? cache.parent(proc) : undefined;
    ctx.cont = cache.container(proc);
    ctx.pod = cache.pod(ctx.cont);
    ctx.procKey = oid;
    ctx.procVersion = cache.version;
  }
  if (rec.sfType === SfType.FF || rec.sfType === SfType.FE) {
    const foid = rec.fileOID;
    if (foid !== ctx.fileKey || ctx.fileVersion !== cache.fileVersion) {
      ctx.file1 = cache.file(foid);
      ctx.fileKey = foid;
      ctx.fileVersion = cache.fileVersion;
    }
    if (rec.sfType === SfType.FE) ctx.file2 = cache.file(rec.newFileOID);
  } else {
    ctx.file1 = undefined;
    ctx.fileKey = null;
  }
  return ctx;
}

export function newContext(): EventContext {
  return {
    rec: null as unknown as SysFlowEvent,
    header: null,
    proc: undefined,
    pproc: undefined,
    cont: undefined,
    pod: undefined,
    file1: undefined,
    file2: undefined,
    procKey: null,
    procVersion: -1,
    fileKey: null,
    fileVersion: -1,
  };
}
