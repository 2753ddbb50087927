// test/ops.test.ts
// The operations side against a real gateway child: /metrics (promtool-clean, counters kept
// across reloads), /healthz, /readyz, the per-request log line, every kind of invalid config
// refused while the old one serves, and bucket state kept across a reload.

import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { buildGatewayConfig, proxyStep, step, type Gateway, type GatewayPorts, type PipelineStep } from '../testkit/gateway';
import { call, postChat } from './helpers/http';
import { eventually } from '../testkit/wait';
import { gatewayInFront } from './helpers/gateway-fixture';

const KEY = 'ops-test-key-0123456789abcdef0123456789';
const AUTH = { 'x-api-key': KEY };

/** The kinds of invalid config the reload guard must refuse, each tried by a test of its own. */
const INVALID_KINDS = ['YAML syntax error', 'EG schema error', 'unknown policy name', 'step using an undeclared policy', 'bad policy params', 'unknown serviceEndpoint'] as const;
type InvalidKind = typeof INVALID_KINDS[number];

/**
 * A key per test that empties a bucket, so that none depends on what another test spent: the
 * reload test's, and one per kind of invalid config.
 */
const bucketKey = (owner: string): string => `ops-bucket-${owner.replace(/\W+/g, '-')}-0123456789abcdef`;
const BUCKET_OWNERS = ['reload', ...INVALID_KINDS];

function steps(capacity: number): PipelineStep[] {
  return [
    step('detail-error-formatter'),
    step('key-auth', { keys: [{ id: 'ops-key', key: KEY }, ...BUCKET_OWNERS.map((owner) => ({ id: owner, key: bucketKey(owner) }))] }),
    step('token-bucket-rate-limit', { capacity, refillRate: 0.001 }),
    proxyStep(),
  ];
}

async function metricsText(gateway: Gateway): Promise<string> {
  const reply = await call(`${gateway.opsUrl}/metrics`);
  expect(reply.status).to.equal(200);
  return reply.text;
}

