/** Renders sysprint values (core/sysprint/record.ts) as JSON lines, CSV rows or an aligned table. */
import { FIELDS, entityKind, groupEntity, isConstant, type EventContext, type PrintField, type CellValue } from './record.js';
import { csvField, pyJsonString, pyJsonValue, pyStr } from './pyformat.js';
import { Scratch, type ByteSink } from '../util/bytes.js';

/** Selected output columns: indices into FIELDS. */
export type Columns = readonly number[];

export const ALL_COLUMNS: Columns = FIELDS.map((_, i) => i);

/** Upstream's default `-o str` columns (with the ISO start time instead of the raw integer). */
export const DEFAULT_TABLE_KEYS = ['ts', 'type', 'proc.exe', 'proc.args', 'pproc.pid', 'proc.pid', 'proc.tid', 'opflags', 'res', 'flow.rbytes', 'flow.wbytes', 'container.id'];

const NULL = Buffer.from('null');
const TRUE = Buffer.from('true');
const FALSE = Buffer.from('false');
const EMPTY_LIST = Buffer.from('[]');

/** Output renderers write one record (with its line end) to a byte sink. */
export interface Renderer {
  header(): string;
  /** `shape` is what fillValues returned for these values, `ctx` the entities they came from. */
  write(v: readonly CellValue[], shape: number, out: ByteSink, ctx: EventContext): void;
}

/**
 * Varying columns between two constant stretches. Columns that all come from one entity (the
 * process, the parent, the container, the pod, the header) form one run whose bytes are rendered
 * once per entity object and then copied.
 */
interface Run {
  /** Positions in cols; the first column's key text is in the preceding constant. */
  cols: number[];
  group: number;
  memo: WeakMap<object, Buffer> | null;
}

/** A line of one shape: consts[k] precedes runs[k]; the last const ends the line. */
interface Template {
  consts: Buffer[];
  runs: Run[];
}

/**
 * JSON lines nested on the dots of the keys, exactly as upstream (dotty_dict + json.dumps). The
 * text between values is pre-encoded per column set; values are encoded straight into the sink.
 */
export class JsonRenderer implements Renderer {
  private readonly prefix: Buffer[];
  private readonly suffix: Buffer;
  private readonly kinds: PrintField['kind'][];

  constructor(private readonly cols: Columns) {
    this.prefix = [];
    this.kinds = cols.map((i) => FIELDS[i]!.kind);
    let group = '';
    let first = true;
    let firstInGroup = true;
    for (const i of cols) {
      const key = FIELDS[i]!.key;
      const dot = key.indexOf('.');
      const g = dot < 0 ? '' : key.slice(0, dot);
      const name = dot < 0 ? key : key.slice(dot + 1);
      let p = first ? '{' : '';
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
      this.prefix.push(Buffer.from(p, 'latin1'));
    }
    this.suffix = Buffer.from((group !== '' ? '}' : '') + '}\n', 'latin1');
  }

  header(): string {
    return '';
  }

  private readonly templates = new Map<number, Template>();

  /** Render one value (no surrounding text) into a sink. */
  private value(j: number, x: CellValue, out: ByteSink): void {
    const kind = this.kinds[j];
    if (kind === 'tags') out.bytes(EMPTY_LIST);
    else if (x === null) out.bytes(NULL);
    else if (typeof x === 'string') {
      if (kind === 'exact' && x !== '') out.ascii(x);
      else out.pyJsonString(x);
    } else if (typeof x === 'number') out.number(x);
    else if (typeof x === 'boolean') out.bytes(x ? TRUE : FALSE);
    else out.ascii(pyJsonValue(x));
  }

  private template(v: readonly CellValue[], shape: number): Template {
    const consts: Buffer[] = [];
    const runs: Run[] = [];
    const scratch = new Scratch();
    let open: Run | null = null;
    for (let j = 0; j < this.cols.length; j++) {
      const f = FIELDS[this.cols[j]!]!;
      if (isConstant(f, shape)) {
        open = null;
        scratch.bytes(this.prefix[j]!);
        this.value(j, v[this.cols[j]!]!, scratch);
        continue;
      }
      const kind = entityKind(f.group);
      if (open !== null && kind >= 0 && entityKind(open.group) === kind) {
        open.cols.push(j);
        continue;
      }
      scratch.bytes(this.prefix[j]!);
      consts.push(scratch.take());
      open = { cols: [j], group: f.group, memo: kind >= 0 ? new WeakMap() : null };
      runs.push(open);
      if (kind < 0) open = null;
    }
    scratch.bytes(this.suffix);
    consts.push(scratch.take());
    return { consts, runs };
  }

  private scratch = new Scratch();

  private renderRun(run: Run, v: readonly CellValue[], out: ByteSink): void {
    const cols = this.cols;
    const rc = run.cols;
    this.value(rc[0]!, v[cols[rc[0]!]!]!, out);
    for (let k = 1; k < rc.length; k++) {
      out.bytes(this.prefix[rc[k]!]!);
      this.value(rc[k]!, v[cols[rc[k]!]!]!, out);
    }
  }

  write(v: readonly CellValue[], shape: number, out: ByteSink, ctx: EventContext): void {
    let t = this.templates.get(shape);
    if (t === undefined) {
      t = this.template(v, shape);
      this.templates.set(shape, t);
    }
    const { consts, runs } = t;
    for (let k = 0; k < runs.length; k++) {
      out.bytes(consts[k]!);
      const run = runs[k]!;
      const e = run.memo !== null ? groupEntity(run.group, ctx) : undefined;
      if (e === undefined) {
        this.renderRun(run, v, out);
        continue;
      }
      let b = run.memo!.get(e);
      if (b === undefined) {
        this.renderRun(run, v, this.scratch);
        b = this.scratch.take();
        run.memo!.set(e, b);
      }
      out.bytes(b);
    }
    out.bytes(consts[runs.length]!);
  }
}

export class CsvRenderer implements Renderer {
  constructor(private readonly cols: Columns) {}

  write(v: readonly CellValue[], _shape: number, out: ByteSink, _ctx: EventContext): void {
    out.write(this.line(v));
  }

  header(): string {
    return this.cols.map((i) => csvField(FIELDS[i]!.key)).join(',') + '\r\n';
  }

  line(v: readonly CellValue[]): string {
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

export class TableRenderer implements Renderer {
  constructor(private readonly cols: Columns) {}

  write(v: readonly CellValue[], _shape: number, out: ByteSink, _ctx: EventContext): void {
    out.write(this.line(v));
  }

  private widths(): number[] {
    return this.cols.map((i) => Math.max(FIELDS[i]!.width, i === 0 ? 1 : 0));
  }

  header(): string {
    const w = this.widths();
    const names = this.cols.map((i, j) => fit(FIELDS[i]!.header, w[j]!));
    const rule = w.map((n) => '-'.repeat(n));
    return names.join(' | ').trimEnd() + '\n' + rule.join('-+-') + '\n';
  }

  line(v: readonly CellValue[]): string {
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
