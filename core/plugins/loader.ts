/**
 * Run-time plugins: every `*.js` / `*.mjs` module directly in `-plugdir` (and `-driverdir`) is
 * imported in name order; its default export is a descriptor (core/api.ts) or an array of them.
 * Each descriptor is checked, wrapped into the registry's factory shape and registered in the same
 * tables as the built-ins, so pipeline configs name plugins exactly like built-ins.
 *
 * Other files (`.d.ts`, `.map`, `.json`, READMEs) and subdirectories are not loaded: a plugin keeps
 * helper modules in a subdirectory and imports them relatively.
 *
 * Every error is one line naming the module file (and the plugin when known). Settings are checked
 * against the descriptor's `config` schema when the plugin is created — before data flows, and
 * under `-test` too. Run-time failures of plugin code name the file and plugin as well.
 */
import { PluginError } from '../errors.js';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../log.js';
import type { Registry } from './registry.js';
import { BUILTIN_ACTIONS } from '../policy/policyset.js';
import type { PluginKind } from '../api.js';
import { checkShape, messageOf } from './descriptor.js';
import { compileSettings } from './settings.js';
import { registerAction, registerChannel, registerDriver, registerEncoder, registerHandler, registerProcessor, registerTransport, type Origin } from './wrappers.js';

export { PluginError };

/** What was loaded, for logs and `-test`. */
export interface LoadedPlugin {
  readonly file: string;
  readonly kind: PluginKind;
  readonly name: string;
  readonly version: string;
  readonly description: string;
}

export interface PluginDirs {
  /** Processors, handlers, channels, encoders, transports, actions. */
  readonly plugdir?: string | undefined;
  /** Drivers. */
  readonly driverdir?: string | undefined;
}

/** Error text on one line (a multi-line message would break the one-line error contract). */

const TABLE: Record<PluginKind, (r: Registry) => { get(name: string): unknown; names(): string[] }> = {
  processor: (r) => r.processors,
  handler: (r) => r.handlers,
  channel: (r) => r.channels,
  driver: (r) => r.drivers,
  encoder: (r) => r.encoders,
  transport: (r) => r.transports,
  action: (r) => r.actions,
};

