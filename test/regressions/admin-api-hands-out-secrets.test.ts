// test/regressions/admin-api-hands-out-secrets.test.ts
// Issue 13, defect 1: the admin port served /metrics and health beside EG's unauthenticated admin
// API, which handed out key-auth's plain keys (`GET /pipelines`) and let anyone point the provider
// elsewhere. Now metrics and health live on an ops listener that serves nothing else, EG's admin
// API only starts when declared, only on loopback, and with keys blanked; no route of any listener
// answers with a secret.

import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { buildGatewayConfig, proxyStep, startGateway, step, type Gateway, type GatewayPorts } from '../../testkit/gateway';
import { call, CHAT_BODY, postChat } from '../helpers/http';
import { eventually } from '../../testkit/wait';
import { freePort } from '../../testkit/ports';
import { startProvider, type StandInProvider } from '../../testkit/provider';

const secret = (label: string): string => `${label}-${randomBytes(24).toString('base64url')}`;
const CLIENT_KEY = secret('client');
const OTHER_CLIENT_KEY = secret('other');
const PROVIDER_KEY = secret('provider');
const SECRETS = [CLIENT_KEY, OTHER_CLIENT_KEY, PROVIDER_KEY];

/** Every path EG's admin API serves (lib/rest/routes), read with GET. */
const ADMIN_API_PATHS = [
  '/pipelines', '/pipelines/chat', '/api-endpoints', '/api-endpoints/chat', '/service-endpoints', '/service-endpoints/llm-provider',
  '/policies', '/schemas', '/users', '/apps', '/credentials', '/scopes', '/tokens',
];
const OPS_PATHS = ['/metrics', '/healthz', '/readyz'];

function pipelineConfig(ports: GatewayPorts, providerUrl: string, admin?: Record<string, unknown>): Record<string, unknown> {
  const config = buildGatewayConfig({
    port: ports.port,
    providerUrl,
    steps: [
      step('detail-error-formatter'),
      step('key-auth', { keys: [{ id: 'team-a', key: CLIENT_KEY }, { id: 'team-b', key: OTHER_CLIENT_KEY }] }),
      step('token-bucket-rate-limit', { capacity: 100, refillRate: 10 }),
      proxyStep(),
    ],
  });
  return admin === undefined ? config : { ...config, admin };
}

function expectNoSecret(where: string, text: string): void {
  for (const value of SECRETS) expect(text, `${where} answers with a secret`).not.to.include(value);
}

