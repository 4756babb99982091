/**
 * Running plugins the way a user does: compiled example plugins copied into a fresh -plugdir, the
 * real CLI in a child process (cwd: the repository, so example configs' relative paths resolve), and
 * a webhook endpoint that fails on request.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from './corpus.js';

export const CLI = join(ROOT, 'dist', 'core', 'cli', 'sfprocessor.js');
const TMP = mkdtempSync(join(tmpdir(), 'sfp-plugins-test-'));

/** Remove every directory tempDir() made (call once, after the last test). */
export const removeTemp = () => rmSync(TMP, { recursive: true, force: true });

/** A new empty directory for one test. */
export const tempDir = (name: string) => mkdtempSync(join(TMP, `${name}-`));

/** A fresh -plugdir holding copies of the compiled examples (dist/examples/plugins/<name>/<name>.js), nothing else. */
export function examplePlugdir(...names: string[]): string {
  const dir = tempDir('plugdir');
  for (const n of names) copyFileSync(join(ROOT, 'dist', 'examples', 'plugins', n, `${n}.js`), join(dir, `${n}.js`));
  return dir;
}

/** Write files (relative path → text) into dir; returns dir. */
export function writeFiles(dir: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

/** A pipeline config file in a temp dir. */
export function configFile(pipeline: object[], extra: object = {}): string {
  const file = join(tempDir('config'), 'pipeline.json');
  writeFileSync(file, JSON.stringify({ pipeline, ...extra }, null, 1));
  return file;
}

/** The environment without attribute overrides a developer's shell might set. */
function childEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(sysflowreader|policyengine|exporter|summary|printer|webhook|now)_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv(env), encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI without blocking this process (an in-test server must keep answering). */
export function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

export const lines = (s: string) => s.split('\n').filter((l) => l !== '');

/** What the endpoint does with request n (1-based): answer 200, answer another status, or drop the connection. */
export type Reply = 200 | 400 | 429 | 500 | 503 | 'drop';

export interface Hook {
  readonly url: string;
  /** Accepted requests, in arrival order. */
  readonly accepted: { n: number; headers: IncomingHttpHeaders; body: string }[];
  /** Requests answered with an error or dropped. */
  readonly refused: { n: number; reply: Reply }[];
  close(): Promise<void>;
}

export async function webhookEndpoint(plan: (n: number) => Reply): Promise<Hook> {
  const accepted: Hook['accepted'] = [];
  const refused: Hook['refused'] = [];
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const k = ++n;
      const reply = plan(k);
      if (reply === 'drop') {
        refused.push({ n: k, reply });
        req.socket.destroy();
      } else if (reply !== 200) {
        refused.push({ n: k, reply });
        res.writeHead(reply, { 'content-type': 'text/plain' }).end('not now');
      } else {
        accepted.push({ n: k, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    accepted,
    refused,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
