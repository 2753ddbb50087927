// bench/redis-store.ts
// `npm run bench:store`: decisions per second of our Redis store against rate-limiter-flexible's
// RateLimiterRedis, on the same redis-server (started here on a free port), same concurrency,
// same duration, alternating runs. Not a test: it prints a table and the ratio.

import { once } from 'node:events';
import Redis from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { RedisStore } from '../plugin/stores/redis-store';
import { startRedis } from '../testkit/redis';

const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 64);
const DURATION_MS = Number(process.env['BENCH_DURATION_MS'] ?? 5000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const KEYS = 1000;

type Decide = (key: string) => Promise<unknown>;

async function measure(decide: Decide): Promise<number> {
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
  const started = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, id) => worker(id)));
  return (done * 1000) / (Date.now() - started);
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

async function main(): Promise<void> {
  const redis = await startRedis();
  const ours = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  const theirs = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
  await Promise.all([once(ours, 'ready'), once(theirs, 'ready')]);
  const store = new RedisStore(ours, 1_000);
  const limits = { capacity: 1e9, refillRate: 1e6 };
  const flexible = new RateLimiterRedis({ storeClient: theirs, points: 1e9, duration: 1, keyPrefix: 'rlflx' });
  const oursRuns: number[] = [];
  const theirsRuns: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      oursRuns.push(await measure((key) => store.take(key, { limits, cost: 1 })));
      theirsRuns.push(await measure((key) => flexible.consume(key)));
    }
  } finally {
    ours.disconnect();
    theirs.disconnect();
    await redis.stop();
  }
  const ourRate = median(oursRuns);
  const theirRate = median(theirsRuns);
  console.log(`| store | decisions/s (median of ${ROUNDS} × ${DURATION_MS / 1000} s, ${CONCURRENCY} in flight) |`);
  console.log('| --- | --- |');
  console.log(`| token-bucket-rate-limit RedisStore (Lua, 1 EVALSHA) | ${Math.round(ourRate)} |`);
  console.log(`| rate-limiter-flexible RateLimiterRedis | ${Math.round(theirRate)} |`);
  console.log(`\nratio ours / rate-limiter-flexible: ${(ourRate / theirRate).toFixed(2)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
