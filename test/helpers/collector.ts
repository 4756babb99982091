/**
 * Helpers for the native collector tests (test/e2e/collector.test.ts): build native/ with make, find out
 * whether eBPF can be used here (and why not), build the C workloads, run the collector, decode its
 * output with our reader and with plain avsc, and check the entity-before-reference invariant.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';
import { BigLong } from './avro-bigint.js';
import { SysFlowFileReader } from '../../core/avro/ocf.js';
import { exactToString } from '../../core/util/i64.js';
import { SYSFLOW_SCHEMA } from '../../core/sysflow/schema.js';
import type { OID, SysFlowRecord } from '../../core/sysflow/types.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test');
    dir = up;
  }
  return dir;
}

export const REPO = repoRoot();
export const NATIVE = join(REPO, 'native');
export const COLLECTOR = join(NATIVE, 'build', 'sfcollector');
export const SELFTEST = join(NATIVE, 'build', 'sfc-selftest');
export const FIXTURES = join(REPO, 'test', 'fixtures', 'collector');

function oneLine(s: string): string {
  const lines = s
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const errs = lines.filter((l) => /error|not found|No such file|cannot/i.test(l));
  return (errs.length ? errs.slice(-2) : lines.slice(-2)).join(' | ').slice(0, 400);
}

function make(target: string): string | null {
  const r = spawnSync('make', ['-C', NATIVE, target], { encoding: 'utf8', timeout: 300_000 });
  if (r.error) return `make: ${r.error.message}`;
  if (r.status !== 0) return `make -C native ${target} failed: ${oneLine(r.stderr + r.stdout)}`;
  return null;
}

export interface Availability {
  /** Reason the self-test binary is unusable, or null. */
  selftest: string | null;
  /** Reason the collector binary could not be built, or null. */
  build: string | null;
  /** Reason live eBPF tests cannot run here, or null. */
  live: string | null;
}

let cached: Availability | undefined;

/**
 * Builds native/ (make is a no-op when up to date) and probes eBPF. The self-test binary needs only
 * a C compiler and zlib; the collector needs clang, bpftool, libbpf-dev and libelf-dev; live tests
 * need root and a kernel whose tracepoint programs load.
 */
