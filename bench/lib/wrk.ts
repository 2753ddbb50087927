// bench/lib/wrk.ts
// Closed-loop saturation runs with wrk (POST through a Lua script) and the parsing of its
// `--latency` report.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const WRK_BIN = process.env['WRK_BIN'] ?? '/usr/bin/wrk';

export interface WrkOptions {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly threads: number;
  readonly connections: number;
  readonly durationS: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly socketErrors: number;
}

const luaString = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;

function luaScript(options: WrkOptions): string {
  const lines = ['wrk.method = "POST"', `wrk.body = ${luaString(options.body)}`];
  for (const [name, value] of Object.entries(options.headers)) lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  return `${lines.join('\n')}\n`;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === 'us') return n / 1000;
  if (unit === 's') return n * 1000;
  if (unit === 'm') return n * 60_000;
  return n;
}

export function parseWrk(text: string): WrkResult {
  const percentile = (p: string): number => {
    const match = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
    return match ? toMs(match[1] as string, match[2] as string) : Number.NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? Number.NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? Number.NaN);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return { requests, rps, p50Ms: percentile('50'), p99Ms: percentile('99'), non2xx, socketErrors };
}

export async function runWrk(options: WrkOptions): Promise<WrkResult & { raw: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-bench-wrk-'));
  const script = path.join(dir, 'post.lua');
  fs.writeFileSync(script, luaScript(options));
  try {
    const raw = await new Promise<string>((resolve, reject) => {
      execFile(WRK_BIN, [`-t${options.threads}`, `-c${options.connections}`, `-d${options.durationS}s`, '--latency', '-s', script, options.url],
        { timeout: (options.durationS + 30) * 1000 }, (error, stdout, stderr) => (error ? reject(new Error(`wrk failed: ${error.message}\n${stderr}`)) : resolve(stdout)));
    });
    return { ...parseWrk(raw), raw };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
