/**
 * Where test data lives. The whole corpus (../shared/traces, ../shared/oracle) is used when it sits
 * beside the repository (CI has it); otherwise the subset bundled in test/fixtures.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** Repository root (tests run from dist/test/...). */
export const ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

export const FIXTURES = join(ROOT, 'test', 'fixtures');
export const SHARED = resolve(ROOT, '..', 'shared');
export const HAVE_SHARED = existsSync(join(SHARED, 'traces')) && existsSync(join(SHARED, 'oracle'));

export const TRACES_DIR = HAVE_SHARED ? join(SHARED, 'traces') : join(FIXTURES, 'traces');
export const ORACLE_DIR = HAVE_SHARED ? join(SHARED, 'oracle') : join(FIXTURES, 'oracle');
export const CORPUS_NOTE = HAVE_SHARED ? `full corpus: ${TRACES_DIR}` : 'SKIPPED full-corpus checks: ../shared not found; using the traces bundled in test/fixtures';

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** Trace paths relative to TRACES_DIR. */
export function listTraces(): string[] {
  return walk(TRACES_DIR).map((p) => relative(TRACES_DIR, p));
}

/** Oracle entries: trace relative path → which oracle files exist. */
export function listOracle(kind: 'json' | 'csv' | 'records.jsonl'): string[] {
  const suffix = `.${kind}.gz`;
  return walk(ORACLE_DIR)
    .filter((p) => p.endsWith(suffix))
    .map((p) => relative(ORACLE_DIR, p).slice(0, -suffix.length));
}

export function readOracle(trace: string, kind: 'json' | 'csv' | 'records.jsonl'): string {
  return gunzipSync(readFileSync(join(ORACLE_DIR, `${trace}.${kind}.gz`))).toString('utf8');
}

export const tracePath = (rel: string) => join(TRACES_DIR, rel);

/**
 * JSON.parse that keeps integers beyond 2^53 exact: they come back as strings "#int:<digits>".
 * Numbers are only rewritten outside string literals.
 */
export function parseExactJson(text: string): unknown {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let j = i + 1;
      while (j < n && /[0-9eE.+-]/.test(text[j]!)) j++;
      const num = text.slice(i, j);
      out += /^-?\d+$/.test(num) && !Number.isSafeInteger(Number(num)) ? `"#int:${num}"` : num;
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return JSON.parse(out);
}
