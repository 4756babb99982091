/** The telemetry thread's entry (started by service.ts): serves what the hub sends it. */
import { parentPort } from 'node:worker_threads';
import type { FromTelemetry, ToTelemetry } from './messages.js';
import { serve, type TelemetryService } from './server.js';

const port = parentPort!;
const post = (m: FromTelemetry) => port.postMessage(m);
let service: TelemetryService | null = null;

port.on('message', (m: ToTelemetry) => {
  switch (m.t) {
    case 'serve':
      void serve(m.options, post, (buf) => port.postMessage({ t: 'recycle', buf } satisfies FromTelemetry, [buf])).then((s) => {
        if (typeof s === 'string') post({ t: 'failed', message: s });
        else service = s;
      });
      break;
    case 'batch':
      service?.batch(m);
      break;
    case 'accepted':
      service?.accepted(m.id, m.settings);
      break;
    case 'refused':
      service?.refused(m.id, m.message);
      break;
    case 'finish':
      void (service?.finish() ?? Promise.resolve()).then(() => {
        post({ t: 'closed' });
        port.close();
      });
      break;
  }
});
