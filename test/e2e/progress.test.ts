/**
 * The progress line of sfprocessor and sysprint: drawn in place on a terminal (a pseudo-terminal
 * from `script`), updated, with log lines written above it, and cleared at the end; absent when
 * stderr is not a terminal or with -quiet; one plain line per 5 s when forced with -progress.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatProgress, progressMode } from '../../core/cli/progress.js';
import { FIXTURES, ROOT } from '../helpers/corpus.js';

const CLI = join(ROOT, 'dist', 'core', 'cli', 'sfprocessor.js');
const SYSPRINT = join(ROOT, 'dist', 'core', 'cli', 'sysprint.js');
const K8S = join(FIXTURES, 'traces', 'sf-processor', 'k8s_small.sf');
const COPIES = 150;
const CLEAR = '\r\x1b[K';

const noScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).error ? 'script(1) (util-linux) not installed: no pseudo-terminal' : false;

/** A directory of COPIES copies of k8s_small.sf with a truncated one in the middle (a warning mid-run). */
const input = (() => {
  const dir = mkdtempSync(join(tmpdir(), 'sfp-progress-'));
  const data = join(dir, 'in');
  mkdirSync(data);
  for (let i = 1; i <= COPIES; i++) copyFileSync(K8S, join(data, `k8s-${String(i).padStart(3, '0')}.sf`));
  writeFileSync(join(data, 'k8s-075b-cut.sf'), readFileSync(K8S).subarray(0, 60_000));
  const out = join(dir, 'alerts.json');
  const config = join(dir, 'pipeline.json');
  writeFileSync(
    config,
    JSON.stringify({
      pipeline: [
        { processor: 'sysflowreader', handler: 'flattener', in: 'sysflow sysflowchan', out: 'flat flattenerchan' },
        { processor: 'policyengine', in: 'flat flattenerchan', out: 'evt eventchan', mode: 'alert', policies: join(ROOT, 'policies', 'runtimeintegrity') },
        { processor: 'exporter', in: 'evt eventchan', export: 'file', format: 'json', 'file.path': out },
      ],
    }),
  );
  return { dir, data, out, config };
})();

const shQuote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Run a command line on a pseudo-terminal; what the terminal received (stdout of the command goes to /dev/null). */
function onTerminal(argv: string[]): { code: number | null; screen: string } {
  const cmd = `${argv.map(shQuote).join(' ')} > /dev/null`;
  const r = spawnSync('script', ['-q', '-e', '-c', cmd, '/dev/null'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, COLUMNS: '200' } });
  return { code: r.status, screen: r.stdout };
}

/** The progress lines drawn: every `\r\x1b[K<program>: …` up to the next control sequence or line end. */
function draws(screen: string, program: string): string[] {
  const re = new RegExp(`\\r\\x1b\\[K(${program}: \\d+/\\d+ files?, [^\\r\\n\\x1b]*)`, 'g');
  return [...screen.matchAll(re)].map((m) => m[1]!);
}

test('formatProgress: files, bytes, records, rate, alerts and ETA; parts only when known', () => {
  const p = { filesTotal: 6, filesDone: 2, bytesTotal: 400e6, bytesRead: 100e6, records: 1_234_567, alerts: 12 };
  assert.equal(formatProgress(p, 10), '2/6 files, 100.0 MB of 400.0 MB (25%), 1,234,567 records, 123,457 records/s, 12 alerts, ETA 0:30');
  assert.equal(formatProgress({ ...p, alerts: 1, bytesRead: 10e6 }, 3725 / 39), '2/6 files, 10.0 MB of 400.0 MB (2%), 1,234,567 records, 12,926 records/s, 1 alert, ETA 1:02:05');
  // a live driver: no files, no size, no ETA; no policy engine: no alerts
  assert.equal(formatProgress({ filesTotal: 0, filesDone: 0, bytesTotal: 0, bytesRead: 0, records: 24, alerts: null }, 2), '24 records, 12 records/s');
  assert.equal(progressMode({ quiet: false, forced: false, isTTY: true }), 'tty');
  assert.equal(progressMode({ quiet: false, forced: false, isTTY: false }), null);
  assert.equal(progressMode({ quiet: false, forced: true, isTTY: false }), 'lines');
  assert.equal(progressMode({ quiet: true, forced: true, isTTY: true }), null);
});

