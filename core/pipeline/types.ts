/**
 * The pipeline's contracts: processors and handlers transform batches flowing through typed
 * channels, drivers produce the first batches. Built-in and user plugins register the same way
 * (core/plugins/registry.ts); encoder and transport factories live in core/export/types.ts, action
 * factories in core/policy/policyset.ts.
 */
import type { Logger } from '../log.js';
import type { ConfigSchema } from './settings.js';
import type { EntityCache } from '../sysflow/cache.js';
import type { SysFlowEvent, SysFlowRecord } from '../sysflow/types.js';

/** Plugin attributes: strings, as in sf-processor configs (numbers and booleans are accepted and stringified). */
export type Attributes = Readonly<Record<string, string>>;

export interface StageContext {
  /** `#<index> <processor>` — how errors name the plugin. */
  readonly label: string;
  readonly log: Logger;
  readonly attrs: Attributes;
  /** Set by `-test`: validate settings, but open nothing and write nothing. */
  readonly checkOnly?: boolean;
  /** Set by `-test`: where a plugin prints what it checked (e.g. the policy report). */
  readonly report?: (text: string) => void;
}

/** Emits one output batch to every `out` channel of the plugin (fan-out). */
export type Emit<T> = (batch: T[]) => void;

export interface Processor<I = unknown, O = unknown> {
  /** Handle one input batch; output goes through emit (zero, one or several batches). */
  process(batch: readonly I[], emit: Emit<O>): void;
  /** End of input: flush what is held back. Output may still be emitted. */
  end?(emit: Emit<O>): void | Promise<void>;
  /** While saturated (e.g. a slow transport), a promise that resolves when it can take more. */
  ready?(): Promise<void> | null;
  /** Release resources; called once after the pipeline drained (or failed). */
  close?(): void | Promise<void>;
  /** After close(): records given to it that it could neither deliver nor keep (a sink's failures; exit code 3). */
  undelivered?(): number;
  /** Records that matched a rule so far (the progress line's alerts). */
  alerts?(): number;
}

export interface ProcessorFactory {
  readonly name: string;
  readonly description: string;
  /** Channel type read; null = the type is given by the handler (sysflowreader). */
  readonly inType: string;
  /** Channel type written, or null for sinks; a function when it depends on attributes (handler). */
  readonly outType: string | null | ((attrs: Attributes) => string | null);
  /** Attributes understood: validated with it, and their help derived from it (helpOf). */
  readonly config: ConfigSchema;
  create(ctx: StageContext): Processor | Promise<Processor>;
  /** The module file of a plugin; undefined for a built-in (plugins check their own attributes). */
  readonly origin?: string;
}

/** Handlers plug into the sysflowreader: entity-aware record → output record. */
export interface Handler<O = unknown> {
  /** An event record, after the cache has been updated with everything before it. */
  event(rec: SysFlowEvent, cache: EntityCache, out: O[]): void;
  end?(): void;
}

export interface HandlerFactory {
  readonly name: string;
  readonly description: string;
  readonly outType: string;
  readonly config: ConfigSchema;
  create(ctx: StageContext): Handler;
}

export interface ChannelType {
  readonly name: string;
  /** What one element is. */
  readonly element: string;
}

/** How far a driver is through its input; a driver reading files keeps it current (progress line). */
export interface InputProgress {
  filesTotal: number;
  filesDone: number;
  bytesTotal: number;
  /** Bytes of the input read so far (of files done, plus the offset in the current one). */
  bytesRead: number;
}

export interface DriverRunContext {
  readonly log: Logger;
  /** Fill in when the input has a known size (files); left at zeros by live drivers. */
  readonly progress: InputProgress;
  readonly attrs: Attributes;
  /** Aborted on SIGINT/SIGTERM: stop reading, return; the pipeline then drains. */
  readonly signal: AbortSignal;
  /** Push one batch of records into the pipeline; resolves when the pipeline can take more. */
  push(batch: SysFlowRecord[]): Promise<void>;
}

export interface DriverFactory {
  readonly name: string;
  readonly description: string;
  readonly outType: string;
  readonly config: ConfigSchema;
  /**
   * Input arrives at its sender's pace (a socket), not as fast as it can be read: the end-of-run
   * summary then gives the rate over the time spent processing, not over the idle wall time.
   */
  readonly live?: boolean;
  /** Validate attributes and the input path without reading data (used by -test too). */
  check?(path: string | undefined, attrs: Attributes): void;
  run(path: string | undefined, ctx: DriverRunContext): Promise<void>;
  /** The module file of a plugin; undefined for a built-in (a plugin driver may need no PATH). */
  readonly origin?: string;
}

/** A table of components by name (the registry's, seen read-only). */
export interface Lookup<T> {
  get(name: string): T | undefined;
  names(): string[];
}

/** What the pipeline runner needs of the registry: the stages, their handlers and channel types. */
export interface Catalogue {
  readonly processors: Lookup<ProcessorFactory>;
  readonly handlers: Lookup<HandlerFactory>;
  readonly channels: Lookup<ChannelType>;
  /** Components configured on another's entry, as `<name>.x` attributes (handlers, encoders, transports, actions). */
  attributeOwners(): readonly string[];
}
