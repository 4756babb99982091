/**
 * `printer`: a handler for `sysflowreader` (`"handler": "printer"`). It prints one line per flow or
 * event, in the format of sf-processor's example printer handler (`ProcEvt ./server, 13823`,
 * `FileFlow ./server, 3`, `NetworkFlow ./client, 8080`), and passes each record on flattened, so
 * the reader can feed the policy engine as with the built-in `flattener`.
 *
 * Only types are imported, so the compiled printer.js runs from any -plugdir.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { EntityCache, FlatRecord, HandlerPlugin, SysFlowEvent } from 'sfprocessor/plugin';

interface PrinterConfig {
  readonly 'printer.path'?: string;
}

/** One line per record type, as upstream prints them (exe, then tid / fd / dport); K8s events have no process. */
function line(rec: SysFlowEvent, exe: string): string | null {
  switch (rec.sfType) {
    case 4:
      return `ProcEvt ${exe}, ${rec.tid}`;
    case 5:
      return `NetworkFlow ${exe}, ${rec.dport}`;
    case 6:
      return `FileFlow ${exe}, ${rec.fd}`;
    case 7:
      return `FileEvt ${exe}, ${rec.tid}`;
    case 8:
      return `NetEvt ${exe}, ${rec.tid}`;
    case 9:
      return `ProcFlow ${exe}, ${rec.procOID.hpid}`;
    default:
      return null;
  }
}

export default {
  kind: 'handler',
  name: 'printer',
  version: '1.0.0',
  description: 'prints one line per flow/event (exe and tid, fd or port) and passes on flat records',
  out: 'flattenerchan',
  config: {
    properties: {
      'printer.path': { type: 'string', minLength: 1, description: 'append the lines to this file (default: standard output)' },
    },
  },
  create(ctx) {
    const path = ctx.config['printer.path'];
    // -test checks settings only: open nothing
    const fd = path && !ctx.checkOnly ? openSync(path, 'a') : 1;
    return {
      event(rec: SysFlowEvent, cache: EntityCache, out: FlatRecord[]) {
        const proc = rec.sfType === 11 ? undefined : cache.process(rec.procOID);
        const l = line(rec, proc?.exe ?? '');
        // one write per line keeps it in step with other output (a debugging aid, not a fast path)
        if (l !== null) writeSync(fd, `${l}\n`);
        out.push(ctx.flatten(rec, cache));
      },
      end() {
        if (fd !== 1) closeSync(fd);
      },
    };
  },
} satisfies HandlerPlugin<PrinterConfig>;
