// test/reliability/redis-outage.rel.ts
// Redis killed for 5 s under load, then restarted: the gateway survives, every answer during the
// outage arrives in bounded time and in the configured failure mode (closed: 500 detail; open:
// 200), and limits are enforced again within 2 s of Redis answering.

import { expect } from 'chai';
import { startGateway, type Gateway } from '../../testkit/gateway';
import { startRedis, type RedisServer } from '../../testkit/redis';
import { startProvider, type StandInProvider } from '../../testkit/provider';
import { postChat } from '../helpers/http';
import { sleep } from '../../testkit/wait';
import { INTERNAL_ERROR, LOAD_KEY, detailOf, fullPipeline, hammer, loadKey, record, tally } from './support';

const PROBES = Array.from({ length: 80 }, (_, i) => ({ id: `probe-${i}`, key: `reliability-probe-key-${String(i).padStart(4, '0')}-000000000000` }));
/** Longest acceptable answer while Redis is down: the limiter's own command timeout plus a busy 2-core loop. */
const ANSWER_BOUND_MS = 3000;

for (const failureMode of ['closed', 'open'] as const) {
  describe(`reliability: Redis killed for 5 s under load (failureMode ${failureMode})`, function () {
    this.timeout(90_000);
    let redis: RedisServer;
    let upstream: StandInProvider;
    let gateway: Gateway;

    before(async () => {
      redis = await startRedis();
      upstream = await startProvider();
      gateway = await startGateway({
        providerUrl: upstream.url,
        steps: fullPipeline([loadKey(), ...PROBES], { capacity: 2, refillRate: 0.001, failureMode }),
        pluginSettings: { redis: redis.url },
      });
    });

    after(async () => {
      await gateway?.stop();
      await upstream?.stop();
      await redis?.stop();
    });

    it(`keeps serving in fail-${failureMode} mode and enforces limits again within 2 s of Redis returning`, async () => {
      let stopLoad = (): void => undefined;
      const until = new Promise<void>((resolve) => { stopLoad = resolve; });
      const loading = hammer({ url: `${gateway.url}/v1/chat`, headers: { 'X-API-Key': LOAD_KEY }, connections: 8, until });
      await sleep(1000);
      const killedAt = Date.now();
      await redis.kill();
      await sleep(5000);
      await redis.start();
      const restartedAt = Date.now();

      // A fresh probe key each round: capacity 2, so 200, 200, 429 means the Redis buckets decide again.
      let backAfterMs: number | undefined;
      for (const probe of PROBES) {
        if (Date.now() > restartedAt + 8000) break;
        const statuses: number[] = [];
        for (let i = 0; i < 3; i += 1) statuses.push((await postChat(gateway.url, { 'X-API-Key': probe.key })).status);
        if (statuses.join() === '200,200,429') { backAfterMs = Date.now() - restartedAt; break; }
        await sleep(100);
      }
      stopLoad();
      const answers = await loading;

      expect(gateway.hasExited, `gateway exited:\n${gateway.logs.slice(-3000)}`).to.equal(false);
      const during = answers.filter((a) => a.sentAt > killedAt + 300 && a.doneAt < restartedAt);
      const slow = answers.filter((a) => a.doneAt - a.sentAt > ANSWER_BOUND_MS);
      const wrongMode = during.filter((a) => (failureMode === 'closed'
        ? !(a.status === 500 && detailOf(a.body) === INTERNAL_ERROR)
        : a.status !== 200));
      const unanswered = answers.filter((a) => a.status === 0);
      const notJson = answers.filter((a) => a.status !== 200 && a.status !== 0 && detailOf(a.body) === undefined);
      record(`redis-outage-${failureMode}`, {
        requests: answers.length, duringOutage: during.length, statuses: tally(answers), statusesDuringOutage: tally(during),
        slowest: Math.max(...answers.map((a) => a.doneAt - a.sentAt)), limitsBackAfterMs: backAfterMs ?? null,
      });
      expect(during.length, 'requests answered during the outage').to.be.greaterThan(10);
      expect(unanswered.map((a) => a.body).slice(0, 3), 'requests without an answer').to.deep.equal([]);
      expect(slow.length, `answers slower than ${ANSWER_BOUND_MS} ms`).to.equal(0);
      expect(wrongMode.slice(0, 3).map((a) => `${a.status} ${a.body.slice(0, 120)}`), 'answers during the outage in another mode').to.deep.equal([]);
      expect(notJson.slice(0, 3).map((a) => a.body.slice(0, 120)), 'error bodies that are not {"detail"}').to.deep.equal([]);
      expect(backAfterMs, 'limits enforced again after Redis restarted (ms)').to.be.a('number');
      expect(backAfterMs as number).to.be.at.most(2000);
    });
  });
}
