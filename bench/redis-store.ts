// bench/redis-store.ts
// `npm run bench:store`: our Redis store against rate-limiter-flexible's RateLimiterRedis on the
// same redis-server (started here on a free port), same concurrency, same duration, alternating
// runs; then the same on a local 3-primary Cluster. Beside decisions/s, what Redis pays per
// decision (INFO's CPU and commandstats deltas ÷ decisions): that decides how many gateways one
// Redis serves. "LLM request" is what a request under a token limit costs: a decision on both
// buckets, then its settlement (not awaited before the next decision, as in the gateway). Not a
// test: it prints a table and the ratios.

import { once } from 'node:events';
import Redis, { Cluster } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { RedisStore } from '../plugin/stores/redis-store';
import type { TopologyClient } from '../plugin/redis/connect';
import { redisSpent, startRedis, type RedisSpent } from '../testkit/redis';
import { RedisClusterTopology } from '../testkit/redis-cluster';

const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 64);
const DURATION_MS = Number(process.env['BENCH_DURATION_MS'] ?? 3000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const KEYS = 1000;
const REQUESTS = { limits: { capacity: 1e9, refillRate: 1e6 }, cost: 1 };
const TOKENS = { limits: { capacity: 1e12, refillRate: 1e9 }, cost: 1030 };

type Decide = (key: string) => Promise<unknown>;

interface Run { perSecond: number; cpuMicros: number; commands: number; scriptCalls: number }

async function spentOn(ports: readonly number[]): Promise<RedisSpent> {
  const all = await Promise.all(ports.map((port) => redisSpent(port)));
  return all.reduce((a, b) => ({ cpuMicros: a.cpuMicros + b.cpuMicros, commands: a.commands + b.commands, scriptCalls: a.scriptCalls + b.scriptCalls }));
}

async function measure(decide: Decide, ports: readonly number[], drain?: () => Promise<unknown>): Promise<Run> {
  let done = 0;
  const deadline = Date.now() + DURATION_MS;
  const worker = async (id: number): Promise<void> => {
    let i = id;
    while (Date.now() < deadline) {
      await decide(`client-${i % KEYS}`);
      done += 1;
      i += CONCURRENCY;
    }
  };
  const before = await spentOn(ports);
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, id) => worker(id)));
  await drain?.();
  const elapsedMs = Date.now() - started;
  const after = await spentOn(ports);
  const per = (a: number, b: number): number => (a - b) / Math.max(1, done);
  return { perSecond: (done * 1000) / elapsedMs, cpuMicros: per(after.cpuMicros, before.cpuMicros), commands: per(after.commands, before.commands), scriptCalls: per(after.scriptCalls, before.scriptCalls) };
}

/** The run with the median decisions/s. */
const median = (runs: Run[]): Run => [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)] as Run;

interface Contender { name: string; decide: Decide; drain?: () => Promise<unknown> }

function contenders(ours: TopologyClient, theirs: TopologyClient, withLlm: boolean): Contender[] {
  const store = new RedisStore(ours, 1_000);
  const flexible = new RateLimiterRedis({ storeClient: theirs, points: 1e9, duration: 1, keyPrefix: 'rlflx' });
  const list: Contender[] = [
    { name: 'ours: RedisStore, one decision', decide: (key) => store.take(key, REQUESTS) },
    { name: 'rate-limiter-flexible RateLimiterRedis, one decision', decide: (key) => flexible.consume(key) },
  ];
  if (withLlm) {
    // As in the gateway, the settlement does not hold the next request back; the run's last ones
    // are awaited with the rest (measure() reads Redis after every worker is done).
    const settlements: Array<Promise<void>> = [];
    list.push({
      name: 'ours: LLM request (both buckets, then the settlement)',
      decide: async (key) => {
        await store.take(key, REQUESTS, TOKENS);
        settlements.push(store.settle(key, TOKENS.limits, 1028));
        if (settlements.length > 10_000) await Promise.all(settlements.splice(0));
      },
      drain: () => Promise.all(settlements.splice(0)),
    });
  }
  return list;
}

async function compare(title: string, ours: TopologyClient, theirs: TopologyClient, ports: readonly number[], withLlm: boolean): Promise<string[]> {
  const list = contenders(ours, theirs, withLlm);
  const runs = list.map(() => [] as Run[]);
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const [i, contender] of list.entries()) runs[i]?.push(await measure(contender.decide, ports, contender.drain));
  }
  const medians = runs.map(median);
  const flexible = medians[1] as Run;
  const lines = [
    `${title}: median of ${ROUNDS} × ${DURATION_MS / 1000} s, ${CONCURRENCY} in flight, ${KEYS} keys`, '',
    '| store | per second | vs rate-limiter-flexible | Redis CPU µs each | Redis commands each (in scripts too) | script calls each |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  list.forEach((contender, i) => {
    const run = medians[i] as Run;
    lines.push(`| ${contender.name} | ${Math.round(run.perSecond)} | ${(run.perSecond / flexible.perSecond).toFixed(2)} | ${run.cpuMicros.toFixed(2)} | ${run.commands.toFixed(2)} | ${run.scriptCalls.toFixed(3)} |`);
  });
  return [...lines, ''];
}

async function single(): Promise<string[]> {
  const redis = await startRedis();
  const ours = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const theirs = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  try {
    await Promise.all([once(ours, 'ready'), once(theirs, 'ready')]);
    return await compare('Single redis-server', ours, theirs, [redis.port], true);
  } finally {
    ours.disconnect();
    theirs.disconnect();
    await redis.stop();
  }
}

async function cluster(): Promise<string[]> {
  const topology = await RedisClusterTopology.start({ primaries: 3 });
  const client = (): Cluster => new Cluster(topology.seeds, { enableOfflineQueue: true, redisOptions: { maxRetriesPerRequest: 0 } });
  const ours = client();
  const theirs = client();
  try {
    await Promise.all([once(ours, 'ready'), once(theirs, 'ready')]);
    return await compare('Redis Cluster, 3 primaries', ours, theirs, topology.nodes.map((node) => node.port), true);
  } finally {
    ours.disconnect();
    theirs.disconnect();
    await topology.stop();
  }
}

async function main(): Promise<void> {
  const lines = [...await single(), ...await cluster()];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
