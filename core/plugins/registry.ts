/**
 * Plugin registry: every processor, handler, channel type, driver, encoder, transport and policy
 * action is looked up here by name. Built-ins register through the same calls as plugins loaded at run time.
 */
import { PluginError } from '../errors.js';
import type { Catalogue, ChannelType, DriverFactory, HandlerFactory, Lookup, ProcessorFactory } from '../pipeline/types.js';
import type { EncoderFactory, TransportFactory } from '../export/types.js';
import type { ActionFactory } from '../policy/policyset.js';
import type { PluginKind } from '../api.js';

export class RegistryError extends PluginError {}

class Table<T extends { name: string }> implements Lookup<T> {
  private readonly items = new Map<string, T>();
  constructor(private readonly kind: PluginKind) {}
  add(item: T): void {
    if (!/^[A-Za-z][A-Za-z0-9_.-]*$/.test(item.name)) throw new RegistryError(`invalid ${this.kind} name '${item.name}'`);
    if (this.items.has(item.name)) throw new RegistryError(`${this.kind} '${item.name}' is already registered`);
    this.items.set(item.name, item);
  }
  get(name: string): T | undefined {
    return this.items.get(name);
  }
  names(): string[] {
    return [...this.items.keys()].sort();
  }
}

export class Registry implements Catalogue {
  readonly processors = new Table<ProcessorFactory>('processor');
  readonly handlers = new Table<HandlerFactory>('handler');
  readonly channels = new Table<ChannelType>('channel');
  readonly drivers = new Table<DriverFactory>('driver');
  readonly encoders = new Table<EncoderFactory>('encoder');
  readonly transports = new Table<TransportFactory>('transport');
  /** Rule actions from plugins (the built-in `alert` and `tag` live in core/policy). */
  readonly actions = new Table<ActionFactory>('action');

  attributeOwners(): string[] {
    return [...this.handlers.names(), ...this.encoders.names(), ...this.transports.names(), ...this.actions.names()];
  }
}
