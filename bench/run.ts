// bench/run.ts
// `npm run bench`: throughput, latency and gateway CPU per request of the provider direct, two
// floors (a bare Node http proxy; the same under Express), Express Gateway alone (core proxy; core
// key-auth + rate-limit + proxy) and our full pipeline (Redis store; with LLM-token limits, which
// reserve and settle, on Redis; memory store), all started here on loopback; open-loop p99 at half
// of EG's saturation; what Redis pays per request (round trips by MONITOR, commands and CPU by INFO
// deltas over the measured run); N concurrent SSE streams. Markdown on stdout, JSON in bench/results/<timestamp>.json.
// Options: --duration S (10) --warmup S (5) --connections N (32) --threads N (2) --streams N
// (5000) --stream-seconds S (10) --paced S (10) --paced-runs N (3) --quick (3 s runs, 200
// streams for 3 s: checks the harness, measures nothing) --profile --no-profile.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnJsonChild } from '../testkit/json-child';
import { cpuMicrosOf, rssOf } from '../testkit/proc';
import { startProviderProcess, type ProviderProcess } from '../testkit/provider';
import { monitor, redisSpent, startRedis, type CommandCalls, type RedisServer } from '../testkit/redis';
import { sleep } from '../testkit/wait';
import { startEgCore, startOurs, type RunningGateway } from './lib/gateways';
import { runWrk, type WrkResult } from './lib/wrk';
import { summarizeProfile, type ProfileSummary } from './lib/profile-summary';
import { assertFileLimitFor, measureStreams, type Streams } from './lib/streams';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
const BODY = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: 'hello' }] });

function flag(name: string): boolean { return process.argv.includes(`--${name}`); }
function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : Number.NaN;
  return Number.isFinite(value) ? value : fallback;
}

const QUICK = flag('quick');
const SETTINGS = {
  durationS: option('duration', QUICK ? 3 : 10),
  warmupS: option('warmup', QUICK ? 1 : 5),
  connections: option('connections', 32),
  threads: option('threads', 2),
  streams: option('streams', QUICK ? 200 : 5000),
  streamSeconds: option('stream-seconds', QUICK ? 3 : 10),
  streamIntervalMs: 100,
  pacedS: option('paced', QUICK ? 3 : 10),
  pacedRuns: option('paced-runs', QUICK ? 1 : 3),
};

type ScenarioName = 'direct' | 'node-proxy' | 'express-proxy' | 'eg-proxy' | 'eg-core' | 'ours-redis' | 'ours-llm' | 'ours-memory';
const LABELS: Record<ScenarioName, string> = {
  direct: 'provider direct',
  'node-proxy': 'floor: bare Node http proxy (keep-alive agent)',
  'express-proxy': 'floor: the same proxy as an Express 4 route',
  'eg-proxy': 'EG core proxy only',
  'eg-core': 'EG core key-auth + rate-limit (Redis) + proxy',
  'ours-redis': 'ours, full pipeline, Redis store',
  'ours-llm': 'ours, full pipeline with llmTokens (reserve + settle), Redis store',
  'ours-memory': 'ours, full pipeline, memory store',
};

interface Paced { sent: number; ok: number; non2xx: number; errors: number; errorsByCode: Record<string, number>; achievedRps: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number }
interface ScenarioResult {
  label: string;
  wrk?: WrkResult;
  /** CPU the gateway process (the provider's, for `direct`) used per request of the measured run. */
  cpuMicrosPerRequest?: number;
  /** The paced run with the median p99 of `pacedRuns` (one p99 swings by several ms run to run). */
  paced?: Paced;
  pacedP99sMs?: number[];
  /** Redis CPU (INFO used_cpu_user + used_cpu_sys) over the measured run, per request. */
  redisCpuMicrosPerRequest?: number;
  /** Commands Redis executed (INFO commandstats, those inside scripts included), per request. */
  redisCommandsPerRequest?: number;
  redisCalls?: CommandCalls;
  redisCallsPerRequest?: number;
  redisScriptCallsPerRequest?: number;
  streams?: Streams;
  rssAfterBytes?: number;
  gatewayLog?: { lines: number; last: string[] };
  error?: string;
}

const results: Partial<Record<ScenarioName, ScenarioResult>> = {};
let pacedRate = 0;

