// test/reliability/redis-latency.rel.ts
// How long a rate-limit decision waits on Redis, with the shipped settings: a healthy local Redis
// under 1,000 keep-alive connections on one gateway (a loop that lags far past the 100 ms timeout
// must not turn answers that came into 500s), and a Redis 60 ms away (one round trip per decision)
// or 150 ms away (the 500s come when the timeout says, not at twice it).

import { expect } from 'chai';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { DEFAULT_SETTINGS } from '../../plugin/settings';
import { startDelayProxy, type DelayProxy } from '../helpers/delay-proxy';
import { startGateway, type Gateway } from '../../testkit/gateway';
import { startProviderProcess, type ProviderProcess } from '../../testkit/provider';
import { CHAT_BODY, postChat } from '../helpers/http';
import { eventually, sleep } from '../../testkit/wait';
import { metricValue } from '../helpers/metrics';
import { startRedis, type RedisServer } from '../../testkit/redis';
import { LOAD_KEY, fullPipeline, loadKey, record } from './support';

const TIMEOUT_MS = DEFAULT_SETTINGS.redisCommandTimeoutMs;
const SLACK_MS = 10;

interface Answered { readonly status: number; readonly ms: number }

const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
};
const round = (ms: number): number => Math.round(ms * 10) / 10;

function statusCounts(answers: readonly Answered[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const a of answers) counts[String(a.status)] = (counts[String(a.status)] ?? 0) + 1;
  return counts;
}

/** One POST through `agent`; status 0 when the request failed without an answer. */
function post(url: URL, agent: http.Agent): Promise<Answered> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(CHAT_BODY), 'x-api-key': LOAD_KEY },
    }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - startedAt }));
    });
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', () => resolve({ status: 0, ms: performance.now() - startedAt }));
    req.end(CHAT_BODY);
  });
}

/** Closed loop: `connections` keep-alive sockets, each sending its next request once answered. */
async function closedLoop(gatewayUrl: string, connections: number, durationMs: number): Promise<Answered[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL('/v1/chat', gatewayUrl);
  const answers: Answered[] = [];
  const until = performance.now() + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < until) {
      const answer = await post(url, agent);
      answers.push(answer);
      if (answer.status === 0) await sleep(10);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  agent.destroy();
  return answers;
}

/** Open loop: a request every `intervalMs` whatever the answers, so none waits for another. */
async function openLoop(gatewayUrl: string, intervalMs: number, durationMs: number): Promise<Answered[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL('/v1/chat', gatewayUrl);
  const pending: Array<Promise<Answered>> = [];
  const timer = setInterval(() => pending.push(post(url, agent)), intervalMs);
  await sleep(durationMs);
  clearInterval(timer);
  const answers = await Promise.all(pending);
  agent.destroy();
  return answers;
}

describe('reliability: Redis decision latency with the shipped timeout', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let provider: ProviderProcess;
  let proxy: DelayProxy;
  const gateways: Gateway[] = [];

  before(async () => {
    redis = await startRedis();
    // In its own process: the load generator here needs this process's CPU.
    provider = await startProviderProcess();
    proxy = await startDelayProxy(redis.port);
  });

  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await proxy?.stop();
    await provider?.stop();
    await redis?.stop();
  });

  async function gatewayOn(redisUrl: string): Promise<Gateway> {
    const gateway = await startGateway({ providerUrl: provider.url, steps: fullPipeline([loadKey()], { capacity: 1_000_000_000, refillRate: 1_000_000_000 }), pluginSettings: { redis: redisUrl } });
    gateways.push(gateway);
    expect(await eventually(async () => (await postChat(gateway.url, { 'X-API-Key': LOAD_KEY })).status === 200, 5000), 'a first decision').to.equal(true);
    return gateway;
  }

  it('answers no 500 at 1,000 keep-alive connections on a healthy Redis', async () => {
    const gateway = await gatewayOn(redis.url);
    const answers = await closedLoop(gateway.url, 1000, 10_000);
    const ms = answers.map((a) => a.ms);
    const timeouts = await metricValue(gateway, 'rate_limit_store_errors_total', { store: 'redis', kind: 'timeout' });
    record('redis-latency-1000-connections', {
      requests: answers.length, statuses: statusCounts(answers), storeTimeouts: timeouts,
      p50Ms: round(percentile(ms, 50)), p99Ms: round(percentile(ms, 99)), maxMs: round(percentile(ms, 100)),
    });
    expect(answers.length, 'requests answered').to.be.greaterThan(5000);
    // Answers far slower than the timeout: the gateway's loop really lagged past it.
    expect(percentile(ms, 50), 'p50 (ms)').to.be.above(TIMEOUT_MS);
    expect(statusCounts(answers), 'statuses').to.deep.equal({ 200: answers.length });
    expect(timeouts, 'store timeouts').to.equal(0);
  });

  it(`decides in one round trip + ${SLACK_MS} ms (p50) with Redis 60 ms away, and fails within the timeout + ${SLACK_MS} ms with Redis 150 ms away`, async () => {
    const gateway = await gatewayOn(proxy.url);
    const baseline = await openLoop(gateway.url, 5, 3000);
    proxy.delayMs = 60;
    await sleep(200);
    const near = await openLoop(gateway.url, 5, 5000);
    proxy.delayMs = 150;
    await sleep(300);
    const far = await openLoop(gateway.url, 5, 3000);
    proxy.delayMs = 0;
    const summary = (answers: readonly Answered[]): Record<string, unknown> => {
      const ms = answers.map((a) => a.ms);
      return { requests: answers.length, statuses: statusCounts(answers), p50Ms: round(percentile(ms, 50)), p90Ms: round(percentile(ms, 90)), p99Ms: round(percentile(ms, 99)), maxMs: round(percentile(ms, 100)) };
    };
    record('redis-latency-delayed', { openLoopRps: 200, delay0: summary(baseline), delay60: summary(near), delay150: summary(far) });
    expect(statusCounts(near), 'Redis 60 ms away: every decision made').to.deep.equal({ 200: near.length });
    expect(percentile(near.map((a) => a.ms), 50), 'p50 (ms), Redis 60 ms away').to.be.at.most(60 + SLACK_MS);
    expect(statusCounts(far), 'Redis 150 ms away: every decision failed closed').to.deep.equal({ 500: far.length });
    expect(percentile(far.map((a) => a.ms), 50), 'p50 (ms) of the 500s').to.be.within(TIMEOUT_MS, TIMEOUT_MS + SLACK_MS);
  });
});
