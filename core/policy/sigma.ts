/**
 * Sigma rules (sf-processor's `language: sigma`, and any policy file that is a Sigma document). A
 * rule is translated into this engine's condition language, then compiled like any other rule, so it
 * gets the same checks and the same per-rule report.
 *
 * Semantics are Sigma's, not upstream's: a search that is a list of maps ORs them (upstream ANDs
 * them), values match case-insensitively, `*`/`?` in a value are wildcards, and the logsource picks
 * the records (process_creation: exec events; file_event: file records; network_connection: network
 * flows). What cannot be expressed (keyword searches, aggregations, unknown modifiers, other
 * products) makes that rule unsupported, with the reason; the file's other rules still load.
 */
import type { YNode } from './yaml.js';

/** Sigma field names → SysFlow attributes (upstream's shipped sysflow.yml, plus the usual Linux names). */
export const DEFAULT_SIGMA_FIELDS: ReadonlyMap<string, string> = new Map([
  ['Image', 'sf.proc.exe'],
  ['CommandLine', 'sf.proc.cmdline'],
  ['ProcessId', 'sf.proc.pid'],
  ['ParentImage', 'sf.proc.aexe'],
  ['ParentCommandLine', 'sf.proc.acmdline'],
  ['ParentProcessId', 'sf.pproc.pid'],
  ['CurrentDirectory', 'sf.proc.cwd'],
  ['User', 'sf.proc.user'],
  ['DestinationIp', 'sf.net.dip'],
  ['DestinationPort', 'sf.net.dport'],
  ['SourceIp', 'sf.net.sip'],
  ['SourcePort', 'sf.net.sport'],
  ['TargetFilename', 'sf.file.path'],
  ['LogonId', 'sf.proc.uid'],
]);

/** Record selection per logsource category: a guard condition and the prefilter types. */
const CATEGORIES: Record<string, { guard: string; prefilter: string[] }> = {
  process_creation: { guard: 'sf.opflags = EXEC', prefilter: ['PE'] },
  file_event: { guard: '', prefilter: ['FF', 'FE'] },
  file_change: { guard: '', prefilter: ['FF', 'FE'] },
  file_delete: { guard: 'sf.opflags in (UNLINK, RMDIR)', prefilter: ['FE'] },
  file_rename: { guard: 'sf.opflags = RENAME', prefilter: ['FE'] },
  network_connection: { guard: '', prefilter: ['NF'] },
};

/** IP attributes and the fields that compare them with a CIDR block. */
const CIDR_FIELDS: Record<string, string> = { 'sf.net.dip': 'fd.rnet', 'sf.net.sip': 'fd.snet', 'sf.net.ip': 'fd.net' };

const LEVELS: Record<string, string> = { informational: 'informational', low: 'low', medium: 'medium', high: 'high', critical: 'critical' };

export interface SigmaRule {
  name: string;
  desc: string;
  condition: string;
  priority: string;
  tags: string[];
  prefilter: string[];
  /** Why the rule cannot run here, when it cannot. */
  unsupported?: string;
  /** Offset of the `detection` key, where messages about the condition point. */
  at: number;
}

/** Is this YAML document a Sigma rule? */
export const isSigmaRule = (root: YNode | null): boolean => root?.kind === 'map' && root.entries.some((e) => e.key === 'detection') && root.entries.some((e) => e.key === 'logsource');
/** Is it a Sigma backend config (field mappings)? */
export const isSigmaConfig = (root: YNode | null): boolean => root?.kind === 'map' && root.entries.some((e) => e.key === 'fieldmappings');

class Unsupported extends Error {}

const get = (n: YNode, k: string): YNode | undefined => (n.kind === 'map' ? n.entries.find((e) => e.key === k)?.value : undefined);
const scalar = (n: YNode | undefined): string => (n?.kind === 'scalar' ? n.value : '');

/** Field mappings from a Sigma config document (`fieldmappings: {Image: sf.proc.exe}`; a list takes its first). */
export function sigmaFieldMappings(root: YNode): Map<string, string> {
  const out = new Map<string, string>();
  const fm = get(root, 'fieldmappings');
  if (fm?.kind !== 'map') return out;
  for (const e of fm.entries) {
    const v = e.value.kind === 'seq' ? e.value.items[0] : e.value;
    if (v?.kind === 'scalar' && v.value.trim()) out.set(e.key, v.value.trim());
  }
  return out;
}

