// test/rate-limit-table.test.ts
// One table of request sequences, answered by the memory store and by the Redis store: the same
// statuses and the same remaining counts, step by step.

import { expect } from 'chai';
import { BUCKET_TABLE } from './helpers/bucket-table';
import { type Gateway, proxyStep, startGateway, step } from '../testkit/gateway';
import { postChat } from './helpers/http';
import { sleep } from '../testkit/wait';
import { startRedis, type RedisServer } from '../testkit/redis';
import { startProvider, type StandInProvider } from '../testkit/provider';

function remainingOf(field: string | null): number | undefined {
  const match = /;r=(\d+)/.exec(field ?? '');
  return match ? Number(match[1]) : undefined;
}

describe('token-bucket-rate-limit: one table, both stores', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let upstream: StandInProvider;
  const gateways: Array<{ store: string; gateway: Gateway }> = [];

  before(async function () {
    redis = await startRedis();
    upstream = await startProvider();
    // One apiEndpoint per table case would need one config each; instead each case gets its own
    // pipeline policyName, so its buckets never meet another case's.
    const steps = [
      step('detail-error-formatter'),
      { 'token-bucket-rate-limit': BUCKET_TABLE.map((c, i) => ({
        condition: { name: 'expression', expression: `req.headers['x-case'] === '${i}'` },
        action: { ...c.action, policyName: `case${i}` },
      })) },
      proxyStep(),
    ];
    gateways.push({ store: 'memory', gateway: await startGateway({ providerUrl: upstream.url, steps }) });
    gateways.push({ store: 'redis', gateway: await startGateway({ providerUrl: upstream.url, steps, pluginSettings: { redis: redis.url } }) });
  });

  after(async function () {
    await Promise.all(gateways.map(({ gateway }) => gateway.stop()));
    await upstream?.stop();
    await redis?.stop();
  });

  BUCKET_TABLE.forEach((tableCase, index) => {
    it(`answers "${tableCase.name}" alike on both stores`, async function () {
      const answers = await Promise.all(gateways.map(async ({ store, gateway }) => {
        const seen: Array<{ status: number; remaining: number | undefined }> = [];
        for (const tableStep of tableCase.steps) {
          if (tableStep.waitMs) await sleep(tableStep.waitMs);
          const reply = await postChat(gateway.url, { 'x-case': String(index) });
          seen.push({ status: reply.status, remaining: remainingOf(reply.headers.get('ratelimit')) });
        }
        return { store, seen };
      }));
      const expected = tableCase.steps.map((s) => s.status);
      for (const { store, seen } of answers) {
        expect(seen.map((s) => s.status), `${store} statuses`).to.deep.equal(expected);
        tableCase.steps.forEach((s, i) => {
          if (s.remaining !== undefined) expect(seen[i]?.remaining, `${store} remaining at step ${i}`).to.equal(s.remaining);
        });
      }
      expect(answers[0]?.seen).to.deep.equal(answers[1]?.seen);
    });
  });
});