describe('regression: EG\'s admin API handed out secrets and the provider (issue 13, defect 1)', function () {
  let upstream: StandInProvider;
  const started: Gateway[] = [];

  before(async () => { upstream = await startProvider(); });
  afterEach(async () => { await Promise.all(started.splice(0).map((g) => g.stop())); });
  after(async () => { await upstream?.stop(); });

  it('serves /metrics, /healthz and /readyz on the ops listener, and nothing of EG\'s admin API anywhere', async function () {
    const gateway = await startGateway({ providerUrl: upstream.url, env: { LLM_PROVIDER_API_KEY: PROVIDER_KEY }, gatewayConfig: (ports) => pipelineConfig(ports, upstream.url) });
    started.push(gateway);
    expect((await postChat(gateway.url, { 'x-api-key': CLIENT_KEY })).status).to.equal(200);
    for (const path of OPS_PATHS) expect((await call(`${gateway.opsUrl}${path}`)).status, path).to.equal(200);
    for (const path of ADMIN_API_PATHS) {
      const onOps = await call(`${gateway.opsUrl}${path}`);
      expect(onOps.status, `ops ${path}`).to.equal(404);
      expect(onOps.json).to.deep.equal({ detail: 'Not Found' });
    }
    const rewrite = await call(`${gateway.opsUrl}/service-endpoints/llm-provider`, {
      method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: 'http://127.0.0.1:1' }),
    });
    expect(rewrite.status).to.equal(404);
    expect((await call(`${gateway.opsUrl}/metrics`, { method: 'POST' })).status).to.equal(405);
    // The shipped config declares no admin: EG logs that it did not start its admin server.
    expect(gateway.logs).not.to.include('admin http server listening');
  });

  it('refuses to start when admin: binds a non-loopback address, naming the setting', async function () {
    const adminPort = await freePort();
    const gateway = await startGateway({
      providerUrl: upstream.url,
      gatewayConfig: (ports) => pipelineConfig(ports, upstream.url, { port: adminPort, host: '0.0.0.0' }),
      expectExit: true,
    });
    started.push(gateway);
    expect(await gateway.waitForExit()).to.not.equal(0);
    expect(gateway.logs).to.include('admin.host must be a loopback address');
  });

  it('refuses a reload that moves admin: off loopback, and keeps serving', async function () {
    let ports: GatewayPorts | undefined;
    const gateway = await startGateway({ providerUrl: upstream.url, gatewayConfig: (p) => { ports = p; return pipelineConfig(p, upstream.url); } });
    started.push(gateway);
    const offset = gateway.logs.length;
    gateway.writeGatewayConfig(pipelineConfig(ports as GatewayPorts, upstream.url, { port: await freePort(), host: '0.0.0.0' }));
    expect(await eventually(() => gateway.logs.slice(offset).includes('config reload rejected'), 10_000)).to.equal(true);
    expect(gateway.logs.slice(offset)).to.include('admin.host must be a loopback address');
    expect((await postChat(gateway.url, { 'x-api-key': CLIENT_KEY })).status).to.equal(200);
  });

  it('answers no secret on any route of any listener, EG\'s admin API on loopback included', async function () {
    const adminPort = await freePort();
    const gateway = await startGateway({
      providerUrl: upstream.url,
      env: { LLM_PROVIDER_API_KEY: PROVIDER_KEY },
      gatewayConfig: (ports) => pipelineConfig(ports, upstream.url, { port: adminPort, host: '127.0.0.1' }),
    });
    started.push(gateway);
    const admin = `http://127.0.0.1:${adminPort}`;
    expect(await eventually(async () => (await call(`${admin}/pipelines`).catch(() => undefined))?.status === 200, 5_000)).to.equal(true);

    const pipelines = await call(`${admin}/pipelines`);
    const keys = (pipelines.json as { chat: { policies: Array<Record<string, Array<{ action: { keys?: Array<{ id: string; key: string }> } }>>> } })
      .chat.policies.find((p) => 'key-auth' in p)?.['key-auth']?.[0]?.action.keys;
    expect(keys, pipelines.text).to.deep.equal([{ id: 'team-a', key: '[redacted]' }, { id: 'team-b', key: '[redacted]' }]);

    const answers: Array<[string, string]> = [];
    const read = async (where: string, url: string, init?: RequestInit): Promise<void> => {
      const reply = await call(url, init);
      answers.push([`${where} ${init?.method ?? 'GET'} ${url} → ${reply.status}`, `${[...reply.headers].join('\n')}\n${reply.text}`]);
    };
    for (const path of ADMIN_API_PATHS) await read('admin', `${admin}${path}`);
    for (const path of [...OPS_PATHS, ...ADMIN_API_PATHS]) await read('ops', `${gateway.opsUrl}${path}`);
    for (const path of ['/', '/v1/chat', '/v1/chat/completions', '/metrics', '/pipelines', '/nope']) {
      await read('public', `${gateway.url}${path}`);
      for (const key of [CLIENT_KEY, 'wrong-key']) {
        await read('public', `${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key }, body: CHAT_BODY });
      }
    }
    expect(answers.filter(([where]) => where.includes('/v1/chat') && where.endsWith('200'))).to.have.length.of.at.least(2);
    for (const [where, text] of answers) expectNoSecret(where, text);
    // What the provider was sent carries our key, and nothing of the client's.
    const seen = JSON.stringify(upstream.seen.map((s) => s.headers));
    expect(seen).to.include(PROVIDER_KEY);
    expect(seen).not.to.include(CLIENT_KEY);
    expectNoSecret('the log', gateway.logs);
  });
});
