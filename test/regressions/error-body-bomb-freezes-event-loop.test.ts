// test/regressions/error-body-bomb-freezes-event-loop.test.ts
// Issue 13, defect 2: provider error bodies were decompressed with gunzipSync/brotliDecompressSync
// and no output limit, though the gateway asks for `identity`: a 1.6 KB brotli 400 froze the event
// loop for seconds and took RSS to gigabytes. gzip and deflate are now inflated asynchronously and
// only up to maxErrorBodyBytes of output; brotli is not inflated at all (its decoder fills a window
// of up to 16 MiB whatever the output limit). Past the limit, the client gets the generic message.

import { expect } from 'chai';
import { rssOf } from '../../testkit/proc';
import { MESSAGES } from '../../plugin/messages';
import { compressedText, compressedZeros, type BodyEncoding } from '../helpers/compressed';
import { expectDetail } from '../helpers/detail';
import { proxyStep, step } from '../../testkit/gateway';
import { gatewayInFront } from '../helpers/gateway-fixture';
import { postChat } from '../helpers/http';
import { eventLoopLagMaxMs } from '../helpers/metrics';
import { afterBody, type ExchangeHandler } from '../../testkit/provider';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
/** Idle, the lag gauge reads about 10 ms (its own tick); the old code stalled for seconds. */
const MAX_LAG_MS = 50;

function answersWith(status: number, encoding: BodyEncoding, body: Buffer): ExchangeHandler {
  return afterBody((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': body.length });
    res.end(body);
  });
}

describe('regression: a compressed provider error body freezes the event loop', function () {
  this.timeout(60_000);
  const suite = gatewayInFront(() => ({ steps: [step('detail-error-formatter'), proxyStep()] }));
  const bombs = new Map<BodyEncoding, Buffer>();

  before(async function () {
    // Both stay under the default maxErrorBodyBytes (64 KiB) compressed, so all of it is read.
    bombs.set('br', await compressedZeros('br', GIB));
    bombs.set('gzip', await compressedZeros('gzip', 64 * MIB));
  });

  afterEach(() => suite.provider.reset());

  for (const [encoding, inflated] of [['br', '1 GiB'], ['gzip', '64 MiB']] as const) {
    it(`answers a ${encoding} 400 that inflates to ${inflated} with the generic message, within ${MAX_LAG_MS} ms of loop lag and no memory spike`, async function () {
      const bomb = bombs.get(encoding) as Buffer;
      expect(bomb.length).to.be.below(64 * 1024);
      suite.provider.handler = answersWith(400, encoding, bomb);
      const pid = suite.gateway.child.pid as number;
      const rssBefore = rssOf(pid);
      await eventLoopLagMaxMs(suite.gateway);
      const started = Date.now();
      const reply = await postChat(suite.gateway.url);
      const tookMs = Date.now() - started;
      const lagMs = await eventLoopLagMaxMs(suite.gateway);
      const rssGrowthMiB = (rssOf(pid) - rssBefore) / MIB;
      if (process.env['REPORT_FIGURES']) console.log(`    ${encoding} bomb of ${bomb.length} bytes: answered in ${tookMs} ms, loop lag max ${lagMs.toFixed(1)} ms, RSS +${rssGrowthMiB.toFixed(1)} MiB`);
      expectDetail(reply, 400, MESSAGES.providerError);
      expect(lagMs, 'event-loop lag (ms)').to.be.at.most(MAX_LAG_MS);
      expect(tookMs, 'answer time (ms)').to.be.below(2000);
      expect(rssGrowthMiB, 'RSS growth (MiB)').to.be.below(64);
    });
  }

  it('still passes on the message of a gzip error body that fits the limit', async function () {
    suite.provider.handler = answersWith(422, 'gzip', compressedText('gzip', JSON.stringify({ error: { message: 'temperature is out of range' } })));
    expectDetail(await postChat(suite.gateway.url), 422, 'temperature is out of range');
  });

  it('answers a brotli error body with the generic message, unread', async function () {
    suite.provider.handler = answersWith(400, 'br', compressedText('br', JSON.stringify({ error: { message: 'model "x" does not exist' } })));
    expectDetail(await postChat(suite.gateway.url), 400, MESSAGES.providerError);
  });

  it('answers the generic message when the inflated body passes maxErrorBodyBytes, however small it was compressed', async function () {
    const message = 'x'.repeat(70 * 1024);
    suite.provider.handler = answersWith(400, 'gzip', compressedText('gzip', JSON.stringify({ error: { message } })));
    expectDetail(await postChat(suite.gateway.url), 400, MESSAGES.providerError);
  });
});