/** The value of one sample line (`name{labels} value`), or 0 when absent. */
function sample(text: string, prefix: string): number {
  const line = text.split('\n').find((l) => l.startsWith(prefix));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const reloads = (text: string, result: string): number => sample(text, `config_reloads_total{result="${result}"}`);

describe('operations: metrics, health, request logs, guarded reload', function () {
  this.timeout(60_000);
  let ports: GatewayPorts;
  const config = (capacity: number, extra: Record<string, unknown> = {}): Record<string, unknown> =>
    ({ ...buildGatewayConfig({ ...ports, providerUrl: suite.provider.url, steps: steps(capacity) }), ...extra });
  const suite = gatewayInFront(() => ({
    gatewayConfig: (p) => { ports = p; return config(3); },
  }));

  it('answers /healthz and /readyz with JSON on the admin port', async function () {
    const health = await call(`${suite.gateway.opsUrl}/healthz`);
    expect(health.status).to.equal(200);
    expect(health.json).to.deep.equal({ status: 'ok' });
    const ready = await call(`${suite.gateway.opsUrl}/readyz`);
    expect(ready.status).to.equal(200);
    expect(ready.json).to.deep.include({ status: 'ready' });
    expect((ready.json as { checks: Record<string, string> }).checks['config']).to.equal('ok');
    // Not on the public port.
    expect((await call(`${suite.gateway.url}/metrics`)).status).to.equal(404);
  });

  it('logs one JSON line per request with id, pipeline, key id, status, duration and upstream status, and no key', async function () {
    expect((await postChat(suite.gateway.url, AUTH)).status).to.equal(200);
    expect((await call(`${suite.gateway.url}/nowhere`)).status).to.equal(404);
    let lines: Array<Record<string, unknown>> = [];
    const found = await eventually(() => {
      lines = suite.gateway.logs.split('\n').filter((l) => l.includes('"msg":"request"')).map((l) => JSON.parse(l) as Record<string, unknown>);
      return lines.some((l) => l['status'] === 404) && lines.some((l) => l['status'] === 200);
    }, 5_000);
    expect(found, suite.gateway.logs).to.equal(true);
    const ok = lines.find((l) => l['status'] === 200);
    expect(ok, JSON.stringify(lines)).to.include({ pipeline: 'chat', method: 'POST', keyId: 'ops-key', upstreamStatus: 200 });
    expect(ok?.['requestId']).to.be.a('string');
    expect(ok?.['durationMs']).to.be.a('number');
    expect(lines.find((l) => l['status'] === 404)).to.include({ pipeline: 'none', method: 'GET' });
    expect(suite.gateway.logs).not.to.include(KEY);
  });

  it('serves /metrics that promtool accepts, with bounded labels', async function () {
    await call(`${suite.gateway.url}/x/${'a'.repeat(20)}`, { method: 'PROPFIND' });
    const text = await metricsText(suite.gateway);
    for (const name of ['http_requests_total', 'http_request_duration_seconds_bucket', 'upstream_duration_seconds_bucket',
      'upstream_time_to_first_byte_seconds_bucket', 'config_last_reload_success', 'nodejs_active_handles', 'process_cpu_seconds_total']) {
      expect(text, name).to.match(new RegExp(`^${name}`, 'm'));
    }
    expect(text).to.include('http_requests_total{pipeline="chat",method="POST",status_class="2xx"}');
    expect(text).to.include('method="other"');
    expect(text).not.to.include('aaaaaaaa');
    expect(text).not.to.include(KEY);
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (promtool.error) throw new Error(`promtool is needed for this test (apt-get install prometheus): ${promtool.error.message}`);
    expect(promtool.status, `${promtool.stdout}${promtool.stderr}`).to.equal(0);
    expect(`${promtool.stdout}${promtool.stderr}`.trim()).to.equal('');
  });

  /** Spends the bucket (capacity 3) of `owner`'s key, which no other test uses. */
  async function emptyBucket(owner: string): Promise<Record<string, string>> {
    const auth = { 'x-api-key': bucketKey(owner) };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await postChat(suite.gateway.url, auth)).status);
    expect(statuses, `${owner}: a full bucket of 3, then a refusal`).to.deep.equal([200, 200, 200, 429]);
    return auth;
  }

  /** Writes a config the guard refuses and waits until it has (the previous one keeps serving). */
  async function writeRejected(candidate: string | Record<string, unknown>): Promise<number> {
    const rejectedBefore = reloads(await metricsText(suite.gateway), 'rejected');
    suite.gateway.writeGatewayConfig(candidate);
    expect(await eventually(async () => reloads(await metricsText(suite.gateway), 'rejected') > rejectedBefore, 10_000), suite.gateway.logs.slice(-3000)).to.equal(true);
    return rejectedBefore;
  }

  it('keeps counters and bucket state across a reload: an empty bucket stays empty', async function () {
    const auth = await emptyBucket('reload');
    const before = await metricsText(suite.gateway);
    const requestsBefore = sample(before, 'http_requests_total{pipeline="chat",method="POST",status_class="2xx"}');
    expect(requestsBefore).to.be.greaterThan(0);
    const appliedBefore = reloads(before, 'applied');

    // Same limits, but a changed config (a new serviceEndpoint entry) so EG really reloads.
    const next = config(3);
    (next['serviceEndpoints'] as Record<string, unknown>)['spare'] = { url: suite.provider.url };
    suite.gateway.writeGatewayConfig(next);
    expect(await eventually(async () => reloads(await metricsText(suite.gateway), 'applied') > appliedBefore, 10_000), suite.gateway.logs).to.equal(true);

    expect((await postChat(suite.gateway.url, auth)).status).to.equal(429);
    const after = await metricsText(suite.gateway);
    expect(sample(after, 'http_requests_total{pipeline="chat",method="POST",status_class="2xx"}')).to.be.at.least(requestsBefore);
    expect(sample(after, 'http_requests_total{pipeline="chat",method="POST",status_class="4xx"}')).to.be.greaterThan(0);
    expect(sample(after, 'config_last_reload_success')).to.equal(1);
  });

  /** Each kind: the candidate config, and what the rejection's log line must name. */
  const invalid: Record<InvalidKind, [() => string | Record<string, unknown>, string]> = {
    'YAML syntax error': [() => 'http:\n  port: [unclosed\n', 'unexpected end of the stream within a flow collection'],
    'EG schema error': [() => config(3, { http: { port: 'not-a-port' } }), 'http.port should be number'],
    'unknown policy name': [() => {
      const c = config(3);
      c['policies'] = [...(c['policies'] as string[]), 'no-such-policy'];
      return c;
    }, 'no-such-policy'],
    'step using an undeclared policy': [() => {
      const c = config(3);
      (c['pipelines'] as { chat: { policies: PipelineStep[] } }).chat.policies.unshift(step('cors'));
      return c;
    }, 'not declared in policies'],
    'bad policy params': [() => {
      const c = buildGatewayConfig({ ...ports, providerUrl: suite.provider.url, steps: [step('key-auth', { keys: [{ id: 'ops-key', key: KEY }] }), step('token-bucket-rate-limit', { capacity: 'lots' }), proxyStep()] });
      return c;
    }, 'token-bucket-rate-limit params validation failed'],
    'unknown serviceEndpoint': [() => {
      const c = buildGatewayConfig({ ...ports, providerUrl: suite.provider.url, steps: [step('key-auth', { keys: [{ id: 'ops-key', key: KEY }] }), proxyStep({ serviceEndpoint: 'nope' })] });
      return c;
    }, 'serviceEndpoint'],
  };

  for (const kind of INVALID_KINDS) {
    const [candidate, reason] = invalid[kind];
    it(`refuses a config with a ${kind}, logs it at error level, counts it, and keeps serving`, async function () {
      const auth = await emptyBucket(kind);
      const logOffset = suite.gateway.logs.length;
      await writeRejected(candidate());
      // The log is asynchronous (pino): its line may reach us a little after the counter moved.
      const rejectionLine = (): string | undefined => suite.gateway.logs.slice(logOffset).split('\n').find((l) => l.includes('config reload rejected'));
      await eventually(async () => rejectionLine() !== undefined, 3_000);
      const errorLine = rejectionLine();
      expect(errorLine, suite.gateway.logs.slice(logOffset)).to.be.a('string');
      expect(JSON.parse(errorLine as string)).to.include({ level: 50 });
      expect(errorLine).to.include(reason);
      expect(sample(await metricsText(suite.gateway), 'config_last_reload_success')).to.equal(0);
      // The old config serves: the bucket is still empty (429), not a 404, 500 or a refill.
      expect((await postChat(suite.gateway.url, auth)).status).to.equal(429);
      expect((await postChat(suite.gateway.url, { 'x-api-key': 'wrong' })).status).to.equal(401);
      expect(suite.gateway.hasExited).to.equal(false);
      expect((await call(`${suite.gateway.opsUrl}/readyz`)).status).to.equal(200);
    });
  }

  it('applies a valid config again after a rejected one', async function () {
    await writeRejected('http:\n  port: [unclosed\n');
    expect(sample(await metricsText(suite.gateway), 'config_last_reload_success')).to.equal(0);
    const appliedBefore = reloads(await metricsText(suite.gateway), 'applied');
    suite.gateway.writeGatewayConfig(config(3));
    expect(await eventually(async () => reloads(await metricsText(suite.gateway), 'applied') > appliedBefore, 10_000), suite.gateway.logs).to.equal(true);
    expect(sample(await metricsText(suite.gateway), 'config_last_reload_success')).to.equal(1);
    expect(suite.gateway.logs).not.to.include('unhandled promise rejection');
  });
});
