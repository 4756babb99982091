/** `file`: appends to file.path, with optional rotation by size or age. */
import { ConfigError } from '../../errors.js';
import { AsyncFileSink } from '../../util/async-file-sink.js';
import type { Transport, TransportFactory } from '../types.js';
import { openSync } from 'node:fs';
import { dirname } from 'node:path';
import { mkdirSync, existsSync, accessSync, constants, fstatSync, closeSync, renameSync, unlinkSync } from 'node:fs';
import { compileSettings, durationOf, settingsOf, sizeOf, type ConfigSchema } from '../../pipeline/settings.js';

interface Rotation {
  /** Rotate once the file holds this many bytes (0: never). */
  readonly size: number;
  /** Rotate once the file is this old, ms (0: never). */
  readonly intervalMs: number;
  /** Rotated files kept: path.1 (newest) … path.N. */
  readonly keep: number;
}

/**
 * Appends to `path`; with rotation, at a batch boundary past the size or age limit the file is
 * renamed to path.1 (older ones shift up, the oldest beyond `keep` is removed) and a new file is
 * started. Renames are atomic and happen only after every byte reached the old file.
 */
class AsyncFileTransport implements Transport {
  readonly name = 'file';
  private opened = Date.now();
  private rotating: Promise<void> | null = null;
  constructor(
    readonly sink: AsyncFileSink,
    private readonly path: string,
    private readonly rotation: Rotation | null,
    private fd: number,
  ) {}

  ready(): Promise<void> | null {
    return this.rotating ?? this.sink.ready();
  }

  boundary(): void {
    const r = this.rotation;
    if (r === null || this.rotating) return;
    if ((r.size > 0 && this.sink.size >= r.size) || (r.intervalMs > 0 && Date.now() - this.opened >= r.intervalMs)) {
      this.rotating = this.rotate().finally(() => (this.rotating = null));
    }
  }

  private async rotate(): Promise<void> {
    await this.sink.drained();
    // from here on synchronous: no write can start in between
    closeSync(this.fd);
    const keep = this.rotation!.keep;
    if (keep === 0) unlinkSync(this.path);
    else {
      if (existsSync(`${this.path}.${keep}`)) unlinkSync(`${this.path}.${keep}`);
      for (let i = keep - 1; i >= 1; i--) if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameSync(this.path, `${this.path}.1`);
    }
    this.fd = openSync(this.path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o644);
    this.sink.reopen(this.fd, 0);
    this.opened = Date.now();
  }

  async close(): Promise<void> {
    await this.rotating;
    await this.sink.closeFile();
  }
}

const CONFIG: ConfigSchema = {
  properties: {
    'file.path': { type: 'string', default: './export.out', description: 'file transport: output path, appended to' },
    'file.rotate.size': { type: 'string', format: 'size', description: 'file transport: rotate when the file reaches this size, e.g. 100M' },
    'file.rotate.interval': { type: 'string', format: 'duration', description: 'file transport: rotate when the file is this old, e.g. 1h or 1d' },
    'file.rotate.keep': { type: 'integer', minimum: 0, maximum: 1000, description: 'file transport: rotated files kept as <path>.1 (newest) … <path>.N (default 5; 0 keeps none)' },
  },
  additionalProperties: true,
};
const SETTINGS = compileSettings(CONFIG, { scope: 'prefixed', prefix: 'file.' });

interface FileSettings {
  readonly 'file.path': string;
  readonly 'file.rotate.size'?: string;
  readonly 'file.rotate.interval'?: string;
  readonly 'file.rotate.keep'?: number;
}

function settings(attrs: Readonly<Record<string, string>>): { path: string; rotation: Rotation | null } {
  const c = settingsOf<FileSettings>(SETTINGS, attrs);
  const size = c['file.rotate.size'] ? sizeOf(c['file.rotate.size'])! : 0;
  const intervalMs = c['file.rotate.interval'] ? durationOf(c['file.rotate.interval'])! : 0;
  const path = c['file.path'] || './export.out';
  if (size === 0 && intervalMs === 0) {
    if (c['file.rotate.keep'] !== undefined) throw new ConfigError("attribute 'file.rotate.keep' needs file.rotate.size or file.rotate.interval");
    return { path, rotation: null };
  }
  return { path, rotation: { size, intervalMs, keep: c['file.rotate.keep'] ?? 5 } };
}

export const fileTransport: TransportFactory = {
  name: 'file',
  config: CONFIG,
  check(attrs) {
    const { path } = settings(attrs);
    let dir = dirname(path);
    while (!existsSync(dir)) dir = dirname(dir);
    try {
      accessSync(existsSync(path) ? path : dir, constants.W_OK);
    } catch {
      throw new ConfigError(`attribute 'file.path': '${path}' is not writable`);
    }
  },
  create(attrs) {
    const { path, rotation: rot } = settings(attrs);
    let fd: number;
    try {
      mkdirSync(dirname(path), { recursive: true });
      // Appending via explicit offsets (see AsyncFileSink): open for writing, start at the end.
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
    } catch (e) {
      throw new ConfigError(`attribute 'file.path': cannot open '${path}' for appending (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return new AsyncFileTransport(new AsyncFileSink(fd, fstatSync(fd).size), path, rot, fd);
  },
};
