/**
 * `sfprocessor capture`: the capture service. It takes pcapdaemon capture requests from a Redis
 * channel (or one request from a file, `-request`) and writes a pcap file and a JSON sidecar per
 * capture. It runs until SIGINT/SIGTERM, then ends the running captures (their files are written),
 * prints its counters and exits 0; with -request it exits 0 when the capture was written, 1 if not.
 */
import { readFileSync } from 'node:fs';
import type { LevelWithSilent } from 'pino';
import { readCaptureConfig } from '../capture/config.js';
import { capture, pcap } from '../capture/pcap.js';
import { subscribeRedis } from '../capture/redis.js';
import { s3Uploader } from '../capture/s3.js';
import { CaptureService } from '../capture/service.js';
import { ConfigError, EXIT, UsageError } from '../errors.js';
import { createLogger, LOG_LEVELS } from '../log.js';
import { parseOrUsage, usageTable, type FlagSpec } from './args.js';

const FLAGS: FlagSpec[] = [
  { name: 'config', value: 'FILE', help: 'the service configuration (JSON; see docs/capture.md)' },
  { name: 'request', value: 'FILE', help: "serve this one request (a pcapdaemon message; '-' for stdin) instead of subscribing to Redis, then exit" },
  { name: 'log', value: 'LEVEL', help: 'log level on stderr: trace, debug, info (default), warn, error, quiet' },
  { name: 'help', alias: ['h'], boolean: true, help: 'show this help' },
];

const USAGE = `Usage:
  sfprocessor capture -config FILE [-request FILE|-] [-log LEVEL]

${usageTable(FLAGS)}
`;

export async function captureMain(argv: string[]): Promise<number> {
  const parsed = parseOrUsage('sfprocessor capture', argv, FLAGS);
  if (typeof parsed === 'number') return parsed;
  const { flags, positional } = parsed;
  if (flags.has('help')) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (positional.length) throw new UsageError(`capture takes no arguments (got '${positional[0]}'); see sfprocessor capture -help`);
  const file = flags.get('config');
  if (typeof file !== 'string') throw new UsageError('capture needs -config FILE; see sfprocessor capture -help');
  let level = String(flags.get('log') ?? 'info').toLowerCase();
  if (level === 'quiet') level = 'silent';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`unknown log level '${flags.get('log')}' (use ${LOG_LEVELS.filter((l) => l !== 'silent').join(', ')}, quiet)`);
  const log = createLogger('sfprocessor', level as LevelWithSilent);

  const cfg = readCaptureConfig(file);
  const addon = pcap();
  const devices = new Set(addon.devices().map((d) => d.name));
  for (const n of cfg.named) if (!devices.has(n)) throw new ConfigError(`${file}: interface '${n}' does not exist here (known: ${[...devices].sort().join(', ')})`);
  const service = new CaptureService({
    node: cfg.node,
    dir: cfg.dir,
    devices,
    aliases: cfg.aliases,
    limits: cfg.limits,
    // requests are checked against Ethernet framing (lo and ethN); the capture compiles again for its interface
    checkFilter: (bpf) => addon.checkFilter(bpf, 1, cfg.limits.maxsnap),
    concurrency: cfg.concurrency,
    queue: cfg.queue,
    capture,
    ...(cfg.s3 ? { upload: s3Uploader(cfg.s3, cfg.node) } : {}),
    log,
  });
  const summary = () => {
    const c = service.counters;
    log.info(
      `capture: ${c.received} requests, ${c.completed} captures written, ${c.merged} merged, ${c.invalid} refused as bad, ${c.busy} refused as busy, ${c.otherNode} for other nodes, ${c.failed} failed${cfg.s3 ? `; ${c.uploaded} uploaded, ${c.uploadFailed} uploads failed` : ''}`,
    );
  };

  const one = flags.get('request');
  if (typeof one === 'string') {
    let text: string;
    try {
      text = readFileSync(one === '-' ? 0 : one, 'utf8');
    } catch (e) {
      throw new UsageError(`-request: cannot read '${one}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const stop = () => void service.close();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const recs = await service.submit(text);
    summary();
    return recs.length > 0 && recs.every((r) => r !== null) ? EXIT.ok : EXIT.failed;
  }

  const source = subscribeRedis(cfg.redis, (m) => void service.submit(m), log);
  log.info(`capture service on node '${cfg.node}': writing to ${cfg.dir}, ${cfg.concurrency} captures at once, libpcap ${addon.libpcapVersion.replace(/^libpcap version /, '')}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await source.close();
  await service.close();
  summary();
  return EXIT.ok;
}
