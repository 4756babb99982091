/**
 * Command-line parsing in the style of Go's flag package, which sf-processor users know:
 * `-flag value`, `--flag value`, `-flag=value`, `--flag=value`; boolean flags take no value.
 * Flags may appear anywhere; `--` ends them.
 */
import { closest } from '../util/suggest.js';
import { EXIT, UsageError } from '../errors.js';

export interface FlagSpec {
  name: string;
  alias?: string[];
  boolean?: boolean;
  help: string;
  value?: string;
}

export { UsageError };

export interface Parsed {
  flags: Map<string, string | true>;
  positional: string[];
}

export function parseArgs(argv: readonly string[], specs: readonly FlagSpec[]): Parsed {
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    for (const a of s.alias ?? []) byName.set(a, s);
  }
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const spec = byName.get(name);
    if (!spec) {
      const near = name.length > 2 ? closest(name, byName.keys(), name.length > 3 ? 3 : 2) : '';
      throw new UsageError(`unknown flag ${arg.slice(0, arg.length - body.length)}${name}${near ? ` (did you mean -${near}?)` : ''}`);
    }
    if (spec.boolean) {
      if (eq >= 0) {
        const v = body.slice(eq + 1).toLowerCase();
        if (!['true', 'false', '1', '0'].includes(v)) throw new UsageError(`flag -${name} takes no value (or true/false), got '${body.slice(eq + 1)}'`);
        if (v === 'true' || v === '1') flags.set(spec.name, true);
        else flags.delete(spec.name);
      } else flags.set(spec.name, true);
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined) throw new UsageError(`flag -${name} needs a value`);
      i++;
    }
    flags.set(spec.name, value);
  }
  return { flags, positional };
}

/**
 * parseArgs for a CLI's main(): on a usage error, print the one-line form
 * `<program>: error: <message>; see <program> -h` to stderr and return exit status 2.
 */
export function parseOrUsage(program: string, argv: readonly string[], specs: readonly FlagSpec[]): Parsed | number {
  try {
    return parseArgs(argv, specs);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${program}: error: ${e.message}; see ${program} -h\n`);
    return EXIT.usage;
  }
}

export function usageTable(specs: readonly FlagSpec[]): string {
  const rows = specs.map((s) => [`  -${s.name}${s.value ? ' ' + s.value : ''}${s.alias?.length ? ', -' + s.alias.join(', -') : ''}`, s.help]);
  const w = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  return rows.map(([a, b]) => a!.padEnd(w) + b).join('\n');
}
