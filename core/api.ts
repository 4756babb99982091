/**
 * The sfprocessor plugin API: what a plugin module exports and what it receives.
 *
 *   import type { ProcessorPlugin } from 'sfprocessor/plugin';
 *   export default { kind: 'processor', name: 'count', version: '1.0.0', in: 'eventchan', create(ctx) { … } } satisfies ProcessorPlugin;
 *
 * A plugin is an ES module in `-plugdir` (drivers: `-driverdir`) whose default export is one of the
 * descriptors below or an array of them. Everything a plugin needs at run time (logger, typed
 * settings, field getters, JSON encoding, delivery with retry) comes through its context, so the
 * module needs no runtime import of sfprocessor and works from any directory. This file holds the
 * types (erased when a TypeScript plugin is compiled) and the loader's constants. Guide:
 * docs/plugins.md. The loader that enforces these shapes is core/plugins/loader.ts.
 */
import type { Logger } from './log.js';
import type { FlatRecord, MatchedRule } from './flatten/flatrecord.js';
import type { EntityCache } from './sysflow/cache.js';
import type { SysFlowEvent, SysFlowRecord } from './sysflow/types.js';
import type { Emit, Processor, Handler, InputProgress } from './pipeline/types.js';
import type { Message } from './export/types.js';
import type { SendResult } from './export/delivery.js';

export type { Logger, FlatRecord, MatchedRule, EntityCache, SysFlowEvent, SysFlowRecord, Emit, Processor, Handler, Message, InputProgress };
export type {
  SFHeader,
  Container,
  Pod,
  Process,
  File,
  OID,
  ProcessEvent,
  ProcessFlow,
  NetworkFlow,
  NetworkEvent,
  FileFlow,
  FileEvent,
  K8sEvent,
} from './sysflow/types.js';

/** Version of this API; a plugin may check `ctx.apiVersion` (semver: a new major breaks plugins). */
export const PLUGIN_API_VERSION = '1.0.0';

export type PluginKind = 'processor' | 'handler' | 'channel' | 'driver' | 'encoder' | 'transport' | 'action';
export const PLUGIN_KINDS: readonly PluginKind[] = ['processor', 'handler', 'channel', 'driver', 'encoder', 'transport', 'action'];

/** Channel types every pipeline has (plugins can add more with a `channel` descriptor). */
export type BuiltinChannelType = 'sysflowchan' | 'flattenerchan' | 'eventchan';

// ---------------------------------------------------------------------------------------------
// Settings

/** Attribute schemas: the same for plugins and built-ins (see core/pipeline/settings.ts). */
export type { AttributeSchema, ConfigSchema, Config } from './pipeline/settings.js';
import type { Config, ConfigSchema } from './pipeline/settings.js';

// ---------------------------------------------------------------------------------------------
// Contexts

/** What every factory receives. */
export interface PluginContext<C = Config> {
  /** The plugin's name. */
  readonly name: string;
  /** The module file the plugin came from. */
  readonly file: string;
  /** Where in the pipeline configuration the plugin is used, e.g. `plugin #1 (summary)`. */
  readonly label: string;
  /** pino logger; lines go to stderr as `sfprocessor: <level>: <message>`. */
  readonly log: Logger;
  /** The entry's raw attributes (strings), globals included. */
  readonly attrs: Readonly<Record<string, string>>;
  /** The attributes checked against `config`, converted, with defaults (empty without `config`). */
  readonly config: C;
  /** True under `-test`: check settings, but open, connect and write nothing. */
  readonly checkOnly: boolean;
  /** API version of the running sfprocessor. */
  readonly apiVersion: string;
  /** A getter for an `sf.*` policy field (docs/fields.md), e.g. `field('sf.proc.exe')`; throws on unknown names. */
  field(name: string): (r: FlatRecord) => unknown;
  /** The record in the built-in `json` export format, one line without line end. */
  json(r: FlatRecord): string;
}

export interface HandlerContext<C = Config> extends PluginContext<C> {
  /** The record the built-in `flattener` would output for this event (to write `flattenerchan`). */
  flatten(rec: SysFlowEvent, cache: EntityCache): FlatRecord;
}

export interface DriverContext<C = Config> extends PluginContext<C> {
  /** Aborted on SIGINT/SIGTERM: stop reading and return; the pipeline then drains. */
  readonly signal: AbortSignal;
  /** Push a batch of records; resolves when the pipeline can take more (await it). */
  push(batch: SysFlowRecord[]): Promise<void>;
  /** For the progress line: set filesTotal/bytesTotal when the input's size is known, then keep filesDone/bytesRead current. */
  readonly progress: InputProgress;
}

/** Result of DeliveryLink.send for batches that were only partly accepted. */
export type { SendResult };

/** A connection the delivery queue sends batches over. */
export interface DeliveryLink {
  /**
   * Ship a batch in order. Resolve (nothing, or a SendResult) when it was accepted; reject when it
   * was not: the whole batch is sent again on a new link after a backoff.
   */
  send(batch: readonly Message[]): Promise<SendResult | void>;
  close?(): Promise<void> | void;
}

export interface DeliveryOptions {
  /** Names the target in logs (default: the transport name). */
  readonly where?: string;
  /** Messages per send (default 500). */
  readonly batchSize?: number;
}

