/**
 * Joining an event with the entities the cache holds for it, the way upstream's readers do:
 * process by procOID, parent by the process's poid, container by the process's containerId, pod by
 * the container's podId, files by fileOID/newFileOID. sysprint and the flattener both use it.
 */
import type { EntityCache } from './cache.js';
import { SfType, type Container, type File, type Pod, type Process, type SFHeader, type SysFlowEvent } from './types.js';

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
}

/** Resolve an event's entities the way upstream's FlattenedSFReader does. */
export function resolve(cache: EntityCache, rec: SysFlowEvent, ctx: EventContext): EventContext {
  ctx.rec = rec;
  ctx.header = cache.header;
  ctx.file1 = undefined;
  ctx.file2 = undefined;
  if (rec.sfType === SfType.KE) {
    ctx.proc = ctx.pproc = undefined;
    ctx.cont = undefined;
    ctx.pod = undefined;
    return ctx;
  }
  const proc = cache.process(rec.procOID);
  ctx.proc = proc;
  ctx.pproc = proc ? cache.parent(proc) : undefined;
  ctx.cont = cache.container(proc);
  ctx.pod = cache.pod(ctx.cont);
  if (rec.sfType === SfType.FF) ctx.file1 = cache.file(rec.fileOID);
  else if (rec.sfType === SfType.FE) {
    ctx.file1 = cache.file(rec.fileOID);
    ctx.file2 = cache.file(rec.newFileOID);
  }
  return ctx;
}

export function newContext(): EventContext {
  return { rec: null as unknown as SysFlowEvent, header: null, proc: undefined, pproc: undefined, cont: undefined, pod: undefined, file1: undefined, file2: undefined };
}

