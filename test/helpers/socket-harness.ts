/**
 * Socket driver test harness: trace records as the datums a collector of that schema version sends,
 * a length-prefixed stream client, and an `sfprocessor` child process whose log can be awaited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { SysFlowFileReader } from '../../core/avro/ocf.js';
import { AvroWriter, encodeSysFlow } from './avro-writer.js';
import { SfType, type SysFlowRecord } from '../../core/sysflow/types.js';
import { ROOT } from './corpus.js';

export const CLI = join(ROOT, 'dist', 'core', 'cli', 'sfprocessor.js');

/** Age order of header versions (1000 predates 2). */
const rank = (v: number) => (v === 1000 ? 1 : v);
const older = (v: number, than: number) => rank(v) < rank(than);

/**
 * Fields a layout lacks, by record type, with the bytes our v5 encoder writes for them when the record
 * does not have them either (the encoder's defaults). They are all at the end of their record.
 */
function absentTail(rec: SysFlowRecord, version: number): { field: string; bytes: number[] }[] {
  const tail: { field: string; bytes: number[] }[] = [];
  switch (rec.sfType) {
    case SfType.H:
      if (version === 1000) tail.push({ field: 'ip', bytes: [4, 0x4e, 0x41] }); // "NA"
      if (older(version, 3)) tail.push({ field: 'filename', bytes: [0] });
      break;
    case SfType.C:
      if (older(version, 4)) tail.push({ field: 'podId', bytes: [0] }); // null branch
      break;
    case SfType.P:
      if (version === 1000) tail.push({ field: 'entry', bytes: [0] });
      if (older(version, 5)) tail.push({ field: 'cwd', bytes: [0] }, { field: 'env', bytes: [0] });
      break;
    case SfType.POD:
    case SfType.KE:
      if (older(version, 4)) throw new Error(`a v${version} collector cannot send record type ${rec.sfType}`);
      break;
    case SfType.PF:
      if (version === 1000) throw new Error('a v1000 collector cannot send ProcessFlow');
      break;
  }
  return tail;
}

/**
 * One datum in the layout of header `version` (5, 4, 3, 2 or 1000): our v5 encoding without the
 * trailing fields that version does not have. Throws if the record carries such a field.
 */
export function encodeForLayout(w: AvroWriter, rec: SysFlowRecord, version: number): Buffer {
  w.reset();
  encodeSysFlow(w, rec);
  const bytes = w.bytes();
  const tail = absentTail(rec, version);
  let cut = 0;
  for (const t of tail) {
    if ((rec as unknown as Record<string, unknown>)[t.field] !== undefined) throw new Error(`record type ${rec.sfType} has '${t.field}', which a v${version} layout cannot carry`);
    cut += t.bytes.length;
  }
  const expected = tail.flatMap((t) => t.bytes);
  const got = [...bytes.subarray(bytes.length - cut)];
  if (got.join() !== expected.join()) throw new Error(`unexpected default encoding ${got.join()} (expected ${expected.join()})`);
  return Buffer.from(bytes.subarray(0, bytes.length - cut));
}

export interface TraceMessages {
  records: SysFlowRecord[];
  /** One datum per record, each in the layout of the header before it. */
  messages: Buffer[];
  versions: number[];
}

/** The records of a trace file as a collector of the trace's schema version would send them. */
export function traceMessages(file: string): TraceMessages {
  const reader = SysFlowFileReader.open(file);
  const records = reader.readAll();
  reader.close();
  const w = new AvroWriter();
  let version = 5;
  const versions = new Set<number>();
  const messages = records.map((r) => {
    if (r.sfType === SfType.H) {
      version = r.version;
      versions.add(version);
    }
    return encodeForLayout(w, r, version);
  });
  return { records, messages, versions: [...versions] };
}

/** Entity records (re-sent after a header, as sf-collector does after a reconnect). */
export const isEntity = (r: SysFlowRecord) => r.sfType === SfType.C || r.sfType === SfType.P || r.sfType === SfType.F || r.sfType === SfType.POD;

/** A stream-mode client: each message after its 4-byte big-endian length. */
export function streamSend(path: string, messages: readonly Buffer[], opts: { raw?: Buffer } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(path);
    sock.on('error', reject);
    sock.on('connect', () => {
      const parts: Buffer[] = [];
      for (const m of messages) {
        const len = Buffer.alloc(4);
        len.writeUInt32BE(m.length);
        parts.push(len, m);
      }
      if (opts.raw) parts.push(opts.raw);
      sock.end(Buffer.concat(parts), () => resolve());
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** An sfprocessor child process; its stderr log can be awaited line by line. */
export class ProcessorRun {
  /** Runs not yet exited, so a failed test cannot leave a server behind (see killAll). */
  private static live = new Set<ProcessorRun>();
  stderr = '';
  readonly exited: Promise<Exit>;
  private exit: Exit | null = null;
  private readonly listeners = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      this.stderr += s;
      for (const l of [...this.listeners]) l();
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        ProcessorRun.live.delete(this);
        // stderr may still hold unread data; let it arrive first.
        setImmediate(() => {
          for (const l of [...this.listeners]) l();
          resolve(this.exit!);
        });
      });
    });
  }

  /** `sfprocessor -config CONFIG -driver socket -log info ARGS…` (umask set first when given). */
  static start(args: string[], opts: { umask?: string; env?: NodeJS.ProcessEnv } = {}): ProcessorRun {
    const env = { ...(opts.env ?? childEnv()) };
    const child = opts.umask
      ? spawn('/bin/sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.resume();
    const run = new ProcessorRun(child);
    ProcessorRun.live.add(run);
    return run;
  }

  /** Kill every run still alive (test teardown). */
  static killAll(): void {
    for (const r of ProcessorRun.live) r.child.kill('SIGKILL');
  }

  /** Resolves with the first match of `re` in the log so far or to come; rejects on exit or timeout. */
  waitFor(re: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(this.stderr);
        if (m) {
          done();
          resolve(m);
        } else if (this.exit) {
          done();
          reject(new Error(`sfprocessor exited (${JSON.stringify(this.exit)}) before logging ${re}; stderr:\n${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timeout waiting for ${re}; stderr:\n${this.stderr}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Signal the process and wait for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<Exit> {
    if (!this.exit) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The connection summary line: messages, records, bad, oversize. */
export async function connectionClosed(run: ProcessorRun, n: number): Promise<{ reason: string; messages: number; records: number; bad: number; oversize: number }> {
  const m = await run.waitFor(new RegExp(`collector connection #${n} closed \\(([^)]*)\\): (\\d+) messages, (\\d+) records, (\\d+) bad, (\\d+) oversize`));
  return { reason: m[1]!, messages: Number(m[2]), records: Number(m[3]), bad: Number(m[4]), oversize: Number(m[5]) };
}

/** The environment without plugin attribute overrides (<PLUGIN>_<ATTR>) that would change a run. */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(sysflowreader|policyengine|exporter)_/i.test(k)) env[k] = v;
  return env;
}

/** reader → policyengine (enrich, or as `engine` says) → exporter(json, file); optional driver entry (attributes). */
export function pipelineConfig(out: string, driver?: Record<string, string>, engine: Record<string, string> = {}): object {
  return {
    pipeline: [
      { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
      { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'enrich', ...engine },
      { processor: 'exporter', in: 'evt eventchan', export: 'file', format: 'json', 'file.path': out },
    ],
    ...(driver ? { drivers: [{ driver: 'socket', ...driver }] } : {}),
  };
}
