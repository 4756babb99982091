#!/usr/bin/env node
/** `sfprocessor` command line (flags as in sf-processor). */
import { createLogger, LOG_LEVELS, type Logger } from '../log.js';
import { parseOrUsage, usageTable, type FlagSpec } from './args.js';
import { builtinRegistry } from '../plugins/builtin.js';
import { loadPlugins } from '../plugins/loader.js';
import { loadConfig, validateGraph } from '../pipeline/config.js';
import { ConfigError, EXIT, InputError, PolicyError, UserError } from '../errors.js';
import { runMain } from './run-main.js';
import { subscribeMain } from './subscribe.js';
import { captureMain } from './capture.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { initHashing } from '../util/xxh.js';
import { loadPolicySet, type PolicySet } from '../policy/policyset.js';
import { policyFiles, policyPaths } from '../policy/definitions.js';
import { formatReport } from '../policy/report.js';
import { fieldsMarkdown } from '../policy/fields-doc.js';
import { VERSION, AVRO_SCHEMA_VERSION, JSON_SCHEMA_VERSION, ECS_VERSION } from '../version.js';
import type { LevelWithSilent } from 'pino';
import { performance } from 'node:perf_hooks';
import { writeFileSync } from 'node:fs';
import { ProgressLine, progressMode, type ProgressMode } from './progress.js';
import { startCpuProfile, writeMemProfile } from './profile.js';
import { MIGRATION_DOC, UPSTREAM_DRIVERS, upstreamNote } from '../pipeline/upstream.js';

const FLAGS: FlagSpec[] = [
  { name: 'config', value: 'FILE', help: 'pipeline configuration (default pipeline.json)' },
  { name: 'driver', value: 'NAME', help: 'input driver: file (default), socket, or a plugin driver' },
  { name: 'driverdir', value: 'DIR', help: 'directory of driver plugins (*.js, *.mjs ES modules; see docs/plugins.md)' },
  { name: 'plugdir', value: 'DIR', help: 'directory of processor, handler, channel, encoder, transport and action plugins (*.js, *.mjs)' },
  { name: 'log', value: 'LEVEL', help: 'log level on stderr: trace, debug, info (default), warn, error, fatal (only what stops the run), quiet' },
  { name: 'progress', boolean: true, help: 'show the progress line even when stderr is not a terminal (then one line every 5 s)' },
  { name: 'quiet', boolean: true, help: 'no progress line, and only errors on stderr unless -log is given' },
  { name: 'perflog', boolean: true, help: "sf-processor's rate logging: the progress line as plain lines every 5 s, as -progress" },
  { name: 'cpuprofile', value: 'FILE', help: 'write a V8 CPU profile of the run to FILE (.cpuprofile JSON, for Chrome DevTools)' },
  { name: 'memprofile', value: 'FILE', help: 'write a V8 heap snapshot to FILE after the pipeline finished' },
  { name: 'traceprofile', value: 'FILE', help: "sf-processor's Go execution trace: refused (no Node counterpart; use -cpuprofile)" },
  { name: 'test', boolean: true, help: 'validate the configuration and exit 0 (valid) or 1, processing nothing' },
  { name: 'policycheck', value: 'PATH', help: 'load a policy file or directory, report every rule as supported, approximated, unsupported or disabled, exit 0 or 1' },
  { name: 'listfields', boolean: true, help: 'print every policy field (sf.* and Falco names) as a Markdown table and exit' },
  { name: 'version', boolean: true, help: 'print the version and exit' },
  { name: 'help', alias: ['h'], boolean: true, help: 'show this help' },
];

