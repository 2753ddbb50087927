// test/llm-tokens-redis.test.ts
// LLM-token limits on a real redis-server, across 3 gateway processes and 150 concurrent
// connections on one key: the tokens the provider reported for admitted requests stay within
// what the bucket can grant (C + r·T) and reach most of it; a provider that reports twice the
// estimate overshoots only by the requests in flight at the end, and its debt is then waited out.

import { expect } from 'chai';
import { estimateTokens } from '../plugin/llm/estimate';
import { answerChat, type UsageReport } from '../testkit/chat-answers';
import { proxyStep, startGateway, step, type Gateway } from '../testkit/gateway';
import { startProvider, type StandInProvider } from '../testkit/provider';
import { startRedis, type RedisServer } from '../testkit/redis';
import { sleep } from '../testkit/wait';
import { postChat } from './helpers/http';
import { runLoad, type Shot } from './helpers/load';

const KEY = 'llm-tokens-redis-key-0123456789abcdef';
const TOKEN_CAPACITY = 400;
const TOKEN_RATE = 200;
const BODY = { model: 'stand-in', max_tokens: 20, messages: [{ role: 'user', content: 'how many tokens?' }] };
const ESTIMATE = estimateTokens(BODY, 1024);
const RESERVATION = ESTIMATE.input + ESTIMATE.output;
/** A key whose token bucket holds exactly one reservation, refilled slowly: its debt is visible. */
const DEBTOR_KEY = 'llm-tokens-redis-debtor-0123456789abc';
const DEBTOR_RATE = 50;

interface TokenRun {
  readonly admitted: Shot[];
  /** Tokens the provider reported for the admitted requests. */
  readonly used: number;
  /** C + r·T over the widest window (first send to last admitted answer). */
  readonly upper: number;
  /** C + r·T over the narrowest window every decision surely fell in (first answer to last send). */
  readonly lower: number;
  readonly failed: number;
}

const usedBy = (shot: Shot): number => (JSON.parse(shot.body) as { usage: { total_tokens: number } }).usage.total_tokens;

describe('LLM-token limits on Redis: exact across gateway processes', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let provider: StandInProvider;
  let gateways: Gateway[] = [];

  before(async () => {
    redis = await startRedis();
    provider = await startProvider({ record: false });
    gateways = await Promise.all([0, 1, 2].map(() => startGateway({
      providerUrl: provider.url,
      pluginSettings: { redis: redis.url },
      steps: [
        step('detail-error-formatter'),
        step('key-auth', { keys: [{ id: 'shared', key: KEY }, { id: 'debtor', key: DEBTOR_KEY, rateLimit: { capacity: 1_000_000, refillRate: 1_000_000, llmTokens: { capacity: RESERVATION, refillRate: DEBTOR_RATE } } }] }),
        step('token-bucket-rate-limit', { capacity: 1_000_000, refillRate: 1_000_000, llmTokens: { capacity: TOKEN_CAPACITY, refillRate: TOKEN_RATE } }),
        proxyStep(),
      ],
    })));
  });

  after(async () => {
    await Promise.all(gateways.map((g) => g.stop()));
    await provider?.stop();
    await redis?.stop();
  });

  async function run(usage: UsageReport, completionTokens: number): Promise<TokenRun> {
    await redis.command('FLUSHALL');
    provider.handler = answerChat(provider, { usage, completionTokens });
    const shots = await runLoad({
      targets: gateways.map((g) => g.url), identities: [KEY], headersFor: (key) => ({ 'x-api-key': key }),
      connections: 150, until: sleep(4000), body: JSON.stringify(BODY),
    });
    const admitted = shots.filter((s) => s.status === 200);
    const firstSent = Math.min(...shots.map((s) => s.sentAt));
    const lastAdmitted = Math.max(...admitted.map((s) => s.doneAt));
    const firstDone = Math.min(...shots.map((s) => s.doneAt));
    const lastSent = Math.max(...shots.map((s) => s.sentAt));
    const used = admitted.reduce((sum, s) => sum + usedBy(s), 0);
    const result = {
      admitted, used,
      upper: TOKEN_CAPACITY + (TOKEN_RATE * (lastAdmitted - firstSent)) / 1000,
      lower: TOKEN_CAPACITY + (TOKEN_RATE * (lastSent - firstDone)) / 1000,
      failed: shots.filter((s) => s.status !== 200 && s.status !== 429).length,
    };
    console.log(`      usage ${usage}: ${admitted.length} admitted of ${shots.length}, ${used} tokens used; bound C+r·T ${result.upper.toFixed(0)} (narrowest window ${result.lower.toFixed(0)})`);
    return result;
  }

  it('keeps the tokens used within C + r·T, 3 gateways × 150 connections on one key, and grants at least 90% of it', async function () {
    // Usage below the estimate: each settlement gives part of the reservation back.
    const result = await run('estimate', 15);
    expect(result.failed, 'failed requests').to.equal(0);
    expect(result.admitted.every((s) => usedBy(s) < RESERVATION), 'usage never above the estimate').to.equal(true);
    expect(result.used).to.be.at.most(result.upper);
    expect(result.used).to.be.at.least(0.9 * result.lower);
  });

  it('overshoots only by the requests in flight at the end when the provider reports twice the estimate, and waits the debt out', async function () {
    const result = await run('double', 20);
    expect(result.failed, 'failed requests').to.equal(0);
    // A request charged beyond its reservation leaves a debt that later decisions pay; only those
    // still in flight when the last admission was decided had not been paid for by then.
    const lastDecision = Math.max(...result.admitted.map((s) => s.sentAt));
    const inFlight = result.admitted.filter((s) => s.doneAt >= lastDecision);
    const overshoot = inFlight.reduce((sum, s) => sum + usedBy(s) - RESERVATION, 0);
    expect(result.used).to.be.at.most(result.upper + overshoot);
    // The debt itself: a bucket of one reservation charged twice that is one reservation below
    // zero; the next request waits for two reservations' worth of refill, then passes.
    const ask = (): Promise<Awaited<ReturnType<typeof postChat>>> => postChat(gateways[0]?.url as string, { 'x-api-key': DEBTOR_KEY }, JSON.stringify(BODY));
    expect((await ask()).status).to.equal(200);
    const refused = await ask();
    expect(refused.status, refused.text).to.equal(429);
    const waitMs = Number(refused.headers.get('retry-after-ms'));
    expect(waitMs).to.be.closeTo((2 * RESERVATION * 1000) / DEBTOR_RATE, 250);
    await sleep(waitMs + 20);
    const after = await ask();
    expect(after.status, after.text).to.equal(200);
  });
});
