/**
 * What a SysFlow record is in ECS terms: event action classes, file types and protocol names as
 * sf-processor's ECS encoder names them, and the GJSON-like reading of K8s event messages.
 */
import { OpFlags } from '../../sysflow/flags.js';
import { keMessage } from './ecs-doc-id.js';

/** Protocol names of sf-apis' GetProto. */
export function protoName(p: number): string {
  return p === 6 ? 'tcp' : p === 17 ? 'udp' : p === 1 ? 'icmp' : p === 254 ? 'raw' : '';
}

/** ECS file.type from SysFlow's restype character. */
export function ecsFileType(restype: number | undefined): string {
  switch (restype) {
    case 102:
      return 'file'; // f
    case 100:
      return 'dir'; // d
    case 117:
      return 'socket'; // u
    case 112:
      return 'pipe'; // p
    default:
      return 'unknown';
  }
}

export function peClass(flags: number, pid: number, tid: number): string {
  if (flags & OpFlags.EXIT) return pid !== tid ? 'thread-exit' : 'exit';
  if (flags & (OpFlags.CLONE | OpFlags.EXEC)) return pid !== tid ? 'thread-start' : 'start';
  if (flags & OpFlags.SETUID) return 'change';
  return 'start';
}

export const FE_CLASSES: readonly [number, string, string, string][] = [
  [OpFlags.MKDIR, 'directory', 'creation', 'directory-create'],
  [OpFlags.RMDIR, 'directory', 'deletion', 'directory-delete'],
  [OpFlags.UNLINK, 'file', 'deletion', 'file-delete'],
  [OpFlags.SYMLINK | OpFlags.LINK, 'file', 'change', 'file-link'],
  [OpFlags.RENAME, 'file', 'change', 'file-rename'],
];

export function keType(action: string): string {
  switch (action) {
    case 'K8S_COMPONENT_ADDED':
      return 'creation';
    case 'K8S_COMPONENT_DELETED':
      return 'deletion';
    case 'K8S_COMPONENT_MODIFIED':
      return 'change';
    case 'K8S_COMPONENT_ERROR':
      return 'error';
    default:
      return 'info';
  }
}

/** JSON.parse that, like GJSON, tolerates trailing bytes after the document (K8s messages end in "\n\0"). */
export function parseJsonLenient(t: string): unknown {
  if (t === '') return null;
  try {
    return JSON.parse(t);
  } catch {
    try {
      return JSON.parse(keMessage(t).replace(/\s+$/, ''));
    } catch {
      return null;
    }
  }
}

/** GJSON's String() of a value: strings as such, absent as "", other values as JSON text. */
export function jsonText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
