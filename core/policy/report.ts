/** The policy check report printed by `-test` and `-policycheck`. */
import path from 'node:path';
import type { PolicySet } from './policyset.js';

export function formatReport(policies: string, set: PolicySet): string {
  const s = set.summary();
  const total = set.report.length;
  const lines = [
    `${policies}: ${set.files.length} files, ${total} rules: ${s.supported} supported, ${s.approximated} approximated, ${s.unsupported} unsupported, ${s.disabled} disabled; ${set.filterCount} filters`,
  ];
  const width = Math.max(0, ...set.report.map((r) => r.status.length));
  for (const r of set.report) {
    const rel = path.relative(process.cwd(), r.file);
    const where = `${rel && !rel.startsWith('..') ? rel : r.file}:${r.line}`;
    lines.push(`  ${r.status.padEnd(width)}  ${r.name} (${where})${r.notes.length ? ': ' + r.notes.join('; ') : ''}`);
  }
  for (const w of set.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n') + '\n';
}
