/**
 * sf-processor's OID strings: XXH64 (seed 0) of decimal pid followed by decimal createTS, as 16 hex
 * digits. xxhash-wasm needs an async start, done once by initHashing() before records flow.
 */
import xxhash from 'xxhash-wasm';
import { exactToString } from './i64.js';

let h64: ((input: string) => string) | null = null;
let h64Raw: ((input: Uint8Array) => bigint) | null = null;

/** The one xxhash-wasm start (OIDs, ECS document ids). */
export async function initHashing(): Promise<void> {
  if (h64) return;
  const api = await xxhash();
  h64 = (s: string) => api.h64ToString(s);
  h64Raw = (b: Uint8Array) => api.h64Raw(b);
}

/** XXH64 (seed 0) of bytes as 16 lowercase hex digits. */
export function h64Hex(bytes: Uint8Array): string {
  if (!h64Raw) throw new Error('initHashing() must complete before documents are hashed');
  return h64Raw(bytes).toString(16).padStart(16, '0');
}

export function oidHash(pid: number, createTS: number, createTSNs: number): string {
  if (!h64) throw new Error('initHashing() must complete before OIDs are hashed');
  return h64(String(pid) + exactToString(createTS, createTSNs));
}
