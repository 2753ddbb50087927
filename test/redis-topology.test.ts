// test/redis-topology.test.ts
// Choosing a Redis topology: the settings and REDIS_* variables parse into one node, a Cluster or a
// Sentinel group, and the real start-up refuses two topologies at once, naming both variables.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { parseRedisTopology, redisTopologyFromEnv, RedisTopologyError, type RedisTopologySettings } from '../plugin/redis/topology';
import { proxyStep, REPO_ROOT, startGateway, step, type Gateway } from '../testkit/gateway';

const shippedGatewayConfig = fs.readFileSync(path.join(REPO_ROOT, 'gateway.config.yml'), 'utf8');
const shippedSystemConfig = fs.readFileSync(path.join(REPO_ROOT, 'system.config.yml'), 'utf8');

describe('redis topology settings', function () {
  const parses: Array<[string, RedisTopologySettings, unknown]> = [
    ['nothing set means in-process buckets', {}, { kind: 'none' }],
    ['null and empty strings mean unset (EG substitutes unset variables with null)',
      { redis: null, redisClusterNodes: '', redisSentinels: '  ', redisSentinelName: 'mymaster' }, { kind: 'none' }],
    ['a URL is one node', { redis: 'redis://:secret@10.0.0.5:6380/2' }, { kind: 'single', url: 'redis://:secret@10.0.0.5:6380/2', options: {} }],
    ['an options object is one node', { redis: { host: 'cache', port: 6380 } }, { kind: 'single', url: undefined, options: { host: 'cache', port: 6380 } }],
    ['redisClusterNodes is a Cluster', { redisClusterNodes: 'a:7000, b:7001,,[::1]:7002,' },
      { kind: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }, { host: '::1', port: 7002 }], options: {} }],
    ['a cluster object keeps its ioredis options', { redis: { cluster: [{ host: 'a', port: 7000 }, 'b:7001'], redisOptions: { password: 'p' } } },
      { kind: 'cluster', nodes: [{ host: 'a', port: 7000 }, { host: 'b', port: 7001 }], options: { redisOptions: { password: 'p' } } }],
    ['redisSentinels is a Sentinel group named mymaster by default', { redisSentinels: 's1:26379,s2:26379', redisSentinelName: '' },
      { kind: 'sentinel', sentinels: [{ host: 's1', port: 26379 }, { host: 's2', port: 26379 }], name: 'mymaster', options: {} }],
    ['a sentinels object takes its name and options', { redis: { sentinels: [{ host: 's1', port: '26379' }], name: 'cache', password: 'p' } },
      { kind: 'sentinel', sentinels: [{ host: 's1', port: 26379 }], name: 'cache', options: { password: 'p' } }],
  ];
  for (const [title, settings, expected] of parses) {
    it(title, function () {
      expect(parseRedisTopology(settings)).to.deep.equal(expected);
    });
  }

  const rejects: Array<[string, RedisTopologySettings, RegExp]> = [
    ['two topologies at once', { redis: 'redis://h:1', redisSentinels: 's:2' }, /redis \(REDIS_URL\) and redisSentinels \(REDIS_SENTINELS\) are both set/],
    ['three topologies at once', { redis: 'redis://h:1', redisClusterNodes: 'c:1', redisSentinels: 's:2' }, /are all set/],
    ['cluster and sentinels in one object', { redis: { cluster: ['a:1'], sentinels: ['b:2'] } }, /both cluster and sentinels/],
    ['a node without a port', { redisClusterNodes: 'a:7000,b' }, /redisClusterNodes \(REDIS_CLUSTER_NODES\)\[1\] must be host:port/],
    ['a port out of range', { redisSentinels: 'a:70000' }, /must be a port between 1 and 65535/],
    ['an empty cluster list', { redis: { cluster: [] } }, /lists no node/],
    ['a URL of another scheme', { redis: 'http://cache:6379' }, /redis:\/\/ or rediss:\/\/ URL, not a http: one/],
    ['a string that is no URL', { redis: 'cache:6379 x' }, /must be a redis:\/\/ or rediss:\/\/ URL/],
  ];
  for (const [title, settings, message] of rejects) {
    it(`rejects ${title}`, function () {
      expect(() => parseRedisTopology(settings)).to.throw(RedisTopologyError, message);
    });
  }

  it('never echoes a value in its errors (URLs carry passwords)', function () {
    expect(() => parseRedisTopology({ redis: 'ftp://user:hunter2@cache' })).to.throw(RedisTopologyError).with.property('message').that.does.not.include('hunter2');
    expect(() => parseRedisTopology({ redisClusterNodes: 'hunter2' })).to.throw(RedisTopologyError).with.property('message').that.does.not.include('hunter2');
  });

  it('reads the four REDIS_* variables, naming the variables in its errors', function () {
    expect(redisTopologyFromEnv({ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'cache', REDIS_URL: '' }))
      .to.deep.equal({ kind: 'sentinel', sentinels: [{ host: '127.0.0.1', port: 26379 }], name: 'cache', options: {} });
    expect(() => redisTopologyFromEnv({ REDIS_URL: 'redis://h:1', REDIS_CLUSTER_NODES: 'c:1' }))
      .to.throw(RedisTopologyError, /^REDIS_URL and REDIS_CLUSTER_NODES are both set/);
  });
});

