/**
 * The inflate worker (core/avro/inflater.ts): takes queued slots of the shared buffer in order,
 * inflates each slot's compressed bytes into its output area and marks it done. On any failure of
 * its own it marks itself dead, so the main thread inflates what is left.
 */
import { workerData } from 'node:worker_threads';
import { inflateRawSync } from 'node:zlib';
import { CTL, OUT_CAP, QUEUE, SLOTS, SlotState, inOffset, outOffset } from './inflater.js';

const shared = workerData as SharedArrayBuffer;
const ctl = new Int32Array(shared, 0, CTL.WORDS);
const bytes = Buffer.from(shared);

function inflateSlot(slot: number): void {
  const st = CTL.STATE + 3 * slot;
  const at = inOffset(slot);
  let state: SlotState;
  let out: Buffer;
  try {
    const raw = bytes.subarray(at, at + ctl[st + 1]!);
    // one output chunk for a typical block instead of zlib's 16 KiB steps
    out = inflateRawSync(raw, { chunkSize: Math.min(OUT_CAP, Math.max(64 << 10, raw.length * 8)) });
    state = out.length > OUT_CAP ? SlotState.TooBig : SlotState.Done;
  } catch (e) {
    out = Buffer.from((e as Error).message, 'utf8').subarray(0, OUT_CAP);
    state = SlotState.Failed;
  }
  if (state !== SlotState.TooBig) out.copy(bytes, outOffset(slot));
  ctl[st + 2] = state === SlotState.TooBig ? 0 : out.length;
  Atomics.store(ctl, st, state);
  Atomics.notify(ctl, st);
}

try {
  let head = 0;
  Atomics.store(ctl, CTL.READY, 1);
  for (;;) {
    // sleeps until the main thread queues a slot (the process may exit meanwhile: the worker is
    // unref'd and is stopped with it)
    while (Atomics.load(ctl, CTL.TAIL) === head) Atomics.wait(ctl, CTL.TAIL, head);
    const slot = ctl[CTL.RING + (head % QUEUE)]!;
    head++;
    inflateSlot(slot);
  }
} catch {
  Atomics.store(ctl, CTL.DEAD, 1);
  for (let s = 0; s < SLOTS; s++) Atomics.notify(ctl, CTL.STATE + 3 * s);
}
