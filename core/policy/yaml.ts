/**
 * YAML with source positions. js-yaml's event stream carries offsets; this builds a small node tree
 * from it so every policy item, key and condition can be reported as file:line:col.
 */
import { parseEvents, getScalarValue, EVENT_ID, SCALAR_STYLE, YAMLException, type Event, type ScalarEvent } from 'js-yaml';

export type YNode =
  | { kind: 'scalar'; value: string; plain: boolean; start: number; block: boolean; ev?: ScalarEvent }
  | { kind: 'seq'; items: YNode[]; start: number }
  | { kind: 'map'; entries: { key: string; keyStart: number; value: YNode }[]; start: number }
  | { kind: 'null'; start: number };

export class YamlError extends Error {
  constructor(
    readonly line: number,
    readonly col: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Line starts of a text, to turn offsets into 1-based line/column. */
export class LineIndex {
  private readonly starts: number[] = [0];
  constructor(readonly text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  position(offset: number): { line: number; col: number } {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.starts[lo]! + 1 };
  }
}

/**
 * Falco's YAML parser (yaml-cpp) accepts a flow collection closed by a `]` or `}` line at the
 * parent's indentation, which js-yaml calls "deficient indentation"; Falco's own rules files do it.
 * Such a line is indented two more spaces and parsing retried. No line is added or removed, so line
 * numbers in messages stay those of the file.
 */
export function parseEventsLenient(text: string, filename: string): { events: Event[]; text: string } {
  for (let attempt = 0; ; attempt++) {
    try {
      return { events: parseEvents(text, { filename }), text };
    } catch (err) {
      if (!(err instanceof YAMLException)) throw err;
      const m = (err as YAMLException & { mark?: { line: number; column: number; position: number } }).mark;
      const reason = (err as YAMLException & { reason?: string }).reason ?? err.message;
      if (m && reason === 'deficient indentation' && attempt < 10000) {
        const lineStart = text.lastIndexOf('\n', m.position - 1) + 1;
        const nl = text.indexOf('\n', lineStart);
        const lineEnd = nl < 0 ? text.length : nl;
        if (/^ *[\]}][ ,\]}]*$/.test(text.slice(lineStart, lineEnd))) {
          text = text.slice(0, lineStart) + '  ' + text.slice(lineStart);
          continue;
        }
      }
      throw new YamlError((m?.line ?? 0) + 1, (m?.column ?? 0) + 1, `YAML syntax error: ${reason}`);
    }
  }
}

/** Parse one policy file. `text` in the result is what offsets refer to (see parseEventsLenient). */
export function parseYaml(source: string, filename: string): { root: YNode | null; text: string } {
  const { events, text } = parseEventsLenient(source, filename);
  let i = 0;
  const docs: (YNode | null)[] = [];
  const node = (): YNode => {
    const e = events[i++]!;
    switch (e.type) {
      case EVENT_ID.SCALAR: {
        const value = getScalarValue(text, e);
        const block = e.style === SCALAR_STYLE.FOLDED_BLOCK || e.style === SCALAR_STYLE.LITERAL_BLOCK;
        const plain = e.style === SCALAR_STYLE.PLAIN;
        if (plain && /^(~|null|Null|NULL|)$/.test(value)) return { kind: 'null', start: Math.max(0, e.valueStart) };
        return { kind: 'scalar', value, plain, start: e.valueStart, block, ev: e };
      }
      case EVENT_ID.SEQUENCE: {
        const items: YNode[] = [];
        while (events[i]!.type !== EVENT_ID.POP) items.push(node());
        i++;
        return { kind: 'seq', items, start: e.start };
      }
      case EVENT_ID.MAPPING: {
        const entries: { key: string; keyStart: number; value: YNode }[] = [];
        while (events[i]!.type !== EVENT_ID.POP) {
          const k = node();
          const v = node();
          const key = k.kind === 'scalar' ? k.value : k.kind === 'null' ? '' : '?';
          entries.push({ key, keyStart: k.start, value: v });
        }
        i++;
        return { kind: 'map', entries, start: e.start };
      }
      case EVENT_ID.ALIAS:
        return { kind: 'null', start: 0 };
      default:
        throw new Error(`unexpected YAML event ${e.type}`);
    }
  };
  while (i < events.length) {
    const e = events[i]!;
    if (e.type === EVENT_ID.DOCUMENT) {
      i++;
      docs.push(events[i] && events[i]!.type !== EVENT_ID.POP ? node() : null);
      if (events[i]?.type === EVENT_ID.POP) i++;
    } else i++;
  }
  if (docs.length > 1) throw new YamlError(1, 1, 'a policy file holds one YAML document');
  return { root: docs[0] ?? null, text };
}

/**
 * Map an offset in a decoded scalar back to the source. Folding and indentation change whitespace
 * only, so the n-th non-blank character of the value is the n-th non-blank character of the source
 * scalar (quoted scalars: close enough, escapes aside). An offset at the end of the value maps to just
 * after its last character, not onto the next YAML key.
 */
export function scalarOffset(text: string, n: YNode & { kind: 'scalar' }, valueOffset: number): number {
  // a value taken from the source as it stands (sf-processor syntax, core/policy/sfpl.ts) maps one to one
  if (n.ev === undefined) return n.start + Math.min(valueOffset, n.value.length);
  let count = 0;
  let total = 0;
  for (let i = 0; i < n.value.length; i++) {
    if (/\s/.test(n.value[i]!)) continue;
    total++;
    if (i < valueOffset) count++;
  }
  const atEnd = total > 0 && count >= total;
  if (atEnd) count = total - 1;
  let j = n.start + (n.ev.style === SCALAR_STYLE.SINGLE_QUOTED || n.ev.style === SCALAR_STYLE.DOUBLE_QUOTED ? 1 : 0);
  for (; j < text.length; j++) {
    if (/\s/.test(text[j]!)) continue;
    if (count === 0) return atEnd ? j + 1 : j;
    count--;
  }
  return n.start;
}
