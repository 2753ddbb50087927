// bench/key-lookup.ts
// `npm run bench:keys`: shows that the number of keys does not change what a request costs. Boots
// the real gateway (key-auth with a keysFile, our proxy, a local stub provider) with 10 keys and
// with 100,000 keys side by side, drives them in turn with wrk (POST with X-API-Key), and prints
// requests/s, p50, p99 and their ratio; then times building the key table for 100,000 keys and one lookup in-process.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type Gateway, proxyStep, startGateway, step } from '../testkit/gateway';
import { startProvider } from '../testkit/provider';
import { parseKeysFile } from '../plugin/policies/key-auth/keys-file-text';
import { buildTable, prepareEntries, sha256Hex } from '../plugin/policies/key-auth/key-table';

const DURATION_S = Number(process.env['BENCH_SECONDS'] ?? 5);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 32);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const SIZES = [10, 100_000];

const keyOf = (i: number): string => `bench-key-${i.toString().padStart(6, '0')}-${'x'.repeat(20)}`;
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

function keysFileText(count: number): string {
  const keys = Array.from({ length: count }, (_, i) => ({ id: `k${i}`, sha256: sha256(keyOf(i)) }));
  return JSON.stringify({ keys });
}

interface WrkResult { rps: number; p50ms: number; p99ms: number; non2xx: number }

function toMs(value: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(value);
  if (!match) return Number.NaN;
  const n = Number(match[1]);
  return match[2] === 'us' ? n / 1000 : match[2] === 's' ? n * 1000 : n;
}

async function wrk(url: string, key: string, seconds: number): Promise<WrkResult> {
  const script = path.join(os.tmpdir(), `key-lookup-${process.pid}.lua`);
  fs.writeFileSync(script, [
    'wrk.method = "POST"',
    `wrk.body = '{"messages":[{"role":"user","content":"hello"}]}'`,
    'wrk.headers["Content-Type"] = "application/json"',
    `wrk.headers["X-API-Key"] = "${key}"`,
    // Print what any refused or failed request got, so a non-2xx count can be explained.
    'response = function(status, headers, body) if status ~= 200 then io.write("NON2XX " .. status .. " " .. body .. "\\n") end end',
    '',
  ].join('\n'));
  const { stdout } = await promisify(execFile)('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-s', script, `${url}/v1/chat`]);
  fs.rmSync(script, { force: true });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50ms = toMs(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1] ?? '');
  const p99ms = toMs(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout)?.[1] ?? 0);
  const failures = stdout.split('\n').filter((line) => line.startsWith('NON2XX '));
  if (failures.length > 0) process.stdout.write(`  non-2xx answers (first 3): ${failures.slice(0, 3).join(' | ')}\n`);
  return { rps, p50ms, p99ms, non2xx };
}

async function bootGateway(count: number, providerUrl: string): Promise<{ gateway: Gateway; bootMs: number }> {
  const bootStart = performance.now();
  const gateway = await startGateway({
    providerUrl,
    env: { LOG_LEVEL: 'warn' },
    files: { 'keys.json': keysFileText(count) },
    steps: [step('detail-error-formatter'), step('key-auth', { keysFile: 'keys.json' }), proxyStep()],
    readyTimeoutMs: 120_000,
  });
  return { gateway, bootMs: performance.now() - bootStart };
}

/**
 * Both gateways run side by side and their wrk runs alternate, so drift in the machine's load
 * (other work on its 2 cores, JIT warm-up) hits both sizes alike instead of favouring one.
 */
async function measureGateways(providerUrl: string): Promise<Map<number, WrkResult[]>> {
  const gateways = new Map<number, Gateway>();
  const results = new Map<number, WrkResult[]>();
  try {
    for (const count of SIZES) {
      const { gateway, bootMs } = await bootGateway(count, providerUrl);
      gateways.set(count, gateway);
      results.set(count, []);
      process.stdout.write(`  ${count} keys: gateway ready in ${bootMs.toFixed(0)} ms\n`);
    }
    // The key is the last entry of the file: a linear scan would be at its slowest.
    for (const [count, gateway] of gateways) await wrk(gateway.url, keyOf(count - 1), 1); // warm-up
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [count, gateway] of gateways) results.get(count)?.push(await wrk(gateway.url, keyOf(count - 1), DURATION_S));
    }
    return results;
  } finally {
    for (const gateway of gateways.values()) await gateway.stop();
  }
}