/** A string literal of the condition language. */
function lit(v: string): string {
  return '"' + v.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

/** One `field|mod|mod: values` matcher. */
function matcher(key: string, value: YNode, fields: ReadonlyMap<string, string>): string {
  const [name, ...mods] = key.split('|');
  const field = fields.get(name!) ?? name!;
  if (!/^[A-Za-z_][\w.-]*$/.test(field)) throw new Unsupported(`field '${name}' has no SysFlow attribute`);
  let all = false;
  let cmp = 'eq';
  const transforms: string[] = [];
  for (const m of mods) {
    if (m === 'all') all = true;
    else if (['contains', 'startswith', 'endswith', 're', 'lt', 'lte', 'gt', 'gte', 'cidr'].includes(m)) cmp = m;
    else if (['base64', 'windash', 'wide', 'utf16', 'utf16le', 'utf16be'].includes(m)) transforms.push(m);
    else throw new Unsupported(`value modifier '${m}' is not supported`);
  }
  const raw = value.kind === 'seq' ? value.items : [value];
  let values: (string | null)[] = raw.map((v) =>
    v.kind === 'null'
      ? null
      : v.kind === 'scalar'
        ? v.value
        : (() => {
            throw new Unsupported(`'${key}' values must be strings or numbers`);
          })(),
  );
  for (const t of transforms) {
    if (t === 'base64') values = values.map((v) => (v === null ? v : Buffer.from(v, 'utf8').toString('base64')));
    else if (t === 'windash') values = values.flatMap((v) => (v === null ? [v] : [v, v.replace(/-/g, '/')]));
    // utf16/wide encodings change nothing in SysFlow's UTF-8 strings
  }
  const one = (v: string | null): string => {
    if (v === null) return `${field} = ""`;
    switch (cmp) {
      case 'contains':
        return `${field} icontains ${lit(v)}`;
      case 'startswith':
        return `tolower(${field}) startswith ${lit(v.toLowerCase())}`;
      case 'endswith':
        return `tolower(${field}) endswith ${lit(v.toLowerCase())}`;
      case 're':
        return `${field} regex ${lit(v)}`;
      case 'cidr': {
        const net = CIDR_FIELDS[field];
        if (!net) throw new Unsupported(`'cidr' needs an IP field, not '${name}'`);
        return `${net} = ${lit(v)}`;
      }
      case 'lt':
      case 'lte':
      case 'gt':
      case 'gte': {
        if (!/^-?\d+$/.test(v.trim())) throw new Unsupported(`'${key}' needs an integer, got '${v}'`);
        return `${field} ${{ lt: '<', lte: '<=', gt: '>', gte: '>=' }[cmp]} ${v.trim()}`;
      }
      default:
        // Sigma: a plain value is a case-insensitive match where * and ? are wildcards (\ escapes them)
        if (/(^|[^\\])[*?]/.test(v)) return `${field} iglob ${lit(v)}`;
        // a number has no case, and the field may be numeric (DestinationPort: 4444)
        if (/^-?\d+$/.test(v.trim())) return `${field} = ${v.trim()}`;
        return `tolower(${field}) = ${lit(v.replace(/\\([*?\\])/g, '$1').toLowerCase())}`;
    }
  };
  const parts = values.map(one);
  if (parts.length === 0) throw new Unsupported(`'${key}' has no values`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(all ? ' and ' : ' or ')})`;
}

/** A search identifier's definition: a map (AND of matchers) or a list of maps (OR). */
function search(id: string, n: YNode, fields: ReadonlyMap<string, string>): string {
  if (n.kind === 'map') {
    if (n.entries.length === 0) throw new Unsupported(`search '${id}' is empty`);
    const parts = n.entries.map((e) => matcher(e.key, e.value, fields));
    return parts.length === 1 ? parts[0]! : `(${parts.join(' and ')})`;
  }
  if (n.kind === 'seq' && n.items.length > 0 && n.items.every((i) => i.kind === 'map')) {
    const parts = n.items.map((i, k) => search(`${id}[${k}]`, i, fields));
    return parts.length === 1 ? parts[0]! : `(${parts.join(' or ')})`;
  }
  throw new Unsupported(`search '${id}' is a keyword search (SysFlow records have no free-text message)`);
}

/** Sigma's condition expression, with search names replaced by their translations. */
function condition(text: string, searches: ReadonlyMap<string, string>): string {
  if (text.includes('|')) throw new Unsupported('aggregations (`| count() …`) are not supported');
  const toks = text.match(/\(|\)|[^\s()]+/g) ?? [];
  const out: string[] = [];
  const globRe = (g: string) =>
    new RegExp(
      '^' +
        g
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.') +
        '$',
    );
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    const lower = t.toLowerCase();
    if (t === '(' || t === ')' || lower === 'and' || lower === 'or' || lower === 'not') {
      out.push(t === '(' || t === ')' ? t : lower);
      continue;
    }
    if ((lower === '1' || lower === 'any' || lower === 'all') && toks[i + 1]?.toLowerCase() === 'of' && toks[i + 2]) {
      const target = toks[i + 2]!;
      // `them`: every search but those named with a leading underscore (Sigma's convention)
      const names = target === 'them' ? [...searches.keys()].filter((k) => !k.startsWith('_')) : [...searches.keys()].filter((k) => globRe(target).test(k));
      if (names.length === 0) throw new Unsupported(`'${t} of ${target}' matches no search`);
      out.push(`(${names.map((k) => searches.get(k)!).join(lower === 'all' ? ' and ' : ' or ')})`);
      i += 2;
      continue;
    }
    const s = searches.get(t);
    if (s === undefined) throw new Unsupported(`condition names '${t}', which is not a search of this rule`);
    out.push(s);
  }
  if (out.length === 0) throw new Unsupported('empty condition');
  return out.join(' ');
}

/** Translate one Sigma rule document (one rule per condition, as upstream). */
export function translateSigma(root: YNode, fields: ReadonlyMap<string, string>): SigmaRule[] {
  const detection = root.kind === 'map' ? root.entries.find((e) => e.key === 'detection') : undefined;
  const at = detection?.keyStart ?? root.start;
  const title = scalar(get(root, 'title')).trim() || scalar(get(root, 'id')).trim() || 'untitled Sigma rule';
  const tagsNode = get(root, 'tags');
  const base = {
    desc: scalar(get(root, 'description')).trim(),
    priority: LEVELS[scalar(get(root, 'level')).trim().toLowerCase()] ?? 'informational',
    tags: tagsNode?.kind === 'seq' ? tagsNode.items.filter((t) => t.kind === 'scalar').map((t) => (t as { value: string }).value) : [],
    at,
  };
  const fail = (why: string): SigmaRule[] => [{ name: title, condition: '', prefilter: [], unsupported: why, ...base }];
  const ls = get(root, 'logsource');
  const product = scalar(ls && get(ls, 'product'))
    .trim()
    .toLowerCase();
  const category = scalar(ls && get(ls, 'category'))
    .trim()
    .toLowerCase();
  if (product && product !== 'linux') return fail(`logsource product '${product}' is not SysFlow (linux)`);
  const sel = category ? CATEGORIES[category] : { guard: '', prefilter: [] };
  if (!sel) return fail(`logsource category '${category}' has no SysFlow records (supported: ${Object.keys(CATEGORIES).join(', ')})`);
  const det = detection?.value;
  if (det?.kind !== 'map') return fail("'detection' must be a mapping");
  const conds = det.entries.filter((e) => e.key === 'condition').map((e) => e.value);
  const condTexts = conds
    .flatMap((c) => (c.kind === 'seq' ? c.items : [c]))
    .map(scalar)
    .filter((c) => c.trim());
  if (condTexts.length === 0) return fail("'detection' has no condition");
  const searches = new Map<string, string>();
  const bad = new Map<string, string>();
  for (const e of det.entries) {
    if (e.key === 'condition' || e.key === 'timeframe') continue;
    try {
      searches.set(e.key, search(e.key, e.value, fields));
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      bad.set(e.key, err.message);
    }
  }
  return condTexts.map((c, k) => {
    const name = condTexts.length > 1 ? `${title} (condition ${k + 1})` : title;
    try {
      const used = c.match(/[^\s()]+/g) ?? [];
      for (const u of used) if (bad.has(u)) throw new Unsupported(bad.get(u)!);
      const expr = condition(c, searches);
      return { name, condition: sel.guard ? `${sel.guard} and (${expr})` : expr, prefilter: sel.prefilter, ...base };
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
      return { name, condition: '', prefilter: [], unsupported: err.message, ...base };
    }
  });
}
