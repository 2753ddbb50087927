// test/rate-limit.test.ts
// token-bucket-rate-limit on the in-process store (the embedded default): answers, headers,
// identities, plans and client IPs. The Redis store's exactness and failures are in
// rate-limit-redis.test.ts; both stores answer the same table in rate-limit-table.test.ts.

import { expect } from 'chai';
import { MESSAGES } from '../plugin/messages';
import { expectDetail } from './helpers/detail';
import { type Gateway, proxyStep, startGateway, step } from '../testkit/gateway';
import { postChat, postFrom, type Reply } from './helpers/http';
import { sleep } from '../testkit/wait';
import { startProvider, type StandInProvider } from '../testkit/provider';
import { gatewayInFront } from './helpers/gateway-fixture';

/** One key per test, so that no test finds a bucket another test spent. */
const KEYS = {
  fullBucket: 'rate-limit-test-key-full-bucket-0123',
  fields: 'rate-limit-test-key-fields-01234567',
  fieldsRefused: 'rate-limit-test-key-fields-refused',
  distinctA: 'rate-limit-test-key-distinct-a-012',
  distinctB: 'rate-limit-test-key-distinct-b-012',
  retryAfter: 'rate-limit-test-key-retry-after-01',
  noDebt: 'rate-limit-test-key-no-debt-012345',
} as const;
const KEY_PLAN = 'rate-limit-test-key-plan-012345';
const CAPACITY = 3;


describe('token-bucket-rate-limit (memory store)', function () {
  const suite = gatewayInFront(() => ({
    steps: [
      step('detail-error-formatter'),
      step('key-auth', { keys: [...Object.entries(KEYS).map(([id, key]) => ({ id, key })), { id: 'plan', key: KEY_PLAN, rateLimit: { capacity: 1, refillRate: 0.001 } }] }),
      step('token-bucket-rate-limit', { capacity: CAPACITY, refillRate: 0.5 }),
      proxyStep(),
    ],
  }));

  beforeEach(() => suite.provider.reset());

  /** Spends a fresh key's whole bucket and returns the refusal that follows. */
  async function emptyBucket(key: string): Promise<Reply> {
    const statuses: number[] = [];
    for (let i = 0; i < CAPACITY; i += 1) statuses.push((await postChat(suite.gateway.url, { 'x-api-key': key })).status);
    expect(statuses, 'a full bucket admits its capacity').to.deep.equal([200, 200, 200]);
    const refused = await postChat(suite.gateway.url, { 'x-api-key': key });
    expect(refused.status, 'the request after the capacity').to.equal(429);
    return refused;
  }

  it('admits a full bucket, then returns 429 with a detail body once the bucket is empty', async function () {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await postChat(suite.gateway.url, { 'x-api-key': KEYS.fullBucket })).status);
    expect(statuses).to.deep.equal([200, 200, 200]);
    const refused = await postChat(suite.gateway.url, { 'x-api-key': KEYS.fullBucket });
    expectDetail(refused, 429, MESSAGES.tooManyRequests);
    expect(suite.provider.seen).to.have.length(3);
  });

  it('sends the RateLimit fields on every response, naming no key', async function () {
    const reply = await postChat(suite.gateway.url, { 'x-api-key': KEYS.fields });
    expect(reply.headers.get('ratelimit-policy')).to.equal('"default";q=3;w=6');
    expect(reply.headers.get('ratelimit')).to.match(/^"default";r=2;t=\d+$/);
    const refused = await emptyBucket(KEYS.fieldsRefused);
    expect(refused.headers.get('ratelimit')).to.match(/^"default";r=0;t=\d+$/);
    for (const value of [reply.headers.get('ratelimit'), refused.headers.get('ratelimit'), refused.headers.get('ratelimit-policy')]) {
      for (const key of [KEYS.fields, KEYS.fieldsRefused]) expect(value).not.to.include(key.slice(0, 8));
    }
  });

  it('keeps distinct keys in distinct buckets', async function () {
    await emptyBucket(KEYS.distinctA);
    expect((await postChat(suite.gateway.url, { 'x-api-key': KEYS.distinctA })).status).to.equal(429);
    expect((await postChat(suite.gateway.url, { 'x-api-key': KEYS.distinctB })).status).to.equal(200);
  });

  it("lets a key's plan override capacity and refill rate", async function () {
    const first = await postChat(suite.gateway.url, { 'x-api-key': KEY_PLAN });
    expect(first.status).to.equal(200);
    expect(first.headers.get('ratelimit-policy')).to.equal('"default";q=1;w=1000');
    expect((await postChat(suite.gateway.url, { 'x-api-key': KEY_PLAN })).status).to.equal(429);
  });

  it('gives an honest Retry-After: waiting it out succeeds', async function () {
    const refused = await emptyBucket(KEYS.retryAfter);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).to.be.a('number').and.be.at.least(1).and.at.most(2);
    await sleep(retryAfter * 1000);
    expect((await postChat(suite.gateway.url, { 'x-api-key': KEYS.retryAfter })).status).to.equal(200);
  });

  it('takes nothing from the bucket for a refused request (no debt)', async function () {
    await emptyBucket(KEYS.noDebt);
    // Hammering the empty bucket while refused must not push the next token further away.
    for (let i = 0; i < 10; i += 1) expect((await postChat(suite.gateway.url, { 'x-api-key': KEYS.noDebt })).status).to.equal(429);
    await sleep(2100);
    expect((await postChat(suite.gateway.url, { 'x-api-key': KEYS.noDebt })).status).to.equal(200);
  });
});

