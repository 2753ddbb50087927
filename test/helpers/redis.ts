// test/helpers/redis.ts
// A real redis-server per test file, on a free port, with nothing kept on disk. Tests never use
// the Redis on 6379: they stay hermetic. Kill/restart keep the port, as an outage would.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { freePort } from './ports';
import { sleep } from './http';

export const REDIS_SERVER_BIN = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';

export function redisServerAvailable(): boolean {
  return spawnSync(REDIS_SERVER_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(readonly port: number, private readonly extraArgs: string[] = []) {}

  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  async start(): Promise<this> {
    if (!redisServerAvailable()) {
      throw new Error(`redis-server was not found (${REDIS_SERVER_BIN}); install it (apt-get install redis-server) or set REDIS_SERVER_BIN`);
    }
    const child = spawn(REDIS_SERVER_BIN, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...this.extraArgs,
    ], { stdio: 'ignore' });
    this.child = child;
    this.exited = new Promise((resolve) => child.on('exit', () => resolve()));
    await this.waitForPing(5000);
    return this;
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGKILL');
    await this.exited;
    this.child = undefined;
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    this.child.kill('SIGTERM');
    await this.exited;
    this.child = undefined;
  }

  /** Sends one command with redis-cli-free RESP and returns the raw reply text. */
  command(...args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.port, '127.0.0.1');
      let reply = '';
      socket.setTimeout(2000, () => { socket.destroy(); reject(new Error('redis command timed out')); });
      socket.on('data', (chunk: Buffer) => { reply += chunk.toString('utf8'); if (reply.endsWith('\r\n')) { socket.end(); resolve(reply); } });
      socket.on('error', reject);
      socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
    });
  }

  private async waitForPing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        if ((await this.command('PING')).startsWith('+PONG')) return;
      } catch {
        await sleep(25);
      }
    }
    throw new Error(`redis-server on ${this.port} did not answer PING`);
  }
}

export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  return new RedisServer(await freePort(), extraArgs).start();
}
