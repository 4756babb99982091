/** A transport that is only a byte sink (terminal, null): nothing to wait for, close closes the sink. */
import type { ByteSink } from '../../util/bytes.js';
import type { Transport } from '../types.js';

export class SinkTransport implements Transport {
  constructor(
    readonly name: string,
    readonly sink: ByteSink,
  ) {}
  ready(): null {
    return null;
  }
  async close(): Promise<void> {
    this.sink.close();
  }
}
