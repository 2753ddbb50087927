// test/regressions/provider-fails-before-first-byte.test.ts
// Issue 13: a provider that failed after its response headers but before any body byte reached
// the client (a reset, an idle gap) left the client with a bare TCP reset, because the status line
// had already been committed. While nothing has been written to the client, every provider failure
// now answers the contract's JSON: 500, or 502/504 under `upstreamFailureStatus: gateway-error`.
// Event streams still open at once; a failure after that ends them with the last detail event.

import { expect } from 'chai';
import { MESSAGES } from '../../plugin/messages';
import { openStream } from '../helpers/event-stream';
import { type Exchange } from '../../testkit/provider';
import { expectDetail } from '../helpers/detail';
import { buildGatewayConfig, proxyStep, step } from '../../testkit/gateway';
import { gatewayInFront } from '../helpers/gateway-fixture';
import { eventually } from '../../testkit/wait';
import { postChat } from '../helpers/http';

const IDLE_MS = 300;
const STREAM_BODY = JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hello' }] });

/** Sends status and headers (flushed), then resets the connection or goes quiet. */
function headersThen(what: 'reset' | 'quiet', status: number, headers: Record<string, string>, body = ''): (exchange: Exchange) => void {
  return (exchange) => {
    void exchange.body.then(() => {
      exchange.res.writeHead(status, headers);
      if (body === '') exchange.res.flushHeaders();
      else exchange.res.write(body);
      if (what === 'reset') setTimeout(() => exchange.req.socket.destroy(), 20);
    });
  };
}

describe('regression: a provider that fails before the first body byte leaves the client a bare reset', function () {
  const suite = gatewayInFront((provider) => ({
    gatewayConfig: ({ port }) => {
      const config = buildGatewayConfig({ port, providerUrl: provider.url, steps: [step('detail-error-formatter'), proxyStep({ idleTimeoutMs: IDLE_MS })] }) as {
        apiEndpoints: Record<string, unknown>; pipelines: Record<string, unknown>;
      };
      config.apiEndpoints['gw'] = { host: '*', paths: ['/gw/v1/chat'], methods: ['POST'] };
      config.pipelines['gw'] = {
        apiEndpoints: ['gw'],
        policies: [step('detail-error-formatter', { upstreamFailureStatus: 'gateway-error' }), proxyStep({ idleTimeoutMs: IDLE_MS })],
      };
      return config;
    },
  }));

  afterEach(() => suite.provider.reset());

  const json = { 'content-type': 'application/json', 'content-length': '120' };

  it('answers 500 JSON when the provider resets after its headers', async function () {
    suite.provider.handler = headersThen('reset', 200, json);
    expectDetail(await postChat(suite.gateway.url), 500, MESSAGES.internalError);
  });

  it('answers 500 JSON when the provider goes quiet after its headers for idleTimeoutMs, and hangs up on it', async function () {
    suite.provider.handler = headersThen('quiet', 200, json);
    expectDetail(await postChat(suite.gateway.url), 500, MESSAGES.internalError);
    expect(await eventually(() => suite.provider.exchanges[0]?.abortedAt !== undefined, 1000)).to.equal(true);
  });

  it('answers 502 and 504 under gateway-error', async function () {
    suite.provider.handler = headersThen('reset', 200, json);
    expectDetail(await postChat(suite.gateway.url, {}, undefined, '/gw/v1/chat'), 502, MESSAGES.internalError);
    suite.provider.handler = headersThen('quiet', 200, json);
    expectDetail(await postChat(suite.gateway.url, {}, undefined, '/gw/v1/chat'), 504, MESSAGES.internalError);
  });

  it('answers 500 JSON, not the provider 4xx, when a provider error body is cut by a reset', async function () {
    suite.provider.handler = headersThen('reset', 400, json, '{"error":{"message":"messages is req');
    expectDetail(await postChat(suite.gateway.url), 500, MESSAGES.internalError);
  });

  it('still opens an event stream at once, and ends it with the last detail event when the provider then resets', async function () {
    suite.provider.handler = headersThen('reset', 200, { 'content-type': 'text/event-stream' });
    const stream = await openStream(`${suite.gateway.url}/v1/chat`, STREAM_BODY);
    expect(stream.status).to.equal(200);
    expect((await stream.done).how).to.equal('end');
    expect(stream.events.map((e) => e.data)).to.deep.equal([JSON.stringify({ detail: MESSAGES.internalError })]);
  });
});
