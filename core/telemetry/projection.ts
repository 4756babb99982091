/**
 * A subscription's field projection over one event's JSON: `include` keeps only the named fields
 * (dotted paths into the json export format, `proc.exe`; a name ending in `.` or naming an object
 * keeps the whole section), then `exclude` removes fields the same way.
 */
type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const segments = (path: string) => (path.endsWith('.') ? path.slice(0, -1) : path).split('.');

function pick(from: Obj, to: Obj, path: readonly string[]): void {
  let src: unknown = from;
  let dst = to;
  for (let i = 0; i < path.length; i++) {
    if (!isObj(src) || !(path[i]! in src)) return;
    src = src[path[i]!];
    if (i === path.length - 1) dst[path[i]!] = src;
    else dst = (isObj(dst[path[i]!]) ? dst[path[i]!] : (dst[path[i]!] = {})) as Obj;
  }
}

function drop(o: Obj, path: readonly string[]): void {
  let cur: unknown = o;
  for (let i = 0; i < path.length - 1; i++) {
    if (!isObj(cur)) return;
    cur = cur[path[i]!];
  }
  if (isObj(cur)) delete cur[path[path.length - 1]!];
}

export function project(json: string, p: { readonly include: readonly string[]; readonly exclude: readonly string[] }): string {
  const doc = JSON.parse(json) as Obj;
  let out: Obj = doc;
  if (p.include.length) {
    out = {};
    for (const f of p.include) pick(doc, out, segments(f));
  }
  for (const f of p.exclude) drop(out, segments(f));
  return JSON.stringify(out);
}
