/**
 * The progress line of sfprocessor and sysprint on long runs: files done / total, bytes read,
 * records and their rate, alerts, ETA. On a terminal it is one line redrawn in place (at most 4
 * times a second) and cleared at the end; log lines are written above it. Forced onto a stream that
 * is not a terminal (`-progress`), it is a plain line every 5 s instead, which a log file can keep.
 */
import { writeSync } from 'node:fs';
import { setStatusLine, type StatusLine } from '../log.js';
import type { RunProgress } from '../pipeline/pipeline.js';

export type ProgressMode = 'tty' | 'lines';

/** Off unless stderr is a terminal; `-quiet` turns it off, `-progress` on. */
export function progressMode(opts: { quiet: boolean; forced: boolean; isTTY: boolean }): ProgressMode | null {
  if (opts.quiet) return null;
  if (opts.isTTY) return 'tty';
  return opts.forced ? 'lines' : null;
}

const CLEAR = '\r\x1b[K';

export class ProgressLine implements StatusLine {
  private readonly started: number;
  private last = 0;
  private text = '';
  private shown = false;
  private readonly every: number;

  constructor(
    private readonly program: string,
    private readonly mode: ProgressMode,
    private readonly write: (s: string) => void = (s) => writeSync(2, s),
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    this.every = mode === 'tty' ? 250 : 5000;
    if (mode === 'tty') setStatusLine(this);
  }

  /** Called per batch; draws at most once per interval. */
  update(p: Readonly<RunProgress>): void {
    const t = this.now();
    if (t - this.last < this.every) return;
    this.last = t;
    this.text = `${this.program}: ${formatProgress(p, (t - this.started) / 1000)}`;
    if (this.mode === 'tty') {
      // a line wider than the terminal would wrap, and \r then redraws only its last row
      const width = process.stderr.columns;
      if (width && this.text.length >= width) this.text = `${this.text.slice(0, width - 2)}…`;
      this.show();
    } else this.write(`${this.text}\n`);
  }

  hide(): void {
    if (this.shown) this.write(CLEAR);
    this.shown = false;
  }

  show(): void {
    if (!this.text) return;
    this.write(`${CLEAR}${this.text}`);
    this.shown = true;
  }

  /** End of the run: the line goes away (the summary follows). */
  finish(): void {
    if (this.mode !== 'tty') return;
    setStatusLine(null);
    this.hide();
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');

function bytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

function duration(s: number): string {
  const t = Math.max(0, Math.round(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * `2/6 files, 120.5 MB of 400.0 MB (30%), 1,234,567 records, 345,678 records/s, 12 alerts, ETA 0:12`;
 * the file and ETA parts only when the input's size is known, alerts only with a policy engine.
 */
export function formatProgress(p: Readonly<RunProgress>, elapsed: number): string {
  const parts: string[] = [];
  if (p.filesTotal > 0) {
    parts.push(`${p.filesDone}/${p.filesTotal} file${p.filesTotal === 1 ? '' : 's'}`);
    const pct = p.bytesTotal > 0 ? Math.min(100, Math.floor((100 * p.bytesRead) / p.bytesTotal)) : 100;
    parts.push(`${bytes(p.bytesRead)} of ${bytes(p.bytesTotal)} (${pct}%)`);
  }
  parts.push(`${int(p.records)} records`);
  if (elapsed > 0) parts.push(`${int(p.records / elapsed)} records/s`);
  if (p.alerts !== null) parts.push(`${int(p.alerts)} alert${p.alerts === 1 ? '' : 's'}`);
  if (p.bytesTotal > 0 && p.bytesRead > 0 && elapsed >= 1) {
    parts.push(`ETA ${duration(((p.bytesTotal - p.bytesRead) * elapsed) / p.bytesRead)}`);
  }
  return parts.join(', ');
}
