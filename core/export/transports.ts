/** Built-in local transports: terminal (stdout), file (append), null (discard). */
import { FileSink, NullSink, type ByteSink } from '../util/bytes.js';
import type { Transport } from './types.js';
import type { TransportFactory } from '../pipeline/types.js';
import { openSync } from 'node:fs';
import { dirname } from 'node:path';
import { mkdirSync } from 'node:fs';

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

export const fileTransport: TransportFactory = {
  name: 'file',
  create(attrs) {
    const path = attrs['file.path'] || './export.out';
    let fd: number;
    try {
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, 'a', 0o644);
    } catch (e) {
      throw new Error(`attribute 'file.path': cannot open '${path}' for appending (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return new SinkTransport('file', new FileSink(fd, 1 << 20, true));
  },
};
