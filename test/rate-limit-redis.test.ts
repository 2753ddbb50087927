// test/rate-limit-redis.test.ts
// The Redis store against a real redis-server: exact under concurrency across gateway processes,
// blind to the gateways' clocks, bounded and self-healing when Redis fails.
// No fake timers: the limiter's only clock is Redis TIME, and the point is to prove it.

import { expect } from 'chai';
import path from 'node:path';
import { MESSAGES } from '../plugin/messages';
import { expectDetail } from './helpers/detail';
import { type Gateway, proxyStep, startGateway, step, type PipelineStep } from '../testkit/gateway';
import { eventually, sleep } from '../testkit/wait';
import { postChat } from './helpers/http';
import { runLoad, tallyByIdentity, tokenBucketBound } from './helpers/load';
import { startRedis, type RedisServer } from '../testkit/redis';
import { startProvider, type StandInProvider } from '../testkit/provider';

const KEY = 'exactness-test-key-0123456789abcdef';
const SKEW_PRELOAD = path.join(__dirname, 'fixtures', 'skew-clock.js');

function limitSteps(capacity: number, refillRate: number, extra: Record<string, unknown> = {}): PipelineStep[] {
  return [
    step('detail-error-formatter'),
    step('key-auth', { keys: [{ id: 'shared', key: KEY }, { id: 'other', key: `${KEY}-other` }] }),
    step('token-bucket-rate-limit', { capacity, refillRate, ...extra }),
    proxyStep(),
  ];
}

describe('token-bucket-rate-limit on Redis: exactness across gateway processes', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let upstream: StandInProvider;

  before(async function () {
    redis = await startRedis();
    upstream = await startProvider();
  });

  after(async function () {
    await upstream?.stop();
    await redis?.stop();
  });

  async function exactRun(skewsMs: readonly number[]): Promise<{ admitted: number; upper: number; lower: number; limited: number; failed: number; failures: string }> {
    await redis.command('FLUSHALL');
    const capacity = 40;
    const refillRate = 20;
    const gateways = await Promise.all(skewsMs.map((skew) => startGateway({
      providerUrl: upstream.url,
      // The shipped command timeout: a busy loop must not fail a decision Redis answered in time.
      pluginSettings: { redis: redis.url },
      steps: limitSteps(capacity, refillRate),
      env: { NODE_OPTIONS: `--require ${SKEW_PRELOAD}`, CLOCK_SKEW_MS: String(skew) },
    })));
    try {
      const shots = await runLoad({
        targets: gateways.map((g) => g.url),
        identities: [KEY],
        headersFor: (key) => ({ 'x-api-key': key }),
        connections: 150,
        until: sleep(4000),
      });
      const tally = tallyByIdentity(shots).get(KEY);
      if (!tally) throw new Error('no requests were sent');
      // Upper bound from the widest window (first send → last answer); lower bound from the
      // narrowest one in which every decision surely fell (first answer → last send).
      const firstDone = Math.min(...shots.map((s) => s.doneAt));
      const lastSent = Math.max(...shots.map((s) => s.sentAt));
      // One line of figures per run: the closing note quotes them.
      console.log(`      admitted ${tally.admitted} of ${shots.length}; bound C+floor(r·T) ${tokenBucketBound(capacity, refillRate, tally.windowMs)} (T ${tally.windowMs} ms); skews ${skewsMs.join('/')} ms`);
      return {
        admitted: tally.admitted,
        limited: tally.limited,
        failed: tally.failed + tally.other,
        // What a failure looked like, for the assertion message: status, time taken, body.
        failures: shots.filter((s) => s.status !== 200 && s.status !== 429).slice(0, 5)
          .map((s) => `${s.status} after ${s.doneAt - s.sentAt} ms: ${s.body.slice(0, 100)}`)
          .concat(gateways.flatMap((g) => g.logs.split('\n').filter((line) => line.includes('store failed')).slice(0, 2))).join('; '),
        upper: tokenBucketBound(capacity, refillRate, tally.windowMs),
        lower: tokenBucketBound(capacity, refillRate, lastSent - firstDone),
      };
    } finally {
      await Promise.all(gateways.map((g) => g.stop()));
    }
  }

  it('admits C + floor(r·T) within 1% and never more, 3 gateways × 150 connections on one key', async function () {
    const run = await exactRun([0, 0, 0]);
    expect(run.failed, `failed requests (${run.failures})`).to.equal(0);
    expect(run.limited).to.be.above(run.admitted);
    expect(run.admitted, `admitted ${run.admitted}, bound ${run.upper}`).to.be.at.most(run.upper);
    expect(run.admitted, `admitted ${run.admitted}, lower ${run.lower}`).to.be.at.least(Math.floor(run.lower * 0.99));
  });

  it('admits the same count when the gateways’ clocks are skewed by seconds', async function () {
    const run = await exactRun([-30_000, 0, 45_000]);
    expect(run.failed, `failed requests (${run.failures})`).to.equal(0);
    expect(run.admitted, `admitted ${run.admitted}, bound ${run.upper}`).to.be.at.most(run.upper);
    expect(run.admitted, `admitted ${run.admitted}, lower ${run.lower}`).to.be.at.least(Math.floor(run.lower * 0.99));
  });
});

