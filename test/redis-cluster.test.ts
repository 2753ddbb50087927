// test/redis-cluster.test.ts
// token-bucket-rate-limit on a real 3-primary Redis Cluster: two gateways share exact limits with
// buckets spread over every primary, and a slot moved to another primary mid-run changes no answer.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { proxyStep, REPO_ROOT, startGateway, step, type Gateway } from '../testkit/gateway';
import { BUCKET_TABLE } from './helpers/bucket-table';
import { eventually, sleep } from '../testkit/wait';
import { postChat } from './helpers/http';
import { runLoad, tallyByIdentity, tokenBucketBound, type Shot } from './helpers/load';
import { RedisClusterTopology, type ClusterNode } from '../testkit/redis-cluster';
import { StandInProvider } from '../testkit/provider';
import { bucketKeyName } from '../plugin/stores/redis-store';
import { createTopologyClient, probeTopology, READINESS_PROBE_KEY } from '../plugin/redis/connect';

const CAPACITY = 10;
const REFILL_PER_SECOND = 10;
const RUN_MS = 6000;
const CONNECTIONS = 120;
/**
 * The shipped command timeout: neither a busy gateway loop nor a slot move may turn a decision
 * Redis answered into a failure.
 */
const PLUGIN_SETTINGS = (cluster: RedisClusterTopology): Record<string, unknown> => ({ redisClusterNodes: cluster.nodesSetting });

function remainingOf(field: string | null): number | undefined {
  const match = /;r=(\d+)/.exec(field ?? '');
  return match ? Number(match[1]) : undefined;
}

const WARM_UP_KEY = 'key-warm-up-secret';

/** key id → key. Ids are picked so that two buckets sit on each primary (see `before`). */
type Keys = Map<string, string>;

/** The Redis key of a key id's bucket under the default policyName (`<policyName>\0k:<id>`). */
const bucketKeyOf = (id: string): string => bucketKeyName(`default\u0000k:${id}`);

