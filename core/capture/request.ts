/**
 * Capture requests in pcapdaemon's message format (github.com/danmia/pcapdaemon, README "Message
 * format"): checked as its documentation states, then turned into the captures to run here.
 *
 * - `node` (exact name, or `any`) or `nodere` (a regular expression on the node name): exactly one.
 *   A request for another node is not an error; it is not ours.
 * - `interface` (names) or `alias` (names the operator gave interfaces): exactly one; every name
 *   must be known here.
 * - `snap`, `packets`, `bytes`, `timeout`, `duration` (seconds) and `alertid` are integers ≥ 0;
 *   0 or absent means the operator's default. Values above the operator's maxima are lowered to
 *   them (and the capture's sidecar says so).
 * - `bpf` must compile; `tags`, `customer`, `folder`, `bucket`, `acl`, `region`, `endpoint` are
 *   strings, `encryption`, `packetdebug`, `logrequest` booleans. Other keys are ignored, as
 *   pcapdaemon's JSON decoding ignores them.
 */

/** The operator's bounds and defaults (pcapdaemon's [general] section). */
export interface CaptureLimits {
  readonly maxpackets: number;
  readonly maxbytes: number;
  /** seconds */
  readonly maxtimeout: number;
  /** seconds */
  readonly maxduration: number;
  readonly maxsnap: number;
  readonly packets: number;
  /** idle timeout when a request gives none, seconds */
  readonly timeout: number;
  /** duration when a request gives none, seconds */
  readonly duration: number;
  readonly snap: number;
}

/** pcapdaemon's defaults: maxpackets 10000 in its code (50000 in its docs' example), maxbytes 100 MB, maxtimeout and maxduration an hour, defaulttimeout 60 s. */
export const DEFAULT_LIMITS: CaptureLimits = {
  maxpackets: 50_000,
  maxbytes: 100_000_000,
  maxtimeout: 3600,
  maxduration: 3600,
  maxsnap: 262_144,
  packets: 10_000,
  timeout: 60,
  duration: 3600,
  snap: 512,
};

/** A message as it arrives. */
export interface CaptureMessage {
  node?: string;
  nodere?: string;
  interface?: string[] | string;
  alias?: string[];
  tags?: string;
  bpf?: string;
  customer?: string;
  snap?: number;
  packets?: number;
  alertid?: number;
  timeout?: number;
  duration?: number;
  bytes?: number;
  packetdebug?: boolean;
  logrequest?: boolean;
  folder?: string;
  bucket?: string;
  acl?: string;
  region?: string;
  endpoint?: string;
  encryption?: boolean;
}

/** Where a capture may be uploaded, as the request asks (the service's settings fill the rest). */
export interface UploadTarget {
  readonly bucket?: string;
  readonly folder?: string;
  readonly acl?: string;
  readonly region?: string;
  readonly endpoint?: string;
  readonly encryption?: boolean;
}

/** One capture to run: on one interface, with every control decided. */
export interface CaptureJob {
  readonly message: CaptureMessage;
  readonly alertid: number | null;
  readonly iface: string;
  /** The alias the interface was chosen by, if any. */
  readonly alias: string | null;
  readonly bpf: string;
  readonly snap: number;
  readonly packets: number;
  readonly bytes: number;
  readonly timeoutS: number;
  readonly durationS: number;
  /** Values the maxima lowered: field → what was asked. */
  readonly clamped: Readonly<Record<string, number>>;
  readonly upload: UploadTarget;
}

/** What the service knows to check a message against. */
export interface RequestContext {
  readonly node: string;
  readonly devices: ReadonlySet<string>;
  /** alias → interface names */
  readonly aliases: ReadonlyMap<string, readonly string[]>;
  readonly limits: CaptureLimits;
  /** null, or why the filter does not compile */
  readonly checkFilter: (bpf: string) => string | null;
}

/** A message that cannot be served: one line, with its alertid when it has one. */
export class BadRequest extends Error {
  constructor(
    readonly alertid: number | null,
    reason: string,
  ) {
    super(reason);
  }
}

export type Parsed = { readonly jobs: readonly CaptureJob[] } | { readonly notOurs: string };

const INTEGERS = ['snap', 'packets', 'alertid', 'timeout', 'duration', 'bytes'] as const;
const STRINGS = ['node', 'nodere', 'tags', 'bpf', 'customer', 'folder', 'bucket', 'acl', 'region', 'endpoint'] as const;
const BOOLEANS = ['packetdebug', 'logrequest', 'encryption'] as const;

function jsonPosition(text: string, e: Error): string {
  const m = /position (\d+)/.exec(e.message);
  if (!m) return e.message;
  const at = Number(m[1]);
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return `${e.message.replace(/ in JSON at position \d+.*$/, '')} at line ${line}, column ${at - before.lastIndexOf('\n')}`;
}

