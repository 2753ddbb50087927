// test/startup.test.ts
// Start-up: the shipped config runs with its embedded defaults, a config directory holding only
// the two YAML files boots, and a gateway without its plugin refuses to start.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { expectDetail } from './helpers/detail';
import { buildSystemConfig, REPO_ROOT, startGateway, type Gateway } from '../testkit/gateway';
import { call, postChat } from './helpers/http';

const shippedGatewayConfig = fs.readFileSync(path.join(REPO_ROOT, 'gateway.config.yml'), 'utf8');
const shippedSystemConfig = fs.readFileSync(path.join(REPO_ROOT, 'system.config.yml'), 'utf8');

describe('start-up', function () {
  const started: Gateway[] = [];
  afterEach(async () => { await Promise.all(started.splice(0).map((g) => g.stop())); });

  it('runs the shipped config from a directory holding only the two YAML files, with the bundled demo provider', async function () {
    const gateway = await startGateway({
      providerUrl: '',
      gatewayConfig: () => shippedGatewayConfig,
      systemConfig: shippedSystemConfig,
      env: { LLM_PROVIDER_URL: undefined },
    });
    started.push(gateway);
    expect(fs.readdirSync(gateway.configDir).sort()).to.deep.equal(['gateway.config.yml', 'system.config.yml']);
    expect(gateway.logs).to.include('started the bundled demo provider');
    const reply = await postChat(gateway.url, { 'x-api-key': 'demo-key' });
    expect(reply.status, reply.text).to.equal(200);
    expect(reply.json).to.have.nested.property('choices[0].message.role', 'assistant');
    const streamed = await postChat(gateway.url, { 'x-api-key': 'demo-key' }, JSON.stringify({ stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(streamed.headers.get('content-type')).to.match(/^text\/event-stream/);
    expect(streamed.text).to.include('data: [DONE]');
  });

  it('runs no demo provider when LLM_PROVIDER_URL is set', async function () {
    const gateway = await startGateway({
      providerUrl: 'http://127.0.0.1:9',
      gatewayConfig: () => shippedGatewayConfig,
      systemConfig: shippedSystemConfig,
    });
    started.push(gateway);
    expect(gateway.logs).not.to.include('demo provider');
    // With a real provider URL, npm start replaces the demo key by a random one: demo-key is refused.
    const reply = await postChat(gateway.url, { 'x-api-key': 'demo-key' });
    expectDetail(reply, 401);
  });

  it('runs from the package root when EG_CONFIG_DIR is unset', async function () {
    const gateway = await startGateway({ providerUrl: '', env: { EG_CONFIG_DIR: undefined, LLM_PROVIDER_URL: undefined } });
    started.push(gateway);
    expect(gateway.logs).to.include(`"configDir":"${REPO_ROOT}"`);
    expect((await call(`${gateway.url}/nope`)).status).to.equal(404);
  });

  it('refuses to start when the plugin cannot be required, naming the cause', async function () {
    const systemConfig = buildSystemConfig();
    (systemConfig['plugins'] as Record<string, Record<string, unknown>>)['llm-gateway']!['package'] = '/nonexistent/llm-gateway-plugin.js';
    const gateway = await startGateway({ providerUrl: 'http://127.0.0.1:9', systemConfig, expectExit: true });
    started.push(gateway);
    expect(await gateway.waitForExit()).to.not.equal(0);
    expect(gateway.logs).to.include('the llm-gateway plugin did not load');
    expect(gateway.logs).to.include('/nonexistent/llm-gateway-plugin.js');
  });

  it('refuses to start when the plugin settings are invalid, naming the field', async function () {
    const gateway = await startGateway({ providerUrl: 'http://127.0.0.1:9', pluginSettings: { redis: ['not', 'a', 'redis', 'setting'] }, expectExit: true });
    started.push(gateway);
    expect(await gateway.waitForExit()).to.not.equal(0);
    expect(gateway.logs).to.include('Failed to validate settings');
    expect(gateway.logs).to.include('redis');
  });

  it('refuses to start when the plugin is not declared at all', async function () {
    const systemConfig = buildSystemConfig();
    delete systemConfig['plugins'];
    const gateway = await startGateway({ providerUrl: 'http://127.0.0.1:9', systemConfig: YAML.stringify(systemConfig), expectExit: true });
    started.push(gateway);
    expect(await gateway.waitForExit()).to.not.equal(0);
    expect(gateway.logs).to.include('not declared under plugins:');
  });

  it('refuses to start on a pipeline step with invalid params', async function () {
    const gateway = await startGateway({
      providerUrl: 'http://127.0.0.1:9',
      steps: [{ 'detail-error-formatter': [{ action: { upstreamFailureStatus: 'sometimes' } }] }, { proxy: [{ action: { serviceEndpoint: 'llm-provider' } }] }],
      expectExit: true,
    });
    started.push(gateway);
    expect(await gateway.waitForExit()).to.not.equal(0);
    expect(gateway.logs).to.include('upstreamFailureStatus');
  });
});
