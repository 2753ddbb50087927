// testkit/redis.ts
// Real redis-server processes on free ports, with nothing kept on disk, and every exchange with
// them on ioredis: one-off commands that never retry, INFO parsing, MONITOR counts. Tests never
// use the Redis on 6379: they stay hermetic. Kill and restart keep the port, as an outage would.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { freePort } from './ports';
import { waitFor } from './wait';

export const REDIS_SERVER_BIN = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
const HOST = '127.0.0.1';

export interface NodeAddress { host: string; port: number }

export function redisServerAvailable(): boolean {
  return spawnSync(REDIS_SERVER_BIN, ['--version'], { stdio: 'ignore' }).status === 0;
}

export function requireRedisServer(): void {
  if (!redisServerAvailable()) {
    throw new Error(`redis-server was not found (${REDIS_SERVER_BIN}); install it (apt-get install redis-server) or set REDIS_SERVER_BIN`);
  }
}

// Every process started here, so that a run dying before its `after` hooks (an uncaught
// exception, mocha bailing out) still leaves no redis-server behind: 'exit' handlers run on those.
const liveProcesses = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  liveProcesses.add(child);
  child.once('exit', () => liveProcesses.delete(child));
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const leftover of liveProcesses) {
      try { leftover.kill('SIGKILL'); } catch { /* already gone */ }
    }
  });
}

/** A client that connects once and never retries or queues: it fails fast against a node that is down. */
function oneShotClient(port: number): Redis {
  const client = new Redis({
    host: HOST, port, lazyConnect: true, enableOfflineQueue: false, enableReadyCheck: false,
    maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000, commandTimeout: 10_000,
  });
  client.on('error', () => { /* reported by the rejected command */ });
  return client;
}

/**
 * One command on one node through a short-lived connection: admin commands must fail fast against
 * a node a test has just killed, not wait for it to come back. Replies as ioredis decodes them
 * (strings, arrays, numbers, null).
 */
export async function redisCommand(port: number, command: string, ...args: Array<string | number>): Promise<unknown> {
  const client = oneShotClient(port);
  try {
    await client.connect();
    return await client.call(command, ...args.map(String));
  } finally {
    client.disconnect();
  }
}

/** `field:value` lines of INFO / CLUSTER INFO as a map. */
export function parseInfo(text: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of String(text).split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1).trim());
  }
  return fields;
}

