// test/regressions/headers-cross-by-blocklist.test.ts
// Issue 13, defect 5: headers crossed the gateway unless a blocklist named them. A key holder's
// OpenAI-Organization, OpenAI-Project, api-key or X-Forwarded-For reached the provider under our
// provider key (choosing which organisation or project we are billed under), and the provider's
// own x-ratelimit-* (our account's limits) and Set-Cookie reached clients. Both directions are now
// allowlists: the headers a chat exchange needs, plus forwardRequestHeaders/forwardResponseHeaders.

import { expect } from 'chai';
import { buildGatewayConfig, proxyStep, step } from '../../testkit/gateway';
import { gatewayInFront } from '../helpers/gateway-fixture';
import { CHAT_BODY, postChat } from '../helpers/http';
import { chatCompletion } from '../../testkit/chat-completions';
import { afterBody } from '../../testkit/provider';

const PROVIDER_KEY = 'sk-provider-for-header-allowlists';

/** What a key holder might send to steer our provider account. */
const STEERING_HEADERS = {
  'OpenAI-Organization': 'org-attacker', 'OpenAI-Project': 'proj-attacker', 'api-key': 'forged', 'X-Forwarded-For': '203.0.113.9',
  'X-Trace': 'trace-1', Cookie: 'session=client', Authorization: 'Bearer client-token', 'X-Api-Key': 'client-key',
};

/** What a provider such as OpenAI sends back. */
const PROVIDER_RESPONSE_HEADERS = {
  'content-type': 'application/json', 'x-request-id': 'req_123', 'retry-after-ms': '250', 'openai-organization': 'org-ours',
  'openai-processing-ms': '12', 'x-ratelimit-limit-requests': '10000', 'x-ratelimit-remaining-tokens': '149000', 'set-cookie': '__cf_bm=abc',
  'x-model-region': 'eu',
};

describe('regression: headers cross the gateway by blocklist', function () {
  const suite = gatewayInFront((provider) => ({
    env: { LLM_PROVIDER_API_KEY: PROVIDER_KEY },
    gatewayConfig: ({ port }) => {
      const config = buildGatewayConfig({ port, providerUrl: provider.url, steps: [step('detail-error-formatter'), proxyStep()] }) as {
        apiEndpoints: Record<string, unknown>; pipelines: Record<string, unknown>;
      };
      config.apiEndpoints['custom'] = { host: '*', paths: ['/custom/v1/chat'], methods: ['POST'] };
      config.pipelines['custom'] = {
        apiEndpoints: ['custom'],
        policies: [step('detail-error-formatter'), proxyStep({ forwardRequestHeaders: ['X-Trace'], forwardResponseHeaders: ['X-Model-Region'] })],
      };
      return config;
    },
  }));

  beforeEach(function () {
    suite.provider.reset();
    suite.provider.handler = afterBody((_req, res) => {
      const body = chatCompletion();
      res.writeHead(200, { ...PROVIDER_RESPONSE_HEADERS, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });

  it('sends the provider only content type and length, accept, user agent, and what the gateway adds', async function () {
    const reply = await postChat(suite.gateway.url, { ...STEERING_HEADERS, accept: 'application/json', 'user-agent': 'test-client/1.0' });
    expect(reply.status).to.equal(200);
    const seen = suite.provider.seen[0]?.headers ?? {};
    expect(Object.keys(seen).sort()).to.deep.equal(['accept', 'accept-encoding', 'authorization', 'connection', 'content-length', 'content-type', 'eg-request-id', 'host', 'user-agent']);
    expect(seen['authorization']).to.equal(`Bearer ${PROVIDER_KEY}`);
    expect(seen['accept-encoding']).to.equal('identity');
    expect(seen['user-agent']).to.equal('test-client/1.0');
    expect(seen['content-length']).to.equal(String(Buffer.byteLength(CHAT_BODY)));
  });

  it('adds the headers named in forwardRequestHeaders, and no others', async function () {
    expect((await postChat(suite.gateway.url, STEERING_HEADERS, CHAT_BODY, '/custom/v1/chat')).status).to.equal(200);
    const seen = suite.provider.seen[0]?.headers ?? {};
    expect(seen['x-trace']).to.equal('trace-1');
    for (const name of ['openai-organization', 'openai-project', 'api-key', 'x-forwarded-for', 'cookie', 'x-api-key']) expect(seen, name).not.to.have.property(name);
  });

  it('passes the client only content type and length, retry-after(-ms) and the request id', async function () {
    const reply = await postChat(suite.gateway.url);
    expect(reply.status).to.equal(200);
    expect(reply.headers.get('x-request-id')).to.equal('req_123');
    expect(reply.headers.get('retry-after-ms')).to.equal('250');
    expect(reply.headers.get('content-type')).to.equal('application/json');
    for (const name of ['openai-organization', 'openai-processing-ms', 'x-ratelimit-limit-requests', 'x-ratelimit-remaining-tokens', 'set-cookie', 'x-model-region']) {
      expect(reply.headers.get(name), name).to.equal(null);
    }
  });

  it('adds the provider headers named in forwardResponseHeaders', async function () {
    const reply = await postChat(suite.gateway.url, {}, CHAT_BODY, '/custom/v1/chat');
    expect(reply.headers.get('x-model-region')).to.equal('eu');
    expect(reply.headers.get('x-ratelimit-limit-requests')).to.equal(null);
  });
});
