/**
 * The `capture` rule action (`actions: [capture]`, or Falco's `capture: true`): when a rule matches,
 * ask for the packets. A network flow's capture filter is its 5-tuple; other records use the flows
 * their process was last seen with (the action observes every record's NF flows, per process),
 * else the rule's `capture_bpf`, else the engine's `capture.bpf`. The request is a pcapdaemon message: handed to
 * the built-in capture service (`capture.mode: service`) or published on a Redis channel for a
 * pcapdaemon deployment or `sfprocessor capture` elsewhere (`capture.mode: redis`). The record gets
 * the tag `capture:<alertid>`, the request's id. A flow matched again while its capture may still
 * run (`capture.window`) refers to that capture instead of asking again.
 */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { ConfigError } from '../errors.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import type { Logger } from '../log.js';
import { compileSettings, settingsOf, type ConfigSchema } from '../pipeline/settings.js';
import type { StageContext } from '../pipeline/types.js';
import type { Action, ActionFactory, CompiledRule } from '../policy/policyset.js';
import { ipStr } from '../sysflow/flags.js';
import { commaList } from '../util/list.js';
import { type Process, SfType } from '../sysflow/types.js';
import { intAttr } from './config.js';
import { capture, pcap } from './pcap.js';
import { type CaptureMessage, DEFAULT_LIMITS } from './request.js';
import { CaptureService } from './service.js';

const L = DEFAULT_LIMITS;

export const CAPTURE_ACTION_CONFIG: ConfigSchema = {
  properties: {
    'capture.mode': {
      type: 'string',
      enum: ['service', 'redis'],
      default: 'service',
      description: 'service: capture here, in this process; redis: publish the request (pcapdaemon format) on a Redis channel',
    },
    'capture.interface': { type: 'string', default: 'any', description: 'interfaces to capture on, comma-separated (any: all of them)' },
    'capture.alias': { type: 'string', description: "interface aliases instead (as the serving side's config names them), comma-separated" },
    'capture.node': { type: 'string', description: "the node the requests are for (default: this host's name)" },
    'capture.bpf': { type: 'string', description: 'capture filter for records that are not network flows, when the rule has no capture_bpf' },
    'capture.customer': { type: 'string', description: "the requests' customer (pcapdaemon's metadata field)" },
    'capture.packets': intAttr('packets per capture', L.packets),
    'capture.bytes': intAttr('bytes per capture (pcap file size)', L.maxbytes),
    'capture.duration': intAttr("seconds a capture lasts at most (a rule's capture_duration, in ms as in Falco, overrides it)", 30),
    'capture.timeout': intAttr('seconds without a packet after which a capture ends', 10),
    'capture.snap': intAttr('bytes kept of each packet', L.snap),
    'capture.maxpackets': intAttr('upper bound for packets', L.maxpackets),
    'capture.maxbytes': intAttr('upper bound for bytes', L.maxbytes),
    'capture.maxduration': intAttr('upper bound for duration, seconds', L.maxduration),
    'capture.maxtimeout': intAttr('upper bound for timeout, seconds', L.maxtimeout),
    'capture.maxsnap': intAttr('upper bound for snap', L.maxsnap),
    'capture.window': { type: 'integer', minimum: 0, description: 'seconds in which the same filter is not requested again (default: the duration)' },
    'capture.dir': { type: 'string', default: '/var/lib/sfprocessor/pcaps', description: 'service mode: where pcap files and sidecars are written' },
    'capture.concurrency': intAttr('service mode: captures at once', 4),
    'capture.redis': { type: 'string', default: '127.0.0.1:6379', pattern: '^[^\\s:]+:\\d{1,5}$', description: 'redis mode: the server, host:port' },
    'capture.channel': { type: 'string', default: 'capture', description: 'redis mode: the channel' },
    'capture.auth': { type: 'string', description: 'redis mode: the password' },
  },
};
const SETTINGS = compileSettings(CAPTURE_ACTION_CONFIG, { scope: 'prefixed', prefix: 'capture.', where: 'capture action: ' });

interface Settings {
  'capture.mode': 'service' | 'redis';
  'capture.interface': string;
  'capture.alias'?: string;
  'capture.node'?: string;
  'capture.bpf'?: string;
  'capture.customer'?: string;
  'capture.packets': number;
  'capture.bytes': number;
  'capture.duration': number;
  'capture.timeout': number;
  'capture.snap': number;
  'capture.maxpackets': number;
  'capture.maxbytes': number;
  'capture.maxduration': number;
  'capture.maxtimeout': number;
  'capture.maxsnap': number;
  'capture.window'?: number;
  'capture.dir': string;
  'capture.concurrency': number;
  'capture.redis': string;
  'capture.channel': string;
  'capture.auth'?: string;
}

