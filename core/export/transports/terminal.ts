/** `terminal`: encoded records on stdout, written in 64 KiB chunks. */
import { FileSink } from '../../util/bytes.js';
import type { TransportFactory } from '../types.js';
import { SinkTransport } from './sink.js';

export const terminalTransport: TransportFactory = {
  name: 'terminal',
  create: () => new SinkTransport('terminal', new FileSink(1, 64 << 10)),
};
