/**
 * The capture service: takes capture requests (pcapdaemon messages, from Redis or from the policy
 * engine), runs at most `concurrency` captures at once with up to `queue` more waiting, merges a
 * request into an identical capture already waiting or running, and writes each capture as a pcap
 * file plus a JSON sidecar (the requests, the controls, the counts, why it stopped). Files appear
 * under their final names only when complete (written as .part, then renamed).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { BadRequest, type CaptureJob, type CaptureLimits, type CaptureMessage, captureKey, parseRequest, type RequestContext } from './request.js';
import type { CaptureOptions, CaptureResult } from './pcap.js';

export interface CaptureCounters {
  /** messages taken */
  received: number;
  /** refused as bad (logged, one line each) */
  invalid: number;
  /** addressed to another node */
  otherNode: number;
  /** joined an identical capture waiting or running */
  merged: number;
  /** refused: concurrency and queue full */
  busy: number;
  started: number;
  /** captures that ended with a pcap file */
  completed: number;
  /** captures that could not start or failed */
  failed: number;
  uploaded: number;
  uploadFailed: number;
}

/** Runs one capture (the addon's, or a test's); `started` receives the function that stops it. */
export type Capturer = (o: CaptureOptions, started?: (stop: () => void) => void) => Promise<CaptureResult>;

/** Called with each finished capture's files; rejects when the upload failed. */
export type Uploader = (pcapPath: string, sidecarPath: string, job: CaptureJob) => Promise<string>;

export interface CaptureServiceOptions {
  readonly node: string;
  readonly dir: string;
  readonly devices: ReadonlySet<string>;
  readonly aliases: ReadonlyMap<string, readonly string[]>;
  readonly limits: CaptureLimits;
  readonly checkFilter: (bpf: string) => string | null;
  readonly concurrency: number;
  readonly queue: number;
  readonly capture: Capturer;
  readonly upload?: Uploader;
  readonly log: Logger;
}

/** What a finished capture wrote (also the sidecar's content). */
export interface CaptureRecord {
  file: string;
  node: string;
  interface: string;
  alias: string | null;
  alertid: number | null;
  /** every request this capture serves, the first one first */
  requests: CaptureMessage[];
  bpf: string;
  snap: number;
  controls: { packets: number; bytes: number; timeout: number; duration: number };
  clamped: Record<string, number>;
  started: string;
  ended: string;
  packets: number;
  bytes: number;
  /** times of the first and last packet (with packets) */
  firstPacket?: string;
  lastPacket?: string;
  stopped: CaptureResult['reason'];
  error?: string;
  libpcap: { received: number; dropped: number; ifDropped: number };
  upload?: { location?: string; error?: string };
}

interface Pending {
  readonly job: CaptureJob;
  readonly key: string;
  readonly requests: CaptureMessage[];
  readonly done: Promise<CaptureRecord | null>;
  resolve(r: CaptureRecord | null): void;
  stop: (() => void) | null;
}

const PACKET_DEBUG_LINES = 1000;
const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
const stamp = (d: Date) => d.toISOString().replace(/[-:]/g, '');

export class CaptureService {
  readonly counters: CaptureCounters = { received: 0, invalid: 0, otherNode: 0, merged: 0, busy: 0, started: 0, completed: 0, failed: 0, uploaded: 0, uploadFailed: 0 };
  private readonly running = new Map<string, Pending>();
  private readonly waiting: Pending[] = [];
  private readonly ctx: RequestContext;
  private closing = false;

