#!/usr/bin/env node
/** `sysprint` command line. */
import { createLogger } from '../log.js';
import { parseOrUsage, usageTable, type FlagSpec } from './args.js';
import { runSysprint, PRINTABLE_TYPES, type OutputFormat } from '../sysprint/sysprint.js';
import { FIELDS } from '../sysprint/record.js';
import { FileSink, type ByteSink } from '../util/bytes.js';
import { AsyncFileSink } from '../util/async-file-sink.js';
import { openSync } from 'node:fs';
import { expandInputs } from '../util/paths.js';
import { runMain, reportError } from './run-main.js';
import { EXIT } from '../errors.js';
import { VERSION } from '../version.js';
import { ProgressLine, progressMode } from './progress.js';

const FLAGS: FlagSpec[] = [
  { name: 'o', alias: ['output'], value: 'FORMAT', help: 'output format: str (table, default), json (JSON lines), csv' },
  { name: 'w', alias: ['write'], value: 'FILE', help: 'write output to FILE instead of stdout' },
  { name: 'f', alias: ['types'], value: 'TYPES', help: `print only these record types, comma-separated (${PRINTABLE_TYPES.join(',')})` },
  { name: 'c', alias: ['fields'], value: 'FIELDS', help: 'print only these fields, comma-separated, in this order (see -l)' },
  { name: 'l', alias: ['list'], boolean: true, help: 'list the output fields and exit' },
  { name: 'q', alias: ['quiet'], boolean: true, help: 'no warnings or progress on stderr, only errors' },
  { name: 'progress', boolean: true, help: 'show the progress line even when stderr is not a terminal (then one line every 5 s)' },
  { name: 'version', boolean: true, help: 'print the version and exit' },
  { name: 'h', alias: ['help'], boolean: true, help: 'show this help' },
];

const USAGE = `Usage: sysprint [-o str|json|csv] [-w OUTFILE] [-f TYPES] [-c FIELDS] [-q] [-progress] PATH...

Prints the flows and events of SysFlow traces, joined with their process, parent, container, pod
and file entities. PATH is a trace file or a directory (every file below it, in natural order).

${usageTable(FLAGS)}
`;

async function main(argv: string[]): Promise<number> {
  const parsed = parseOrUsage('sysprint', argv, FLAGS);
  if (typeof parsed === 'number') return parsed;
  const { flags, positional } = parsed;
  if (flags.has('h')) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (flags.has('version')) {
    process.stdout.write(`sysprint ${VERSION}\n`);
    return EXIT.ok;
  }
  if (flags.has('l')) {
    for (const f of FIELDS) process.stdout.write(`${f.key.padEnd(22)}${f.header}\n`);
    return EXIT.ok;
  }
  const quiet = flags.has('q');
  const log = createLogger('sysprint', quiet ? 'error' : 'info');
  const format = String(flags.get('o') ?? 'str') as OutputFormat;
  if (!['str', 'json', 'csv'].includes(format)) {
    log.error(`unknown output format '${format}' (use str, json or csv)`);
    return EXIT.usage;
  }
  if (positional.length === 0) {
    process.stderr.write(`sysprint: no input PATH given\n${USAGE}`);
    return EXIT.usage;
  }
  let files: string[];
  try {
    files = expandInputs(positional);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    log.error(`${err.path ?? positional[0]}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
    return EXIT.failed;
  }
  const outPath = flags.get('w');
  // A file is written on libuv's thread pool while decoding goes on; stdout is written synchronously.
  let sink: ByteSink;
  let fileSink: AsyncFileSink | null = null;
  try {
    if (typeof outPath === 'string') sink = fileSink = new AsyncFileSink(openSync(outPath, 'w'));
    else sink = new FileSink(1);
  } catch (e) {
    log.error(`${String(outPath)}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return EXIT.failed;
  }
  const split = (v: string | true | undefined) => (typeof v === 'string' ? v.split(',').filter((s) => s.trim() !== '') : undefined);
  const mode = progressMode({ quiet, forced: flags.has('progress'), isTTY: process.stderr.isTTY === true });
  const line = mode ? new ProgressLine('sysprint', mode) : null;
  try {
    const result = await runSysprint(
      {
        format,
        files,
        types: split(flags.get('f')),
        columns: split(flags.get('c')),
        progress: line ? (p) => line.update(p) : undefined,
      },
      sink,
      log,
      fileSink ? () => fileSink!.ready() : undefined,
    );
    if (fileSink) await fileSink.closeFile();
    else sink.close();
    line?.finish();
    return result.failedFiles > 0 ? EXIT.failed : EXIT.ok;
  } catch (e) {
    if (fileSink) await fileSink.closeFile().catch(() => {});
    else sink.close();
    line?.finish();
    return reportError('sysprint', e);
  }
}

runMain('sysprint', main);
