/**
 * `file` driver: reads a SysFlow trace file, or every file below a directory in natural order, and
 * pushes each container block as one batch. Damaged files are reported and read as far as possible
 * (core/avro/ocf.ts); a file that is not SysFlow at all is reported and skipped, and the run then
 * ends with an error after the other files were processed.
 */
import { statSync } from 'node:fs';
import { FileProgress } from '../pipeline/file-progress.js';
import { SysFlowFileReader } from '../avro/ocf.js';
import { InputError } from '../avro/errors.js';
import { expandInputs } from '../util/paths.js';
import type { DriverFactory } from '../pipeline/types.js';

function inputPath(path: string | undefined, attrs: Readonly<Record<string, string>>): string {
  const p = attrs.path || path;
  if (!p) throw new InputError('file driver: no input path (give a trace file or directory)');
  return p;
}

export const fileDriver: DriverFactory = {
  name: 'file',
  description: 'reads SysFlow trace files (Avro object container files) or directories of them',
  outType: 'sysflowchan',
  // other attributes are left alone, as sf-processor's file driver does
  config: { properties: { path: { type: 'string', description: 'input file or directory (overrides the command line path)' } }, additionalProperties: true },
  check(path, attrs) {
    const p = inputPath(path, attrs);
    try {
      statSync(p);
    } catch {
      throw new InputError(`${p}: no such file or directory`);
    }
  },
  async run(path, ctx) {
    const files = expandInputs([inputPath(path, ctx.attrs)]);
    if (files.length === 0) throw new InputError(`${inputPath(path, ctx.attrs)}: directory contains no files`);
    const failed: string[] = [];
    const progress = new FileProgress(files, ctx.progress);
    for (const [i, file] of files.entries()) {
      if (ctx.signal.aborted) break;
      progress.file(i);
      let reader: SysFlowFileReader;
      try {
        reader = SysFlowFileReader.open(file, { onWarning: (w) => ctx.log.warn(w.message.startsWith(file) ? w.message : `${file}: ${w.message}`) });
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        ctx.log.error(e.message);
        failed.push(file);
        continue;
      }
      try {
        for (let b = reader.nextBlock(); b && !ctx.signal.aborted; b = reader.nextBlock()) {
          progress.at(reader.offset);
          await ctx.push(b.records);
        }
      } finally {
        reader.close();
      }
      ctx.log.debug(`read ${reader.stats.records} records from ${file}`);
    }
    if (!ctx.signal.aborted) progress.finish();
    if (failed.length) throw new InputError(`${failed.length} of ${files.length} input files could not be read (${failed.join(', ')})`);
  },
};
