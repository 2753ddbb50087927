// test/reload.test.ts
// Real file-watch reloads of a gateway child on the Redis store: zero failed requests while a
// reload happens under steady load; 50 reloads with handles, event-bus listeners and Redis
// connections flat; readiness following Redis. EG's watcher waits ~2 s for a write to settle, so
// each reload costs ~2 s: the 50 are done as 25 rounds that change gateway.config.yml and
// system.config.yml together (two real reloads per round, each through EG's own watcher path).

import { expect } from 'chai';
import { buildGatewayConfig, buildSystemConfig, proxyStep, startGateway, step, type Gateway, type GatewayPorts } from '../testkit/gateway';
import { call, postChat } from './helpers/http';
import { eventually, sleep } from '../testkit/wait';
import { startRedis, type RedisServer } from '../testkit/redis';
import { startProvider, type StandInProvider } from '../testkit/provider';
import YAML from 'yaml';

const KEY = 'reload-test-key-0123456789abcdef012345';
const AUTH = { 'x-api-key': KEY };

function sample(text: string, prefix: string): number {
  return text.split('\n').filter((l) => l.startsWith(prefix)).reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('hot reload on a live gateway (Redis store)', function () {
  this.timeout(120_000);
  let upstream: StandInProvider;
  let redis: RedisServer;
  let gateway: Gateway;
  let ports: GatewayPorts;
  const gatewayConfig = (round: number): Record<string, unknown> => buildGatewayConfig({
    ...ports,
    providerUrl: upstream.url,
    steps: [
      step('detail-error-formatter'),
      step('key-auth', { keys: [{ id: 'steady', key: KEY }, { id: `round-${round}`, key: `${KEY}-${round}` }] }),
      step('token-bucket-rate-limit', { capacity: 100000 + round, refillRate: 1000 }),
      proxyStep(),
    ],
  });
  const metrics = async (): Promise<string> => (await call(`${gateway.opsUrl}/metrics`)).text;
  const applied = async (): Promise<number> => sample(await metrics(), 'config_reloads_total{result="applied"}');
  const redisClients = async (): Promise<number> => (String(await redis.command('CLIENT', 'LIST')).match(/id=/g) ?? []).length;

  before(async function () {
    upstream = await startProvider();
    redis = await startRedis();
    gateway = await startGateway({
      providerUrl: upstream.url,
      pluginSettings: { redis: redis.url },
      gatewayConfig: (p) => { ports = p; return gatewayConfig(0); },
    });
  });
  after(async function () {
    await gateway?.stop();
    await redis?.kill();
    await upstream?.stop();
  });

  it('reloads under steady load with zero failed requests', async function () {
    const statuses = new Map<number, number>();
    let running = true;
    const worker = async (): Promise<void> => {
      while (running) {
        let status = 0;
        try { status = (await postChat(gateway.url, AUTH)).status; } catch { status = -1; }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    const workers = [worker(), worker(), worker(), worker()];
    await sleep(300);
    const before = await applied();
    gateway.writeGatewayConfig(gatewayConfig(1));
    expect(await eventually(async () => (await applied()) > before, 10_000), gateway.logs).to.equal(true);
    await sleep(500);
    running = false;
    await Promise.all(workers);
    expect([...statuses.keys()], JSON.stringify([...statuses])).to.deep.equal([200]);
    expect(statuses.get(200)).to.be.greaterThan(50);
    // The new config serves: the key added by the reload works.
    expect((await postChat(gateway.url, { 'x-api-key': `${KEY}-1` })).status).to.equal(200);
  });

  it('50 reloads leave handles, event-bus listeners and Redis connections unchanged', async function () {
    const settle = async (): Promise<{ handles: number; listeners: number; redis: number }> => {
      expect((await postChat(gateway.url, AUTH)).status).to.equal(200);
      await sleep(300);
      const text = await metrics();
      return { handles: sample(text, 'nodejs_active_handles{'), listeners: sample(text, 'gateway_event_bus_listeners'), redis: await redisClients() };
    };
    const start = await settle();
    expect(start.listeners).to.be.greaterThan(0);
    expect(start.handles).to.be.greaterThan(0);
    let count = await applied();
    for (let round = 2; round < 27; round += 1) {
      gateway.writeGatewayConfig(gatewayConfig(round));
      gateway.writeFile('system.config.yml', YAML.stringify(buildSystemConfig({ redis: redis.url })) + `# round ${round}\n`);
      const target = count + 2;
      expect(await eventually(async () => (await applied()) >= target, 15_000, 100), `round ${round}\n${gateway.logs.slice(-3000)}`).to.equal(true);
      count = target;
    }
    expect((await postChat(gateway.url, { 'x-api-key': `${KEY}-26` })).status).to.equal(200);
    // Replaced Redis clients are closed after a short grace: wait for it before counting.
    let end = await settle();
    await eventually(async () => { end = await settle(); return end.redis <= start.redis && end.handles <= start.handles + 2; }, 10_000, 500);
    // One line of figures for the README/report: before and after the 50 reloads.
    process.stdout.write(`      50 reloads: handles ${start.handles} -> ${end.handles}, event-bus listeners ${start.listeners} -> ${end.listeners}, Redis clients ${start.redis} -> ${end.redis}\n`);
    expect(end.listeners, 'event-bus listeners').to.equal(start.listeners);
    expect(end.redis, 'Redis connections').to.equal(start.redis);
    // Sockets come and go (keep-alive pools); a leak per reload would be 50 or more.
    expect(end.handles, `handles ${start.handles} -> ${end.handles}`).to.be.at.most(start.handles + 2);
    expect(gateway.logs).not.to.include('unhandled promise rejection');
  });

  it('flips /readyz to 503 when Redis stops and back to 200 when it returns', async function () {
    expect((await call(`${gateway.opsUrl}/readyz`)).status).to.equal(200);
    await redis.stop();
    let body: unknown;
    expect(await eventually(async () => { const r = await call(`${gateway.opsUrl}/readyz`); body = r.json; return r.status === 503; }, 5_000, 100)).to.equal(true);
    const checks = (body as { status: string; checks: Record<string, string> }).checks;
    expect((body as { status: string }).status).to.equal('not ready');
    expect(checks['redis']).to.be.a('string').and.not.equal('ok');
    expect(JSON.stringify(body)).not.to.include(KEY);
    await redis.start();
    expect(await eventually(async () => (await call(`${gateway.opsUrl}/readyz`)).status === 200, 10_000, 100)).to.equal(true);
  });
});