const PROTO: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/** A network flow's packets, both directions: its protocol, both addresses and both ports. */
export function flowFilter(r: FlatRecord): string | null {
  if (r.sfType !== SfType.NF && r.sfType !== SfType.NE) return null;
  const n = r.rec as { sip: number; sport: number; dip: number; dport: number; proto: number };
  const proto = PROTO[n.proto] ?? `ip proto ${n.proto}`;
  return `${proto} and host ${ipStr(n.sip)} and host ${ipStr(n.dip)} and port ${n.sport} and port ${n.dport}`;
}

/** A process across records: its host pid and creation time. */
const processKey = (p: Process) => `${p.oid.hpid}:${p.oid.createTS}`;

/** Processes whose flows are remembered, and flows per process (the most recent). */
const PROCESSES = 10_000;
const FLOWS_PER_PROCESS = 8;

/** Counters of the action, logged when the pipeline ends. */
export interface CaptureActionCounters {
  /** matches that asked for a capture */
  requested: number;
  /** matches within the window of an earlier request for the same filter */
  repeated: number;
  /** matches with nothing to filter on (not a flow, no capture_bpf or capture.bpf) */
  unfiltered: number;
  /** requests that could not be handed on (service failed to start, Redis publish failed) */
  failed: number;
}

class CaptureAction implements Action {
  readonly name = 'capture';
  readonly counters: CaptureActionCounters = { requested: 0, repeated: 0, unfiltered: 0, failed: 0 };
  private readonly node: string;
  private readonly recent = new Map<string, { alertid: number; until: number }>();
  private seq = 0;
  private service: CaptureService | null = null;
  private redis: Redis | null = null;
  private broken: string | null = null;
  private readonly pending = new Set<Promise<void>>();
  private readonly unfilteredRules = new Set<string>();
  /** process (hpid:createTS) → filters of its recent flows, oldest first; the map in least recently seen order */
  private readonly flows = new Map<string, string[]>();

  constructor(
    private readonly s: Settings,
    private readonly log: Logger,
  ) {
    this.node = s['capture.node'] ?? hostname();
  }

  /** An id for pcapdaemon's integer alertid: unique in this process, ordered by time. */
  private nextId(now: number): number {
    return now * 1000 + (this.seq++ % 1000);
  }

