/**
 * `summary`: a processor that aggregates the records flowing through it — counts by record type,
 * the busiest processes, the rules that matched — and writes a report when the input ends. With
 * `print: pe` it also prints one line per process event, as sf-processor's example processor does
 * (`Process Event: ./server, 13823`). Records pass on unchanged to its `out` channel, if it has one.
 *
 * Only types are imported, so the compiled summary.js runs from any -plugdir.
 */
import { writeFileSync, writeSync } from 'node:fs';
import type { FlatRecord, ProcessorPlugin } from 'sfprocessor/plugin';

interface SummaryConfig {
  readonly top: number;
  readonly print: 'none' | 'pe';
  readonly format: 'text' | 'json';
  readonly path?: string;
}

/** Counts in descending order, ties by name (a stable report). */
function ranked(m: Map<string, number>): [string, number][] {
  return [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

export default {
  kind: 'processor',
  name: 'summary',
  version: '1.0.0',
  description: 'counts records by type, top processes and matched rules; reports at the end of the input',
  in: 'eventchan',
  out: 'eventchan',
  config: {
    properties: {
      top: { type: 'integer', minimum: 1, default: 5, description: 'processes listed in the report' },
      print: { type: 'string', enum: ['none', 'pe'], default: 'none', description: "pe: print 'Process Event: <exe>, <tid>' for every process event" },
      format: { type: 'string', enum: ['text', 'json'], default: 'text', description: 'report format' },
      path: { type: 'string', minLength: 1, description: 'write the report to this file (default: standard output)' },
    },
  },
  create(ctx) {
    const { top, print, format, path } = ctx.config;
    // sf.* getters (docs/fields.md): stable names, whatever the record's internal shape
    const type = ctx.field('sf.type') as (r: FlatRecord) => string;
    const exe = ctx.field('sf.proc.exe') as (r: FlatRecord) => string;
    const tid = ctx.field('sf.proc.tid') as (r: FlatRecord) => number;
    const types = new Map<string, number>();
    const procs = new Map<string, number>();
    const rules = new Map<string, number>();
    let records = 0;
    return {
      process(batch: readonly FlatRecord[], emit: (b: FlatRecord[]) => void) {
        let lines = '';
        for (const r of batch) {
          records++;
          const t = type(r);
          bump(types, t);
          const e = exe(r);
          if (e) bump(procs, e);
          if (r.rules) for (const m of r.rules) bump(rules, m.name);
          if (print === 'pe' && t === 'PE') lines += `Process Event: ${e}, ${tid(r)}\n`;
        }
        if (lines) writeSync(1, lines);
        emit(batch as FlatRecord[]);
      },
      end() {
        const topProcs = ranked(procs).slice(0, top);
        let text: string;
        if (format === 'json') {
          text = `${JSON.stringify({
            records,
            types: Object.fromEntries(ranked(types)),
            processes: topProcs.map(([name, n]) => ({ exe: name, records: n })),
            rules: ranked(rules).map(([name, n]) => ({ rule: name, records: n })),
          })}\n`;
        } else {
          text = `summary: ${records} records (${
            ranked(types)
              .map(([t, n]) => `${n} ${t}`)
              .join(', ') || 'none'
          })\n`;
          text += `top processes:\n${topProcs.map(([name, n]) => `  ${String(n).padStart(8)}  ${name}\n`).join('') || '  none\n'}`;
          if (rules.size)
            text += `rules matched:\n${ranked(rules)
              .map(([name, n]) => `  ${String(n).padStart(8)}  ${name}\n`)
              .join('')}`;
        }
        if (path) writeFileSync(path, text);
        else writeSync(1, text);
        ctx.log.debug(`summarised ${records} records`);
      },
    };
  },
} satisfies ProcessorPlugin<SummaryConfig>;