describe('redis topology at start-up', function () {
  this.timeout(30_000);
  const started: Gateway[] = [];
  afterEach(async () => { await Promise.all(started.splice(0).map((g) => g.stop())); });

  async function startShipped(env: Record<string, string>): Promise<Gateway> {
    const gateway = await startGateway({
      providerUrl: 'http://127.0.0.1:9', gatewayConfig: () => shippedGatewayConfig, systemConfig: shippedSystemConfig, env, expectExit: true,
    });
    started.push(gateway);
    return gateway;
  }

  it('refuses to start with REDIS_URL and REDIS_CLUSTER_NODES both set, naming both', async function () {
    const gateway = await startShipped({ REDIS_URL: 'redis://127.0.0.1:1', REDIS_CLUSTER_NODES: '127.0.0.1:2,127.0.0.1:3' });
    expect(await gateway.waitForExit()).to.equal(1);
    expect(gateway.logs).to.include('REDIS_URL and REDIS_CLUSTER_NODES are both set');
    expect(gateway.logs).not.to.include('llm-gateway is running');
  });

  it('refuses to start with REDIS_CLUSTER_NODES and REDIS_SENTINELS both set, naming both', async function () {
    const gateway = await startShipped({ REDIS_CLUSTER_NODES: '127.0.0.1:2', REDIS_SENTINELS: '127.0.0.1:3' });
    expect(await gateway.waitForExit()).to.equal(1);
    expect(gateway.logs).to.include('REDIS_CLUSTER_NODES and REDIS_SENTINELS are both set');
  });

  it('refuses to start when the plugin settings name two topologies, naming both settings', async function () {
    const gateway = await startGateway({
      providerUrl: 'http://127.0.0.1:9', expectExit: true,
      steps: [step('detail-error-formatter'), step('token-bucket-rate-limit', { capacity: 1, refillRate: 1 }), proxyStep()],
      pluginSettings: { redis: 'redis://127.0.0.1:1', redisSentinels: '127.0.0.1:2' },
    });
    started.push(gateway);
    expect(await gateway.waitForExit()).to.equal(1);
    expect(gateway.logs).to.include('redis (REDIS_URL) and redisSentinels (REDIS_SENTINELS) are both set');
  });

  it('refuses to start with a malformed REDIS_SENTINELS, naming the variable', async function () {
    const gateway = await startShipped({ REDIS_SENTINELS: 'sentinel-without-port' });
    expect(await gateway.waitForExit()).to.equal(1);
    expect(gateway.logs).to.include('REDIS_SENTINELS[0] must be host:port');
  });
});