type Saturated = Pick<ScenarioResult, 'cpuMicrosPerRequest' | 'redisCpuMicrosPerRequest' | 'redisCommandsPerRequest'> & { wrk: WrkResult };

/** The closed-loop run after a warm-up: throughput, latency, and what the gateway and Redis spent per request. */
async function saturate(url: string, headers: Record<string, string>, pid: number, redisPort: number | undefined): Promise<Saturated> {
  const base = { url, headers, body: BODY, threads: SETTINGS.threads, connections: SETTINGS.connections };
  await runWrk({ ...base, durationS: SETTINGS.warmupS });
  const cpuBefore = cpuMicrosOf(pid);
  const redisBefore = redisPort === undefined ? undefined : await redisSpent(redisPort);
  const { raw: _raw, ...result } = await runWrk({ ...base, durationS: SETTINGS.durationS });
  const requests = Math.max(1, result.requests);
  const saturated: Saturated = { wrk: result, cpuMicrosPerRequest: Math.round((cpuMicrosOf(pid) - cpuBefore) / requests) };
  if (redisPort !== undefined && redisBefore !== undefined) {
    const redisAfter = await redisSpent(redisPort);
    saturated.redisCpuMicrosPerRequest = Math.round(((redisAfter.cpuMicros - redisBefore.cpuMicros) / requests) * 100) / 100;
    saturated.redisCommandsPerRequest = Math.round(((redisAfter.commands - redisBefore.commands) / requests) * 100) / 100;
  }
  return saturated;
}

async function paced(url: string, headers: Record<string, string>, rate: number): Promise<Paced> {
  const child = spawnJsonChild(path.join(__dirname, 'lib', 'paced-load-process.js'), [], {
    PACED_SPEC: JSON.stringify({ url, rate, durationMs: SETTINGS.pacedS * 1000, headers, body: BODY }),
  });
  try {
    return (await child.next<{ paced: Paced }>('paced', (SETTINGS.pacedS + 30) * 1000)).paced;
  } finally {
    await child.stop();
  }
}


async function measure(name: ScenarioName, start: () => Promise<RunningGateway>, extra: { streams?: boolean; paced?: boolean; redisPort?: number } = {}): Promise<void> {
  const result: ScenarioResult = { label: LABELS[name] };
  results[name] = result;
  let gateway: RunningGateway | undefined;
  try {
    gateway = await start();
    process.stderr.write(`bench: ${name} …\n`);
    const saturated = await saturate(gateway.url, gateway.headers, gateway.pid, extra.redisPort);
    Object.assign(result, saturated);
    if (name === 'eg-proxy') pacedRate = Math.max(50, Math.round(saturated.wrk.rps / 2));
    if (extra.paced !== false && pacedRate > 0) {
      const runs: Paced[] = [];
      for (let run = 0; run < SETTINGS.pacedRuns; run += 1) runs.push(await paced(gateway.url, gateway.headers, pacedRate));
      runs.sort((a, b) => a.p99Ms - b.p99Ms);
      const median = runs[Math.floor(runs.length / 2)];
      if (median) result.paced = median;
      result.pacedP99sMs = runs.map((run) => Math.round(run.p99Ms * 100) / 100);
    }
    if (extra.streams) {
      const pid = name === 'direct' ? undefined : gateway.pid;
      result.streams = await measureStreams({ url: gateway.url, headers: gateway.headers, pid, streams: SETTINGS.streams, seconds: SETTINGS.streamSeconds });
    }
    if (name !== 'direct') result.rssAfterBytes = rssOf(gateway.pid);
    if (gateway.logs) {
      // Log lines per run tell a per-request log (a cost on 2 cores) from start-up lines.
      const lines = gateway.logs().split('\n').filter((l) => l.trim() !== '');
      result.gatewayLog = { lines: lines.length, last: lines.slice(-5).map((l) => l.slice(0, 300)) };
    }
  } catch (error) {
    result.error = error instanceof Error ? error.message.slice(0, 2000) : String(error);
    process.stderr.write(`bench: ${name} failed: ${result.error}\n`);
  } finally {
    await gateway?.stop();
  }
}

/**
 * Redis round trips per request, on a short run of its own so warm-up traffic is not mixed in.
 * MONITOR tells a client's command from the ones a Lua script runs (commandstats counts both).
 */
