/**
 * The capture service's configuration (`sfprocessor capture -config capture.json`): pcapdaemon's
 * settings under its own names (its [general], [redis] and [[interface]] sections), as JSON.
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { compileSettings, settingsOf, type ConfigSchema } from '../pipeline/settings.js';
import { type CaptureLimits, DEFAULT_LIMITS } from './request.js';
import type { RedisSettings } from './redis.js';
import type { S3Settings } from './s3.js';

const L = DEFAULT_LIMITS;
/** An integer setting with a default (minimum 1 unless given). */
export const intAttr = (description: string, dflt: number, minimum = 1) => ({ type: 'integer' as const, minimum, default: dflt, description });

export const CAPTURE_CONFIG: ConfigSchema = {
  properties: {
    node: { type: 'string', description: "this node's name, which requests' node and nodere are matched against (default: the host name)" },
    localdir: { type: 'string', default: '/var/lib/sfprocessor/pcaps', description: 'directory the pcap files and their JSON sidecars are written to' },
    maxpackets: intAttr('packets a request may ask for, at most (more is lowered to this)', L.maxpackets),
    maxbytes: intAttr('bytes (pcap file size) a request may ask for, at most', L.maxbytes),
    maxtimeout: intAttr('idle timeout a request may ask for, at most, seconds', L.maxtimeout),
    maxduration: intAttr('duration a request may ask for, at most, seconds', L.maxduration),
    maxsnap: intAttr('snap length a request may ask for, at most', L.maxsnap),
    defaultpackets: intAttr('packets when a request gives none', L.packets),
    defaulttimeout: intAttr('idle timeout when a request gives none, seconds (pcapdaemon: defaulttimeout)', L.timeout),
    defaultduration: intAttr('duration when a request gives none, seconds', L.duration),
    snaplength: intAttr('snap length when a request gives none (pcapdaemon: snaplength)', L.snap),
    concurrency: intAttr('captures running at once, at most', 4),
    queue: intAttr('captures waiting for a free slot, at most; beyond it requests are refused and counted', 16, 0),
    'redis.host': { type: 'string', default: '127.0.0.1', description: 'Redis server' },
    'redis.port': { type: 'integer', minimum: 1, maximum: 65535, default: 6379, description: 'Redis port' },
    'redis.channel': { type: 'string', default: 'capture', description: 'pub/sub channel the requests arrive on' },
    'redis.auth': { type: 'string', description: 'Redis password' },
    's3.upload': { type: 'boolean', default: false, description: 'upload each capture (pcap and sidecar) to S3-compatible storage' },
    's3.endpoint': { type: 'string', description: 'S3 endpoint URL (default: AWS for the region); path-style addressing' },
    's3.region': { type: 'string', default: 'us-east-1', description: 'S3 region' },
    's3.bucket': { type: 'string', description: 'bucket, when a request names none' },
    's3.folder': { type: 'string', default: 'pcaps', description: 'key prefix, when a request names none' },
    's3.accessid': { type: 'string', description: 'access key id (default: the AWS SDK credential chain, e.g. AWS_ACCESS_KEY_ID)' },
    's3.accesskey': { type: 'string', description: 'secret access key' },
    's3.acl': { type: 'string', description: 'canned ACL, when a request names none (e.g. private)' },
    's3.encryption': { type: 'boolean', default: false, description: 'server-side encryption (AES256), when a request does not say' },
    's3.requestendpoint': { type: 'boolean', default: false, description: "let requests choose the endpoint and region (they decide where this node's credentials sign to)" },
  },
};

export interface CaptureConfig {
  readonly node: string;
  readonly dir: string;
  readonly limits: CaptureLimits;
  readonly concurrency: number;
  readonly queue: number;
  readonly redis: RedisSettings;
  /** null: no upload */
  readonly s3: S3Settings | null;
  /** alias → interface names */
  readonly aliases: Map<string, string[]>;
  /** interfaces the config names (each must exist here) */
  readonly named: string[];
}