  observe(batch: readonly FlatRecord[]): void {
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      if (r.sfType !== SfType.NF || r.proc === undefined) continue;
      const k = processKey(r.proc);
      const f = flowFilter(r)!;
      let list = this.flows.get(k);
      if (list === undefined) list = [];
      else this.flows.delete(k);
      this.flows.set(k, list);
      if (!list.includes(f)) {
        list.push(f);
        if (list.length > FLOWS_PER_PROCESS) list.shift();
      }
      if (this.flows.size > PROCESSES) this.flows.delete(this.flows.keys().next().value!);
    }
  }

  /** The flows last seen for r's process, as one filter. */
  private processFilter(r: FlatRecord): string | null {
    if (r.proc === undefined) return null;
    const list = this.flows.get(processKey(r.proc));
    if (!list?.length) return null;
    return list.length === 1 ? list[0]! : list.map((f) => `(${f})`).join(' or ');
  }

  run(r: FlatRecord, rule: CompiledRule): void {
    const bpf = flowFilter(r) ?? this.processFilter(r) ?? rule.capture.bpf ?? this.s['capture.bpf'] ?? null;
    if (bpf === null) {
      this.counters.unfiltered++;
      if (!this.unfilteredRules.has(rule.name)) {
        this.unfilteredRules.add(rule.name);
        this.log.warn(
          `capture action: rule '${rule.name}' matched a record that is not a network flow, of a process with no flows seen, and neither the rule's capture_bpf nor capture.bpf gives a filter: no capture`,
        );
      }
      return;
    }
    const now = Date.now();
    const seen = this.recent.get(bpf);
    if (seen && now < seen.until) {
      this.counters.repeated++;
      r.addTag(`capture:${seen.alertid}`);
      return;
    }
    const s = this.s;
    const durationS = Math.min(rule.capture.durationMs !== null ? Math.max(1, Math.ceil(rule.capture.durationMs / 1000)) : s['capture.duration'], s['capture.maxduration']);
    const alertid = this.nextId(now);
    const window = (s['capture.window'] ?? durationS) * 1000;
    this.recent.delete(bpf);
    this.recent.set(bpf, { alertid, until: now + window });
    if (this.recent.size > 10_000) this.recent.delete(this.recent.keys().next().value!);
    const aliases = commaList(s['capture.alias']);
    const msg: CaptureMessage = {
      node: this.node,
      ...(aliases.length ? { alias: aliases } : { interface: commaList(s['capture.interface']) }),
      bpf,
      snap: Math.min(s['capture.snap'], s['capture.maxsnap']),
      packets: Math.min(s['capture.packets'], s['capture.maxpackets']),
      bytes: Math.min(s['capture.bytes'], s['capture.maxbytes']),
      timeout: Math.min(s['capture.timeout'], s['capture.maxtimeout']),
      duration: durationS,
      alertid,
      tags: [rule.name, ...rule.tags].join(','),
      ...(s['capture.customer'] ? { customer: s['capture.customer'] } : {}),
    };
    this.counters.requested++;
    r.addTag(`capture:${alertid}`);
    this.send(JSON.stringify(msg), alertid);
  }

  private send(text: string, alertid: number): void {
    if (this.broken !== null) {
      this.counters.failed++;
      return;
    }
    let p: Promise<unknown>;
    try {
      p = this.s['capture.mode'] === 'redis' ? this.publisher().publish(this.s['capture.channel'], text) : this.local().submit(text);
    } catch (e) {
      this.broken = (e as Error).message;
      this.counters.failed++;
      this.log.error(`capture action: ${this.broken}; no captures in this run`);
      return;
    }
    const tracked: Promise<void> = p.then(
      () => {
        this.pending.delete(tracked);
      },
      (e: Error) => {
        this.pending.delete(tracked);
        this.counters.failed++;
        this.log.warn(`capture action: request ${alertid} not published: ${e.message}`);
      },
    );
    this.pending.add(tracked);
  }

  private local(): CaptureService {
    if (this.service) return this.service;
    const s = this.s;
    const addon = pcap();
    this.service = new CaptureService({
      node: this.node,
      dir: s['capture.dir'],
      devices: new Set(addon.devices().map((d) => d.name)),
      aliases: new Map(),
      limits: {
        maxpackets: s['capture.maxpackets'],
        maxbytes: s['capture.maxbytes'],
        maxtimeout: s['capture.maxtimeout'],
        maxduration: s['capture.maxduration'],
        maxsnap: s['capture.maxsnap'],
        packets: s['capture.packets'],
        timeout: s['capture.timeout'],
        duration: s['capture.duration'],
        snap: s['capture.snap'],
      },
      checkFilter: (b) => addon.checkFilter(b, 1, s['capture.maxsnap']),
      concurrency: s['capture.concurrency'],
      queue: 16,
      capture,
      log: this.log,
    });
    return this.service;
  }

  private publisher(): Redis {
    if (this.redis) return this.redis;
    const [host, port] = this.s['capture.redis'].split(':') as [string, string];
    this.redis = new Redis({
      host,
      port: Number(port),
      ...(this.s['capture.auth'] ? { password: this.s['capture.auth'] } : {}),
      retryStrategy: (times) => Math.min(100 * times, 2000),
      // a request that cannot go out within a few tries is counted as failed, not held forever
      maxRetriesPerRequest: 3,
    });
    let warned = false;
    this.redis.on('error', (e: Error) => {
      if (!warned) this.log.warn(`capture action: redis ${this.s['capture.redis']}: ${e.message}; retrying`);
      warned = true;
    });
    this.redis.on('ready', () => (warned = false));
    return this.redis;
  }

  async close(): Promise<void> {
    // running captures end now (their files are written); published requests are flushed
    if (this.service) await this.service.close();
    await Promise.all([...this.pending]);
    if (this.redis) await this.redis.quit().catch(() => this.redis?.disconnect());
    const c = this.counters;
    if (c.requested + c.repeated + c.unfiltered > 0)
      this.log.info(
        `capture action: ${c.requested} captures requested (${this.s['capture.mode']}), ${c.repeated} matches referred to one in progress, ${c.unfiltered} without a filter, ${c.failed} failed`,
      );
  }
}

export const captureActionFactory: ActionFactory = {
  name: 'capture',
  description: "asks for a packet capture of the matched flow (the built-in capture service or pcapdaemon's Redis channel)",
  create(ctx: StageContext): Action {
    const s = settingsOf<Settings>(SETTINGS, ctx.attrs);
    if (s['capture.alias'] && s['capture.mode'] === 'service')
      throw new ConfigError('capture action: capture.alias names interfaces of a pcapdaemon deployment; in service mode give capture.interface');
    // the addon is needed only when captures run here and the entry configures them
    if (s['capture.mode'] === 'service' && Object.keys(ctx.attrs).some((k) => k.startsWith('capture.'))) pcap();
    return new CaptureAction(s, ctx.log);
  },
};
