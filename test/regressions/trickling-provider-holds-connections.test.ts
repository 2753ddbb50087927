// test/regressions/trickling-provider-holds-connections.test.ts
// Issue 13: with totalTimeoutMs 0 by default, a provider that trickles a byte now and then (never
// idle long enough for idleTimeoutMs) held the client's and the provider's connection forever.
// totalTimeoutMs now defaults to 10 minutes, long enough for long LLM answers; a stream cut by it
// ends with the last `{"detail"}` event, like every other failure.

import { expect } from 'chai';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { MESSAGES } from '../../plugin/messages';
import { DEFAULTS } from '../../plugin/policies/proxy/options';
import { schema } from '../../plugin/policies/proxy/schema';
import { openStream } from '../helpers/event-stream';
import { type Exchange } from '../../testkit/provider';
import { buildGatewayConfig, proxyStep, step } from '../../testkit/gateway';
import { gatewayInFront } from '../helpers/gateway-fixture';
import { eventually } from '../../testkit/wait';

const TEN_MINUTES_MS = 600_000;
const TOTAL_MS = 700;
const STREAM_BODY = JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hello' }] });

/** Writes one small piece every 50 ms, for ever: never idle, never done. */
function trickle(contentType: string, piece: string): (exchange: Exchange) => void {
  return (exchange) => {
    void exchange.body.then(() => {
      exchange.res.writeHead(200, { 'content-type': contentType });
      exchange.res.write(piece);
      const timer = setInterval(() => { if (exchange.res.destroyed) clearInterval(timer); else exchange.res.write(piece); }, 50);
      exchange.res.on('close', () => clearInterval(timer));
    });
  };
}

describe('regression: a provider that trickles bytes holds both connections forever', function () {
  const suite = gatewayInFront((provider) => ({
    gatewayConfig: ({ port }) => {
      const config = buildGatewayConfig({ port, providerUrl: provider.url, steps: [step('detail-error-formatter'), proxyStep()] }) as {
        apiEndpoints: Record<string, unknown>; pipelines: Record<string, unknown>;
      };
      config.apiEndpoints['short'] = { host: '*', paths: ['/short/v1/chat'], methods: ['POST'] };
      config.pipelines['short'] = { apiEndpoints: ['short'], policies: [step('detail-error-formatter'), proxyStep({ totalTimeoutMs: TOTAL_MS })] };
      return config;
    },
  }));

  afterEach(() => suite.provider.reset());

  it('bounds the whole exchange at 10 minutes by default', async function () {
    expect(DEFAULTS.totalTimeoutMs).to.equal(TEN_MINUTES_MS);
    expect(schema.properties.totalTimeoutMs.default).to.equal(TEN_MINUTES_MS);
    // The gateway says which timeouts its proxy step runs with; this one set none.
    expect(await eventually(() => suite.gateway.logs.includes(`"totalTimeoutMs":${TEN_MINUTES_MS}`), 5000)).to.equal(true);
  });

  it('ends a trickling event stream at totalTimeoutMs with the last detail event, and hangs up on the provider', async function () {
    suite.provider.handler = trickle('text/event-stream', 'data: {"n":0}\n\n');
    const started = performance.now();
    const stream = await openStream(`${suite.gateway.url}/short/v1/chat`, STREAM_BODY);
    const done = await stream.done;
    expect(done.how).to.equal('end');
    expect(done.at - started).to.be.within(TOTAL_MS - 20, TOTAL_MS + 1500);
    expect(stream.events.length).to.be.above(3);
    expect(stream.events.at(-1)?.data).to.equal(JSON.stringify({ detail: MESSAGES.internalError }));
    expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 1000)).to.equal(true);
  });

  it('cuts a trickling plain answer at totalTimeoutMs, and hangs up on the provider', async function () {
    suite.provider.handler = trickle('application/json', ' ');
    const started = performance.now();
    const outcome = await new Promise<string>((resolve) => {
      const req = http.request(`${suite.gateway.url}/short/v1/chat`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } });
      req.on('error', () => resolve('cut'));
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve('end'));
        res.on('error', () => resolve('cut'));
        res.on('close', () => resolve(res.complete ? 'end' : 'cut'));
      });
      req.end(STREAM_BODY);
    });
    expect(outcome).to.equal('cut');
    expect(performance.now() - started).to.be.within(TOTAL_MS - 20, TOTAL_MS + 1500);
    expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 1000)).to.equal(true);
  });
});
