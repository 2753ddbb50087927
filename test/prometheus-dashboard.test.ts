// test/prometheus-dashboard.test.ts
// config/grafana/llm-gateway.json against a real Prometheus scraping a real gateway: traffic that
// touches every panel (200s, a stream, 401s, 429s of both buckets, an upstream failure, a reload,
// Redis answering and then gone with failureMode open), then every panel query, its variables
// filled in as Grafana would, through Prometheus' HTTP API: each returns at least one series. The
// real config/alerts.yml is loaded too, and every rule must evaluate without error.

import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { answerChat } from '../testkit/chat-answers';
import { proxyStep, REPO_ROOT, startGateway, step, type Gateway } from '../testkit/gateway';
import { freePort } from '../testkit/ports';
import { startPrometheus, type PrometheusServer } from '../testkit/prometheus';
import { startProvider, type StandInProvider } from '../testkit/provider';
import { startRedis, type RedisServer } from '../testkit/redis';
import { eventually } from '../testkit/wait';
import { postChat } from './helpers/http';
import { metricValue } from './helpers/metrics';

const DASHBOARD = path.join(REPO_ROOT, 'config', 'grafana', 'llm-gateway.json');
const ALERTS = path.join(REPO_ROOT, 'config', 'alerts.yml');
/** The testkit's one pipeline (named after its apiEndpoint): what `$pipeline` selects. */
const PIPELINE = 'chat';
/** Grafana's range variables, as concrete durations: a window that holds the whole test. */
const RANGE_VARIABLES: Readonly<Record<string, string>> = { $__rate_interval: '1m', $__interval: '1m', $__range: '10m' };
const KEYS = { steady: 'dashboard-steady-0123456789abcdef0123', burst: 'dashboard-burst-0123456789abcdef01234', tokens: 'dashboard-tokens-0123456789abcdef0123' };
const REQUEST_CAPACITY = 4;
const TOKEN_CAPACITY = 600;

interface Target { expr: string; refId: string; datasource?: { uid?: string } }
interface Panel { title: string; type: string; datasource?: { uid?: string }; targets?: Target[]; panels?: Panel[] }
interface Variable { name: string; type: string; query?: unknown; definition?: string; includeAll?: boolean }
interface Dashboard { schemaVersion: number; panels: Panel[]; templating: { list: Variable[] } }

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
/** Every panel that queries, rows' nested panels included. */
const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]).filter((panel) => panel.type !== 'row');
const targets = panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, ...target })));

/** A target's expr as Grafana sends it with `pipeline` set to one value. */
function filledIn(expr: string): string {
  let filled = expr.replaceAll('$pipeline', PIPELINE);
  for (const [variable, value] of Object.entries(RANGE_VARIABLES)) filled = filled.replaceAll(variable, value);
  expect(filled, `${expr}: a variable left unfilled`).not.to.match(/\$\w/);
  return filled;
}

const chatBody = (maxTokens: number, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ model: 'stand-in', messages: [{ role: 'user', content: 'dashboard traffic' }], max_tokens: maxTokens, ...extra });

