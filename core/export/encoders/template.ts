/**
 * The `template` encoder: one line per record from `template.text`, which mixes Fibratus-style
 * placeholders (`{{ .Seq }} {{ .Timestamp }} {{ .Name }} {{ .Params }}`) with Falco-style `%field`
 * placeholders over every policy field (`%proc.name`, `%sf.file.path`, `%evt.seq`, `%20proc.cmdline`).
 * Placeholders and fields are resolved when the exporter is built: an unknown one is a load error
 * naming its column, with a suggestion. `template.timeformat` formats `{{ .Timestamp }}`.
 */
import { ConfigError, PolicyError } from '../../errors.js';
import type { FlatRecord } from '../../flatten/flatrecord.js';
import { SF_FIELDS } from '../../flatten/fields.js';
import { SF_PROCESSOR_TYPE_CODES } from '../../flatten/names.js';
import { Compiler, Notes } from '../../policy/compile.js';
import { compileOutput, type Render } from '../../policy/output.js';
import { closest } from '../../util/suggest.js';
import { exactToString, msOf, secOf } from '../../util/i64.js';
import { SfType } from '../../sysflow/types.js';
import type { ByteSink } from '../../util/bytes.js';
import { compileSettings, settingsOf, type ConfigSchema } from '../../pipeline/settings.js';
import type { Encoder, EncoderFactory } from '../types.js';
import { eventCategory, eventHost, eventKind } from '../../flatten/canonical.js';

export const TIME_FORMATS = ['rfc3339', 'rfc3339ms', 'unix', 'unixms', 'unixns'] as const;
type TimeFormat = (typeof TIME_FORMATS)[number];

const CONFIG: ConfigSchema = {
  properties: {
    'template.text': {
      type: 'string',
      default: '{{ .Seq }} {{ .Timestamp }} {{ .Name }} {{ .Params }}',
      description: 'the line per record: {{ .Placeholder }} (docs/formats.md#templates) and %field (any policy field)',
    },
    'template.timeformat': { type: 'string', enum: [...TIME_FORMATS], default: 'rfc3339', description: 'how {{ .Timestamp }} is written: rfc3339 (ns), rfc3339ms, unix (s), unixms, unixns' },
  },
};
const SETTINGS = compileSettings(CONFIG, { scope: 'prefixed', prefix: 'template.', where: 'template encoder: ' });

function timestamp(fmt: TimeFormat): (d: number, ns: number) => string {
  switch (fmt) {
    case 'unix':
      return (d, ns) => String(secOf(d, ns));
    case 'unixms':
      return (d, ns) => String(msOf(d, ns));
    case 'unixns':
      return exactToString;
    case 'rfc3339ms':
      return (d, ns) => new Date(msOf(d, ns)).toISOString();
    default:
      return (d, ns) => `${new Date(secOf(d, ns) * 1000).toISOString().slice(0, 19)}.${String(ns).padStart(9, '0')}Z`;
  }
}

/** `{{ .Params }}`: the record's main parameters as `name=value`, by record type (sf.* field names without `sf.`). */
const PARAMS: Readonly<Record<number, readonly string[]>> = {
  [SfType.PE]: ['sf.proc.exe', 'sf.proc.args', 'sf.proc.uid', 'sf.ret'],
  [SfType.PF]: ['sf.proc.exe', 'sf.proc.args'],
  [SfType.FF]: ['sf.file.path', 'sf.file.fd', 'sf.flow.rbytes', 'sf.flow.wbytes'],
  [SfType.FE]: ['sf.file.path', 'sf.file.newpath', 'sf.ret'],
  [SfType.NF]: ['sf.net.sip', 'sf.net.sport', 'sf.net.dip', 'sf.net.dport', 'sf.net.proto', 'sf.flow.rbytes', 'sf.flow.wbytes'],
  [SfType.NE]: ['sf.net.sip', 'sf.net.sport', 'sf.net.dip', 'sf.net.dport', 'sf.net.proto'],
  [SfType.KE]: ['sf.ke.kind', 'sf.ke.message'],
};
const PARAM_GETTERS = new Map(
  Object.entries(PARAMS).map(([t, names]) => [
    Number(t),
    names.map((n) => {
      const d = SF_FIELDS.get(n);
      if (!d) throw new Error(`template: no field ${n}`);
      return [n.slice(3), d.get] as const;
    }),
  ]),
);

function params(r: FlatRecord): string {
  const gs = PARAM_GETTERS.get(r.sfType);
  if (!gs) return '';
  let s = '';
  for (const [name, get] of gs) {
    const v = get(r);
    const text = Array.isArray(v) ? v.join(',') : String(v ?? '');
    s += `${s === '' ? '' : ' '}${name}=${text}`;
  }
  return s;
}