/** Median of each column on its own: one noisy run moves none of them. */
function median(runs: readonly WrkResult[]): WrkResult {
  const mid = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
  return { rps: mid(runs.map((r) => r.rps)), p50ms: mid(runs.map((r) => r.p50ms)), p99ms: mid(runs.map((r) => r.p99ms)), non2xx: runs.reduce((n, r) => n + r.non2xx, 0) };
}

function timeBuilds(): void {
  const count = 100_000;
  const text = keysFileText(count);
  let start = performance.now();
  parseKeysFile(text, 'keys.json');
  const fileMs = performance.now() - start;
  const plain = Array.from({ length: count }, (_, i) => ({ id: `k${i}`, key: keyOf(i) }));
  start = performance.now();
  const table = buildTable(prepareEntries(plain, 'keys'));
  const inlineMs = performance.now() - start;
  const small = buildTable(prepareEntries(plain.slice(0, 10), 'keys'));
  const perLookupNs = (t: ReadonlyMap<string, unknown>, key: string): number => {
    const n = 200_000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += 1) if (t.get(sha256Hex(key)) === undefined) throw new Error('miss');
    return Number(process.hrtime.bigint() - t0) / n;
  };
  perLookupNs(table, keyOf(count - 1));
  process.stdout.write(`\nbuilding the table for ${count} keys (in-process):\n`);
  process.stdout.write(`  keysFile of sha256 entries (JSON parse + schema check + Map): ${fileMs.toFixed(0)} ms\n`);
  process.stdout.write(`  keys: of plain keys (one SHA-256 each + Map):                 ${inlineMs.toFixed(0)} ms\n`);
  process.stdout.write(`one lookup (SHA-256 of the key + Map.get): 10 keys ${perLookupNs(small, keyOf(9)).toFixed(0)} ns, ${count} keys ${perLookupNs(table, keyOf(count - 1)).toFixed(0)} ns\n`);
}

async function main(): Promise<void> {
  // Recording every request would only grow this process's memory over the runs.
  const upstream = await startProvider({ record: false });
  process.stdout.write(`key-lookup benchmark: wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s, ${ROUNDS} rounds, ${os.cpus().length} cores, ${new Date().toISOString()}\n`);
  let results: Map<number, WrkResult[]>;
  try {
    results = await measureGateways(upstream.url);
  } finally {
    await upstream.stop();
  }
  process.stdout.write('\nkeys      req/s     p50 ms   p99 ms   non-2xx\n');
  const best = new Map<number, WrkResult>();
  for (const [count, runs] of results) {
    for (const run of runs) {
      process.stdout.write(`${String(count).padEnd(9)} ${run.rps.toFixed(0).padStart(6)}   ${run.p50ms.toFixed(2).padStart(6)}   ${run.p99ms.toFixed(2).padStart(6)}   ${run.non2xx}\n`);
    }
    best.set(count, median(runs));
  }
  const [small, large] = SIZES.map((n) => best.get(n));
  if (small && large) {
    process.stdout.write(`\nmedians: 10 keys ${small.rps.toFixed(0)} req/s, p50 ${small.p50ms.toFixed(2)} ms, p99 ${small.p99ms.toFixed(2)} ms; 100000 keys ${large.rps.toFixed(0)} req/s, p50 ${large.p50ms.toFixed(2)} ms, p99 ${large.p99ms.toFixed(2)} ms`);
    process.stdout.write(`\nratio of medians (${ROUNDS} runs each) 100000 keys / 10 keys: req/s ${(large.rps / small.rps).toFixed(3)}, p50 ${(large.p50ms / small.p50ms).toFixed(3)}, p99 ${(large.p99ms / small.p99ms).toFixed(3)}\n`);
  }
  timeBuilds();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
