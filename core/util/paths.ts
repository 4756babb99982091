import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Natural order: digit runs compare as numbers, so mon.99 < mon.100 and rotated files stay in time order. */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * Expand input paths: a file stays itself; a directory yields every regular file below it (recursively),
 * in natural order. Hidden files (.name) are skipped.
 */
export function expandInputs(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    const st = statSync(p);
    if (st.isDirectory()) out.push(...listDir(p));
    else out.push(p);
  }
  return out;
}

function linkKind(p: string): 'file' | 'dir' | 'other' {
  try {
    const st = statSync(p);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'other'; // dangling link
  }
}

function listDir(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  entries.sort((a, b) => naturalCompare(a.name, b.name));
  for (const e of entries) {
    const p = join(dir, e.name);
    // symlinks count as what they point to (a directory of links to traces works; loops do not recurse)
    const kind = e.isSymbolicLink() ? linkKind(p) : e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other';
    if (kind === 'dir' && !e.isSymbolicLink()) out.push(...listDir(p));
    else if (kind === 'file') out.push(p);
  }
  return out;
}