const USAGE = `Usage:
  sfprocessor -version
  sfprocessor subscribe [-socket PATH] [-filter COND] [-types PE,NF] [-for 30s] [-limit N] … (sfprocessor subscribe -help)
  sfprocessor capture -config FILE [-request FILE] [-log LEVEL] (sfprocessor capture -help)
  sfprocessor -policycheck POLICIES [-log LEVEL]
  sfprocessor -test [-log LEVEL] [-config FILE] [-driverdir DIR] [-plugdir DIR] [PATH]
  sfprocessor [-driver NAME] [-log LEVEL] [-quiet] [-progress] [-config FILE] [-driverdir DIR] [-plugdir DIR] PATH

PATH is the input: a trace file or directory (file driver), a socket path (socket driver).
Flags take one dash or two, and a value as the next argument or after '='.

${usageTable(FLAGS)}
`;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'subscribe') return subscribeMain(argv.slice(1));
  if (argv[0] === 'capture') return captureMain(argv.slice(1));
  const parsed = parseOrUsage('sfprocessor', argv, FLAGS);
  if (typeof parsed === 'number') return parsed;
  const { flags, positional } = parsed;
  if (flags.has('help')) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (flags.has('listfields')) {
    process.stdout.write(fieldsMarkdown());
    return EXIT.ok;
  }
  if (flags.has('version')) {
    process.stdout.write(`Version: ${VERSION}, Avro Schema Version: ${AVRO_SCHEMA_VERSION}, Export Schema Version: ${JSON_SCHEMA_VERSION} (JSON), ${ECS_VERSION} (ECS)\n`);
    return EXIT.ok;
  }
  const quiet = flags.has('quiet');
  let level = String(flags.get('log') ?? (quiet ? 'error' : 'info')).toLowerCase();
  if (level === 'quiet') level = 'silent';
  if (level === 'health') level = 'warn';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    process.stderr.write(`sfprocessor: error: unknown log level '${flags.get('log')}' (use ${LOG_LEVELS.filter((l) => l !== 'silent').join(', ')}, quiet); see sfprocessor -h\n`);
    return EXIT.usage;
  }
  const log = createLogger('sfprocessor', level as LevelWithSilent);
  if (flags.has('traceprofile')) {
    log.error(`-traceprofile: sf-processor's Go execution trace has no Node counterpart; use -cpuprofile FILE (see ${MIGRATION_DOC})`);
    return EXIT.usage;
  }
  if (flags.has('policycheck')) return policyCheck(String(flags.get('policycheck')), log);
  const testOnly = flags.has('test');
  if (positional.length > 1) {
    log.error(`one input PATH expected, got ${positional.length}: ${positional.join(' ')} (flags must start with '-')`);
    return EXIT.usage;
  }
  const path = positional[0];
  try {
    return await runProcessor({
      config: String(flags.get('config') ?? 'pipeline.json'),
      driver: flags.get('driver') as string | undefined,
      plugdir: flags.get('plugdir') as string | undefined,
      driverdir: flags.get('driverdir') as string | undefined,
      path,
      testOnly,
      log,
      progress: progressMode({ quiet, forced: flags.has('progress') || flags.has('perflog'), isTTY: process.stderr.isTTY === true }),
      cpuprofile: flags.get('cpuprofile') as string | undefined,
      memprofile: flags.get('memprofile') as string | undefined,
    });
  } catch (e) {
    if (e instanceof UserError) {
      log.error(e.message);
      return e.exitCode;
    }
    // a plugin's own failure (not one of ours): the run failed, sfprocessor did not
    log.error((e as Error).message);
    if (process.env.SFP_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return EXIT.failed;
  }
}

/**
 * `-policycheck PATH`: the policy report alone (no pipeline). When the set does not load, every file
 * that fails is named (the set is loaded again without it, until the rest loads), then the report of
 * the files that load and `N files ok, M failed`.
 */
async function policyCheck(policies: string, log: Logger): Promise<number> {
  await initHashing();
  let files: string[];
  try {
    files = policyPaths(policies).flatMap(policyFiles);
  } catch (e) {
    log.error((e as Error).message);
    return EXIT.failed;
  }
  const failed = new Map<string, string>(); // file → its error
  let unplaced: string | null = null; // an error no file of the set can be blamed for: it ends the check
  let set: PolicySet | null = null;
  for (;;) {
    const rest = files.filter((f) => !failed.has(f));
    try {
      set = loadPolicySet(rest.length === files.length ? policies : rest);
      break;
    } catch (e) {
      const msg = (e as Error).message;
      const file = e instanceof PolicyError ? e.file : rest.find((f) => msg.startsWith(`${f}:`));
      if (file !== undefined && rest.includes(file)) failed.set(file, msg);
      else unplaced = msg;
      if (unplaced !== null || rest.length === 1) break;
    }
  }
  for (const m of failed.values()) log.error(m);
  if (unplaced !== null) log.error(unplaced);
  if (set) process.stdout.write(formatReport(policies, set));
  const bad = failed.size + (unplaced === null ? 0 : 1);
  const ok = files.length - bad;
  if (files.length > 1) process.stdout.write(`${policies}: ${ok} file${ok === 1 ? '' : 's'} ok, ${bad} failed\n`);
  return bad ? EXIT.failed : EXIT.ok;
}

interface RunOptions {
  config: string;
  driver: string | undefined;
  plugdir: string | undefined;
  driverdir: string | undefined;
  path: string | undefined;
  testOnly: boolean;
  log: Logger;
  progress: ProgressMode | null;
  cpuprofile: string | undefined;
  memprofile: string | undefined;
}

