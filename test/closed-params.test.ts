// test/closed-params.test.ts
// An unknown parameter is a typo until proven otherwise: `failureMod: open` used to start a
// gateway that failed closed, the opposite of what the operator wrote. Every policy's parameters
// and the plugin settings refuse unknown fields, at start-up and at a reload, naming the field.

import { expect } from 'chai';
import { buildGatewayConfig, proxyStep, startGateway, step, type Gateway, type GatewayPorts, type PipelineStep } from '../testkit/gateway';
import { startProvider, type StandInProvider } from '../testkit/provider';
import { eventually } from '../testkit/wait';
import { postChat } from './helpers/http';

const KEY = 'closed-params-key-0123456789abcdef0123';

const typos: Array<[string, PipelineStep[]]> = [
  ['token-bucket-rate-limit', [step('token-bucket-rate-limit', { capacity: 2, refillRate: 1, failureMod: 'open' }), proxyStep()]],
  ['key-auth', [step('key-auth', { keys: [{ id: 'k', key: KEY }], apiKeyHeadr: 'X-Key' }), proxyStep()]],
  ['a key entry', [step('key-auth', { keys: [{ id: 'k', key: KEY, expiresAtt: '2030-01-01' }] }), proxyStep()]],
  ['detail-error-formatter', [step('detail-error-formatter', { upstreamFailureStatuss: 'gateway-error' }), proxyStep()]],
  ['proxy', [proxyStep({ dropRequestHeaders: ['X-API-Key'] })]],
];
const FIELD = { 'token-bucket-rate-limit': 'failureMod', 'key-auth': 'apiKeyHeadr', 'a key entry': 'expiresAtt', 'detail-error-formatter': 'upstreamFailureStatuss', proxy: 'dropRequestHeaders' } as const;

describe('closed parameters: unknown fields are refused, naming them', function () {
  let upstream: StandInProvider;
  const started: Gateway[] = [];
  before(async () => { upstream = await startProvider(); });
  afterEach(async () => { await Promise.all(started.splice(0).map((g) => g.stop())); });
  after(async () => { await upstream?.stop(); });

  for (const [what, steps] of typos) {
    it(`stops start-up on an unknown field of ${what}`, async function () {
      const gateway = await startGateway({ providerUrl: upstream.url, steps, expectExit: true });
      started.push(gateway);
      expect(await gateway.waitForExit()).to.not.equal(0);
      expect(gateway.logs).to.include(`property name '${FIELD[what as keyof typeof FIELD]}' is invalid`);
    });
  }

  it('stops start-up on an unknown plugin setting', async function () {
    const gateway = await startGateway({ providerUrl: upstream.url, pluginSettings: { redisCommandTimeoutMS: 500 }, expectExit: true });
    started.push(gateway);
    expect(await gateway.waitForExit()).to.not.equal(0);
    expect(gateway.logs).to.include("property name 'redisCommandTimeoutMS' is invalid");
  });

  it('refuses a reload with an unknown field and keeps serving the config before it', async function () {
    let ports: GatewayPorts | undefined;
    const steps = (extra: Record<string, unknown>): PipelineStep[] => [
      step('detail-error-formatter'), step('key-auth', { keys: [{ id: 'k', key: KEY }] }), step('token-bucket-rate-limit', { capacity: 5, refillRate: 1, ...extra }), proxyStep(),
    ];
    const gateway = await startGateway({ providerUrl: upstream.url, gatewayConfig: (p: GatewayPorts) => { ports = p; return buildGatewayConfig({ port: p.port, providerUrl: upstream.url, steps: steps({}) }); } });
    started.push(gateway);
    const offset = gateway.logs.length;
    gateway.writeGatewayConfig(buildGatewayConfig({ port: (ports as GatewayPorts).port, providerUrl: upstream.url, steps: steps({ failureMod: 'open' }) }));
    expect(await eventually(() => gateway.logs.slice(offset).includes('config reload rejected'), 10_000)).to.equal(true);
    expect(gateway.logs.slice(offset)).to.include("property name 'failureMod' is invalid");
    expect((await postChat(gateway.url, { 'x-api-key': KEY })).status).to.equal(200);
  });
});
