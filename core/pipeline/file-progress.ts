/**
 * Keeps an InputProgress current while files are read one after the other: totals from their sizes
 * at the start, then the bytes of the files done plus the offset in the current one.
 */
import { statSync } from 'node:fs';
import type { InputProgress } from './types.js';

export class FileProgress {
  private readonly sizes: number[];
  /** Bytes of the files before the current one. */
  private before = 0;
  private current = 0;

  constructor(
    files: readonly string[],
    private readonly p: InputProgress,
  ) {
    this.sizes = files.map((f) => {
      try {
        return statSync(f).size;
      } catch {
        return 0; // the reader reports it when it opens the file
      }
    });
    p.filesTotal = files.length;
    p.bytesTotal = this.sizes.reduce((a, b) => a + b, 0);
  }

  /** File `i` is next (called for every file in order, skipped ones included). */
  file(i: number): void {
    for (; this.current < i; this.current++) this.before += this.sizes[this.current]!;
    this.p.filesDone = i;
    this.p.bytesRead = this.before;
  }

  /** Read up to `offset` in the current file. */
  at(offset: number): void {
    this.p.bytesRead = this.before + offset;
  }

  /** Every file read. */
  finish(): void {
    this.p.filesDone = this.p.filesTotal;
    this.p.bytesRead = this.p.bytesTotal;
  }
}