export interface TransportContext<C = Config> extends PluginContext<C> {
  /**
   * The built-in delivery queue (as the syslog and es transports use): bounded memory queue,
   * optional disk spool, reconnect and retry with exponential backoff, backpressure, drain at
   * shutdown, counters in the log — configured by the exporter's `queue.size`, `buffer.dir`,
   * `buffer.maxsize`, `retry.max`, `drain.timeout`, `stats.interval`. Return its result from create().
   */
  deliver(connect: () => DeliveryLink | Promise<DeliveryLink>, opts?: DeliveryOptions): RecordTransport;
}

// ---------------------------------------------------------------------------------------------
// What factories return

/** A rule that matched, as actions see it. */
export interface RuleInfo {
  readonly name: string;
  readonly desc: string;
  /** 0 informational … 4 critical. */
  readonly priority: number;
  readonly tags: readonly string[];
}

/** Runs on a record a rule matched; change the record through `record.addTag(tag)`. */
export type ActionFn = (record: FlatRecord, rule: RuleInfo) => void;

export interface RecordEncoder {
  /** One record as text (or bytes), without a line end: files and the terminal get one line each. */
  encode(r: FlatRecord): string | Uint8Array;
  /** A stable document id, for transports that use one. */
  docId?(r: FlatRecord): string;
}

/** A transport that takes one encoded record at a time. */
export interface RecordTransport {
  send(m: Message): void;
  /** While saturated, a promise that resolves when it can take more (backpressure); else null. */
  ready?(): Promise<void> | null;
  /** Deliver what is held and release resources (end of the run). */
  close?(): Promise<void> | void;
}

// ---------------------------------------------------------------------------------------------
// Descriptors: the default export

interface PluginBase {
  /** Letters, digits, `_`, `.`, `-`; starts with a letter. Unique per kind, built-ins included. */
  readonly name: string;
  /** Semantic version, e.g. `1.0.0`. */
  readonly version: string;
  readonly description?: string;
  /** The plugin API it was written for, e.g. `^1` or `^1.2`: checked when it loads. */
  readonly api?: string;
}

/** A pipeline stage: reads batches from a channel of type `in`, writes to channels of type `out`. */
export interface ProcessorPlugin<C = Config> extends PluginBase {
  readonly kind: 'processor';
  /** Channel type read, e.g. `eventchan` (records after the policy engine). */
  readonly in: BuiltinChannelType | (string & {});
  /** Channel type written; omit (or null) for a sink. */
  readonly out?: BuiltinChannelType | (string & {}) | null;
  readonly config?: ConfigSchema;
  /** Called once per pipeline entry before data flows (also under `-test`, with `checkOnly`). */
  create(ctx: PluginContext<C>): Processor<any, any> | Promise<Processor<any, any>>;
}

/** Plugs into `sysflowreader` (`"handler": "<name>"`): sees every flow/event with the entity cache. */
export interface HandlerPlugin<C = Config> extends PluginBase {
  readonly kind: 'handler';
  /** Channel type the reader then writes (e.g. `flattenerchan` with ctx.flatten()). */
  readonly out: BuiltinChannelType | (string & {});
  readonly config?: ConfigSchema;
  create(ctx: HandlerContext<C>): Handler<any>;
}

/** A channel type that processors, handlers and drivers can name as their `in`/`out`. */
export interface ChannelPlugin extends PluginBase {
  readonly kind: 'channel';
  /** What one element is (documentation). */
  readonly element?: string;
}

/** An input (`-driver <name>` or the config's `drivers` section); loaded from `-driverdir` only. */
export interface DriverPlugin<C = Config> extends PluginBase {
  readonly kind: 'driver';
  /** Channel type pushed (default `sysflowchan`: decoded SysFlow records). */
  readonly out?: BuiltinChannelType | (string & {});
  readonly config?: ConfigSchema;
  /** Validate settings and the input path without reading (also `-test`). */
  check?(path: string | undefined, ctx: PluginContext<C>): void;
  run(path: string | undefined, ctx: DriverContext<C>): Promise<void>;
}

/** An export format (`"format": "<name>"` on the exporter). */
export interface EncoderPlugin<C = Config> extends PluginBase {
  readonly kind: 'encoder';
  readonly config?: ConfigSchema;
  create(ctx: PluginContext<C>): RecordEncoder;
}

/** An export destination (`"export": "<name>"` on the exporter). */
export interface TransportPlugin<C = Config> extends PluginBase {
  readonly kind: 'transport';
  readonly config?: ConfigSchema;
  /** Extra checks under `-test` (the config schema is checked already). */
  check?(ctx: PluginContext<C>): void;
  create(ctx: TransportContext<C>): RecordTransport | Promise<RecordTransport>;
}

/** A policy rule action (`actions: [<name>]` in a rule). */
export interface ActionPlugin<C = Config> extends PluginBase {
  readonly kind: 'action';
  readonly config?: ConfigSchema;
  /** Called once per policy engine (with that entry's attributes); returns the function rules run. */
  create(ctx: PluginContext<C>): ActionFn;
}

export type Plugin = ProcessorPlugin<any> | HandlerPlugin<any> | ChannelPlugin | DriverPlugin<any> | EncoderPlugin<any> | TransportPlugin<any> | ActionPlugin<any>;

/** What a plugin module's default export may be. */
export type PluginModule = Plugin | readonly Plugin[];