async function runProcessor(o: RunOptions): Promise<number> {
  const registry = builtinRegistry();
  const cfg = loadConfig(o.config, process.env, { version: VERSION, jsonschemaversion: String(JSON_SCHEMA_VERSION), ecsversion: ECS_VERSION, buildnumber: '1' });
  // plugins register in the same tables as the built-ins, before the config is checked against them
  const plugins = await loadPlugins(registry, { plugdir: o.plugdir, driverdir: o.driverdir }, o.log);
  // -driver names the driver; without it, the config's drivers section, else the file driver.
  const driverName = o.driver ?? cfg.drivers[0]?.driver ?? 'file';
  const driver = registry.drivers.get(driverName);
  if (!driver) {
    const from = o.driver !== undefined ? '-driver' : `${cfg.file}: drivers entry`;
    throw new ConfigError(`${from}: unknown driver '${driverName}'${upstreamNote(UPSTREAM_DRIVERS, driverName)} (available: ${registry.drivers.names().join(', ')})`);
  }
  const driverEntry = cfg.drivers.find((d) => d.driver === driverName);
  if (cfg.drivers.length > 1) o.log.warn(`${cfg.file}: ${cfg.drivers.length} drivers configured; running '${driverName}' only`);
  validateGraph(cfg, registry, driver.outType);
  if (driverEntry?.out && driverEntry.out.name !== cfg.plugins[0]!.in.name) {
    throw new ConfigError(`${cfg.file}: driver #${driverEntry.index} (${driverName}), attribute 'out': channel '${driverEntry.out.name}' is not the first plugin's input '${cfg.plugins[0]!.in.name}'`);
  }
  const driverAttrs = driverEntry?.attrs ?? {};
  await initHashing();
  if (o.testOnly) {
    // the file driver needs a path to check; a plugin driver checks its settings in any case
    if (o.path !== undefined || driverAttrs.path || driver.origin !== undefined) driver.check?.(o.path, driverAttrs);
    const pipeline = await Pipeline.build(cfg, registry, o.log, true, (t) => process.stdout.write(t));
    await pipeline.close();
    for (const p of plugins) process.stdout.write(`plugin ${p.kind} '${p.name}' ${p.version} from ${p.file}\n`);
    process.stdout.write(
      `${cfg.file}: valid — driver ${driverName}; ${cfg.plugins.map((p) => `#${p.index} ${p.processor}${p.attrs.handler ? `(${p.attrs.handler})` : ''} ${p.in.name} → ${p.out.map((c) => c.name).join(', ') || '∅'}`).join('; ')}\n`,
    );
    return EXIT.ok;
  }
  // the input may also come from the config's drivers entry (attribute path)
  if (o.path === undefined && !driverAttrs.path && driver.origin === undefined) {
    process.stderr.write(`sfprocessor: no input PATH given (nor a path attribute in the config's drivers entry for ${driverName})\n\n${USAGE}`);
    return EXIT.failed;
  }
  driver.check?.(o.path, driverAttrs);
  // a profile that cannot be written is found out before the run, not after it (as sf-processor)
  for (const [flag, file] of [
    ['cpuprofile', o.cpuprofile],
    ['memprofile', o.memprofile],
  ] as const) {
    if (file === undefined) continue;
    try {
      writeFileSync(file, '');
    } catch (e) {
      throw new ConfigError(`-${flag} ${file}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const pipeline = await Pipeline.build(cfg, registry, o.log);
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) {
      o.log.error(`${sig} again: exiting without draining`);
      process.exit(EXIT.failed);
    }
    o.log.info(`${sig}: stopping input, draining the pipeline`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = Date.now();
  const loop = performance.eventLoopUtilization();
  // libuv counts no idle time while it waits with no timer due (measured: a 3 s idle socket run
  // showed 1 ms idle); an idle timer makes its waits finite, so they are counted
  const tick = driver.live ? setInterval(() => undefined, 1000).unref() : null;
  const line = o.progress ? new ProgressLine('sfprocessor', o.progress) : null;
  const stopCpuProfile = o.cpuprofile !== undefined ? await startCpuProfile(o.cpuprofile) : null;
  const { stats, error } = await pipeline.execute(driver, o.path, driverAttrs, abort.signal, { progress: line ? (p) => line.update(p) : undefined });
  const secs = (Date.now() - started) / 1000;
  const active = driver.live ? performance.eventLoopUtilization(loop).active / 1000 : null;
  if (tick) clearInterval(tick);
  line?.finish();
  await stopCpuProfile?.();
  if (o.memprofile !== undefined) writeMemProfile(o.memprofile);
  // what failed is said first; the summary of what was processed still ends the run
  if (error) {
    o.log.error((error as Error).message);
    if (process.env.SFP_DEBUG && !(error instanceof InputError)) process.stderr.write(`${(error as Error).stack}\n`);
  }
  if (stats.undelivered > 0)
    o.log.error(`${stats.undelivered} record${stats.undelivered === 1 ? ' was' : 's were'} neither delivered nor spooled (see the exporter's counters above); exit code ${EXIT.undelivered}`);
  // (a run that failed before its first record has nothing to sum up: its error is the one line)
  if (!error || stats.records > 0)
    o.log.info(
      `processed ${stats.records} records in ${secs.toFixed(2)} s (${rate(stats.records, secs, active)}), peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB, ${stats.waits} pauses for slow consumers${abort.signal.aborted ? ', stopped by signal' : ''}`,
    );
  if (error) return EXIT.failed;
  return stats.undelivered > 0 ? EXIT.undelivered : 0;
}

/**
 * Records/s of the summary. A live driver's wall time is mostly waiting for its sender, so its rate
 * is over the time the process was busy (the event loop's active time), which is said.
 */
function rate(records: number, wall: number, active: number | null): string {
  if (active === null) return `${Math.round(records / Math.max(wall, 1e-3))} records/s`;
  return `${Math.round(records / Math.max(active, 1e-3))} records/s over ${active.toFixed(2)} s active; idle the rest, waiting for input`;
}

runMain('sfprocessor', main);