describe('token-bucket-rate-limit by client IP', function () {
  let upstream: StandInProvider;
  const gateways: Gateway[] = [];

  before(async function () {
    upstream = await startProvider();
  });

  after(async function () {
    await Promise.all(gateways.map((g) => g.stop()));
    await upstream?.stop();
  });

  async function gatewayWith(action: Record<string, unknown>): Promise<Gateway> {
    const gateway = await startGateway({
      providerUrl: upstream.url,
      steps: [step('detail-error-formatter'), step('token-bucket-rate-limit', { capacity: 2, refillRate: 0.001, ...action }), proxyStep()],
    });
    gateways.push(gateway);
    return gateway;
  }

  it('limits by socket address without key-auth, and a forged X-Forwarded-For changes nothing', async function () {
    const gateway = await gatewayWith({});
    expect(await postFrom(gateway, '127.0.0.2')).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.2', { 'x-forwarded-for': '10.0.0.1' })).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.2', { 'x-forwarded-for': '10.0.0.2' })).to.equal(429);
    expect(await postFrom(gateway, '127.0.0.2', { 'x-forwarded-for': '10.9.9.9, 10.0.0.3' })).to.equal(429);
    expect(await postFrom(gateway, '127.0.0.3')).to.equal(200);
  });

  it('reads X-Forwarded-For behind a trusted proxy hop, from the right', async function () {
    const gateway = await gatewayWith({ trustProxy: 1 });
    expect(await postFrom(gateway, '127.0.0.4', { 'x-forwarded-for': '203.0.113.7' })).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.4', { 'x-forwarded-for': '203.0.113.7' })).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.4', { 'x-forwarded-for': '203.0.113.7' })).to.equal(429);
    // What the client wrote left of the proxy's entry is its own say: same bucket.
    expect(await postFrom(gateway, '127.0.0.4', { 'x-forwarded-for': '1.1.1.1, 203.0.113.7' })).to.equal(429);
    expect(await postFrom(gateway, '127.0.0.4', { 'x-forwarded-for': '203.0.113.8' })).to.equal(200);
  });

  it('trusts only the named CIDRs, and groups IPv6 clients by /64', async function () {
    const gateway = await gatewayWith({ trustProxy: ['127.0.0.0/8'] });
    const v6 = (host: string): Record<string, string> => ({ 'x-forwarded-for': host });
    expect(await postFrom(gateway, '127.0.0.5', v6('2001:db8:1:2::1'))).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.5', v6('2001:db8:1:2:ffff::9'))).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.5', v6('2001:db8:1:2::77'))).to.equal(429);
    expect(await postFrom(gateway, '127.0.0.5', v6('2001:db8:1:3::1'))).to.equal(200);
  });

  it('denies at once, as never passable, a request costing more than the bucket holds', async function () {
    const gateway = await gatewayWith({ cost: 5 });
    const reply = await postChat(gateway.url);
    expectDetail(reply, 403, MESSAGES.costAboveCapacity);
    expect(reply.headers.get('retry-after')).to.equal(null);
  });
});
