// test/regressions/readiness-fail-open.test.ts
// Issue 13: with `failureMode: open`, a slow or lost shared Redis made /readyz answer 503 on every
// instance at once, although each could serve. Readiness now says "degraded" (200) when every
// limiter fails open, and stays 503 when any fails closed.

import { expect } from 'chai';
import { proxyStep, startGateway, step, type Gateway } from '../../testkit/gateway';
import { call, postChat } from '../helpers/http';
import { eventually } from '../../testkit/wait';
import { startRedis, type RedisServer } from '../../testkit/redis';
import { startProvider, type StandInProvider } from '../../testkit/provider';

const KEY = 'readiness-key-0123456789abcdef0123456789';

describe('regression: readiness with failureMode open took every instance out of rotation (issue 13)', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let upstream: StandInProvider;
  const gateways: Gateway[] = [];
  const start = async (failureMode: 'open' | 'closed'): Promise<Gateway> => {
    const gateway = await startGateway({
      providerUrl: upstream.url,
      pluginSettings: { redis: redis.url },
      steps: [step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'k', key: KEY }] }), step('token-bucket-rate-limit', { capacity: 10, refillRate: 1, failureMode }), proxyStep()],
    });
    gateways.push(gateway);
    return gateway;
  };

  before(async () => {
    redis = await startRedis();
    upstream = await startProvider();
  });
  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await upstream?.stop();
    await redis?.stop();
  });

  it('stays ready (200, "degraded") while Redis is down when every limiter fails open, and 503 when one fails closed', async function () {
    const open = await start('open');
    const closed = await start('closed');
    for (const gateway of [open, closed]) {
      expect(await eventually(async () => (await call(`${gateway.opsUrl}/readyz`)).status === 200, 5_000)).to.equal(true);
    }
    await redis.kill();
    expect(await eventually(async () => (await call(`${closed.opsUrl}/readyz`)).status === 503, 5_000)).to.equal(true);
    const degraded = await call(`${open.opsUrl}/readyz`);
    expect(degraded.status, degraded.text).to.equal(200);
    expect(degraded.json).to.have.property('status', 'degraded');
    expect((degraded.json as { checks: Record<string, string> }).checks['redis']).to.match(/^degraded \(every limiter fails open\): /);
    // And it does serve: the request passes without a decision.
    expect((await postChat(open.url, { 'x-api-key': KEY })).status).to.equal(200);
    await redis.start();
    expect(await eventually(async () => (await call(`${open.opsUrl}/readyz`)).json !== undefined
      && ((await call(`${open.opsUrl}/readyz`)).json as { status: string }).status === 'ready', 10_000)).to.equal(true);
  });
});
