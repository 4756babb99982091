/** Renders sysprint values (core/sysprint/record.ts) as JSON lines, CSV rows or an aligned table. */
import { FIELDS, type FieldDef, type Value } from './record.js';
import { csvField, pyJsonString, pyJsonValue, pyStr } from './pyformat.js';

/** Selected output columns: indices into FIELDS. */
export type Columns = readonly number[];

export const ALL_COLUMNS: Columns = FIELDS.map((_, i) => i);

/** Upstream's default `-o str` columns (with the ISO start time instead of the raw integer). */
export const DEFAULT_TABLE_KEYS = ['ts', 'type', 'proc.exe', 'proc.args', 'pproc.pid', 'proc.pid', 'proc.tid', 'opflags', 'res', 'flow.rbytes', 'flow.wbytes', 'container.id'];

function jsonOf(f: FieldDef, v: Value): string {
  if (f.kind === 'tags') return '[]';
  if (v === null) return 'null';
  if (typeof v === 'string') return f.kind === 'exact' && v !== '' ? v : pyJsonString(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return pyJsonValue(v);
}

/**
 * JSON lines nested on the dots of the keys, exactly as upstream (dotty_dict + json.dumps).
 * The text between values is precomputed per column set.
 */
export class JsonRenderer {
  private readonly prefix: string[];
  private readonly suffix: string;

  constructor(private readonly cols: Columns) {
    this.prefix = [];
    let group = '';
    let first = true;
    let firstInGroup = true;
    for (const i of cols) {
      const key = FIELDS[i]!.key;
      const dot = key.indexOf('.');
      const g = dot < 0 ? '' : key.slice(0, dot);
      const name = dot < 0 ? key : key.slice(dot + 1);
      let p = '';
      if (g !== group) {
        if (group !== '') p += '}';
        if (g !== '') {
          p += (first ? '' : ', ') + pyJsonString(g) + ': {';
          firstInGroup = true;
        }
        group = g;
      }
      if (g === '') p += (first ? '' : ', ') + pyJsonString(name) + ': ';
      else p += (firstInGroup ? '' : ', ') + pyJsonString(name) + ': ';
      firstInGroup = false;
      first = false;
      this.prefix.push(p);
    }
    this.suffix = (group !== '' ? '}' : '') + '}';
  }

  line(v: readonly Value[]): string {
    const cols = this.cols;
    let s = '{';
    for (let j = 0; j < cols.length; j++) {
      const i = cols[j]!;
      s += this.prefix[j]! + jsonOf(FIELDS[i]!, v[i]!);
    }
    return s + this.suffix;
  }
}

export class CsvRenderer {
  constructor(private readonly cols: Columns) {}

  header(): string {
    return this.cols.map((i) => csvField(FIELDS[i]!.key)).join(',') + '\r\n';
  }

  line(v: readonly Value[]): string {
    let s = '';
    for (let j = 0; j < this.cols.length; j++) {
      const i = this.cols[j]!;
      const f = FIELDS[i]!;
      const x = v[i]!;
      const text = f.kind === 'tags' ? '()' : typeof x === 'string' ? x : pyStr(x);
      s += (j === 0 ? '' : ',') + csvField(text);
    }
    return s + '\r\n';
  }
}

/** Fit text to a column: pad, or keep the tail behind '..' (paths and args are most telling at the end). */
function fit(text: string, width: number): string {
  const flat = text.replace(/[\r\n\t]/g, ' ');
  if (flat.length <= width) return flat.padEnd(width);
  return '..' + flat.slice(flat.length - width + 2);
}

export class TableRenderer {
  constructor(private readonly cols: Columns) {}

  private widths(): number[] {
    return this.cols.map((i) => Math.max(FIELDS[i]!.width, i === 0 ? 1 : 0));
  }

  header(): string {
    const w = this.widths();
    const names = this.cols.map((i, j) => fit(FIELDS[i]!.header, w[j]!));
    const rule = w.map((n) => '-'.repeat(n));
    return names.join(' | ').trimEnd() + '\n' + rule.join('-+-') + '\n';
  }

  line(v: readonly Value[]): string {
    const w = this.widths();
    const cells = this.cols.map((i, j) => {
      const f = FIELDS[i]!;
      const x = v[i]!;
      const text = f.kind === 'tags' ? '' : typeof x === 'string' ? x : pyStr(x);
      return fit(text, w[j]!);
    });
    return cells.join(' | ').trimEnd() + '\n';
  }
}
