// test/reliability/reloads.rel.ts
// 20 config reloads (in-place edits of gateway.config.yml, as an operator's editor makes them)
// under load: not one request fails. Each reload is confirmed by a key that only the new config
// declares before the next edit is made.

import { expect } from 'chai';
import { buildGatewayConfig } from '../../testkit/gateway';
import { eventually, sleep } from '../../testkit/wait';
import { postChat } from '../helpers/http';
import { LOAD_KEY, fullPipeline, hammer, loadKey, record, tally } from './support';
import { gatewayInFront } from '../helpers/gateway-fixture';

const RELOADS = 20;
const reloadKey = (i: number): string => `reliability-reload-key-${String(i).padStart(3, '0')}-00000000000000`;

describe('reliability: 20 config reloads under load', function () {
  this.timeout(240_000);
  const suite = gatewayInFront(() => ({ steps: fullPipeline([loadKey(), { id: 'reload-0', key: reloadKey(0) }], { capacity: 100, refillRate: 10 }) }));

  const configFor = (i: number): Record<string, unknown> => buildGatewayConfig({
    port: suite.gateway.port, providerUrl: suite.provider.url,
    steps: fullPipeline([loadKey(), { id: `reload-${i}`, key: reloadKey(i) }], { capacity: 100 + i, refillRate: 10 }),
  });

  it('answers every request with 200 across 20 reloads', async () => {
    let stopLoad = (): void => undefined;
    const until = new Promise<void>((resolve) => { stopLoad = resolve; });
    const loading = hammer({ url: `${suite.gateway.url}/v1/chat`, headers: { 'X-API-Key': LOAD_KEY }, connections: 8, until });
    const reloadMs: number[] = [];
    let applied = 0;
    try {
      for (let i = 1; i <= RELOADS; i += 1) {
        const writtenAt = Date.now();
        suite.gateway.writeGatewayConfig(configFor(i));
        const ok = await eventually(async () => (await postChat(suite.gateway.url, { 'X-API-Key': reloadKey(i) })).status === 200, 15_000, 100);
        if (!ok) break;
        applied += 1;
        reloadMs.push(Date.now() - writtenAt);
        // EG's watcher waits for the write to settle; a gap keeps two edits from merging into one reload.
        await sleep(300);
      }
    } finally {
      stopLoad();
    }
    const answers = await loading;
    const failed = answers.filter((a) => a.status !== 200);
    record('reloads', {
      reloads: applied, requests: answers.length, statuses: tally(answers),
      reloadAppliedMs: { min: Math.min(...reloadMs), max: Math.max(...reloadMs) },
    });
    expect(suite.gateway.hasExited, `gateway exited:\n${suite.gateway.logs.slice(-3000)}`).to.equal(false);
    expect(applied, 'reloads applied').to.equal(RELOADS);
    expect(answers.length).to.be.greaterThan(100);
    expect(failed.slice(0, 5).map((a) => `${a.status} ${a.body.slice(0, 160)}`), 'failed requests').to.deep.equal([]);
  });
});
