/**
 * A real redis-server for the capture tests: a private instance on a free loopback port, no
 * persistence, in a temp dir; restartable on the same port (to test reconnecting clients).
 *
 *   const r = await startRedis();  ...r.port...; await r.publish('capture', '{…}'); await r.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim() || null;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Send one command (RESP array of bulk strings) and read one reply line. */
function command(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.once('error', reject);
    c.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n')) {
        c.destroy();
        resolve(got.slice(0, got.indexOf('\r\n')));
      }
    });
    c.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

export interface RedisServer {
  readonly port: number;
  /** PUBLISH; resolves with the number of subscribers that got it. */
  publish(channel: string, message: string): Promise<number>;
  /** Subscribers of a channel (PUBSUB NUMSUB). */
  subscribers(channel: string): Promise<number>;
  /** Stop the server (the port stays reserved for restart). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<RedisServer> {
  if (!REDIS_SERVER) throw new Error('redis-server is not installed (apt-get install redis-server)');
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sfp-redis-'));
  let child: ChildProcess | null = null;
  const up = async () => {
    child = spawn(REDIS_SERVER!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const until = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await command(port, 'PING')) === '+PONG') return;
      } catch {}
      if (Date.now() > until) throw new Error(`redis-server did not answer on port ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const down = async () => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await up();
  return {
    port,
    async publish(channel, message) {
      return Number((await command(port, 'PUBLISH', channel, message)).slice(1));
    },
    async subscribers(channel) {
      // reply: *2 $len channel :N — read it whole
      return new Promise((resolve, reject) => {
        const c = connect(port, '127.0.0.1');
        let got = '';
        c.once('error', reject);
        c.on('data', (d) => {
          got += d.toString();
          const m = /:(\d+)\r\n/.exec(got);
          if (m) {
            c.destroy();
            resolve(Number(m[1]));
          }
        });
        c.write(`*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`);
      });
    },
    kill: down,
    restart: up,
    async stop() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
