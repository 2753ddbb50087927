// test/key-auth.test.ts
// key-auth against a real gateway and a real upstream: plain and hashed keys, each reason for a
// 401 (one body for all), scopes, expiry, the identity handed on, the key never reaching the
// provider, logs or metrics, and keys in the query string only when apiKeyField asks for it.

import { expect } from 'chai';
import { MESSAGES } from '../plugin/messages';
import { expectDetail } from './helpers/detail';
import { proxyStep, step } from '../testkit/gateway';
import { call, CHAT_BODY, postChat } from './helpers/http';
import { eventually } from '../testkit/wait';
import { newKey, recordIdentityStep, secretForms, sha256, twoEndpointConfig } from './key-auth-helpers';
import { metricsText } from './helpers/metrics';
import { gatewayInFront } from './helpers/gateway-fixture';

const KEYS = {
  plain: newKey(),
  hashed: newKey(),
  disabled: newKey(),
  expired: newKey(),
  future: newKey(),
  scoped: newKey(),
  plan: newKey(),
};

describe('key-auth', function () {
  const suite = gatewayInFront((upstream) => ({
    env: { LOG_LEVEL: 'debug' },
    gatewayConfig: (ports) => twoEndpointConfig(ports, upstream.url, [
      step('detail-error-formatter'),
      step('key-auth', {
        keys: [
          { id: 'plain', key: KEYS.plain },
          { id: 'hashed', sha256: sha256(KEYS.hashed).toUpperCase() },
          { id: 'disabled', key: KEYS.disabled, disabled: true },
          { id: 'expired', sha256: sha256(KEYS.expired), expiresAt: '2020-01-01T00:00:00Z' },
          { id: 'future', key: KEYS.future, expiresAt: '2999-12-31T23:59:59Z' },
          { id: 'scoped', key: KEYS.scoped, apiEndpoints: ['chat'] },
          { id: 'plan', sha256: sha256(KEYS.plan), rateLimit: { capacity: 5, refillRate: 0.5 } },
          { id: 'typo', key: newKey(), apiEndpoints: ['chta'] },
        ],
      }),
      recordIdentityStep,
      // The proxy would forward the key header here, so only key-auth can keep it from the upstream.
      proxyStep({ forwardRequestHeaders: ['X-API-Key', 'X-Test-Identity'] }),
    ]),
  }));

  beforeEach(() => suite.provider.reset());

  it('lets a plain key through and the upstream never sees the key header', async function () {
    const reply = await postChat(suite.gateway.url, { 'X-API-Key': KEYS.plain });
    expect(reply.status, reply.text).to.equal(200);
    expect(suite.provider.seen).to.have.length(1);
    const seen = suite.provider.seen[0]!;
    expect(seen.headers).not.to.have.property('x-api-key');
    expect(JSON.stringify(seen)).not.to.include(KEYS.plain);
    expect(JSON.stringify(seen)).not.to.include(sha256(KEYS.plain));
  });

  it('lets a key declared by its sha256 through (hex in either case)', async function () {
    const reply = await postChat(suite.gateway.url, { 'X-API-Key': KEYS.hashed });
    expect(reply.status, reply.text).to.equal(200);
    expect(suite.provider.seen[0]?.headers).not.to.have.property('x-api-key');
  });

  it("records the key's id and plan on req.user for later policies, never the key", async function () {
    expect((await postChat(suite.gateway.url, { 'X-API-Key': KEYS.plan })).status).to.equal(200);
    const identity = JSON.parse(String(suite.provider.seen[0]?.headers['x-test-identity'])) as unknown;
    expect(identity).to.deep.equal({ type: 'api-key', id: 'plan', rateLimit: { capacity: 5, refillRate: 0.5 } });
    expect((await postChat(suite.gateway.url, { 'X-API-Key': KEYS.plain })).status).to.equal(200);
    expect(JSON.parse(String(suite.provider.seen[1]?.headers['x-test-identity']))).to.deep.equal({ type: 'api-key', id: 'plain' });
  });

  const refusals: Array<[string, () => Record<string, string>, string]> = [
    ['a missing header', () => ({}), '/v1/chat'],
    ['an empty header', () => ({ 'X-API-Key': '' }), '/v1/chat'],
    ['an unknown key', () => ({ 'X-API-Key': newKey() }), '/v1/chat'],
    ['a key that differs by one character', () => ({ 'X-API-Key': `${KEYS.plain.slice(0, -1)}${KEYS.plain.endsWith('A') ? 'B' : 'A'}` }), '/v1/chat'],
    ['a disabled key', () => ({ 'X-API-Key': KEYS.disabled }), '/v1/chat'],
    ['an expired key', () => ({ 'X-API-Key': KEYS.expired }), '/v1/chat'],
    ['a key used on an apiEndpoint outside its scope', () => ({ 'X-API-Key': KEYS.scoped }), '/v1/chat/completions'],
    ['the key as a hash', () => ({ 'X-API-Key': sha256(KEYS.hashed) }), '/v1/chat'],
  ];
  for (const [what, headers, path] of refusals) {
    it(`refuses ${what} with 401 {"detail":"Invalid or missing API Key"} before the upstream`, async function () {
      const reply = await postChat(suite.gateway.url, headers(), CHAT_BODY, path);
      expectDetail(reply, 401, MESSAGES.unauthorized);
      expect(reply.text).to.equal(JSON.stringify({ detail: MESSAGES.unauthorized }));
      expect(suite.provider.seen).to.have.length(0);
    });
  }

  it('accepts a scoped key on the apiEndpoints it names', async function () {
    expect((await postChat(suite.gateway.url, { 'X-API-Key': KEYS.scoped }, CHAT_BODY, '/v1/chat')).status).to.equal(200);
    expect((await postChat(suite.gateway.url, { 'X-API-Key': KEYS.plain }, CHAT_BODY, '/v1/chat/completions')).status).to.equal(200);
  });

  it('warns at load about a scope naming an apiEndpoint that is not declared', async function () {
    expect(await eventually(() => /WRN_KEY_AUTH_UNKNOWN_ENDPOINT[^\n]*keys\[7\]/.test(suite.gateway.logs), 5000), suite.gateway.logs).to.equal(true);
  });

  it('accepts a key whose expiresAt is still ahead', async function () {
    expect((await postChat(suite.gateway.url, { 'X-API-Key': KEYS.future })).status).to.equal(200);
  });

  it('ignores a key in the query string unless apiKeyField is set', async function () {
    for (const name of ['apiKey', 'api_key', 'key']) {
      expectDetail(await call(`${suite.gateway.url}/v1/chat?${name}=${KEYS.plain}`, { method: 'POST', body: CHAT_BODY }), 401, MESSAGES.unauthorized);
    }
    expect(suite.provider.seen).to.have.length(0);
  });

  it('sends each reason to the log and to auth_failures_total, never to the client', async function () {
    const reasons = { missing: {}, unknown: { 'X-API-Key': newKey() }, disabled: { 'X-API-Key': KEYS.disabled }, expired: { 'X-API-Key': KEYS.expired } };
    for (const headers of Object.values(reasons)) expectDetail(await postChat(suite.gateway.url, headers), 401, MESSAGES.unauthorized);
    expectDetail(await postChat(suite.gateway.url, { 'X-API-Key': KEYS.scoped }, CHAT_BODY, '/v1/chat/completions'), 401, MESSAGES.unauthorized);
    const all = [...Object.keys(reasons), 'forbidden'];
    await eventually(() => all.every((reason) => suite.gateway.logs.includes(`"reason":"${reason}"`)), 5000);
    for (const reason of all) expect(suite.gateway.logs, reason).to.include(`"reason":"${reason}"`);
    expect(suite.gateway.logs).to.match(/"reason":"disabled","keyId":"disabled"/);
    const metrics = await metricsText(suite.gateway);
    for (const reason of all) expect(metrics).to.match(new RegExp(`auth_failures_total\\{[^}]*reason="${reason}"[^}]*\\} [1-9]`));
    // Key ids are labels only when metricKeyIds opts in.
    expect(metrics).not.to.match(/key_id="[^"]+"/);
  });

  it('never writes a key, its hash or a prefix of either to the logs or /metrics', async function () {
    for (const key of Object.values(KEYS)) await postChat(suite.gateway.url, { 'X-API-Key': key });
    await postChat(suite.gateway.url, { 'X-API-Key': KEYS.scoped }, CHAT_BODY, '/v1/chat/completions');
    // The logger writes asynchronously: wait for the refusals to be logged before reading the logs.
    await eventually(() => suite.gateway.logs.includes('key-auth: request refused'), 5000);
    const metrics = await metricsText(suite.gateway);
    expect(suite.gateway.logs).to.include('key-auth: request refused');
    for (const key of Object.values(KEYS)) {
      for (const form of secretForms(key)) {
        expect(suite.gateway.logs.includes(form), `logs hold ${form === key ? 'a key' : 'a hash or prefix'}`).to.equal(false);
        expect(metrics.includes(form), 'metrics hold key material').to.equal(false);
      }
    }
  });
});

