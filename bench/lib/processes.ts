// bench/lib/processes.ts
// Child processes of the benchmark (provider, EG core, load generators): spawned with a JSON line
// protocol on stdout, stopped by their own pid, and their RSS / fd count read from /proc.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';

export interface JsonChild {
  readonly child: ChildProcess;
  /** Resolves with the next JSON line the child prints that has `key`. */
  next<T extends Record<string, unknown>>(key: string, timeoutMs?: number): Promise<T>;
  readonly output: () => string;
  stop(): Promise<void>;
}

export function spawnJsonChild(script: string, args: string[] = [], env: Record<string, string> = {}): JsonChild {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  let text = '';
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    text += `${line}\n`;
    if (!line.startsWith('{')) return;
    try { lines.push(JSON.parse(line) as Record<string, unknown>); } catch { return; }
    for (const wake of waiters.splice(0)) wake();
  });
  child.stderr!.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
  const exited = new Promise<void>((resolve) => child.on('exit', () => { resolve(); for (const wake of waiters.splice(0)) wake(); }));
  let exitedFlag = false;
  void exited.then(() => { exitedFlag = true; });
  return {
    child,
    output: () => text,
    next<T extends Record<string, unknown>>(key: string, timeoutMs = 30_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      return new Promise<T>((resolve, reject) => {
        const check = (): void => {
          const index = lines.findIndex((l) => key in l);
          if (index >= 0) { resolve(lines.splice(index, 1)[0] as T); return; }
          if (exitedFlag) { reject(new Error(`${script} exited before printing ${key}:\n${text.slice(-2000)}`)); return; }
          if (Date.now() > deadline) { reject(new Error(`${script} did not print ${key} in ${timeoutMs} ms:\n${text.slice(-2000)}`)); return; }
          waiters.push(check);
          setTimeout(check, 200).unref();
        };
        check();
      });
    },
    async stop() {
      if (exitedFlag || child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a process in bytes (VmRSS), or NaN once it is gone. */
export function rssOf(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Open file descriptors of a process (sockets included), or NaN once it is gone. */
export function fdCountOf(pid: number): number {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

/** CPU time (user + system) a process has used, in microseconds, or NaN once it is gone. */
export function cpuMicrosOf(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // Fields 14 and 15 of proc(5) (utime, stime), in clock ticks of 10 ms on Linux.
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}