/** The modules of a plugin directory, in name order. */
function moduleFiles(dir: string, flag: string, log: Logger): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new PluginError(`-${flag} ${dir}: not a directory`);
    names = readdirSync(dir);
  } catch (e) {
    if (e instanceof PluginError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new PluginError(`-${flag} ${dir}: ${code === 'ENOENT' ? 'directory not found' : `cannot read the directory (${code ?? messageOf(e)})`}`);
  }
  const files: string[] = [];
  for (const n of names.sort()) {
    const p = join(dir, n);
    let isFile: boolean;
    try {
      isFile = statSync(p).isFile();
    } catch (e) {
      throw new PluginError(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? messageOf(e)})`); // e.g. a dangling link
    }
    if (/\.m?js$/.test(n) && isFile) files.push(p);
    else log.debug(`-${flag} ${dir}: '${n}' is not a plugin module (*.js, *.mjs); not loaded`);
  }
  return files;
}

async function importModule(file: string): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    const msg = messageOf(e);
    // Node older than 20.19 reads a .js outside a "type": "module" package as CommonJS
    const hint = /Cannot use import statement outside a module|Unexpected token 'export'/.test(msg)
      ? ` (Node read it as CommonJS: name it .mjs or put {"type": "module"} in a package.json beside it)`
      : '';
    throw new PluginError(`${file}: failed to load: ${msg}${hint}`);
  }
  if (mod.default === undefined) {
    const named = Object.keys(mod).filter((k) => k !== 'default' && k !== 'module.exports');
    throw new PluginError(`${file}: no default export (export default a plugin descriptor or an array of them${named.length ? `; found only named exports: ${named.join(', ')}` : ''})`);
  }
  return mod.default;
}

/**
 * Load `-plugdir` and `-driverdir` into the registry. Throws PluginError (one line naming the
 * file) at the first problem; nothing of a failed run is used.
 */
export async function loadPlugins(registry: Registry, dirs: PluginDirs, log: Logger): Promise<LoadedPlugin[]> {
  const loaded: LoadedPlugin[] = [];
  const byName = new Map<string, string>(); // `${kind} ${name}` → file
  const same = dirs.plugdir !== undefined && dirs.driverdir !== undefined && resolve(dirs.plugdir) === resolve(dirs.driverdir);
  const passes: { dir: string; flag: string; drivers: boolean; others: boolean }[] = [];
  if (same) passes.push({ dir: dirs.plugdir!, flag: 'plugdir', drivers: true, others: true });
  else {
    if (dirs.plugdir !== undefined) passes.push({ dir: dirs.plugdir, flag: 'plugdir', drivers: false, others: true });
    if (dirs.driverdir !== undefined) passes.push({ dir: dirs.driverdir, flag: 'driverdir', drivers: true, others: false });
  }
  const refs: { file: string; where: string; field: string; type: string }[] = [];
  for (const pass of passes) {
    for (const f of moduleFiles(pass.dir, pass.flag, log)) {
      const file = resolve(f);
      const def = await importModule(file);
      const list = Array.isArray(def) ? (def as unknown[]) : [def];
      if (list.length === 0) throw new PluginError(`${file}: the default export is an empty array (expected plugin descriptors)`);
      for (const [i, item] of list.entries()) {
        const d = checkShape(item, file, Array.isArray(def) ? i : null);
        const where = `${file}: ${d.kind} '${d.name}'`;
        if (d.kind === 'driver' && !pass.drivers) throw new PluginError(`${where}: drivers are loaded from -driverdir, not -plugdir`);
        if (d.kind !== 'driver' && !pass.others) throw new PluginError(`${where}: -driverdir holds drivers only; load a ${d.kind} from -plugdir`);
        const key = `${d.kind} ${d.name}`;
        if (byName.has(key)) throw new PluginError(`${where}: duplicate name: ${d.kind} '${d.name}' is already defined by ${byName.get(key)}`);
        if (TABLE[d.kind](registry).get(d.name) !== undefined || (d.kind === 'action' && BUILTIN_ACTIONS.has(d.name))) {
          throw new PluginError(`${where}: duplicate name: '${d.name}' is a built-in ${d.kind}; choose another name`);
        }
        const st = compileSettings(d, where);
        const o: Origin = { file, where, log: log.child({ plugin: d.name }) };
        switch (d.kind) {
          case 'processor':
            registerProcessor(registry, d, o, st);
            refs.push({ file, where, field: 'in', type: d.in });
            if (d.out) refs.push({ file, where, field: 'out', type: d.out });
            break;
          case 'handler':
            registerHandler(registry, d, o, st);
            refs.push({ file, where, field: 'out', type: d.out });
            break;
          case 'channel':
            registerChannel(registry, d, o);
            break;
          case 'driver':
            registerDriver(registry, d, o, st);
            refs.push({ file, where, field: 'out', type: d.out ?? 'sysflowchan' });
            break;
          case 'encoder':
            registerEncoder(registry, d, o, st);
            break;
          case 'transport':
            registerTransport(registry, d, o, st);
            break;
          case 'action':
            registerAction(registry, d, o, st);
            break;
        }
        byName.set(key, file);
        loaded.push({ file, kind: d.kind, name: d.name, version: d.version, description: d.description ?? '' });
        log.info(`loaded ${d.kind} '${d.name}' ${d.version} from ${file}`);
      }
    }
  }
  // channel types may come from any plugin file: checked once everything is registered
  for (const ref of refs) {
    if (!registry.channels.get(ref.type)) throw new PluginError(`${ref.where}: field '${ref.field}': unknown channel type '${ref.type}' (known: ${registry.channels.names().join(', ')})`);
  }
  return loaded;
}
