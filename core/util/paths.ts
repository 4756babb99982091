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

function listDir(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  entries.sort((a, b) => naturalCompare(a.name, b.name));
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listDir(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
