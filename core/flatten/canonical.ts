/**
 * Canonical event fields (Fibratus-style), the same for rules, templates and encoders:
 * `evt.seq` (FlatRecord.seq), `evt.name`, `evt.category`, `evt.description`, `evt.host`.
 *
 * A SysFlow flow aggregates several operations (a file flow may open, read, write and close), so a
 * record's name is the first of its record type's operations, in the table's order, that the
 * record's op flags contain; a record with none of them has its type's fallback name.
 */
import { OpFlags } from '../sysflow/flags.js';
import { SfType } from '../sysflow/types.js';
import type { FlatRecord } from './flatrecord.js';

export type EventCategory = 'process' | 'file' | 'network' | 'k8s';

export interface EventKind {
  readonly name: string;
  readonly description: string;
}

interface TypeTable {
  readonly category: EventCategory;
  /** op flag → kind, in precedence order */
  readonly ops: readonly (readonly [number, EventKind])[];
  readonly fallback: EventKind;
}

const k = (name: string, description: string): EventKind => ({ name, description });

/** The table, by record type (documented in docs/fields.md#canonical-event-names). */
export const EVENT_TABLE: ReadonlyMap<number, TypeTable> = new Map<number, TypeTable>([
  [
    SfType.PE,
    {
      category: 'process',
      ops: [
        [OpFlags.EXEC, k('ExecProcess', 'a process started a new program (execve)')],
        [OpFlags.CLONE, k('CreateProcess', 'a process created a process or thread (clone, fork)')],
        [OpFlags.EXIT, k('ExitProcess', 'a process or thread exited')],
        [OpFlags.SETUID, k('SetUid', 'a process changed its user id')],
        [OpFlags.SETNS, k('SetNamespace', 'a process entered another namespace (setns)')],
      ],
      fallback: k('ProcessEvent', 'a process event'),
    },
  ],
  [SfType.PF, { category: 'process', ops: [], fallback: k('ProcessActivity', "a summary of a process's thread activity over an interval") }],
  [
    SfType.FF,
    {
      category: 'file',
      ops: [
        [OpFlags.OPEN, k('OpenFile', 'a process opened a file and used it (the flow counts its reads and writes)')],
        [OpFlags.WRITE_SEND, k('WriteFile', 'a process wrote to an open file')],
        [OpFlags.READ_RECV, k('ReadFile', 'a process read from an open file')],
        [OpFlags.MMAP, k('MapFile', 'a process mapped a file into memory')],
        [OpFlags.TRUNCATE, k('TruncateFile', 'a process truncated a file')],
        [OpFlags.CLOSE, k('CloseFile', 'a process closed a file')],
      ],
      fallback: k('FileActivity', 'activity on an open file'),
    },
  ],
  [
    SfType.FE,
    {
      category: 'file',
      ops: [
        [OpFlags.RENAME, k('RenameFile', 'a process renamed or moved a file')],
        [OpFlags.UNLINK, k('DeleteFile', 'a process deleted a file (unlink)')],
        [OpFlags.MKDIR, k('CreateDirectory', 'a process created a directory')],
        [OpFlags.RMDIR, k('RemoveDirectory', 'a process removed a directory')],
        [OpFlags.SYMLINK, k('CreateSymbolicLink', 'a process created a symbolic link')],
        [OpFlags.LINK, k('CreateHardLink', 'a process created a hard link')],
      ],
      fallback: k('FileEvent', 'a file event'),
    },
  ],
  [
    SfType.NF,
    {
      category: 'network',
      ops: [
        [OpFlags.CONNECT, k('Connect', 'a process connected to a remote endpoint (the flow counts what it sent and received)')],
        [OpFlags.ACCEPT, k('Accept', 'a process accepted a connection')],
        [OpFlags.WRITE_SEND, k('Send', 'a process sent data on a connection')],
        [OpFlags.READ_RECV, k('Receive', 'a process received data on a connection')],
        [OpFlags.SHUTDOWN, k('ShutdownSocket', 'a process shut a connection down')],
        [OpFlags.CLOSE, k('CloseSocket', 'a process closed a connection')],
      ],
      fallback: k('NetworkActivity', 'activity on a network connection'),
    },
  ],
  [
    SfType.NE,
    {
      category: 'network',
      ops: [
        [OpFlags.CONNECT, k('Connect', 'a process connected to a remote endpoint')],
        [OpFlags.ACCEPT, k('Accept', 'a process accepted a connection')],
      ],
      fallback: k('NetworkEvent', 'a network event'),
    },
  ],
  [SfType.KE, { category: 'k8s', ops: [], fallback: k('K8sEvent', 'a Kubernetes API event') }],
]);

const UNKNOWN: EventKind = k('Unknown', 'a record of an unknown type');

/** The canonical kind of a record (name and description). */
export function eventKind(r: FlatRecord): EventKind {
  const t = EVENT_TABLE.get(r.sfType);
  if (t === undefined) return UNKNOWN;
  if (t.ops.length === 0) return t.fallback;
  const flags = (r.rec as { opFlags?: number }).opFlags ?? 0;
  for (const [bit, kind] of t.ops) if ((flags & bit) !== 0) return kind;
  return t.fallback;
}

export function eventCategory(r: FlatRecord): EventCategory | '' {
  return EVENT_TABLE.get(r.sfType)?.category ?? '';
}

/** The host that produced the record: its SysFlow header's exporter (the collector's node name). */
export function eventHost(r: FlatRecord): string {
  return r.header?.exporter ?? '';
}