function nameList(v: unknown, key: string, alertid: number | null): string[] {
  const xs = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(xs) || xs.length === 0 || xs.some((x) => typeof x !== 'string' || x.trim() === '')) throw new BadRequest(alertid, `${key}: expected a list of names, got ${JSON.stringify(v)}`);
  return xs.map((x: string) => x.trim());
}

/** Parse and check one message; throws BadRequest. */
export function parseRequest(text: string, ctx: RequestContext): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BadRequest(null, `not JSON: ${jsonPosition(text, e as Error)}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BadRequest(null, 'expected a JSON object');
  const m = raw as Record<string, unknown>;
  const alertid = Number.isInteger(m.alertid) && (m.alertid as number) >= 0 ? (m.alertid as number) : null;
  for (const k of INTEGERS) {
    const v = m[k];
    if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)) throw new BadRequest(alertid, `${k}: expected an integer ≥ 0, got ${JSON.stringify(v)}`);
  }
  for (const k of STRINGS) if (m[k] !== undefined && m[k] !== null && typeof m[k] !== 'string') throw new BadRequest(alertid, `${k}: expected a string, got ${JSON.stringify(m[k])}`);
  for (const k of BOOLEANS) if (m[k] !== undefined && m[k] !== null && typeof m[k] !== 'boolean') throw new BadRequest(alertid, `${k}: expected true or false, got ${JSON.stringify(m[k])}`);
  const msg = m as CaptureMessage;

  // the node: exactly one of node and nodere
  const node = msg.node ?? '';
  const nodere = msg.nodere ?? '';
  if (node !== '' && nodere !== '') throw new BadRequest(alertid, 'both node and nodere are set; give one');
  if (node === '' && nodere === '') throw new BadRequest(alertid, "neither node nor nodere is set; give one (node 'any' matches every node)");
  if (node !== '' && node !== 'any' && node !== ctx.node) return { notOurs: `for node '${node}'` };
  if (nodere !== '') {
    let re: RegExp;
    try {
      re = new RegExp(nodere);
    } catch (e) {
      throw new BadRequest(alertid, `nodere: not a regular expression: ${(e as Error).message}`);
    }
    if (!re.test(ctx.node)) return { notOurs: `nodere /${nodere}/ does not match '${ctx.node}'` };
  }

  // the interfaces: exactly one of interface and alias
  const hasIf = msg.interface !== undefined && msg.interface !== null;
  const hasAlias = msg.alias !== undefined && msg.alias !== null;
  if (hasIf && hasAlias) throw new BadRequest(alertid, 'both interface and alias are set; give one');
  if (!hasIf && !hasAlias) throw new BadRequest(alertid, 'neither interface nor alias is set; give one');
  const picks: { iface: string; alias: string | null }[] = [];
  if (hasIf) {
    for (const i of nameList(msg.interface, 'interface', alertid)) {
      if (!ctx.devices.has(i)) throw new BadRequest(alertid, `interface: no interface '${i}' here (known: ${[...ctx.devices].sort().join(', ')})`);
      picks.push({ iface: i, alias: null });
    }
  } else {
    for (const a of nameList(msg.alias, 'alias', alertid)) {
      const names = ctx.aliases.get(a);
      if (!names) throw new BadRequest(alertid, `alias: no alias '${a}' here (known: ${[...ctx.aliases.keys()].sort().join(', ') || 'none configured'})`);
      for (const i of names) if (!picks.some((p) => p.iface === i)) picks.push({ iface: i, alias: a });
    }
  }

  const bpf = (msg.bpf ?? '').trim();
  if (bpf !== '') {
    const why = ctx.checkFilter(bpf);
    if (why !== null) throw new BadRequest(alertid, `bpf: '${bpf}' does not compile: ${why}`);
  }

  const L = ctx.limits;
  const clamped: Record<string, number> = {};
  const pick = (k: (typeof INTEGERS)[number], dflt: number, max: number): number => {
    const v = (msg[k] as number | undefined) ?? 0;
    if (v === 0) return Math.min(dflt, max);
    if (v > max) {
      clamped[k] = v;
      return max;
    }
    return v;
  };
  const job = {
    message: msg,
    alertid,
    bpf,
    snap: pick('snap', L.snap, L.maxsnap),
    packets: pick('packets', L.packets, L.maxpackets),
    bytes: pick('bytes', L.maxbytes, L.maxbytes),
    timeoutS: pick('timeout', L.timeout, L.maxtimeout),
    durationS: pick('duration', L.duration, L.maxduration),
    clamped,
    upload: { bucket: msg.bucket, folder: msg.folder, acl: msg.acl, region: msg.region, endpoint: msg.endpoint, encryption: msg.encryption },
  };
  return { jobs: picks.map((p) => ({ ...job, iface: p.iface, alias: p.alias })) };
}

/** Jobs that would capture the same packets the same way are one capture (metadata aside). */
export function captureKey(j: CaptureJob): string {
  return JSON.stringify([j.iface, j.bpf, j.snap, j.packets, j.bytes, j.timeoutS, j.durationS]);
}
