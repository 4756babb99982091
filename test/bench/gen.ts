/**
 * Builds the benchmark trace: the bundled non-legacy fixture traces, concatenated and replicated
 * until the target record count is reached, written with our OCF writer (deflate) to bench-data/.
 *
 * Every replica copy of a trace gets fresh identities, so a consumer with entity caches sees new
 * processes and files rather than the same few re-emitted:
 *  - key k = replica · traces + trace index (k = 0 is the untouched first copy);
 *  - process OIDs: hpid + k · 2^20 (applied to oid, poid and every procOID, so parent links and
 *    references still resolve);
 *  - file FOIDs: SHA-1(old FOID bytes ‖ k as uint32), the same 20-byte size the collector's SHA-1
 *    FOIDs have, applied to File.oid, fileOID and newFileOID;
 *  - every timestamp (ts, endTs, OID createTS) shifted by replica · shiftSec whole seconds, exactly
 *    (i64.addSeconds); zero timestamps (createTS 0 from old collectors) stay 0.
 * Container ids and pod ids are kept: each trace copy re-emits its containers and pods before use.
 * Each trace copy starts with its own SFHeader, so each replica does too.
 *
 * Run directly (`node dist/test/bench/gen.js [--records N]`) or via ensureBenchTrace().
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SysFlowFileReader } from '../../core/avro/ocf.js';
import { SysFlowFileWriter } from '../helpers/ocf-writer.js';
import { addSeconds } from '../../core/util/i64.js';
import type { OID, SysFlowRecord } from '../../core/sysflow/types.js';

/** Bump when the replication scheme changes, so stale bench files are not reused. */
const GEN_VERSION = 1;
const HPID_STRIDE = 1 << 20;
export const DEFAULT_RECORDS = 2_100_000;
export const DEFAULT_SHIFT_SEC = 86_400;

export interface BenchTraceOptions {
  records?: number;
  shiftSec?: number;
  /** Output directory; default <repo>/bench-data. */
  dir?: string;
  log?: (msg: string) => void;
}

export interface BenchTrace {
  path: string;
  records: number;
  replicas: number;
  /** Source traces, relative to the repository. */
  sources: string[];
  bytes: number;
  reused: boolean;
}

/** The repository root: the nearest ancestor of this module with a package.json (src or dist). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository root (package.json)');
    dir = up;
  }
  return dir;
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : [p];
    });
}

interface Source {
  rel: string;
  size: number;
  records: SysFlowRecord[];
}

/**
 * Non-legacy fixture traces: writer schemas with at least the 9 union branches of the first public
 * schema (v1000). The pre-release L4/L7/L8 layouts have 4–8.
 */
function loadSources(root: string): Source[] {
  const out: Source[] = [];
  for (const path of walk(join(root, 'test/fixtures/traces'))) {
    const r = SysFlowFileReader.open(path);
    try {
      if (r.header.branches.length < 9) continue;
      const records = r.readAll();
      if (records[0]?.sfType !== 0) throw new Error(`${path}: does not start with an SFHeader`);
      for (const rec of records) checkHpids(path, rec);
      out.push({ rel: relative(root, path), size: r.size, records });
    } finally {
      r.close();
    }
  }
  if (out.length === 0) throw new Error('no non-legacy fixture traces found');
  return out;
}

function checkHpids(path: string, rec: SysFlowRecord): void {
  const oids: (OID | null)[] = rec.sfType === 2 ? [rec.oid, rec.poid] : 'procOID' in rec ? [rec.procOID] : [];
  for (const o of oids) {
    if (o && (o.hpid < 0 || o.hpid >= HPID_STRIDE || !Number.isInteger(o.hpid))) {
      throw new Error(`${path}: hpid ${o.hpid} outside [0, 2^20): the replication scheme needs a wider stride`);
    }
  }
}

/** Rewrites identities and timestamps of one trace copy (see the module comment). */
class Replicator {
  private foids = new Map<string, string>();
  private hpidOffset = 0;
  private shift = 0;
  private k = 0;

  start(k: number, shiftSec: number): void {
    this.k = k;
    this.hpidOffset = k * HPID_STRIDE;
    this.shift = shiftSec;
    this.foids.clear();
  }

  private ts(d: number, ns: number): number {
    return (d === 0 && ns === 0) || this.shift === 0 ? d : addSeconds(d, ns, this.shift);
  }

  private oid(o: OID): OID {
    return { createTS: this.ts(o.createTS, o.createTSNs), createTSNs: o.createTSNs, hpid: o.hpid + this.hpidOffset };
  }

