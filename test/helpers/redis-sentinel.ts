// test/helpers/redis-sentinel.ts
// A real Sentinel group (1 primary, 1 replica, 3 sentinels) from the redis-server binary.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from '../../testkit/ports';
import { type NodeAddress, parseInfo, RedisServer, requireRedisServer } from '../../testkit/redis';
import { waitFor } from '../../testkit/wait';

const HOST = '127.0.0.1';
export interface SentinelStartOptions {
  name?: string;
  downAfterMs?: number;
  failoverTimeoutMs?: number;
}

/**
 * One primary, one replica (`--replicaof`) and three sentinels with quorum 2, each sentinel with
 * its own generated sentinel.conf (sentinels rewrite their config file as they learn).
 */
export class RedisSentinelTopology {
  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly dataNodes: readonly RedisServer[],
    readonly sentinels: readonly RedisServer[],
  ) {}

  static async start(options: SentinelStartOptions = {}): Promise<RedisSentinelTopology> {
    requireRedisServer();
    const name = options.name ?? 'mymaster';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gateway-sentinel-'));
    const [primaryPort, replicaPort, ...sentinelPorts] = await freePorts(5) as [number, number, number, number, number];
    const dataArgs = (port: number): string[] => [
      '--port', String(port), '--bind', HOST, '--daemonize', 'no', '--dir', dir, '--save', '', '--appendonly', 'no',
    ];
    const primary = new RedisServer(primaryPort, dataArgs(primaryPort), 'sentinel-group primary');
    const replica = new RedisServer(replicaPort, [...dataArgs(replicaPort), '--replicaof', HOST, String(primaryPort)], 'sentinel-group replica');
    const sentinels = sentinelPorts.map((port, i) => {
      const file = path.join(dir, `sentinel-${port}.conf`);
      fs.writeFileSync(file, [
        `port ${port}`,
        `bind ${HOST}`,
        'daemonize no',
        `dir ${dir}`,
        `sentinel monitor ${name} ${HOST} ${primaryPort} 2`,
        `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 3000}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'));
      return new RedisServer(port, [file, '--sentinel'], `sentinel ${i}`);
    });
    const topology = new RedisSentinelTopology(dir, name, [primary, replica], sentinels);
    try {
      await primary.start();
      await replica.start();
      await waitFor('replica linked to the primary', 10_000, async () =>
        parseInfo(await replica.command('INFO', 'replication')).get('master_link_status') === 'up' ? true : undefined);
      await Promise.all(sentinels.map((sentinel) => sentinel.start()));
      // Failover needs each sentinel to know the replica and a majority of sentinels to know each
      // other (hello messages every 2 s): wait for both instead of trusting a fixed delay.
      await waitFor('sentinels agreeing on the group', 20_000, async () => {
        for (const sentinel of sentinels) {
          const fields = RedisSentinelTopology.fieldsOf(await sentinel.command('SENTINEL', 'MASTER', name));
          if (fields.get('num-other-sentinels') !== '2' || fields.get('num-slaves') !== '1') return undefined;
        }
        return true;
      }, 200);
      return topology;
    } catch (error: unknown) {
      await topology.stop();
      throw error;
    }
  }

  private static fieldsOf(reply: unknown): Map<string, string> {
    const flat = reply as string[];
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), String(flat[i + 1]));
    return fields;
  }

  /** `host:port` of each sentinel, as the REDIS_SENTINELS variable takes them. */
  get sentinelsSetting(): string { return this.sentinels.map((s) => `${HOST}:${s.port}`).join(','); }
  get sentinelAddresses(): NodeAddress[] { return this.sentinels.map((s) => s.address); }

  /** The primary's address according to the first sentinel that answers. */
  async primaryAddress(): Promise<NodeAddress> {
    let lastError: unknown;
    for (const sentinel of this.sentinels.filter((s) => s.running)) {
      try {
        const [host, port] = await sentinel.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name) as [string, string];
        return { host, port: Number(port) };
      } catch (error: unknown) {
        lastError = error;
      }
    }
    throw new Error(`no sentinel answered: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
  }

  async primary(): Promise<RedisServer> {
    const { port } = await this.primaryAddress();
    const node = this.dataNodes.find((n) => n.port === port);
    if (!node) throw new Error(`sentinels name an unknown primary on port ${port}`);
    return node;
  }

  /** SIGKILLs the current primary; returns the killed process and when it died (Date.now()). */
  async killPrimary(): Promise<{ killed: RedisServer; killedAt: number }> {
    const killed = await this.primary();
    await killed.kill('SIGKILL');
    return { killed, killedAt: Date.now() };
  }

  /**
   * Polls the sentinels until they name a primary other than `formerPort` and that node answers as
   * a master; returns it and when the promotion was seen.
   */
  async waitForPromotion(formerPort: number, timeoutMs = 20_000): Promise<{ primary: RedisServer; promotedAt: number }> {
    return waitFor(`sentinels promoting a replica of ${formerPort}`, timeoutMs, async () => {
      const { port } = await this.primaryAddress();
      if (port === formerPort) return undefined;
      const node = this.dataNodes.find((n) => n.port === port);
      if (!node) return undefined;
      const role = parseInfo(await node.command('INFO', 'replication')).get('role');
      return role === 'master' ? { primary: node, promotedAt: Date.now() } : undefined;
    }, 25);
  }

  async flushAll(): Promise<void> {
    await (await this.primary()).command('FLUSHALL');
  }

  /** Kills every process by pid and removes the temporary directory. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.dataNodes].map((p) => p.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
