// testkit/prometheus.ts
// A real Prometheus server (Debian's `prometheus` package) on a free loopback port, scraping the
// targets it is given with a generated config and a temporary TSDB, queried through its HTTP API.
// Stopped by its pid; a run that dies before its `after` hooks still kills it on exit.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { freePort } from './ports';
import { waitFor } from './wait';

export const PROMETHEUS_BIN = process.env['PROMETHEUS_BIN'] ?? 'prometheus';

/** One series of an instant query: its labels and its [time, value]. */
export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

export interface PrometheusOptions {
  /** `host:port` of each /metrics endpoint, scraped as job `llm-gateway` (the name config/alerts.yml uses). */
  readonly targets: readonly string[];
  /** Scrape and rule evaluation interval, as Prometheus writes durations. Default 500ms. */
  readonly interval?: string;
  /** Absolute paths of rule files to load. */
  readonly ruleFiles?: readonly string[];
}

const live = new Set<ChildProcess>();
process.once('exit', () => { for (const child of live) child.kill('SIGKILL'); });

export class PrometheusServer {
  private output = '';
  private readonly exited: Promise<void>;

  constructor(private readonly child: ChildProcess, readonly port: number, private readonly dir: string) {
    live.add(child);
    const keep = (chunk: Buffer): void => { this.output = (this.output + chunk.toString('utf8')).slice(-8192); };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => child.once('exit', () => { live.delete(child); resolve(); }));
  }

  get url(): string { return `http://127.0.0.1:${this.port}`; }
  /** The tail of what the server logged, for failure messages. */
  get logs(): string { return this.output; }

  /** GET an API path; resolves with `data` of a `success` answer, throws with Prometheus' error otherwise. */
  async api<T>(apiPath: string, params: Record<string, string> = {}): Promise<T> {
    const response = await fetch(`${this.url}${apiPath}?${new URLSearchParams(params).toString()}`);
    const body = await response.json() as { status: string; data?: T; error?: string };
    if (body.status !== 'success') throw new Error(`${apiPath} ${JSON.stringify(params)}: ${body.error ?? response.status}`);
    return body.data as T;
  }

  /** An instant query now; a vector's series (a scalar or string answer is an error here). */
  async query(expr: string): Promise<Sample[]> {
    const data = await this.api<{ resultType: string; result: Sample[] }>('/api/v1/query', { query: expr });
    if (data.resultType !== 'vector') throw new Error(`${expr}: a ${data.resultType}, not a vector`);
    return data.result;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const interval = options.interval ?? '500ms';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-gateway-prometheus-'));
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    rule_files: [...(options.ruleFiles ?? [])],
    scrape_configs: [{ job_name: 'llm-gateway', metrics_path: '/metrics', static_configs: [{ targets: [...options.targets] }] }],
  };
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), YAML.stringify(config));
  const port = await freePort();
  const child = spawn(PROMETHEUS_BIN, [
    `--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  const server = new PrometheusServer(child, port, dir);
  const failed = new Promise<never>((_, reject) => child.once('error', (error) => reject(new Error(`${PROMETHEUS_BIN} could not start (apt-get install prometheus): ${error.message}`))));
  try {
    await Promise.race([failed, waitFor(`prometheus on ${port} ready`, 15_000, async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited: ${server.logs}`);
      return (await fetch(`${server.url}/-/ready`)).status === 200 ? true : undefined;
    })]);
  } catch (error: unknown) {
    await server.stop();
    throw error;
  }
  return server;
}
