import { closeSync, openSync, writeSync } from 'node:fs';

/** Where text output goes. */
export interface LineSink {
  write(s: string): void;
  /** True once the reader went away (EPIPE): producers stop early. */
  readonly closedPipe: boolean;
}

/** Collects output in memory (tests, in-process use). */
export class StringSink implements LineSink {
  readonly closedPipe = false;
  private parts: string[] = [];
  write(s: string): void {
    this.parts.push(s);
  }
  text(): string {
    return this.parts.join('');
  }
}

/**
 * Buffered synchronous text output to a file descriptor. Lines are gathered and written in ~1 MiB
 * chunks: one syscall per chunk instead of per line. A closed pipe (EPIPE, e.g. `| head`) ends
 * output quietly.
 */
export class TextSink implements LineSink {
  private parts: string[] = [];
  private pending = 0;
  closedPipe = false;
  private readonly fd: number;
  private readonly owned: boolean;

  constructor(target: number | string) {
    if (typeof target === 'number') {
      this.fd = target;
      this.owned = false;
    } else {
      this.fd = openSync(target, 'w');
      this.owned = true;
    }
  }

  write(s: string): void {
    this.parts.push(s);
    this.pending += s.length;
    if (this.pending >= 1 << 20) this.flush();
  }

  flush(): void {
    if (this.pending === 0 || this.closedPipe) {
      this.parts = [];
      this.pending = 0;
      return;
    }
    const buf = Buffer.from(this.parts.join(''), 'utf8');
    this.parts = [];
    this.pending = 0;
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(this.fd, buf, off, buf.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        if (code === 'EPIPE') {
          this.closedPipe = true;
          return;
        }
        throw e;
      }
    }
  }

  close(): void {
    this.flush();
    if (this.owned) closeSync(this.fd);
  }
}
