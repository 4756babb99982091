/**
 * Inflating deflate blocks on a second core: one worker thread (core/avro/inflate-worker.ts) shared
 * by every reader of the process, fed through shared memory.
 *
 * Why not messages: a worker's answer reaches the main thread only when it returns to its event
 * loop, and a reader decoding block after block does not; each block then cost a round trip
 * through the loop (measured: ~60 µs a block, more than half of what inflating it here costs).
 * Why not zlib's async API: it calls back every 16 KiB of output, which cost more still.
 *
 * So blocks go through slots in a SharedArrayBuffer: the main thread copies a block's compressed
 * bytes into a free slot and queues it; the worker inflates queued slots in order into the slot's
 * output area; the main thread takes the output in place (waiting with Atomics.wait in the rare
 * case that it is not ready) and frees the slot once it has decoded it. Nothing is allocated or
 * posted per block on the main thread.
 *
 * Whatever the worker cannot do is done on the calling thread, with the same result: blocks that
 * arrive before the worker is up, blocks too large for a slot, blocks beyond the free slots, and
 * every block after the worker failed.
 */
import { Worker } from 'node:worker_threads';
import { inflateRawSync } from 'node:zlib';

/** Slots: enough for every reader's read-ahead plus the block being decoded. */
export const SLOTS = 16;
/** Per slot: compressed bytes in, inflated bytes out (sf-collector's blocks: ~80 KB inflated). */
const IN_CAP = 512 << 10;
export const OUT_CAP = 2 << 20;
/** Queue of submitted slots (main → worker), a ring of slot numbers. */
export const QUEUE = 64;

/** Control words (Int32Array over the first bytes of the shared buffer). */
export const CTL = {
  /** 1 once the worker waits for work. */
  READY: 0,
  /** 1 when the worker failed and stopped: the main thread takes over. */
  DEAD: 1,
  /** Slots queued so far (the worker has taken those below its own count). */
  TAIL: 2,
  /** Per slot s: state at STATE + 3s, compressed length at +1, output length at +2. */
  STATE: 4,
  /** The queue ring. */
  RING: 4 + 3 * SLOTS,
  WORDS: 4 + 3 * SLOTS + QUEUE,
} as const;

export const enum SlotState {
  Free = 0,
  Queued = 1,
  /** Output length bytes of inflated data in the slot's output area. */
  Done = 2,
  /** zlib refused the data: its message (UTF-8) is in the output area. */
  Failed = 3,
  /** Inflated, but larger than OUT_CAP: inflate on the main thread. */
  TooBig = 4,
}

const CTL_BYTES = CTL.WORDS * 4;
export const inOffset = (slot: number): number => CTL_BYTES + slot * (IN_CAP + OUT_CAP);
export const outOffset = (slot: number): number => inOffset(slot) + IN_CAP;
const SHARED_BYTES = CTL_BYTES + SLOTS * (IN_CAP + OUT_CAP);

/** What an inflated block turned out to be: its bytes, or zlib's complaint about the input. */
export type Inflated = { readonly data: Buffer; readonly error?: undefined } | { readonly data?: undefined; readonly error: string };

/** A block handed to the inflater: a slot of the worker's, or already inflated here. */
export type Ticket = number | Inflated;

function inflateHere(raw: Uint8Array): Inflated {
  try {
    return { data: inflateRawSync(raw) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const WAIT_MS = 1000;

export class Inflater {
  private worker: Worker | null = null;
  private broken = false;
  private readonly shared = new SharedArrayBuffer(SHARED_BYTES);
  private readonly ctl = new Int32Array(this.shared, 0, CTL.WORDS);
  private readonly bytes = Buffer.from(this.shared);
  private readonly free: number[] = [];
  private tail = 0;
  /** Blocks inflated by the worker and on the calling thread. */
  readonly stats = { worker: 0, here: 0 };

  constructor() {
    for (let s = SLOTS - 1; s >= 0; s--) this.free.push(s);
  }

  /**
   * Hand over a block's compressed bytes (copied: the view may go after the call). Every ticket
   * must be taken (take) and then released (release), in any order.
   */
  submit(raw: Uint8Array): Ticket {
    const ctl = this.ctl;
    if (this.worker === null && !this.broken) this.start();
    if (this.broken || ctl[CTL.READY] !== 1 || ctl[CTL.DEAD] !== 0 || raw.length > IN_CAP || this.free.length === 0) {
      this.stats.here++;
      return inflateHere(raw);
    }
    const slot = this.free.pop()!;
    this.bytes.set(raw, inOffset(slot));
    const st = CTL.STATE + 3 * slot;
    ctl[st + 1] = raw.length;
    Atomics.store(ctl, st, SlotState.Queued);
    ctl[CTL.RING + (this.tail % QUEUE)] = slot;
    this.tail++;
    Atomics.store(ctl, CTL.TAIL, this.tail);
    Atomics.notify(ctl, CTL.TAIL);
    return slot;
  }

  /** The block's inflated bytes (valid until release) or error; waits for the worker if need be. */
  take(t: Ticket): Inflated {
    if (typeof t !== 'number') return t;
    const ctl = this.ctl;
    const st = CTL.STATE + 3 * t;
    let state = Atomics.load(ctl, st);
    while (state === SlotState.Queued) {
      if (Atomics.load(ctl, CTL.DEAD) !== 0) return this.here(t);
      Atomics.wait(ctl, st, SlotState.Queued, WAIT_MS);
      state = Atomics.load(ctl, st);
    }
    const len = ctl[st + 2]!;
    switch (state) {
      case SlotState.Done:
        this.stats.worker++;
        return { data: this.bytes.subarray(outOffset(t), outOffset(t) + len) };
      case SlotState.Failed:
        return { error: this.bytes.toString('utf8', outOffset(t), outOffset(t) + len) };
      default:
        return this.here(t);
    }
  }

  /** The slot may be reused (after its data was decoded). */
  release(t: Ticket): void {
    if (typeof t !== 'number') return;
    Atomics.store(this.ctl, CTL.STATE + 3 * t, SlotState.Free);
    this.free.push(t);
  }

  /** Inflate a slot's block on this thread (too big for the slot, or the worker stopped). */
  private here(slot: number): Inflated {
    this.stats.here++;
    const at = inOffset(slot);
    return inflateHere(this.bytes.subarray(at, at + this.ctl[CTL.STATE + 3 * slot + 1]!));
  }

  private start(): void {
    try {
      const w = new Worker(new URL('./inflate-worker.js', import.meta.url), { workerData: this.shared });
      // never what keeps the process alive: the main thread waits on shared memory, not on events
      w.unref();
      w.on('error', () => {
        this.broken = true;
      });
      w.on('exit', () => {
        this.broken = true;
      });
      this.worker = w;
    } catch {
      this.broken = true;
    }
  }
}

let shared: Inflater | null = null;

/** The process's inflater, its worker started on first use. */
export function inflater(): Inflater {
  return (shared ??= new Inflater());
}
