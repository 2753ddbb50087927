// testkit/redis-cluster.ts
// A real Redis Cluster of primaries from the redis-server binary, with a live slot migration: the
// Cluster tests and `npm run bench:store` run on it.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePorts } from './ports';
import { type NodeAddress, parseInfo, RedisServer, requireRedisServer } from './redis';
import { sleep, waitFor } from './wait';

const HOST = '127.0.0.1';

const CLUSTER_SLOTS = 16384;

export interface ClusterNode {
  readonly process: RedisServer;
  readonly port: number;
  readonly busPort: number;
  readonly id: string;
}

export interface SlotMigration { slot: number; from: ClusterNode; to: ClusterNode; keysMoved: number }

export interface ClusterStartOptions {
  primaries?: number;
  nodeTimeoutMs?: number;
}

/**
 * A Redis Cluster of primaries without replicas. Bus ports are chosen explicitly
 * (`--cluster-port`): the default port + 10000 falls outside the port range for the high ports
 * freePort() hands out.
 */
export class RedisClusterTopology {
  private constructor(readonly dir: string, readonly nodes: readonly ClusterNode[]) {}

  static async start(options: ClusterStartOptions = {}): Promise<RedisClusterTopology> {
    requireRedisServer();
    const count = options.primaries ?? 3;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gateway-cluster-'));
    const ports = await freePorts(count * 2);
    const processes = Array.from({ length: count }, (_, i) => {
      const port = ports[i * 2] as number;
      const busPort = ports[i * 2 + 1] as number;
      return {
        busPort,
        process: new RedisServer(port, [
          '--port', String(port), '--bind', HOST, '--daemonize', 'no', '--dir', dir,
          '--save', '', '--appendonly', 'no',
          '--cluster-enabled', 'yes', '--cluster-port', String(busPort),
          '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 5000),
        ], `cluster node ${i}`),
      };
    });
    try {
      await Promise.all(processes.map(({ process }) => process.start()));
      const nodes: ClusterNode[] = [];
      for (const { process, busPort } of processes) {
        nodes.push({ process, port: process.port, busPort, id: String(await process.command('CLUSTER', 'MYID')) });
      }
      const topology = new RedisClusterTopology(dir, nodes);
      await topology.assignSlotsAndMeet();
      return topology;
    } catch (error: unknown) {
      await Promise.all(processes.map(({ process }) => process.kill()));
      fs.rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  private async assignSlotsAndMeet(): Promise<void> {
    const count = this.nodes.length;
    for (const [i, node] of this.nodes.entries()) {
      const first = Math.floor((CLUSTER_SLOTS * i) / count);
      const last = Math.floor((CLUSTER_SLOTS * (i + 1)) / count) - 1;
      // Distinct epochs up front, as `redis-cli --cluster create` does, so no epoch collision has
      // to be resolved before the slot map settles.
      await node.process.command('CLUSTER', 'SET-CONFIG-EPOCH', i + 1);
      await node.process.command('CLUSTER', 'ADDSLOTSRANGE', first, last);
    }
    const [first, ...others] = this.nodes;
    if (!first) throw new Error('a cluster needs at least one node');
    for (const node of others) await first.process.command('CLUSTER', 'MEET', HOST, node.port, node.busPort);
    await this.waitUntilConsistent(20_000);
  }

  /** Every node reports cluster_state:ok, knows every other node and agrees on the slot map. */
  async waitUntilConsistent(timeoutMs = 10_000): Promise<void> {
    await waitFor('cluster state ok and one slot map on every node', timeoutMs, async () => {
      const maps: string[] = [];
      for (const node of this.nodes) {
        const info = parseInfo(await node.process.command('CLUSTER', 'INFO'));
        if (info.get('cluster_state') !== 'ok' || info.get('cluster_known_nodes') !== String(this.nodes.length)
          || info.get('cluster_slots_assigned') !== String(CLUSTER_SLOTS)) return undefined;
        maps.push(JSON.stringify(await this.slotMap(node)));
      }
      return maps.every((map) => map === maps[0]) ? true : undefined;
    }, 100);
  }

  /** `host:port` of each node, as the REDIS_CLUSTER_NODES variable takes them. */
  get nodesSetting(): string { return this.nodes.map((node) => `${HOST}:${node.port}`).join(','); }
  get seeds(): NodeAddress[] { return this.nodes.map((node) => ({ host: HOST, port: node.port })); }

  nodeByPort(port: number): ClusterNode {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no cluster node on port ${port}`);
    return node;
  }

  /** [first slot, last slot, owner's port] ranges as `node` sees them, sorted. */
  async slotMap(node: ClusterNode = this.nodes[0] as ClusterNode): Promise<Array<[number, number, number]>> {
    const reply = await node.process.command('CLUSTER', 'SLOTS') as Array<[number, number, [string, number, string]]>;
    return reply.map(([start, end, owner]) => [start, end, owner[1]] as [number, number, number]).sort((a, b) => a[0] - b[0]);
  }

  async keySlot(key: string): Promise<number> {
    return Number(await (this.nodes[0] as ClusterNode).process.command('CLUSTER', 'KEYSLOT', key));
  }

  async ownerOfSlot(slot: number, askedNode?: ClusterNode): Promise<ClusterNode> {
    const range = (await this.slotMap(askedNode)).find(([start, end]) => slot >= start && slot <= end);
    if (!range) throw new Error(`slot ${slot} is not assigned`);
    return this.nodeByPort(range[2]);
  }

  async countKeysInSlot(slot: number): Promise<number> {
    return Number(await (await this.ownerOfSlot(slot)).process.command('CLUSTER', 'COUNTKEYSINSLOT', slot));
  }

  /** Keys held by each primary (port → keys). Test data is small, so KEYS is fine here. */
  async keysByNode(pattern = '*'): Promise<Map<number, string[]>> {
    const byNode = new Map<number, string[]>();
    for (const node of this.nodes) byNode.set(node.port, (await node.process.command('KEYS', pattern) as string[]).sort());
    return byNode;
  }

  /** FLUSHALL on every primary still running (a test may have killed one). */
  async flushAll(): Promise<void> {
    for (const node of this.nodes) if (node.process.running) await node.process.command('FLUSHALL');
  }

  /**
   * Moves one slot to another primary the way `redis-cli --cluster reshard` does: IMPORTING on the
   * target, MIGRATING on the source, MIGRATE of its keys in batches, then SETSLOT NODE on the
   * target, the source and every other node. `pauseMs` holds each half-moved state that long, so
   * clients running meanwhile meet ASK redirects (slot migrating, key gone) and then MOVED.
   */
  async migrateSlot(slot: number, to: ClusterNode, options: { pauseMs?: number } = {}): Promise<SlotMigration> {
    const pauseMs = options.pauseMs ?? 0;
    const from = await this.ownerOfSlot(slot);
    if (from.port === to.port) throw new Error(`slot ${slot} is already on ${to.port}`);
    await to.process.command('CLUSTER', 'SETSLOT', slot, 'IMPORTING', from.id);
    await from.process.command('CLUSTER', 'SETSLOT', slot, 'MIGRATING', to.id);
    if (pauseMs > 0) await sleep(pauseMs);
    let keysMoved = 0;
    for (;;) {
      const keys = await from.process.command('CLUSTER', 'GETKEYSINSLOT', slot, 100) as string[];
      if (keys.length === 0) break;
      await from.process.command('MIGRATE', HOST, to.port, '', 0, 5000, 'REPLACE', 'KEYS', ...keys);
      keysMoved += keys.length;
    }
    if (pauseMs > 0) await sleep(pauseMs);
    await to.process.command('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    await from.process.command('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    for (const node of this.nodes) {
      if (node !== to && node !== from) await node.process.command('CLUSTER', 'SETSLOT', slot, 'NODE', to.id);
    }
    await this.waitUntilConsistent();
    return { slot, from, to, keysMoved };
  }

  /** Kills every node by pid and removes the temporary directory. Safe to call twice. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.process.kill()));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
