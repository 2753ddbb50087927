// test/redis-batching.test.ts
// The Redis store batches: the decisions and settlements asked for in one event-loop turn go out
// in script calls of up to 16 (MONITOR counts what reaches a real redis-server), each with its own answer, in
// the order asked; a turn's lone decision goes out at once; a refund rides with its client's next
// decision, or goes out on its own when its hold ends, and reads back exactly as if applied at once.
// On a single node a call leaves as soon as it is full, so Redis runs it while the turn goes on.

import { expect } from 'chai';
import { once } from 'node:events';
import Redis from 'ioredis';
import { RedisStore } from '../plugin/stores/redis-store';
import type { Decision } from '../plugin/stores/store';
import { monitor, startRedis, type RedisServer } from '../testkit/redis';
import { sleep } from '../testkit/wait';

const REQUESTS = { limits: { capacity: 10, refillRate: 0.001 }, cost: 1 };
const TOKENS = { limits: { capacity: 1000, refillRate: 0.001 }, cost: 400 };

describe('Redis store: a turn\'s decisions in script calls of up to 16', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let client: Redis;
  let store: RedisStore;

  before(async function () {
    redis = await startRedis();
    client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    await once(client, 'ready');
    store = new RedisStore(client, 100);
  });

  after(async function () {
    client?.disconnect();
    await redis?.stop();
  });

  beforeEach(async function () {
    await redis.command('FLUSHALL');
  });

  /** Script calls that reached Redis while `work` ran. */
  async function scriptCallsDuring(work: () => Promise<unknown>): Promise<number> {
    const watch = await monitor(redis.port);
    await sleep(50);
    try {
      await work();
      await sleep(100);
    } finally {
      await watch.stop();
    }
    return (watch.byCommand['evalsha'] ?? 0) + (watch.byCommand['eval'] ?? 0);
  }

  it('decides 16 takes of one turn in one call, in the order asked, each with its own answer', async function () {
    let decisions: Decision[] = [];
    const calls = await scriptCallsDuring(async () => {
      decisions = await Promise.all(Array.from({ length: 16 }, () => store.take('one-client', REQUESTS)));
    });
    expect(calls).to.equal(1);
    expect(decisions.map((d) => d.allowed)).to.deep.equal([...Array(10).fill(true), ...Array(6).fill(false)]);
    expect(decisions.slice(0, 10).map((d) => Math.round(d.requests.remaining))).to.deep.equal([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('sends a lone decision in its own turn, and the next turn\'s in a call of their own', async function () {
    const calls = await scriptCallsDuring(async () => {
      expect((await store.take('lone', REQUESTS)).allowed).to.equal(true);
      await Promise.all([store.take('a', REQUESTS), store.take('b', REQUESTS)]);
    });
    expect(calls).to.equal(2);
  });

  it('writes a call as soon as it holds 16 operations, before the turn ends; the rest at its end', async function () {
    let decisions: Decision[] = [];
    const calls = await scriptCallsDuring(async () => {
      const asked = Array.from({ length: 17 }, (_, i) => store.take(`early-${i}`, REQUESTS));
      // Still in the turn that asked: the full call is on the wire (waiting for its answer), the
      // 17th operation waits for the turn's end.
      expect(client.commandQueue.length, 'calls written during the turn').to.equal(1);
      decisions = await Promise.all(asked);
    });
    expect(calls, 'the full call and the turn-end call').to.equal(2);
    expect(decisions.map((d) => Math.round(d.requests.remaining))).to.deep.equal(Array(17).fill(9));
  });

  it('answers 300 decisions of one turn on 300 keys in 19 calls of at most 16', async function () {
    let allowed = 0;
    const calls = await scriptCallsDuring(async () => {
      const decisions = await Promise.all(Array.from({ length: 300 }, (_, i) => store.take(`client-${i}`, REQUESTS)));
      allowed = decisions.filter((d) => d.allowed && Math.round(d.requests.remaining) === 9).length;
    });
    expect(allowed).to.equal(300);
    expect(calls).to.equal(19);
  });

  it('carries a refund with the client\'s next decision, in that decision\'s call, and reads it back exactly', async function () {
    expect((await store.take('llm', REQUESTS, TOKENS)).tokens?.remaining).to.be.closeTo(600, 0.01);
    let settled = false;
    let remaining: number | undefined;
    const calls = await scriptCallsDuring(async () => {
      const refunds = Promise.all([store.settle('llm', TOKENS.limits, 150), store.settle('llm', TOKENS.limits, 50)]).then(() => { settled = true; });
      // 600 + 150 + 50 = 800: this take of 400 leaves 400, and carries both refunds.
      remaining = (await store.take('llm', REQUESTS, TOKENS)).tokens?.remaining;
      await refunds;
    });
    expect(calls, 'one call: the decision, carrying the refunds').to.equal(1);
    expect(settled).to.equal(true);
    expect(remaining).to.be.closeTo(400, 0.01);
  });

  it('sends a refund no decision claimed once its hold ends, and applies a debt at once, capped first', async function () {
    expect((await store.take('quiet', REQUESTS, TOKENS)).tokens?.remaining).to.be.closeTo(600, 0.01);
    const calls = await scriptCallsDuring(() => store.settle('quiet', TOKENS.limits, 5000));
    expect(calls, 'the refund on its own, after the hold').to.equal(1);
    // The refund lifted the bucket to its capacity (1000), not above; the debt then counts in full.
    await store.settle('quiet', TOKENS.limits, -1200);
    const decision = await store.take('quiet', REQUESTS, TOKENS);
    expect(decision.allowed).to.equal(false);
    expect(decision.tokens?.remaining).to.be.closeTo(-200, 0.01);
  });

  it('applies a debt after the refund still held for the client, capped first', async function () {
    expect((await store.take('order', REQUESTS, TOKENS)).tokens?.remaining).to.be.closeTo(600, 0.01);
    // In order: +600 (capped at 1000), then -500: 500 left. Applied the other way round, 700.
    const refund = store.settle('order', TOKENS.limits, 600);
    await store.settle('order', TOKENS.limits, -500);
    await refund;
    const decision = await store.take('order', REQUESTS, { ...TOKENS, cost: 600 });
    expect(decision.allowed).to.equal(false);
    expect(decision.tokens?.remaining).to.be.closeTo(500, 0.01);
  });

  it('keeps the refund a refused decision carried', async function () {
    expect((await store.take('refused', REQUESTS, { ...TOKENS, cost: 1000 })).allowed).to.equal(true);
    const refund = store.settle('refused', TOKENS.limits, 300);
    // 0 + 300 < 400: refused, but the 300 stay.
    expect((await store.take('refused', REQUESTS, TOKENS)).allowed).to.equal(false);
    await refund;
    expect((await store.take('refused', REQUESTS, { ...TOKENS, cost: 300 })).tokens?.remaining).to.be.closeTo(0, 0.01);
  });

  it('forgets a refund to a bucket that had expired (a missing bucket is a full one)', async function () {
    await store.settle('gone', TOKENS.limits, 100);
    expect(await redis.command('KEYS', '*')).to.deep.equal([]);
  });
});
