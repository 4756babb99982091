/**
 * `sfprocessor subscribe`: a client of the telemetry API. It subscribes with the given filter and
 * modifiers and prints each event as a JSON line or a readable line; it exits 0 when the stream ends
 * (for or limit reached, or the pipeline stopped) and 1 with one line on an error.
 */
import { readFileSync } from 'node:fs';
import { CLIENT_OPTIONS, type EventBatch, loadTelemetry, type TelemetryEvent } from '../telemetry/proto.js';
import { DEFAULT_TELEMETRY_SOCKET } from '../processors/subscriptions.js';
import type { SubscriptionRequest, ThrottleKey } from '../telemetry/subscription.js';
import { durationOf } from '../pipeline/settings.js';
import { EXIT, InputError, UsageError } from '../errors.js';
import { parseOrUsage, usageTable, type FlagSpec } from './args.js';
import { commaList } from '../util/list.js';

const FLAGS: FlagSpec[] = [
  { name: 'socket', value: 'PATH', help: `the telemetry socket (default ${DEFAULT_TELEMETRY_SOCKET})` },
  { name: 'addr', value: 'HOST:PORT', help: 'the TCP listener instead of the socket (TLS; -cacert, -cert, -key)' },
  { name: 'cacert', value: 'FILE', help: "CA certificate (PEM) that signed the server's certificate (with -addr)" },
  { name: 'cert', value: 'FILE', help: 'client certificate (PEM), for servers that require one (with -addr)' },
  { name: 'key', value: 'FILE', help: 'client private key (PEM) (with -addr)' },
  { name: 'filter', value: 'COND', help: "a policy-language condition (sf.* or Falco fields, the stage's macros and lists)" },
  { name: 'types', value: 'LIST', help: 'record types, comma-separated: PE, PF, FF, FE, NF, NE, KE, …' },
  { name: 'opflags', value: 'LIST', help: 'op flags, comma-separated: EXEC, CLONE, OPEN, CONNECT, …' },
  { name: 'container', value: 'GLOBS', help: 'container ids or names, comma-separated globs (*, ?, [...])' },
  { name: 'image', value: 'GLOBS', help: 'container image names, comma-separated globs' },
  { name: 'hostonly', boolean: true, help: 'only records outside containers' },
  { name: 'since', value: 'DURATION', help: "first replay the stage's history of the last DURATION (e.g. 5m), then continue live" },
  { name: 'for', value: 'DURATION', help: 'end after this long, e.g. 30s or 5m' },
  { name: 'limit', value: 'N', help: 'end after N events' },
  { name: 'throttle', value: 'DURATION[:KEY]', help: 'at most one event per interval (record time) per key: none (default), process, file, rule' },
  { name: 'include', value: 'FIELDS', help: 'keep only these fields of each record, comma-separated (proc.exe, file.path, proc. for a section)' },
  { name: 'exclude', value: 'FIELDS', help: 'drop these fields of each record' },
  { name: 'o', value: 'FORMAT', help: 'json (default: one object per line) or text (one readable line per event)' },
  { name: 'help', alias: ['h'], boolean: true, help: 'show this help' },
];

const USAGE = `Usage:
  sfprocessor subscribe [-socket PATH | -addr HOST:PORT [-cacert F] [-cert F -key F]] [-filter COND]
                        [-types PE,NF] [-opflags EXEC] [-container GLOBS] [-image GLOBS] [-hostonly]
                        [-since 5m] [-for 30s] [-limit N] [-throttle 1s[:process]] [-include F,…]
                        [-exclude F,…] [-o json|text]

${usageTable(FLAGS)}
`;

function request(flags: ReadonlyMap<string, string | true>): SubscriptionRequest {
  const str = (k: string) => (typeof flags.get(k) === 'string' ? (flags.get(k) as string) : undefined);
  const ms = (k: string) => {
    const v = str(k);
    if (v === undefined) return 0;
    const d = durationOf(v);
    if (d === null) throw new UsageError(`-${k}: expected a duration such as 500ms, 30s, 5m or 1h, got '${v}'`);
    return Math.round(d);
  };
  const limitRaw = str('limit');
  if (limitRaw !== undefined && !/^\d+$/.test(limitRaw)) throw new UsageError(`-limit: expected a whole number, got '${limitRaw}'`);
  let throttle: SubscriptionRequest['throttle'] = null;
  const t = str('throttle');
  if (t !== undefined) {
    const [interval, key = 'none'] = t.split(':');
    const d = durationOf(interval ?? '');
    if (d === null) throw new UsageError(`-throttle: expected DURATION[:KEY] such as 1s or 1s:process, got '${t}'`);
    const k = key.toUpperCase();
    if (!['NONE', 'PROCESS', 'FILE', 'RULE'].includes(k)) throw new UsageError(`-throttle: key must be none, process, file or rule, got '${key}'`);
    throttle = { interval_ms: Math.round(d), key: k as ThrottleKey };
  }
  return {
    filter: { types: commaList(str('types')), opflags: commaList(str('opflags')), condition: str('filter') ?? '' },
    for_ms: ms('for'),
    limit: limitRaw === undefined ? 0 : Number(limitRaw),
    throttle,
    fields: { include: commaList(str('include')), exclude: commaList(str('exclude')) },
    since_ms: ms('since'),
    containers: { ids: commaList(str('container')), names: commaList(str('container')), images: commaList(str('image')), image_ids: [], host_only: flags.has('hostonly') },
  };
}