describe('token-bucket-rate-limit on Redis: failures', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let upstream: StandInProvider;
  const gateways: Gateway[] = [];

  before(async function () {
    redis = await startRedis();
    upstream = await startProvider();
  });

  // Every test starts on a running, empty Redis, whatever the one before left (a kill, buckets).
  afterEach(async function () {
    if (!redis.running) await redis.start();
    await redis.command('FLUSHALL');
  });

  after(async function () {
    await Promise.all(gateways.map((g) => g.stop()));
    await upstream?.stop();
    await redis?.stop();
  });

  async function gatewayWith(extra: Record<string, unknown>): Promise<Gateway> {
    const gateway = await startGateway({ providerUrl: upstream.url, pluginSettings: { redis: redis.url }, steps: limitSteps(2, 0.001, extra) });
    gateways.push(gateway);
    return gateway;
  }

  async function timed(gateway: Gateway, key: string): Promise<{ status: number; ms: number; reply: Awaited<ReturnType<typeof postChat>> }> {
    const started = Date.now();
    const reply = await postChat(gateway.url, { 'x-api-key': key });
    return { status: reply.status, ms: Date.now() - started, reply };
  }

  it('fails closed within the bound while Redis is down, and limits again within 2 s of its return', async function () {
    const gateway = await gatewayWith({});
    expect((await timed(gateway, KEY)).status).to.equal(200);
    expect((await timed(gateway, KEY)).status).to.equal(200);
    expect((await timed(gateway, KEY)).status).to.equal(429);

    await redis.kill();
    for (let i = 0; i < 10; i += 1) {
      const answer = await timed(gateway, KEY);
      expectDetail(answer.reply, 500, MESSAGES.internalError);
      expect(answer.ms, 'answer time during the outage').to.be.below(500);
    }
    expect(gateway.hasExited).to.equal(false);

    await redis.start();
    const back = Date.now();
    // The bucket's state died with Redis: a fresh bucket admits 2 then refuses.
    expect(await eventually(async () => (await timed(gateway, `${KEY}-other`)).status === 200, 2000, 20)).to.equal(true);
    expect(Date.now() - back).to.be.below(2000);
    expect((await timed(gateway, `${KEY}-other`)).status).to.equal(200);
    expect((await timed(gateway, `${KEY}-other`)).status).to.equal(429);
  });

  it('lets its first decisions wait for the first Redis connection instead of failing them', async function () {
    // Without an offline queue a command sent before the first connection is up fails at once:
    // a gateway that starts serving before its Redis connection would answer 500. Here Redis
    // comes up only after the first request has arrived.
    await redis.kill();
    const gateway = await startGateway({
      providerUrl: upstream.url,
      pluginSettings: { redis: redis.url, redisCommandTimeoutMs: 3000 },
      steps: limitSteps(2, 0.001),
    });
    gateways.push(gateway);
    const first = timed(gateway, KEY);
    await sleep(300);
    await redis.start();
    const answer = await first;
    expect(answer.status, 'first request, sent while Redis was still starting').to.equal(200);
    expect(answer.ms).to.be.below(3000);
  });

  it('fails open within the bound when asked to, and counts nothing against the bucket', async function () {
    const gateway = await gatewayWith({ failureMode: 'open' });
    await redis.kill();
    for (let i = 0; i < 5; i += 1) {
      const answer = await timed(gateway, KEY);
      expect(answer.status).to.equal(200);
      expect(answer.ms).to.be.below(500);
    }
    await redis.start();
    expect(await eventually(async () => (await timed(gateway, KEY)).status === 429, 2000, 20)).to.equal(true);
  });

  it('reloads its script after SCRIPT FLUSH without a failed decision', async function () {
    const gateway = await gatewayWith({});
    expect((await timed(gateway, KEY)).status).to.equal(200);
    await redis.command('SCRIPT', 'FLUSH');
    expect((await timed(gateway, KEY)).status).to.equal(200);
    expect((await timed(gateway, KEY)).status).to.equal(429);
  });

  it('reloads its script after SCRIPT FLUSH for a whole pipelined batch of decisions', async function () {
    const gateway = await gatewayWith({});
    expect((await timed(gateway, KEY)).status).to.equal(200);
    await redis.command('SCRIPT', 'FLUSH');
    // Sent at once, they reach the store in one event-loop turn or a few: one pipeline of
    // EVALSHAs, each answered NOSCRIPT and sent again as EVAL. Capacity 2, one token left.
    const statuses = (await Promise.all(Array.from({ length: 20 }, () => timed(gateway, KEY)))).map((answer) => answer.status);
    expect(statuses.filter((status) => status === 200), `statuses ${statuses.join(',')}`).to.have.length(1);
    expect(statuses.filter((status) => status === 429)).to.have.length(19);
  });

  it('names its Redis keys by hash: no key, key id or IP in them', async function () {
    const gateway = await gatewayWith({});
    expect((await timed(gateway, KEY)).status).to.equal(200);
    const keys = await redis.command('KEYS', '*') as string[];
    expect(keys.filter((key) => /^tbrl:v2:\{[A-Za-z0-9_-]+\}$/.test(key)), keys.join(', ')).to.have.length(1);
    for (const key of keys) {
      expect(key).not.to.include('shared');
      expect(key).not.to.include(KEY.slice(0, 10));
      expect(key).not.to.include('127.0.0.1');
    }
  });
});
