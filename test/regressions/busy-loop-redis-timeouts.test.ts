// test/regressions/busy-loop-redis-timeouts.test.ts
// Issue 13, defect 6: a busy event loop turned a healthy Redis into 500s. After the loop had been
// busy longer than the command timeout, the expired timeout timer and the reply already waiting
// in the socket were both ready, and Node's timers phase runs before its poll phase: the timer
// won. Here the gateway's loop is stalled for 150 ms every 400 ms (test/fixtures/busy-loop.ts)
// while Redis, local and idle, answers in microseconds, with the shipped 100 ms timeout.

import { expect } from 'chai';
import path from 'node:path';
import { DEFAULT_SETTINGS } from '../../plugin/settings';
import { proxyStep, startGateway, step, type Gateway } from '../../testkit/gateway';
import { eventually, sleep } from '../../testkit/wait';
import { postChat } from '../helpers/http';
import { latencyPercentile, runLoad } from '../helpers/load';
import { metricValue } from '../helpers/metrics';
import { startRedis, type RedisServer } from '../../testkit/redis';
import { startProvider, type StandInProvider } from '../../testkit/provider';

const KEY = 'busy-loop-regression-key-0123456789abcdef';
const BUSY_PRELOAD = path.join(__dirname, '..', 'fixtures', 'busy-loop.js');
const BUSY_MS = 150;

describe('regression: a busy event loop turns a healthy Redis into 500s (issue 13, defect 6)', function () {
  this.timeout(60_000);
  let redis: RedisServer | undefined;
  let upstream: StandInProvider | undefined;
  let gateway: Gateway | undefined;

  before(async function () {
    redis = await startRedis();
    upstream = await startProvider();
    gateway = await startGateway({
      providerUrl: upstream.url,
      // Shipped defaults: no redisCommandTimeoutMs here.
      pluginSettings: { redis: redis.url },
      steps: [
        step('detail-error-formatter'),
        step('key-auth', { keys: [{ id: 'busy', key: KEY }] }),
        // Never runs dry, and its key lives for seconds, so Redis shows that it decided.
        step('token-bucket-rate-limit', { capacity: 1_000_000, refillRate: 1 }),
        proxyStep(),
      ],
      env: { NODE_OPTIONS: `--require ${BUSY_PRELOAD}`, BUSY_LOOP_MS: String(BUSY_MS), BUSY_LOOP_EVERY_MS: '400' },
    });
    expect(await eventually(async () => (await postChat(gateway!.url, { 'x-api-key': KEY })).status === 200, 5000), 'a first decision').to.equal(true);
  });

  after(async function () {
    await gateway?.stop();
    await upstream?.stop();
    await redis?.stop();
  });

  it(`answers no 500 while the loop stalls ${BUSY_MS} ms at a time, with the shipped ${DEFAULT_SETTINGS.redisCommandTimeoutMs} ms timeout`, async function () {
    const g = gateway as Gateway;
    const shots = await runLoad({ targets: [g.url], identities: [KEY], headersFor: (key) => ({ 'x-api-key': key }), connections: 64, until: sleep(4000) });
    const statuses: Record<string, number> = {};
    for (const shot of shots) statuses[shot.status] = (statuses[shot.status] ?? 0) + 1;
    const timeouts = await metricValue(g, 'rate_limit_store_errors_total', { store: 'redis', kind: 'timeout' });
    console.log(`      ${shots.length} requests ${JSON.stringify(statuses)}; store timeouts ${timeouts}; p50 ${latencyPercentile(shots, 50)} ms, max ${latencyPercentile(shots, 100)} ms`);
    // The stalls really held requests longer than the timeout, and Redis decided them.
    expect(latencyPercentile(shots, 100), 'slowest answer (ms): the loop was stalled').to.be.at.least(BUSY_MS);
    expect(await (redis as RedisServer).command('KEYS', 'tbrl:*'), 'the bucket Redis decided on').to.have.length(1);
    expect(statuses, 'statuses').to.deep.equal({ 200: shots.length });
    expect(timeouts, 'rate_limit_store_errors_total{kind="timeout"}').to.equal(0);
  });
});