/** A readable line: sequence, time, type, process, and the resource. */
function textLine(e: TelemetryEvent): string {
  const r = JSON.parse(e.json) as Record<string, Record<string, unknown> | unknown>;
  const sec = (k: string) => (typeof r[k] === 'object' && r[k] !== null ? (r[k] as Record<string, unknown>) : {});
  const proc = sec('proc');
  const file = sec('file');
  const net = sec('net');
  const ns = BigInt(e.ts);
  const when = new Date(Number(ns / 1_000_000n)).toISOString();
  const what = file.path !== undefined ? String(file.path) : net.dip !== undefined ? `${String(net.sip)}:${String(net.sport)} → ${String(net.dip)}:${String(net.dport)}` : '';
  const rules = Array.isArray(r.policies) ? ` [${(r.policies as { id?: string }[]).map((p) => p.id).join(', ')}]` : '';
  const exe = proc.exe !== undefined ? ` ${String(proc.exe)}[${String(proc.pid ?? '')}]` : '';
  return `#${e.seq} ${when} ${e.type} ${e.host}${exe}${r.opflags !== undefined ? ` ${String(r.opflags)}` : ''}${what ? ` ${what}` : ''}${rules}`;
}

export async function subscribeMain(argv: string[]): Promise<number> {
  const parsed = parseOrUsage('sfprocessor subscribe', argv, FLAGS);
  if (typeof parsed === 'number') return parsed;
  const { flags, positional } = parsed;
  if (flags.has('help')) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (positional.length) throw new UsageError(`subscribe takes no arguments (got '${positional[0]}'); see sfprocessor subscribe -help`);
  const format = (flags.get('o') as string | undefined) ?? 'json';
  if (format !== 'json' && format !== 'text') throw new UsageError(`-o: expected json or text, got '${format}'`);
  const req = request(flags);
  const socket = (flags.get('socket') as string | undefined) ?? DEFAULT_TELEMETRY_SOCKET;
  const addr = flags.get('addr') as string | undefined;
  if (addr !== undefined && flags.has('socket')) throw new UsageError('give -socket or -addr, not both');
  const file = (k: string) => {
    const f = flags.get(k) as string | undefined;
    if (f === undefined) return null;
    try {
      return readFileSync(f);
    } catch (e) {
      throw new UsageError(`-${k}: cannot read '${f}' (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  };
  if (addr === undefined && (flags.has('cacert') || flags.has('cert') || flags.has('key'))) throw new UsageError('-cacert, -cert and -key go with -addr');
  if (flags.has('cert') !== flags.has('key')) throw new UsageError('-cert and -key go together');
  const target = addr ?? `unix:${socket}`;

  const { grpc, Client } = await loadTelemetry();
  const creds = addr !== undefined ? grpc.credentials.createSsl(file('cacert'), file('key'), file('cert')) : grpc.credentials.createInsecure();
  const client = new Client(target, creds, CLIENT_OPTIONS);
  const stream = client.GetEvents(req);
  let lost = 0;
  let held = 0;
  return new Promise<number>((resolve, reject) => {
    stream.on('data', (b: EventBatch) => {
      lost += Number(b.dropped);
      held += Number(b.suppressed);
      let out = '';
      for (const e of b.events) out += format === 'json' ? `{"seq":${e.seq},"host":${JSON.stringify(e.host)},"record":${e.json}}\n` : `${textLine(e)}\n`;
      if (out) process.stdout.write(out);
    });
    stream.on('end', () => {
      client.close();
      if (lost || held) process.stderr.write(`sfprocessor subscribe: ${lost} events dropped (not read fast enough), ${held} suppressed by the throttle\n`);
      resolve(EXIT.ok);
    });
    stream.on('error', (e: Error & { code?: number; details?: string }) => {
      client.close();
      // gRPC's UNAVAILABLE text is long ("No connection established. Last error: …"): its errno says it
      const errno = /\b(E[A-Z]{3,})\b/.exec(e.details ?? '')?.[1];
      const reason = errno === 'ENOENT' ? 'no such socket' : errno === 'ECONNREFUSED' ? 'nobody is listening' : (errno ?? e.details ?? e.message);
      const why = e.code === grpc.status.UNAVAILABLE ? `${addr ?? socket}: no telemetry service (${reason})` : (e.details ?? e.message);
      reject(new InputError(why));
    });
  });
}
