/**
 * A real redis-server for the capture tests: a private instance on a free loopback port, no
 * persistence, in a temp dir; restartable on the same port (to test reconnecting clients).
 *
 *   const r = await startRedis();  ...r.port...; await r.publish('capture', '{…}'); await r.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { anyTcpPort } from './rsyslog.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REDIS_SERVER = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).stdout.trim() || null;

/** Send one command (a RESP array of bulk strings); resolves with the reply once `complete` says it is whole. */
function command(port: number, args: readonly string[], complete = (reply: string) => reply.includes('\r\n')): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, '127.0.0.1');
    let got = '';
    c.once('error', reject);
    c.on('data', (d) => {
      got += d.toString();
      if (complete(got)) {
        c.destroy();
        resolve(got);
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
  const port = await anyTcpPort();
  const dir = mkdtempSync(join(tmpdir(), 'sfp-redis-'));
  let child: ChildProcess | null = null;
  const up = async () => {
    child = spawn(REDIS_SERVER!, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
    const until = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await command(port, ['PING'])) === '+PONG\r\n') return;
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
      return Number((await command(port, ['PUBLISH', channel, message])).slice(1, -2));
    },
    async subscribers(channel) {
      // the reply: *2, the channel as a bulk string, then :N
      const reply = await command(port, ['PUBSUB', 'NUMSUB', channel], (r) => /:\d+\r\n/.test(r));
      return Number(/:(\d+)\r\n/.exec(reply)![1]);
    },
    kill: down,
    restart: up,
    async stop() {
      await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
