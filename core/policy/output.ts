/**
 * Falco output templates: `%field`, `%field[arg]`, `%tolower(field)`, `%20field` (width: pad or
 * cut). Fields are resolved once; rendering is a walk over pre-built parts. A value that is empty or
 * a field SysFlow does not record prints `<NA>`, as in Falco (listed in the compiler's notes).
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { VT } from '../flatten/fields.js';
import { exactToString } from '../util/i64.js';
import type { Compiler } from './compile.js';
import { UnsupportedField, type SourceRef } from './errors.js';
import { parseOperand } from './parser.js';

export type Render = (r: FlatRecord) => string;

const TOKEN = /%(\d+)?((?:tolower|toupper|basename|len|b64)\([^)\s]*\)|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+(?:\[[^\]\s]*\])?)/g;

export function compileOutput(template: string, compiler: Compiler, src: SourceRef): Render | null {
  if (template === '') return null;
  const parts: (string | Render)[] = [];
  let last = 0;
  for (const m of template.matchAll(TOKEN)) {
    if (m.index! > last) parts.push(template.slice(last, m.index));
    last = m.index! + m[0].length;
    const width = m[1] ? Number(m[1]) : 0;
    let render: Render;
    try {
      const g = compiler.operand(parseOperand(m[2]!), { ...src, position: (o) => src.position(m.index! + 1 + o) });
      const get = g.get;
      switch (g.vt) {
        case VT.Str:
          render = (r) => (get(r) as string) || '<NA>';
          break;
        case VT.Time: {
          const ns = g.ns!;
          render = (r) => exactToString(get(r) as number, ns(r));
          break;
        }
        case VT.StrList:
        case VT.IntList:
          render = (r) => (get(r) as unknown[]).join(',') || '<NA>';
          break;
        default:
          render = (r) => String(get(r));
      }
    } catch (err) {
      if (!(err instanceof UnsupportedField)) throw err;
      compiler.notes.unsupported.delete(err.message);
      compiler.notes.unsupported.add(m[2]!);
      render = () => '<NA>';
    }
    if (width > 0) {
      const inner = render;
      render = (r) => inner(r).padEnd(width).slice(0, width);
    }
    parts.push(render);
  }
  if (last < template.length) parts.push(template.slice(last));
  return (r) => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p(r);
    return s;
  };
}
