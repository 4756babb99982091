/**
 * The pipeline attribute reference, generated from the plugin registry so the docs cannot drift:
 * docs/configuration.md holds this text between the `generated:attributes` markers, and
 * test/e2e/docs.test.ts checks that it is exactly what this module produces.
 *
 * Regenerate after changing a built-in plugin's attributes (from the repository root):
 *   npm run build && node dist/test/helpers/docs-reference.js --write
 * Without --write the reference is printed.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { builtinRegistry } from '../../core/plugins/builtin.js';
import { DELIVERY_CONFIG } from '../../core/export/options.js';
import { helpOf } from '../../core/pipeline/settings.js';
import type { Registry } from '../../core/plugins/registry.js';
import { ROOT } from './corpus.js';

export const CONFIG_DOC = 'docs/configuration.md';
export const BEGIN = '<!-- generated:attributes (node dist/test/helpers/docs-reference.js --write) -->';
export const END = '<!-- /generated:attributes -->';

/** Transports that deliver through the shared queue: their schemas hold the delivery attributes (core/export/options.ts DELIVERY_CONFIG). */
export const NETWORK_TRANSPORTS = ['syslog', 'es'];

const TRANSPORT_TEXT: Record<string, string> = {
  terminal: 'one record per line on stdout (the default)',
  file: 'one record per line, appended to a file, with optional rotation',
  null: 'discards the records (measuring, testing a policy set)',
  syslog: 'one RFC 5424 message per record over TCP, UDP or TLS',
  es: 'Elasticsearch bulk indexing (use with `format: ecs`)',
};
const ENCODER_TEXT: Record<string, string> = {
  json: "sf-processor's JSON record, one object per line (the default)",
  ecs: 'Elastic Common Schema 8.2 documents ([docs/ecs.md](ecs.md))',
  cef: 'ArcSight CEF:0 lines, one per record ([docs/formats.md](formats.md#cef))',
  template: 'one line per record from `template.text`: `{{ .Placeholder }}` and `%field` ([docs/formats.md](formats.md#templates))',
};

/** The exporter attributes a transport reads (its schema), without the delivery ones. */
export function transportAttributes(registry: Registry, transport: string): string[] {
  return Object.keys(registry.transports.get(transport)?.config?.properties ?? {}).filter((a) => !(a in DELIVERY_CONFIG));
}

/** Exporter attributes that belong to no transport: the exporter's own. */
export function exporterOwnAttributes(registry: Registry): string[] {
  const owned = new Set([
    ...registry.transports.names().flatMap((t) => Object.keys(registry.transports.get(t)?.config?.properties ?? {})),
    ...registry.encoders.names().flatMap((e) => Object.keys(registry.encoders.get(e)?.config?.properties ?? {})),
  ]);
  return Object.keys(registry.processors.get('exporter')?.config.properties ?? {}).filter((a) => !owned.has(a));
}

export const deliveryAttributes = (): string[] => Object.keys(DELIVERY_CONFIG);

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const sentence = (s: string) => cell(s.charAt(0).toUpperCase() + s.slice(1));