async function redisCallsPerRequest(gateway: RunningGateway, redis: RedisServer): Promise<{ calls: CommandCalls; perRequest: number; scriptCallsPerRequest: number }> {
  const watch = await monitor(redis.port);
  const run = await runWrk({ url: gateway.url, headers: gateway.headers, body: BODY, threads: 1, connections: 4, durationS: 2 });
  await sleep(200);
  await watch.stop();
  const requests = Math.max(1, run.requests);
  return {
    calls: watch.byCommand,
    perRequest: Math.round((watch.fromClients / requests) * 100) / 100,
    scriptCallsPerRequest: Math.round((watch.fromScripts / requests) * 100) / 100,
  };
}

/** The fixed rate is at or above what this gateway sustained closed-loop: its p99 is then its queue. */
const overSaturation = (entry: ScenarioResult): boolean =>
  (entry.wrk !== undefined && entry.wrk.rps <= pacedRate * 1.05) || (entry.paced !== undefined && entry.paced.achievedRps < pacedRate * 0.95);

/** The floors: what Node's http module, and Express on top of it, cost before any gateway work. */
async function startFloorProxy(mode: 'node' | 'express', providerUrl: string): Promise<RunningGateway> {
  const child = spawnJsonChild(path.join(__dirname, 'lib', 'floor-proxy-process.js'), [mode, providerUrl]);
  try {
    const { port } = await child.next<{ port: number }>('port');
    return { url: `http://127.0.0.1:${port}/v1/chat`, pid: child.child.pid as number, headers: { 'Content-Type': 'application/json' }, stop: () => child.stop() };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a && b ? Math.round((a / b) * 100) / 100 : undefined);
const fmt = (n: number | undefined, digits = 1): string => (n === undefined || Number.isNaN(n) ? '–' : n.toFixed(digits));

async function main(): Promise<void> {
  const startedAt = new Date();
  const redis = await startRedis();
  let provider: ProviderProcess | undefined;
  let profile: ProfileSummary | undefined;
  try {
    assertFileLimitFor(SETTINGS.streams);
    provider = await startProviderProcess({
      SSE_EVENTS: String(Math.round((SETTINGS.streamSeconds * 1000) / SETTINGS.streamIntervalMs)), SSE_INTERVAL_MS: String(SETTINGS.streamIntervalMs),
    });
    const providerUrl = provider.url;
    const providerPid = provider.pid;
    const direct = async (): Promise<RunningGateway> => ({ url: `${providerUrl}/v1/chat`, pid: providerPid, headers: { 'Content-Type': 'application/json' }, stop: async () => undefined });

    await measure('direct', direct, { streams: true, paced: false });
    await measure('node-proxy', () => startFloorProxy('node', providerUrl), { paced: false });
    await measure('express-proxy', () => startFloorProxy('express', providerUrl), { paced: false });
    await measure('eg-proxy', () => startEgCore(providerUrl, undefined), { streams: true });
    await measure('eg-core', () => startEgCore(providerUrl, redis.port), { redisPort: redis.port });

    // Our gateway with Redis: Redis calls per request on a quiet run first, then the load runs.
    const profileFile = path.join(os.tmpdir(), `llm-bench-${process.pid}.cpuprofile`);
    for (const [name, llmTokens] of [['ours-redis', false], ['ours-llm', true]] as const) {
      await measure(name, async () => {
        const gateway = await startOurs(providerUrl, { redisUrl: redis.url, profileFile, llmTokens });
        const { calls, perRequest, scriptCallsPerRequest } = await redisCallsPerRequest(gateway, redis);
        Object.assign(results[name] ?? {}, { redisCalls: calls, redisCallsPerRequest: perRequest, redisScriptCallsPerRequest: scriptCallsPerRequest });
        return gateway;
      }, { streams: name === 'ours-redis', redisPort: redis.port });
    }
    await measure('ours-memory', () => startOurs(providerUrl, { redisUrl: null }));

    // EG core's own Redis traffic per request, for comparison.
    const egCore = await startEgCore(providerUrl, redis.port).catch(() => undefined);
    if (egCore) {
      try {
        const { calls, perRequest, scriptCallsPerRequest } = await redisCallsPerRequest(egCore, redis);
        const entry = results['eg-core'];
        if (entry) Object.assign(entry, { redisCalls: calls, redisCallsPerRequest: perRequest, redisScriptCallsPerRequest: scriptCallsPerRequest });
      } finally { await egCore.stop(); }
    }

    const oursRps = results['ours-redis']?.wrk?.rps;
    const missed = !(oursRps && results['eg-proxy']?.wrk && oursRps >= 0.85 * results['eg-proxy'].wrk.rps);
    if (flag('profile') || (missed && !flag('no-profile') && oursRps)) {
      process.stderr.write('bench: profiling ours-redis under saturation …\n');
      const gateway = await startOurs(providerUrl, { redisUrl: redis.url, profileFile });
      try {
        await runWrk({ url: gateway.url, headers: gateway.headers, body: BODY, threads: SETTINGS.threads, connections: SETTINGS.connections, durationS: SETTINGS.warmupS });
        process.kill(gateway.pid, 'SIGUSR2');
        await runWrk({ url: gateway.url, headers: gateway.headers, body: BODY, threads: SETTINGS.threads, connections: SETTINGS.connections, durationS: SETTINGS.durationS });
        process.kill(gateway.pid, 'SIGUSR2');
        for (let i = 0; i < 50 && !fs.existsSync(profileFile); i += 1) await sleep(100);
        await sleep(300);
        if (fs.existsSync(profileFile)) profile = summarizeProfile(profileFile);
      } finally {
        await gateway.stop();
        fs.rmSync(profileFile, { force: true });
      }
    }
  } finally {
    await provider?.stop();
    await redis.stop();
  }

  const r = (name: ScenarioName): ScenarioResult | undefined => results[name];
  const egProxyRps = r('eg-proxy')?.wrk?.rps;
  const egCoreRps = r('eg-core')?.wrk?.rps;
  const egProxyPacedP99 = r('eg-proxy')?.paced?.p99Ms;
  /** Paced p99 over EG-proxy-only's, ms. */
  const addedP99 = (name: ScenarioName): number | undefined => {
    const p99 = r(name)?.paced?.p99Ms;
    return p99 !== undefined && egProxyPacedP99 !== undefined ? Math.round((p99 - egProxyPacedP99) * 100) / 100 : undefined;
  };
  const summary = {
    oursRedisVsEgProxy: ratio(r('ours-redis')?.wrk?.rps, egProxyRps),
    oursRedisVsEgCore: ratio(r('ours-redis')?.wrk?.rps, egCoreRps),
    oursLlmVsEgProxy: ratio(r('ours-llm')?.wrk?.rps, egProxyRps),
    oursMemoryVsEgProxy: ratio(r('ours-memory')?.wrk?.rps, egProxyRps),
    oursMemoryVsEgCore: ratio(r('ours-memory')?.wrk?.rps, egCoreRps),
    pacedRate,
    addedP99AtHalfSaturationMs: {
      oursRedis: addedP99('ours-redis'),
      oursMemory: addedP99('ours-memory'),
      // The peer that also waits on Redis (seven round trips), for scale.
      egCore: addedP99('eg-core'),
    },
    redisCallsPerRequest: r('ours-redis')?.redisCallsPerRequest,
    // How far any gateway built on Node, or on Express, could get past EG core: the 3× target's ceiling.
    nodeFloorVsEgCore: ratio(r('node-proxy')?.wrk?.rps, egCoreRps),
    expressFloorVsEgCore: ratio(r('express-proxy')?.wrk?.rps, egCoreRps),
  };
  const targets = {
    throughputVsEgProxy: { target: '>= 1.0', value: summary.oursRedisVsEgProxy, met: (summary.oursRedisVsEgProxy ?? 0) >= 1.0 },
    llmThroughputVsEgProxy: { target: '>= 0.95', value: summary.oursLlmVsEgProxy, met: (summary.oursLlmVsEgProxy ?? 0) >= 0.95 },
    throughputVsEgCore: { target: '>= 3', value: summary.oursRedisVsEgCore, met: (summary.oursRedisVsEgCore ?? 0) >= 3 },
    addedP99: { target: '<= 2 ms', value: summary.addedP99AtHalfSaturationMs.oursRedis, met: summary.addedP99AtHalfSaturationMs.oursRedis !== undefined && summary.addedP99AtHalfSaturationMs.oursRedis <= 2 },
    // Batched: one script call per event-loop turn, so at most one per request.
    redisRoundTrips: { target: '<= 1 per request', value: summary.redisCallsPerRequest, met: summary.redisCallsPerRequest !== undefined && summary.redisCallsPerRequest <= 1.0 },
  };

  const report = {
    startedAt: startedAt.toISOString(), quick: QUICK, settings: SETTINGS,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavg: os.loadavg(), node: process.version, totalMemBytes: os.totalmem() },
    results, summary, targets, profile,
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);

  const lines: string[] = [];
  lines.push(`Bench ${startedAt.toISOString()}${QUICK ? ' (QUICK: harness check, not a measurement)' : ''}: wrk -t${SETTINGS.threads} -c${SETTINGS.connections} -d${SETTINGS.durationS}s after ${SETTINGS.warmupS}s warm-up; load average ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`, '');
  lines.push(`| scenario | req/s | p50 ms | p99 ms | non-2xx | CPU µs/req | vs EG proxy | vs EG core | p99 ms at ${pacedRate} req/s (median of ${SETTINGS.pacedRuns}) | Redis round trips/req | Redis commands/req | Redis CPU µs/req |`);
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const name of Object.keys(LABELS) as ScenarioName[]) {
    const entry = r(name);
    if (!entry) continue;
    if (entry.error) { lines.push(`| ${entry.label} | failed: ${entry.error.split('\n')[0]} | | | | | | | | | | |`); continue; }
    const w = entry.wrk;
    lines.push(`| ${entry.label} | ${fmt(w?.rps, 0)} | ${fmt(w?.p50Ms, 2)} | ${fmt(w?.p99Ms, 2)} | ${w ? w.non2xx + w.socketErrors : '–'} | ${fmt(entry.cpuMicrosPerRequest, 0)} | ${fmt(ratio(w?.rps, egProxyRps), 2)} | ${fmt(ratio(w?.rps, egCoreRps), 2)} | ${fmt(entry.paced?.p99Ms, 2)}${entry.paced && overSaturation(entry) ? ' (over its saturation: queueing, not added latency)' : ''} | ${fmt(entry.redisCallsPerRequest, 2)} | ${fmt(entry.redisCommandsPerRequest, 2)} | ${fmt(entry.redisCpuMicrosPerRequest, 2)} |`);
  }
  lines.push('', `| streams (${SETTINGS.streams} × ${SETTINGS.streamSeconds} s, one event / ${SETTINGS.streamIntervalMs} ms) | opened | completed with last event | failed / unfinished | per-event delay p50 / p99 ms | open at once (peak) | request to headers p50 / p99 ms | RSS per stream | fd peak | CPU gateway / client (cores) |`, '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const name of Object.keys(LABELS) as ScenarioName[]) {
    const s = r(name)?.streams;
    if (!s) continue;
    lines.push(`| ${LABELS[name]} | ${s.opened} | ${s.lastEvents} | ${s.failed} / ${s.unfinished} | ${fmt(s.delayP50Ms, 2)} / ${fmt(s.delayP99Ms, 2)} | ${s.peakOpen} | ${fmt(s.openP50Ms, 1)} / ${fmt(s.openP99Ms, 1)} | ${s.bytesPerStream === undefined ? '–' : `${(s.bytesPerStream / 1024).toFixed(1)} KiB`} | ${s.fdPeak ?? '–'} | ${fmt(s.gatewayCpu, 2)} / ${fmt(s.clientCpu, 2)} |`);
  }
  lines.push('', '| target | value | met |', '|---|---:|:---:|');
  for (const [name, t] of Object.entries(targets)) lines.push(`| ${name} ${t.target} | ${t.value ?? '–'} | ${t.met ? 'yes' : 'NO'} |`);
  lines.push('', `Ceiling of the EG-core ratio: the bare Node proxy is ${fmt(summary.nodeFloorVsEgCore, 2)}× EG core, the same proxy under Express ${fmt(summary.expressFloorVsEgCore, 2)}×.`);
  if (profile) {
    lines.push('', `Profile of ours-redis under saturation (${Math.round(profile.totalMs)} ms), top self time:`, '', '| function | where | self ms | % | mostly under |', '|---|---|---:|---:|---|');
    for (const f of profile.topFunctions) lines.push(`| ${f.fn} | ${f.where} | ${f.selfMs} | ${f.pct} | ${f.caller} |`);
    lines.push('', '| file / package | self ms | % |', '|---|---:|---:|');
    for (const f of profile.topFiles) lines.push(`| ${f.file} | ${f.selfMs} | ${f.pct} |`);
  }
  lines.push('', `JSON: ${path.relative(REPO_ROOT, file)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
