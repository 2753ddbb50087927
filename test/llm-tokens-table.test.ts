// test/llm-tokens-table.test.ts
// One table of LLM-token sequences (reservations, settlements on usage, refusals, debts),
// answered by the memory store, a single Redis and a 3-primary Redis Cluster: the same statuses
// and the same remaining tokens, step by step. Refill rates are tiny, so timing changes nothing.

import { expect } from 'chai';
import { estimateTokens } from '../plugin/llm/estimate';
import { answerChat, type UsageReport } from '../testkit/chat-answers';
import { type Gateway, proxyStep, startGateway, step } from '../testkit/gateway';
import { startProvider, type StandInProvider } from '../testkit/provider';
import { startRedis, type RedisServer } from '../testkit/redis';
import { eventually } from '../testkit/wait';
import { postChat } from './helpers/http';
import { RedisClusterTopology } from '../testkit/redis-cluster';

const CAPACITY = 300;
const WARM_UP_KEY = 'llm-table-warm-up-key-0123456789abcdef';

interface TokenStep {
  readonly maxTokens: number;
  /** What the provider reports, for the `words` it writes (default 20, cut at max_tokens). */
  readonly usage: UsageReport;
  readonly words?: number;
  readonly status: 200 | 429;
}

interface TokenCase { readonly name: string; readonly steps: readonly TokenStep[] }

const TABLE: readonly TokenCase[] = [
  { name: 'reservations settled on usage below them', steps: [{ maxTokens: 100, usage: 'estimate', status: 200 }, { maxTokens: 100, usage: 'estimate', status: 200 }, { maxTokens: 100, usage: 'estimate', status: 200 }] },
  { name: 'a refusal takes nothing', steps: [{ maxTokens: 250, usage: 'estimate', status: 200 }, { maxTokens: 280, usage: 'estimate', status: 429 }, { maxTokens: 5, usage: 'estimate', status: 200 }] },
  { name: 'usage beyond the reservation is charged in full', steps: [{ maxTokens: 20, usage: 'double', status: 200 }, { maxTokens: 300, usage: 'estimate', status: 429 }, { maxTokens: 5, usage: 'estimate', status: 200 }] },
  { name: 'a debt is waited out, not forgiven', steps: [{ maxTokens: 300, usage: 'double', words: 200, status: 200 }, { maxTokens: 5, usage: 'estimate', status: 429 }, { maxTokens: 1, usage: 'estimate', status: 429 }] },
  { name: 'an answer without usage is charged its estimate', steps: [{ maxTokens: 60, usage: 'none', status: 200 }, { maxTokens: 60, usage: 'none', status: 200 }] },
  { name: 'a reservation above the capacity is capped, and settled like any other', steps: [{ maxTokens: 5000, usage: 'estimate', status: 200 }, { maxTokens: 5, usage: 'estimate', status: 200 }] },
];

const bodyOf = (maxTokens: number): Record<string, unknown> => ({ model: 'stand-in', max_tokens: maxTokens, messages: [{ role: 'user', content: 'a table step' }] });

describe('LLM tokens: one table, three stores', function () {
  this.timeout(90_000);
  let redis: RedisServer;
  let cluster: RedisClusterTopology;
  let provider: StandInProvider;
  const gateways: Array<{ store: string; gateway: Gateway }> = [];
  let plan: { usage: UsageReport; completionTokens: number } = { usage: 'estimate', completionTokens: 20 };

  before(async function () {
    [redis, cluster, provider] = await Promise.all([startRedis(), RedisClusterTopology.start(), startProvider()]);
    // The plan of each step is read from a request header, so one handler serves every case.
    provider.handler = (exchange) => answerChat(provider, plan)(exchange);
    const steps = [
      step('detail-error-formatter'),
      step('key-auth', { keys: [...TABLE.map((_, i) => ({ id: `case-${i}`, key: `llm-table-key-${i}-0123456789abcdef` })), { id: 'warm-up', key: WARM_UP_KEY }] }),
      step('token-bucket-rate-limit', { capacity: 1000, refillRate: 0.001, llmTokens: { capacity: CAPACITY, refillRate: 0.001 } }),
      proxyStep(),
    ];
    const start = (store: string, pluginSettings?: Record<string, unknown>) =>
      startGateway({ providerUrl: provider.url, steps, ...(pluginSettings === undefined ? {} : { pluginSettings }) }).then((gateway) => gateways.push({ store, gateway }));
    await Promise.all([start('memory'), start('redis', { redis: redis.url }), start('cluster', { redisClusterNodes: cluster.nodesSetting })]);
    // The memory store first: the others are compared with it.
    gateways.sort((a, b) => ['memory', 'redis', 'cluster'].indexOf(a.store) - ['memory', 'redis', 'cluster'].indexOf(b.store));
    // A Cluster client decides once it has its slot map.
    const clusterGateway = gateways.find((g) => g.store === 'cluster')?.gateway as Gateway;
    expect(await eventually(async () => (await postChat(clusterGateway.url, { 'x-api-key': WARM_UP_KEY }, JSON.stringify(bodyOf(1)))).status === 200, 5000)).to.equal(true);
  });

  after(async function () {
    await Promise.all(gateways.map(({ gateway }) => gateway.stop()));
    await provider?.stop();
    await Promise.all([redis?.stop(), cluster?.stop()]);
  });

  TABLE.forEach((tableCase, index) => {
    it(`answers "${tableCase.name}" alike on the memory store, a single Redis and a Cluster`, async function () {
      const key = `llm-table-key-${index}-0123456789abcdef`;
      const answers: Array<{ store: string; seen: Array<{ status: number; remaining: number }> }> = [];
      for (const { store, gateway } of gateways) {
        const seen: Array<{ status: number; remaining: number }> = [];
        for (const tableStep of tableCase.steps) {
          plan = { usage: tableStep.usage, completionTokens: tableStep.words ?? 20 };
          const reply = await postChat(gateway.url, { 'x-api-key': key }, JSON.stringify(bodyOf(tableStep.maxTokens)));
          seen.push({ status: reply.status, remaining: Number(reply.headers.get('x-ratelimit-remaining-tokens')) });
        }
        answers.push({ store, seen });
      }
      for (const { store, seen } of answers) expect(seen.map((s) => s.status), `${store} statuses`).to.deep.equal(tableCase.steps.map((s) => s.status));
      const [memory, ...others] = answers;
      for (const other of others) expect(other.seen, `${other.store} against the memory store`).to.deep.equal(memory?.seen);
      // The first step leaves exactly the capacity less its reservation.
      const first = estimateTokens(bodyOf(tableCase.steps[0]?.maxTokens ?? 0), 1024);
      expect(memory?.seen[0]?.remaining).to.equal(Math.max(0, CAPACITY - Math.min(CAPACITY, first.input + first.output)));
    });
  });
});