/** Names in pipeline order (the order a reader meets them), then any others alphabetically. */
const PREFERRED = ['sysflowchan', 'flattenerchan', 'eventchan', 'sysflowreader', 'flattener', 'policyengine', 'exporter', 'terminal', 'file', 'null', 'syslog', 'es', 'json', 'ecs', 'socket'];
function ordered(names: readonly string[]): string[] {
  const rank = (n: string) => (PREFERRED.includes(n) ? PREFERRED.indexOf(n) : PREFERRED.length);
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

function attrTable(attrs: Readonly<Record<string, string>>, names: readonly string[] = Object.keys(attrs)): string[] {
  if (names.length === 0) return ['No attributes.', ''];
  return ['| attribute | meaning |', '|---|---|', ...names.map((n) => `| \`${n}\` | ${cell(attrs[n] ?? '')} |`), ''];
}

/** The Markdown reference of every channel type, processor, handler, driver, transport and encoder in the registry. */
export function attributeReference(registry: Registry = builtinRegistry()): string {
  const out: string[] = [];
  out.push('### Channel types', '', '| type | one element |', '|---|---|');
  for (const n of ordered(registry.channels.names())) out.push(`| \`${n}\` | ${cell(registry.channels.get(n)!.element)} |`);
  out.push('');

  const exporter = registry.processors.get('exporter');
  for (const name of ordered(registry.processors.names())) {
    const p = registry.processors.get(name)!;
    const outType = typeof p.outType === 'function' ? "the handler's type" : p.outType === null ? 'nothing (sink)' : `\`${p.outType}\``;
    out.push(`### Processor \`${name}\``, '', `${sentence(p.description)}. Reads \`${p.inType}\`, writes ${outType}.`, '');
    if (p === exporter) out.push(...attrTable(helpOf(p.config), exporterOwnAttributes(registry)));
    else out.push(...attrTable(helpOf(p.config)));
  }

  for (const name of ordered(registry.handlers.names())) {
    const h = registry.handlers.get(name)!;
    out.push(
      `### Handler \`${name}\``,
      '',
      `${sentence(h.description)}. Set with \`"handler": "${name}"\` on a \`sysflowreader\` entry, which then writes \`${h.outType}\`; its attributes go on that entry.`,
      '',
    );
    out.push(...attrTable(helpOf(h.config)));
  }

  if (exporter) {
    for (const name of ordered(registry.transports.names())) {
      const attrs = transportAttributes(registry, name);
      const network = NETWORK_TRANSPORTS.includes(name) ? ' Also reads the [delivery attributes](#delivery-network-transports).' : '';
      out.push(`### Transport \`${name}\``, '', `\`"export": "${name}"\` on an \`exporter\` entry: ${TRANSPORT_TEXT[name] ?? 'a transport'}. Attributes go on that entry.${network}`, '');
      out.push(...attrTable(helpOf(exporter.config), attrs));
    }
    out.push('### Delivery (network transports)', '', `Read by the ${NETWORK_TRANSPORTS.map((t) => `\`${t}\``).join(' and ')} transports, on the \`exporter\` entry.`, '');
    out.push(...attrTable(helpOf({ properties: DELIVERY_CONFIG })));
  }

  out.push('### Encoders', '', '`"format": "<name>"` on an `exporter` entry; an encoder\'s attributes go on that entry too.', '', '| encoder | output |', '|---|---|');
  for (const n of ordered(registry.encoders.names())) out.push(`| \`${n}\` | ${ENCODER_TEXT[n] ?? ''} |`);
  out.push('');
  for (const n of ordered(registry.encoders.names())) {
    const config = registry.encoders.get(n)?.config;
    if (!config || Object.keys(config.properties).length === 0) continue;
    out.push(`#### Encoder \`${n}\``, '', ...attrTable(helpOf(config)));
  }

  for (const name of ordered(registry.drivers.names())) {
    const d = registry.drivers.get(name)!;
    out.push(
      `### Driver \`${name}\``,
      '',
      `${sentence(d.description)}. Writes \`${d.outType}\`. Selected with \`-driver ${name}\` or a \`drivers\` entry \`{"driver": "${name}", …}\`, which holds its attributes.`,
      '',
    );
    out.push(...attrTable(helpOf(d.config)));
  }
  return out.join('\n');
}

/** The generated part of docs/configuration.md as it stands (null when the markers are missing). */
export function currentReference(text: string): string | null {
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  if (b < 0 || e < b) return null;
  return text
    .slice(b + BEGIN.length, e)
    .replace(/^\n/, '')
    .replace(/\n$/, '');
}

export function writeReference(file = join(ROOT, CONFIG_DOC)): void {
  const text = readFileSync(file, 'utf8');
  const b = text.indexOf(BEGIN);
  const e = text.indexOf(END);
  if (b < 0 || e < b) throw new Error(`${file}: markers ${BEGIN} … ${END} not found`);
  writeFileSync(file, `${text.slice(0, b + BEGIN.length)}\n${attributeReference()}\n${text.slice(e)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv.includes('--write')) {
    writeReference();
    process.stdout.write(`${CONFIG_DOC}: attribute reference regenerated\n`);
  } else process.stdout.write(`${attributeReference()}\n`);
}