  constructor(private readonly o: CaptureServiceOptions) {
    try {
      mkdirSync(o.dir, { recursive: true });
    } catch (e) {
      throw new ConfigError(`capture directory '${o.dir}': cannot create: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    this.ctx = { node: o.node, devices: o.devices, aliases: o.aliases, limits: o.limits, checkFilter: o.checkFilter };
  }

  /** Captures running and waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.running.size, waiting: this.waiting.length };
  }

  /**
   * Take one message. Resolves with the captures it led to (merged ones included) once they are
   * written, or with none when it was refused or not ours; never rejects.
   */
  submit(text: string): Promise<(CaptureRecord | null)[]> {
    this.counters.received++;
    let jobs: readonly CaptureJob[];
    try {
      const p = parseRequest(text, this.ctx);
      if ('notOurs' in p) {
        this.counters.otherNode++;
        this.o.log.debug(`capture request not for this node (${this.o.node}): ${p.notOurs}`);
        return Promise.resolve([]);
      }
      jobs = p.jobs;
    } catch (e) {
      if (!(e instanceof BadRequest)) throw e;
      this.counters.invalid++;
      this.o.log.warn(`capture request refused (alertid ${e.alertid ?? 'none'}): ${e.message}`);
      return Promise.resolve([]);
    }
    return Promise.all(jobs.map((j) => this.enqueue(j)));
  }

  private enqueue(job: CaptureJob): Promise<CaptureRecord | null> {
    const key = captureKey(job);
    const same = this.running.get(key) ?? this.waiting.find((p) => p.key === key);
    if (same) {
      this.counters.merged++;
      same.requests.push(job.message);
      this.o.log.info(`capture request (alertid ${job.alertid ?? 'none'}) joins the identical capture on ${job.iface} for alertid ${same.job.alertid ?? 'none'}`);
      return same.done;
    }
    if (this.closing || (this.running.size >= this.o.concurrency && this.waiting.length >= this.o.queue)) {
      this.counters.busy++;
      this.o.log.warn(
        `capture request refused (alertid ${job.alertid ?? 'none'}): ${this.closing ? 'the service is stopping' : `${this.running.size} captures running and ${this.waiting.length} waiting, the most allowed`}`,
      );
      return Promise.resolve(null);
    }
    let resolve!: (r: CaptureRecord | null) => void;
    const done = new Promise<CaptureRecord | null>((r) => (resolve = r));
    const p: Pending = { job, key, requests: [job.message], done, resolve, stop: null };
    this.waiting.push(p);
    this.pump();
    return done;
  }

  private pump(): void {
    while (this.running.size < this.o.concurrency && this.waiting.length > 0) {
      const p = this.waiting.shift()!;
      this.running.set(p.key, p);
      void this.run(p).then(
        (r) => this.finish(p, r),
        (e: Error) => {
          this.o.log.error(`capture on ${p.job.iface} (alertid ${p.job.alertid ?? 'none'}) failed: ${e.message}`);
          this.finish(p, null);
        },
      );
    }
  }

  private finish(p: Pending, r: CaptureRecord | null): void {
    this.running.delete(p.key);
    p.resolve(r);
    this.pump();
  }

  private async run(p: Pending): Promise<CaptureRecord | null> {
    const { job } = p;
    const t0 = new Date();
    const base = `${safe(this.o.node)}-${job.alertid ?? 'noalert'}-${safe(job.iface)}-${stamp(t0)}`;
    const pcapPath = join(this.o.dir, `${base}.pcap`);
    const part = `${pcapPath}.part`;
    this.counters.started++;
    if (job.message.logrequest) this.o.log.info(`capture request (alertid ${job.alertid ?? 'none'}): ${JSON.stringify(job.message)}`);
    this.o.log.info(`capture on ${job.iface} for alertid ${job.alertid ?? 'none'}: bpf '${job.bpf}', at most ${job.packets} packets, ${job.bytes} bytes, ${job.durationS} s, ${job.timeoutS} s idle`);
    let res: CaptureResult;
    try {
      res = await this.o.capture(
        { device: job.iface, path: part, filter: job.bpf, snaplen: job.snap, packets: job.packets, bytes: job.bytes, durationMs: job.durationS * 1000, timeoutMs: job.timeoutS * 1000 },
        (stop) => {
          p.stop = stop;
          if (this.closing) stop();
        },
      );
    } catch (e) {
      this.counters.failed++;
      this.o.log.warn(`capture on ${job.iface} (alertid ${job.alertid ?? 'none'}) could not start: ${(e as Error).message}`);
      return null;
    }
    renameSync(part, pcapPath);
    const rec: CaptureRecord = {
      file: `${base}.pcap`,
      node: this.o.node,
      interface: job.iface,
      alias: job.alias,
      alertid: job.alertid,
      requests: p.requests,
      bpf: job.bpf,
      snap: job.snap,
      controls: { packets: job.packets, bytes: job.bytes, timeout: job.timeoutS, duration: job.durationS },
      clamped: { ...job.clamped },
      started: t0.toISOString(),
      ended: new Date().toISOString(),
      packets: res.packets,
      bytes: res.bytes,
      ...(res.firstTs !== undefined ? { firstPacket: new Date(res.firstTs).toISOString(), lastPacket: new Date(res.lastTs!).toISOString() } : {}),
      stopped: res.reason,
      ...(res.error ? { error: res.error } : {}),
      libpcap: { received: res.received, dropped: res.dropped, ifDropped: res.ifDropped },
    };
    if (job.message.packetdebug) this.packetDebug(rec.file, pcapPath);
    const sidecar = join(this.o.dir, `${base}.json`);
    if (res.reason === 'error') this.counters.failed++;
    else this.counters.completed++;
    if (this.o.upload) {
      this.writeSidecar(sidecar, rec);
      try {
        rec.upload = { location: await this.o.upload(pcapPath, sidecar, job) };
        this.counters.uploaded++;
      } catch (e) {
        rec.upload = { error: (e as Error).message };
        this.counters.uploadFailed++;
        this.o.log.warn(`capture ${rec.file}: upload failed, the files stay in ${this.o.dir}: ${(e as Error).message}`);
      }
    }
    this.writeSidecar(sidecar, rec);
    this.o.log.info(`capture ${rec.file}: ${rec.packets} packets, ${rec.bytes} bytes, stopped by ${rec.stopped}${res.dropped ? `, ${res.dropped} dropped by libpcap` : ''}`);
    return rec;
  }

  /** pcapdaemon's packetdebug: one line per captured packet (time, captured and original length), at most PACKET_DEBUG_LINES. */
  private packetDebug(name: string, path: string): void {
    const b = readFileSync(path);
    let n = 0;
    for (let p = 24; p + 16 <= b.length; p += 16 + b.readUInt32LE(p + 8)) {
      if (n++ === PACKET_DEBUG_LINES) {
        this.o.log.info(`capture ${name}: packet lines end at ${PACKET_DEBUG_LINES}`);
        break;
      }
      const t = new Date(b.readUInt32LE(p) * 1000 + Math.floor(b.readUInt32LE(p + 4) / 1000)).toISOString();
      this.o.log.info(`capture ${name}: packet ${n} at ${t}, ${b.readUInt32LE(p + 8)} of ${b.readUInt32LE(p + 12)} bytes`);
    }
  }

  private writeSidecar(path: string, rec: CaptureRecord): void {
    writeFileSync(`${path}.part`, `${JSON.stringify(rec, null, 2)}\n`);
    renameSync(`${path}.part`, path);
  }

  /** Stop taking requests, end the running captures (their files are written) and wait for them. */
  async close(): Promise<void> {
    this.closing = true;
    for (const p of this.waiting.splice(0)) p.resolve(null);
    const running = [...this.running.values()];
    for (const p of running) p.stop?.();
    await Promise.all(running.map((p) => p.done));
  }
}
