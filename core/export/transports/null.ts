/** `null`: encodes and discards (benchmarks, dry runs). */
import { NullSink } from '../../util/bytes.js';
import type { TransportFactory } from '../types.js';
import { SinkTransport } from './sink.js';

export const nullTransport: TransportFactory = {
  name: 'null',
  create: () => new SinkTransport('null', new NullSink()),
};