export function collectorAvailability(): Availability {
  if (cached) return cached;
  const selftest = make('selftest');
  const build = make('all');
  let live: string | null = build;
  if (!live && typeof process.getuid === 'function' && process.getuid() !== 0) live = 'not running as root (eBPF needs CAP_BPF + CAP_PERFMON)';
  if (!live) {
    const r = spawnSync(COLLECTOR, ['--probe'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) live = oneLine(r.stderr || r.stdout || `--probe exited with ${r.status}`);
  }
  if (!live) {
    const r = spawnSync('cc', ['--version'], { encoding: 'utf8' });
    if (r.status !== 0) live = 'no C compiler (cc) to build the workload programs';
  }
  cached = { selftest, build, live };
  return cached;
}

/** Compiles a fixture C program into dir; returns its path. */
export function buildWorkload(name: string, dir: string): string {
  const out = join(dir, name);
  const r = spawnSync('cc', ['-O2', '-Wall', '-o', out, join(FIXTURES, `${name}.c`)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc ${name}.c: ${r.stderr}`);
  return out;
}

export function tempDir(prefix = 'sfc-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the collector to completion (with a timeout). */
export function runCollector(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(COLLECTOR, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`collector timed out after ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    p.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    p.on('close', (status, signal) => {
      clearTimeout(t);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** The collector's closing summary line, parsed. */
export interface Summary {
  records: number;
  fileRecords: number;
  files: number;
  sockSent: number;
  sockDropped: number;
  sockFull: number;
  reconnects: number;
  events: number;
  drops: number;
  mapFull: number;
  ipv6NotExported: number;
}

export function parseSummary(stderr: string): Summary {
  const m =
    /(\d+) records written \(file: (\d+) in (\d+) file\(s\); socket: (\d+) sent, (\d+) dropped while disconnected, (\d+) dropped on a full queue, (\d+) reconnects\); kernel: (\d+) events, (\d+) ring-buffer drops, (\d+) map-full; IPv6 flows not exported: (\d+)/.exec(
      stderr,
    );
  if (!m) throw new Error(`no summary line in collector stderr:\n${stderr}`);
  const n = m.slice(1).map(Number) as [number, number, number, number, number, number, number, number, number, number, number];
  return {
    records: n[0],
    fileRecords: n[1],
    files: n[2],
    sockSent: n[3],
    sockDropped: n[4],
    sockFull: n[5],
    reconnects: n[6],
    events: n[7],
    drops: n[8],
    mapFull: n[9],
    ipv6NotExported: n[10],
  };
}

export function readRecords(path: string): SysFlowRecord[] {
  const r = SysFlowFileReader.open(path);
  try {
    const recs = r.readAll();
    if (r.warnings.length) throw new Error(`${path}: ${r.warnings.map((w) => w.message).join('; ')}`);
    return recs;
  } finally {
    r.close();
  }
}

export function avscType(schema: unknown): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { registry: { long: BigLong } } as Partial<avro.ForSchemaOptions>);
}

/** Every datum of an OCF file through plain avsc (BigInt longs), with the writer schema it embeds. */
export function decodeWithAvsc(path: string): Promise<{ rec: Record<string, unknown> }[]> {
  return new Promise((resolve, reject) => {
    const out: { rec: Record<string, unknown> }[] = [];
    avro
      .createFileDecoder(path, { parseHook: (s: unknown) => avscType(s) } as Partial<avro.DecoderOptions>)
      .on('data', (d: { rec: Record<string, unknown> }) => out.push(d))
      .on('error', reject)
      .on('end', () => resolve(out));
  });
}

let sysflowType: avro.Type | undefined;
/** One socket message as exactly one SysFlow datum (avsc throws on trailing bytes). */
export function decodeDatum(msg: Buffer): { rec: Record<string, unknown> } {
  sysflowType ??= avscType(SYSFLOW_SCHEMA);
  return sysflowType.fromBuffer(msg) as { rec: Record<string, unknown> };
}

export const oidKey = (o: OID): string => `${o.hpid}@${exactToString(o.createTS, o.createTSNs)}`;

/**
 * Entities before references: every process (procOID, poid), file (fileOID, newFileOID) referenced
 * after a header was defined after that header and before the reference. Returns the violations.
 */
export function checkReferences(recs: SysFlowRecord[]): string[] {
  const bad: string[] = [];
  let procs = new Set<string>();
  let files = new Set<string>();
  let sawHeader = false;
  recs.forEach((r, i) => {
    const where = `record ${i} (type ${r.sfType})`;
    if (r.sfType === 0) {
      procs = new Set();
      files = new Set();
      sawHeader = true;
      return;
    }
    if (!sawHeader) bad.push(`${where} before any header`);
    if (r.sfType === 2) {
      if (r.poid && !procs.has(oidKey(r.poid))) bad.push(`${where}: parent ${oidKey(r.poid)} not defined before`);
      procs.add(oidKey(r.oid));
      return;
    }
    if (r.sfType === 3) {
      files.add(r.oid);
      return;
    }
    if ('procOID' in r && !procs.has(oidKey(r.procOID))) bad.push(`${where}: process ${oidKey(r.procOID)} not defined before`);
    if ((r.sfType === 6 || r.sfType === 7) && !files.has(r.fileOID)) bad.push(`${where}: file ${r.fileOID} not defined before`);
    if (r.sfType === 7 && r.newFileOID && !files.has(r.newFileOID)) bad.push(`${where}: file ${r.newFileOID} not defined before`);
  });
  return bad;
}

/** Starts test/fixtures/collector/listener.py and waits until it listens. */
export async function startListener(sock: string, out: string, stream = false): Promise<ChildProcess> {
  const args = [join(FIXTURES, 'listener.py'), sock, out];
  if (stream) args.push('--stream');
  const p = spawn('python3', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('listener did not start')), 10_000);
    p.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    p.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('listening')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return p;
}

export async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

/** Splits a listener capture into connections of messages. */
export function splitCapture(buf: Buffer): Buffer[][] {
  const conns: Buffer[][] = [];
  let pos = 0;
  while (pos + 4 <= buf.length) {
    const n = buf.readUInt32BE(pos);
    pos += 4;
    if (n === 0) {
      conns.push([]);
      continue;
    }
    conns[conns.length - 1]!.push(buf.subarray(pos, pos + n));
    pos += n;
  }
  return conns;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