test('sfprocessor on a terminal: the progress line updates, warnings are written above it, and it is cleared before the summary', { skip: noScript }, () => {
  const plain = spawnSync(process.execPath, [CLI, '-config', input.config, input.data], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(plain.status, 0, plain.stderr);
  // not a terminal: no progress at all
  assert.doesNotMatch(plain.stderr, /\x1b\[K|\d+\/\d+ files/);
  const alerts = readFileSync(input.out, 'utf8').split('\n').filter(Boolean).length;
  assert.ok(alerts > COPIES, `${alerts} alerts`);

  const { code, screen } = onTerminal([process.execPath, CLI, '-config', input.config, input.data]);
  assert.equal(code, 0, screen);
  const lines = draws(screen, 'sfprocessor');
  assert.ok(lines.length >= 2, `updated at least twice: ${JSON.stringify(screen.slice(0, 2000))}`);
  let prev = { done: -1, records: -1, alerts: -1 };
  for (const l of lines) {
    const m = /^sfprocessor: (\d+)\/(\d+) files, [\d.]+ [kMG]?B of [\d.]+ MB \((\d+)%\), ([\d,]+) records, [\d,]+ records\/s, ([\d,]+) alerts?(, ETA \d+:\d\d)?$/.exec(l);
    assert.ok(m, `progress line: ${l}`);
    const cur = { done: Number(m[1]), records: Number(m[4]!.replaceAll(',', '')), alerts: Number(m[5]!.replaceAll(',', '')) };
    assert.equal(Number(m[2]), COPIES + 1, 'files total');
    // (a redraw after a log line repeats the line as it was)
    assert.ok(cur.done >= prev.done && cur.records >= prev.records && cur.alerts >= prev.alerts, `monotonic: ${l}`);
    assert.ok(cur.alerts <= alerts);
    prev = cur;
  }
  assert.notEqual(lines[0], lines.at(-1), 'the line changed');
  // the warning about the cut file starts on a line of its own, and the line is redrawn after it
  const warn = screen.indexOf('sfprocessor: warn: ');
  assert.ok(warn > 0, 'the cut file is warned about');
  assert.equal(screen.slice(warn - CLEAR.length, warn), CLEAR, 'the progress line is cleared before the warning');
  assert.match(screen.slice(warn), /^sfprocessor: warn: [^\n]*k8s-075b-cut\.sf: [^\n]*\n\r?\r\x1b\[Ksfprocessor: \d+\/\d+ files/, 'redrawn after it');
  // cleared at the end: the summary follows a clear, and nothing is drawn after it
  const summary = screen.indexOf('sfprocessor: info: processed ');
  assert.ok(summary > 0);
  assert.equal(screen.slice(summary - CLEAR.length, summary), CLEAR, 'cleared before the summary');
  assert.doesNotMatch(screen.slice(summary), /\x1b\[K/);
  assert.equal(readFileSync(input.out, 'utf8').split('\n').filter(Boolean).length, alerts * 2, "the same alerts (appended to the first run's)");
});

test('sfprocessor -quiet on a terminal: no progress line and only errors; -progress off a terminal: plain lines', { skip: noScript }, () => {
  const q = onTerminal([process.execPath, CLI, '-quiet', '-config', input.config, input.data]);
  assert.equal(q.code, 0, q.screen);
  assert.doesNotMatch(q.screen, /\x1b\[K|files, |info:|warn:/);
  const f = spawnSync(process.execPath, [CLI, '-progress', '-config', input.config, input.data], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(f.status, 0, f.stderr);
  assert.doesNotMatch(f.stderr, /\x1b/, 'no terminal control sequences in a log');
  assert.match(f.stderr, /^sfprocessor: 0\/151 files, [\d.]+ kB of [\d.]+ MB \(0%\), [\d,]+ records, [\d,]+ records\/s, [\d,]+ alerts?\n/m, 'a plain line, at the first batch');
});

test('sysprint on a terminal: the same progress line, cleared at the end; none off a terminal', { skip: noScript }, () => {
  // -f KE: every record is read and joined, few are written (the test times the progress, not JSON)
  const { code, screen } = onTerminal([process.execPath, SYSPRINT, '-o', 'json', '-f', 'KE', '-w', join(input.dir, 'out.jsonl'), input.data]);
  assert.equal(code, 0, screen);
  const lines = draws(screen, 'sysprint');
  assert.ok(lines.length >= 2, `updated at least twice: ${JSON.stringify(screen.slice(0, 2000))}`);
  for (const l of lines) assert.match(l, /^sysprint: \d+\/151 files, [\d.]+ [kMG]?B of [\d.]+ MB \(\d+%\), [\d,]+ records, [\d,]+ records\/s(, ETA \d+:\d\d)?$/);
  assert.ok(screen.endsWith(CLEAR) || /\r\x1b\[K[^\x1b]*$/.test(screen), 'cleared at the end');
  assert.doesNotMatch(screen.slice(screen.lastIndexOf(CLEAR) + CLEAR.length), /files, /);
  const plain = spawnSync(process.execPath, [SYSPRINT, '-o', 'json', '-f', 'KE', '-w', join(input.dir, 'out2.jsonl'), input.data], { encoding: 'utf8' });
  assert.doesNotMatch(plain.stderr, /\x1b|files, /);
});