  private foid(hex: string): string {
    if (this.k === 0) return hex;
    let f = this.foids.get(hex);
    if (f === undefined) {
      const key = Buffer.alloc(24);
      key.write(hex, 0, 20, 'hex');
      key.writeUInt32BE(this.k, 20);
      f = createHash('sha1').update(key).digest('hex');
      this.foids.set(hex, f);
    }
    return f;
  }

  apply(r: SysFlowRecord): SysFlowRecord {
    switch (r.sfType) {
      case 0:
      case 1:
        return r;
      case 2:
        return { ...r, oid: this.oid(r.oid), poid: r.poid && this.oid(r.poid), ts: this.ts(r.ts, r.tsNs) };
      case 3:
        return { ...r, oid: this.foid(r.oid), ts: this.ts(r.ts, r.tsNs) };
      case 4:
      case 8:
        return { ...r, procOID: this.oid(r.procOID), ts: this.ts(r.ts, r.tsNs) };
      case 5:
      case 9:
        return { ...r, procOID: this.oid(r.procOID), ts: this.ts(r.ts, r.tsNs), endTs: this.ts(r.endTs, r.endTsNs) };
      case 6:
        return { ...r, procOID: this.oid(r.procOID), ts: this.ts(r.ts, r.tsNs), endTs: this.ts(r.endTs, r.endTsNs), fileOID: this.foid(r.fileOID) };
      case 7:
        return {
          ...r,
          procOID: this.oid(r.procOID),
          ts: this.ts(r.ts, r.tsNs),
          fileOID: this.foid(r.fileOID),
          newFileOID: r.newFileOID === null ? null : this.foid(r.newFileOID),
        };
      case 10:
      case 11:
        return { ...r, ts: this.ts(r.ts, r.tsNs) };
    }
  }
}

/** Fingerprint of the inputs, so a changed fixture set or scheme produces a new file name. */
function fingerprint(sources: Source[]): string {
  const h = createHash('sha1').update(`v${GEN_VERSION}`);
  for (const s of sources) h.update(`\n${s.rel}\t${s.size}\t${s.records.length}`);
  return h.digest('hex').slice(0, 10);
}

/** The bench trace for these parameters, generated unless a file with matching parameters exists. */
export function ensureBenchTrace(opts: BenchTraceOptions = {}): BenchTrace {
  const root = repoRoot();
  const target = opts.records ?? DEFAULT_RECORDS;
  const shiftSec = opts.shiftSec ?? DEFAULT_SHIFT_SEC;
  const dir = opts.dir ?? join(root, 'bench-data');
  const log = opts.log ?? (() => {});
  const sources = loadSources(root);
  const perReplica = sources.reduce((s, x) => s + x.records.length, 0);
  const replicas = Math.ceil(target / perReplica);
  const records = replicas * perReplica;
  const path = join(dir, `sysflow-bench-n${target}-shift${shiftSec}-x${replicas}-${fingerprint(sources)}.sf`);
  const result = { path, records, replicas, sources: sources.map((s) => s.rel) };
  if (existsSync(path)) return { ...result, bytes: statSync(path).size, reused: true };

  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  log(`generating ${path}: ${replicas} replicas × ${sources.length} traces (${perReplica} records) = ${records} records`);
  const w = SysFlowFileWriter.create(tmp, { codec: 'deflate' });
  const rep = new Replicator();
  try {
    for (let r = 0; r < replicas; r++) {
      for (let t = 0; t < sources.length; t++) {
        rep.start(r * sources.length + t, r * shiftSec);
        for (const rec of sources[t]!.records) w.write(rep.apply(rec));
      }
    }
    w.close();
  } catch (e) {
    w.close();
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, path); // atomic: a half-written file is never reused
  return { ...result, bytes: statSync(path).size, reused: false };
}

// Skipped under `node --test dist/test/`, which executes every .js under a test/ directory.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && !process.env.NODE_TEST_CONTEXT) {
  const { values } = parseArgs({ options: { records: { type: 'string' }, shift: { type: 'string' } } });
  const t0 = performance.now();
  const trace = ensureBenchTrace({
    records: values.records ? Number(values.records) : undefined,
    shiftSec: values.shift ? Number(values.shift) : undefined,
    log: (m) => console.error(m),
  });
  console.log(`${trace.reused ? 'reused' : 'wrote'} ${trace.path}: ${trace.records} records, ${trace.bytes} bytes (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
