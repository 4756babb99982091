/** Built-in local transports: terminal (stdout), file (append), null (discard). */
import { FileSink, NullSink, type ByteSink } from '../util/bytes.js';
import { AsyncFileSink } from '../util/async-file-sink.js';
import type { Transport } from './types.js';
import type { TransportFactory } from '../pipeline/types.js';
import { openSync } from 'node:fs';
import { dirname } from 'node:path';
import { mkdirSync, existsSync, accessSync, constants, fstatSync } from 'node:fs';

class SinkTransport implements Transport {
  constructor(readonly name: string, readonly sink: ByteSink) {}
  ready(): null {
    return null;
  }
  async close(): Promise<void> {
    this.sink.close();
  }
}

export const terminalTransport: TransportFactory = {
  name: 'terminal',
  create: () => new SinkTransport('terminal', new FileSink(1, 64 << 10)),
};

export const nullTransport: TransportFactory = {
  name: 'null',
  create: () => new SinkTransport('null', new NullSink()),
};

class AsyncFileTransport implements Transport {
  readonly name = 'file';
  constructor(readonly sink: AsyncFileSink) {}
  ready(): Promise<void> | null {
    return this.sink.ready();
  }
  close(): Promise<void> {
    return this.sink.closeFile();
  }
}

export const fileTransport: TransportFactory = {
  name: 'file',
  check(attrs) {
    const path = attrs['file.path'] || './export.out';
    let dir = dirname(path);
    while (!existsSync(dir)) dir = dirname(dir);
    try {
      accessSync(existsSync(path) ? path : dir, constants.W_OK);
    } catch {
      throw new Error(`attribute 'file.path': '${path}' is not writable`);
    }
  },
  create(attrs) {
    const path = attrs['file.path'] || './export.out';
    let fd: number;
    try {
      mkdirSync(dirname(path), { recursive: true });
      // Appending via explicit offsets (see AsyncFileSink): open for writing, start at the end.
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT, 0o644);
    } catch (e) {
      throw new Error(`attribute 'file.path': cannot open '${path}' for appending (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return new AsyncFileTransport(new AsyncFileSink(fd, fstatSync(fd).size));
  },
};