describe('the Grafana dashboard and the alert rules on a real Prometheus', function () {
  this.timeout(30_000);
  let redis: RedisServer;
  let provider: StandInProvider;
  let gateway: Gateway;
  let prometheus: PrometheusServer;

  before(async function () {
    // Prometheus applies its targets about 5 s after it starts: it boots while everything else does.
    const opsPort = await freePort();
    const started = async (): Promise<Gateway> => {
      [redis, provider] = await Promise.all([startRedis(), startProvider()]);
      return startGateway({
        providerUrl: provider.url,
        opsPort,
        pluginSettings: { redis: redis.url },
        env: { EG_DISABLE_CONFIG_WATCH: '1' },
        steps: [
          step('detail-error-formatter'),
          step('key-auth', { keys: Object.entries(KEYS).map(([id, key]) => ({ id, key })), metricKeyIds: true }),
          step('token-bucket-rate-limit', { capacity: REQUEST_CAPACITY, refillRate: 0.001, failureMode: 'open', llmTokens: { capacity: TOKEN_CAPACITY, refillRate: 0.001 } }),
          proxyStep(),
        ],
      });
    };
    [prometheus, gateway] = await Promise.all([startPrometheus({ targets: [`127.0.0.1:${opsPort}`], ruleFiles: [ALERTS] }), started()]);
    await driveTraffic();
  });

  after(async function () {
    await prometheus?.stop();
    await gateway?.stop();
    await provider?.stop();
    await redis?.kill();
  });

  it('declares the ${datasource} and $pipeline variables, on the current schema, and queries only through ${datasource}', function () {
    expect(dashboard.schemaVersion).to.be.at.least(39);
    const variable = (name: string): Variable | undefined => dashboard.templating.list.find((v) => v.name === name);
    expect(variable('datasource')).to.deep.include({ type: 'datasource', query: 'prometheus' });
    expect(variable('pipeline')).to.deep.include({ type: 'query', definition: 'label_values(http_requests_total, pipeline)', includeAll: true });
    for (const panel of panels) {
      expect(panel.datasource?.uid, panel.title).to.equal('${datasource}');
      expect(panel.targets, `${panel.title}: no query`).to.have.length.of.at.least(1);
      for (const target of panel.targets ?? []) expect(target.datasource?.uid, `${panel.title} ${target.refId}`).to.equal('${datasource}');
    }
  });

  it('has a panel on each metric an on-call engineer needs', function () {
    const exprs = targets.map((target) => target.expr).join('\n');
    for (const needed of ['http_requests_total', 'http_request_duration_seconds_bucket', 'upstream_time_to_first_byte_seconds_bucket', 'auth_failures_total',
      'reason!="llm_tokens"', 'reason="llm_tokens"', 'llm_tokens_total', 'key_id', 'llm_token_reservation_ratio_bucket', 'rate_limit_decision_seconds_bucket',
      'rate_limit_store_errors_total', 'rate_limit_fail_open_total', 'upstream_errors_total', 'config_reloads_total', 'nodejs_eventloop_lag',
      'nodejs_heap_size_used_bytes', 'nodejs_active_handles']) {
      expect(exprs, needed).to.include(needed);
    }
  });

  /** Drives what every panel shows; returns once the gateway counted it all. */
  async function driveTraffic(): Promise<void> {
    provider.handler = answerChat(provider, { completionTokens: 10_000 });
    const steady = { 'x-api-key': KEYS.steady };
    expect((await postChat(gateway.url, steady, chatBody(20))).status).to.equal(200);
    const streamed = await postChat(gateway.url, steady, chatBody(20, { stream: true }));
    expect(streamed.text, 'a streamed answer').to.include('data: [DONE]');
    expect((await postChat(gateway.url, { 'x-api-key': `${KEYS.steady}-wrong` })).status).to.equal(401);
    expect((await postChat(gateway.url)).status).to.equal(401);
    const burst: number[] = [];
    for (let i = 0; i <= REQUEST_CAPACITY; i += 1) burst.push((await postChat(gateway.url, { 'x-api-key': KEYS.burst }, chatBody(5))).status);
    expect(burst, 'the request bucket emptied').to.include(429);
    const tokens = { 'x-api-key': KEYS.tokens };
    expect((await postChat(gateway.url, tokens, chatBody(TOKEN_CAPACITY - 50))).status).to.equal(200);
    expect((await postChat(gateway.url, tokens, chatBody(TOKEN_CAPACITY - 50))).status, 'the LLM-token bucket refused').to.equal(429);
    provider.handler = (exchange) => exchange.req.socket.destroy();
    expect((await postChat(gateway.url, steady, chatBody(5))).status, 'the provider hung up').to.equal(500);
    provider.handler = answerChat(provider);
    gateway.child.kill('SIGHUP');
    expect(await eventually(async () => (await metricValue(gateway, 'config_reloads_total', { result: 'applied' })) > 0, 5_000), 'a reload applied').to.equal(true);
    await redis.kill();
    expect(await eventually(async () => {
      expect((await postChat(gateway.url, steady, chatBody(5))).status, 'failureMode open lets it through').to.equal(200);
      return (await metricValue(gateway, 'rate_limit_fail_open_total', { pipeline: PIPELINE })) > 0;
    }, 5_000), 'a request let through with Redis gone').to.equal(true);
  }

  it('returns at least one series for every panel query once the traffic was scraped', async function () {
    const empty = async (): Promise<string[]> => {
      const results = await Promise.all(targets.map(async (target) => ((await prometheus.query(filledIn(target.expr))).length === 0 ? [`${target.panel} (${target.refId}): ${filledIn(target.expr)}`] : [])));
      return results.flat();
    };
    // A scrape every 500 ms; rate() needs two samples of a series that appeared with the traffic.
    await eventually(async () => (await empty()).length === 0, 10_000, 250);
    expect(await empty(), 'panels with no series').to.deep.equal([]);
  });

  it('selects by $pipeline in every query on a metric that has a pipeline label', async function () {
    const withPipeline = await prometheus.api<string[]>('/api/v1/label/__name__/values', { 'match[]': '{pipeline!=""}' });
    expect(withPipeline, 'the scrape has pipeline-labelled metrics').to.include('http_requests_total');
    const problems: string[] = [];
    for (const target of targets) {
      for (const name of withPipeline) {
        for (const match of target.expr.matchAll(new RegExp(`\\b${name}\\b(\\{[^}]*\\})?`, 'g'))) {
          if (!(match[1] ?? '').includes('pipeline=~"$pipeline"')) problems.push(`${target.panel} (${target.refId}): ${match[0]}`);
        }
      }
    }
    expect(problems).to.deep.equal([]);
  });

  it('evaluates every rule of config/alerts.yml without error on the real series', async function () {
    type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string };
    const rules = async (): Promise<Rule[]> =>
      (await prometheus.api<{ groups: Array<{ rules: Rule[] }> }>('/api/v1/rules')).groups.flatMap((group) => group.rules);
    await eventually(async () => (await rules()).every((rule) => !rule.lastEvaluation.startsWith('0001')), 5_000, 250);
    const loaded = await rules();
    const declared = (YAML.parse(fs.readFileSync(ALERTS, 'utf8')) as { groups: Array<{ rules: unknown[] }> }).groups.flatMap((group) => group.rules);
    expect(loaded, 'the rules Prometheus loaded').to.have.length(declared.length);
    expect(loaded.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.health} ${rule.lastError ?? ''}`)).to.deep.equal([]);
  });
});
