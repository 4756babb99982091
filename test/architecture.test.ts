/**
 * Imports run one way: every import in core/ goes to its own room or to a room on a lower floor, as
 * docs/architecture.md's floor table says, and no files import each other in a cycle.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { ROOT } from './helpers/corpus.js';

const CORE = join(ROOT, 'core');

/** room → floor, from the table in docs/architecture.md (`| floor | \`room\` | … |`). */
function floors(): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of readFileSync(join(ROOT, 'docs', 'architecture.md'), 'utf8').split('\n')) {
    const row = /^\| (\d+) \| `([a-z-]+)` \|/.exec(line);
    if (row) m.set(row[2]!, Number(row[1]));
  }
  return m;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Relative imports of a file (static, re-exports and dynamic), resolved to .ts paths. */
function imports(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^(?:import|export)\b[^;]*?\bfrom\s*|\bimport\s*\(\s*)'(\.{1,2}\/[^']+)'/gm)) out.push(normalize(join(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  return out;
}

/** A file's room: its folder under core/, or its own name for a file directly in core/. */
const roomOf = (file: string): string => {
  const rel = relative(CORE, file).split('/');
  return rel.length > 1 ? rel[0]! : rel[0]!.replace(/\.ts$/, '');
};

const FILES = sources(CORE);
const GRAPH = new Map(FILES.map((f) => [f, imports(f)]));

test('every room of core/ has a floor in docs/architecture.md', () => {
  const table = floors();
  assert.ok(table.size >= 10, `${table.size} rooms in the table`);
  const rooms = new Set(FILES.map(roomOf));
  for (const r of rooms) assert.ok(table.has(r), `docs/architecture.md gives room '${r}' a floor`);
  for (const r of table.keys()) assert.ok(rooms.has(r), `the table's room '${r}' exists in core/`);
});

/** Imports that go up a floor, sideways on one floor, or out of core/. */
function wrongImports(graph: ReadonlyMap<string, readonly string[]>, table: ReadonlyMap<string, number>): string[] {
  const wrong: string[] = [];
  for (const [file, targets] of graph) {
    const from = roomOf(file);
    for (const t of targets) {
      if (!t.startsWith(CORE + '/')) {
        wrong.push(`${relative(ROOT, file)} imports ${relative(ROOT, t)}, outside core/`);
        continue;
      }
      const to = roomOf(t);
      if (to !== from && table.get(to)! >= table.get(from)!) wrong.push(`${relative(ROOT, file)} (${from}, floor ${table.get(from)}) imports ${relative(ROOT, t)} (${to}, floor ${table.get(to)})`);
    }
  }
  return wrong;
}

test('imports run one way: to the same room or down, never up or sideways', () => {
  const n = [...GRAPH.values()].reduce((a, t) => a + t.length, 0);
  assert.ok(n > 200, `${n} imports checked`);
  assert.deepEqual(wrongImports(GRAPH, floors()), []);
});

test('no import cycles between files of core/', () => {
  // Tarjan's strongly connected components; any component of two or more files is a cycle
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const cycles: string[][] = [];
  let i = 0;
  const visit = (v: string): void => {
    index.set(v, i);
    low.set(v, i++);
    stack.push(v);
    on.add(v);
    for (const w of GRAPH.get(v) ?? []) {
      if (!GRAPH.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        on.delete(w);
        c.push(relative(ROOT, w));
        if (w === v) break;
      }
      if (c.length > 1) cycles.push(c.sort());
    }
  };
  for (const f of FILES) if (!index.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});

test('the check sees what it checks: upward, sideways and outside imports are caught', () => {
  const table = floors();
  const f = (p: string) => join(CORE, p);
  const probe = new Map([
    [f('pipeline/pipeline.ts'), [f('plugins/loader.ts'), f('util/i64.ts')]], // up (what pipeline.ts did before), then down
    [f('util/bytes.ts'), [f('sysflow/i64.ts')]], // up (i64 lived in sysflow)
    [f('log.ts'), [f('version.ts')]], // sideways on floor 0
    [f('cli/sysprint.ts'), [join(ROOT, 'test', 'helpers', 'corpus.ts')]], // outside core/
  ]);
  assert.equal(wrongImports(probe, table).length, 4, wrongImports(probe, table).join('\n'));
  assert.ok(imports(f('plugins/builtin.ts')).map(roomOf).includes('processors'), 'imports are read');
});
