// test/regressions/slow-redis-two-round-trips.test.ts
// Issue 13, defect 7: with ioredis auto-pipelining, a batch of decisions waited for the previous
// batch before it was sent, so under concurrency a decision took two Redis round trips, and a
// decision on a Redis slower than the timeout failed after two timeouts (~200 ms for a 100 ms
// bound). Here Redis sits behind a proxy that delays its replies; the provider answers at once.

import { expect } from 'chai';
import { DEFAULT_SETTINGS } from '../../plugin/settings';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy';
import { proxyStep, startGateway, step, type Gateway } from '../../testkit/gateway';
import { eventually, sleep } from '../../testkit/wait';
import { postChat } from '../helpers/http';
import { latencyPercentile, runLoad, type Shot } from '../helpers/load';
import { metricValue } from '../helpers/metrics';
import { startRedis, type RedisServer } from '../../testkit/redis';
import { startProvider, type StandInProvider } from '../../testkit/provider';

const KEY = 'slow-redis-regression-key-0123456789abcdef';
const TIMEOUT_MS = DEFAULT_SETTINGS.redisCommandTimeoutMs;
/**
 * What a request spends besides the Redis wait, on a 2-core machine shared with other test runs:
 * the load client, the stand-in provider and the proxy share this test's process, so the load is
 * kept at 8 connections, where that costs a few ms (it grows with the load, whatever the store).
 */
const MARGIN_MS = 20;
const CONNECTIONS = 8;

describe('regression: slow Redis costs two round trips, and timeouts come at twice the bound (issue 13, defect 7)', function () {
  this.timeout(60_000);
  let redis: RedisServer | undefined;
  let proxy: DelayProxy | undefined;
  let upstream: StandInProvider | undefined;
  let gateway: Gateway | undefined;

  before(async function () {
    redis = await startRedis();
    proxy = await startDelayProxy(redis.port);
    upstream = await startProvider();
    gateway = await startGateway({
      providerUrl: upstream.url,
      pluginSettings: { redis: proxy.url },
      steps: [
        step('detail-error-formatter'),
        step('key-auth', { keys: [{ id: 'slow', key: KEY }] }),
        step('token-bucket-rate-limit', { capacity: 1_000_000, refillRate: 1_000_000 }),
        proxyStep(),
      ],
    });
    expect(await eventually(async () => (await postChat(gateway!.url, { 'x-api-key': KEY })).status === 200, 5000), 'a first decision').to.equal(true);
  });

  afterEach(function () {
    if (proxy) proxy.delayMs = 0;
  });

  after(async function () {
    await gateway?.stop();
    await upstream?.stop();
    await proxy?.stop();
    await redis?.stop();
  });

  const load = (connections: number, ms: number): Promise<Shot[]> => runLoad({
    targets: [(gateway as Gateway).url], identities: [KEY], headersFor: (key) => ({ 'x-api-key': key }), connections, until: sleep(ms),
  });

  it('decides in one Redis round trip under concurrency (Redis 60 ms away)', async function () {
    const delayMs = 60;
    (proxy as DelayProxy).delayMs = delayMs;
    const shots = await load(CONNECTIONS, 3000);
    const admitted = shots.filter((s) => s.status === 200);
    const p50 = latencyPercentile(admitted, 50);
    console.log(`      delay ${delayMs} ms: ${shots.length} requests, ${admitted.length} × 200; p50 ${p50} ms, p90 ${latencyPercentile(admitted, 90)} ms, max ${latencyPercentile(admitted, 100)} ms`);
    expect(admitted.length, 'every request admitted').to.equal(shots.length);
    expect(p50, 'p50 (ms): the delay is on the path').to.be.at.least(delayMs);
    expect(p50, `p50 (ms): one round trip of ${delayMs} ms plus at most ${MARGIN_MS}`).to.be.at.most(delayMs + MARGIN_MS);
  });

  it(`fails a decision within the ${TIMEOUT_MS} ms timeout plus a few ms when Redis answers later (Redis 150 ms away)`, async function () {
    (proxy as DelayProxy).delayMs = 150;
    const before = await metricValue(gateway as Gateway, 'rate_limit_store_errors_total', { store: 'redis', kind: 'timeout' });
    const shots = await load(CONNECTIONS, 2000);
    const failed = shots.filter((s) => s.status === 500);
    const p50 = latencyPercentile(failed, 50);
    const p90 = latencyPercentile(failed, 90);
    const timeouts = (await metricValue(gateway as Gateway, 'rate_limit_store_errors_total', { store: 'redis', kind: 'timeout' })) - before;
    console.log(`      delay 150 ms: ${shots.length} requests, ${failed.length} × 500 (${timeouts} store timeouts); p50 ${p50} ms, p90 ${p90} ms, max ${latencyPercentile(failed, 100)} ms`);
    expect(failed.length, 'every decision failed closed').to.equal(shots.length);
    expect(timeouts, 'counted as kind timeout').to.equal(failed.length);
    expect(p50, 'p50 (ms): no earlier than the timeout').to.be.at.least(TIMEOUT_MS);
    expect(p90, `p90 (ms): within the timeout plus ${MARGIN_MS}`).to.be.at.most(TIMEOUT_MS + MARGIN_MS);
  });
});