interface Flat {
  node?: string;
  localdir: string;
  maxpackets: number;
  maxbytes: number;
  maxtimeout: number;
  maxduration: number;
  maxsnap: number;
  defaultpackets: number;
  defaulttimeout: number;
  defaultduration: number;
  snaplength: number;
  concurrency: number;
  queue: number;
  'redis.host': string;
  'redis.port': number;
  'redis.channel': string;
  'redis.auth'?: string;
  's3.upload': boolean;
  's3.endpoint'?: string;
  's3.region': string;
  's3.bucket'?: string;
  's3.folder': string;
  's3.accessid'?: string;
  's3.accesskey'?: string;
  's3.acl'?: string;
  's3.encryption': boolean;
  's3.requestendpoint': boolean;
}

/** Nested objects become dotted keys, values strings (as pipeline attributes are). */
function flatten(o: Record<string, unknown>, file: string, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(o)) {
    if (prefix === '' && k === 'interface') continue;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) flatten(v as Record<string, unknown>, file, `${prefix}${k}.`, out);
    else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[prefix + k] = String(v);
    else throw new ConfigError(`${file}: '${prefix}${k}': expected a string, number or true/false`);
  }
  return out;
}

export function parseCaptureConfig(text: string, file: string): CaptureConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file}: not JSON: ${(e as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError(`${file}: expected a JSON object`);
  const settings = compileSettings(CAPTURE_CONFIG, { scope: 'entry', reserved: ['interface'], where: `${file}: ` });
  const c = settingsOf<Flat>(settings, flatten(raw as Record<string, unknown>, file));
  const aliases = new Map<string, string[]>();
  const named: string[] = [];
  const ifs = (raw as { interface?: unknown }).interface ?? [];
  if (!Array.isArray(ifs)) throw new ConfigError(`${file}: 'interface': expected a list of {"name": …, "alias": [...]}`);
  for (const [i, x] of ifs.entries()) {
    const e = x as { name?: unknown; alias?: unknown };
    if (typeof e?.name !== 'string' || e.name === '') throw new ConfigError(`${file}: interface[${i}]: missing name`);
    const al = e.alias ?? [];
    if (!Array.isArray(al) || al.some((a) => typeof a !== 'string' || a === '')) throw new ConfigError(`${file}: interface[${i}].alias: expected a list of names`);
    named.push(e.name);
    for (const a of al as string[]) aliases.set(a, [...(aliases.get(a) ?? []), e.name]);
  }
  const limits: CaptureLimits = {
    maxpackets: c.maxpackets,
    maxbytes: c.maxbytes,
    maxtimeout: c.maxtimeout,
    maxduration: c.maxduration,
    maxsnap: c.maxsnap,
    packets: c.defaultpackets,
    timeout: c.defaulttimeout,
    duration: c.defaultduration,
    snap: c.snaplength,
  };
  if (c['s3.upload'] && !c['s3.bucket']) throw new ConfigError(`${file}: s3.upload needs s3.bucket (the bucket for requests that name none)`);
  if (Boolean(c['s3.accessid']) !== Boolean(c['s3.accesskey'])) throw new ConfigError(`${file}: s3.accessid and s3.accesskey go together`);
  const s3: S3Settings | null = c['s3.upload']
    ? {
        ...(c['s3.endpoint'] ? { endpoint: c['s3.endpoint'] } : {}),
        region: c['s3.region'],
        bucket: c['s3.bucket']!,
        folder: c['s3.folder'],
        ...(c['s3.accessid'] ? { accessId: c['s3.accessid'], accessKey: c['s3.accesskey']! } : {}),
        ...(c['s3.acl'] ? { acl: c['s3.acl'] } : {}),
        encryption: c['s3.encryption'],
        requestEndpoint: c['s3.requestendpoint'],
      }
    : null;
  return {
    s3,
    node: c.node ?? hostname(),
    dir: c.localdir,
    limits,
    concurrency: c.concurrency,
    queue: c.queue,
    redis: { host: c['redis.host'], port: c['redis.port'], channel: c['redis.channel'], ...(c['redis.auth'] ? { auth: c['redis.auth'] } : {}) },
    aliases,
    named,
  };
}

export function readCaptureConfig(file: string): CaptureConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseCaptureConfig(text, file);
}
