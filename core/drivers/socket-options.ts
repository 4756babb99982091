/**
 * The socket driver's settings and where a socket may go (its own, and the telemetry service's):
 * the attributes checked against the schema, the path against sockaddr_un's limit, the location
 * checked without creating anything, and room made for the socket file (a live socket, a regular
 * file or a directory at the path is never replaced).
 */
import { accessSync, constants as fsc, lstatSync, mkdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InputError } from '../avro/errors.js';
import { compileSettings, modeOf, settingsOf, type ConfigSchema } from '../pipeline/settings.js';
import type { SocketType } from './socket-native.js';

export const DEFAULT_MAX_MESSAGE = 1 << 20;
const MAX_MESSAGE_LIMIT = 64 << 20; // the addon's limit (one arena per connection)
const DEFAULT_BACKLOG = 16;
/** sockaddr_un.sun_path holds 108 bytes with the terminating NUL. */
const MAX_PATH_BYTES = 107;

export interface SocketOptions {
  path: string;
  type: SocketType;
  mode: number;
  maxSize: number;
  backlog: number;
}

export const CONFIG: ConfigSchema = {
  properties: {
    path: { type: 'string', description: 'socket file (overrides the command line path)' },
    type: { type: 'string', enum: ['seqpacket', 'stream'], default: 'seqpacket', description: "'seqpacket' (as sf-collector sends) or 'stream' (each datum after a 4-byte big-endian length)" },
    mode: { type: 'string', format: 'octal', default: '0600', description: 'permissions of the socket file, octal' },
    maxsize: { type: 'integer', minimum: 16, maximum: MAX_MESSAGE_LIMIT, default: DEFAULT_MAX_MESSAGE, description: 'largest accepted message in bytes' },
    backlog: { type: 'integer', minimum: 1, maximum: 4096, default: DEFAULT_BACKLOG, description: 'collectors that may queue while one is served' },
  },
};
const SETTINGS = compileSettings(CONFIG, { scope: 'entry', reserved: ['driver'], where: 'socket driver: ' });

interface SocketAttributes {
  readonly path?: string;
  readonly type: 'seqpacket' | 'stream';
  readonly mode: string;
  readonly maxsize: number;
  readonly backlog: number;
}

/** Validated settings from the command line path and the driver's attributes. */
export function socketOptions(path: string | undefined, attrs: Readonly<Record<string, string>>): SocketOptions {
  const c = settingsOf<SocketAttributes>(SETTINGS, attrs);
  const p = c.path || path;
  if (!p) throw new InputError('socket driver: no socket path (give PATH or the attribute path)');
  const bytes = Buffer.byteLength(p);
  if (bytes > MAX_PATH_BYTES) throw new InputError(`${p}: socket path is ${bytes} bytes long; Unix socket paths are limited to ${MAX_PATH_BYTES} bytes`);
  if (p.includes('\0')) throw new InputError('socket driver: the socket path contains a NUL byte');
  return {
    path: p,
    type: c.type,
    mode: modeOf(c.mode)!,
    maxSize: c.maxsize,
    backlog: c.backlog,
  };
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a FIFO';
  return 'not a socket';
}

export function notASocket(path: string, st: Stats): InputError {
  return new InputError(`${path}: exists and is ${kindOf(st)}, not a socket; refusing to replace it (remove it or choose another path)`);
}

export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(`${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Can the socket be created at `path`? Without creating anything: the path is free or a socket, and
 * the directory (or the nearest existing ancestor, when directories are to be created) is writable.
 */
export function checkSocketLocation(path: string): void {
  const st = lstatOrNull(path);
  if (st && !st.isSocket()) throw notASocket(path, st);
  let dir = dirname(resolve(path));
  for (;;) {
    let d: Stats | null;
    try {
      d = statSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new InputError(`${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      d = null;
    }
    if (d) {
      if (!d.isDirectory()) throw new InputError(`${dir}: not a directory (socket ${path} cannot be created below it)`);
      try {
        accessSync(dir, fsc.W_OK | fsc.X_OK);
      } catch {
        throw new InputError(`${dir}: no permission to create the socket ${path} there`);
      }
      return;
    }
    const up = dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * Make room for a socket file at `path`: create its directory, or remove a stale socket, only that
 * (a live socket, a regular file or a directory there is an error). `listening` says whether
 * someone listens on the socket at the path. True when a stale socket was removed.
 */
export async function makeRoomForSocket(path: string, listening: (path: string) => boolean | Promise<boolean>): Promise<boolean> {
  const st = lstatOrNull(path);
  if (!st) {
    try {
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new InputError(`${dirname(path)}: cannot create the socket directory: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return false;
  }
  if (!st.isSocket()) throw notASocket(path, st);
  let live: boolean;
  try {
    live = await listening(path);
  } catch (e) {
    throw new InputError(`${path}: cannot tell whether the socket is in use: ${(e as Error).message}`);
  }
  if (live) throw new InputError(`${path}: already in use (another process is listening on this socket)`);
  try {
    unlinkSync(path);
  } catch (e) {
    throw new InputError(`${path}: cannot remove the stale socket file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return true;
}