/** The Fibratus-style placeholders (documented in docs/formats.md#templates). */
function placeholders(time: (d: number, ns: number) => string): ReadonlyMap<string, Render> {
  const field = (n: string) => SF_FIELDS.get(n)!.get;
  const pid = field('sf.proc.pid');
  const tid = field('sf.proc.tid');
  const ppid = field('sf.pproc.pid');
  const exe = field('sf.proc.exe');
  const pname = field('sf.proc.name');
  const cmd = field('sf.proc.cmdline');
  const user = field('sf.proc.user');
  const cname = field('sf.container.name');
  return new Map<string, Render>([
    ['Seq', (r) => String(r.seq)],
    ['Timestamp', (r) => time(r.rec.ts, r.rec.tsNs)],
    ['Name', (r) => eventKind(r).name],
    ['Category', (r) => eventCategory(r)],
    ['Description', (r) => eventKind(r).description],
    ['Host', eventHost],
    ['Type', (r) => SF_PROCESSOR_TYPE_CODES[r.sfType] ?? String(r.sfType)],
    ['Params', params],
    ['Pid', (r) => String(pid(r))],
    ['Tid', (r) => String(tid(r))],
    ['Ppid', (r) => String(ppid(r))],
    ['Exe', (r) => exe(r) as string],
    ['Process', (r) => pname(r) as string],
    ['Cmdline', (r) => cmd(r) as string],
    ['User', (r) => user(r) as string],
    ['Container', (r) => cname(r) as string],
    ['Rule', (r) => r.rules?.[0]?.name ?? ''],
    ['Priority', (r) => (r.rules?.length ? String(Math.max(...r.rules.map((m) => m.priority))) : '')],
    ['Tags', (r) => [...(r.tags ?? []), ...(r.rules ?? []).flatMap((m) => m.tags)].join(',')],
  ]);
}
export const PLACEHOLDERS = [...placeholders(() => '').keys()];

const BRACES = /\{\{\s*\.([A-Za-z]+)\s*\}\}/g;

/** Compile a template; throws ConfigError naming the column of an unknown placeholder or field. */
export function compileTemplate(text: string, timeformat: TimeFormat): Render {
  if (text.includes('\n')) throw new ConfigError("attribute 'template.text': one line per record; the template cannot contain a line break");
  const known = placeholders(timestamp(timeformat));
  const parts: (string | Render)[] = [];
  const literal = (s: string, at: number) => {
    if (s === '') return;
    // a '{{' that is not a placeholder is a typo, refused rather than printed
    const brace = s.indexOf('{{');
    if (brace >= 0) throw new ConfigError(`attribute 'template.text': column ${at + brace + 1}: '{{' does not start a placeholder such as {{ .Name }}`);
    if (!s.includes('%')) return void parts.push(s);
    const src = { file: 'template.text', item: 'template.text', position: (o: number) => ({ line: 1, col: at + o + 1 }) };
    let render: Render | null;
    try {
      render = compileOutput(s, new Compiler({ macros: new Map(), lists: new Map() }, new Notes()), src);
    } catch (e) {
      if (e instanceof PolicyError) throw new ConfigError(`attribute 'template.text': column ${e.col}: ${e.reason}`);
      throw e;
    }
    if (render) parts.push(render);
  };
  let last = 0;
  for (const m of text.matchAll(BRACES)) {
    literal(text.slice(last, m.index), last);
    const r = known.get(m[1]!);
    if (!r) {
      const near = closest(m[1]!, known.keys());
      throw new ConfigError(
        `attribute 'template.text': column ${m.index! + 1}: unknown placeholder {{ .${m[1]} }}${near ? ` (did you mean .${near}?)` : ''}; known: ${[...known.keys()].map((k) => `.${k}`).join(' ')}`,
      );
    }
    parts.push(r);
    last = m.index! + m[0].length;
  }
  literal(text.slice(last), last);
  return (r) => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p(r);
    return s;
  };
}

export class TemplateEncoder implements Encoder {
  readonly name = 'template';
  constructor(private readonly render: Render) {}

  encode(r: FlatRecord, out: ByteSink): void {
    out.write(this.render(r));
    out.ascii('\n');
  }
}

export const templateEncoder: EncoderFactory = {
  name: 'template',
  config: CONFIG,
  create(attrs) {
    const c = settingsOf<{ 'template.text': string; 'template.timeformat': TimeFormat }>(SETTINGS, attrs);
    return new TemplateEncoder(compileTemplate(c['template.text'], c['template.timeformat']));
  },
};
