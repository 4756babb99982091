/**
 * Just enough Markdown for test/e2e/docs.test.ts: fenced code blocks (with the HTML comment that
 * marks them), links, GitHub heading anchors, tables between marker comments, and the flags of a
 * CLI's usage text.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from './corpus.js';

export interface CodeBlock {
  /** Info string after the fence: `sh`, `json`, … ('' when none). */
  lang: string;
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The `<!-- … -->` comment on the last non-blank line before the fence, if any (without the delimiters). */
  marker: string | null;
}

export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(```+)\s*([\w-]*)/.exec(lines[i]!);
    if (!open) continue;
    let prev = i - 1;
    while (prev >= 0 && lines[prev]!.trim() === '') prev--;
    const m = prev >= 0 ? /^\s*<!--\s*(.*?)\s*-->\s*$/.exec(lines[prev]!) : null;
    const body: string[] = [];
    let j = i + 1;
    const indent = open[1]!;
    for (; j < lines.length && !lines[j]!.trimStart().startsWith(open[2]!); j++) body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!.trimStart());
    blocks.push({ lang: open[3] ?? '', text: body.join('\n') + '\n', line: i + 1, marker: m ? m[1]! : null });
    i = j;
  }
  return blocks;
}

/** The text without fenced code blocks (their lines blanked, so line numbers stay) and inline code spans. */
export function proseOnly(markdown: string): string {
  const lines = markdown.split('\n');
  let fence: string | null = null;
  return lines
    .map((l) => {
      const f = /^\s*(```+)/.exec(l);
      if (fence) {
        if (f && f[1]!.startsWith(fence)) fence = null;
        return '';
      }
      if (f) {
        fence = f[1]!;
        return '';
      }
      return l.replace(/(`+)[^`]*?\1/g, '');
    })
    .join('\n');
}

export interface Link {
  target: string;
  line: number;
}

/** Inline links and images `[text](target)` outside code. */
export function links(markdown: string): Link[] {
  const out: Link[] = [];
  proseOnly(markdown)
    .split('\n')
    .forEach((l, i) => {
      for (const m of l.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1]!, line: i + 1 });
    });
  return out;
}

/** GitHub's anchor for a heading text. */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every heading anchor of a Markdown file (duplicates numbered as GitHub does). */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of proseOnlyKeepCode(markdown).split('\n')) {
    const h = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l);
    if (!h) continue;
    const base = slug(h[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The text without fenced code blocks (inline code kept: headings may hold it). */
function proseOnlyKeepCode(markdown: string): string {
  let fence: string | null = null;
  return markdown
    .split('\n')
    .map((l) => {
      const f = /^\s*(```+)/.exec(l);
      if (fence) {
        if (f && f[1]!.startsWith(fence)) fence = null;
        return '';
      }
      if (f) {
        fence = f[1]!;
        return '';
      }
      return l;
    })
    .join('\n');
}

/** Problems with the relative links of `file` (repository-relative): missing files or anchors. */
export function brokenLinks(file: string): string[] {
  const abs = join(ROOT, file);
  const text = readFileSync(abs, 'utf8');
  const problems: string[] = [];
  for (const { target, line } of links(text)) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const [path, anchor] = target.split('#', 2) as [string, string | undefined];
    const dest = path === '' ? abs : resolve(dirname(abs), decodeURIComponent(path));
    const where = `${file}:${line}: link '${target}'`;
    if (!existsSync(dest)) {
      problems.push(`${where}: ${relative(ROOT, dest)} does not exist`);
      continue;
    }
    if (anchor !== undefined && anchor !== '' && dest.endsWith('.md') && statSync(dest).isFile()) {
      if (!anchors(readFileSync(dest, 'utf8')).has(anchor.toLowerCase())) problems.push(`${where}: no heading '#${anchor}' in ${relative(ROOT, dest)}`);
    }
  }
  return problems;
}

/** The lines between `<!-- name -->` (or `<!-- name:begin -->`) and `<!-- /name -->` (or `<!-- name:end -->`). */
export function section(markdown: string, name: string): string {
  const open = [`<!-- ${name} -->`, `<!-- ${name}:begin -->`];
  const close = [`<!-- /${name} -->`, `<!-- ${name}:end -->`];
  const b = open.map((m) => markdown.indexOf(m)).find((i) => i >= 0);
  if (b === undefined) throw new Error(`marker <!-- ${name} --> not found`);
  const e = close.map((m) => markdown.indexOf(m, b)).find((i) => i >= 0);
  if (e === undefined) throw new Error(`closing marker of <!-- ${name} --> not found`);
  return markdown.slice(b, e);
}

/** Rows of the Markdown tables in `text` (header and separator rows left out), as cells. */
export function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  const lines = text.split('\n').filter((l) => l.trim().startsWith('|'));
  for (let i = 0; i < lines.length; i++) {
    const cells = lines[i]!.trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    if (cells.every((c) => /^:?-+:?$/.test(c))) {
      rows.pop(); // the header row before a separator
      continue;
    }
    rows.push(cells);
  }
  return rows;
}

/** The contents of the inline code spans of a cell. */
export const codeSpans = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** Flag names (and aliases) listed in a CLI's usage text, e.g. `  -o FORMAT, -output   help`. */
export function usageFlags(usage: string): Set<string> {
  const out = new Set<string>();
  for (const l of usage.split('\n')) {
    const m = /^ {2}(-\w+(?: [A-Z]+)?(?:, -\w+)*) {2,}\S/.exec(l);
    if (m) for (const f of m[1]!.matchAll(/-(\w+)/g)) out.add(f[1]!);
  }
  return out;
}

/** Every flag token (`-name`, `--name`) in a synopsis line. */
export const synopsisFlags = (text: string): string[] => [...text.matchAll(/(?<![\w-])--?([a-z]\w*)/g)].map((m) => m[1]!);

/** The Markdown files whose links are checked: README.md, docs/*.md, examples/plugins/README.md and examples/plugins/<name>/README.md. */
export function markdownFiles(): string[] {
  const files = ['README.md'];
  for (const f of readdirSync(join(ROOT, 'docs')).sort()) if (f.endsWith('.md')) files.push(`docs/${f}`);
  if (existsSync(join(ROOT, 'examples', 'plugins', 'README.md'))) files.push('examples/plugins/README.md');
  for (const d of readdirSync(join(ROOT, 'examples', 'plugins')).sort()) if (existsSync(join(ROOT, 'examples', 'plugins', d, 'README.md'))) files.push(`examples/plugins/${d}/README.md`);
  return files;
}