describe('token-bucket-rate-limit on a Redis Cluster', function () {
  this.timeout(60_000);
  let cluster: RedisClusterTopology | undefined;
  let upstream: StandInProvider | undefined;
  const gateways: Gateway[] = [];
  const keys: Keys = new Map();

  before(async function () {
    cluster = await RedisClusterTopology.start();
    upstream = await new StandInProvider().start();
    // Ids chosen so that two buckets sit on each primary; the test then checks where the gateway
    // really put them, so a change of key naming fails here instead of passing on one node.
    const perPrimary = new Map<number, number>();
    for (let i = 0; keys.size < cluster.nodes.length * 2; i += 1) {
      const id = `tenant-${i}`;
      const owner = await cluster.ownerOfSlot(await cluster.keySlot(bucketKeyOf(id)));
      if ((perPrimary.get(owner.port) ?? 0) >= 2) continue;
      perPrimary.set(owner.port, (perPrimary.get(owner.port) ?? 0) + 1);
      keys.set(id, `key-${id}-${i}-secret`);
    }
    const steps = [
      step('detail-error-formatter'),
      step('key-auth', { keys: [
        ...[...keys].map(([id, key]) => ({ id, key, rateLimit: { capacity: CAPACITY, refillRate: REFILL_PER_SECOND } })),
        { id: 'warm-up', key: WARM_UP_KEY, rateLimit: { capacity: 1000, refillRate: 1000 } },
      ] }),
      step('token-bucket-rate-limit', { capacity: CAPACITY, refillRate: REFILL_PER_SECOND, rateLimitBy: 'key' }),
      proxyStep(),
    ];
    for (let i = 0; i < 2; i += 1) {
      gateways.push(await startGateway({ providerUrl: upstream.url, steps, pluginSettings: PLUGIN_SETTINGS(cluster) }));
    }
    // Until its cluster client has the slot map, a gateway fails decisions closed (what /readyz
    // reports): the runs start once both decide.
    for (const gateway of gateways) {
      expect(await eventually(async () => (await postChat(gateway.url, { 'x-api-key': WARM_UP_KEY })).status === 200, 5000), 'a first decision').to.equal(true);
    }
    await cluster.flushAll();
  });

  after(async function () {
    await Promise.all(gateways.splice(0).map((g) => g.stop()));
    await upstream?.stop();
    await cluster?.stop();
  });

  afterEach(async function () {
    await cluster?.flushAll();
  });

  function load(until: Promise<unknown>): Promise<Shot[]> {
    return runLoad({
      targets: gateways.map((g) => g.url), identities: [...keys.keys()], connections: CONNECTIONS, until,
      headersFor: (id) => ({ 'x-api-key': keys.get(id) as string }),
    });
  }

  /** Per identity: never above C + floor(r·T) over the widest window; in total within 1% of it. */
  function expectExact(shots: readonly Shot[]): { admitted: number; bound: number; lowest: number } {
    let admitted = 0;
    let bound = 0;
    let lowest = 0;
    for (const [id, tally] of tallyByIdentity(shots)) {
      const own = shots.filter((s) => s.identity === id);
      // The decisions happened after the first answer at the latest and before the last send at
      // the earliest: a limiter that admits whenever a token is there admits at least that much.
      const innerMs = Math.max(...own.map((s) => s.sentAt)) - Math.min(...own.map((s) => s.doneAt));
      const upper = tokenBucketBound(CAPACITY, REFILL_PER_SECOND, tally.windowMs);
      expect(tally.admitted, `${id}: admitted ${tally.admitted}, bound ${upper}`).to.be.at.most(upper);
      const failures = own.filter((s) => s.status !== 200 && s.status !== 429);
      expect(failures.length, `${id}: no failures (statuses ${failures.map((f) => `${f.status} after ${f.doneAt - f.sentAt} ms: ${f.body.slice(0, 100)}`).join(', ')})\n${gateways.map((g) => g.logs.split('\n').filter((l) => /store failed|redis connection|provider request failed/.test(l)).slice(0, 5).join('\n')).join('\n')}`).to.equal(0);
      admitted += tally.admitted;
      bound += upper;
      lowest += tokenBucketBound(CAPACITY, REFILL_PER_SECOND, innerMs);
    }
    expect(admitted, `total admitted ${admitted}, bound ${bound}, lowest ${lowest}`).to.be.at.least(Math.floor(lowest * 0.99));
    return { admitted, bound, lowest };
  }

  it('keeps two gateways within C + floor(r·T) per key, with the buckets on all three primaries', async function () {
    const shots = await load(sleep(RUN_MS));
    const figures = expectExact(shots);
    const byNode = await (cluster as RedisClusterTopology).keysByNode();
    for (const [port, held] of byNode) {
      expect(held.length, `primary ${port} holds buckets`).to.be.at.least(1);
      for (const key of held) expect(key).not.to.match(/secret/);
    }
    expect([...byNode.values()].flat()).to.have.length(keys.size);
    for (const id of keys.keys()) {
      const slot = await (cluster as RedisClusterTopology).keySlot(bucketKeyOf(id));
      expect(await (cluster as RedisClusterTopology).countKeysInSlot(slot), `bucket of ${id} in slot ${slot}`).to.equal(1);
    }
    console.log(`      cluster: ${shots.length} requests, admitted ${figures.admitted} of bound ${figures.bound} (at least ${figures.lowest})`);
  });

  it('answers the table of request sequences as the memory store does', async function () {
    const c = cluster as RedisClusterTopology;
    // Each case gets its own policyName (so its own bucket, in its own slot) behind a condition.
    const gateway = await startGateway({
      providerUrl: (upstream as StandInProvider).url,
      steps: [
        step('detail-error-formatter'),
        { 'token-bucket-rate-limit': [
          ...BUCKET_TABLE.map((tableCase, i) => ({
            condition: { name: 'expression', expression: `req.headers['x-case'] === '${i}'` },
            action: { ...tableCase.action, policyName: `case${i}` },
          })),
          { condition: { name: 'expression', expression: `req.headers['x-case'] === 'warm-up'` }, action: { capacity: 1000, refillRate: 1000, policyName: 'warm-up' } },
        ] },
        proxyStep(),
      ],
      pluginSettings: PLUGIN_SETTINGS(c),
    });
    try {
      // Until the cluster client has its slot map, decisions fail closed (what /readyz reports).
      expect(await eventually(async () => (await postChat(gateway.url, { 'x-case': 'warm-up' })).status === 200, 5000), 'a first decision').to.equal(true);
      for (const [index, tableCase] of BUCKET_TABLE.entries()) {
        const seen: Array<{ status: number; remaining: number | undefined }> = [];
        for (const tableStep of tableCase.steps) {
          if (tableStep.waitMs) await sleep(tableStep.waitMs);
          const reply = await postChat(gateway.url, { 'x-case': String(index) });
          seen.push({ status: reply.status, remaining: remainingOf(reply.headers.get('ratelimit')) });
        }
        expect(seen.map((s) => s.status), `"${tableCase.name}" statuses`).to.deep.equal(tableCase.steps.map((s) => s.status));
        tableCase.steps.forEach((s, i) => {
          if (s.remaining !== undefined) expect(seen[i]?.remaining, `"${tableCase.name}" remaining at step ${i}`).to.equal(s.remaining);
        });
      }
      const primariesUsed = [...(await c.keysByNode()).values()].filter((held) => held.length > 0).length;
      expect(primariesUsed, 'the table\'s buckets spread over several primaries').to.be.at.least(2);
    } finally {
      await gateway.stop();
    }
  });

  it('gives no wrong answer while a bucket\'s slot moves to another primary mid-run', async function () {
    const c = cluster as RedisClusterTopology;
    const [movedId] = keys.keys();
    const slot = await c.keySlot(bucketKeyOf(movedId as string));
    const from = await c.ownerOfSlot(slot);
    const to = c.nodes.find((n) => n.port !== from.port) as ClusterNode;
    let migration: Awaited<ReturnType<RedisClusterTopology['migrateSlot']>> | undefined;
    const run = (async () => {
      await sleep(RUN_MS / 3);
      migration = await c.migrateSlot(slot, to, { pauseMs: 400 });
      await sleep(RUN_MS / 3);
    })();
    const shots = await load(run);
    expect(migration?.keysMoved, 'the bucket moved with its slot').to.equal(1);
    expect((await c.ownerOfSlot(slot)).port).to.equal(to.port);
    const figures = expectExact(shots);
    console.log(`      cluster with slot ${slot} moved ${from.port} → ${to.port}: admitted ${figures.admitted} of bound ${figures.bound} (at least ${figures.lowest})`);
  });
  it('takes the cluster from REDIS_CLUSTER_NODES through the shipped system.config.yml', async function () {
    const c = cluster as RedisClusterTopology;
    const gateway = await startGateway({
      providerUrl: (upstream as StandInProvider).url,
      systemConfig: fs.readFileSync(path.join(REPO_ROOT, 'system.config.yml'), 'utf8'),
      steps: [step('detail-error-formatter'), step('token-bucket-rate-limit', { capacity: 2, refillRate: 0.001, policyName: 'shipped' }), proxyStep()],
      env: { REDIS_CLUSTER_NODES: c.nodesSetting },
    });
    try {
      // Until the cluster client has its slot map, decisions fail closed (what /readyz reports).
      expect(await eventually(async () => (await postChat(gateway.url)).status === 200, 5000), 'a first admission').to.equal(true);
      expect([(await postChat(gateway.url)).status, (await postChat(gateway.url)).status]).to.deep.equal([200, 429]);
      expect([...(await c.keysByNode()).values()].flat(), 'one bucket, in the cluster').to.have.length(1);
    } finally {
      await gateway.stop();
    }
  });

  // Last: it kills a primary.
  it('is ready while the primary owning the probe key answers, and not ready within the timeout once it is gone', async function () {
    const c = cluster as RedisClusterTopology;
    const client = createTopologyClient({ kind: 'cluster', nodes: c.seeds, options: {} }, { enableOfflineQueue: false, commandTimeout: 100, maxRetriesPerRequest: 0 });
    client.on('error', () => { /* expected once the node is killed */ });
    try {
      expect(await eventually(() => client.status === 'ready', 5000), 'the cluster client is ready').to.equal(true);
      await probeTopology(client);
      const owner = await c.ownerOfSlot(await c.keySlot(READINESS_PROBE_KEY));
      await owner.process.kill();
      const startedAt = Date.now();
      let failure: unknown;
      await probeTopology(client).catch((error: unknown) => { failure = error; });
      expect(failure, 'the probe fails once the owning primary is gone').to.be.instanceOf(Error);
      expect(Date.now() - startedAt, 'ms until the probe fails').to.be.at.most(1000);
    } finally {
      client.disconnect();
    }
  });
});
