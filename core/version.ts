import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

function findPackageVersion(): string {
  // dist/core/version.js or core/version.ts: package.json is two or three levels up.
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'sfprocessor' && pkg.version) return pkg.version;
    } catch {
      /* keep looking upwards */
    }
    dir = dirname(dir);
  }
  return '0.0.0';
}

export const VERSION = findPackageVersion();
/** Avro schema version we write and read natively; JSON export schema version; ECS version. */
export const AVRO_SCHEMA_VERSION = 5;
export const JSON_SCHEMA_VERSION = 5;
export const ECS_VERSION = '8.2';