/** One redis-server process (a standalone server, a cluster node or a sentinel), killed by its pid. Keeps the tail of its log. */
export class RedisServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private logTail = '';

  constructor(readonly port: number, private readonly args: readonly string[], readonly label = 'redis-server') {}

  get url(): string { return `redis://${HOST}:${this.port}`; }
  get address(): NodeAddress { return { host: HOST, port: this.port }; }
  get pid(): number | undefined { return this.child?.pid; }
  get running(): boolean { return this.child !== undefined; }
  /** The last few kB the process logged, for failure messages. */
  get logs(): string { return this.logTail; }

  /** Starts the process (again, after kill or stop: same port, same arguments) and waits for PING. */
  async start(): Promise<this> {
    requireRedisServer();
    const child = spawn(REDIS_SERVER_BIN, [...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    track(child);
    const keep = (chunk: Buffer): void => { this.logTail = (this.logTail + chunk.toString('utf8')).slice(-8192); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    try {
      await waitFor(`${this.label} on ${this.port} answering PING`, 10_000, async () => {
        if (child.exitCode !== null) throw new Error(`${this.label} exited: ${this.logTail}`);
        return (await redisCommand(this.port, 'PING')) === 'PONG' ? true : undefined;
      }, 25);
    } catch (error: unknown) {
      await this.kill();
      throw error;
    }
    return this;
  }

  command(command: string, ...args: Array<string | number>): Promise<unknown> {
    return redisCommand(this.port, command, ...args);
  }

  /** SIGKILL by pid, as a crash would. Resolves once the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await this.exited;
    this.child = undefined;
  }

  /** SIGTERM, as an orderly shutdown. */
  stop(): Promise<void> {
    return this.kill('SIGTERM');
  }
}

/** The arguments of a standalone server on `port` that keeps nothing on disk. */
export function standaloneArgs(port: number, extraArgs: readonly string[] = []): string[] {
  return ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--daemonize', 'no', ...extraArgs];
}

export async function startRedis(extraArgs: readonly string[] = []): Promise<RedisServer> {
  const port = await freePort();
  return new RedisServer(port, standaloneArgs(port, extraArgs)).start();
}

export type CommandCalls = Record<string, number>;

/** What a server has spent so far: INFO's CPU and commandstats' calls. Deltas give a run's cost. */
export interface RedisSpent {
  /** used_cpu_user + used_cpu_sys, µs. */
  readonly cpuMicros: number;
  /** Every command executed, those run inside scripts included. */
  readonly commands: number;
  /** Script calls (EVALSHA, EVAL): each one a client's command. */
  readonly scriptCalls: number;
}

export async function redisSpent(port: number): Promise<RedisSpent> {
  const info = parseInfo(await redisCommand(port, 'INFO', 'everything'));
  const callsOf = (field: string | undefined): number => Number(/calls=(\d+)/.exec(field ?? '')?.[1] ?? 0);
  let commands = 0;
  for (const [name, field] of info) if (name.startsWith('cmdstat_') && name !== 'cmdstat_info') commands += callsOf(field);
  return {
    cpuMicros: Math.round((Number(info.get('used_cpu_user')) + Number(info.get('used_cpu_sys'))) * 1e6),
    commands,
    scriptCalls: callsOf(info.get('cmdstat_evalsha')) + callsOf(info.get('cmdstat_eval')),
  };
}

export interface MonitorCount {
  /** Commands clients sent (one round trip each, pipelining aside). */
  readonly fromClients: number;
  /** Commands run inside Lua scripts (INFO commandstats counts these too, which is why MONITOR is used). */
  readonly fromScripts: number;
  /** Client commands by name. */
  readonly byCommand: CommandCalls;
  /** Resolves once the MONITOR connection is closed (a closing one can still get feed lines). */
  stop(): Promise<void>;
}

/**
 * A connection in MONITOR mode. A command another client sends just as MONITOR is answered (a
 * gateway's ioredis sends INFO as it connects) can reach ioredis before it has switched modes, and
 * it rejects with "Command queue state error": then it is asked again.
 */
async function monitoringClient(port: number, attempts = 3): Promise<Redis> {
  const watcher = new Redis({ host: HOST, port, monitor: true, enableReadyCheck: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  try {
    await new Promise<void>((resolve, reject) => {
      watcher.once('monitoring', () => resolve());
      watcher.once('error', reject);
      watcher.once('end', () => reject(new Error(`MONITOR on ${port}: connection closed`)));
    });
    return watcher;
  } catch (error: unknown) {
    watcher.disconnect();
    if (attempts <= 1) throw error;
    return monitoringClient(port, attempts - 1);
  }
}

/**
 * Counts what reaches the server on `port` from now until `stop()`, with MONITOR: a client's
 * command has the client's address as its source, one a script ran has `lua`. INFO and MONITOR
 * themselves are left out.
 */
export async function monitor(port: number): Promise<MonitorCount> {
  const watcher = await monitoringClient(port);
  // A feed line that reaches a connection ioredis is closing is reported as an error: the count
  // is over by then.
  watcher.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => watcher.once('end', () => resolve()));
  const count = { fromClients: 0, fromScripts: 0, byCommand: {} as CommandCalls, stop: async () => { watcher.disconnect(); await closed; } };
  watcher.on('monitor', (_time: string, args: string[], source: string) => {
    const command = (args[0] ?? '').toLowerCase();
    if (source === 'lua') { count.fromScripts += 1; return; }
    if (command === 'info' || command === 'monitor') return;
    count.fromClients += 1;
    count.byCommand[command] = (count.byCommand[command] ?? 0) + 1;
  });
  return count;
}
