/**
 * sf-processor's profiling flags on Node: `-cpuprofile FILE` writes a V8 CPU profile of the run
 * (a .cpuprofile JSON that Chrome DevTools and speedscope open), `-memprofile FILE` a V8 heap
 * snapshot taken after the pipeline finished (as sf-processor writes its heap profile then).
 */
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';

/** Starts profiling; the returned function stops it and writes the profile to `file`. */
export async function startCpuProfile(file: string): Promise<() => Promise<void>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(file, JSON.stringify(profile));
  };
}

export function writeMemProfile(file: string): void {
  writeHeapSnapshot(file);
}