describe('key-auth with apiKeyHeader, apiKeyField and metricKeyIds', function () {
  const key = newKey();
  const suite = gatewayInFront(() => ({
    env: { LOG_LEVEL: 'debug' },
    steps: [
      step('detail-error-formatter'),
      step('key-auth', { keys: [{ id: 'one', key }, { id: 'off', key: `${key}-off`, disabled: true }], apiKeyHeader: 'X-Gateway-Key', apiKeyField: 'api_key', metricKeyIds: true }),
      proxyStep({ forwardRequestHeaders: ['X-Gateway-Key', 'X-API-Key'] }),
    ],
  }));

  beforeEach(() => suite.provider.reset());

  it('reads the key from the configured header, removes it, and no longer reads X-API-Key', async function () {
    expect((await postChat(suite.gateway.url, { 'X-Gateway-Key': key })).status).to.equal(200);
    expect(suite.provider.seen[0]?.headers).not.to.have.property('x-gateway-key');
    expectDetail(await postChat(suite.gateway.url, { 'X-API-Key': key }), 401, MESSAGES.unauthorized);
  });

  it('reads the key from the query parameter and strips it from the URL the upstream gets', async function () {
    const reply = await call(`${suite.gateway.url}/v1/chat?model=x&api_key=${encodeURIComponent(key)}&stream=false`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: CHAT_BODY,
    });
    expect(reply.status, reply.text).to.equal(200);
    expect(suite.provider.seen[0]?.url).to.equal('/v1/chat?model=x&stream=false');
    expect(JSON.stringify(suite.provider.seen[0])).not.to.include(key);
  });

  it('labels auth_failures_total with the key id when metricKeyIds is on', async function () {
    expectDetail(await postChat(suite.gateway.url, { 'X-Gateway-Key': `${key}-off` }), 401, MESSAGES.unauthorized);
    expect(await metricsText(suite.gateway)).to.match(/auth_failures_total\{[^}]*key_id="off"[^}]*\} 1/);
    expect(await eventually(() => suite.gateway.logs.includes('"reason":"disabled","keyId":"off"'), 5000), 'the refusal is logged with its key id').to.equal(true);
  });
});
