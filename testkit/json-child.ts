// testkit/json-child.ts
// Helper processes (the stand-in provider, EG core, load generators) spawned with a JSON-line
// protocol on stdout: the parent waits for the line carrying a key, and stops the child by its pid.

import { spawn, type ChildProcess } from 'node:child_process';
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
