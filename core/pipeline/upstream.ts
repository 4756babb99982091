/**
 * What sf-processor has that sfprocessor does not, and keys it spells differently: named in errors
 * and warnings, so that a user moving a config over learns why and where to read on
 * (docs/migration.md, whose tables test/e2e/migration.test.ts checks against these).
 */
export const MIGRATION_DOC = 'docs/migration.md';

/** What sf-processor has and sfprocessor does not: said so in the note. */
const missing = (what: string): string => `${what}; not available in sfprocessor`;

/** Drivers of sf-processor that sfprocessor does not have. */
export const UPSTREAM_DRIVERS: Readonly<Record<string, string>> = {
  otelkafka: missing("sf-processor's driver for SysFlow over Kafka in OpenTelemetry envelopes"),
  otelfile: missing("sf-processor's driver for OpenTelemetry log files (JSON ResourceLogs)"),
};

/** Processors of sf-processor that sfprocessor does not have. */
export const UPSTREAM_PROCESSORS: Readonly<Record<string, string>> = {
  sysflowprocessor: missing("sf-processor's handler host for already-contextualised records (ctxchan), which nothing in sf-processor produces; use sysflowreader"),
};

/** Channel types of sf-processor that sfprocessor does not have. */
export const UPSTREAM_CHANNELS: Readonly<Record<string, string>> = {
  ctxchan: missing("sf-processor's contextualised records, read by its sysflowprocessor"),
  otelchan: missing("sf-processor's OpenTelemetry log records (its OpenTelemetry build)"),
};

/** Exporter transports (`export`) of sf-processor that sfprocessor does not have. */
export const UPSTREAM_TRANSPORTS: Readonly<Record<string, string>> = {
  findings: missing("sf-processor's exporter to the IBM Cloud Security and Compliance Center Findings API (removed in sf-processor 0.7)"),
  kafka: missing("sf-processor's Kafka exporter (its OpenTelemetry build)"),
};

/** Encoders (`format`) of sf-processor that sfprocessor does not have. */
export const UPSTREAM_FORMATS: Readonly<Record<string, string>> = {
  otel: missing("sf-processor's OpenTelemetry encoder (its OpenTelemetry build)"),
  occurrence: missing("sf-processor's Findings occurrence format (removed with the findings exporter)"),
};

/** Handlers that sf-processor loads as Go plugins (`handlerlibpath`); sfprocessor loads JS plugins. */
export const UPSTREAM_HANDLERS: Readonly<Record<string, string>> = {
  printer: "sf-processor's example handler, a Go plugin; sfprocessor's is a JS plugin: -plugdir dist/examples/plugins/printer",
};

const OLD_SYSLOG = "sf-processor's old syslog keys, ignored by sf-processor 0.7 too: use syslog.<key>";

/**
 * Attributes of sf-processor's configs that sfprocessor ignores, and why (a key, or a prefix ending
 * in '.'). Everything else unknown is warned about as a plain unknown attribute.
 */
export const UPSTREAM_ATTRIBUTES: Readonly<Record<string, string>> = {
  proto: OLD_SYSLOG,
  tag: OLD_SYSLOG,
  host: OLD_SYSLOG,
  port: OLD_SYSLOG,
  type: "sf-processor's old exporter key, ignored by sf-processor 0.7 too: use export",
  source: OLD_SYSLOG,
  'findings.': "the findings exporter's settings; that exporter is not available in sfprocessor",
  'kafka.': "the Kafka exporter's settings (sf-processor's OpenTelemetry build); not available in sfprocessor",
  actiondir: 'a directory of Go action plugins (.so); sfprocessor loads JS actions with -plugdir',
  action_dir: 'a directory of Go action plugins (.so); sfprocessor loads JS actions with -plugdir',
  handlerlibpath: 'a directory of Go handler plugins (.so); sfprocessor loads JS handlers with -plugdir',
  'bench.': "sf-processor's rule benchmarking (with -perflog); not available in sfprocessor",
};

/** Why sfprocessor ignores an attribute of an sf-processor config, or undefined for an unknown one. */
export function upstreamAttribute(key: string): string | undefined {
  if (UPSTREAM_ATTRIBUTES[key] !== undefined) return UPSTREAM_ATTRIBUTES[key];
  const dot = key.indexOf('.');
  return dot > 0 ? UPSTREAM_ATTRIBUTES[key.slice(0, dot + 1)] : undefined;
}

/** ` (<what>; see docs/migration.md)` for an sf-processor name in `table`, else ''. */
export function upstreamNote(table: Readonly<Record<string, string>>, name: string): string {
  const what = table[name];
  return what === undefined ? '' : ` (${what}; see ${MIGRATION_DOC})`;
}
