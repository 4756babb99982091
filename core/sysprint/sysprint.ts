/** sysprint: SysFlow traces to JSON lines, CSV or a terminal table. */
import { SysFlowFileReader } from '../avro/ocf.js';
import { InputError, UsageError } from '../errors.js';
import { EntityCache } from '../sysflow/cache.js';
import { SF_TYPE_CODES, type SysFlowEvent } from '../sysflow/types.js';
import { FIELDS, FIELD_INDEX, fillValues, newContext, resolve, type CellValue } from './record.js';
import { ALL_COLUMNS, CsvRenderer, DEFAULT_TABLE_KEYS, JsonRenderer, TableRenderer, type Columns, type Renderer } from './render.js';
import type { ByteSink } from '../util/bytes.js';
import type { Logger } from '../log.js';
import type { RunProgress } from '../pipeline/pipeline.js';
import { FileProgress } from '../pipeline/file-progress.js';

export type OutputFormat = 'str' | 'json' | 'csv';

/** Record types sysprint prints: flows, events and K8s events (entities only update the cache). */
export const PRINTABLE_TYPES = ['PE', 'NF', 'FF', 'FE', 'NE', 'PF', 'KE'] as const;

export interface SysprintOptions {
  format: OutputFormat;
  files: string[];
  /** Type codes to print (default: all printable). */
  types?: string[];
  /** Field keys to print, in order (default: all for json/csv, the upstream defaults for str). */
  columns?: string[];
  /** Called after each block (the same object each time, updated in place). */
  progress?: (p: Readonly<RunProgress>) => void;
}

export interface SysprintResult {
  lines: number;
  records: number;
  failedFiles: number;
  damagedFiles: number;
}

export function parseTypes(list: string[] | undefined): Set<number> {
  const set = new Set<number>();
  for (const raw of list ?? PRINTABLE_TYPES) {
    const code = raw.trim().toUpperCase();
    if (!code) continue;
    if (!(PRINTABLE_TYPES as readonly string[]).includes(code)) {
      throw new UsageError(`unknown record type '${raw}' (printable types: ${PRINTABLE_TYPES.join(', ')})`);
    }
    set.add(SF_TYPE_CODES.indexOf(code as (typeof SF_TYPE_CODES)[number]));
  }
  return set;
}

export function parseColumns(list: string[] | undefined, format: OutputFormat): Columns {
  const keys = list ?? (format === 'str' ? DEFAULT_TABLE_KEYS : undefined);
  if (!keys) return ALL_COLUMNS;
  const cols: number[] = [];
  for (const k of keys) {
    const i = FIELD_INDEX.get(k.trim());
    if (i === undefined) throw new UsageError(`unknown field '${k}' (see sysprint -l)`);
    cols.push(i);
  }
  return cols;
}

/**
 * Print every file. `ready` (optional) is awaited after each block while the output is saturated, so
 * an asynchronous writer can overlap I/O with decoding without queueing unbounded output.
 */
export async function runSysprint(opts: SysprintOptions, out: ByteSink, log: Logger, ready?: () => Promise<void> | null): Promise<SysprintResult> {
  const types = parseTypes(opts.types);
  const cols = parseColumns(opts.columns, opts.format);
  const renderer: Renderer = opts.format === 'json' ? new JsonRenderer(cols) : opts.format === 'csv' ? new CsvRenderer(cols) : new TableRenderer(cols);
  const header = renderer.header();
  if (header) out.write(header);
  const result: SysprintResult = { lines: 0, records: 0, failedFiles: 0, damagedFiles: 0 };
  const values: CellValue[] = new Array<CellValue>(FIELDS.length).fill(null);
  const ctx = newContext();
  const progress: RunProgress = { filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesRead: 0, records: 0, alerts: null };
  const files = new FileProgress(opts.files, progress);
  for (const [fi, file] of opts.files.entries()) {
    files.file(fi);
    let reader: SysFlowFileReader;
    try {
      reader = SysFlowFileReader.open(file, { onWarning: (w) => log.warn(w.message.startsWith(file) ? w.message : `${file}: ${w.message}`) });
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      log.error(e.message);
      result.failedFiles++;
      continue;
    }
    const cache = new EntityCache();
    let n = 0;
    try {
      for (let b = reader.nextBlock(); b; b = reader.nextBlock()) {
        const recs = b.records;
        for (let r = 0; r < recs.length; r++) {
          const rec = recs[r]!;
          if (cache.update(rec) || !types.has(rec.sfType)) continue;
          resolve(cache, rec as SysFlowEvent, ctx);
          renderer.write(values, fillValues(ctx, values), out, ctx);
          result.lines++;
          if (out.closedPipe) return result;
        }
        n += recs.length;
        if (opts.progress) {
          files.at(reader.offset);
          progress.records = result.records + n;
          opts.progress(progress);
        }
        const wait = ready?.();
        if (wait) await wait;
      }
    } finally {
      reader.close();
    }
    result.records += n;
    if (reader.stats.corruptBlocks > 0 || reader.stats.truncated) result.damagedFiles++;
  }
  return result;
}
