// test/rate-limit-by.test.ts
// Whose bucket a request is counted against, per `rateLimitBy`: `ip` counts every key of one
// client address together, `key` counts one key together wherever it comes from and nothing
// else, and `key` without key-auth before the limiter is a config error (it used to limit by IP,
// exactly like `key-or-ip`, the opposite of "only the key").

import { expect } from 'chai';
import { buildGatewayConfig, proxyStep, startGateway, step, type Gateway, type GatewayPorts, type PipelineStep } from '../testkit/gateway';
import { startProvider, type StandInProvider } from '../testkit/provider';
import { eventually } from '../testkit/wait';
import { postChat, postFrom } from './helpers/http';

const KEY_A = 'rate-limit-by-key-a-0123456789abcdef';
const KEY_B = 'rate-limit-by-key-b-0123456789abcdef';
const KEYS = [{ id: 'a', key: KEY_A }, { id: 'b', key: KEY_B }];

const limited = (rateLimitBy: string): PipelineStep[] => [
  step('detail-error-formatter'),
  step('key-auth', { keys: KEYS }),
  step('token-bucket-rate-limit', { capacity: 2, refillRate: 0.001, rateLimitBy }),
  proxyStep(),
];

describe('token-bucket-rate-limit: rateLimitBy', function () {
  let upstream: StandInProvider;
  const started: Gateway[] = [];
  const start = async (steps: PipelineStep[]): Promise<Gateway> => {
    const gateway = await startGateway({ providerUrl: upstream.url, steps });
    started.push(gateway);
    return gateway;
  };

  before(async () => { upstream = await startProvider(); });
  afterEach(async () => { await Promise.all(started.splice(0).map((g) => g.stop())); });
  after(async () => { await upstream?.stop(); });

  it('ip: counts every key of one client address in one bucket, and other addresses apart', async function () {
    const gateway = await start(limited('ip'));
    expect(await postFrom(gateway, '127.0.0.11', { 'x-api-key': KEY_A })).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.11', { 'x-api-key': KEY_B })).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.11', { 'x-api-key': KEY_B }), 'a third key-holding request from the same address').to.equal(429);
    expect(await postFrom(gateway, '127.0.0.12', { 'x-api-key': KEY_A }), 'the same key from another address').to.equal(200);
  });

  it('key: counts one key in one bucket from every address, and other keys apart', async function () {
    const gateway = await start(limited('key'));
    expect(await postFrom(gateway, '127.0.0.21', { 'x-api-key': KEY_A })).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.22', { 'x-api-key': KEY_A })).to.equal(200);
    expect(await postFrom(gateway, '127.0.0.23', { 'x-api-key': KEY_A }), 'the same key from a third address').to.equal(429);
    expect(await postFrom(gateway, '127.0.0.21', { 'x-api-key': KEY_B }), 'another key from the first address').to.equal(200);
  });

  it('key: refuses to start when no key-auth comes before the limiter, naming the pipeline', async function () {
    const gateway = await startGateway({
      providerUrl: upstream.url,
      steps: [step('detail-error-formatter'), step('token-bucket-rate-limit', { capacity: 2, refillRate: 1, rateLimitBy: 'key' }), proxyStep()],
      expectExit: true,
    });
    started.push(gateway);
    expect(await gateway.waitForExit()).to.not.equal(0);
    expect(gateway.logs).to.include('rateLimitBy: key, but no key-auth step comes before it in pipeline "chat"');
  });

  it('key: refuses a reload that drops key-auth before the limiter, and keeps serving', async function () {
    let ports: GatewayPorts | undefined;
    const gateway = await startGateway({ providerUrl: upstream.url, gatewayConfig: (p: GatewayPorts) => { ports = p; return buildGatewayConfig({ port: p.port, providerUrl: upstream.url, steps: limited('key') }); } });
    started.push(gateway);
    const offset = gateway.logs.length;
    gateway.writeGatewayConfig(buildGatewayConfig({
      port: (ports as GatewayPorts).port, providerUrl: upstream.url,
      steps: [step('detail-error-formatter'), step('token-bucket-rate-limit', { capacity: 2, refillRate: 1, rateLimitBy: 'key' }), proxyStep()],
    }));
    expect(await eventually(() => gateway.logs.slice(offset).includes('config reload rejected'), 10_000)).to.equal(true);
    expect(gateway.logs.slice(offset)).to.include('no key-auth step comes before it in pipeline \\"chat\\"');
    expect((await postChat(gateway.url, { 'x-api-key': 'not-a-key' })).status, 'key-auth still runs').to.equal(401);
    expect((await postChat(gateway.url, { 'x-api-key': KEY_A })).status).to.equal(200);
  });
});
